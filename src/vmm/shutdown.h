/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_SHUTDOWN_H
#define KRUN_SHUTDOWN_H

struct vm;

/*
 * Serve krun_get_shutdown_eventfd(): a write to "efd" is passed to the
 * guest's init as a byte on the KRUN_PORT_SHUTDOWN console port (a device
 * of its own); if the guest has not stopped KRUN_SHUTDOWN_TIMEOUT_S seconds
 * later, the VMM stops it.
 */
int shutdown_channel_create(struct vm *vm, int efd);

#endif
