/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_LEGACY_H
#define KRUN_LEGACY_H

#include <stdint.h>

struct vm;

#define SERIAL_COM1_PORT 0x3f8
#define SERIAL_COM1_IRQ	 4

/*
 * 16550A UART at "port" raising "irq". Guest output goes to out_fd; in_fd
 * (or -1) feeds its receiver.
 */
int serial_create(struct vm *vm, uint16_t port, unsigned int irq, int in_fd, int out_fd);

/* The keyboard controller, only as far as its reset line: reboot=k. */
int i8042_create(struct vm *vm);

/* MC146818 CMOS real-time clock at ports 0x70/0x71, reading the host clock. */
int rtc_create(struct vm *vm);

/*
 * The exit-status port: the guest's init writes the workload's exit status
 * (0-255) as a 32-bit value to this I/O port, and the VM stops at once with
 * that status. The guest needs ioperm() to use it (CONFIG_X86_IOPL_IOPERM).
 */
#include "guest_abi.h"
int exit_port_create(struct vm *vm);

#endif
