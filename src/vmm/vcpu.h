/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_VCPU_H
#define KRUN_VCPU_H

struct vm;
struct vcpu;

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int index);
int vcpu_start(struct vcpu *vcpu);
void vcpu_release(struct vcpu *vcpu);

#endif
