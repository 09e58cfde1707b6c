// SPDX-License-Identifier: Apache-2.0
/*
 * Guest init for the memory and entropy tests (balloon-tests.sh): PID 1 of
 * an initramfs, driven by the kernel command line.
 *
 *   krun_test_mode=balloon  map and touch krun_test_mib MiB (default 300),
 *                           say "touched", hold it krun_test_hold s (5),
 *                           free it, say "freed", idle krun_test_idle s
 *                           (30), report status 0
 *   krun_test_mode=idle     idle krun_test_idle s, report status 0
 *   krun_test_mode=hwrng    read 1 MiB from /dev/hwrng and print its size,
 *                           a hash and a chi-square of the byte counts
 *   krun_test_mode=meminfo  wait krun_test_hold s (5), print MemFree and
 *                           MemTotal in KiB (a host balloon target shows)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "devices/legacy/legacy.h"

#define MiB (1024UL * 1024)

static void open_console(void)
{
	int fd;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
}

static void report_status(int status)
{
	tcdrain(STDOUT_FILENO);
	if (ioperm(KRUN_EXIT_STATUS_PORT, 4, 1) < 0) {
		perror("devprobe: ioperm");
		reboot(RB_AUTOBOOT);
	}
	outl((unsigned int)status, KRUN_EXIT_STATUS_PORT);
	for (;;)
		pause();
}

static unsigned long env_num(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v ? strtoul(v, NULL, 10) : def;
}

static int balloon(void)
{
	unsigned long mib = env_num("krun_test_mib", 300);
	size_t len = mib * MiB;
	uint8_t *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		say("balloon: mmap %lu MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	/* Distinct data in every page, so no host-side dedup could fake a drop. */
	for (size_t off = 0; off < len; off += 4096)
		memcpy(p + off, &off, sizeof(off));
	say("balloon: touched %lu MiB\n", mib);
	sleep((unsigned int)env_num("krun_test_hold", 5));
	munmap(p, len);
	say("balloon: freed %lu MiB\n", mib);
	sleep((unsigned int)env_num("krun_test_idle", 30));
	say("balloon: done\n");
	return 0;
}

static int hwrng(void)
{
	static uint8_t buf[MiB];
	unsigned long counts[256] = {0};
	uint64_t hash = 0xcbf29ce484222325ULL; /* FNV-1a */
	char current[64] = "";
	double chi2 = 0, expect = (double)sizeof(buf) / 256;
	size_t got = 0;
	int fd;

	fd = open("/sys/class/misc/hw_random/rng_current", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, current, sizeof(current) - 1);

		current[n > 0 ? n - 1 : 0] = 0;
		close(fd);
	}
	fd = open("/dev/hwrng", O_RDONLY);
	if (fd < 0) {
		say("hwrng: open /dev/hwrng: %s\n", strerror(errno));
		return 1;
	}
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n <= 0) {
			say("hwrng: read after %zu bytes: %s\n", got, n ? strerror(errno) : "EOF");
			return 1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < got; i++) {
		counts[buf[i]]++;
		hash = (hash ^ buf[i]) * 0x100000001b3ULL;
	}
	for (int i = 0; i < 256; i++)
		chi2 += ((double)counts[i] - expect) * ((double)counts[i] - expect) / expect;
	say("hwrng: rng=%s bytes=%zu hash=%016llx chi2=%d\n", current, got,
	    (unsigned long long)hash, (int)chi2);
	return 0;
}

static unsigned long meminfo_kib(const char *field)
{
	char line[128];
	unsigned long v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)) && line[strlen(field)] == ':')
			v = strtoul(line + strlen(field) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int meminfo(void)
{
	sleep((unsigned int)env_num("krun_test_hold", 5));
	say("meminfo: free=%lu total=%lu\n", meminfo_kib("MemFree"), meminfo_kib("MemTotal"));
	return 0;
}

int main(void)
{
	const char *mode = getenv("krun_test_mode");
	int status = 2;

	open_console();
	say("devprobe: mode %s\n", mode ? mode : "(none)");
	if (mode && !strcmp(mode, "balloon"))
		status = balloon();
	else if (mode && !strcmp(mode, "hwrng"))
		status = hwrng();
	else if (mode && !strcmp(mode, "meminfo"))
		status = meminfo();
	else if (mode && !strcmp(mode, "idle")) {
		sleep((unsigned int)env_num("krun_test_idle", 30));
		status = 0;
	}
	report_status(status);
	return 0;
}
