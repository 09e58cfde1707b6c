// SPDX-License-Identifier: Apache-2.0
/*
 * How the workload's exit status leaves the guest: init writes it to
 * KRUN_EXIT_STATUS_PORT and the VM stops right there, so the process exits
 * with that status without waiting for the guest to shut down. Output the
 * guest wrote before is already on the host: console writes are synchronous.
 */
#include <stdint.h>
#include <string.h>

#include "devices/legacy/legacy.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static void exit_port_write(struct bus_device *dev, uint64_t offset, const void *data, uint32_t len)
{
	uint32_t value = 0;

	if (offset != 0 || len > sizeof(value))
		return;
	memcpy(&value, data, len);
	pr_debug("guest reported exit status %u", value & 0xff);
	vm_stop(dev->priv, VM_STOP_EXIT_STATUS, (int)(value & 0xff));
}

static const struct bus_device_ops exit_port_ops = {
    .name = "exit-status",
    .write = exit_port_write,
};

int exit_port_create(struct vm *vm)
{
	return bus_register(&vm->pio, KRUN_EXIT_STATUS_PORT, 4, &exit_port_ops, vm);
}
