// SPDX-License-Identifier: Apache-2.0
/*
 * MC146818 CMOS RTC: index register at 0x70, data at 0x71. The clock
 * registers read the host's UTC time in BCD, 24-hour mode; the rest of the
 * 128 bytes of CMOS is plain storage. No alarms, no periodic interrupt.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/legacy/legacy.h"
#include "vmm/vm.h"

#define RTC_INDEX_PORT 0x70
#define RTC_INDEX_MASK 0x7f /* bit 7 is the NMI mask */

enum rtc_reg {
	RTC_SECONDS = 0x00,
	RTC_MINUTES = 0x02,
	RTC_HOURS = 0x04,
	RTC_WEEKDAY = 0x06,
	RTC_DAY = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_STATUS_A = 0x0a,
	RTC_STATUS_B = 0x0b,
	RTC_STATUS_C = 0x0c,
	RTC_STATUS_D = 0x0d,
	RTC_CENTURY = 0x32,
};

#define STATUS_A_DEFAULT 0x26 /* 32.768 kHz base, 1024 Hz rate, no update in progress */
#define STATUS_B_24H	 0x02
#define STATUS_D_VALID	 0x80

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
};

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_read_reg(struct rtc *rtc, uint8_t reg)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (reg) {
	case RTC_SECONDS:
		return bcd(tm.tm_sec);
	case RTC_MINUTES:
		return bcd(tm.tm_min);
	case RTC_HOURS:
		return bcd(tm.tm_hour);
	case RTC_WEEKDAY:
		return bcd(tm.tm_wday + 1);
	case RTC_DAY:
		return bcd(tm.tm_mday);
	case RTC_MONTH:
		return bcd(tm.tm_mon + 1);
	case RTC_YEAR:
		return bcd(tm.tm_year % 100);
	case RTC_CENTURY:
		return bcd((tm.tm_year + 1900) / 100);
	case RTC_STATUS_A:
		return STATUS_A_DEFAULT;
	case RTC_STATUS_B:
		return rtc->cmos[RTC_STATUS_B];
	case RTC_STATUS_C:
		return 0;
	case RTC_STATUS_D:
		return STATUS_D_VALID;
	default:
		return rtc->cmos[reg];
	}
}

static void rtc_read(struct bus_device *dev, uint64_t offset, void *data, uint32_t len)
{
	struct rtc *rtc = dev->priv;

	memset(data, 0, len);
	pthread_mutex_lock(&rtc->lock);
	*(uint8_t *)data = offset == 0 ? rtc->index : rtc_read_reg(rtc, rtc->index);
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_write(struct bus_device *dev, uint64_t offset, const void *data, uint32_t len)
{
	struct rtc *rtc = dev->priv;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	pthread_mutex_lock(&rtc->lock);
	if (offset == 0)
		rtc->index = v & RTC_INDEX_MASK;
	else if (rtc->index == RTC_STATUS_B)
		/* Binary mode and 12-hour mode are not offered: keep BCD, 24h. */
		rtc->cmos[RTC_STATUS_B] = (uint8_t)((v & ~0x06) | STATUS_B_24H);
	else if (rtc->index > RTC_STATUS_D)
		rtc->cmos[rtc->index] = v; /* clock registers ignore writes */
	pthread_mutex_unlock(&rtc->lock);
}

static const struct bus_device_ops rtc_ops = {
    .name = "rtc",
    .read = rtc_read,
    .write = rtc_write,
};

int rtc_create(struct vm *vm)
{
	struct rtc *rtc = calloc(1, sizeof(*rtc));
	int ret;

	if (!rtc)
		return -ENOMEM;
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->cmos[RTC_STATUS_B] = STATUS_B_24H;
	ret = bus_register(&vm->pio, RTC_INDEX_PORT, 2, &rtc_ops, rtc);
	if (!ret)
		ret = vm_on_release(vm, free, rtc);
	if (ret < 0)
		free(rtc);
	return ret;
}
