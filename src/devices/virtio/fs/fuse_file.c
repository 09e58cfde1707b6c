// SPDX-License-Identifier: Apache-2.0
/*
 * Open files: OPEN/CREATE, READ/WRITE straight between the host file and the
 * guest buffers (preadv/pwritev, no bounce buffer), and the per-handle
 * operations. Locks:
 *  - POSIX locks are OFD locks on the handle's host fd (F_OFD_*), so they
 *    belong to the guest's open file rather than to a guest process;
 *  - FUSE_LK_FLOCK requests are flock() on the same fd;
 *  - SETLKW never blocks: a conflicting lock fails at once with EAGAIN. A
 *    blocking wait could stall the virtqueue that would carry the unlock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "devices/virtio/fs/fuse_priv.h"

/* iovecs handed to one preadv/pwritev call; larger chains loop. */
#define IO_SEGS 64
/* COPY_FILE_RANGE replies a 32-bit size: the Linux client's own clamp. */
#define COPY_MAX 0xfffff000u

/* The guest's open flags that mean something on the host. */
static int host_open_flags(uint32_t guest)
{
	/* O_DIRECT is dropped: guest buffers need not meet host alignment. */
	return (int)(guest & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC));
}

static bool open_writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static bool killpriv(struct fuse_req *req)
{
	return req->flags & FUSE_HANDLE_KILLPRIV_V2;
}

static size_t reply_open(struct fuse_req *req, struct fuse_node *node, int fd)
{
	struct fuse_open_out out = {0};

	out.fh = handle_add(req->srv, HANDLE_FILE, fd, node, NULL);
	if (!out.fh) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return fuse_reply_err(req, err);
	}
	return fuse_reply(req, &out, sizeof(out));
}

/* *fd: the host fd, or -1 for an overlay file whose handle serves its data. */
static int open_node(struct fuse_req *req, struct fuse_node *node, const struct fuse_open_in *in,
		     int *fd)
{
	int flags = host_open_flags(in->flags);
	struct stat st;

	*fd = -1;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if (node->type == S_IFDIR)
		return -EISDIR;
	if (open_writes(flags) && (node->ovl || req->srv->read_only))
		return -EROFS;
	if (node->ovl)
		return 0;
	*fd = fuse_reopen_node(req->srv, node, flags);
	if (*fd < 0)
		return *fd;
	if ((flags & O_TRUNC) && (in->open_flags & FUSE_OPEN_KILL_SUIDGID) && killpriv(req) &&
	    !fstat(*fd, &st))
		fuse_kill_suidgid(*fd, &st);
	return 0;
}

size_t fuse_op_open(struct fuse_req *req)
{
	struct fuse_node *node = node_get(req->srv, req->h.nodeid);
	struct fuse_open_in in;
	size_t ret;
	int fd, err;

	memcpy(&in, req->arg, sizeof(in));
	if (!node)
		return fuse_reply_err(req, ENOENT);
	err = open_node(req, node, &in, &fd);
	ret = err ? fuse_reply_err(req, -err) : reply_open(req, node, fd);
	node_put(req->srv, node);
	return ret;
}

/*
 * Open an existing name for CREATE without O_EXCL: only a regular file, and
 * re-opened from an O_PATH fd, so that a FIFO, a device node or a symlink
 * swapped in under the name is never opened.
 */
static int open_existing(struct fuse_req *req, int dirfd, const char *name, int flags)
{
	int pfd = fuse_open_beneath(dirfd, name, O_PATH, 0), fd;
	struct stat st;

	if (pfd < 0)
		return pfd;
	if (fstatat(pfd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		fd = -errno;
	else if (S_ISDIR(st.st_mode))
		fd = -EISDIR;
	else if (S_ISLNK(st.st_mode))
		fd = -ELOOP;
	else if (!S_ISREG(st.st_mode))
		fd = -ENXIO;
	else
		fd = fuse_reopen_fd(req->srv, pfd, flags);
	close(pfd);
	return fd;
}

/* Returns an fd open with the guest's flags; *created tells whether it is new. */
static int create_open(struct fuse_req *req, int dirfd, const char *name,
		       const struct fuse_create_in *in, bool *created)
{
	int flags = host_open_flags(in->flags), fd = -ENOENT;

	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	/* Retry if the name vanishes or appears between the two attempts. */
	for (int tries = 0; tries < 3 && (fd == -ENOENT || fd == -EEXIST); tries++) {
		struct fuse_creds creds;

		fuse_creds_enter(req, &creds);
		fd = fuse_open_beneath(dirfd, name, flags | O_CREAT | O_EXCL,
				       fuse_allowed_mode(req->srv, S_IFREG, in->mode & 07777));
		fuse_creds_leave(&creds);
		*created = fd >= 0;
		if (fd == -EEXIST && !(in->flags & O_EXCL))
			fd = open_existing(req, dirfd, name, flags);
		else if (fd == -EEXIST)
			break;
	}
	return fd;
}

static size_t reply_create(struct fuse_req *req, struct fuse_node *dir, int fd, bool created,
			   const struct fuse_create_in *in)
{
	struct fuse_entry_out e;
	struct fuse_open_out oo = {0};
	struct fuse_node *node;
	int pfd = fuse_reopen_fd(req->srv, fd, O_PATH), err;

	(void)dir;
	if (pfd < 0) {
		close(fd);
		return fuse_reply_err(req, -pfd);
	}
	/* Through the fd the creating open() returned: this very inode. */
	if (created)
		fuse_fix_new_mode(req, pfd, in->mode);
	err = fuse_entry_from_fd(req->srv, pfd, &e);
	if (err) {
		close(fd);
		return fuse_reply_err(req, -err);
	}
	node = node_get(req->srv, e.nodeid);
	errno = ENOENT;
	oo.fh = node ? handle_add(req->srv, HANDLE_FILE, fd, node, NULL) : 0;
	err = errno;
	node_put(req->srv, node);
	if (!oo.fh) {
		close(fd);
		node_forget(req->srv, e.nodeid, 1);
		return fuse_reply_err(req, err);
	}
	return fuse_reply_iov(req, (struct iovec[]){{&e, sizeof(e)}, {&oo, sizeof(oo)}}, 2);
}

size_t fuse_op_create(struct fuse_req *req)
{
	struct fuse_create_in in;
	struct fuse_node *dir;
	const char *name;
	size_t pos = sizeof(in), ret;
	bool created = false;
	int err, fd;

	memcpy(&in, req->arg, sizeof(in));
	if (fuse_arg_name(req, &pos, &name))
		return fuse_reply_err(req, EINVAL);
	err = fuse_check_name(name);
	if (err)
		return fuse_reply_err(req, -err);
	dir = node_get(req->srv, req->h.nodeid);
	if (!dir)
		return fuse_reply_err(req, ENOENT);
	if (dir->type != S_IFDIR)
		ret = fuse_reply_err(req, ENOTDIR);
	else if (dir->ovl || ovl_shadows(req->srv, dir, name))
		ret = fuse_reply_err(req, EROFS);
	else if ((fd = create_open(req, dir->fd, name, &in, &created)) < 0)
		ret = fuse_reply_err(req, -fd);
	else
		ret = reply_create(req, dir, fd, created, &in);
	node_put(req->srv, dir);
	return ret;
}

static size_t read_overlay(struct fuse_req *req, const struct ovl_entry *ovl, uint64_t off,
			   size_t size)
{
	size_t n = off < ovl->len ? MIN(size, ovl->len - (size_t)off) : 0;

	return fuse_reply(req, n ? ovl->data + off : NULL, n);
}

/* preadv into the out buffers after the reply header; returns bytes or -errno. */
static ssize_t read_to_guest(struct fuse_req *req, int fd, off_t off, size_t size)
{
	size_t done = 0;

	while (done < size) {
		struct iovec iov[IO_SEGS];
		size_t got;
		unsigned int n =
		    iov_slice(req->out, req->out_count, sizeof(struct fuse_out_header) + done,
			      size - done, iov, IO_SEGS, &got);
		ssize_t r;

		if (!n)
			break;
		r = preadv(fd, iov, (int)n, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : -errno;
		done += (size_t)r;
		if ((size_t)r < got)
			break; /* end of file */
	}
	return (ssize_t)done;
}

size_t fuse_op_read(struct fuse_req *req)
{
	struct fuse_out_header oh = {.unique = req->h.unique};
	struct fuse_read_in in;
	struct fuse_handle *h;
	size_t size;
	ssize_t r;

	memcpy(&in, req->arg, sizeof(in));
	if (req->out_cap < sizeof(oh))
		return 0;
	if (in.offset > (uint64_t)LLONG_MAX)
		return fuse_reply_err(req, EINVAL);
	h = handle_get(req->srv, in.fh, HANDLE_FILE);
	if (!h)
		return fuse_reply_err(req, EBADF);
	size = MIN((size_t)in.size, req->out_cap - sizeof(oh));
	size = MIN(size, (size_t)FUSE_MAX_READ);
	if (h->fd < 0) {
		size_t ret = read_overlay(req, h->node->ovl, in.offset, size);

		handle_put(req->srv, h);
		return ret;
	}
	r = read_to_guest(req, h->fd, (off_t)in.offset, size);
	handle_put(req->srv, h);
	if (r < 0)
		return fuse_reply_err(req, (int)-r);
	oh.len = (uint32_t)(sizeof(oh) + (size_t)r);
	return buf_to_iov(req->out, req->out_count, 0, &oh, sizeof(oh)) + (size_t)r;
}

/* pwritev from the request buffers that follow fuse_write_in. */
static ssize_t write_from_guest(struct fuse_req *req, int fd, off_t off, size_t size)
{
	size_t base = sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in), done = 0;

	while (done < size) {
		struct iovec iov[IO_SEGS];
		size_t got;
		unsigned int n =
		    iov_slice(req->in, req->in_count, base + done, size - done, iov, IO_SEGS, &got);
		ssize_t r;

		if (!n)
			break;
		r = pwritev(fd, iov, (int)n, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : -errno;
		done += (size_t)r;
		if ((size_t)r < got)
			break;
	}
	return (ssize_t)done;
}

size_t fuse_op_write(struct fuse_req *req)
{
	size_t base = sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in);
	struct fuse_write_out out = {0};
	struct fuse_write_in in;
	struct fuse_handle *h;
	struct stat st;
	ssize_t r;

	memcpy(&in, req->arg, sizeof(in));
	/* The size field is only a claim: the data must really be there. */
	if (in.size > req->in_len - base || in.offset > (uint64_t)LLONG_MAX)
		return fuse_reply_err(req, EINVAL);
	h = handle_get(req->srv, in.fh, HANDLE_FILE);
	if (!h)
		return fuse_reply_err(req, EBADF);
	if (h->fd < 0) {
		handle_put(req->srv, h);
		return fuse_reply_err(req, EROFS);
	}
	if ((in.write_flags & FUSE_WRITE_KILL_SUIDGID) && killpriv(req) && !fstat(h->fd, &st))
		fuse_kill_suidgid(h->fd, &st);
	r = write_from_guest(req, h->fd, (off_t)in.offset, in.size);
	handle_put(req->srv, h);
	if (r < 0)
		return fuse_reply_err(req, (int)-r);
	out.size = (uint32_t)r;
	return fuse_reply(req, &out, sizeof(out));
}

size_t fuse_op_release(struct fuse_req *req)
{
	struct fuse_release_in in;

	memcpy(&in, req->arg, sizeof(in));
	return fuse_reply_status(req, handle_release(req->srv, in.fh, HANDLE_FILE));
}

/*
 * The guest closed one of its fds of the file. Closing a duplicate of the
 * host fd does on the host what that close means: a host filesystem that
 * writes back at close (NFS) does so now and reports its error (ENOSPC,
 * EDQUOT) to the guest's close(), not to nobody at RELEASE.
 */
size_t fuse_op_flush(struct fuse_req *req)
{
	struct fuse_flush_in in;
	struct fuse_handle *h;
	int err = 0, fd;

	memcpy(&in, req->arg, sizeof(in));
	h = handle_get(req->srv, in.fh, HANDLE_FILE);
	if (!h)
		return fuse_reply_err(req, EBADF);
	if (h->fd >= 0) {
		fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 || close(fd))
			err = -errno;
	}
	handle_put(req->srv, h);
	return fuse_reply_status(req, err);
}

/* FSYNC and FSYNCDIR: the same, on a file or a directory handle. */
size_t fuse_fsync_handle(struct fuse_req *req, enum handle_kind kind)
{
	struct fuse_fsync_in in;
	struct fuse_handle *h;
	int ret = 0;

	memcpy(&in, req->arg, sizeof(in));
	h = handle_get(req->srv, in.fh, kind);
	if (!h)
		return fuse_reply_err(req, EBADF);
	if (h->fd >= 0) {
		if (in.fsync_flags & FUSE_FSYNC_FDATASYNC)
			ret = fdatasync(h->fd);
		else
			ret = fsync(h->fd);
		ret = ret ? -errno : 0;
	}
	handle_put(req->srv, h);
	return fuse_reply_status(req, ret);
}

size_t fuse_op_fsync(struct fuse_req *req)
{
	return fuse_fsync_handle(req, HANDLE_FILE);
}

/* A handle with a host fd, or an error for the reply. */
static int get_host_handle(struct fuse_req *req, uint64_t fh, struct fuse_handle **h)
{
	*h = handle_get(req->srv, fh, HANDLE_FILE);
	if (!*h)
		return -EBADF;
	if ((*h)->fd < 0) {
		handle_put(req->srv, *h);
		*h = NULL;
		return -EROFS;
	}
	return 0;
}

size_t fuse_op_fallocate(struct fuse_req *req)
{
	struct fuse_fallocate_in in;
	struct fuse_handle *h;
	int err;

	memcpy(&in, req->arg, sizeof(in));
	if (in.offset > (uint64_t)LLONG_MAX || in.length > (uint64_t)LLONG_MAX)
		return fuse_reply_err(req, EINVAL);
	err = get_host_handle(req, in.fh, &h);
	if (!err && fallocate(h->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length))
		err = -errno;
	handle_put(req->srv, h);
	return fuse_reply_status(req, err);
}

static int lseek_overlay(const struct ovl_entry *ovl, const struct fuse_lseek_in *in,
			 struct fuse_lseek_out *out)
{
	if (in->whence == SEEK_DATA && in->offset < ovl->len)
		out->offset = in->offset;
	else if (in->whence == SEEK_HOLE && in->offset < ovl->len)
		out->offset = ovl->len;
	else if (in->whence == SEEK_SET)
		out->offset = in->offset;
	else
		return -ENXIO;
	return 0;
}

size_t fuse_op_lseek(struct fuse_req *req)
{
	struct fuse_lseek_out out = {0};
	struct fuse_lseek_in in;
	struct fuse_handle *h;
	off_t r;
	int err = 0;

	memcpy(&in, req->arg, sizeof(in));
	if (in.offset > (uint64_t)LLONG_MAX || in.whence > SEEK_HOLE)
		return fuse_reply_err(req, EINVAL);
	h = handle_get(req->srv, in.fh, HANDLE_FILE);
	if (!h)
		return fuse_reply_err(req, EBADF);
	if (h->fd < 0) {
		err = lseek_overlay(h->node->ovl, &in, &out);
	} else {
		/* Only the result matters: I/O never uses the fd's position. */
		r = lseek(h->fd, (off_t)in.offset, (int)in.whence);
		if (r < 0)
			err = -errno;
		else
			out.offset = (uint64_t)r;
	}
	handle_put(req->srv, h);
	return err ? fuse_reply_err(req, -err) : fuse_reply(req, &out, sizeof(out));
}

size_t fuse_op_copy_file_range(struct fuse_req *req)
{
	struct fuse_handle *hin = NULL, *hout = NULL;
	struct fuse_copy_file_range_in in;
	struct fuse_write_out out = {0};
	loff_t off_in, off_out;
	ssize_t r = -1;
	int err;

	memcpy(&in, req->arg, sizeof(in));
	if (in.flags || in.off_in > (uint64_t)LLONG_MAX || in.off_out > (uint64_t)LLONG_MAX)
		return fuse_reply_err(req, EINVAL);
	off_in = (loff_t)in.off_in;
	off_out = (loff_t)in.off_out;
	/* An overlay source has no fd: EXDEV makes the client copy by hand. */
	err = get_host_handle(req, in.fh_in, &hin);
	if (err == -EROFS)
		err = -EXDEV;
	if (!err)
		err = get_host_handle(req, in.fh_out, &hout);
	if (!err) {
		r = copy_file_range(hin->fd, &off_in, hout->fd, &off_out,
				    (size_t)MIN(in.len, (uint64_t)COPY_MAX), 0);
		err = r < 0 ? -errno : 0;
	}
	handle_put(req->srv, hin);
	handle_put(req->srv, hout);
	if (err)
		return fuse_reply_err(req, -err);
	out.size = (uint32_t)r;
	return fuse_reply(req, &out, sizeof(out));
}

/* FUSE lock range [start, end] (end OFFSET_MAX: to EOF) to struct flock. */
static int to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
	uint64_t end = MIN(lk->end, (uint64_t)LLONG_MAX);

	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return -EINVAL;
	if (lk->start > (uint64_t)LLONG_MAX || end < lk->start)
		return -EINVAL;
	memset(fl, 0, sizeof(*fl));
	fl->l_type = (short)lk->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)lk->start;
	fl->l_len = end == (uint64_t)LLONG_MAX ? 0 : (off_t)(end - lk->start + 1);
	return 0;
}

size_t fuse_op_getlk(struct fuse_req *req)
{
	struct fuse_lk_out out = {0};
	struct fuse_handle *h;
	struct fuse_lk_in in;
	struct flock fl;
	int err;

	memcpy(&in, req->arg, sizeof(in));
	err = to_flock(&in.lk, &fl);
	if (err)
		return fuse_reply_err(req, -err);
	h = handle_get(req->srv, in.fh, HANDLE_FILE);
	if (!h)
		return fuse_reply_err(req, EBADF);
	if (h->fd < 0)
		fl.l_type = F_UNLCK; /* nobody can lock overlay data on the host */
	else if (fcntl(h->fd, F_OFD_GETLK, &fl))
		err = -errno;
	handle_put(req->srv, h);
	if (err)
		return fuse_reply_err(req, -err);
	out.lk = in.lk;
	out.lk.type = (uint32_t)fl.l_type;
	out.lk.pid = 0; /* OFD locks have no owning process */
	if (fl.l_type != F_UNLCK) {
		out.lk.start = (uint64_t)fl.l_start;
		out.lk.end = fl.l_len ? (uint64_t)(fl.l_start + fl.l_len - 1) : (uint64_t)LLONG_MAX;
	}
	return fuse_reply(req, &out, sizeof(out));
}

static int set_flock(int fd, uint32_t type)
{
	int op = type == F_RDLCK ? LOCK_SH : type == F_WRLCK ? LOCK_EX : LOCK_UN;

	if (flock(fd, op | LOCK_NB))
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

/* SETLK and SETLKW alike: never wait (see the top of this file). */
size_t fuse_op_setlk(struct fuse_req *req)
{
	struct fuse_handle *h;
	struct fuse_lk_in in;
	struct flock fl;
	int err;

	memcpy(&in, req->arg, sizeof(in));
	err = to_flock(&in.lk, &fl);
	if (err)
		return fuse_reply_err(req, -err);
	h = handle_get(req->srv, in.fh, HANDLE_FILE);
	if (!h)
		return fuse_reply_err(req, EBADF);
	if (h->fd < 0)
		err = 0;
	else if (in.lk_flags & FUSE_LK_FLOCK)
		err = set_flock(h->fd, in.lk.type);
	else if (fcntl(h->fd, F_OFD_SETLK, &fl))
		err = (errno == EACCES || errno == EAGAIN) ? -EAGAIN : -errno;
	handle_put(req->srv, h);
	return fuse_reply_status(req, err);
}

size_t fuse_op_syncfs(struct fuse_req *req)
{
	int fd = fuse_reopen_node(req->srv, req->srv->root, O_RDONLY | O_DIRECTORY), err = 0;

	if (fd < 0)
		return fuse_reply_err(req, -fd);
	if (syncfs(fd))
		err = -errno;
	close(fd);
	return fuse_reply_status(req, err);
}
