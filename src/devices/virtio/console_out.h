/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest output of a console port, on its way to a host fd: a bounded ring
 * filled by the event loop and emptied by a writer thread of its own, so
 * that a host reader that stops reading (a full pipe, a stopped terminal)
 * never blocks the event loop nor anything holding a queue lock. When the
 * ring is full the device stops taking the guest's buffers until there is
 * room again: the guest sees back-pressure, the VMM never grows.
 */
#ifndef KRUN_CONSOLE_OUT_H
#define KRUN_CONSOLE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <time.h>

#define CONSOLE_OUT_SIZE (64 * 1024)

struct console_out;

/*
 * Output to fd. room(opaque) is called (from the writer thread) when a put
 * that did not fit can go on; broken(opaque) once when fd fails (EPIPE...):
 * from then on output is discarded. The writer thread starts with the first
 * output. NULL on ENOMEM.
 */
struct console_out *console_out_create(int fd, void (*room)(void *), void (*broken)(void *),
				       void *opaque);
/* Only when no output was ever put (a VM that never ran). */
void console_out_free(struct console_out *o);

/*
 * Copy iov (from byte "skip" on) into the ring, as much as fits; returns the
 * bytes taken. Less than asked: full, room() follows. A broken output takes
 * everything (and drops it).
 */
size_t console_out_put(struct console_out *o, const struct iovec *iov, unsigned int n, size_t skip);

/*
 * Wait until all output was written (true), or the CLOCK_MONOTONIC deadline
 * passed (NULL: none).
 */
bool console_out_flush(struct console_out *o, const struct timespec *deadline);

#endif
