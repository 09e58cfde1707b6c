// SPDX-License-Identifier: Apache-2.0
/*
 * FUSE server: request decoding, dispatch, replies, INIT/DESTROY and the
 * server's lifetime. The request is read from the guest's buffers once: the
 * header and the fixed arguments are copied out, so later checks cannot be
 * raced by the guest rewriting its buffers; only WRITE payloads and READ
 * results move directly between the host file and the guest buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "devices/virtio/fs/fuse_priv.h"
#include "vmm/log.h"

/* Arguments up to this size are copied to the stack, larger ones to the heap. */
#define ARGS_ON_STACK 4096

#define OUR_INIT_FLAGS                                                                             \
	(FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |              \
	 FUSE_FLOCK_LOCKS | FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |   \
	 FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV_V2 | FUSE_MAX_PAGES |        \
	 FUSE_CACHE_SYMLINKS | FUSE_INIT_EXT)

/* ---- replies ---- */

size_t fuse_reply_iov(struct fuse_req *req, const struct iovec *parts, unsigned int n)
{
	struct fuse_out_header oh = {.unique = req->h.unique};
	size_t body = iov_length(parts, n), pos;

	if (req->out_cap < sizeof(oh))
		return 0;
	if (body > req->out_cap - sizeof(oh))
		return fuse_reply_err(req, EOVERFLOW);
	oh.len = (uint32_t)(sizeof(oh) + body);
	pos = buf_to_iov(req->out, req->out_count, 0, &oh, sizeof(oh));
	for (unsigned int i = 0; i < n; i++)
		pos +=
		    buf_to_iov(req->out, req->out_count, pos, parts[i].iov_base, parts[i].iov_len);
	return pos;
}

size_t fuse_reply(struct fuse_req *req, const void *body, size_t len)
{
	struct iovec part = {.iov_base = (void *)body, .iov_len = len};

	return fuse_reply_iov(req, &part, 1);
}

size_t fuse_reply_err(struct fuse_req *req, int err)
{
	struct fuse_out_header oh = {
	    .len = sizeof(oh),
	    .error = -err,
	    .unique = req->h.unique,
	};

	if (req->out_cap < sizeof(oh))
		return 0;
	return buf_to_iov(req->out, req->out_count, 0, &oh, sizeof(oh));
}

size_t fuse_reply_status(struct fuse_req *req, int ret)
{
	return ret ? fuse_reply_err(req, -ret) : fuse_reply(req, NULL, 0);
}

bool fuse_server_can_write(struct fuse_req *req)
{
	return !req->srv->read_only;
}

/* ---- INIT, DESTROY and the trivial operations ---- */

static size_t op_init(struct fuse_req *req)
{
	struct fuse_server *srv = req->srv;
	struct fuse_init_in in = {0};
	struct fuse_init_out out = {0};
	uint64_t want;

	memcpy(&in, req->arg, MIN(req->arglen, sizeof(in)));
	out.major = FUSE_KERNEL_VERSION;
	out.minor = FUSE_OUR_MINOR;
	if (in.major > FUSE_KERNEL_VERSION)
		return fuse_reply(req, &out, FUSE_COMPAT_INIT_OUT_SIZE); /* client retries */
	if (in.major < FUSE_KERNEL_VERSION || in.minor < FUSE_MIN_MINOR) {
		pr_warn_guest("fuse: unsupported protocol %u.%u from the guest", in.major,
			      in.minor);
		return fuse_reply_err(req, EPROTO);
	}
	want = in.flags;
	if ((in.flags & FUSE_INIT_EXT) && req->arglen >= offsetof(struct fuse_init_in, unused))
		want |= (uint64_t)in.flags2 << 32;
	want &= OUR_INIT_FLAGS;

	out.minor = MIN(in.minor, (uint32_t)FUSE_OUR_MINOR);
	out.max_readahead = in.max_readahead;
	out.flags = (uint32_t)want;
	out.flags2 = (uint32_t)(want >> 32);
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = FUSE_MAX_WRITE;
	out.time_gran = 1;
	out.max_pages = FUSE_MAX_PAGES_INIT;

	pthread_mutex_lock(&srv->lock);
	srv->initialized = true;
	srv->minor = out.minor;
	srv->flags = want;
	pthread_mutex_unlock(&srv->lock);
	pr_debug("fuse: init 7.%u, flags %#llx", out.minor, (unsigned long long)want);
	/* Before 7.23 the reply ended at max_write. */
	return fuse_reply(req, &out, in.minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : sizeof(out));
}

static size_t op_destroy(struct fuse_req *req)
{
	struct fuse_server *srv = req->srv;

	pthread_mutex_lock(&srv->lock);
	srv->initialized = false;
	pthread_mutex_unlock(&srv->lock);
	node_tables_reset(srv);
	return fuse_reply(req, NULL, 0);
}

static size_t op_no_reply(struct fuse_req *req)
{
	(void)req;
	return 0; /* INTERRUPT: every request runs to completion anyway */
}

static size_t op_enosys(struct fuse_req *req)
{
	return fuse_reply_err(req, ENOSYS);
}

/* ---- dispatch ---- */

struct fuse_op {
	size_t (*fn)(struct fuse_req *req);
	uint16_t in_size;  /* fixed arguments the body must hold */
	uint16_t out_size; /* fixed reply body the out buffers must hold */
	bool modifies;	   /* EROFS on a read-only share */
	bool no_reply;
};

#define OP(code, func, in, out, mod)                                                               \
	[code] = {.fn = func, .in_size = in, .out_size = out, .modifies = mod}

static const struct fuse_op fuse_ops[] = {
    OP(FUSE_LOOKUP, fuse_op_lookup, 0, sizeof(struct fuse_entry_out), false),
    [FUSE_FORGET] = {.fn = fuse_op_forget,
		     .in_size = sizeof(struct fuse_forget_in),
		     .no_reply = true},
    OP(FUSE_GETATTR, fuse_op_getattr, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out),
       false),
    OP(FUSE_SETATTR, fuse_op_setattr, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out),
       true),
    OP(FUSE_READLINK, fuse_op_readlink, 0, 0, false),
    OP(FUSE_SYMLINK, fuse_op_symlink, 0, sizeof(struct fuse_entry_out), true),
    OP(FUSE_MKNOD, fuse_op_mknod, sizeof(struct fuse_mknod_in), sizeof(struct fuse_entry_out),
       true),
    OP(FUSE_MKDIR, fuse_op_mkdir, sizeof(struct fuse_mkdir_in), sizeof(struct fuse_entry_out),
       true),
    OP(FUSE_UNLINK, fuse_op_unlink, 0, 0, true),
    OP(FUSE_RMDIR, fuse_op_rmdir, 0, 0, true),
    OP(FUSE_RENAME, fuse_op_rename, sizeof(struct fuse_rename_in), 0, true),
    OP(FUSE_LINK, fuse_op_link, sizeof(struct fuse_link_in), sizeof(struct fuse_entry_out), true),
    OP(FUSE_OPEN, fuse_op_open, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out), false),
    OP(FUSE_READ, fuse_op_read, sizeof(struct fuse_read_in), 0, false),
    OP(FUSE_WRITE, fuse_op_write, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out),
       true),
    OP(FUSE_STATFS, fuse_op_statfs, 0, sizeof(struct fuse_statfs_out), false),
    OP(FUSE_RELEASE, fuse_op_release, sizeof(struct fuse_release_in), 0, false),
    OP(FUSE_FSYNC, fuse_op_fsync, sizeof(struct fuse_fsync_in), 0, false),
    OP(FUSE_SETXATTR, fuse_op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, 0, true),
    OP(FUSE_GETXATTR, fuse_op_getxattr, sizeof(struct fuse_getxattr_in), 0, false),
    OP(FUSE_LISTXATTR, fuse_op_listxattr, sizeof(struct fuse_getxattr_in), 0, false),
    OP(FUSE_REMOVEXATTR, fuse_op_removexattr, 0, 0, true),
    OP(FUSE_FLUSH, fuse_op_flush, sizeof(struct fuse_flush_in), 0, false),
    OP(FUSE_INIT, op_init, 2 * sizeof(uint32_t), 0, false),
    OP(FUSE_OPENDIR, fuse_op_opendir, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out),
       false),
    OP(FUSE_READDIR, fuse_op_readdir, sizeof(struct fuse_read_in), 0, false),
    OP(FUSE_RELEASEDIR, fuse_op_releasedir, sizeof(struct fuse_release_in), 0, false),
    OP(FUSE_FSYNCDIR, fuse_op_fsyncdir, sizeof(struct fuse_fsync_in), 0, false),
    OP(FUSE_GETLK, fuse_op_getlk, sizeof(struct fuse_lk_in), sizeof(struct fuse_lk_out), false),
    OP(FUSE_SETLK, fuse_op_setlk, sizeof(struct fuse_lk_in), 0, false),
    OP(FUSE_SETLKW, fuse_op_setlk, sizeof(struct fuse_lk_in), 0, false),
    OP(FUSE_ACCESS, fuse_op_access, sizeof(struct fuse_access_in), 0, false),
    OP(FUSE_CREATE, fuse_op_create, sizeof(struct fuse_create_in),
       sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), true),
    [FUSE_INTERRUPT] = {.fn = op_no_reply, .no_reply = true},
    OP(FUSE_BMAP, op_enosys, 0, 0, false),
    OP(FUSE_DESTROY, op_destroy, 0, 0, false),
    OP(FUSE_IOCTL, fuse_op_ioctl, sizeof(struct fuse_ioctl_in), sizeof(struct fuse_ioctl_out),
       false),
    OP(FUSE_POLL, op_enosys, 0, 0, false),
    [FUSE_BATCH_FORGET] = {.fn = fuse_op_batch_forget,
			   .in_size = sizeof(struct fuse_batch_forget_in),
			   .no_reply = true},
    OP(FUSE_FALLOCATE, fuse_op_fallocate, sizeof(struct fuse_fallocate_in), 0, true),
    OP(FUSE_READDIRPLUS, fuse_op_readdirplus, sizeof(struct fuse_read_in), 0, false),
    OP(FUSE_RENAME2, fuse_op_rename2, sizeof(struct fuse_rename2_in), 0, true),
    OP(FUSE_LSEEK, fuse_op_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out),
       false),
    OP(FUSE_COPY_FILE_RANGE, fuse_op_copy_file_range, sizeof(struct fuse_copy_file_range_in),
       sizeof(struct fuse_write_out), true),
    OP(FUSE_SYNCFS, fuse_op_syncfs, 0, 0, false),
};

static const struct fuse_op *find_op(uint32_t opcode)
{
	if (opcode >= ARRAY_SIZE(fuse_ops) || !fuse_ops[opcode].fn)
		return NULL;
	return &fuse_ops[opcode];
}

static bool server_ready(struct fuse_req *req)
{
	struct fuse_server *srv = req->srv;
	bool ready;

	pthread_mutex_lock(&srv->lock);
	ready = srv->initialized;
	req->flags = srv->flags;
	pthread_mutex_unlock(&srv->lock);
	return ready;
}

/* Checks common to every request, once the header and arguments are copied. */
static size_t dispatch(struct fuse_req *req, const struct fuse_op *op)
{
	pr_trace("fuse: opcode %u, node %llu, %u bytes", req->h.opcode,
		 (unsigned long long)req->h.nodeid, req->h.len);
	if (!op)
		return fuse_reply_err(req, ENOSYS);
	if (!server_ready(req) && req->h.opcode != FUSE_INIT)
		return op->no_reply ? 0 : fuse_reply_err(req, EIO);
	if (req->arglen < op->in_size)
		return op->no_reply ? 0 : fuse_reply_err(req, EINVAL);
	if (op->modifies && req->srv->read_only)
		return fuse_reply_err(req, EROFS);
	if (!op->no_reply && req->out_cap < sizeof(struct fuse_out_header) + op->out_size)
		return fuse_reply_err(req, EINVAL);
	return op->fn(req);
}

size_t fuse_server_handle(struct fuse_server *srv, const struct iovec *in, unsigned int in_count,
			  const struct iovec *out, unsigned int out_count)
{
	uint64_t stack_args[ARGS_ON_STACK / sizeof(uint64_t)];
	struct fuse_req req = {
	    .srv = srv,
	    .in = in,
	    .in_count = in_count,
	    .out = out,
	    .out_count = out_count,
	    .out_cap = iov_length(out, out_count),
	};
	size_t in_total = iov_length(in, in_count), body, ret;
	const struct fuse_op *op;
	void *args = stack_args;

	if (!srv || iov_to_buf(in, in_count, 0, &req.h, sizeof(req.h)) < sizeof(req.h))
		return 0; /* not even a header: nothing to answer to */
	op = find_op(req.h.opcode);
	if (req.h.len < sizeof(req.h) || req.h.len > in_total)
		return op && op->no_reply ? 0 : fuse_reply_err(&req, EINVAL);
	req.in_len = req.h.len;
	body = req.h.len - sizeof(req.h);
	/* WRITE data stays in the guest buffers; everything else is copied once. */
	if (req.h.opcode == FUSE_WRITE)
		body = MIN(body, sizeof(struct fuse_write_in));
	if (body > FUSE_MAX_REQ_ARGS)
		return op && op->no_reply ? 0 : fuse_reply_err(&req, E2BIG);
	if (body > sizeof(stack_args) && !(args = malloc(body)))
		return op && op->no_reply ? 0 : fuse_reply_err(&req, ENOMEM);
	req.arglen = iov_to_buf(in, in_count, sizeof(req.h), args, body);
	req.arg = args;
	ret = dispatch(&req, op);
	if (args != stack_args)
		free(args);
	return ret;
}

/* ---- lifetime ---- */

/* The process umask without changing it (umask() is process-wide and racy). */
static mode_t read_umask(void)
{
	unsigned int mask = 0777; /* unknown: always restore the mode */
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return mask;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Umask: %o", &mask) == 1)
			break;
	}
	fclose(f);
	return mask & 0777;
}

/*
 * Every inode the guest holds costs an O_PATH fd, so a guest walking a big
 * tree needs far more than the usual soft limit of 1024: raise it to the hard
 * limit (the process-wide change virtio-fs servers customarily make).
 */
static void raise_fd_limit(void)
{
	struct rlimit lim;
	size_t headroom;

	if (getrlimit(RLIMIT_NOFILE, &lim))
		return;
	if (lim.rlim_cur < lim.rlim_max) {
		rlim_t want = lim.rlim_cur;

		lim.rlim_cur = lim.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &lim)) {
			pr_debug("fuse: cannot raise the open file limit: %s", strerror(errno));
			lim.rlim_cur = want;
		}
	}
	/* What the servers may hold; the rest stays for everything else. */
	headroom = MAX((size_t)lim.rlim_cur / FUSE_FD_HEADROOM_DIV, (size_t)FUSE_FD_HEADROOM_MIN);
	fuse_fd_budget_set((size_t)lim.rlim_cur > headroom ? (size_t)lim.rlim_cur - headroom : 0);
}

struct fuse_server *fuse_server_new(const char *root_dir, bool read_only)
{
	struct fuse_server *srv;
	int err, probe;

	if (!root_dir) {
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	pthread_mutex_init(&srv->lock, NULL);
	srv->read_only = read_only;
	srv->is_root = geteuid() == 0;
	srv->umask = read_umask();
	clock_gettime(CLOCK_REALTIME, &srv->start_time);
	srv->root_fd = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (srv->root_fd < 0) {
		err = errno;
		pr_err("fuse: cannot open shared directory %s: %s", root_dir, strerror(err));
		goto fail;
	}
	/* Re-opening nodes needs /proc; without it nothing could be opened. */
	probe = fuse_reopen_fd(srv, srv->root_fd, O_PATH);
	if (probe < 0) {
		err = -probe;
		pr_err("fuse: /proc/self/fd is needed: %s", strerror(err));
		goto fail;
	}
	close(probe);
	err = -node_tables_init(srv);
	if (err)
		goto fail;
	raise_fd_limit();
	return srv;
fail:
	fuse_server_free(srv);
	errno = err;
	return NULL;
}

void fuse_server_set_strict(struct fuse_server *srv, bool strict)
{
	srv->strict = strict;
}

void fuse_server_free(struct fuse_server *srv)
{
	if (!srv)
		return;
	node_tables_free(srv);
	ovl_free_all(srv);
	if (srv->root_fd >= 0)
		close(srv->root_fd);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
