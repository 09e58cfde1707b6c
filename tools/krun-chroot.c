// SPDX-License-Identifier: Apache-2.0
/*
 * krun-chroot: like chroot(8), but COMMAND runs in its own KVM microVM whose
 * root filesystem is NEWROOT, shared from this process through virtio-fs.
 * The exit status is COMMAND's.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libkrun.h>

#include "cli.h"

#define MAX_LIST 256

static void usage(FILE *f)
{
	fprintf(f,
		"usage: krun-chroot [options] NEWROOT COMMAND [ARGS...]\n"
		"       krun-chroot [options] --root-disk IMAGE[:FORMAT] COMMAND [ARGS...]\n"
		"Run COMMAND in a KVM microVM whose root filesystem is the host directory\n"
		"NEWROOT (or the filesystem on a disk image). The guest cannot reach host\n"
		"files outside NEWROOT, the volumes and the disks.\n\n"
		"  -c, --cpus N              vCPUs (default 1)\n"
		"  -m, --memory MIB          guest RAM in MiB (default 512)\n"
		"  -e, --env NAME=VALUE      set a variable (repeatable); without any --env the\n"
		"                            guest gets PATH, HOME and TERM defaults\n"
		"  -w, --workdir DIR         working directory inside the guest (default /)\n"
		"  -v, --volume HOST:GUEST[:ro]  also share HOST at GUEST (repeatable)\n"
		"  -u, --user UID[:GID]      run COMMAND with these ids (default 0:0)\n"
		"  -r, --rlimit RES=CUR:MAX  a resource limit, e.g. RLIMIT_NOFILE=256:512\n"
		"  -o, --oem-string STR      an SMBIOS OEM string (type 11) the guest sees in\n"
		"                            /sys/firmware/dmi (repeatable)\n"
		"  -p, --vsock-port PORT:PATH[:listen]  guest vsock port PORT (host CID 2) to the\n"
		"                            host unix socket PATH; with :listen the VMM creates\n"
		"                            PATH and its connections reach the guest's PORT\n"
		"      --tsi FEATURES        TSI (the guest's sockets made by the VMM on the\n"
		"                            host: networking without an interface): inet\n"
		"                            (the default), inet,unix (also AF_UNIX sockets\n"
		"                            with absolute paths), unix, or off\n"
		"  -P, --port-map HOST:GUEST a guest TCP listener on GUEST is reachable on the\n"
		"                            host's port HOST (repeatable); without any, every\n"
		"                            guest listener is on the same host port\n"
		"  -n, --net TYPE[,OPTION...]  a network interface (repeatable): eth0, eth1...\n"
		"                            in the order given. TYPE: passt (started here on a\n"
		"                            socket pair; --publish ports), unixstream:PATH\n"
		"                            (QEMU stream framing), unixgram:PATH (one frame a\n"
		"                            datagram), tap:NAME. OPTIONs: mac=XX:XX:XX:XX:XX:XX,\n"
		"                            dhcp / nodhcp (init runs DHCP; default for passt\n"
		"                            only), nooffload (no checksum/TSO offloads), vfkit\n"
		"                            (unixgram: the \"VFKT\" handshake first)\n"
		"      --publish HOST:GUEST  with --net passt: host TCP port HOST reaches the\n"
		"                            guest's port GUEST (repeatable)\n"
		"  -d, --disk ID:PATH[:FORMAT][:ro][:direct][:sync=MODE]\n"
		"                            attach a disk image (repeatable) as a virtio-blk\n"
		"                            disk with serial ID: /dev/vda, /dev/vdb... in the\n"
		"                            order given (after the root disk), also\n"
		"                            /dev/disk/by-id/virtio-ID. FORMAT: raw (default),\n"
		"                            qcow2 or vmdk, never guessed; ro: read-only;\n"
		"                            direct: O_DIRECT; MODE: none (flushes ignored),\n"
		"                            relaxed (fdatasync) or full (fsync, the default)\n"
		"      --root-disk IMAGE[:FORMAT]  the workload's root is the filesystem on this\n"
		"                            image (the first disk, /dev/vda, id \"root\"); no\n"
		"                            NEWROOT then\n"
		"      --root-fstype TYPE    its filesystem type (default: the kernel tries each)\n"
		"      --root-options OPTS   its mount options (e.g. \"ro\" or \"noatime\")\n"
		"  -s, --share-mode MODE     strict (default): the guest cannot create device\n"
		"                            nodes, setuid/setgid files or security.*/trusted.*\n"
		"                            xattrs on the host; compat: it can, as upstream\n"
		"                            libkrun lets it (when run as root)\n"
		"  -l, --log-level N         0 (off) .. 5 (trace), default 2 (warnings)\n"
		"  -h, --help\n");
}

struct disk_option {
	char *id, *path;
	uint32_t format, sync_mode;
	bool read_only, direct_io;
};

#define MAX_DISKS 40 /* the library's VM_MAX_DISKS */

struct options {
	unsigned long cpus, memory, log_level;
	struct disk_option disks[MAX_DISKS];
	unsigned int ndisks;
	struct disk_option root_disk;
	bool has_root_disk;
	const char *root_fstype, *root_options;
	const char *workdir;
	const char *env[MAX_LIST + 1];
	const char *volumes[MAX_LIST + 1];
	const char *rlimits[MAX_LIST + 1];
	const char *oem_strings[MAX_LIST + 1];
	const char *vsock_ports[MAX_LIST + 1];
	const char *port_map[MAX_LIST + 1];
	unsigned int nenv, nvolumes, nrlimits, noem_strings, nvsock_ports, nport_map;
	long tsi; /* KRUN_TSI_* from --tsi, 0 for off, -1 for the default */
	const char *nets[MAX_LIST + 1];
	const char *publish[MAX_LIST + 1];
	unsigned int nnets, npublish;
	long uid, gid;
	uint32_t share_mode;
	const char *root;
	char **command;
};

static int add_to_list(const char **list, unsigned int *n, const char *item)
{
	if (*n == MAX_LIST)
		return -1;
	list[(*n)++] = item;
	return 0;
}

/* "UID" or "UID:GID", numeric. */
static int parse_user(const char *arg, struct options *o)
{
	unsigned long uid, gid;
	char buf[32], *colon;

	snprintf(buf, sizeof(buf), "%s", arg);
	colon = strchr(buf, ':');
	if (colon)
		*colon = 0;
	if (parse_uint(buf, 0xfffffffe, &uid) < 0 ||
	    (colon && parse_uint(colon + 1, 0xfffffffe, &gid) < 0))
		return -1;
	o->uid = (long)uid;
	o->gid = colon ? (long)gid : -1;
	return 0;
}

static int parse_format(const char *s, uint32_t *format)
{
	static const char *const names[] = {"raw", "qcow2", "vmdk"};
	static const uint32_t values[] = {KRUN_DISK_FORMAT_RAW, KRUN_DISK_FORMAT_QCOW2,
					  KRUN_DISK_FORMAT_VMDK};

	for (unsigned int i = 0; i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*format = values[i];
			return 0;
		}
	}
	return -1;
}

/* One ":WORD" suffix of a --disk argument; -1 if WORD is not a disk option. */
static int parse_disk_word(const char *w, struct disk_option *d)
{
	if (!parse_format(w, &d->format))
		return 0;
	if (!strcmp(w, "ro"))
		d->read_only = true;
	else if (!strcmp(w, "direct"))
		d->direct_io = true;
	else if (!strcmp(w, "sync=none"))
		d->sync_mode = KRUN_SYNC_NONE;
	else if (!strcmp(w, "sync=relaxed"))
		d->sync_mode = KRUN_SYNC_RELAXED;
	else if (!strcmp(w, "sync=full"))
		d->sync_mode = KRUN_SYNC_FULL;
	else
		return -1;
	return 0;
}

/*
 * "ID:PATH[:WORD]..." (with_id) or "PATH[:FORMAT]": the words are taken off
 * the end while they are disk options, so a PATH may hold colons.
 */
static int parse_disk(char *arg, bool with_id, struct disk_option *d)
{
	char *colon;

	*d = (struct disk_option){.format = KRUN_DISK_FORMAT_RAW, .sync_mode = KRUN_SYNC_FULL};
	if (with_id) {
		colon = strchr(arg, ':');
		if (!colon || colon == arg)
			return -1;
		*colon = 0;
		d->id = arg;
		arg = colon + 1;
	}
	while ((colon = strrchr(arg, ':'))) {
		struct disk_option probe = *d;

		if (parse_disk_word(colon + 1, &probe) < 0 || (!with_id && probe.read_only) ||
		    (!with_id && probe.direct_io))
			break;
		*d = probe;
		*colon = 0;
	}
	d->path = arg;
	return *arg ? 0 : -1;
}

enum { OPT_ROOT_DISK = 256, OPT_ROOT_FSTYPE, OPT_ROOT_OPTIONS, OPT_TSI, OPT_PUBLISH };

/* "off", or a comma list of "inet" and "unix". */
static int parse_tsi(const char *arg, long *tsi)
{
	char buf[64], *save, *tok;

	if (!strcmp(arg, "off")) {
		*tsi = 0;
		return 0;
	}
	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	*tsi = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "inet"))
			*tsi |= KRUN_TSI_HIJACK_INET;
		else if (!strcmp(tok, "unix"))
			*tsi |= KRUN_TSI_HIJACK_UNIX;
		else
			return -1;
	}
	return *tsi ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"cpus", required_argument, NULL, 'c'},
	    {"memory", required_argument, NULL, 'm'},
	    {"env", required_argument, NULL, 'e'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"volume", required_argument, NULL, 'v'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"user", required_argument, NULL, 'u'},
	    {"rlimit", required_argument, NULL, 'r'},
	    {"oem-string", required_argument, NULL, 'o'},
	    {"vsock-port", required_argument, NULL, 'p'},
	    {"disk", required_argument, NULL, 'd'},
	    {"tsi", required_argument, NULL, OPT_TSI},
	    {"port-map", required_argument, NULL, 'P'},
	    {"net", required_argument, NULL, 'n'},
	    {"publish", required_argument, NULL, OPT_PUBLISH},
	    {"root-disk", required_argument, NULL, OPT_ROOT_DISK},
	    {"root-fstype", required_argument, NULL, OPT_ROOT_FSTYPE},
	    {"root-options", required_argument, NULL, OPT_ROOT_OPTIONS},
	    {"share-mode", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	/* "+": options end at NEWROOT, so COMMAND keeps its own options. */
	while ((c = getopt_long(argc, argv, "+c:m:e:w:v:l:u:r:o:p:P:d:n:s:h", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, 255, &o->cpus) < 0 || !o->cpus)
				return -1;
			break;
		case 'm':
			if (parse_uint(optarg, UINT32_MAX, &o->memory) < 0)
				return -1;
			break;
		case 'e':
			if (!strchr(optarg, '=') || add_to_list(o->env, &o->nenv, optarg) < 0)
				return -1;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 'v':
			if (!strchr(optarg, ':') ||
			    add_to_list(o->volumes, &o->nvolumes, optarg) < 0)
				return -1;
			break;
		case 'l':
			if (parse_uint(optarg, KRUN_LOG_LEVEL_TRACE, &o->log_level) < 0)
				return -1;
			break;
		case 'u':
			if (parse_user(optarg, o) < 0)
				return -1;
			break;
		case 'r':
			if (add_to_list(o->rlimits, &o->nrlimits, optarg) < 0)
				return -1;
			break;
		case 'o':
			if (add_to_list(o->oem_strings, &o->noem_strings, optarg) < 0)
				return -1;
			break;
		case 'p':
			if (add_to_list(o->vsock_ports, &o->nvsock_ports, optarg) < 0)
				return -1;
			break;
		case 'P':
			if (add_to_list(o->port_map, &o->nport_map, optarg) < 0)
				return -1;
			break;
		case OPT_TSI:
			if (parse_tsi(optarg, &o->tsi) < 0)
				return -1;
			break;
		case 'n':
			if (add_to_list(o->nets, &o->nnets, optarg) < 0)
				return -1;
			break;
		case OPT_PUBLISH:
			if (add_to_list(o->publish, &o->npublish, optarg) < 0)
				return -1;
			break;
		case 'd':
			if (o->ndisks == MAX_DISKS ||
			    parse_disk(optarg, true, &o->disks[o->ndisks]) < 0)
				return -1;
			o->ndisks++;
			break;
		case OPT_ROOT_DISK:
			if (parse_disk(optarg, false, &o->root_disk) < 0)
				return -1;
			o->root_disk.id = (char *)"root";
			o->has_root_disk = true;
			break;
		case OPT_ROOT_FSTYPE:
			o->root_fstype = optarg;
			break;
		case OPT_ROOT_OPTIONS:
			o->root_options = optarg;
			break;
		case 's':
			if (!strcmp(optarg, "strict"))
				o->share_mode = KRUN_SHARE_MODE_STRICT;
			else if (!strcmp(optarg, "compat"))
				o->share_mode = KRUN_SHARE_MODE_COMPAT;
			else
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (o->has_root_disk) {
		/* The root is the disk: no NEWROOT. */
		if (argc - optind < 1)
			return -1;
		o->command = argv + optind;
		return 0;
	}
	if (argc - optind < 2 || o->root_fstype || o->root_options)
		return -1;
	o->root = argv[optind];
	o->command = argv + optind + 1;
	return 0;
}

static int check(const char *what, int ret)
{
	return check_call("krun-chroot", what, ret);
}

static int add_vsock_port(uint32_t ctx, const char *spec)
{
	char path[4096];
	unsigned long port;
	bool listen;

	if (parse_vsock_port(spec, &port, path, sizeof(path), &listen) < 0) {
		fprintf(stderr, "krun-chroot: --vsock-port wants PORT:PATH[:listen], got \"%s\"\n",
			spec);
		return -1;
	}
	return check(spec, krun_add_vsock_port2(ctx, (uint32_t)port, path, listen));
}

/* passt on one end of a socket pair, the other end the interface's. */
static int start_passt(const struct options *o)
{
	char fdnum[16];
	const char *argv[8 + 2 * MAX_LIST];
	int sv[2], n = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("krun-chroot: socketpair");
		return -1;
	}
	snprintf(fdnum, sizeof(fdnum), "%d", sv[1]);
	argv[n++] = "passt";
	argv[n++] = "--foreground";
	argv[n++] = "--quiet";
	argv[n++] = "--fd";
	argv[n++] = fdnum;
	for (unsigned int i = 0; i < o->npublish; i++) {
		argv[n++] = "--tcp-ports";
		argv[n++] = o->publish[i];
	}
	argv[n] = NULL;
	pid = fork();
	if (pid < 0) {
		perror("krun-chroot: fork");
		return -1;
	}
	if (pid == 0) {
		/* passt goes with us; its end of the pair crosses exec. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fcntl(sv[1], F_SETFD, 0);
		close(sv[0]);
		execvp(argv[0], (char *const *)argv);
		perror("krun-chroot: passt");
		_exit(127);
	}
	close(sv[1]);
	return sv[0];
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* "TYPE[:ARG][,OPTION...]" of --net; interface "index" gets a MAC of its own by default. */
static int add_net(uint32_t ctx, const struct options *o, const char *spec, unsigned int index)
{
	char buf[4096], *opt, *arg, *save = NULL;
	uint8_t mac[6] = {0x5a, 0x94, 0xef, 0xe4, 0x0c, (uint8_t)(0xee + index)};
	uint32_t features = COMPAT_NET_FEATURES, flags = 0;
	int dhcp = -1, fd;
	bool vfkit = false;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
		goto bad;
	strtok_r(buf, ",", &save);
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strncmp(opt, "mac=", 4) && !parse_mac(opt + 4, mac))
			continue;
		if (!strcmp(opt, "dhcp") || !strcmp(opt, "nodhcp"))
			dhcp = !strcmp(opt, "dhcp");
		else if (!strcmp(opt, "nooffload"))
			features = 0;
		else if (!strcmp(opt, "vfkit"))
			vfkit = true;
		else
			goto bad;
	}
	arg = strchr(buf, ':');
	if (arg)
		*arg++ = 0;
	if (dhcp == 1 || (dhcp == -1 && !strcmp(buf, "passt")))
		flags |= NET_FLAG_DHCP_CLIENT;
	if (vfkit)
		flags |= NET_FLAG_VFKIT;
	if (!strcmp(buf, "passt") && !arg) {
		fd = start_passt(o);
		if (fd < 0)
			return -1;
		return check(spec, krun_add_net_unixstream(ctx, NULL, fd, mac, features, flags));
	}
	if (!arg || !*arg)
		goto bad;
	if (!strcmp(buf, "unixstream"))
		return check(spec, krun_add_net_unixstream(ctx, arg, -1, mac, features, flags));
	if (!strcmp(buf, "unixgram"))
		return check(spec, krun_add_net_unixgram(ctx, arg, -1, mac, features, flags));
	if (!strcmp(buf, "tap"))
		return check(spec, krun_add_net_tap(ctx, arg, mac, features, flags));
bad:
	fprintf(stderr,
		"krun-chroot: --net wants passt, unixstream:PATH, unixgram:PATH or tap:NAME "
		"with options mac=, dhcp, nodhcp, nooffload, vfkit; got \"%s\"\n",
		spec);
	return -1;
}

static int configure_nets(uint32_t ctx, const struct options *o)
{
	unsigned int passts = 0;

	for (unsigned int i = 0; i < o->nnets; i++)
		passts +=
		    !strncmp(o->nets[i], "passt", 5) && (!o->nets[i][5] || o->nets[i][5] == ',');
	if (o->npublish && passts != 1) {
		fprintf(stderr, "krun-chroot: --publish needs one --net passt\n");
		return -1;
	}
	for (unsigned int i = 0; i < o->nnets; i++)
		if (add_net(ctx, o, o->nets[i], i) < 0)
			return -1;
	return 0;
}

static int add_disk(uint32_t ctx, const struct disk_option *d)
{
	return check(d->path, krun_add_disk3(ctx, d->id, d->path, d->format, d->read_only,
					     d->direct_io, d->sync_mode));
}

/* The root disk first (/dev/vda), then the others in the order given. */
static int configure_disks(uint32_t ctx, const struct options *o)
{
	if (o->has_root_disk &&
	    (add_disk(ctx, &o->root_disk) ||
	     check("root disk",
		   krun_set_root_disk_remount(ctx, "/dev/vda", o->root_fstype, o->root_options))))
		return -1;
	for (unsigned int i = 0; i < o->ndisks; i++)
		if (add_disk(ctx, &o->disks[i]))
			return -1;
	return 0;
}

static int configure_tsi(uint32_t ctx, const struct options *o)
{
	if (o->nport_map && check("port map", krun_set_port_map(ctx, o->port_map)))
		return -1;
	if (o->tsi < 0)
		return 0; /* the implicit vsock device, with TSI for AF_INET/AF_INET6 */
	if (o->tsi == 0 && !o->nvsock_ports)
		return check("TSI off", krun_disable_implicit_vsock(ctx));
	return check("TSI", krun_add_vsock(ctx, (uint32_t)o->tsi));
}

static int configure(uint32_t ctx, const struct options *o)
{
	static const char *const no_env[] = {NULL};

	if (check("vCPUs/memory", krun_set_vm_config(ctx, (uint8_t)o->cpus, (uint32_t)o->memory)) ||
	    (o->root && check(o->root, krun_set_root(ctx, o->root))) || configure_disks(ctx, o))
		return -1;
	if (o->workdir && check("workdir", krun_set_workdir(ctx, o->workdir)))
		return -1;
	if (o->nvolumes && check("volumes", krun_set_mapped_volumes(ctx, o->volumes)))
		return -1;
	if (check("share mode", krun_set_share_mode(ctx, NULL, o->share_mode)))
		return -1;
	if (o->nrlimits && check("rlimits", krun_set_rlimits(ctx, o->rlimits)))
		return -1;
	if (o->noem_strings &&
	    check("OEM strings", krun_set_smbios_oem_strings(ctx, o->oem_strings)))
		return -1;
	if (o->uid >= 0 && check("uid", krun_setuid(ctx, (uid_t)o->uid)))
		return -1;
	for (unsigned int i = 0; i < o->nvsock_ports; i++)
		if (add_vsock_port(ctx, o->vsock_ports[i]) < 0)
			return -1;
	if (configure_tsi(ctx, o) < 0)
		return -1;
	if (configure_nets(ctx, o) < 0)
		return -1;
	if (o->gid >= 0 && check("gid", krun_setgid(ctx, (gid_t)o->gid)))
		return -1;
	/* The host's environment stays on the host: only --env crosses. */
	return check("command",
		     krun_set_exec(ctx, o->command[0], (const char *const *)o->command + 1,
				   o->nenv ? o->env : no_env));
}

int main(int argc, char **argv)
{
	struct options o = {
	    .tsi = -1,
	    .cpus = 1,
	    .memory = 512,
	    .log_level = KRUN_LOG_LEVEL_WARN,
	    .uid = -1,
	    .gid = -1,
	    .share_mode = KRUN_SHARE_MODE_STRICT,
	};
	int ctx;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 125;
	}
	krun_init_log(KRUN_LOG_TARGET_DEFAULT, (uint32_t)o.log_level, KRUN_LOG_STYLE_AUTO, 0);
	ctx = krun_create_ctx();
	if (check("krun_create_ctx", ctx) < 0 || configure((uint32_t)ctx, &o) < 0)
		return 125;
	check("krun_start_enter", krun_start_enter((uint32_t)ctx));
	return 125;
}
