// SPDX-License-Identifier: Apache-2.0
/*
 * Initial vCPU state. Every vCPU gets MSRs, FPU state and LINT wiring; the
 * boot CPU also gets the state the Linux 64-bit boot protocol asks for: long
 * mode with identity paging, flat __BOOT_CS/__BOOT_DS segments, interrupts
 * off, rsi = zero page. The other vCPUs wait for the kernel's INIT/SIPI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "vmm/log.h"

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE_WRITEBACK	((1u << 11) | 6) /* MTRRs on, default type WB */

#define CR0_PE	 0x1ULL
#define CR0_ET	 0x10ULL
#define CR0_PG	 0x80000000ULL
#define CR4_PAE	 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define APIC_LVT0	0x350
#define APIC_LVT1	0x360
#define APIC_MODE_MASK	0x700
#define APIC_MODE_NMI	0x400
#define APIC_MODE_EXINT 0x700

static int set_msrs(int fd)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} init[] = {
	    {MSR_IA32_SYSENTER_CS, 0},
	    {MSR_IA32_SYSENTER_ESP, 0},
	    {MSR_IA32_SYSENTER_EIP, 0},
	    {MSR_STAR, 0},
	    {MSR_CSTAR, 0},
	    {MSR_KERNEL_GS_BASE, 0},
	    {MSR_SYSCALL_MASK, 0},
	    {MSR_LSTAR, 0},
	    {MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
	    {MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WRITEBACK},
	};
	const size_t n = sizeof(init) / sizeof(init[0]);
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(msrs->entries[0]));
	int ret;

	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		msrs->entries[i].index = init[i].index;
		msrs->entries[i].data = init[i].value;
	}
	ret = ioctl(fd, KVM_SET_MSRS, msrs);
	free(msrs);
	if (ret != (int)n) {
		pr_err("KVM_SET_MSRS set %d of %zu MSRs", ret, n);
		return -EIO;
	}
	return 0;
}

static int set_fpu(int fd)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

	return ioctl(fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static void set_lvt_mode(struct kvm_lapic_state *lapic, int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, lapic->regs + reg, sizeof(v));
	v = (v & ~APIC_MODE_MASK) | mode;
	memcpy(lapic->regs + reg, &v, sizeof(v));
}

/* LINT0 receives the legacy PIC (ExtINT), LINT1 NMIs, as the MP table says. */
static int set_lint(int fd)
{
	struct kvm_lapic_state lapic;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	set_lvt_mode(&lapic, APIC_LVT0, APIC_MODE_EXINT);
	set_lvt_mode(&lapic, APIC_LVT1, APIC_MODE_NMI);
	return ioctl(fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

int x86_setup_vcpu(int vcpu_fd)
{
	int ret = set_msrs(vcpu_fd);

	if (!ret)
		ret = set_fpu(vcpu_fd);
	if (!ret)
		ret = set_lint(vcpu_fd);
	if (ret)
		pr_err("vCPU setup failed: %s", strerror(-ret));
	return ret;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code)
{
	return (struct kvm_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = selector,
	    .type = type,
	    .present = 1,
	    .dpl = 0,
	    .db = code ? 0 : 1,
	    .s = 1,
	    .l = code ? 1 : 0,
	    .g = 1,
	};
}

int x86_setup_boot_cpu(int vcpu_fd, uint64_t entry, uint64_t zero_page)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {0};

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;

	sregs.cs = flat_segment(BOOT_CS_SELECTOR, 0xb, true);
	sregs.ds = flat_segment(BOOT_DS_SELECTOR, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = flat_segment(BOOT_TSS_SELECTOR, 0xb, false);
	sregs.tr.s = 0;
	sregs.tr.db = 0;
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;

	sregs.cr3 = BOOT_PML4_ADDR;
	sregs.cr4 |= CR4_PAE;
	sregs.cr0 |= CR0_PE | CR0_ET | CR0_PG;
	sregs.efer |= EFER_LME | EFER_LMA;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	regs.rflags = 0x2;
	regs.rip = entry;
	regs.rsp = BOOT_STACK_ADDR;
	regs.rbp = BOOT_STACK_ADDR;
	regs.rsi = zero_page;
	return ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}
