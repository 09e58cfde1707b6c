/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_KVM_H
#define KRUN_KVM_H

#include <stdbool.h>
#include <stddef.h>

/* Open /dev/kvm and check the API version; returns the fd or -errno. */
int kvm_open(void);

/*
 * Can this host's KVM boot an unmodified guest kernel? False on a
 * paravirtual KVM such as kvm_pvm, which exposes /dev/kvm on a CPU without
 * VMX or SVM. "why" receives a one-line reason when it returns false.
 */
bool kvm_can_boot_standard_guests(char *why, size_t why_len);

/* KVM_CAP_MAX_VCPUS (or NR_VCPUS) of this host, or -errno. */
int kvm_max_vcpus(void);

/* Does the host CPU offer nested virtualization to guests? 1, 0 or -errno. */
int kvm_nested_supported(void);

#endif
