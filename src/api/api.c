// SPDX-License-Identifier: Apache-2.0
/*
 * C entry points: argument checks, then the pure-data configuration
 * (vmm/config.c) or the VM builder (vmm/vm.c). Nothing here knows KVM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "vmm/guest_config.h"
#include "vmm/krunfw.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

KRUN_EXPORT int32_t krun_set_log_level(uint32_t level)
{
	int ret = log_set_level(level);

	if (ret < 0)
		fprintf(stderr, "[krun error] krun_set_log_level: level %u out of range 0..5\n",
			level);
	return ret;
}

KRUN_EXPORT int32_t krun_init_log(int target_fd, uint32_t level, uint32_t style, uint32_t options)
{
	int ret;

	if (options & ~(uint32_t)KRUN_LOG_OPTION_NO_ENV)
		return -EINVAL;
	ret = log_configure(target_fd, level, style, !(options & KRUN_LOG_OPTION_NO_ENV));
	if (ret < 0)
		fprintf(stderr, "[krun error] krun_init_log: bad fd, level or style\n");
	return ret;
}

KRUN_EXPORT int32_t krun_create_ctx(void)
{
	/* Normally loaded with the library already; at the latest here (upstream's place). */
	krunfw_preload();
	return ctx_create();
}

KRUN_EXPORT int32_t krun_free_ctx(uint32_t ctx_id)
{
	return ctx_free(ctx_id);
}

KRUN_EXPORT int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_shape(cfg, num_vcpus, ram_mib));
}

KRUN_EXPORT int32_t krun_set_kernel(uint32_t ctx_id, const char *kernel_path,
				    uint32_t kernel_format, const char *initramfs,
				    const char *cmdline)
{
	return WITH_CONFIG(
	    ctx_id, cfg, vm_config_set_kernel(cfg, kernel_path, kernel_format, initramfs, cmdline));
}

KRUN_EXPORT int32_t krun_set_kernel_console(uint32_t ctx_id, const char *console_id)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_kernel_console(cfg, console_id));
}

KRUN_EXPORT int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_console_output(cfg, c_filepath));
}

KRUN_EXPORT int32_t krun_set_root(uint32_t ctx_id, const char *root_path)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_root(cfg, root_path));
}

KRUN_EXPORT int32_t krun_add_virtiofs(uint32_t ctx_id, const char *c_tag, const char *c_path)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_share(cfg, c_tag, c_path, false));
}

KRUN_EXPORT int32_t krun_add_virtiofs2(uint32_t ctx_id, const char *c_tag, const char *c_path,
				       uint64_t shm_size)
{
	/* No DAX window: the guest uses the regular FUSE read/write path. */
	(void)shm_size;
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_share(cfg, c_tag, c_path, false));
}

KRUN_EXPORT int32_t krun_set_share_mode(uint32_t ctx_id, const char *c_tag, uint32_t mode)
{
	int ret = WITH_CONFIG(ctx_id, cfg, vm_config_set_share_mode(cfg, c_tag, mode));

	if (ret == -EINVAL)
		pr_err("krun_set_share_mode: mode %u is neither COMPAT (0) nor STRICT (1)", mode);
	return ret;
}

KRUN_EXPORT int32_t krun_add_virtiofs3(uint32_t ctx_id, const char *c_tag, const char *c_path,
				       uint64_t shm_size, bool read_only)
{
	(void)shm_size;
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_share(cfg, c_tag, c_path, read_only));
}

/*
 * Retired upstream (it was macOS-only); here it works on Linux too: each
 * "HOST:GUEST[:ro]" becomes a virtio-fs share that init mounts at GUEST.
 */
KRUN_EXPORT int32_t krun_set_mapped_volumes(uint32_t ctx_id, const char *const mapped_volumes[])
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_mapped_volumes(cfg, mapped_volumes));
}

KRUN_EXPORT int32_t krun_get_default_init(const uint8_t **data_out, size_t *len_out)
{
	if (!data_out || !len_out) {
		pr_err("krun_get_default_init: NULL output pointer");
		return -EINVAL;
	}
	*data_out = krun_init_blob;
	*len_out = krun_init_blob_size;
	return 0;
}

KRUN_EXPORT int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char *const argv[],
				  const char *const envp[])
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_exec(cfg, exec_path, argv, envp));
}

KRUN_EXPORT int32_t krun_set_env(uint32_t ctx_id, const char *const envp[])
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_env(cfg, envp));
}

KRUN_EXPORT int32_t krun_set_workdir(uint32_t ctx_id, const char *workdir_path)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_workdir(cfg, workdir_path));
}

KRUN_EXPORT int32_t krun_set_rlimits(uint32_t ctx_id, const char *const rlimits[])
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_rlimits(cfg, rlimits));
}

static int set_ids(struct vm_config *cfg, const uid_t *uid, const gid_t *gid)
{
	if (uid) {
		cfg->uid = *uid;
		cfg->has_uid = true;
	}
	if (gid) {
		cfg->gid = *gid;
		cfg->has_gid = true;
	}
	return 0;
}

KRUN_EXPORT int32_t krun_setuid(uint32_t ctx_id, uid_t uid)
{
	if (uid == (uid_t)-1)
		return -EINVAL;
	return WITH_CONFIG(ctx_id, cfg, set_ids(cfg, &uid, NULL));
}

KRUN_EXPORT int32_t krun_setgid(uint32_t ctx_id, gid_t gid)
{
	if (gid == (gid_t)-1)
		return -EINVAL;
	return WITH_CONFIG(ctx_id, cfg, set_ids(cfg, NULL, &gid));
}

KRUN_EXPORT int32_t krun_set_nested_virt(uint32_t ctx_id, bool enabled)
{
	return WITH_CONFIG(ctx_id, cfg, (cfg->nested_virt = enabled, 0));
}

/* The IOAPIC in the VMM, the local APICs in KVM (arch/x86_64/irqchip.c). */
KRUN_EXPORT int32_t krun_split_irqchip(uint32_t ctx_id, bool enable)
{
	return WITH_CONFIG(ctx_id, cfg, (cfg->split_irqchip = enable, 0));
}

KRUN_EXPORT int32_t krun_check_nested_virt(void)
{
	return kvm_nested_supported();
}

KRUN_EXPORT int32_t krun_get_max_vcpus(void)
{
	int n = kvm_max_vcpus();

	return n < 0 ? n : MIN(n, VM_MAX_VCPUS);
}

KRUN_EXPORT int32_t krun_has_feature(uint64_t feature)
{
	switch (feature) {
	case KRUN_FEATURE_BLK:
	case KRUN_FEATURE_GPU:
	case KRUN_FEATURE_INPUT:
	case KRUN_FEATURE_TEE:
	case KRUN_FEATURE_AMD_SEV:
	case KRUN_FEATURE_INTEL_TDX:
	case KRUN_FEATURE_AWS_NITRO:
	case KRUN_FEATURE_VIRGL_RESOURCE_MAP2:
		return 0; /* not built in yet */
	case KRUN_FEATURE_NET:
	case KRUN_FEATURE_INIT_BLOB:
		return 1;
	default:
		return -EINVAL;
	}
}

/* What this build cannot run yet; krun_start_enter() refuses it by name. */
static int check_supported(const struct vm_config *cfg)
{
	char pending[256];

	if (cfg->nested_virt && kvm_nested_supported() != 1) {
		pr_err("krun_start_enter: nested virtualization was asked for, but this host's KVM "
		       "does not offer it (krun_check_nested_virt() says no)");
		return -ENOTSUP;
	}
	if (vm_config_pending_devices(cfg, pending, sizeof(pending)) > 0) {
		pr_err("krun_start_enter: this build cannot run the configured %s yet", pending);
		return -ENOTSUP;
	}
	if (cfg->kernel_source == KERNEL_BUNDLED && !cfg->initramfs_path && !cfg->root_path) {
		pr_err("krun_start_enter: nothing to run: set a root (krun_set_root) or a kernel "
		       "with an initramfs (krun_set_kernel)");
		return -EINVAL;
	}
	return 0;
}

KRUN_EXPORT int32_t krun_start_enter(uint32_t ctx_id)
{
	struct vm_config cfg;
	int ret;

	if (ctx_take(ctx_id, &cfg) < 0) {
		pr_err("krun_start_enter: no context %u", ctx_id);
		return -EINVAL;
	}
	ret = vm_config_validate(&cfg);
	if (!ret)
		ret = vm_config_scratch_root(&cfg);
	if (!ret)
		ret = check_supported(&cfg);
	/*
	 * A workload under our init always gets the shutdown channel, so that
	 * SIGTERM to this process (an OCI runtime stopping its container)
	 * reaches the workload (vmm/shutdown.c).
	 */
	if (!ret && cfg.root_path && !cfg.no_implicit_init)
		ret = MIN(vm_config_shutdown_eventfd(&cfg), 0);
	if (!ret)
		ret = vm_run(&cfg);
	if (ret < 0) {
		vm_config_release(&cfg);
		return ret;
	}
	/* The guest is over; its devices may still be referenced by vCPU threads. */
	fflush(NULL);
	exit(ret);
}

KRUN_EXPORT int32_t krun_set_smbios_oem_strings(uint32_t ctx_id, const char *const oem_strings[])
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_oem_strings(cfg, oem_strings));
}
