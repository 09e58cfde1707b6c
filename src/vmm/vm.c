// SPDX-License-Identifier: Apache-2.0
/*
 * The builder: turns a struct vm_config into a running VM, then serves the
 * event loop on the calling thread until the guest stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "devices/builders.h"
#include "devices/virtio/virtio.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stop_reason, &expected, (int)reason))
		return;
	vm->exit_status = status;
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		pr_err("cannot wake the VMM main loop: %s", strerror(errno));
}

int vm_ioctl(struct vm *vm, unsigned long req, unsigned long arg, const char *what)
{
	if (ioctl(vm->vm_fd, req, arg) < 0) {
		int err = errno;

		pr_err("%s: %s", what, strerror(err));
		return -err;
	}
	return 0;
}

static void stop_requested(struct event_source *src, uint32_t events)
{
	struct vm *vm = src->opaque;
	uint64_t v;

	(void)events;
	if (read(src->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_debug("stop eventfd: %s", strerror(errno));
	vm->loop.stop = true;
}

static int add_memory_regions(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->mem.nregions; i++) {
		struct guest_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region region = {
		    .slot = i,
		    .guest_phys_addr = r->gpa,
		    .memory_size = r->size,
		    .userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			int err = errno;

			pr_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(err));
			return -err;
		}
	}
	return 0;
}

static int open_console_output(struct vm *vm)
{
	const char *path = vm->cfg->console_output;

	if (!path) {
		vm->console_out_fd = STDOUT_FILENO;
		return 0;
	}
	vm->console_out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (vm->console_out_fd < 0) {
		int err = errno;

		pr_err("console output %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

static int create_vm(struct vm *vm)
{
	int ret;

	vm->kvm_fd = kvm_open();
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	vm->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno;
		pr_err("KVM_CREATE_VM: %s", strerror(errno));
		return ret;
	}
	ret = arch_create_vm(vm);
	if (!ret)
		ret = guest_mem_init(&vm->mem, (uint64_t)vm->cfg->ram_mib << 20);
	if (!ret)
		ret = add_memory_regions(vm);
	return ret;
}

static int create_event_loop(struct vm *vm)
{
	int ret = event_loop_init(&vm->loop);

	if (ret < 0)
		return ret;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return -errno;
	vm->stop_source = (struct event_source){vm->stop_efd, stop_requested, vm};
	return event_loop_add(&vm->loop, &vm->stop_source, EPOLLIN);
}

static int create_vcpus(struct vm *vm)
{
	vm->vcpus = calloc(vm->nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->nvcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		int ret = vcpu_create(vm, &vm->vcpus[i], i);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int vm_on_release(struct vm *vm, void (*fn)(void *arg), void *arg)
{
	if (vm->nreleases == VM_MAX_RELEASES)
		return -ENOSPC;
	vm->releases[vm->nreleases++] = (struct vm_release_fn){fn, arg};
	return 0;
}

/* Only reached when the VM failed to start: a running VM ends in exit(). */
static void vm_release(struct vm *vm)
{
	while (vm->nreleases) {
		struct vm_release_fn *r = &vm->releases[--vm->nreleases];

		r->fn(r->arg);
	}
	free(vm->guest_config);
	for (unsigned int i = 0; vm->vcpus && i < vm->nvcpus; i++)
		vcpu_release(&vm->vcpus[i]);
	free(vm->vcpus);
	free(vm->supported_cpuid);
	free(vm->ioapic);
	guest_mem_release(&vm->mem);
	event_loop_release(&vm->loop);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->console_out_fd > STDERR_FILENO)
		close(vm->console_out_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}

/* Every device the config asks for, each made by its own builder (devices/). */
static int create_devices(struct vm *vm)
{
	for (const struct device_builder *const *b = device_builders; *b; b++) {
		int ret = (*b)->create(vm);

		if (ret < 0) {
			pr_debug("%s: %s", (*b)->name, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Let devices hand the host what the guest gave them before we exit. */
static void drain_devices(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nvirtio; i++)
		if (vm->virtio[i]->ops->drain)
			vm->virtio[i]->ops->drain(vm->virtio[i]);
}

int vm_build_devices(struct vm *vm)
{
	int ret = create_event_loop(vm);

	if (!ret)
		ret = open_console_output(vm);
	if (!ret)
		ret = create_devices(vm);
	return ret;
}

static int vm_build(struct vm *vm)
{
	int ret = create_vm(vm);

	if (!ret)
		ret = vm_build_devices(vm);
	if (!ret)
		ret = arch_load_guest(vm);
	if (!ret)
		ret = create_vcpus(vm);
	return ret;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void report_stop(const struct vm *vm)
{
	switch (atomic_load(&vm->stop_reason)) {
	case VM_STOP_EXIT_STATUS:
		pr_info("workload exited with status %d", vm->exit_status);
		break;
	case VM_STOP_RESET:
		pr_warn("the guest stopped without reporting an exit status (kernel panic, reboot, "
			"or an init that does not use the exit-status port); exiting with %d",
			vm->exit_status);
		break;
	case VM_STOP_SHUTDOWN:
		pr_info("VM stopped after a shutdown request; exiting with %d", vm->exit_status);
		break;
	default:
		pr_err("the VM failed; exiting with %d", vm->exit_status);
		break;
	}
}

struct vm *vm_alloc(const struct vm_config *cfg)
{
	/*
	 * Guest output is written to the host from this thread: a closed pipe
	 * must be an EPIPE for the device, not a SIGPIPE that kills the
	 * process. Ignored for as long as the VM may run (the other threads
	 * block every signal); vm_free() gives the caller its own back.
	 */
	struct sigaction ignore = {.sa_handler = SIG_IGN};
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->cfg = cfg;
	vm->nvcpus = cfg->vcpus;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = vm->loop.epfd = -1;
	vm->console_out_fd = -1;
	atomic_init(&vm->stop_reason, VM_RUNNING);
	pthread_sigmask(SIG_SETMASK, NULL, &vm->caller_sigmask);
	sigaction(SIGPIPE, &ignore, &vm->caller_sigpipe);
	return vm;
}

void vm_free(struct vm *vm)
{
	vm_release(vm);
	vmm_seccomp_release();
	sigaction(SIGPIPE, &vm->caller_sigpipe, NULL);
	pthread_sigmask(SIG_SETMASK, &vm->caller_sigmask, NULL);
	free(vm);
}

int vm_run(const struct vm_config *cfg)
{
	struct vm *vm;
	struct timespec start;
	char why[256];
	int ret;

	if (!kvm_can_boot_standard_guests(why, sizeof(why))) {
		pr_err("%s. Run on a host with hardware virtualization (Intel VT-x or AMD-V), "
		       "or nested inside a VM that has it.",
		       why);
		return -ENOTSUP;
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	vm = vm_alloc(cfg);
	if (!vm)
		return -ENOMEM;
	ret = vm_build(vm);
	/* Before the first VMM thread: each starts under its role's filter. */
	if (!ret)
		ret = vmm_seccomp_prepare();
	if (ret < 0) {
		vm_free(vm);
		return ret;
	}
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		if (vcpu_start(&vm->vcpus[i]) < 0) {
			/* Some vCPUs may run already: stop through the normal path. */
			vm_stop(vm, VM_STOP_ERROR, VM_STATUS_VMM_ERROR);
			break;
		}
	}
	pr_info("VM with %u vCPUs and %u MiB started in %.1f ms", vm->nvcpus, cfg->ram_mib,
		elapsed_ms(&start));
	/* This thread's filter last: it started the others. */
	if (vmm_seccomp_enter(VMM_THREAD_MAIN) < 0)
		vm_stop(vm, VM_STOP_ERROR, VM_STATUS_VMM_ERROR);

	event_loop_run(&vm->loop);
	/* No guest runs while the devices hand over what it left. */
	vcpu_park_all(vm, 1000);
	drain_devices(vm);
	report_stop(vm);
	/*
	 * A vCPU thread that did not stop in time (blocked in a device) ends
	 * with the process, which the caller exits now. Nothing of the VM
	 * outlives it.
	 */
	return vm->exit_status;
}
