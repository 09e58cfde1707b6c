// SPDX-License-Identifier: Apache-2.0
/*
 * krun-boot: boot a kernel and initramfs in a microVM through the libkrun
 * API, the way a client of the library does it. The process exits with the
 * guest's exit status.
 *
 *   krun-boot [options] INITRAMFS
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libkrun.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: krun-boot [options] INITRAMFS\n"
		"Boot the bundled guest kernel (or --kernel) with INITRAMFS in a KVM microVM.\n"
		"The exit status is the one the guest reports.\n\n"
		"  -c, --cpus N            vCPUs (default 1)\n"
		"  -m, --memory MIB        guest RAM in MiB (default 512)\n"
		"  -k, --kernel PATH       kernel image instead of the bundled one\n"
		"  -f, --kernel-format F   elf (vmlinux, default), bzimage (or raw), image-gz,\n"
		"                          image-bz2, image-zstd, pe-gz, or the number 0..5\n"
		"  -a, --append ARGS       appended to the kernel command line\n"
		"  -o, --console-output F  write the console to file F, not stdout\n"
		"  -s, --split-irqchip     IOAPIC in the VMM, local APICs in KVM; no PIC, no PIT\n"
		"  -p, --vsock-port PORT:PATH[:listen]  guest vsock port PORT to the host unix\n"
		"                          socket PATH (repeatable; as krun-chroot's)\n"
		"  -n, --net SPEC          a network interface (repeatable; eth0...): fd:N (a\n"
		"                          connected stream socket, QEMU framing: passt --fd),\n"
		"                          unixstream:PATH, unixgram:PATH or tap:NAME, with\n"
		"                          COMPAT_NET_FEATURES offloads\n"
		"  -l, --log-level N       0 (off) .. 5 (trace)\n"
		"  -h, --help\n");
}

/* --kernel-format names, after libkrun.h's KRUN_KERNEL_FORMAT_* */
static const struct {
	const char *name;
	uint32_t format;
} formats[] = {
    {"elf", KRUN_KERNEL_FORMAT_ELF},
    {"bzimage", KRUN_KERNEL_FORMAT_RAW},
    {"raw", KRUN_KERNEL_FORMAT_RAW},
    {"pe-gz", KRUN_KERNEL_FORMAT_PE_GZ},
    {"image-bz2", KRUN_KERNEL_FORMAT_IMAGE_BZ2},
    {"image-gz", KRUN_KERNEL_FORMAT_IMAGE_GZ},
    {"image-zstd", KRUN_KERNEL_FORMAT_IMAGE_ZSTD},
};

/* A name from the table, or a number passed through for libkrun to judge. */
static int parse_format(const char *s, uint32_t *format)
{
	unsigned long n;

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!strcmp(s, formats[i].name)) {
			*format = formats[i].format;
			return 0;
		}
	}
	if (parse_uint(s, UINT32_MAX, &n) < 0)
		return -1;
	*format = (uint32_t)n;
	return 0;
}

struct options {
	unsigned long cpus, memory, log_level;
	const char *kernel, *append, *console_output, *initramfs;
	uint32_t format;
	bool split_irqchip;
	const char *vsock_ports[64];
	unsigned int nvsock_ports;
	const char *nets[8];
	unsigned int nnets;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"cpus", required_argument, NULL, 'c'},
	    {"memory", required_argument, NULL, 'm'},
	    {"kernel", required_argument, NULL, 'k'},
	    {"kernel-format", required_argument, NULL, 'f'},
	    {"append", required_argument, NULL, 'a'},
	    {"console-output", required_argument, NULL, 'o'},
	    {"split-irqchip", no_argument, NULL, 's'},
	    {"vsock-port", required_argument, NULL, 'p'},
	    {"net", required_argument, NULL, 'n'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:m:k:f:a:o:sp:n:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, 255, &o->cpus) < 0 || !o->cpus)
				return -1;
			break;
		case 'm':
			if (parse_uint(optarg, UINT32_MAX, &o->memory) < 0)
				return -1;
			break;
		case 'k':
			o->kernel = optarg;
			break;
		case 'f':
			if (parse_format(optarg, &o->format) < 0)
				return -1;
			break;
		case 'a':
			o->append = optarg;
			break;
		case 'o':
			o->console_output = optarg;
			break;
		case 's':
			o->split_irqchip = true;
			break;
		case 'p':
			if (o->nvsock_ports == 64)
				return -1;
			o->vsock_ports[o->nvsock_ports++] = optarg;
			break;
		case 'n':
			if (o->nnets == 8)
				return -1;
			o->nets[o->nnets++] = optarg;
			break;
		case 'l':
			if (parse_uint(optarg, KRUN_LOG_LEVEL_TRACE, &o->log_level) < 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc - 1)
		return -1;
	o->initramfs = argv[optind];
	return 0;
}

static int check(const char *what, int ret)
{
	return check_call("krun-boot", what, ret);
}

/* --net SPEC for interface "index" (MAC 5a:94:ef:e4:0c:ee + index). */
static int add_net(uint32_t ctx, const char *spec, unsigned int index)
{
	uint8_t mac[6] = {0x5a, 0x94, 0xef, 0xe4, 0x0c, (uint8_t)(0xee + index)};
	unsigned long fd;

	if (!strncmp(spec, "fd:", 3) && !parse_uint(spec + 3, INT32_MAX, &fd))
		return check(
		    spec, krun_add_net_unixstream(ctx, NULL, (int)fd, mac, COMPAT_NET_FEATURES, 0));
	if (!strncmp(spec, "unixstream:", 11))
		return check(
		    spec, krun_add_net_unixstream(ctx, spec + 11, -1, mac, COMPAT_NET_FEATURES, 0));
	if (!strncmp(spec, "unixgram:", 9))
		return check(spec,
			     krun_add_net_unixgram(ctx, spec + 9, -1, mac, COMPAT_NET_FEATURES, 0));
	if (!strncmp(spec, "tap:", 4))
		return check(spec,
			     krun_add_net_tap(ctx, (char *)spec + 4, mac, COMPAT_NET_FEATURES, 0));
	fprintf(stderr,
		"krun-boot: --net wants fd:N, unixstream:PATH, unixgram:PATH or tap:NAME\n");
	return -1;
}

int main(int argc, char **argv)
{
	struct options o = {.cpus = 1,
			    .memory = 512,
			    .log_level = KRUN_LOG_LEVEL_WARN,
			    .format = KRUN_KERNEL_FORMAT_ELF};
	int ctx;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if (check("krun_init_log", krun_init_log(KRUN_LOG_TARGET_DEFAULT, (uint32_t)o.log_level,
						 KRUN_LOG_STYLE_AUTO, 0)) < 0)
		return 1;
	ctx = krun_create_ctx();
	if (check("krun_create_ctx", ctx) < 0)
		return 1;
	if (check("krun_set_vm_config",
		  krun_set_vm_config((uint32_t)ctx, (uint8_t)o.cpus, (uint32_t)o.memory)) < 0 ||
	    check("krun_set_kernel",
		  krun_set_kernel((uint32_t)ctx, o.kernel, o.format, o.initramfs, o.append)) < 0)
		return 1;
	if (o.console_output && check("krun_set_console_output",
				      krun_set_console_output((uint32_t)ctx, o.console_output)) < 0)
		return 1;
	if (o.split_irqchip &&
	    check("krun_split_irqchip", krun_split_irqchip((uint32_t)ctx, true)) < 0)
		return 1;

	for (unsigned int i = 0; i < o.nvsock_ports; i++) {
		char path[4096];
		unsigned long port;
		bool listen;

		if (parse_vsock_port(o.vsock_ports[i], &port, path, sizeof(path), &listen) < 0) {
			fprintf(stderr, "krun-boot: --vsock-port wants PORT:PATH[:listen]\n");
			return 1;
		}
		if (check(o.vsock_ports[i],
			  krun_add_vsock_port2((uint32_t)ctx, (uint32_t)port, path, listen)) < 0)
			return 1;
	}

	for (unsigned int i = 0; i < o.nnets; i++)
		if (add_net((uint32_t)ctx, o.nets[i], i) < 0)
			return 1;

	/* Only returns on failure; otherwise the process exits with the guest's status. */
	check("krun_start_enter", krun_start_enter((uint32_t)ctx));
	return 1;
}
