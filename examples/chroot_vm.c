// SPDX-License-Identifier: Apache-2.0
/*
 * chroot_vm: like chroot(8), but the command runs in its own microVM.
 *
 *   chroot_vm NEWROOT COMMAND [ARGS...]
 *
 * The directory is the guest's root filesystem (shared through virtio-fs);
 * the process exits with the command's exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libkrun.h>

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "chroot_vm: %s: %s\n", what, strerror(-ret));
		exit(125);
	}
}

int main(int argc, char *argv[])
{
	const char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL};
	int ctx;

	if (argc < 3) {
		fprintf(stderr, "usage: %s NEWROOT COMMAND [ARGS...]\n", argv[0]);
		return 2;
	}
	check(krun_set_log_level(KRUN_LOG_LEVEL_WARN), "krun_set_log_level");
	ctx = krun_create_ctx();
	check(ctx, "krun_create_ctx");

	check(krun_set_vm_config(ctx, 2, 512), "krun_set_vm_config");
	check(krun_set_root(ctx, argv[1]), "krun_set_root");
	check(krun_set_workdir(ctx, "/"), "krun_set_workdir");
	check(krun_set_exec(ctx, argv[2], (const char *const *)&argv[3], envp), "krun_set_exec");

	/* Only returns if the VM could not start. */
	check(krun_start_enter(ctx), "krun_start_enter");
	return 125;
}
