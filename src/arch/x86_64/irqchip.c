// SPDX-License-Identifier: Apache-2.0
/*
 * Interrupt controllers. By default KVM emulates all of them: local APICs,
 * IOAPIC, the two 8259 PICs and the PIT. With a split irqchip
 * (krun_split_irqchip) KVM keeps only the local APICs and the VMM models
 * the IOAPIC (devices/legacy/ioapic.c). There is then no PIC, which KVM
 * also requires for its PIT, so the guest has no PIT either: it finds no
 * 8259 ("Using NULL legacy PIC") and keeps time with kvm-clock and the
 * local APIC timer in TSC-deadline mode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/layout.h"
#include "devices/legacy/ioapic.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static int create_kernel_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	struct kvm_reinject_control reinject = {.pit_reinject = 0};
	int ret = vm_ioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");

	if (!ret)
		ret = vm_ioctl(vm, KVM_CREATE_PIT2, (unsigned long)&pit, "KVM_CREATE_PIT2");
	/*
	 * Drop PIT ticks the guest missed instead of re-injecting them: the
	 * guest keeps time with kvm-clock, and re-injection keeps KVM's PIT
	 * thread busy while a guest that is shutting down has masked the line.
	 */
	if (!ret && ioctl(vm->vm_fd, KVM_REINJECT_CONTROL, &reinject) < 0)
		pr_debug("KVM_REINJECT_CONTROL: %s", strerror(errno));
	return ret;
}

static int kvm_send_msi(void *opaque, const struct ioapic_msi *msi)
{
	struct vm *vm = opaque;
	struct kvm_msi m = {.address_lo = msi->address, .data = msi->data};

	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}

/* GSI n is IOAPIC pin n: the irqfd of a virtio device sends the pin's MSI. */
static int kvm_set_routes(void *opaque, uint32_t routed, const struct ioapic_msi *msi)
{
	struct vm *vm = opaque;
	union {
		struct kvm_irq_routing table;
		uint8_t bytes[sizeof(struct kvm_irq_routing) +
			      IOAPIC_NUM_PINS * sizeof(struct kvm_irq_routing_entry)];
	} r;
	struct kvm_irq_routing_entry *e = r.table.entries;

	memset(&r, 0, sizeof(r));
	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		if (!(routed & (1u << pin)))
			continue;
		e->gsi = pin;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = msi[pin].address;
		e->u.msi.data = msi[pin].data;
		e++;
	}
	r.table.nr = (uint32_t)(e - r.table.entries);
	return vm_ioctl(vm, KVM_SET_GSI_ROUTING, (unsigned long)&r, "KVM_SET_GSI_ROUTING");
}

static const struct ioapic_backend kvm_ioapic_backend = {
    .send_msi = kvm_send_msi,
    .set_routes = kvm_set_routes,
};

static void ioapic_bus_read(struct bus_device *dev, uint64_t offset, void *data, uint32_t len)
{
	ioapic_mmio_read(dev->priv, offset, data, len);
}

static void ioapic_bus_write(struct bus_device *dev, uint64_t offset, const void *data,
			     uint32_t len)
{
	ioapic_mmio_write(dev->priv, offset, data, len);
}

static const struct bus_device_ops ioapic_bus_ops = {
    .name = "ioapic",
    .read = ioapic_bus_read,
    .write = ioapic_bus_write,
};

static int create_split_irqchip(struct vm *vm)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {IOAPIC_NUM_PINS}};
	int ret;

	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0) {
		pr_err("this KVM has no split irqchip (KVM_CAP_SPLIT_IRQCHIP)");
		return -ENOTSUP;
	}
	ret = vm_ioctl(vm, KVM_ENABLE_CAP, (unsigned long)&cap, "KVM_CAP_SPLIT_IRQCHIP");
	if (ret)
		return ret;
	vm->ioapic = malloc(sizeof(*vm->ioapic));
	if (!vm->ioapic)
		return -ENOMEM;
	/* The MP table gives the IOAPIC the first ID after the CPUs'. */
	ioapic_init(vm->ioapic, (uint8_t)vm->nvcpus, &kvm_ioapic_backend, vm);
	return bus_register(&vm->mmio, IOAPIC_ADDR, IOAPIC_MMIO_SIZE, &ioapic_bus_ops, vm->ioapic);
}

int x86_create_irqchip(struct vm *vm)
{
	return vm->cfg->split_irqchip ? create_split_irqchip(vm) : create_kernel_irqchip(vm);
}

int vm_irq_line(struct vm *vm, unsigned int irq, int level)
{
	struct kvm_irq_level line = {.irq = irq, .level = (uint32_t)level};

	if (vm->ioapic) {
		ioapic_set_line(vm->ioapic, irq, level);
		return 0;
	}
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) < 0 ? -errno : 0;
}

void vm_ioapic_eoi(struct vm *vm, uint8_t vector)
{
	if (vm->ioapic)
		ioapic_eoi(vm->ioapic, vector);
}
