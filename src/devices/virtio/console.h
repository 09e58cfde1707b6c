/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_VIRTIO_CONSOLE_H
#define KRUN_VIRTIO_CONSOLE_H

#include <stdbool.h>

struct vm;
struct virtio_console;

#define CONSOLE_MAX_PORTS 16

/*
 * A multiport virtio-console. Port 0 is the console port (hvc0 in the
 * guest); more ports carry named byte streams (/dev/vportNpM). An fd of -1
 * means no input, or output discarded.
 */
struct virtio_console *virtio_console_create(struct vm *vm);
int virtio_console_add_port(struct virtio_console *con, const char *name, bool is_console,
			    int in_fd, int out_fd);
/* Add the device to the VM once its ports are all there. */
int virtio_console_realize(struct virtio_console *con);
/* Free a console that virtio_console_realize() did not hand to the VM (else nothing). */
void virtio_console_discard(struct virtio_console *con);

/*
 * The default console of a workload VM, on the given fds (the implicit
 * console uses the process's stdin, stdout and stderr): a terminal port
 * (hvc) for those that are terminals, and "krun-stdin/out/err" ports for the
 * others, so binary data passes untouched. Named ports already listed in
 * *named_ports (made by an earlier console) are not made again; the ones made
 * here are added to it.
 */
#define CONSOLE_PORT_STDIN  1
#define CONSOLE_PORT_STDOUT 2
#define CONSOLE_PORT_STDERR 4
int virtio_console_create_default(struct vm *vm, int in_fd, int out_fd, int err_fd,
				  unsigned int *named_ports);

/* Just a console port writing to out_fd, without input (krun_set_console_output). */
int virtio_console_create_output_only(struct vm *vm, int out_fd);

/* Put the host terminal back the way it was (idempotent, signal-safe). */
void console_restore_terminal(void);

#endif
