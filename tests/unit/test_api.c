// SPDX-License-Identifier: Apache-2.0
/*
 * The public API with bad arguments: every call returns a negative errno and
 * nothing crashes (this also runs under ASan/UBSan). Context lifecycle and
 * thread safety.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "libkrun.h"
#include "test.h"

#define BAD_CTX 0x7ffffff0u

static uint8_t mac[6];
static const char *const empty_list[] = {NULL};
static const char *const oem_with_empty[] = {"ok", "", NULL};
static const char *const oem_ok[] = {"a b", "c", NULL};

/* Every function taking a context, called on one that does not exist. */
static void test_unknown_context(void)
{
	const uint32_t c = BAD_CTX;
	int32_t r[] = {
	    krun_free_ctx(c),
	    krun_set_vm_config(c, 1, 512),
	    krun_set_root(c, "/"),
	    krun_set_root_disk(c, "/dev/null"),
	    krun_set_data_disk(c, "/dev/null"),
	    krun_add_disk(c, "d", "/dev/null", false),
	    krun_add_disk2(c, "d", "/dev/null", 0, false),
	    krun_add_disk3(c, "d", "/dev/null", 0, false, false, 0),
	    krun_set_mapped_volumes(c, empty_list),
	    krun_add_virtiofs(c, "t", "/"),
	    krun_add_virtiofs2(c, "t", "/", 0),
	    krun_add_virtiofs3(c, "t", "/", 0, false),
	    krun_add_net_unixstream(c, "/s", -1, mac, 0, 0),
	    krun_add_net_unixgram(c, "/s", -1, mac, 0, 0),
	    krun_add_net_tap(c, (char *)"tap0", mac, 0, 0),
	    krun_set_passt_fd(c, 3),
	    krun_set_gvproxy_path(c, (char *)"/s"),
	    krun_set_net_mac(c, mac),
	    krun_set_port_map(c, empty_list),
	    krun_set_gpu_options(c, 0),
	    krun_set_gpu_options2(c, 0, 0),
	    krun_add_display(c, 640, 480),
	    krun_display_set_edid(c, 0, mac, 6),
	    krun_display_set_dpi(c, 0, 96),
	    krun_display_set_physical_size(c, 0, 10, 10),
	    krun_display_set_refresh_rate(c, 0, 60),
	    krun_set_display_backend(c, mac, 6),
	    krun_add_input_device(c, mac, 6, mac, 6),
	    krun_add_input_device_fd(c, 0),
	    krun_add_vhost_user_device(c, KRUN_VIRTIO_DEVICE_RNG, "/s", NULL, 0, NULL),
	    krun_set_rlimits(c, empty_list),
	    krun_set_smbios_oem_strings(c, empty_list),
	    krun_set_share_mode(c, NULL, KRUN_SHARE_MODE_STRICT),
	    krun_set_workdir(c, "/"),
	    krun_set_exec(c, "/bin/sh", empty_list, empty_list),
	    krun_set_firmware(c, "/fw"),
	    krun_set_kernel(c, "/proc/self/exe", KRUN_KERNEL_FORMAT_ELF, NULL, NULL),
	    krun_set_env(c, empty_list),
	    krun_set_tee_config_file(c, "/tee"),
	    krun_add_vsock_port(c, 1, "/s"),
	    krun_add_vsock_port2(c, 1, "/s", true),
	    krun_add_vsock(c, 0),
	    krun_get_shutdown_eventfd(c),
	    krun_set_console_output(c, "/tmp/x"),
	    krun_setuid(c, 1000),
	    krun_setgid(c, 1000),
	    krun_set_nested_virt(c, true),
	    krun_split_irqchip(c, false),
	    krun_disable_implicit_console(c),
	    krun_disable_implicit_init(c),
	    krun_fs_add_overlay_file(c, "/dev/root", "f", mac, 6, 0100644, false),
	    krun_fs_add_overlay_dir(c, "/dev/root", "d", 040755),
	    krun_disable_implicit_vsock(c),
	    krun_set_kernel_console(c, "ttyS0"),
	    krun_add_virtio_console_default(c, 0, 1, 2),
	    krun_add_serial_console_default(c, 0, 1),
	    krun_add_virtio_console_multiport(c),
	    krun_add_console_port_tty(c, 0, "", 0),
	    krun_add_console_port_inout(c, 0, "p", 0, 1),
	    krun_set_root_disk_remount(c, "/dev/vda", NULL, NULL),
	    krun_start_enter(c),
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		if (r[i] != -EINVAL)
			fprintf(stderr, "call #%zu on an unknown context returned %d\n", i, r[i]);
		CHECK_EQ(r[i], -EINVAL);
	}
}

/* Bad arguments on a live context. */
static void test_bad_arguments(void)
{
	const char *const bad_port_map[] = {"8080:80", "80", NULL};
	int ctx = krun_create_ctx();
	uint32_t c = (uint32_t)ctx;
	const uint8_t *data;
	size_t len;

	CHECK(ctx >= 0);
	CHECK_EQ(krun_set_vm_config(c, 0, 512), -EINVAL);
	CHECK_EQ(krun_set_vm_config(c, 1, 0), -EINVAL);
	CHECK_EQ(krun_set_root(c, NULL), -EINVAL);
	CHECK_EQ(krun_set_root(c, "/nonexistent/dir"), -ENOENT);
	CHECK_EQ(krun_set_kernel(c, "/nonexistent", KRUN_KERNEL_FORMAT_ELF, NULL, NULL), -ENOENT);
	CHECK_EQ(krun_set_kernel(c, "/proc/self/exe", 1000, NULL, NULL), -EINVAL);
	CHECK_EQ(krun_set_exec(c, NULL, NULL, NULL), -EINVAL);
	CHECK_EQ(krun_set_workdir(c, NULL), -EINVAL);
	CHECK_EQ(krun_set_rlimits(c, NULL), -EINVAL);
	CHECK_EQ(krun_set_smbios_oem_strings(c, NULL), -EINVAL);
	CHECK_EQ(krun_set_smbios_oem_strings(c, oem_with_empty), -EINVAL);
	CHECK_EQ(krun_set_smbios_oem_strings(c, oem_ok), 0);
	CHECK_EQ(krun_set_smbios_oem_strings(c, empty_list), 0);
	CHECK_EQ(krun_set_kernel_console(c, NULL), -EINVAL);
	CHECK_EQ(krun_set_console_output(c, NULL), -EINVAL);
	CHECK_EQ(krun_setuid(c, (uid_t)-1), -EINVAL);
	CHECK_EQ(krun_add_disk2(c, "d", "/dev/null", 77, false), -EINVAL);
	CHECK_EQ(krun_add_disk(c, NULL, "/dev/null", false), -EINVAL);
	CHECK_EQ(krun_add_net_unixstream(c, "/s", 3, mac, 0, 0), -EINVAL); /* both path and fd */
	CHECK_EQ(krun_add_vsock(c, 0x80), -EINVAL);
	CHECK_EQ(krun_display_set_dpi(c, KRUN_MAX_DISPLAYS, 96), -EINVAL);
	CHECK_EQ(krun_get_default_init(NULL, &len), -EINVAL);
	CHECK_EQ(krun_get_default_init(&data, NULL), -EINVAL);
	CHECK_EQ(krun_set_log_level(6), -EINVAL);
	CHECK_EQ(krun_init_log(-5, 1, 0, 0), -EINVAL);
	CHECK_EQ(krun_init_log(-1, 9, 0, 0), -EINVAL);
	CHECK_EQ(krun_init_log(-1, 1, 7, 0), -EINVAL);
	CHECK_EQ(krun_init_log(-1, 1, 0, 0x10), -EINVAL);
	CHECK_EQ(krun_has_feature(12345), -EINVAL);
	CHECK_EQ(krun_has_feature(KRUN_FEATURE_NET), 1);

	/* Consoles and overlays. */
	int null_fd = open("/dev/null", O_RDWR);

	CHECK(null_fd >= 0);
	CHECK_EQ(krun_add_console_port_inout(c, 0, "p", -1, -1), -EINVAL); /* no console 0 */
	CHECK_EQ(krun_add_serial_console_default(c, -1, 1), 0);
	CHECK_EQ(krun_add_serial_console_default(c, -1, 1), -ENOSPC); /* COM1 is implicit */
	CHECK_EQ(krun_add_virtio_console_default(c, 0, 1, 12345), -EBADF);
	CHECK_EQ(krun_add_virtio_console_multiport(c), 1);
	CHECK_EQ(krun_add_console_port_inout(c, 0, "p", -1, -1), -EINVAL); /* 0 is serial */
	CHECK_EQ(krun_add_console_port_inout(c, 1, "p", null_fd, null_fd), 0);
	CHECK_EQ(krun_add_console_port_inout(c, 1, "p", null_fd, -1), -EINVAL); /* name taken */
	CHECK_EQ(krun_add_console_port_inout(c, 1, "a-name-longer-than-31-bytes-....", 0, 1),
		 -EINVAL);
	CHECK_EQ(krun_add_console_port_tty(c, 1, "t", null_fd), -ENOTTY);
	CHECK_EQ(krun_fs_add_overlay_dir(c, KRUN_FS_ROOT_TAG, "../up", 0755), -EINVAL);
	CHECK_EQ(krun_fs_add_overlay_dir(c, KRUN_FS_ROOT_TAG, "a//b", 0755), -EINVAL);
	CHECK_EQ(krun_fs_add_overlay_dir(c, KRUN_FS_ROOT_TAG, "", 0755), -EINVAL);
	CHECK_EQ(krun_fs_add_overlay_dir(c, KRUN_FS_ROOT_TAG, "d", 0100755), -EINVAL);
	CHECK_EQ(krun_fs_add_overlay_file(c, KRUN_FS_ROOT_TAG, "d/", mac, 6, 0644, false), -EINVAL);
	CHECK_EQ(krun_fs_add_overlay_file(c, KRUN_FS_ROOT_TAG, "f", NULL, 6, 0644, false), -EINVAL);
	CHECK_EQ(krun_fs_add_overlay_dir(c, KRUN_FS_ROOT_TAG, "/d", 040755), 0);
	CHECK(krun_get_shutdown_eventfd(c) >= 0);
	CHECK_EQ(krun_get_shutdown_eventfd(c), krun_get_shutdown_eventfd(c));

	/* Devices of later versions: recorded, then refused by name at start. */
	CHECK_EQ(krun_add_disk(c, "d", "/dev/null", false), 0);
	CHECK_EQ(krun_add_disk(c, "d", "/dev/null", false), -EEXIST);
	CHECK_EQ(krun_add_vsock_port(c, 1, "/s"), 0);
	CHECK_EQ(krun_set_port_map(c, bad_port_map), -EINVAL);
	CHECK_EQ(krun_display_set_dpi(c, 0, 96), -EINVAL); /* no display 0 yet */
	CHECK_EQ(krun_add_display(c, 800, 600), 0);
	CHECK_EQ(krun_display_set_dpi(c, 0, 96), 0);
	CHECK_EQ(krun_set_root(c, "/"), 0);
	CHECK_EQ(krun_start_enter(c), -ENOTSUP);
	/* krun_start_enter consumed the context. */
	CHECK_EQ(krun_free_ctx(c), -EINVAL);

	/* A context with nothing to run is refused before any VM exists. */
	c = (uint32_t)krun_create_ctx();
	CHECK_EQ(krun_start_enter(c), -EINVAL);
	/* A split irqchip is a choice recorded for start (booted in api-tests.sh). */
	c = (uint32_t)krun_create_ctx();
	CHECK_EQ(krun_split_irqchip(c, true), 0);
	CHECK_EQ(krun_split_irqchip(c, false), 0);
	CHECK_EQ(krun_free_ctx(c), 0);
	CHECK_EQ(krun_split_irqchip(c, true), -EINVAL);
	krun_set_log_level(KRUN_LOG_LEVEL_OFF);
}

/* vsock settings: checked at the call; a port needs a device at start. */
static void test_vsock_config(void)
{
	char long_path[200];
	uint32_t c = (uint32_t)krun_create_ctx();

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = 0;
	CHECK_EQ(krun_add_vsock_port2(c, 5, "/", true), -EEXIST); /* the VMM creates it */
	CHECK_EQ(krun_add_vsock_port2(c, 5, long_path, false), -ENAMETOOLONG);
	CHECK_EQ(krun_add_vsock_port2(c, 5, NULL, false), -EINVAL);
	CHECK_EQ(krun_add_vsock_port(c, 5, "/tmp/krun-test-no-such.sock"), 0);
	CHECK_EQ(krun_add_vsock_port2(c, 5, "/tmp/krun-test-other.sock", true), -EEXIST);
	CHECK_EQ(krun_add_vsock(c, KRUN_TSI_HIJACK_INET), 0);
	CHECK_EQ(krun_add_vsock(c, 0), -EEXIST);
	CHECK_EQ(krun_free_ctx(c), 0);

	c = (uint32_t)krun_create_ctx();
	CHECK_EQ(krun_add_vsock_port(c, 5, "/tmp/krun-test-no-such.sock"), 0);
	CHECK_EQ(krun_disable_implicit_vsock(c), 0);
	CHECK_EQ(krun_set_root(c, "/"), 0);
	CHECK_EQ(krun_start_enter(c), -EINVAL); /* a mapped port, no vsock device */
}

/* krun_set_share_mode(): per tag, or the root and every share with NULL. */
static void test_share_mode(void)
{
	int ctx = krun_create_ctx();
	uint32_t c = (uint32_t)ctx;

	CHECK(ctx >= 0);
	CHECK_EQ(krun_set_share_mode(c, KRUN_FS_ROOT_TAG, KRUN_SHARE_MODE_STRICT), -ENOENT);
	CHECK_EQ(krun_set_root(c, "/"), 0);
	CHECK_EQ(krun_add_virtiofs(c, "data", "/tmp"), 0);
	CHECK_EQ(krun_set_share_mode(c, "data", KRUN_SHARE_MODE_STRICT), 0);
	CHECK_EQ(krun_set_share_mode(c, KRUN_FS_ROOT_TAG, KRUN_SHARE_MODE_COMPAT), 0);
	CHECK_EQ(krun_set_share_mode(c, NULL, KRUN_SHARE_MODE_STRICT), 0);
	CHECK_EQ(krun_set_share_mode(c, "nope", KRUN_SHARE_MODE_STRICT), -ENOENT);
	CHECK_EQ(krun_set_share_mode(c, "data", 2), -EINVAL);
	CHECK_EQ(krun_set_share_mode(c, NULL, 0xffffffffu), -EINVAL);
	CHECK_EQ(krun_free_ctx(c), 0);
}

static void test_lifecycle(void)
{
	int ids[100];

	for (int i = 0; i < 100; i++) {
		ids[i] = krun_create_ctx();
		CHECK(ids[i] >= 0);
		for (int j = 0; j < i; j++)
			if (ids[j] == ids[i])
				CHECK(!"id handed out twice");
	}
	for (int i = 0; i < 100; i += 2)
		CHECK_EQ(krun_free_ctx((uint32_t)ids[i]), 0);
	/* New ids never collide with live ones. */
	for (int k = 0; k < 50; k++) {
		int id = krun_create_ctx();

		for (int j = 1; j < 100; j += 2)
			if (id == ids[j])
				CHECK(!"live id reused");
		CHECK_EQ(krun_free_ctx((uint32_t)id), 0);
	}
	for (int i = 1; i < 100; i += 2)
		CHECK_EQ(krun_free_ctx((uint32_t)ids[i]), 0);
	CHECK_EQ(krun_free_ctx((uint32_t)ids[1]), -EINVAL); /* double free */
}

static void *hammer(void *arg)
{
	long failures = 0;

	(void)arg;
	for (int i = 0; i < 2000; i++) {
		int id = krun_create_ctx();

		if (id < 0 || krun_set_vm_config((uint32_t)id, 2, 256) != 0 ||
		    krun_set_workdir((uint32_t)id, "/tmp") != 0 || krun_free_ctx((uint32_t)id) != 0)
			failures++;
	}
	return (void *)failures;
}

static void test_threads(void)
{
	pthread_t t[4];
	void *ret;
	long failures = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &ret);
		failures += (long)ret;
	}
	CHECK_EQ(failures, 0);
}

TEST_MAIN("api", krun_set_log_level(KRUN_LOG_LEVEL_OFF); test_unknown_context();
	  krun_set_log_level(KRUN_LOG_LEVEL_ERROR); test_bad_arguments(); test_vsock_config();
	  test_share_mode(); test_lifecycle(); test_threads())
