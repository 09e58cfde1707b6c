// SPDX-License-Identifier: Apache-2.0
/*
 * krun-api-client: drives the public libkrun API from the command line, one
 * option per call, so that the integration tests (api-tests.sh) can reach
 * every function from a real client program:
 *
 *   krun-api-client [OPTIONS] ROOT COMMAND [ARGS...]
 *
 * File descriptor arguments (FD below): "-" is -1, "@N" is the inherited
 * fd N, anything else a path, opened for reading (inputs) or created and
 * truncated (outputs).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libkrun.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

static uint32_t ctx;
static int multiport = -1;

static void die(const char *what, int err)
{
	fprintf(stderr, "krun-api-client: %s: %s (%d)\n", what, strerror(-err), err);
	exit(99);
}

static void call(const char *what, int ret)
{
	if (ret < 0)
		die(what, ret);
}

static int open_fd(const char *spec, bool output)
{
	int fd;

	if (!strcmp(spec, "-"))
		return -1;
	if (spec[0] == '@')
		return atoi(spec + 1);
	fd = output ? open(spec, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open(spec, O_RDONLY);
	if (fd < 0)
		die(spec, -errno);
	return fd;
}

/* Splits "a:b:c" in place into at most n fields; returns how many. */
static int split(char *s, char **fields, int n)
{
	int i = 0;

	while (i < n) {
		fields[i++] = s;
		if (i == n)
			break;
		s = strchr(s, ':');
		if (!s)
			break;
		*s++ = '\0';
	}
	return i;
}

static void need_fields(char *arg, char **f, int n, const char *opt)
{
	if (split(arg, f, n) != n) {
		fprintf(stderr, "krun-api-client: %s needs %d ':'-separated fields\n", opt, n);
		exit(2);
	}
}

static const char *shutdown_trigger;

/* Writes the shutdown eventfd once the trigger file exists (the guest made it). */
static void *shutdown_when_triggered(void *arg)
{
	int efd = (int)(intptr_t)arg;
	uint64_t one = 1;

	while (access(shutdown_trigger, F_OK) != 0)
		usleep(20000);
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		perror("krun-api-client: shutdown eventfd");
	return NULL;
}

static void request_shutdown_when(const char *path)
{
	int efd = krun_get_shutdown_eventfd(ctx);
	pthread_t t;

	call("krun_get_shutdown_eventfd", efd);
	shutdown_trigger = path;
	pthread_create(&t, NULL, shutdown_when_triggered, (void *)(intptr_t)efd);
}

/*
 * A terminal port on a new pty. A child process plays the user at the
 * other end: it types "text" once the guest has written "ready", and copies
 * everything the guest writes to outfile until the VM is gone.
 */
static void relay_pty(int master, const char *outfile, const char *text)
{
	char buf[4096], seen[8192] = "";
	int out = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool typed = false;
	ssize_t n;

	while ((n = read(master, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			break;
		strncat(seen, buf, MIN((size_t)n, sizeof(seen) - strlen(seen) - 1));
		if (!typed && strstr(seen, "ready")) {
			typed = true;
			if (write(master, text, strlen(text)) < 0 || write(master, "\n", 1) < 0)
				break;
		}
	}
	close(out);
}

static void port_tty(char *arg)
{
	struct winsize ws = {.ws_row = 33, .ws_col = 101};
	int master, slave;
	char *f[3];

	need_fields(arg, f, 3, "--port-tty");
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master))
		die("posix_openpt", -errno);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (slave < 0 || ioctl(master, TIOCSWINSZ, &ws) < 0)
		die("pty", -errno);
	if (fork() == 0) {
		close(slave);
		relay_pty(master, f[1], f[2]);
		_exit(0);
	}
	close(master);
	call("krun_add_console_port_tty",
	     krun_add_console_port_tty(ctx, (uint32_t)multiport, f[0], slave));
}

static void overlay_file(char *arg, bool one_shot)
{
	char *f[3];

	need_fields(arg, f, 3, "--overlay-file");
	call("krun_fs_add_overlay_file",
	     krun_fs_add_overlay_file(ctx, KRUN_FS_ROOT_TAG, f[0], (const uint8_t *)f[2],
				      strlen(f[2]), (uint32_t)strtoul(f[1], NULL, 8), one_shot));
}

static void apply(int opt, char *arg)
{
	uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	char *f[4];

	switch (opt) {
	case 'c':
		call("krun_set_vm_config", krun_set_vm_config(ctx, (uint8_t)atoi(arg), 256));
		break;
	case 'C':
		call("krun_disable_implicit_console", krun_disable_implicit_console(ctx));
		break;
	case 'v':
		need_fields(arg, f, 3, "--virtio-console");
		call("krun_add_virtio_console_default",
		     krun_add_virtio_console_default(ctx, open_fd(f[0], false), open_fd(f[1], true),
						     open_fd(f[2], true)));
		break;
	case 's':
		need_fields(arg, f, 2, "--serial-console");
		call("krun_add_serial_console_default",
		     krun_add_serial_console_default(ctx, open_fd(f[0], false),
						     open_fd(f[1], true)));
		break;
	case 'm':
		multiport = krun_add_virtio_console_multiport(ctx);
		call("krun_add_virtio_console_multiport", multiport);
		break;
	case 'p':
		need_fields(arg, f, 3, "--port");
		call("krun_add_console_port_inout",
		     krun_add_console_port_inout(ctx, (uint32_t)multiport, f[0],
						 open_fd(f[1], false), open_fd(f[2], true)));
		break;
	case 't':
		port_tty(arg);
		break;
	case 'k':
		call("krun_set_kernel_console", krun_set_kernel_console(ctx, arg));
		break;
	case 'l':
		call("krun_set_kernel", krun_set_kernel(ctx, NULL, 0, NULL, arg));
		break;
	case 'K':
		call("krun_set_kernel",
		     krun_set_kernel(ctx, arg, KRUN_KERNEL_FORMAT_ELF, NULL, NULL));
		break;
	case 'f':
	case 'F':
		overlay_file(arg, opt == 'F');
		break;
	case 'd':
		need_fields(arg, f, 2, "--overlay-dir");
		call("krun_fs_add_overlay_dir",
		     krun_fs_add_overlay_dir(ctx, KRUN_FS_ROOT_TAG, f[0],
					     (uint32_t)strtoul(f[1], NULL, 8)));
		break;
	case 'I':
		call("krun_disable_implicit_init", krun_disable_implicit_init(ctx));
		break;
	case 'S':
		request_shutdown_when(arg);
		break;
	case 'D': { /* PATH, or ID=PATH */
		char *eq = strchr(arg, '=');

		if (eq)
			*eq = '\0';
		call("krun_add_disk",
		     krun_add_disk(ctx, eq ? arg : "data", eq ? eq + 1 : arg, false));
		break;
	}
	case 'G': { /* ID:PATH:raw|qcow2|vmdk:ro|rw, through krun_add_disk2 */
		uint32_t fmt;

		need_fields(arg, f, 4, "--disk2");
		fmt = !strcmp(f[2], "qcow2")  ? KRUN_DISK_FORMAT_QCOW2
		      : !strcmp(f[2], "vmdk") ? KRUN_DISK_FORMAT_VMDK
					      : KRUN_DISK_FORMAT_RAW;
		call("krun_add_disk2", krun_add_disk2(ctx, f[0], f[1], fmt, !strcmp(f[3], "ro")));
		break;
	}
	case 'R':
		call("krun_set_root_disk", krun_set_root_disk(ctx, arg));
		break;
	case 'A':
		call("krun_set_data_disk", krun_set_data_disk(ctx, arg));
		break;
	case 'M':
		need_fields(arg, f, 3, "--remount");
		call("krun_set_root_disk_remount",
		     krun_set_root_disk_remount(ctx, f[0], *f[1] ? f[1] : NULL,
						*f[2] ? f[2] : NULL));
		break;
	case 'N':
		call("krun_add_net_unixstream", krun_add_net_unixstream(ctx, arg, -1, mac, 0, 0));
		break;
	case 'V':
		call("krun_add_vsock", krun_add_vsock(ctx, 0));
		break;
	case 'T':
		call("krun_add_vsock", krun_add_vsock(ctx, KRUN_TSI_HIJACK_INET));
		break;
	case 'X':
		call("krun_disable_implicit_vsock", krun_disable_implicit_vsock(ctx));
		break;
	case 'i':
		call("krun_split_irqchip", krun_split_irqchip(ctx, true));
		break;
	case 'n':
		printf("krun_check_nested_virt: %d\n", krun_check_nested_virt());
		fflush(stdout);
		call("krun_set_nested_virt", krun_set_nested_virt(ctx, true));
		break;
	default:
		fprintf(stderr, "usage: krun-api-client [OPTIONS] ROOT COMMAND [ARGS...]\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"cpus", required_argument, NULL, 'c'},
	    {"no-implicit-console", no_argument, NULL, 'C'},
	    {"virtio-console", required_argument, NULL, 'v'}, /* IN:OUT:ERR */
	    {"serial-console", required_argument, NULL, 's'}, /* IN:OUT */
	    {"multiport", no_argument, NULL, 'm'},
	    {"port", required_argument, NULL, 'p'},	/* NAME:IN:OUT on the last multiport */
	    {"port-tty", required_argument, NULL, 't'}, /* NAME:OUTFILE:TEXT, a pty */
	    {"kernel-console", required_argument, NULL, 'k'},
	    {"cmdline", required_argument, NULL, 'l'},
	    {"kernel", required_argument, NULL, 'K'},		/* a vmlinux file */
	    {"overlay-file", required_argument, NULL, 'f'},	/* PATH:MODE:TEXT */
	    {"overlay-one-shot", required_argument, NULL, 'F'}, /* PATH:MODE:TEXT */
	    {"overlay-dir", required_argument, NULL, 'd'},	/* PATH:MODE */
	    {"no-implicit-init", no_argument, NULL, 'I'},
	    {"shutdown-when", required_argument, NULL, 'S'}, /* once this file exists */
	    {"disk", required_argument, NULL, 'D'},
	    {"disk2", required_argument, NULL, 'G'},
	    {"set-root-disk", required_argument, NULL, 'R'}, /* krun_set_root_disk */
	    {"set-data-disk", required_argument, NULL, 'A'}, /* krun_set_data_disk */
	    {"remount", required_argument, NULL, 'M'},	     /* DEVICE:FSTYPE:OPTIONS */
	    {"net-unixstream", required_argument, NULL, 'N'},
	    {"vsock", no_argument, NULL, 'V'},
	    {"vsock-tsi", no_argument, NULL, 'T'},
	    {"no-implicit-vsock", no_argument, NULL, 'X'},
	    {"split-irqchip", no_argument, NULL, 'i'},
	    {"nested-virt", no_argument, NULL, 'n'}, /* prints krun_check_nested_virt() */
	    {0},
	};
	const char *const envp[] = {"PATH=/bin:/sbin:/usr/bin", NULL};
	int opt, id;

	id = krun_create_ctx();
	call("krun_create_ctx", id);
	ctx = (uint32_t)id;
	/* Options apply in command-line order, like a program making the calls. */
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1)
		apply(opt, optarg);
	if (argc - optind < 2)
		apply('?', NULL);
	call("krun_set_root", krun_set_root(ctx, argv[optind]));
	call("krun_set_exec",
	     krun_set_exec(ctx, argv[optind + 1], (const char *const *)argv + optind + 2, envp));
	die("krun_start_enter", krun_start_enter(ctx));
}
