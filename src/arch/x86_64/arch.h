/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_X86_ARCH_H
#define KRUN_X86_ARCH_H

struct vm;
struct vcpu;

/* VM-wide KVM state: TSS, irqchip, PIT. */
int arch_create_vm(struct vm *vm);
/* The interrupt controllers: all in KVM, or the IOAPIC in the VMM (split). */
int x86_create_irqchip(struct vm *vm);
/* Kernel, initramfs, command line and boot tables into guest memory. */
int arch_load_guest(struct vm *vm);
/* CPUID, MSRs, LAPIC; registers of the boot CPU. */
int arch_setup_vcpu(struct vcpu *vcpu);
/* The legacy devices every x86 microVM has: legacy_devices_builder (devices/builders.h). */

#endif
