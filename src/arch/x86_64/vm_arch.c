// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "devices/builders.h"
#include "devices/legacy/legacy.h"
#include "vmm/vm.h"

int arch_create_vm(struct vm *vm)
{
	uint64_t identity = KVM_IDENTITY_MAP;
	int ret;

	/* Intel needs these three pages below 4 GiB, out of the guest's way. */
	ret = vm_ioctl(vm, KVM_SET_TSS_ADDR, KVM_TSS_ADDR, "KVM_SET_TSS_ADDR");
	if (!ret)
		ret = vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, (unsigned long)&identity,
			       "KVM_SET_IDENTITY_MAP_ADDR");
	if (!ret)
		ret = x86_create_irqchip(vm);
	if (!ret) {
		vm->supported_cpuid = x86_supported_cpuid(vm->kvm_fd);
		if (!vm->supported_cpuid)
			ret = -EIO;
	}
	return ret;
}

int arch_setup_vcpu(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	int ret;

	ret = x86_setup_cpuid(vcpu->fd, vm->supported_cpuid, vcpu->index, vm->nvcpus,
			      vm->cfg->nested_virt);
	if (!ret)
		ret = x86_setup_vcpu(vcpu->fd);
	if (!ret && vcpu->index == 0)
		ret = x86_setup_boot_cpu(vcpu->fd, vm->kernel_entry, BOOT_ZERO_PAGE);
	return ret;
}

/* Serial ports in the order they are handed out: COM1, COM2. */
static const struct {
	uint16_t port;
	unsigned int irq;
} com_ports[VM_MAX_SERIALS] = {{0x3f8, 4}, {0x2f8, 3}};

/*
 * COM1 belongs to the implicit console unless it was disabled; consoles
 * added with krun_add_serial_console_default() take the next ports. A VM
 * always has COM1, unwired if nobody wants it.
 */
static int create_serial_ports(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	unsigned int n = 0;
	int ret = 0;

	if (!cfg->no_implicit_console) {
		/* With a root share the workload's console is virtio; the UART gets no input. */
		int in_fd = (cfg->console_output || cfg->root_path) ? -1 : STDIN_FILENO;

		ret = serial_create(vm, com_ports[0].port, com_ports[0].irq, in_fd,
				    vm->console_out_fd);
		n++;
	}
	for (unsigned int i = 0; !ret && i < cfg->nconsoles && n < VM_MAX_SERIALS; i++) {
		const struct console_config *c = &cfg->consoles[i];

		if (c->kind != CONSOLE_SERIAL)
			continue;
		ret = serial_create(vm, com_ports[n].port, com_ports[n].irq, c->in_fd, c->out_fd);
		n++;
	}
	if (!ret && !n)
		ret = serial_create(vm, com_ports[0].port, com_ports[0].irq, -1, -1);
	return ret;
}

static int create_legacy_devices(struct vm *vm)
{
	int ret = create_serial_ports(vm);

	if (!ret)
		ret = i8042_create(vm);
	if (!ret)
		ret = rtc_create(vm);
	if (!ret)
		ret = exit_port_create(vm);
	return ret;
}

const struct device_builder legacy_devices_builder = {"legacy devices", create_legacy_devices};
