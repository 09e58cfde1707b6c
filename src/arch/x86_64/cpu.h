/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_X86_CPU_H
#define KRUN_X86_CPU_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

/* KVM_GET_SUPPORTED_CPUID; free() the result. */
struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd);

/*
 * What the guest's CPU index "index" of "ncpus" sees: the host's supported
 * leaves with its own APIC id, the hypervisor bit, and no VMX/SVM unless
 * nested virtualization was asked for.
 */
int x86_setup_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int index,
		    unsigned int ncpus, bool nested);

/* MSRs, FPU and local APIC wiring common to every vCPU. */
int x86_setup_vcpu(int vcpu_fd);

/* The boot CPU enters the kernel's 64-bit entry point with rsi = zero page. */
int x86_setup_boot_cpu(int vcpu_fd, uint64_t entry, uint64_t zero_page);

#endif
