// SPDX-License-Identifier: Apache-2.0
/*
 * Operations on names and inodes: lookups, attributes, creation, removal,
 * renames, links, statfs, access. Every host call is relative to a node's
 * O_PATH fd with a single validated name, or on the node fd itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devices/virtio/fs/fuse_priv.h"

#define RENAME_FLAGS_SUPPORTED (RENAME_NOREPLACE | RENAME_EXCHANGE)

/* The request's node as a directory (with a reference), or an error. */
static int get_dir(struct fuse_req *req, uint64_t id, struct fuse_node **dir)
{
	*dir = node_get(req->srv, id);
	if (!*dir)
		return -ENOENT;
	if ((*dir)->type != S_IFDIR) {
		node_put(req->srv, *dir);
		*dir = NULL;
		return -ENOTDIR;
	}
	return 0;
}

/* Whether the guest may create, remove or replace name in dir. */
static int check_modifiable(struct fuse_req *req, struct fuse_node *dir, const char *name)
{
	int err = fuse_check_name(name);

	if (err)
		return err;
	if (dir->ovl || ovl_shadows(req->srv, dir, name))
		return -EROFS;
	return 0;
}

static size_t reply_entry(struct fuse_req *req, int err, const struct fuse_entry_out *e)
{
	return err ? fuse_reply_err(req, -err) : fuse_reply(req, e, sizeof(*e));
}

size_t fuse_op_lookup(struct fuse_req *req)
{
	struct fuse_entry_out e;
	struct fuse_node *dir;
	const char *name;
	size_t pos = 0;
	int err;

	err = fuse_arg_name(req, &pos, &name);
	if (err)
		return fuse_reply_err(req, -err);
	dir = node_get(req->srv, req->h.nodeid);
	if (!dir)
		return fuse_reply_err(req, ENOENT);
	err = fuse_lookup_name(req->srv, dir, name, &e);
	node_put(req->srv, dir);
	/*
	 * "No such name" as an entry with node id 0, which the guest caches
	 * for the entry timeout like a positive one: a name looked up again
	 * and again (glibc checks /etc/localtime at each localtime() call, so
	 * once per line of `ls -l`) costs one round trip. A name created on
	 * the host shows within the timeout, as changes to known names do.
	 */
	if (err == -ENOENT) {
		memset(&e, 0, sizeof(e));
		e.entry_valid = FUSE_TIMEOUT_SEC;
		err = 0;
	}
	return reply_entry(req, err, &e);
}

size_t fuse_op_forget(struct fuse_req *req)
{
	struct fuse_forget_in in;

	memcpy(&in, req->arg, sizeof(in));
	node_forget(req->srv, req->h.nodeid, in.nlookup);
	return 0;
}

size_t fuse_op_batch_forget(struct fuse_req *req)
{
	struct fuse_batch_forget_in in;
	size_t have;

	memcpy(&in, req->arg, sizeof(in));
	have = (req->arglen - sizeof(in)) / sizeof(struct fuse_forget_one);
	for (size_t i = 0; i < MIN((size_t)in.count, have); i++) {
		struct fuse_forget_one one;

		memcpy(&one, req->arg + sizeof(in) + i * sizeof(one), sizeof(one));
		node_forget(req->srv, one.nodeid, one.nlookup);
	}
	return 0;
}

static size_t reply_attr(struct fuse_req *req, struct fuse_node *node)
{
	struct fuse_attr_out out = {.attr_valid = FUSE_TIMEOUT_SEC};
	struct stat st;
	int err = fuse_node_stat(req->srv, node, &st);

	if (err)
		return fuse_reply_err(req, -err);
	fuse_fill_attr(&out.attr, &st);
	return fuse_reply(req, &out, sizeof(out));
}

size_t fuse_op_getattr(struct fuse_req *req)
{
	struct fuse_node *node = node_get(req->srv, req->h.nodeid);
	size_t ret;

	/* The node's O_PATH fd is the same inode as any handle (FUSE_GETATTR_FH). */
	if (!node)
		return fuse_reply_err(req, ENOENT);
	ret = reply_attr(req, node);
	node_put(req->srv, node);
	return ret;
}

static int set_mode(struct fuse_req *req, struct fuse_node *node, struct fuse_handle *h,
		    mode_t mode)
{
	char path[32];

	mode = fuse_allowed_mode(req->srv, node->type, mode & 07777);
	if (h && h->fd >= 0)
		return fchmod(h->fd, mode & 07777) ? -errno : 0;
	if (node->type == S_IFLNK)
		return -EOPNOTSUPP; /* Linux symlinks have no mode of their own */
	fuse_proc_path(path, sizeof(path), node->fd);
	return chmod(path, mode & 07777) ? -errno : 0;
}

static int set_size(struct fuse_req *req, struct fuse_node *node, struct fuse_handle *h,
		    const struct fuse_setattr_in *in)
{
	bool kill = (in->valid & FATTR_KILL_SUIDGID) && (req->flags & FUSE_HANDLE_KILLPRIV_V2);
	int fd = -1, err = 0;
	struct stat st;

	if (in->size > (uint64_t)LLONG_MAX)
		return -EFBIG;
	if (node->type == S_IFDIR)
		return -EISDIR;
	if (node->type != S_IFREG)
		return -EINVAL;
	if (h && h->fd >= 0 && !ftruncate(h->fd, (off_t)in->size))
		fd = h->fd;
	if (fd < 0) {
		fd = fuse_reopen_node(req->srv, node, O_WRONLY);
		if (fd < 0)
			return fd;
		if (ftruncate(fd, (off_t)in->size))
			err = -errno;
	}
	if (!err && kill && !fstat(fd, &st))
		err = fuse_kill_suidgid(fd, &st);
	if (fd != (h ? h->fd : -1))
		close(fd);
	return err;
}

static int check_nsec(uint32_t nsec)
{
	return nsec < 1000000000u ? 0 : -EINVAL;
}

static int set_times(struct fuse_node *node, const struct fuse_setattr_in *in)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};

	if (in->valid & FATTR_ATIME_NOW) {
		ts[0].tv_nsec = UTIME_NOW;
	} else if (in->valid & FATTR_ATIME) {
		if (check_nsec(in->atimensec) || in->atime > (uint64_t)LLONG_MAX)
			return -EINVAL;
		ts[0] = (struct timespec){.tv_sec = (time_t)in->atime, .tv_nsec = in->atimensec};
	}
	if (in->valid & FATTR_MTIME_NOW) {
		ts[1].tv_nsec = UTIME_NOW;
	} else if (in->valid & FATTR_MTIME) {
		if (check_nsec(in->mtimensec) || in->mtime > (uint64_t)LLONG_MAX)
			return -EINVAL;
		ts[1] = (struct timespec){.tv_sec = (time_t)in->mtime, .tv_nsec = in->mtimensec};
	}
	return utimensat(node->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int set_owner(struct fuse_node *node, const struct fuse_setattr_in *in)
{
	uid_t uid = (in->valid & FATTR_UID) ? in->uid : (uid_t)-1;
	gid_t gid = (in->valid & FATTR_GID) ? in->gid : (gid_t)-1;

	if (fchownat(node->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* Apply in order: owner (which may clear setuid), mode, size, times. */
static int do_setattr(struct fuse_req *req, struct fuse_node *node,
		      const struct fuse_setattr_in *in)
{
	struct fuse_handle *h = NULL;
	int err = 0;

	if (node->ovl)
		return -EROFS;
	if (in->valid & FATTR_FH)
		h = handle_get(req->srv, in->fh, HANDLE_FILE);
	if (h && h->node != node) {
		handle_put(req->srv, h);
		h = NULL;
	}
	if (in->valid & (FATTR_UID | FATTR_GID))
		err = set_owner(node, in);
	if (!err && (in->valid & FATTR_MODE))
		err = set_mode(req, node, h, in->mode);
	if (!err && (in->valid & FATTR_SIZE))
		err = set_size(req, node, h, in);
	if (!err && (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)))
		err = set_times(node, in);
	handle_put(req->srv, h);
	return err;
}

size_t fuse_op_setattr(struct fuse_req *req)
{
	struct fuse_setattr_in in;
	struct fuse_node *node;
	size_t ret;
	int err;

	memcpy(&in, req->arg, sizeof(in));
	node = node_get(req->srv, req->h.nodeid);
	if (!node)
		return fuse_reply_err(req, ENOENT);
	err = do_setattr(req, node, &in);
	ret = err ? fuse_reply_err(req, -err) : reply_attr(req, node);
	node_put(req->srv, node);
	return ret;
}

size_t fuse_op_readlink(struct fuse_req *req)
{
	struct fuse_node *node = node_get(req->srv, req->h.nodeid);
	char target[PATH_MAX];
	ssize_t len = -1;
	int err = EINVAL;

	if (!node)
		return fuse_reply_err(req, ENOENT);
	if (node->type == S_IFLNK && node->fd >= 0) {
		len = readlinkat(node->fd, "", target, sizeof(target));
		err = errno;
	}
	node_put(req->srv, node);
	if (len < 0)
		return fuse_reply_err(req, err);
	return fuse_reply(req, target, (size_t)len); /* verbatim, never followed here */
}

/*
 * The entry for a name this request just created in dir. The inode was
 * created with its owner and mode: nothing is changed through the name,
 * which may already name something else.
 */
static size_t reply_created(struct fuse_req *req, struct fuse_node *dir, const char *name,
			    mode_t mode)
{
	struct fuse_entry_out e;
	int fd, err;

	fd = fuse_open_beneath(dir->fd, name, O_PATH, 0);
	if (fd < 0)
		return fuse_reply_err(req, -fd);
	fuse_fix_new_mode(req, fd, mode);
	err = fuse_entry_from_fd(req->srv, fd, &e);
	return reply_entry(req, err, &e);
}

/* Shared by SYMLINK, MKNOD and MKDIR: dir and name checks around a creator. */
struct create_args {
	const char *name;
	const char *target; /* SYMLINK */
	mode_t mode;
	dev_t rdev;
};

static int create_node(struct fuse_req *req, struct fuse_node *dir, const struct create_args *a)
{
	struct fuse_creds creds;
	int ret;

	fuse_creds_enter(req, &creds);
	switch (a->mode & S_IFMT) {
	case S_IFLNK:
		ret = symlinkat(a->target, dir->fd, a->name);
		break;
	case S_IFDIR:
		ret = mkdirat(dir->fd, a->name, a->mode & 07777);
		break;
	default:
		ret = mknodat(dir->fd, a->name, a->mode, a->rdev);
		break;
	}
	ret = ret ? -errno : 0;
	fuse_creds_leave(&creds);
	return ret;
}

static size_t do_create(struct fuse_req *req, const struct create_args *a)
{
	struct fuse_node *dir;
	size_t ret;
	int err;

	err = get_dir(req, req->h.nodeid, &dir);
	if (!err)
		err = check_modifiable(req, dir, a->name);
	if (!err)
		err = create_node(req, dir, a);
	ret = err ? fuse_reply_err(req, -err) : reply_created(req, dir, a->name, a->mode);
	node_put(req->srv, dir);
	return ret;
}

size_t fuse_op_symlink(struct fuse_req *req)
{
	struct create_args a = {.mode = S_IFLNK | 0777};
	size_t pos = 0;

	if (fuse_arg_name(req, &pos, &a.name) || fuse_arg_name(req, &pos, &a.target))
		return fuse_reply_err(req, EINVAL);
	if (!a.target[0])
		return fuse_reply_err(req, ENOENT);
	if (strlen(a.target) > FUSE_SYMLINK_MAX)
		return fuse_reply_err(req, ENAMETOOLONG);
	return do_create(req, &a);
}

/* FUSE carries device numbers in the kernel's "new" 32-bit encoding. */
static dev_t decode_dev(uint32_t dev)
{
	return makedev((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
}

size_t fuse_op_mknod(struct fuse_req *req)
{
	struct fuse_mknod_in in;
	struct create_args a;
	size_t pos = sizeof(in);

	memcpy(&in, req->arg, sizeof(in));
	if (fuse_arg_name(req, &pos, &a.name))
		return fuse_reply_err(req, EINVAL);
	a.mode = in.mode & (S_IFMT | 07777);
	if (!(a.mode & S_IFMT))
		a.mode |= S_IFREG;
	switch (a.mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return fuse_reply_err(req, EINVAL);
	}
	/* A strict share: no device nodes, however harmless their numbers. */
	if (req->srv->strict && (S_ISCHR(a.mode) || S_ISBLK(a.mode)))
		return fuse_reply_err(req, EPERM);
	a.mode = (a.mode & S_IFMT) | fuse_allowed_mode(req->srv, a.mode & S_IFMT, a.mode & 07777);
	a.rdev = decode_dev(in.rdev);
	return do_create(req, &a);
}

size_t fuse_op_mkdir(struct fuse_req *req)
{
	struct fuse_mkdir_in in;
	struct create_args a;
	size_t pos = sizeof(in);

	memcpy(&in, req->arg, sizeof(in));
	if (fuse_arg_name(req, &pos, &a.name))
		return fuse_reply_err(req, EINVAL);
	a.mode = S_IFDIR | (in.mode & 07777);
	return do_create(req, &a);
}

static size_t do_remove(struct fuse_req *req, int flags)
{
	struct fuse_node *dir;
	const char *name;
	size_t pos = 0;
	int err;

	if (fuse_arg_name(req, &pos, &name))
		return fuse_reply_err(req, EINVAL);
	err = get_dir(req, req->h.nodeid, &dir);
	if (!err)
		err = check_modifiable(req, dir, name);
	if (!err && unlinkat(dir->fd, name, flags))
		err = -errno;
	node_put(req->srv, dir);
	return fuse_reply_status(req, err);
}

size_t fuse_op_unlink(struct fuse_req *req)
{
	return do_remove(req, 0);
}

size_t fuse_op_rmdir(struct fuse_req *req)
{
	return do_remove(req, AT_REMOVEDIR);
}

static size_t do_rename(struct fuse_req *req, uint64_t newdir_id, uint32_t flags, size_t pos)
{
	struct fuse_node *olddir = NULL, *newdir = NULL;
	const char *oldname, *newname;
	int err;

	if (fuse_arg_name(req, &pos, &oldname) || fuse_arg_name(req, &pos, &newname))
		return fuse_reply_err(req, EINVAL);
	if (flags & ~RENAME_FLAGS_SUPPORTED)
		return fuse_reply_err(req, EINVAL); /* RENAME_WHITEOUT included */
	err = get_dir(req, req->h.nodeid, &olddir);
	if (!err)
		err = get_dir(req, newdir_id, &newdir);
	if (!err)
		err = check_modifiable(req, olddir, oldname);
	if (!err)
		err = check_modifiable(req, newdir, newname);
	if (!err && renameat2(olddir->fd, oldname, newdir->fd, newname, flags))
		err = -errno;
	node_put(req->srv, olddir);
	node_put(req->srv, newdir);
	return fuse_reply_status(req, err);
}

size_t fuse_op_rename(struct fuse_req *req)
{
	struct fuse_rename_in in;

	memcpy(&in, req->arg, sizeof(in));
	return do_rename(req, in.newdir, 0, sizeof(in));
}

size_t fuse_op_rename2(struct fuse_req *req)
{
	struct fuse_rename2_in in;

	memcpy(&in, req->arg, sizeof(in));
	return do_rename(req, in.newdir, in.flags, sizeof(in));
}

/*
 * linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; without it, link through
 * the node's magic link, which names the inode itself (a symlink is linked,
 * not followed).
 */
static int link_node(struct fuse_node *node, struct fuse_node *dir, const char *name)
{
	char path[32];

	if (!linkat(node->fd, "", dir->fd, name, AT_EMPTY_PATH))
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	fuse_proc_path(path, sizeof(path), node->fd);
	return linkat(AT_FDCWD, path, dir->fd, name, AT_SYMLINK_FOLLOW) ? -errno : 0;
}

size_t fuse_op_link(struct fuse_req *req)
{
	struct fuse_node *dir = NULL, *node;
	struct fuse_link_in in;
	struct fuse_entry_out e;
	const char *name;
	size_t pos = sizeof(in);
	int err;

	memcpy(&in, req->arg, sizeof(in));
	if (fuse_arg_name(req, &pos, &name))
		return fuse_reply_err(req, EINVAL);
	node = node_get(req->srv, in.oldnodeid);
	if (!node)
		return fuse_reply_err(req, ENOENT);
	err = get_dir(req, req->h.nodeid, &dir);
	if (!err)
		err = check_modifiable(req, dir, name);
	if (!err && node->ovl)
		err = -EROFS;
	if (!err && node->type == S_IFDIR)
		err = -EPERM;
	if (!err)
		err = link_node(node, dir, name);
	if (!err)
		err = fuse_lookup_host(req->srv, dir->fd, name, &e);
	node_put(req->srv, node);
	node_put(req->srv, dir);
	return reply_entry(req, err, &e);
}

size_t fuse_op_statfs(struct fuse_req *req)
{
	struct fuse_node *node = node_get(req->srv, req->h.nodeid);
	struct fuse_statfs_out out = {0};
	struct statfs sf;
	int ret;

	if (!node)
		return fuse_reply_err(req, ENOENT);
	ret = fstatfs(node->fd >= 0 ? node->fd : req->srv->root_fd, &sf);
	node_put(req->srv, node);
	if (ret)
		return fuse_reply_err(req, errno);
	out.st.blocks = sf.f_blocks;
	out.st.bfree = sf.f_bfree;
	out.st.bavail = sf.f_bavail;
	out.st.files = sf.f_files;
	out.st.ffree = sf.f_ffree;
	out.st.bsize = (uint32_t)sf.f_bsize;
	out.st.namelen = (uint32_t)MIN(sf.f_namelen, FUSE_HOST_NAME_MAX);
	out.st.frsize = (uint32_t)sf.f_frsize;
	return fuse_reply(req, &out, sizeof(out));
}

/*
 * ACCESS, evaluated for the caller's uid/gid against the host attributes
 * (the server itself may run as root). Supplementary groups are unknown to
 * FUSE; the guest kernel normally checks permissions itself.
 */
static int check_access(struct fuse_req *req, const struct fuse_node *node, const struct stat *st,
			uint32_t mask)
{
	mode_t bits;

	if ((mask & W_OK) && (req->srv->read_only || node->ovl))
		return -EROFS;
	if (!req->h.uid) {
		if ((mask & X_OK) && !S_ISDIR(st->st_mode) && !(st->st_mode & 0111))
			return -EACCES;
		return 0;
	}
	if (st->st_uid == req->h.uid)
		bits = (st->st_mode >> 6) & 7;
	else if (st->st_gid == req->h.gid)
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (mask & 7 & ~bits) ? -EACCES : 0;
}

size_t fuse_op_access(struct fuse_req *req)
{
	struct fuse_node *node = node_get(req->srv, req->h.nodeid);
	struct fuse_access_in in;
	struct stat st;
	int err;

	memcpy(&in, req->arg, sizeof(in));
	if (!node)
		return fuse_reply_err(req, ENOENT);
	err = fuse_node_stat(req->srv, node, &st);
	if (!err)
		err = check_access(req, node, &st, in.mask);
	node_put(req->srv, node);
	return fuse_reply_status(req, err);
}
