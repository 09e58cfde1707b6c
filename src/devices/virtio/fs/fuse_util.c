// SPDX-License-Identifier: Apache-2.0
/*
 * Host-side helpers of the FUSE server: guest names, confined opens, re-opens
 * of O_PATH nodes, attributes and entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devices/virtio/fs/fuse_priv.h"
#include "vmm/log.h"

/* A deep but finite walk when checking that a ".." stays under the root. */
#define MAX_DOTDOT_DEPTH 4096

/* A name that creates or removes an entry: exactly one ordinary component. */
int fuse_check_name(const char *name)
{
	size_t len = strlen(name);

	if (!len || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (len > FUSE_HOST_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* The NUL-terminated string at arg + *pos; *pos moves past its NUL. */
int fuse_arg_name(struct fuse_req *req, size_t *pos, const char **name)
{
	const char *s = (const char *)req->arg + *pos;
	const char *nul;

	if (*pos >= req->arglen)
		return -EINVAL;
	nul = memchr(s, 0, req->arglen - *pos);
	if (!nul)
		return -EINVAL;
	*name = s;
	*pos += (size_t)(nul - s) + 1;
	return 0;
}

/*
 * Open one component below dirfd without following any symlink, magic link or
 * ".." out of dirfd. Callers have validated name as a single component, so
 * the openat() fallback for kernels without openat2 is just as confined.
 */
int fuse_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	static bool no_openat2;
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
	    .mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (strchr(name, '/'))
		return -EINVAL;
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS)
			return -errno;
		__atomic_store_n(&no_openat2, true, __ATOMIC_RELAXED);
	}
	fd = openat(dirfd, name, (int)how.flags, (mode_t)how.mode);
	return fd >= 0 ? fd : -errno;
}

void fuse_proc_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/*
 * A real fd for a node, through its /proc/self/fd magic link. Only regular
 * files and directories qualify: re-opening anything else would follow a
 * symlink (ELOOP) or open a device or FIFO on the host.
 */
int fuse_reopen_node(struct fuse_server *srv, const struct fuse_node *node, int flags)
{
	if (node->fd < 0)
		return -EROFS;
	if (node->type == S_IFLNK)
		return -ELOOP;
	if (node->type != S_IFREG && node->type != S_IFDIR)
		return -ENXIO;
	return fuse_reopen_fd(srv, node->fd, flags);
}

/*
 * The magic-link re-open itself: callers have checked the inode's type. The
 * path is resolved at each call (not through a cached /proc/<pid> fd) so that
 * it stays right in a forked child.
 */
int fuse_reopen_fd(struct fuse_server *srv, int fd, int flags)
{
	char path[32];
	int ret;

	(void)srv;
	fuse_proc_path(path, sizeof(path), fd);
	ret = open(path, flags | O_CLOEXEC);
	return ret >= 0 ? ret : -errno;
}

int fuse_node_stat(struct fuse_server *srv, const struct fuse_node *node, struct stat *st)
{
	if (node->ovl) {
		ovl_stat(srv, node->ovl, st);
		return 0;
	}
	if (fstatat(node->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* The kernel's "new" 32-bit device encoding, as FUSE carries it. */
static uint32_t encode_dev(dev_t dev)
{
	uint32_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xffu) << 12);
}

void fuse_fill_attr(struct fuse_attr *attr, const struct stat *st)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = st->st_ino;
	attr->size = (uint64_t)st->st_size;
	attr->blocks = (uint64_t)st->st_blocks;
	attr->atime = (uint64_t)st->st_atim.tv_sec;
	attr->mtime = (uint64_t)st->st_mtim.tv_sec;
	attr->ctime = (uint64_t)st->st_ctim.tv_sec;
	attr->atimensec = (uint32_t)st->st_atim.tv_nsec;
	attr->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	attr->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	attr->mode = st->st_mode;
	attr->nlink = (uint32_t)st->st_nlink;
	attr->uid = st->st_uid;
	attr->gid = st->st_gid;
	attr->rdev = encode_dev(st->st_rdev);
	attr->blksize = (uint32_t)st->st_blksize;
}

void fuse_fill_entry(struct fuse_entry_out *e, uint64_t nodeid, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	e->entry_valid = FUSE_TIMEOUT_SEC;
	e->attr_valid = FUSE_TIMEOUT_SEC;
	fuse_fill_attr(&e->attr, st);
}

/* Turn an O_PATH fd (consumed) into a node reference and its entry. */
int fuse_entry_from_fd(struct fuse_server *srv, int fd, struct fuse_entry_out *e)
{
	struct stat st;
	uint64_t id;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		int err = -errno;

		close(fd);
		return err;
	}
	id = node_link_fd(srv, fd, &st);
	if (!id)
		return -errno;
	fuse_fill_entry(e, id, &st);
	return 0;
}

static int same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Whether directory fd is the root or below it, by walking ".." up to the
 * root or to the top of the host tree. Only used for explicit ".." lookups,
 * which the Linux client sends rarely (never without export support).
 */
static int below_root(struct fuse_server *srv, int fd)
{
	struct stat root, cur, up;
	int walk = dup(fd), err = -EACCES;

	if (walk < 0)
		return -errno;
	if (fstatat(srv->root_fd, "", &root, AT_EMPTY_PATH))
		goto out;
	for (int depth = 0; depth < MAX_DOTDOT_DEPTH; depth++) {
		int next;

		if (fstatat(walk, "", &cur, AT_EMPTY_PATH))
			break;
		if (same_inode(&cur, &root)) {
			err = 0;
			break;
		}
		next = openat(walk, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 || fstatat(next, "", &up, AT_EMPTY_PATH) || same_inode(&up, &cur)) {
			if (next >= 0)
				close(next);
			break; /* the top of the host tree: not below our root */
		}
		close(walk);
		walk = next;
	}
out:
	close(walk);
	return err;
}

static int lookup_dotdot(struct fuse_server *srv, struct fuse_node *dir, struct fuse_entry_out *e)
{
	struct ovl_entry *ovl = dir->ovl;
	struct stat st;
	int fd, err;

	if (dir == srv->root || (ovl && !ovl->parent)) {
		node_link_again(srv, srv->root);
		err = fuse_node_stat(srv, srv->root, &st);
		if (!err)
			fuse_fill_entry(e, FUSE_ROOT_ID, &st);
		return err;
	}
	if (ovl) {
		uint64_t id = node_link_ovl(srv, ovl->parent);

		if (!id)
			return -errno;
		ovl_stat(srv, ovl->parent, &st);
		fuse_fill_entry(e, id, &st);
		return 0;
	}
	fd = openat(dir->fd, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = below_root(srv, fd);
	if (err) {
		close(fd);
		return err;
	}
	return fuse_entry_from_fd(srv, fd, e);
}

/* Look up one name in a host directory. */
int fuse_lookup_host(struct fuse_server *srv, int dirfd, const char *name, struct fuse_entry_out *e)
{
	int fd = fuse_open_beneath(dirfd, name, O_PATH, 0);

	if (fd < 0)
		return fd;
	return fuse_entry_from_fd(srv, fd, e);
}

/* LOOKUP semantics: ".", "..", overlay entries, then the host directory. */
int fuse_lookup_name(struct fuse_server *srv, struct fuse_node *dir, const char *name,
		     struct fuse_entry_out *e)
{
	struct ovl_entry *ovl;
	struct stat st;
	uint64_t id;
	int err;

	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (!strcmp(name, ".")) {
		err = fuse_node_stat(srv, dir, &st);
		if (err)
			return err;
		node_link_again(srv, dir);
		fuse_fill_entry(e, dir->id, &st);
		return 0;
	}
	if (!strcmp(name, ".."))
		return lookup_dotdot(srv, dir, e);
	err = fuse_check_name(name);
	if (err)
		return err;
	ovl = ovl_lookup(srv, dir, name, true);
	if (ovl) {
		id = node_link_ovl(srv, ovl);
		if (!id)
			return -errno;
		ovl_stat(srv, ovl, &st);
		fuse_fill_entry(e, id, &st);
		if (ovl->one_shot)
			e->entry_valid = 0; /* gone for the next lookup: no cached dentry */
		return 0;
	}
	if (dir->ovl)
		return -ENOENT; /* overlay directories hold only overlay entries */
	return fuse_lookup_host(srv, dir->fd, name, e);
}

mode_t fuse_allowed_mode(const struct fuse_server *srv, mode_t type, mode_t mode)
{
	/* A directory's setgid bit only passes its group on: no privilege. */
	if (srv->strict && type != S_IFDIR)
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	return mode;
}

/* This thread has its own umask, 0 (fuse_server_thread_init()). */
static __thread bool exact_modes;

int fuse_server_thread_init(void)
{
	if (unshare(CLONE_FS))
		return -errno;
	umask(0);
	exact_modes = true;
	return 0;
}

/*
 * New inodes are made as the guest's user: with the VMM as root, the
 * thread's fs uid and gid become the request's for the creating call, so
 * the inode is born with its owner (and the kernel's setgid-directory and
 * setuid rules), never chowned by name afterwards.
 */
void fuse_creds_enter(struct fuse_req *req, struct fuse_creds *saved)
{
	saved->switched = req->srv->is_root && (req->h.uid || req->h.gid);
	if (!saved->switched)
		return;
	saved->fsgid = (gid_t)setfsgid(req->h.gid);
	saved->fsuid = (uid_t)setfsuid(req->h.uid);
}

void fuse_creds_leave(const struct fuse_creds *saved)
{
	if (!saved->switched)
		return;
	setfsuid(saved->fsuid);
	setfsgid(saved->fsgid);
}

/*
 * A thread without its own umask created the inode with the process
 * umask: put back the permission bits it took (tests and fuzzers; the
 * device's workers have umask 0 and never get here). fd is an O_PATH fd of
 * the new inode.
 */
void fuse_fix_new_mode(struct fuse_req *req, int fd, mode_t mode)
{
	struct fuse_server *srv = req->srv;
	char path[32];
	struct stat st;
	mode_t want;

	if (exact_modes || (mode & srv->umask & 0777) == 0)
		return;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) || S_ISLNK(st.st_mode))
		return;
	want = (st.st_mode & 07777) | (mode & srv->umask & 0777);
	if (want == (st.st_mode & 07777))
		return;
	fuse_proc_path(path, sizeof(path), fd);
	if (chmod(path, want))
		pr_debug("fuse: restoring mode %o: %s", want, strerror(errno));
}

/* HANDLE_KILLPRIV_V2: a write or truncate by the guest drops setuid/setgid. */
int fuse_kill_suidgid(int fd, const struct stat *st)
{
	mode_t mode = st->st_mode & 07777;

	if (!S_ISREG(st->st_mode))
		return 0;
	mode &= ~(mode_t)S_ISUID;
	if (mode & S_IXGRP)
		mode &= ~(mode_t)S_ISGID;
	if (mode == (st->st_mode & 07777))
		return 0;
	return fchmod(fd, mode) ? -errno : 0;
}
