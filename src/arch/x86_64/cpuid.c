// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/cpu.h"
#include "vmm/log.h"

#define CPUID_MAX_ENTRIES 256

#define CPUID_1_ECX_VMX		 (1u << 5)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR	 (1u << 31)
#define CPUID_1_EDX_HTT		 (1u << 28)
#define CPUID_80000001_ECX_SVM	 (1u << 2)

struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *cpuid;

	cpuid = calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return NULL;
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		pr_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(cpuid);
		return NULL;
	}
	/*
	 * KVM emulates the TSC-deadline mode of its local APIC timer but leaves
	 * advertising it to us. With it the guest needs no APIC timer
	 * calibration, which takes 100 ms against the PIT, and which a guest
	 * without a PIT (split irqchip) cannot do at all.
	 */
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		for (unsigned int i = 0; i < cpuid->nent; i++)
			if (cpuid->entries[i].function == 1)
				cpuid->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
	return cpuid;
}

static void filter_entry(struct kvm_cpuid_entry2 *e, unsigned int index, unsigned int ncpus,
			 bool nested)
{
	switch (e->function) {
	case 1:
		/* Initial APIC id and logical processor count. */
		e->ebx = (e->ebx & 0x0000ffff) | (index << 24) | ((ncpus & 0xff) << 16);
		if (ncpus > 1)
			e->edx |= CPUID_1_EDX_HTT;
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (!nested)
			e->ecx &= ~CPUID_1_ECX_VMX;
		break;
	case 0xb:
	case 0x1f:
		e->edx = index; /* x2APIC id */
		break;
	case 0x80000001:
		if (!nested)
			e->ecx &= ~CPUID_80000001_ECX_SVM;
		break;
	default:
		break;
	}
}

int x86_setup_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int index,
		    unsigned int ncpus, bool nested)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *cpuid = malloc(size);
	int ret = 0;

	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, supported, size);
	for (unsigned int i = 0; i < cpuid->nent; i++)
		filter_entry(&cpuid->entries[i], index, ncpus, nested);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
		ret = -errno;
		pr_err("KVM_SET_CPUID2: %s", strerror(errno));
	}
	free(cpuid);
	return ret;
}
