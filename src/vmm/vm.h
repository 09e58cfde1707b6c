/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_VM_H
#define KRUN_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/event_loop.h"
#include "vmm/memory.h"

/* Why the VM stopped. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_EXIT_STATUS, /* the guest reported the workload's status */
	VM_STOP_RESET,	     /* reboot / triple fault without a status */
	VM_STOP_ERROR,	     /* the VMM or KVM failed */
	VM_STOP_SHUTDOWN,    /* a shutdown request the guest did not finish in time */
};

/* Exit status of the host process when the guest never reported one. */
#define VM_STATUS_NO_REPORT 1
#define VM_STATUS_VMM_ERROR 125
#define VM_STATUS_SHUTDOWN  143 /* 128 + SIGTERM, as for a terminated workload */

/*
 * virtio-mmio devices take IRQs 5..23 but the RTC's 8 (virtio/mmio.c): 18
 * lines, one device each while they last, then shared (level-triggered).
 * The kernel command line's 2 KiB (one virtio_mmio.device= entry of about
 * 36 bytes per device) is what limits a VM in practice, to about 50.
 */
#define VM_MAX_VIRTIO	  64
#define VM_VIRTIO_LINES	  18
#define VM_MAX_RELEASES	  (VM_MAX_VIRTIO + 64)
#define VM_DEVICE_CMDLINE 2048

/*
 * A virtio interrupt line. Alone on it, a device signals edges through
 * its irqfd; once two devices share it, the line is level-triggered and
 * its level is the OR of their InterruptStatus, set and cleared by the VMM
 * under "lock" (virtio/mmio.c).
 */
struct vm_irq_line {
	pthread_mutex_t lock;
	unsigned int irq;
	unsigned int ndevs;
	bool shared;
	bool asserted;
};

/* What a device asks vm_free() to undo, last registered first. */
struct vm_release_fn {
	void (*fn)(void *arg);
	void *arg;
};

struct virtio_device;
struct ioapic;

struct vcpu {
	struct vm *vm;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;

	struct kvm_cpuid2 *supported_cpuid;
	struct ioapic *ioapic; /* the VMM's IOAPIC, with a split irqchip */
	size_t run_size;
	unsigned int nvcpus;
	struct vcpu *vcpus;

	struct event_loop loop;
	uint64_t kernel_entry;
	uint64_t kernel_start, kernel_end; /* the image as loaded, guest physical */
	struct virtio_device *virtio[VM_MAX_VIRTIO];
	unsigned int nvirtio;
	struct vm_irq_line virtio_lines[VM_VIRTIO_LINES];
	uint32_t level_irqs;			/* pins the MP table marks level-triggered */
	char device_cmdline[VM_DEVICE_CMDLINE]; /* virtio_mmio.device=... for each device */
	uint8_t *guest_config;			/* init's instructions, served from memory */
	size_t guest_config_len;
	int console_out_fd;	  /* implicit console output */
	unsigned int named_ports; /* CONSOLE_PORT_* made for init by the consoles */

	/* Stopping: the first vm_stop() wins and wakes the main thread. */
	atomic_int stop_reason;
	int exit_status;
	int stop_efd;
	struct event_source stop_source;
	/*
	 * CLOCK_MONOTONIC time by which devices must have handed over the
	 * guest's output once the VM stopped (tv_sec 0: no limit). Set by a
	 * shutdown request: the host wants the process gone.
	 */
	struct timespec drain_deadline;

	struct vm_release_fn releases[VM_MAX_RELEASES];
	unsigned int nreleases;

	/* The caller's, put back if the VM never runs (vm_free). */
	sigset_t caller_sigmask;
	struct sigaction caller_sigpipe;
};

/* Build the VM described by cfg and run it; returns the process exit status. */
int vm_run(const struct vm_config *cfg);

/*
 * The steps of vm_run() that a failed start goes through (and the unit
 * tests, without KVM): a VM with nothing in it, its event loop and devices,
 * and the release of everything, which leaves the process (fds, terminal,
 * signal dispositions and mask) as vm_alloc() found it.
 */
struct vm *vm_alloc(const struct vm_config *cfg);
int vm_build_devices(struct vm *vm);
void vm_free(struct vm *vm);

/*
 * A device's resources (fds, memory, host state it changed) are given back
 * by fn(arg) when a VM that never ran is freed; a running VM ends in exit().
 * -ENOSPC (the table is full): the caller releases them itself, now.
 */
int vm_on_release(struct vm *vm, void (*fn)(void *arg), void *arg);

/* Ask the VM to stop; safe from any thread, only the first call counts. */
void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status);

/* A VM ioctl; logs "what" and returns -errno when it fails. */
int vm_ioctl(struct vm *vm, unsigned long req, unsigned long arg, const char *what);

/* Drive an interrupt line (an IOAPIC pin, or an ISA IRQ of the in-kernel PIC too). */
int vm_irq_line(struct vm *vm, unsigned int irq, int level);

/* A vCPU acknowledged a level-triggered vector of the VMM's IOAPIC. */
void vm_ioapic_eoi(struct vm *vm, uint8_t vector);

#endif
