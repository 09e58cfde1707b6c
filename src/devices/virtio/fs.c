// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs (virtio 1.2, section 5.11): a high-priority queue and request
 * queues, each served by its own thread, which hands every descriptor chain
 * to the FUSE server (devices/virtio/fs/) and returns the reply.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/builders.h"
#include "devices/virtio/console.h"
#include "devices/virtio/fs.h"
#include "devices/virtio/fs/fuse_server.h"
#include "devices/virtio/virtio.h"
#include "guest_abi.h"
#include "libkrun.h"
#include "vmm/guest_config.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define FS_MAX_REQUEST_QUEUES 4
#define FS_QUEUE_SIZE	      256

struct virtio_fs_config {
	char tag[VIRTIO_FS_TAG_MAX];
	uint32_t num_request_queues;
} __attribute__((packed));

struct virtio_fs;

struct fs_worker {
	struct virtio_fs *fs;
	unsigned int queue;
	pthread_t thread;
	bool started;
};

struct virtio_fs {
	struct virtio_device dev;
	struct fuse_server *server;
	struct virtio_fs_config config;
	struct fs_worker workers[1 + FS_MAX_REQUEST_QUEUES];
};

/* Serve everything available on one queue. */
static void serve_queue(struct virtio_fs *fs, struct virtio_queue *q, struct virtq_chain *chain)
{
	for (;;) {
		size_t reply;
		int got;

		pthread_mutex_lock(&q->lock);
		got = virtq_pop(&q->vq, chain);
		pthread_mutex_unlock(&q->lock);
		if (got != 1)
			return;
		/*
		 * The request is handled without the queue lock so that a slow
		 * operation does not stall completions; the chain stays ours.
		 */
		reply = fuse_server_handle(fs->server, chain->readable, chain->nreadable,
					   chain->writable, chain->nwritable);
		pthread_mutex_lock(&q->lock);
		virtio_queue_complete_chain(&fs->dev, q, chain, (uint32_t)MIN(reply, UINT32_MAX));
		pthread_mutex_unlock(&q->lock);
	}
}

static void *fs_worker_thread(void *arg)
{
	struct fs_worker *w = arg;
	struct virtio_queue *q = &w->fs->dev.queues[w->queue];
	struct virtq_chain *chain = malloc(sizeof(*chain));
	struct pollfd pfd = {.fd = q->kick_fd, .events = POLLIN};

	if (fuse_server_thread_init() < 0)
		pr_warn(
		    "virtio-fs: no umask of its own for a worker: new modes are fixed up by name");
	while (chain) {
		serve_queue(w->fs, q, chain);
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		virtio_queue_ack_kick(q);
	}
	free(chain);
	return NULL;
}

static void fs_config_read(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	struct virtio_fs *fs = dev->priv;

	memcpy(data, (uint8_t *)&fs->config + offset, len);
}

static int fs_activate(struct virtio_device *dev)
{
	struct virtio_fs *fs = dev->priv;

	for (unsigned int i = 0; i < dev->nqueues; i++) {
		struct fs_worker *w = &fs->workers[i];

		if (w->started)
			continue;
		w->fs = fs;
		w->queue = i;
		if (vmm_thread_start(&w->thread, VMM_THREAD_FS, fs_worker_thread, w) != 0)
			return -EAGAIN;
		w->started = true;
	}
	return 0;
}

/* Only for a VM that never ran: no worker was started. */
static void fs_release(struct virtio_device *dev)
{
	struct virtio_fs *fs = dev->priv;

	fuse_server_free(fs->server);
	free(fs);
}

static const struct virtio_device_ops fs_ops = {
    .name = "fs",
    .device_id = VIRTIO_ID_FS,
    .config_read = fs_config_read,
    .activate = fs_activate,
    .release = fs_release,
};

struct fuse_server *virtio_fs_create(struct vm *vm, const char *tag, const char *path,
				     bool read_only)
{
	struct virtio_fs *fs;
	unsigned int nreq = MIN(MAX(vm->nvcpus, 1u), (unsigned int)FS_MAX_REQUEST_QUEUES);
	int ret;

	if (!tag || !*tag || strlen(tag) > VIRTIO_FS_TAG_MAX)
		return NULL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->server = fuse_server_new(path, read_only);
	if (!fs->server) {
		pr_err("virtio-fs %s: cannot share %s: %s", tag, path, strerror(errno));
		free(fs);
		return NULL;
	}
	/* The tag may fill the field: it is NUL-terminated only when shorter. */
	memcpy(fs->config.tag, tag, strlen(tag));
	fs->config.num_request_queues = nreq;
	fs->dev.ops = &fs_ops;
	fs->dev.priv = fs;
	fs->dev.features = VIRTIO_F_INDIRECT_DESC;
	fs->dev.config_size = sizeof(fs->config);
	fs->dev.nqueues = 1 + nreq;
	fs->dev.queue_max = FS_QUEUE_SIZE;
	ret = virtio_mmio_add(vm, &fs->dev);
	if (ret < 0) {
		pr_err("virtio-fs %s: %s", tag, strerror(-ret));
		fuse_server_free(fs->server);
		free(fs);
		return NULL;
	}
	return fs->server;
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
static int add_init(struct vm *vm, struct fuse_server *srv)
{
	unsigned int named_ports = vm->named_ports;
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
	ret = fuse_server_add_overlay_file(srv, &KRUN_INIT_PATH[1], krun_init_blob,
					   krun_init_blob_size, 0100755, false);
	if (!ret)
		ret = fuse_server_add_overlay_file(srv, &KRUN_CONFIG_PATH[1], vm->guest_config,
						   vm->guest_config_len, 0100400, true);
	if (ret < 0)
		pr_err("root share: cannot add init: %s", strerror(-ret));
	return ret;
}

/*
 * The exit-status ioctl on the root share: the same stop as the exit port's
 * (devices/legacy/exit_port.c). The guest sends it once the workload's
 * output has reached the host; vm_run() drains the devices after the stop.
 */
static void root_exit_report(void *opaque, int status)
{
	vm_stop(opaque, VM_STOP_EXIT_STATUS, status);
}

/*
 * The scratch root of a root disk remount (vm_config_scratch_root): gone
 * from the host once open, it shows the guest only the mount points init
 * needs before it moves to the disk, all in memory.
 */
static int finish_scratch_root(const struct vm_config *cfg, struct fuse_server *srv)
{
	static const char *const dirs[] = {"dev", "proc", "sys", "tmp", "run"};

	if (rmdir(cfg->root_path) < 0)
		pr_debug("root disk: removing %s: %s", cfg->root_path, strerror(errno));
	for (unsigned int i = 0; i < ARRAY_SIZE(dirs); i++) {
		int ret = fuse_server_add_overlay_dir(srv, dirs[i], 0755);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The virtio-fs shares: the root (with init, unless disabled), then the others. */
static int create_shares(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	struct fuse_server *srv;
	int ret = check_overlay_tags(cfg);

	if (!ret && cfg->root_path) {
		srv = virtio_fs_create(vm, KRUN_FS_ROOT_TAG, cfg->root_path, cfg->root_read_only);
		if (!srv)
			return -EIO;
		fuse_server_set_exit_handler(srv, root_exit_report, vm);
		fuse_server_set_strict(srv, cfg->root_strict);
		if (cfg->root_is_scratch)
			ret = finish_scratch_root(cfg, srv);
		if (!ret && !cfg->no_implicit_init)
			ret = add_init(vm, srv);
		if (!ret)
			ret = add_overlays(srv, cfg, KRUN_FS_ROOT_TAG);
	}
	for (unsigned int i = 0; !ret && i < cfg->nshares; i++) {
		const struct fs_share *sh = &cfg->shares[i];

		srv = virtio_fs_create(vm, sh->tag, sh->path, sh->read_only);
		if (srv)
			fuse_server_set_strict(srv, sh->strict);
		ret = srv ? add_overlays(srv, cfg, sh->tag) : -EIO;
	}
	return ret;
}

const struct device_builder fs_shares_builder = {"virtio-fs shares", create_shares};
