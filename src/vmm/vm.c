// SPDX-License-Identifier: Apache-2.0
/*
 * The builder: turns a struct vm_config into a running VM, then serves the
 * event loop on the calling thread until the guest stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "devices/virtio/console.h"
#include "devices/virtio/fs.h"
#include "devices/virtio/fs/fuse_server.h"
#include "devices/virtio/virtio.h"
#include "guest_abi.h"
#include "libkrun.h"
#include "vmm/guest_config.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/shutdown.h"
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

/* Only reached when the VM failed to start: a running VM ends in exit(). */
static void vm_release(struct vm *vm)
{
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

/* krun_fs_add_overlay_file/dir entries for the share "tag". */
static int add_overlays(struct fuse_server *srv, const struct vm_config *cfg, const char *tag)
{
	for (unsigned int i = 0; i < cfg->noverlays; i++) {
		const struct overlay_config *o = &cfg->overlays[i];
		int ret;

		if (strcmp(o->tag, tag))
			continue;
		if (o->is_dir)
			ret = fuse_server_add_overlay_dir(srv, o->path, S_IFDIR | o->mode);
		else
			ret = fuse_server_add_overlay_file(srv, o->path, o->data, o->len,
							   S_IFREG | o->mode, o->one_shot);
		if (ret < 0) {
			pr_err("virtio-fs %s: overlay %s: %s", tag, o->path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static bool share_exists(const struct vm_config *cfg, const char *tag)
{
	if (cfg->root_path && !strcmp(tag, KRUN_FS_ROOT_TAG))
		return true;
	for (unsigned int i = 0; i < cfg->nshares; i++)
		if (!strcmp(cfg->shares[i].tag, tag))
			return true;
	return false;
}

static int check_overlay_tags(const struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->noverlays; i++) {
		if (!share_exists(cfg, cfg->overlays[i].tag)) {
			pr_err("overlay %s: no virtio-fs share with tag \"%s\"",
			       cfg->overlays[i].path, cfg->overlays[i].tag);
			return -ENOENT;
		}
	}
	return 0;
}

/* init and its instructions: entries of the root share that exist only in memory. */
static int add_init(struct vm *vm, struct fuse_server *srv, unsigned int named_ports)
{
	const char *ports[5];
	unsigned int n = 0;
	int ret;

	if (named_ports & CONSOLE_PORT_STDIN)
		ports[n++] = KRUN_PORT_STDIN;
	if (named_ports & CONSOLE_PORT_STDOUT)
		ports[n++] = KRUN_PORT_STDOUT;
	if (named_ports & CONSOLE_PORT_STDERR)
		ports[n++] = KRUN_PORT_STDERR;
	if (vm->cfg->shutdown_efd >= 0)
		ports[n++] = KRUN_PORT_SHUTDOWN;
	ports[n] = NULL;

	vm->guest_config = guest_config_build(vm->cfg, ports, &vm->guest_config_len);
	if (!vm->guest_config)
		return -ENOMEM;
	ret = fuse_server_add_overlay_file(srv, KRUN_INIT_PATH + 1, krun_init_blob,
					   krun_init_blob_size, 0100755, false);
	if (!ret)
		ret = fuse_server_add_overlay_file(srv, KRUN_CONFIG_PATH + 1, vm->guest_config,
						   vm->guest_config_len, 0100400, true);
	if (ret < 0)
		pr_err("root share: cannot add init: %s", strerror(-ret));
	return ret;
}

/* The virtio-fs shares: the root (with init, unless disabled), then the others. */
static int create_shares(struct vm *vm, unsigned int named_ports)
{
	const struct vm_config *cfg = vm->cfg;
	struct fuse_server *srv;
	int ret = check_overlay_tags(cfg);

	if (!ret && cfg->root_path) {
		srv = virtio_fs_create(vm, KRUN_FS_ROOT_TAG, cfg->root_path, cfg->root_read_only);
		if (!srv)
			return -EIO;
		if (!cfg->no_implicit_init)
			ret = add_init(vm, srv, named_ports);
		if (!ret)
			ret = add_overlays(srv, cfg, KRUN_FS_ROOT_TAG);
	}
	for (unsigned int i = 0; !ret && i < cfg->nshares; i++) {
		const struct fs_share *sh = &cfg->shares[i];

		srv = virtio_fs_create(vm, sh->tag, sh->path, sh->read_only);
		ret = srv ? add_overlays(srv, cfg, sh->tag) : -EIO;
	}
	return ret;
}

static int create_multiport_console(struct vm *vm, const struct console_config *c)
{
	struct virtio_console *con;
	int ret = 0;

	if (!c->nports) {
		pr_warn("a multi-port console without ports is left out");
		return 0;
	}
	con = virtio_console_create(vm);
	if (!con)
		return -ENOMEM;
	for (unsigned int i = 0; !ret && i < c->nports; i++) {
		const struct console_port_config *p = &c->ports[i];

		ret = virtio_console_add_port(con, p->name, p->tty, p->in_fd, p->out_fd);
	}
	return ret ?: virtio_console_realize(con);
}

/*
 * Virtio consoles: the implicit one of a workload VM, then those added
 * through the API in their order (serial ones are legacy devices), then the
 * shutdown request channel. *named_ports: the stdio ports made for init.
 */
static int create_consoles(struct vm *vm, unsigned int *named_ports)
{
	const struct vm_config *cfg = vm->cfg;
	int ret = 0;

	*named_ports = 0;
	if (cfg->root_path && !cfg->no_implicit_console) {
		if (cfg->console_output)
			ret = virtio_console_create_output_only(vm, vm->console_out_fd);
		else
			ret = virtio_console_create_default(vm, STDIN_FILENO, STDOUT_FILENO,
							    STDERR_FILENO, named_ports);
	}
	for (unsigned int i = 0; !ret && i < cfg->nconsoles; i++) {
		const struct console_config *c = &cfg->consoles[i];

		if (c->kind == CONSOLE_VIRTIO_DEFAULT)
			ret = virtio_console_create_default(vm, c->in_fd, c->out_fd, c->err_fd,
							    named_ports);
		else if (c->kind == CONSOLE_VIRTIO_MULTIPORT)
			ret = create_multiport_console(vm, c);
	}
	if (!ret && cfg->shutdown_efd >= 0)
		ret = shutdown_channel_create(vm, cfg->shutdown_efd);
	return ret;
}

static int create_devices(struct vm *vm)
{
	unsigned int named_ports;
	int ret = arch_create_legacy_devices(vm);

	if (!ret)
		ret = create_consoles(vm, &named_ports);
	if (!ret)
		ret = create_shares(vm, named_ports);
	return ret;
}

/* Let devices hand the host what the guest gave them before we exit. */
static void drain_devices(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nvirtio; i++)
		if (vm->virtio[i]->ops->drain)
			vm->virtio[i]->ops->drain(vm->virtio[i]);
}

static int vm_build(struct vm *vm)
{
	int ret = create_vm(vm);

	if (!ret)
		ret = create_event_loop(vm);
	if (!ret)
		ret = open_console_output(vm);
	if (!ret)
		ret = create_devices(vm);
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
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = cfg;
	vm->nvcpus = cfg->vcpus;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = vm->loop.epfd = -1;
	vm->console_out_fd = -1;
	atomic_init(&vm->stop_reason, VM_RUNNING);

	ret = vm_build(vm);
	if (ret < 0) {
		vm_release(vm);
		free(vm);
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

	event_loop_run(&vm->loop);
	drain_devices(vm);
	report_stop(vm);
	/*
	 * The vCPU threads may still be inside KVM_RUN; the caller exits the
	 * process, which ends them. Nothing of the VM outlives it.
	 */
	return vm->exit_status;
}
