// SPDX-License-Identifier: Apache-2.0
/*
 * krun-oci-client ROOTFS: a libkrun client that behaves like newer crun's
 * krun handler (crun 1.2x), for the container tests:
 *   - libkrun.so.1 is dlopen()ed first, on the host (crun's handler load);
 *   - then the process enters ROOTFS (chroot: crun has pivoted or chrooted
 *     into the container by the time it creates the context), where no
 *     libkrunfw exists;
 *   - krun_create_ctx(), krun_set_vm_config(), krun_add_virtiofs2() with
 *     the tag "/dev/root" on "/" instead of krun_set_root(), and no
 *     krun_set_exec()/krun_set_workdir()/krun_set_env(): the whole
 *     workload comes from ROOTFS/.krun_config.json;
 *   - krun_start_enter().
 * Exit status: the workload's, or 1 with a message if a call fails.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int32_t (*fn_void)(void);
typedef int32_t (*fn_u32)(uint32_t);
typedef int32_t (*fn_vm_config)(uint32_t, uint8_t, uint32_t);
typedef int32_t (*fn_virtiofs2)(uint32_t, const char *, const char *, uint64_t);

static void *lib;

static void *sym(const char *name)
{
	void *p = dlsym(lib, name);

	if (!p) {
		fprintf(stderr, "krun-oci-client: %s not found in libkrun.so.1\n", name);
		exit(1);
	}
	return p;
}

static void check(int32_t ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "krun-oci-client: %s: %s\n", what, strerror((int)-ret));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	int32_t ctx;

	if (argc != 2) {
		fprintf(stderr, "usage: krun-oci-client ROOTFS\n");
		return 2;
	}
	lib = dlopen("libkrun.so.1", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "krun-oci-client: %s\n", dlerror());
		return 1;
	}
	if (chroot(argv[1]) < 0 || chdir("/") < 0) {
		perror("krun-oci-client: chroot");
		return 1;
	}
	((fn_u32)sym("krun_set_log_level"))(1);
	ctx = ((fn_void)sym("krun_create_ctx"))();
	check(ctx, "krun_create_ctx");
	check(((fn_vm_config)sym("krun_set_vm_config"))((uint32_t)ctx, 1, 256),
	      "krun_set_vm_config");
	check(((fn_virtiofs2)sym("krun_add_virtiofs2"))((uint32_t)ctx, "/dev/root", "/", 0),
	      "krun_add_virtiofs2");
	check(((fn_u32)sym("krun_start_enter"))((uint32_t)ctx), "krun_start_enter");
	return 1;
}
