// SPDX-License-Identifier: Apache-2.0
/* The pure-data VM configuration: validation and the kernel command line. */
#include <stdlib.h>
#include <sys/resource.h>

#include "libkrun.h"
#include "test.h"
#include "vmm/config.h"

static void test_shape(void)
{
	struct vm_config cfg;

	vm_config_init(&cfg);
	CHECK_EQ(cfg.vcpus, VM_DEFAULT_VCPUS);
	CHECK_EQ(cfg.ram_mib, VM_DEFAULT_RAM_MIB);
	CHECK_EQ(vm_config_set_shape(&cfg, 4, 1024), 0);
	CHECK_EQ(cfg.vcpus, 4);
	CHECK_EQ(cfg.ram_mib, 1024);
	CHECK_EQ(vm_config_set_shape(&cfg, 0, 1024), -EINVAL);
	CHECK_EQ(vm_config_set_shape(&cfg, VM_MAX_VCPUS + 1, 1024), -EINVAL);
	CHECK_EQ(vm_config_set_shape(&cfg, 1, 1), -EINVAL);
	CHECK_EQ(vm_config_set_shape(&cfg, 1, VM_MAX_RAM_MIB + 1), -EINVAL);
	CHECK_EQ(cfg.vcpus, 4); /* failed calls change nothing */
	vm_config_release(&cfg);
}

static void test_kernel(void)
{
	struct vm_config cfg;
	char *longline = malloc(VM_MAX_CMDLINE + 2);

	vm_config_init(&cfg);
	CHECK_EQ(
	    vm_config_set_kernel(&cfg, "/nonexistent/vmlinux", KRUN_KERNEL_FORMAT_ELF, NULL, NULL),
	    -ENOENT);
	CHECK_EQ(vm_config_set_kernel(&cfg, "/proc/self/exe", 99, NULL, NULL), -EINVAL);
	CHECK_EQ(vm_config_set_kernel(&cfg, "/proc/self/exe", KRUN_KERNEL_FORMAT_IMAGE_ZSTD + 1,
				      NULL, NULL),
		 -EINVAL);
	CHECK_EQ(vm_config_set_kernel(&cfg, "/tmp", KRUN_KERNEL_FORMAT_ELF, NULL, NULL), -EINVAL);
	CHECK_EQ(vm_config_set_kernel(&cfg, "/proc/self/exe", KRUN_KERNEL_FORMAT_ELF,
				      "/nonexistent/initrd", NULL),
		 -ENOENT);
	memset(longline, 'x', VM_MAX_CMDLINE + 1);
	longline[VM_MAX_CMDLINE + 1] = 0;
	CHECK_EQ(
	    vm_config_set_kernel(&cfg, "/proc/self/exe", KRUN_KERNEL_FORMAT_ELF, NULL, longline),
	    -E2BIG);
	CHECK_EQ(cfg.kernel_source, KERNEL_BUNDLED);

	CHECK_EQ(vm_config_set_kernel(&cfg, "/proc/self/exe", KRUN_KERNEL_FORMAT_RAW,
				      "/proc/self/exe", "loglevel=8"),
		 0);
	CHECK_EQ(cfg.kernel_source, KERNEL_FILE);
	CHECK(!strcmp(cfg.kernel_path, "/proc/self/exe"));
	CHECK(!strcmp(cfg.extra_cmdline, "loglevel=8"));

	/* NULL kernel: keep the bundled one, take initramfs and cmdline. */
	CHECK_EQ(vm_config_set_kernel(&cfg, NULL, 0, "/proc/self/exe", NULL), 0);
	CHECK_EQ(cfg.kernel_source, KERNEL_BUNDLED);
	CHECK(cfg.kernel_path == NULL);
	CHECK(cfg.initramfs_path != NULL);
	vm_config_release(&cfg);
	free(longline);
}

static void test_cmdline(void)
{
	struct vm_config cfg;
	char buf[VM_MAX_CMDLINE + 1];
	int n;

	vm_config_init(&cfg);
	n = vm_config_cmdline(&cfg, NULL, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(strstr(buf, "console=ttyS0") != NULL);
	CHECK(strstr(buf, "reboot=k") != NULL);
	CHECK(strstr(buf, "panic=-1") != NULL);

	CHECK_EQ(vm_config_set_kernel_console(&cfg, "hvc0"), 0);
	CHECK_EQ(vm_config_set_kernel_console(&cfg, "a b"), -EINVAL);
	cfg.extra_cmdline = strdup("init=/bin/sh foo=bar");
	n = vm_config_cmdline(&cfg, NULL, buf, sizeof(buf));
	CHECK(strstr(buf, "console=hvc0") != NULL);
	/* The user's part comes last, so it overrides ours. */
	CHECK(n > 20 && !strcmp(buf + n - 20, "init=/bin/sh foo=bar"));

	/* The whole line must fit the kernel's limit. */
	free(cfg.extra_cmdline);
	cfg.extra_cmdline = malloc(VM_MAX_CMDLINE);
	memset(cfg.extra_cmdline, 'y', VM_MAX_CMDLINE - 1);
	cfg.extra_cmdline[VM_MAX_CMDLINE - 1] = 0;
	CHECK_EQ(vm_config_cmdline(&cfg, NULL, buf, sizeof(buf)), -E2BIG);
	vm_config_release(&cfg);
}

static void test_rlimits(void)
{
	const char *good[] = {"RLIMIT_NOFILE=1024:4096", "nproc=10:unlimited", "7=1:2", NULL};
	const char *bad1[] = {"RLIMIT_NOFILE=4096:1024", NULL}; /* cur > max */
	const char *bad2[] = {"RLIMIT_BOGUS=1:2", NULL};
	const char *bad3[] = {"RLIMIT_NOFILE=1", NULL};
	const char *bad4[] = {"=1:2", NULL};
	struct vm_config cfg;
	uint64_t cur, max;
	int res;

	CHECK_EQ(config_parse_rlimit("RLIMIT_NOFILE=1024:4096", &res, &cur, &max), 0);
	CHECK_EQ(res, RLIMIT_NOFILE);
	CHECK_EQ(cur, 1024);
	CHECK_EQ(max, 4096);
	CHECK_EQ(config_parse_rlimit("NPROC=10:unlimited", &res, &cur, &max), 0);
	CHECK_EQ(res, RLIMIT_NPROC);
	CHECK(max == UINT64_MAX);
	CHECK(config_parse_rlimit("RLIMIT_NOFILE=1:2x", &res, &cur, &max) < 0);
	CHECK(config_parse_rlimit("99=1:2", &res, &cur, &max) < 0);
	CHECK(config_parse_rlimit("RLIMIT_NOFILE=-5:2", &res, &cur, &max) < 0);

	vm_config_init(&cfg);
	CHECK_EQ(vm_config_set_rlimits(&cfg, good), 0);
	CHECK(cfg.rlimits && !strcmp(cfg.rlimits[2], "7=1:2") && !cfg.rlimits[3]);
	CHECK_EQ(vm_config_set_rlimits(&cfg, bad1), -EINVAL);
	CHECK_EQ(vm_config_set_rlimits(&cfg, bad2), -EINVAL);
	CHECK_EQ(vm_config_set_rlimits(&cfg, bad3), -EINVAL);
	CHECK_EQ(vm_config_set_rlimits(&cfg, bad4), -EINVAL);
	CHECK_EQ(vm_config_set_rlimits(&cfg, NULL), -EINVAL);
	CHECK(!strcmp(cfg.rlimits[0], "RLIMIT_NOFILE=1024:4096")); /* unchanged */
	vm_config_release(&cfg);
}

static void test_exec_env(void)
{
	const char *argv[] = {"-c", "echo hi", NULL};
	const char *envp[] = {"A=1", "PATH=/bin", NULL};
	const char *bad_env[] = {"NOEQUALS", NULL};
	struct vm_config cfg;

	vm_config_init(&cfg);
	CHECK_EQ(vm_config_set_exec(&cfg, "/bin/sh", argv, envp), 0);
	CHECK(!strcmp(cfg.exec_path, "/bin/sh"));
	CHECK(!strcmp(cfg.argv[1], "echo hi") && !cfg.argv[2]);
	CHECK(!strcmp(cfg.envp[1], "PATH=/bin") && !cfg.envp[2]);
	CHECK_EQ(vm_config_set_exec(&cfg, NULL, argv, envp), -EINVAL);
	CHECK_EQ(vm_config_set_exec(&cfg, "", argv, envp), -EINVAL);
	CHECK_EQ(vm_config_set_env(&cfg, bad_env), -EINVAL);
	/* NULL environment: the caller's own. */
	setenv("KRUN_TEST_MARKER", "42", 1);
	CHECK_EQ(vm_config_set_env(&cfg, NULL), 0);
	bool found = false;
	for (char **e = cfg.envp; *e; e++)
		found |= !strcmp(*e, "KRUN_TEST_MARKER=42");
	CHECK(found);
	CHECK_EQ(vm_config_set_workdir(&cfg, ""), -EINVAL);
	CHECK_EQ(vm_config_set_workdir(&cfg, "/tmp"), 0);
	CHECK_EQ(vm_config_set_root(&cfg, "/nonexistent-root"), -ENOENT);
	CHECK_EQ(vm_config_set_root(&cfg, "/proc/self/exe"), -ENOTDIR);
	CHECK_EQ(vm_config_set_root(&cfg, "/"), 0);
	vm_config_release(&cfg);
}

/* krun_add_virtiofs2/3 with the tag "/dev/root" is krun_set_root (newer crun's way). */
static void test_root_share(void)
{
	struct vm_config a, b;
	char la[VM_MAX_CMDLINE + 1], lb[VM_MAX_CMDLINE + 1];

	vm_config_init(&a);
	vm_config_init(&b);
	CHECK_EQ(vm_config_set_root(&a, "/tmp"), 0);
	CHECK_EQ(vm_config_add_share(&b, KRUN_FS_ROOT_TAG, "/tmp", false), 0);
	CHECK(b.root_path && !strcmp(b.root_path, "/tmp"));
	CHECK_EQ(b.nshares, 0);
	CHECK_EQ(b.root_read_only, false);
	CHECK(vm_config_cmdline(&a, NULL, la, sizeof(la)) > 0);
	CHECK(vm_config_cmdline(&b, NULL, lb, sizeof(lb)) > 0);
	CHECK(!strcmp(la, lb));
	CHECK(strstr(lb, " root=" KRUN_FS_ROOT_TAG " ") && strstr(lb, " init=/init.krun"));
	CHECK(!strcmp(vm_config_console(&b), "hvc0"));

	/* krun_add_virtiofs3's read_only reaches the root; krun_set_root is read-write. */
	CHECK_EQ(vm_config_add_share(&b, KRUN_FS_ROOT_TAG, "/", true), 0);
	CHECK(!strcmp(b.root_path, "/") && b.root_read_only);
	CHECK_EQ(vm_config_set_root(&b, "/tmp"), 0);
	CHECK_EQ(b.root_read_only, false);
	CHECK_EQ(vm_config_add_share(&b, KRUN_FS_ROOT_TAG, "/nonexistent-root", false), -ENOENT);
	CHECK(!strcmp(b.root_path, "/tmp"));
	vm_config_release(&a);
	vm_config_release(&b);
}

static void test_strings(void)
{
	char *s = NULL;
	char *big = malloc(VM_MAX_PATH + 2);

	memset(big, 'p', VM_MAX_PATH + 1);
	big[VM_MAX_PATH + 1] = 0;
	CHECK_EQ(config_dup_string(&s, big, VM_MAX_PATH), -ENAMETOOLONG);
	CHECK(s == NULL);
	big[VM_MAX_PATH] = 0;
	CHECK_EQ(config_dup_string(&s, big, VM_MAX_PATH), 0);
	CHECK(s && strlen(s) == VM_MAX_PATH);
	free(s);
	free(big);
}

TEST_MAIN("config", test_shape(); test_kernel(); test_cmdline(); test_rlimits(); test_exec_env();
	  test_root_share(); test_strings())
