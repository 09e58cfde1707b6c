/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_VCPU_H
#define KRUN_VCPU_H

#include <signal.h>

struct vm;
struct vcpu;

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int index);
int vcpu_start(struct vcpu *vcpu);

/* Interrupts KVM_RUN (the vCPU threads have it open only inside the guest). */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 4)

/*
 * Once the VM is stopping (vm_stop): kick every vCPU out of KVM_RUN and wait
 * up to timeout_ms for their threads to end, so that draining the devices
 * races no guest.
 */
void vcpu_park_all(struct vm *vm, unsigned int timeout_ms);
void vcpu_release(struct vcpu *vcpu);

#endif
