// SPDX-License-Identifier: Apache-2.0
/*
 * vCPU threads: KVM_RUN until the VM stops, dispatching port I/O and MMIO
 * exits to the buses.
 */
#include <alloca.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int index)
{
	void *run;
	int ret;

	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		ret = -errno;
		pr_err("KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		return ret;
	}
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		ret = -errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		return ret;
	}
	vcpu->run = run;
	return arch_setup_vcpu(vcpu);
}

void vcpu_release(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	/* "count" > 1 for rep ins/outs; data is inside the shared run page. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio, run->io.port, data, run->io.size);
		else
			bus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

static void report_failure(struct vcpu *vcpu, const char *what)
{
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0)
		pr_err("vCPU %u: %s at rip 0x%llx", vcpu->index, what,
		       (unsigned long long)regs.rip);
	else
		pr_err("vCPU %u: %s", vcpu->index, what);
	vm_stop(vcpu->vm, VM_STOP_ERROR, VM_STATUS_VMM_ERROR);
}

/*
 * KVM could not handle something itself (usually an instruction it had to
 * emulate and could not). Log everything KVM tells us, plus the bytes at
 * rip, so a report names the instruction.
 */
static void report_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_translation tr = {0};
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	char text[256];
	size_t n = 0;

	n += snprintf(text + n, sizeof(text) - n, "suberror %u, data", run->internal.suberror);
	for (uint32_t i = 0; i < run->internal.ndata && i < 16 && n < sizeof(text); i++)
		n += snprintf(text + n, sizeof(text) - n, " %llx",
			      (unsigned long long)run->internal.data[i]);
	pr_err("vCPU %u: KVM internal error: %s", vcpu->index, text);

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return;
	tr.linear_address = sregs.cs.base + regs.rip;
	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
		const uint8_t *insn = guest_ptr(&vcpu->vm->mem, tr.physical_address, 8);

		if (insn)
			pr_err("vCPU %u: rip %llx (gpa %llx, cpl %u) bytes %02x %02x %02x %02x "
			       "%02x %02x %02x %02x",
			       vcpu->index, (unsigned long long)regs.rip,
			       (unsigned long long)tr.physical_address, sregs.cs.selector & 3,
			       insn[0], insn[1], insn[2], insn[3], insn[4], insn[5], insn[6],
			       insn[7]);
	}
}

/* Returns false when this vCPU is done. */
static bool handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_IOAPIC_EOI:
		vm_ioapic_eoi(vcpu->vm, run->eoi.vector);
		return true;
	case KVM_EXIT_SHUTDOWN: /* triple fault, or a reset the guest forced */
		pr_debug("vCPU %u: shutdown exit", vcpu->index);
		vm_stop(vcpu->vm, VM_STOP_RESET, VM_STATUS_NO_REPORT);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_stop(vcpu->vm, VM_STOP_RESET, VM_STATUS_NO_REPORT);
		return false;
	case KVM_EXIT_HLT:
		vm_stop(vcpu->vm, VM_STOP_RESET, VM_STATUS_NO_REPORT);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		report_failure(vcpu, "KVM entry failed");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(vcpu);
		report_failure(vcpu, "KVM internal error");
		return false;
	default:
		pr_err("vCPU %u: unexpected exit reason %u", vcpu->index, run->exit_reason);
		report_failure(vcpu, "unhandled exit");
		return false;
	}
}

/*
 * KVM_RUN returns EINTR for VCPU_KICK_SIGNAL: blocked in the thread, open
 * only while the guest runs (KVM_SET_SIGNAL_MASK), so a kick sent at any
 * time either interrupts KVM_RUN or makes the next one return at once.
 */
static int allow_kicks_in_guest(struct vcpu *vcpu)
{
	struct kvm_signal_mask *mask = alloca(sizeof(*mask) + 8);
	sigset_t in_guest;

	sigfillset(&in_guest);
	sigdelset(&in_guest, VCPU_KICK_SIGNAL);
	mask->len = 8; /* the kernel's sigset_t on x86_64 */
	memcpy(mask->sigset, &in_guest, 8);
	if (ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, mask) < 0) {
		pr_err("vCPU %u: KVM_SET_SIGNAL_MASK: %s", vcpu->index, strerror(errno));
		return -errno;
	}
	return 0;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;

	/* Signals are blocked (vmm_thread_start()) but for the kick in KVM_RUN. */
	if (allow_kicks_in_guest(vcpu) < 0) {
		vm_stop(vcpu->vm, VM_STOP_ERROR, VM_STATUS_VMM_ERROR);
		return NULL;
	}

	while (atomic_load(&vcpu->vm->stop_reason) == VM_RUNNING) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pr_err("vCPU %u: KVM_RUN: %s", vcpu->index, strerror(errno));
			vm_stop(vcpu->vm, VM_STOP_ERROR, VM_STATUS_VMM_ERROR);
			break;
		}
		if (!handle_exit(vcpu))
			break;
	}
	return NULL;
}

static void kicked(int sig)
{
	(void)sig; /* only there to make KVM_RUN return */
}

int vcpu_start(struct vcpu *vcpu)
{
	struct sigaction kick = {.sa_handler = kicked}; /* no SA_RESTART */
	int ret;

	/* The process never goes back to the caller once a vCPU runs. */
	if (vcpu->index == 0)
		sigaction(VCPU_KICK_SIGNAL, &kick, NULL);
	ret = vmm_thread_start(&vcpu->thread, VMM_THREAD_VCPU, vcpu_thread, vcpu);
	if (ret < 0)
		pr_err("cannot start vCPU %u thread: %s", vcpu->index, strerror(-ret));
	else
		vcpu->started = true;
	return ret;
}

void vcpu_park_all(struct vm *vm, unsigned int timeout_ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline); /* pthread_timedjoin_np's clock */
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	for (unsigned int i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].started)
			pthread_kill(vm->vcpus[i].thread, VCPU_KICK_SIGNAL);
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (!vcpu->started)
			continue;
		if (pthread_timedjoin_np(vcpu->thread, NULL, &deadline))
			pr_warn("vCPU %u did not stop in %u ms (blocked in a device?)", vcpu->index,
				timeout_ms);
		else
			vcpu->started = false;
	}
}
