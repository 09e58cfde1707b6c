// SPDX-License-Identifier: Apache-2.0
/*
 * The i8042 keyboard controller, reduced to what a microVM needs: the
 * "pulse reset line" command (0xfe on port 0x64) that Linux uses to reboot
 * with reboot=k. Reboot means the VM is over.
 */
#include <string.h>

#include "devices/legacy/legacy.h"
#include "vmm/vm.h"

#define I8042_DATA_PORT	   0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_CMD_RESET	   0xfe

static void i8042_read(struct bus_device *dev, uint64_t offset, void *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	/* Status 0: no data waiting, input buffer empty, so kb_wait() is quick. */
	memset(data, 0, len);
}

static void i8042_write(struct bus_device *dev, uint64_t offset, const void *data, uint32_t len)
{
	struct vm *vm = dev->priv;

	(void)len;
	if (offset == I8042_COMMAND_PORT - I8042_DATA_PORT &&
	    *(const uint8_t *)data == I8042_CMD_RESET)
		vm_stop(vm, VM_STOP_RESET, VM_STATUS_NO_REPORT);
}

static const struct bus_device_ops i8042_ops = {
    .name = "i8042",
    .read = i8042_read,
    .write = i8042_write,
};

int i8042_create(struct vm *vm)
{
	return bus_register(&vm->pio, I8042_DATA_PORT, 5, &i8042_ops, vm);
}
