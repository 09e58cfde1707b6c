// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the legacy port I/O devices a guest reaches from its
 * first instruction: the 16550A UART at 0x3f8 (with host input from a pipe
 * and its output to another), the CMOS RTC at 0x70/0x71 and the i8042 at
 * 0x60-0x64. Fresh devices for every input.
 *
 * Input: records of 3 bytes: op, port, value.
 *   op % 4 == 0: outb(port, value)       1: inb(port)
 *              2: host input byte value  3: serve the event loop (input)
 * port % 16 picks 0x3f8 + 0-7, 0x70, 0x71, 0x60, 0x64, or an unclaimed port.
 *
 * Besides the sanitizers, three oracles, from a model of what the guest did:
 *   - the UART's output is exactly the bytes written to THR with DLAB and
 *     loopback off, in order;
 *   - CMOS bytes above the clock registers read back what was written, and
 *     the clock registers are valid BCD;
 *   - the VM stops (reset) if and only if 0xfe was written to port 0x64.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/legacy/legacy.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static const uint16_t ports[16] = {0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
				   0x70,  0x71,	 0x60,	0x64,  0x61,  0x2f8, 0x80,  0x3f8};

struct model {
	uint8_t lcr, mcr, rtc_index;
	int cmos[128]; /* -1: not written */
	uint8_t out[4096];
	size_t nout;
	bool reset;
};

static const struct vm_config no_config;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_legacy: %s\n", what);
	abort();
}

static bool is_bcd(uint8_t v)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static void serve(struct vm *vm)
{
	struct epoll_event ev[4];
	int n = epoll_wait(vm->loop.epfd, ev, 4, 0);

	for (int i = 0; i < n; i++) {
		struct event_source *src = ev[i].data.ptr;

		src->handler(src, ev[i].events);
	}
}

static void model_out(struct model *m, uint16_t port, uint8_t v)
{
	if (port >= 0x3f8 && port <= 0x3ff) {
		unsigned int reg = port - 0x3f8;

		if (reg == 0 && !(m->lcr & 0x80) && !(m->mcr & 0x10) && m->nout < sizeof(m->out))
			m->out[m->nout++] = v;
		else if (reg == 3)
			m->lcr = v;
		else if (reg == 4)
			m->mcr = v & 0x1f;
	} else if (port == 0x70) {
		m->rtc_index = v & 0x7f;
	} else if (port == 0x71 && m->rtc_index > 0x0d) {
		m->cmos[m->rtc_index] = v;
	} else if (port == 0x64 && v == 0xfe) {
		m->reset = true;
	}
}

static void check_in(const struct model *m, uint16_t port, uint8_t v)
{
	if (port != 0x71)
		return;
	if (m->rtc_index <= 0x09 && m->rtc_index != 0x01 && m->rtc_index != 0x03 &&
	    m->rtc_index != 0x05 && !is_bcd(v))
		fail("an RTC clock register is not BCD");
	if (m->rtc_index > 0x0d && m->rtc_index != 0x32 && m->cmos[m->rtc_index] >= 0 &&
	    v != m->cmos[m->rtc_index])
		fail("a CMOS byte did not read back");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in[2], out[2];
	struct model m = {0};
	uint8_t got[sizeof(m.out) + 1];
	struct vm *vm;
	ssize_t n;

	log_set_level(0);
	memset(m.cmos, 0xff, sizeof(m.cmos));
	if (pipe2(in, O_CLOEXEC | O_NONBLOCK) || pipe2(out, O_CLOEXEC | O_NONBLOCK))
		abort();
	vm = vm_alloc(&no_config);
	if (!vm || event_loop_init(&vm->loop))
		abort();
	vm->pio.name = "pio";
	if (serial_create(vm, SERIAL_COM1_PORT, SERIAL_COM1_IRQ, in[0], out[1]) || rtc_create(vm) ||
	    i8042_create(vm))
		abort();

	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint16_t port = ports[data[i + 1] % 16];
		uint8_t v = data[i + 2];

		switch (data[i] % 4) {
		case 0:
			bus_write(&vm->pio, port, &v, 1);
			model_out(&m, port, v);
			break;
		case 1:
			v = 0;
			bus_read(&vm->pio, port, &v, 1);
			check_in(&m, port, v);
			break;
		case 2:
			(void)!write(in[1], &v, 1);
			break;
		default:
			serve(vm);
			break;
		}
	}

	n = read(out[0], got, sizeof(got));
	if ((size_t)(n < 0 ? 0 : n) != m.nout || (m.nout && memcmp(got, m.out, m.nout)))
		fail("the UART's output is not what the guest wrote to THR");
	if ((atomic_load(&vm->stop_reason) == VM_STOP_RESET) != m.reset)
		fail("the VM stopped without an i8042 reset, or did not on one");

	vm_free(vm);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	return 0;
}
