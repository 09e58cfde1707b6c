// SPDX-License-Identifier: Apache-2.0
/*
 * The FUSE server behind virtio-fs, driven with hand-built requests: the
 * operations a root filesystem needs, overlay entries, and hostile requests
 * that must neither crash nor reach outside the shared directory.
 */
#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <sys/inotify.h>
#include <sys/resource.h>

#include "devices/virtio/fs/fuse_priv.h"
#include "devices/virtio/fs/fuse_server.h"
#include "test.h"

#define OUT_MAX	     (1 << 20)
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/* snprintf for paths: the temp paths are short, a truncation is a bug. */
#define PATHF(buf, size, ...)                                                                      \
	do {                                                                                       \
		if (snprintf(buf, size, __VA_ARGS__) >= (int)(size))                               \
			abort();                                                                   \
	} while (0)

/* ---- request building ---- */

struct req {
	uint8_t buf[128 * 1024];
	size_t len;
	size_t split; /* put bytes from here on into a separate iovec (0: none) */
};

struct reply {
	size_t total; /* bytes written by the server */
	int32_t error;
	uint32_t len;
	uint8_t *body;
	size_t body_len;
};

static struct fuse_server *srv;
static uint64_t next_unique = 1;
static uint32_t req_uid, req_gid; /* the guest's ids in the next requests */
static uint8_t reply_buf[OUT_MAX];
static char base[PATH_MAX], share[PATH_MAX], outside[PATH_MAX];

static void req_init(struct req *r, uint32_t opcode, uint64_t nodeid)
{
	struct fuse_in_header h = {
	    .opcode = opcode,
	    .unique = next_unique++,
	    .nodeid = nodeid,
	    .uid = req_uid,
	    .gid = req_gid,
	    .pid = 1,
	};

	memcpy(r->buf, &h, sizeof(h));
	r->len = sizeof(h);
	r->split = 0;
}

static void req_add(struct req *r, const void *data, size_t len)
{
	memcpy(r->buf + r->len, data, len);
	r->len += len;
}

static void req_str(struct req *r, const char *s)
{
	req_add(r, s, strlen(s) + 1);
}

/*
 * Send with the request split into up to three iovecs and the reply area into
 * two separately allocated pieces (so ASan sees any overflow). hdr_len
 * overrides the header's len field when non-zero.
 */
static struct reply send_raw(struct req *r, size_t out_size, uint32_t hdr_len)
{
	size_t cut1 = r->len > 7 ? 7 : r->len, cut2 = r->split ? r->split : (r->len + cut1) / 2;
	size_t out1 = out_size > 5 ? 5 : out_size;
	struct iovec in[3], out[2];
	struct reply rep = {0};
	uint8_t *o1 = malloc(out1 + 1), *o2 = malloc(out_size - out1 + 1);
	uint8_t *copy = malloc(r->len);
	uint32_t len = hdr_len ? hdr_len : (uint32_t)r->len;

	memcpy(r->buf, &len, sizeof(len));
	memcpy(copy, r->buf, r->len);
	if (cut2 < cut1)
		cut2 = cut1;
	in[0] = (struct iovec){copy, cut1};
	in[1] = (struct iovec){copy + cut1, cut2 - cut1};
	in[2] = (struct iovec){copy + cut2, r->len - cut2};
	out[0] = (struct iovec){o1, out1};
	out[1] = (struct iovec){o2, out_size - out1};
	rep.total = fuse_server_handle(srv, in, 3, out, 2);
	memcpy(reply_buf, o1, rep.total < out1 ? rep.total : out1);
	if (rep.total > out1)
		memcpy(reply_buf + out1, o2, rep.total - out1);
	if (rep.total >= sizeof(struct fuse_out_header)) {
		struct fuse_out_header oh;

		memcpy(&oh, reply_buf, sizeof(oh));
		rep.error = oh.error;
		rep.len = oh.len;
		rep.body = reply_buf + sizeof(oh);
		rep.body_len = rep.total - sizeof(oh);
		CHECK_EQ(oh.len, rep.total);
		CHECK_EQ(oh.unique, next_unique - 1);
	}
	free(o1);
	free(o2);
	free(copy);
	return rep;
}

static struct reply send_req(struct req *r)
{
	return send_raw(r, OUT_MAX, 0);
}

/* ---- operation helpers: each returns -errno or a useful value ---- */

static int do_init(uint32_t minor)
{
	struct fuse_init_in in = {
	    .major = 7,
	    .minor = minor,
	    .max_readahead = 128 * 1024,
	    .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_BIG_WRITES | FUSE_INIT_EXT |
		     FUSE_HANDLE_KILLPRIV_V2 | FUSE_POSIX_ACL | FUSE_EXPORT_SUPPORT |
		     FUSE_MAX_PAGES | FUSE_WRITEBACK_CACHE,
	};
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_INIT, 0);
	req_add(&r, &in, sizeof(in));
	rep = send_req(&r);
	return rep.error ? rep.error : (int)rep.body_len;
}

static int64_t lookup(uint64_t dir, const char *name, struct fuse_entry_out *e)
{
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_LOOKUP, dir);
	req_str(&r, name);
	rep = send_req(&r);
	if (rep.error)
		return rep.error;
	CHECK_EQ(rep.body_len, sizeof(*e));
	if (e)
		memcpy(e, rep.body, sizeof(*e));
	/* Node id 0: a negative entry, "no such name" the guest may cache. */
	if (((struct fuse_entry_out *)rep.body)->nodeid == 0)
		return -ENOENT;
	return (int64_t)((struct fuse_entry_out *)rep.body)->nodeid;
}

static void forget(uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = {.nlookup = n};
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_FORGET, node);
	req_add(&r, &in, sizeof(in));
	rep = send_req(&r);
	CHECK_EQ(rep.total, 0);
}

static int getattr(uint64_t node, struct fuse_attr *attr)
{
	struct fuse_getattr_in in = {0};
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_GETATTR, node);
	req_add(&r, &in, sizeof(in));
	rep = send_req(&r);
	if (!rep.error && attr)
		memcpy(attr, &((struct fuse_attr_out *)rep.body)->attr, sizeof(*attr));
	return rep.error;
}

static int64_t do_open(uint32_t op, uint64_t node, uint32_t flags)
{
	struct fuse_open_in in = {.flags = flags};
	struct req r;
	struct reply rep;

	req_init(&r, op, node);
	req_add(&r, &in, sizeof(in));
	rep = send_req(&r);
	if (rep.error)
		return rep.error;
	return (int64_t)((struct fuse_open_out *)rep.body)->fh;
}

static int64_t create(uint64_t dir, const char *name, uint32_t flags, uint32_t mode, uint64_t *fh)
{
	struct fuse_create_in in = {.flags = flags, .mode = S_IFREG | mode, .umask = 022};
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_CREATE, dir);
	req_add(&r, &in, sizeof(in));
	req_str(&r, name);
	rep = send_req(&r);
	if (rep.error)
		return rep.error;
	CHECK_EQ(rep.body_len, sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
	*fh = ((struct fuse_open_out *)(rep.body + sizeof(struct fuse_entry_out)))->fh;
	return (int64_t)((struct fuse_entry_out *)rep.body)->nodeid;
}

static int64_t do_write(uint64_t fh, uint64_t off, const void *data, uint32_t size,
			uint32_t present)
{
	struct fuse_write_in in = {.fh = fh, .offset = off, .size = size};
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_WRITE, 0);
	req_add(&r, &in, sizeof(in));
	r.split = r.len; /* the data in its own iovec, as the client sends it */
	req_add(&r, data, present);
	rep = send_req(&r);
	if (rep.error)
		return rep.error;
	return ((struct fuse_write_out *)rep.body)->size;
}

static int64_t do_read(uint64_t fh, uint64_t off, uint32_t size, void *dst)
{
	struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_READ, 0);
	req_add(&r, &in, sizeof(in));
	rep = send_raw(&r, sizeof(struct fuse_out_header) + size, 0);
	if (rep.error)
		return rep.error;
	memcpy(dst, rep.body, rep.body_len);
	return (int64_t)rep.body_len;
}

static int release(uint32_t op, uint64_t fh)
{
	struct fuse_release_in in = {.fh = fh};
	struct req r;

	req_init(&r, op, 0);
	req_add(&r, &in, sizeof(in));
	return send_req(&r).error;
}

static int name_op(uint32_t op, uint64_t dir, const char *name)
{
	struct req r;

	req_init(&r, op, dir);
	req_str(&r, name);
	return send_req(&r).error;
}

static int64_t mkdir_op(uint64_t dir, const char *name, uint32_t mode)
{
	struct fuse_mkdir_in in = {.mode = mode, .umask = 022};
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_MKDIR, dir);
	req_add(&r, &in, sizeof(in));
	req_str(&r, name);
	rep = send_req(&r);
	return rep.error ? rep.error : (int64_t)((struct fuse_entry_out *)rep.body)->nodeid;
}

static int rename_op(uint64_t dir, const char *from, uint64_t newdir, const char *to,
		     uint32_t flags)
{
	struct fuse_rename2_in in = {.newdir = newdir, .flags = flags};
	struct req r;

	req_init(&r, FUSE_RENAME2, dir);
	req_add(&r, &in, sizeof(in));
	req_str(&r, from);
	req_str(&r, to);
	return send_req(&r).error;
}

static int setattr(uint64_t node, struct fuse_setattr_in *in)
{
	struct req r;

	req_init(&r, FUSE_SETATTR, node);
	req_add(&r, in, sizeof(*in));
	return send_req(&r).error;
}

/* ---- host-side helpers ---- */

static void host_path(char *buf, const char *name)
{
	PATHF(buf, PATH_MAX, "%s/%s", share, name);
}

static void host_write(const char *dir, const char *name, const char *content)
{
	char path[PATH_MAX];
	int fd;

	PATHF(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static ssize_t host_read(const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	host_path(path, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size);
	close(fd);
	return n;
}

static bool host_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	PATHF(path, sizeof(path), "%s/%s", dir, name);
	return !lstat(path, &st);
}

static void outside_intact(void)
{
	char buf[64] = {0};
	char path[PATH_MAX];
	struct stat st;
	int fd;

	PATHF(path, sizeof(path), "%s/secret.txt", outside);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 9);
	CHECK(!strcmp(buf, "TOPSECRET"));
	CHECK(!fstat(fd, &st));
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(st.st_nlink, 1);
	close(fd);
	CHECK(!host_exists(outside, "x"));
	CHECK(!host_exists(outside, "created"));
	CHECK(!host_exists(base, "escape"));
}

static void setup_dirs(void)
{
	char path[PATH_MAX], target[PATH_MAX];

	PATHF(base, sizeof(base), "/tmp/test_fuse.XXXXXX");
	CHECK(mkdtemp(base) != NULL);
	PATHF(share, sizeof(share), "%s/share", base);
	PATHF(outside, sizeof(outside), "%s/outside", base);
	CHECK(!mkdir(share, 0755));
	CHECK(!mkdir(outside, 0755));
	host_write(outside, "secret.txt", "TOPSECRET");
	PATHF(path, sizeof(path), "%s/secret.txt", outside);
	CHECK(!chmod(path, 0600));
	host_write(share, "file.txt", "hello world");
	host_path(path, "dir");
	CHECK(!mkdir(path, 0755));
	host_write(share, "dir/sub.txt", "sub");
	/* Symlinks that point outside the share, absolute and relative. */
	PATHF(target, sizeof(target), "%s/secret.txt", outside);
	host_path(path, "abs");
	CHECK(!symlink(target, path));
	host_path(path, "rel");
	CHECK(!symlink("../outside/secret.txt", path));
	host_path(path, "reldir");
	CHECK(!symlink("../outside", path));
	host_path(path, "dir/deep");
	CHECK(!symlink("../../outside/secret.txt", path));
	host_path(path, "passwd");
	CHECK(!symlink("/etc/passwd", path));
}

static void cleanup_dirs(void)
{
	char cmd[PATH_MAX + 16];

	PATHF(cmd, sizeof(cmd), "rm -rf '%s'", base);
	CHECK(!system(cmd));
}

/* ---- the tests ---- */

static void test_init(void)
{
	struct fuse_init_out out;
	struct fuse_init_in in = {.major = 7, .minor = 38};
	struct req r;
	struct reply rep;

	/* Nothing but INIT before INIT. */
	CHECK_EQ(getattr(FUSE_ROOT_ID, NULL), -EIO);
	CHECK_EQ(do_init(20), -EPROTO);
	CHECK_EQ(do_init(41), (int)sizeof(out)); /* a newer client gets our minor */
	memcpy(&out, reply_buf + sizeof(struct fuse_out_header), sizeof(out));
	CHECK_EQ(out.major, 7);
	CHECK_EQ(out.minor, 38);
	CHECK_EQ(out.max_write, 1024 * 1024);
	CHECK_EQ(out.max_pages, 256);
	CHECK_EQ(out.max_readahead, 128 * 1024);
	CHECK(out.flags & FUSE_DO_READDIRPLUS);
	CHECK(out.flags & FUSE_HANDLE_KILLPRIV_V2);
	CHECK(out.flags & FUSE_INIT_EXT);
	CHECK(!(out.flags & (FUSE_POSIX_ACL | FUSE_EXPORT_SUPPORT | FUSE_WRITEBACK_CACHE)));
	CHECK_EQ(do_init(28), (int)sizeof(out));

	/* A 7.36+ client sends a 64-byte fuse_init_in; older ones 16 bytes. */
	req_init(&r, FUSE_INIT, 0);
	req_add(&r, &in, 16);
	rep = send_req(&r);
	CHECK_EQ(rep.error, 0);
	CHECK_EQ(rep.body_len, sizeof(out));
	CHECK_EQ(getattr(FUSE_ROOT_ID, NULL), 0);
	CHECK_EQ(do_init(38), (int)sizeof(out)); /* the flags the rest relies on */
}

static void test_lookup_getattr(void)
{
	struct fuse_entry_out e, e2;
	struct fuse_attr attr;
	char path[PATH_MAX], hard[PATH_MAX];
	struct stat st;
	int64_t id, dir;

	host_path(path, "file.txt");
	CHECK(!stat(path, &st));
	id = lookup(FUSE_ROOT_ID, "file.txt", &e);
	CHECK(id > FUSE_ROOT_ID);
	CHECK_EQ(e.attr.ino, st.st_ino);
	CHECK_EQ(e.attr.size, 11);
	CHECK_EQ(e.attr.mode, st.st_mode);
	CHECK_EQ(e.attr.uid, st.st_uid);
	CHECK_EQ(e.attr.mtime, st.st_mtim.tv_sec);
	CHECK_EQ(e.entry_valid, 1);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "file.txt", &e2), id); /* same node */
	CHECK_EQ(getattr((uint64_t)id, &attr), 0);
	CHECK_EQ(attr.size, 11);
	CHECK_EQ(attr.nlink, 1);

	/* A hard link made on the host maps to the same node. */
	host_path(hard, "hard.txt");
	CHECK(!link(path, hard));
	CHECK_EQ(lookup(FUSE_ROOT_ID, "hard.txt", NULL), id);
	CHECK(!unlink(hard));
	forget((uint64_t)id, 3);
	CHECK_EQ(getattr((uint64_t)id, NULL), -ENOENT); /* forgotten ids are gone for good */
	CHECK(lookup(FUSE_ROOT_ID, "file.txt", NULL) != id);

	/* A missing name is a negative entry, cached for the entry timeout. */
	memset(&e, 0xff, sizeof(e));
	CHECK_EQ(lookup(FUSE_ROOT_ID, "missing", &e), -ENOENT);
	CHECK_EQ(e.nodeid, 0);
	CHECK_EQ(e.entry_valid, 1);
	CHECK_EQ(e.attr_valid, 0);
	CHECK_EQ(e.attr.ino, 0);
	dir = lookup(FUSE_ROOT_ID, "dir", &e);
	CHECK(dir > 0);
	CHECK(S_ISDIR(e.attr.mode));
	CHECK(lookup((uint64_t)dir, "sub.txt", NULL) > 0);
	CHECK_EQ(lookup((uint64_t)dir, "..", NULL), FUSE_ROOT_ID);
	CHECK_EQ(lookup((uint64_t)dir, ".", NULL), dir);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "..", NULL), FUSE_ROOT_ID);
	CHECK_EQ(lookup(FUSE_ROOT_ID, ".", NULL), FUSE_ROOT_ID);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "file.txt/..", NULL), -EINVAL);
}

static void test_create_write_read(void)
{
	char buf[64] = {0}, path[PATH_MAX];
	uint64_t fh, fh2;
	struct stat st;
	int64_t id;

	id = create(FUSE_ROOT_ID, "new.txt", O_RDWR | O_CREAT, 0640, &fh);
	CHECK(id > 0);
	host_path(path, "new.txt");
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_EQ(do_write(fh, 0, "0123456789", 10, 10), 10);
	CHECK_EQ(do_write(fh, 10, "abc", 3, 3), 3);
	CHECK_EQ(do_read(fh, 0, 64, buf), 13);
	CHECK(!memcmp(buf, "0123456789abc", 13));
	CHECK_EQ(do_read(fh, 5, 4, buf), 4);
	CHECK(!memcmp(buf, "5678", 4));
	CHECK_EQ(do_read(fh, 100, 4, buf), 0);
	CHECK_EQ(host_read("new.txt", buf, sizeof(buf)), 13);

	/* CREATE of an existing name opens it, O_EXCL refuses. */
	CHECK_EQ(create(FUSE_ROOT_ID, "new.txt", O_RDWR | O_CREAT, 0600, &fh2), id);
	CHECK_EQ(release(FUSE_RELEASE, fh2), 0);
	CHECK_EQ(create(FUSE_ROOT_ID, "new.txt", O_RDWR | O_CREAT | O_EXCL, 0600, &fh2), -EEXIST);
	CHECK_EQ(create(FUSE_ROOT_ID, "dir", O_RDWR | O_CREAT, 0600, &fh2), -EISDIR);

	/* OPEN with O_TRUNC (ATOMIC_O_TRUNC) and reading through a second handle. */
	fh2 = (uint64_t)do_open(FUSE_OPEN, (uint64_t)id, O_RDONLY);
	CHECK(fh2 > 0);
	CHECK_EQ(do_read(fh2, 0, 3, buf), 3);
	CHECK_EQ(release(FUSE_RELEASE, fh2), 0);
	CHECK_EQ(release(FUSE_RELEASE, fh2), -EBADF);
	CHECK_EQ(do_open(FUSE_OPEN, FUSE_ROOT_ID, O_RDONLY), -EISDIR);
	CHECK_EQ(release(FUSE_RELEASE, fh), 0);
}

static void test_namespace_ops(void)
{
	char buf[64] = {0}, path[PATH_MAX];
	struct fuse_entry_out e;
	struct fuse_link_in li;
	struct stat st;
	struct req r;
	struct reply rep;
	int64_t d2, file;

	d2 = mkdir_op(FUSE_ROOT_ID, "d2", 0750);
	CHECK(d2 > 0);
	host_path(path, "d2");
	CHECK(!stat(path, &st) && S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0750);
	CHECK_EQ(mkdir_op(FUSE_ROOT_ID, "d2", 0750), -EEXIST);

	/* SYMLINK + READLINK: the target is stored and returned verbatim. */
	req_init(&r, FUSE_SYMLINK, FUSE_ROOT_ID);
	req_str(&r, "sl");
	req_str(&r, "file.txt");
	rep = send_req(&r);
	CHECK_EQ(rep.error, 0);
	memcpy(&e, rep.body, sizeof(e));
	CHECK(S_ISLNK(e.attr.mode));
	req_init(&r, FUSE_READLINK, e.nodeid);
	rep = send_req(&r);
	CHECK_EQ(rep.body_len, 8);
	CHECK(!memcmp(rep.body, "file.txt", 8));
	host_path(path, "sl");
	CHECK_EQ(readlink(path, buf, sizeof(buf)), 8);

	/* LINK */
	file = lookup(FUSE_ROOT_ID, "file.txt", NULL);
	li.oldnodeid = (uint64_t)file;
	req_init(&r, FUSE_LINK, (uint64_t)d2);
	req_add(&r, &li, sizeof(li));
	req_str(&r, "file2");
	rep = send_req(&r);
	CHECK_EQ(rep.error, 0);
	memcpy(&e, rep.body, sizeof(e));
	CHECK_EQ(e.nodeid, file);
	CHECK_EQ(e.attr.nlink, 2);
	li.oldnodeid = (uint64_t)d2; /* directories cannot be linked */
	req_init(&r, FUSE_LINK, FUSE_ROOT_ID);
	req_add(&r, &li, sizeof(li));
	req_str(&r, "dirlink");
	CHECK_EQ(send_req(&r).error, -EPERM);

	/* RENAME, RENAME2 flags */
	CHECK_EQ(rename_op((uint64_t)d2, "file2", FUSE_ROOT_ID, "file3", 0), 0);
	CHECK(host_exists(share, "file3") && !host_exists(share, "d2/file2"));
	host_write(share, "other.txt", "other");
	CHECK_EQ(rename_op(FUSE_ROOT_ID, "file3", FUSE_ROOT_ID, "other.txt", RENAME_NOREPLACE),
		 -EEXIST);
	CHECK_EQ(rename_op(FUSE_ROOT_ID, "file3", FUSE_ROOT_ID, "other.txt", RENAME_EXCHANGE), 0);
	CHECK_EQ(host_read("file3", buf, sizeof(buf)), 5);
	CHECK_EQ(host_read("other.txt", buf, sizeof(buf)), 11);
	CHECK_EQ(rename_op(FUSE_ROOT_ID, "file3", FUSE_ROOT_ID, "w", RENAME_WHITEOUT), -EINVAL);
	CHECK_EQ(rename_op(FUSE_ROOT_ID, "file3", FUSE_ROOT_ID, "w", 0x80), -EINVAL);
	req_init(&r, FUSE_RENAME, FUSE_ROOT_ID); /* the old RENAME opcode */
	req_add(&r, &(struct fuse_rename_in){.newdir = (uint64_t)d2},
		sizeof(struct fuse_rename_in));
	req_str(&r, "file3");
	req_str(&r, "moved");
	CHECK_EQ(send_req(&r).error, 0);
	CHECK(host_exists(share, "d2/moved"));

	/* UNLINK, RMDIR */
	CHECK_EQ(name_op(FUSE_RMDIR, FUSE_ROOT_ID, "d2"), -ENOTEMPTY);
	CHECK_EQ(name_op(FUSE_UNLINK, (uint64_t)d2, "moved"), 0);
	CHECK_EQ(name_op(FUSE_UNLINK, (uint64_t)d2, "moved"), -ENOENT);
	CHECK_EQ(name_op(FUSE_RMDIR, FUSE_ROOT_ID, "d2"), 0);
	CHECK(!host_exists(share, "d2"));
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "sl"), 0);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "other.txt"), 0);
	/* A node whose directory was removed fails cleanly. */
	CHECK_EQ(mkdir_op((uint64_t)d2, "again", 0755), -ENOENT);
}

static void test_mknod(void)
{
	struct fuse_mknod_in in = {.mode = S_IFIFO | 0644, .umask = 022};
	char path[PATH_MAX];
	struct stat st;
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_MKNOD, FUSE_ROOT_ID);
	req_add(&r, &in, sizeof(in));
	req_str(&r, "fifo");
	rep = send_req(&r);
	CHECK_EQ(rep.error, 0);
	host_path(path, "fifo");
	CHECK(!lstat(path, &st) && S_ISFIFO(st.st_mode));
	/* Opening a FIFO (or device) on the host is never done for the guest. */
	CHECK_EQ(do_open(FUSE_OPEN, ((struct fuse_entry_out *)rep.body)->nodeid, O_RDONLY), -ENXIO);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "fifo"), 0);
	in.mode = S_IFDIR | 0755;
	req_init(&r, FUSE_MKNOD, FUSE_ROOT_ID);
	req_add(&r, &in, sizeof(in));
	req_str(&r, "notadir");
	CHECK_EQ(send_req(&r).error, -EINVAL);
}

static void test_setattr(void)
{
	struct fuse_setattr_in in = {0};
	char path[PATH_MAX];
	struct fuse_attr attr;
	struct stat st;
	uint64_t fh;
	int64_t id;

	id = create(FUSE_ROOT_ID, "attr.txt", O_RDWR | O_CREAT, 0644, &fh);
	CHECK(id > 0);
	CHECK_EQ(do_write(fh, 0, "abcdefgh", 8, 8), 8);
	host_path(path, "attr.txt");

	in.valid = FATTR_MODE;
	in.mode = S_IFREG | 0600;
	CHECK_EQ(setattr((uint64_t)id, &in), 0);
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_mode & 07777, 0600);

	in.valid = FATTR_SIZE;
	in.size = 3;
	CHECK_EQ(setattr((uint64_t)id, &in), 0);
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_size, 3);
	in.valid = FATTR_SIZE | FATTR_FH;
	in.fh = fh;
	in.size = 5;
	CHECK_EQ(setattr((uint64_t)id, &in), 0);
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_size, 5);

	in.valid = FATTR_ATIME | FATTR_MTIME;
	in.atime = 1000000000;
	in.mtime = 1234567890;
	in.mtimensec = 5;
	CHECK_EQ(setattr((uint64_t)id, &in), 0);
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_mtim.tv_sec, 1234567890);
	CHECK_EQ(st.st_mtim.tv_nsec, 5);
	CHECK_EQ(st.st_atim.tv_sec, 1000000000);
	in.valid = FATTR_MTIME_NOW;
	CHECK_EQ(setattr((uint64_t)id, &in), 0);
	CHECK(!stat(path, &st));
	CHECK(st.st_mtim.tv_sec > 1234567890);
	in.valid = FATTR_MTIME;
	in.mtimensec = 2000000000;
	CHECK_EQ(setattr((uint64_t)id, &in), -EINVAL);

	/* KILL_SUIDGID on truncate (HANDLE_KILLPRIV_V2 was negotiated). */
	CHECK(!chmod(path, 04755));
	in.valid = FATTR_SIZE | FATTR_KILL_SUIDGID;
	in.size = 1;
	CHECK_EQ(setattr((uint64_t)id, &in), 0);
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_mode & 07777, 0755);
	/* and on write with FUSE_WRITE_KILL_SUIDGID */
	CHECK(!chmod(path, 06755));
	{
		struct fuse_write_in wi = {
		    .fh = fh, .size = 1, .write_flags = FUSE_WRITE_KILL_SUIDGID};
		struct req r;

		req_init(&r, FUSE_WRITE, (uint64_t)id);
		req_add(&r, &wi, sizeof(wi));
		req_add(&r, "z", 1);
		CHECK_EQ(send_req(&r).error, 0);
	}
	CHECK(!stat(path, &st));
	CHECK_EQ(st.st_mode & 07777, 0755);

	if (geteuid() == 0) {
		in.valid = FATTR_UID | FATTR_GID;
		in.uid = 1234;
		in.gid = 4321;
		CHECK_EQ(setattr((uint64_t)id, &in), 0);
		CHECK(!stat(path, &st));
		CHECK_EQ(st.st_uid, 1234);
		CHECK_EQ(st.st_gid, 4321);
	}
	CHECK_EQ(getattr((uint64_t)id, &attr), 0);
	CHECK_EQ(attr.size, 1);
	CHECK_EQ(release(FUSE_RELEASE, fh), 0);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "attr.txt"), 0);
}

static struct reply xattr_req(uint32_t op, uint64_t node, const char *name, const char *value,
			      uint32_t size)
{
	struct req r;

	req_init(&r, op, node);
	if (op == FUSE_SETXATTR) {
		struct fuse_setxattr_in in = {.size = size};

		req_add(&r, &in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	} else if (op != FUSE_REMOVEXATTR) {
		struct fuse_getxattr_in in = {.size = size};

		req_add(&r, &in, sizeof(in));
	}
	if (name)
		req_str(&r, name);
	if (value)
		req_add(&r, value, size);
	return send_req(&r);
}

static void test_xattr(void)
{
	int64_t id = lookup(FUSE_ROOT_ID, "file.txt", NULL);
	struct reply rep;
	char path[PATH_MAX], buf[16];

	rep = xattr_req(FUSE_SETXATTR, (uint64_t)id, "user.test", "val", 3);
	if (rep.error == -EOPNOTSUPP) {
		printf("test_fuse: no user xattrs on this filesystem, skipped\n");
		return;
	}
	CHECK_EQ(rep.error, 0);
	host_path(path, "file.txt");
	CHECK_EQ(getxattr(path, "user.test", buf, sizeof(buf)), 3);
	rep = xattr_req(FUSE_GETXATTR, (uint64_t)id, "user.test", NULL, 0);
	CHECK_EQ(rep.error, 0);
	CHECK_EQ(((struct fuse_getxattr_out *)rep.body)->size, 3);
	rep = xattr_req(FUSE_GETXATTR, (uint64_t)id, "user.test", NULL, 100);
	CHECK_EQ(rep.body_len, 3);
	CHECK(!memcmp(rep.body, "val", 3));
	CHECK_EQ(xattr_req(FUSE_GETXATTR, (uint64_t)id, "user.test", NULL, 1).error, -ERANGE);
	rep = xattr_req(FUSE_LISTXATTR, (uint64_t)id, NULL, NULL, 0);
	CHECK(((struct fuse_getxattr_out *)rep.body)->size >= 10);
	rep = xattr_req(FUSE_LISTXATTR, (uint64_t)id, NULL, NULL, 256);
	CHECK(memmem(rep.body, rep.body_len, "user.test", 10) != NULL);
	CHECK_EQ(xattr_req(FUSE_REMOVEXATTR, (uint64_t)id, "user.test", NULL, 0).error, 0);
	CHECK_EQ(xattr_req(FUSE_GETXATTR, (uint64_t)id, "user.test", NULL, 10).error, -ENODATA);
	CHECK_EQ(xattr_req(FUSE_GETXATTR, (uint64_t)id, "", NULL, 10).error, -EINVAL);
	/* A value size beyond the bytes present is refused. */
	{
		struct fuse_setxattr_in in = {.size = 1000};
		struct req r;

		req_init(&r, FUSE_SETXATTR, (uint64_t)id);
		req_add(&r, &in, FUSE_COMPAT_SETXATTR_IN_SIZE);
		req_str(&r, "user.big");
		req_add(&r, "xy", 2);
		CHECK_EQ(send_req(&r).error, -EINVAL);
	}
}

/* Parse a READDIR(PLUS) reply into "name," list; returns the last off. */
static uint64_t parse_dir(const struct reply *rep, bool plus, char *names, size_t size, int *count)
{
	size_t pos = 0;
	uint64_t off = 0;

	while (pos < rep->body_len) {
		struct fuse_entry_out e;
		struct fuse_dirent d;

		if (plus) {
			memcpy(&e, rep->body + pos, sizeof(e));
			pos += sizeof(e);
		}
		memcpy(&d, rep->body + pos, sizeof(d));
		CHECK(d.namelen > 0 && d.namelen < 256);
		strncat(names, (const char *)rep->body + pos + FUSE_NAME_OFFSET,
			d.namelen < size - strlen(names) - 2 ? d.namelen
							     : size - strlen(names) - 2);
		strcat(names, ",");
		if (plus) {
			bool dots = !strncmp((const char *)rep->body + pos + FUSE_NAME_OFFSET, ".",
					     d.namelen) ||
				    !strncmp((const char *)rep->body + pos + FUSE_NAME_OFFSET, "..",
					     d.namelen);

			CHECK(dots ? e.nodeid == 0 : e.nodeid != 0);
			if (e.nodeid)
				forget(e.nodeid, 1);
		}
		pos += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + d.namelen);
		off = d.off;
		(*count)++;
	}
	CHECK_EQ(pos, rep->body_len);
	return off;
}

static struct reply readdir_req(uint32_t op, uint64_t fh, uint64_t off, uint32_t size,
				size_t out_size)
{
	struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
	struct req r;

	req_init(&r, op, FUSE_ROOT_ID);
	req_add(&r, &in, sizeof(in));
	return send_raw(&r, out_size, 0);
}

static void test_readdir(void)
{
	char all[4096] = "", parts[4096] = "";
	int n_all = 0, n_parts = 0;
	struct reply rep;
	uint64_t off = 0;
	int64_t fh;

	fh = do_open(FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY);
	CHECK(fh > 0);
	rep = readdir_req(FUSE_READDIR, (uint64_t)fh, 0, 4096, OUT_MAX);
	CHECK_EQ(rep.error, 0);
	parse_dir(&rep, false, all, sizeof(all), &n_all);
	CHECK(strstr(all, ".,") && strstr(all, "..,") && strstr(all, "file.txt,") &&
	      strstr(all, "dir,") && strstr(all, "abs,") && strstr(all, "new.txt,"));
	CHECK(!strstr(all, "secret"));

	/* A reply buffer that holds about two entries: resume at each off. */
	for (int i = 0; i < 100; i++) {
		int before = n_parts;

		rep = readdir_req(FUSE_READDIR, (uint64_t)fh, off, 80, 16 + 80);
		CHECK_EQ(rep.error, 0);
		CHECK(rep.body_len <= 80);
		if (!rep.body_len)
			break;
		off = parse_dir(&rep, false, parts, sizeof(parts), &n_parts);
		CHECK(n_parts > before);
	}
	CHECK_EQ(n_parts, n_all);
	CHECK(!strcmp(parts, all));

	/* Restarting at an earlier offset (seekdir) gives the same stream. */
	parts[0] = 0;
	n_parts = 0;
	rep = readdir_req(FUSE_READDIRPLUS, (uint64_t)fh, 0, 65536, OUT_MAX);
	CHECK_EQ(rep.error, 0);
	parse_dir(&rep, true, parts, sizeof(parts), &n_parts);
	CHECK(!strcmp(parts, all));

	/* Buffers too small for one entry: an error, never a partial record. */
	rep = readdir_req(FUSE_READDIR, (uint64_t)fh, 0, 4096, 20);
	CHECK_EQ(rep.error, -EINVAL);
	CHECK_EQ(rep.total, 16);
	rep = readdir_req(FUSE_READDIRPLUS, (uint64_t)fh, 0, 100, OUT_MAX);
	CHECK_EQ(rep.error, -EINVAL);
	rep = readdir_req(FUSE_READDIR, (uint64_t)fh, 0, 4096, 8);
	CHECK_EQ(rep.total, 0);
	/* Past the end: empty. */
	rep = readdir_req(FUSE_READDIR, (uint64_t)fh, 100000, 4096, OUT_MAX);
	CHECK_EQ(rep.error, 0);
	CHECK_EQ(rep.body_len, 0);
	CHECK_EQ(do_read((uint64_t)fh, 0, 10, all), -EBADF); /* a dir handle is not a file */
	CHECK_EQ(release(FUSE_RELEASEDIR, (uint64_t)fh), 0);
	CHECK_EQ(do_open(FUSE_OPENDIR, (uint64_t)lookup(FUSE_ROOT_ID, "file.txt", NULL), 0),
		 -ENOTDIR);
}

static void test_statfs(void)
{
	struct fuse_statfs_out out;
	struct statfs sf;
	struct req r;
	struct reply rep;

	req_init(&r, FUSE_STATFS, FUSE_ROOT_ID);
	rep = send_req(&r);
	CHECK_EQ(rep.error, 0);
	CHECK_EQ(rep.body_len, sizeof(out));
	memcpy(&out, rep.body, sizeof(out));
	CHECK(!statfs(share, &sf));
	CHECK_EQ(out.st.bsize, sf.f_bsize);
	CHECK_EQ(out.st.blocks, sf.f_blocks);
	CHECK(out.st.namelen > 0);
}

static void test_file_ranges(void)
{
	struct fuse_fallocate_in fa = {0};
	struct fuse_lseek_in ls = {0};
	struct fuse_copy_file_range_in cr = {0};
	char path[PATH_MAX], buf[32] = {0};
	uint64_t fh, fh2;
	struct stat st;
	struct req r;
	struct reply rep;
	int64_t id, id2;
	off_t want;
	int fd;

	id = create(FUSE_ROOT_ID, "sparse", O_RDWR | O_CREAT, 0644, &fh);
	CHECK(id > 0);
	CHECK_EQ(do_write(fh, 1 << 20, "data", 4, 4), 4);
	host_path(path, "sparse");
	fd = open(path, O_RDONLY);
	want = lseek(fd, 0, SEEK_DATA);
	close(fd);

	ls = (struct fuse_lseek_in){.fh = fh, .offset = 0, .whence = SEEK_DATA};
	req_init(&r, FUSE_LSEEK, (uint64_t)id);
	req_add(&r, &ls, sizeof(ls));
	rep = send_req(&r);
	CHECK_EQ(rep.error, 0);
	CHECK_EQ(((struct fuse_lseek_out *)rep.body)->offset, want);
	ls.offset = (1 << 20) + 100;
	req_init(&r, FUSE_LSEEK, (uint64_t)id);
	req_add(&r, &ls, sizeof(ls));
	CHECK_EQ(send_req(&r).error, -ENXIO);

	fa = (struct fuse_fallocate_in){.fh = fh, .offset = 0, .length = 3 << 20};
	req_init(&r, FUSE_FALLOCATE, (uint64_t)id);
	req_add(&r, &fa, sizeof(fa));
	rep = send_req(&r);
	if (rep.error != -EOPNOTSUPP) {
		CHECK_EQ(rep.error, 0);
		CHECK(!stat(path, &st));
		CHECK_EQ(st.st_size, 3 << 20);
	}

	id2 = create(FUSE_ROOT_ID, "copy", O_RDWR | O_CREAT, 0644, &fh2);
	cr = (struct fuse_copy_file_range_in){.fh_in = fh,
					      .off_in = 1 << 20,
					      .nodeid_out = (uint64_t)id2,
					      .fh_out = fh2,
					      .off_out = 2,
					      .len = 4};
	req_init(&r, FUSE_COPY_FILE_RANGE, (uint64_t)id);
	req_add(&r, &cr, sizeof(cr));
	rep = send_req(&r);
	CHECK_EQ(rep.error, 0);
	CHECK_EQ(((struct fuse_write_out *)rep.body)->size, 4);
	CHECK_EQ(host_read("copy", buf, sizeof(buf)), 6);
	CHECK(!memcmp(buf + 2, "data", 4));

	/* POSIX (OFD) locks: a second handle conflicts, SETLKW does not block. */
	{
		struct fuse_lk_in lk = {.fh = fh, .lk = {.start = 0, .end = 99, .type = F_WRLCK}};

		req_init(&r, FUSE_SETLK, (uint64_t)id);
		req_add(&r, &lk, sizeof(lk));
		CHECK_EQ(send_req(&r).error, 0);
		fh2 = (uint64_t)do_open(FUSE_OPEN, (uint64_t)id, O_RDWR);
		lk.fh = fh2;
		req_init(&r, FUSE_SETLKW, (uint64_t)id);
		req_add(&r, &lk, sizeof(lk));
		CHECK_EQ(send_req(&r).error, -EAGAIN);
		req_init(&r, FUSE_GETLK, (uint64_t)id);
		req_add(&r, &lk, sizeof(lk));
		rep = send_req(&r);
		CHECK_EQ(rep.error, 0);
		CHECK_EQ(((struct fuse_lk_out *)rep.body)->lk.type, F_WRLCK);
		CHECK_EQ(((struct fuse_lk_out *)rep.body)->lk.end, 99);
		lk.lk_flags = FUSE_LK_FLOCK;
		req_init(&r, FUSE_SETLK, (uint64_t)id);
		req_add(&r, &lk, sizeof(lk));
		CHECK_EQ(send_req(&r).error, 0);
		lk.lk.end = 5; /* end before start */
		lk.lk.start = 10;
		req_init(&r, FUSE_SETLK, (uint64_t)id);
		req_add(&r, &lk, sizeof(lk));
		CHECK_EQ(send_req(&r).error, -EINVAL);
		CHECK_EQ(release(FUSE_RELEASE, fh2), 0);
	}
	CHECK_EQ(release(FUSE_RELEASE, fh), 0);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "sparse"), 0);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "copy"), 0);
}

static void test_misc_ops(void)
{
	struct fuse_access_in ai = {.mask = R_OK | W_OK};
	struct fuse_fsync_in fs = {0};
	struct req r;
	uint64_t fh;

	req_init(&r, FUSE_ACCESS, FUSE_ROOT_ID);
	req_add(&r, &ai, sizeof(ai));
	CHECK_EQ(send_req(&r).error, 0);
	req_init(&r, FUSE_IOCTL, FUSE_ROOT_ID);
	req_add(&r, &fs, sizeof(fs));
	CHECK_EQ(send_req(&r).error, -EINVAL); /* shorter than fuse_ioctl_in */
	req_init(&r, FUSE_POLL, FUSE_ROOT_ID);
	CHECK_EQ(send_req(&r).error, -ENOSYS);
	req_init(&r, 9999, FUSE_ROOT_ID);
	CHECK_EQ(send_req(&r).error, -ENOSYS);
	req_init(&r, FUSE_INTERRUPT, FUSE_ROOT_ID);
	req_add(&r, &fs, sizeof(fs));
	CHECK_EQ(send_req(&r).total, 0);
	req_init(&r, FUSE_SYNCFS, FUSE_ROOT_ID);
	req_add(&r, &fs, sizeof(fs));
	CHECK_EQ(send_req(&r).error, 0);

	CHECK(create(FUSE_ROOT_ID, "new.txt", O_RDWR, 0644, &fh) > 0);
	fs.fh = fh;
	req_init(&r, FUSE_FSYNC, FUSE_ROOT_ID);
	req_add(&r, &fs, sizeof(fs));
	CHECK_EQ(send_req(&r).error, 0);
	req_init(&r, FUSE_FLUSH, FUSE_ROOT_ID);
	req_add(&r, &(struct fuse_flush_in){.fh = fh}, sizeof(struct fuse_flush_in));
	CHECK_EQ(send_req(&r).error, 0);
	CHECK_EQ(release(FUSE_RELEASE, fh), 0);
	/* A flush of a released handle, or of one that never was. */
	req_init(&r, FUSE_FLUSH, FUSE_ROOT_ID);
	req_add(&r, &(struct fuse_flush_in){.fh = fh}, sizeof(struct fuse_flush_in));
	CHECK_EQ(send_req(&r).error, -EBADF);
	fh = (uint64_t)do_open(FUSE_OPENDIR, FUSE_ROOT_ID, 0);
	fs.fh = fh;
	req_init(&r, FUSE_FSYNCDIR, FUSE_ROOT_ID);
	req_add(&r, &fs, sizeof(fs));
	CHECK_EQ(send_req(&r).error, 0);
	CHECK_EQ(release(FUSE_RELEASEDIR, fh), 0);
}

static const uint8_t init_data[] = "#!/bin/sh\necho krun\n";
static const uint8_t shadow_data[] = "from overlay";

/* ---- the exit-status ioctl ---- */

#define EXIT_STATUS_IOCTL 0x7602 /* KRUN_EXIT_STATUS_IOCTL of guest_abi.h */

static int exit_calls, exit_status_seen;

static void record_exit(void *opaque, int status)
{
	CHECK(opaque == &exit_calls);
	exit_calls++;
	exit_status_seen = status;
}

/* FUSE_IOCTL as the guest kernel sends it for an _IO() request on a directory. */
static struct fuse_ioctl_in ioctl_in(uint64_t fh, uint32_t cmd, uint64_t arg)
{
	return (struct fuse_ioctl_in){.fh = fh, .flags = FUSE_IOCTL_DIR, .cmd = cmd, .arg = arg};
}

/* Returns the reply's error, or the ioctl's result once the reply is checked. */
static int send_ioctl(uint64_t node, uint32_t uid, const struct fuse_ioctl_in *in, size_t extra)
{
	static const uint8_t junk[8];
	struct fuse_in_header h;
	struct reply rep;
	struct req r;

	req_init(&r, FUSE_IOCTL, node);
	memcpy(&h, r.buf, sizeof(h));
	h.uid = uid;
	memcpy(r.buf, &h, sizeof(h));
	req_add(&r, in, sizeof(*in));
	req_add(&r, junk, extra);
	rep = send_req(&r);
	if (rep.error)
		return rep.error;
	CHECK_EQ(rep.body_len, sizeof(struct fuse_ioctl_out));
	return ((struct fuse_ioctl_out *)rep.body)->result;
}

/* Every malformed or misplaced report is refused and stops nothing. */
static void test_exit_ioctl_refused(uint64_t root_fh)
{
	struct fuse_ioctl_in in = ioctl_in(root_fh, EXIT_STATUS_IOCTL, 9);
	int64_t dir = mkdir_op(FUSE_ROOT_ID, "exit-dir", 0755), file_node;
	uint64_t file_fh = 0;
	int64_t dir_fh = do_open(FUSE_OPENDIR, (uint64_t)dir, O_RDONLY);

	CHECK(dir > 0 && dir_fh > 0);
	file_node = create(FUSE_ROOT_ID, "exit-file", O_RDWR, 0644, &file_fh);
	CHECK(file_node > 0);

	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 1000, &in, 0), -EPERM); /* not uid 0 */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 65534, &in, 0), -EPERM);
	CHECK_EQ(send_ioctl((uint64_t)dir, 0, &in, 0), -ENOTTY); /* another node */
	CHECK_EQ(send_ioctl((uint64_t)file_node, 0, &in, 0), -ENOTTY);
	CHECK_EQ(send_ioctl(123456, 0, &in, 0), -ENOTTY);	/* no such node */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 4), -EINVAL); /* data after it */
	in.in_size = 4;
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 4), -EINVAL); /* _IOW-sized */
	in.in_size = 0;
	in.out_size = 4;
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -EINVAL); /* _IOR-sized */
	in.out_size = 0;
	in.flags |= FUSE_IOCTL_UNRESTRICTED;
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -EINVAL);
	in.flags = 0; /* not a directory fd */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -EBADF);
	in = ioctl_in((uint64_t)dir_fh, EXIT_STATUS_IOCTL, 9); /* a subdirectory's handle */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -EBADF);
	in = ioctl_in(file_fh, EXIT_STATUS_IOCTL, 9); /* a file handle */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -EBADF);
	in = ioctl_in(0xdeadbeef, EXIT_STATUS_IOCTL, 9); /* forged */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -EBADF);
	/* The same number with size bits (_IOW/_IOR('v', 2, int)): another request. */
	in = ioctl_in(root_fh, 0x40047602, 9);
	in.in_size = 4;
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 4), -ENOTTY);
	in = ioctl_in(root_fh, 0x80047602, 9);
	in.out_size = 4;
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -ENOTTY);
	in = ioctl_in(root_fh, 0x80086601, 0); /* FS_IOC_GETFLAGS, as chattr sends it */
	in.out_size = 8;
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -ENOTTY);
	CHECK_EQ(exit_calls, 0);

	CHECK_EQ(release(FUSE_RELEASEDIR, (uint64_t)dir_fh), 0);
	CHECK_EQ(release(FUSE_RELEASE, file_fh), 0);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "exit-file"), 0);
	CHECK_EQ(name_op(FUSE_RMDIR, FUSE_ROOT_ID, "exit-dir"), 0);
}

static void test_exit_ioctl(void)
{
	int64_t fh = do_open(FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY);
	struct fuse_ioctl_in in = ioctl_in((uint64_t)fh, EXIT_STATUS_IOCTL, 7);
	struct req r;

	CHECK(fh > 0);
	/* A share without an exit handler (not the root share) knows no ioctl. */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -ENOTTY);

	fuse_server_set_exit_handler(srv, record_exit, &exit_calls);
	test_exit_ioctl_refused((uint64_t)fh);

	/* No room for the reply: refused before anything stops. */
	req_init(&r, FUSE_IOCTL, FUSE_ROOT_ID);
	req_add(&r, &in, sizeof(in));
	CHECK_EQ(send_raw(&r, sizeof(struct fuse_out_header) + 4, 0).error, -EINVAL);
	CHECK_EQ(exit_calls, 0);

	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), 0);
	CHECK_EQ(exit_calls, 1);
	CHECK_EQ(exit_status_seen, 7);
	in.arg = 0;
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), 0);
	CHECK_EQ(exit_status_seen, 0);
	in.arg = 0x1234; /* an exit status is 8 bits, as for a process */
	in.flags |= FUSE_IOCTL_COMPAT | FUSE_IOCTL_32BIT; /* a 32-bit init */
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), 0);
	CHECK_EQ(exit_status_seen, 0x34);
	CHECK_EQ(exit_calls, 3);

	fuse_server_set_exit_handler(srv, NULL, NULL);
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -ENOTTY);
	CHECK_EQ(exit_calls, 3);
	CHECK_EQ(release(FUSE_RELEASEDIR, (uint64_t)fh), 0);
	/* A released handle no longer carries a report. */
	fuse_server_set_exit_handler(srv, record_exit, &exit_calls);
	CHECK_EQ(send_ioctl(FUSE_ROOT_ID, 0, &in, 0), -EBADF);
	fuse_server_set_exit_handler(srv, NULL, NULL);
	CHECK_EQ(exit_calls, 3);
}

static void test_overlay(void)
{
	struct fuse_entry_out e;
	char names[1024] = "", buf[64] = {0};
	int count = 0;
	int64_t id, dir, inner, fh;
	struct reply rep;
	uint64_t cfh;

	CHECK_EQ(fuse_server_add_overlay_file(srv, "init.krun", init_data, sizeof(init_data) - 1,
					      0755, true),
		 0);
	CHECK_EQ(fuse_server_add_overlay_dir(srv, "ovd", 0755), 0);
	CHECK_EQ(fuse_server_add_overlay_file(srv, "ovd/inner", shadow_data, 12, 0644, false), 0);
	CHECK_EQ(fuse_server_add_overlay_file(srv, "file.txt", shadow_data, 12, 0444, false), 0);
	CHECK_EQ(fuse_server_add_overlay_file(srv, "ovd", shadow_data, 12, 0444, false), -EEXIST);
	CHECK_EQ(fuse_server_add_overlay_file(srv, "nodir/x", shadow_data, 12, 0444, false),
		 -ENOENT);
	CHECK(fuse_server_add_overlay_file(srv, "ovd/../x", shadow_data, 12, 0444, false) < 0);
	CHECK_EQ(fuse_server_add_overlay_file(srv, "ovd/..", shadow_data, 12, 0444, false),
		 -EINVAL);

	/* The root listing shows the overlay entries once, hiding the host file.txt. */
	fh = do_open(FUSE_OPENDIR, FUSE_ROOT_ID, 0);
	rep = readdir_req(FUSE_READDIR, (uint64_t)fh, 0, 8192, OUT_MAX);
	parse_dir(&rep, false, names, sizeof(names), &count);
	CHECK(!strncmp(names, "init.krun,ovd,file.txt,", 23));
	CHECK(strstr(names + 23, "file.txt,") == NULL);
	release(FUSE_RELEASEDIR, (uint64_t)fh);

	id = lookup(FUSE_ROOT_ID, "init.krun", &e);
	CHECK(id > 0);
	CHECK_EQ(e.attr.mode, S_IFREG | 0755);
	CHECK_EQ(e.attr.size, sizeof(init_data) - 1);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "init.krun", NULL), -ENOENT); /* one shot */
	fh = do_open(FUSE_OPEN, (uint64_t)id, O_RDONLY);
	CHECK(fh > 0);
	CHECK_EQ(do_read((uint64_t)fh, 0, 64, buf), sizeof(init_data) - 1);
	CHECK(!memcmp(buf, init_data, sizeof(init_data) - 1));
	CHECK_EQ(do_read((uint64_t)fh, 10, 4, buf), 4);
	CHECK(!memcmp(buf, "echo", 4));
	CHECK_EQ(do_write((uint64_t)fh, 0, "x", 1, 1), -EROFS);
	release(FUSE_RELEASE, (uint64_t)fh);
	CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)id, O_RDWR), -EROFS);
	names[0] = 0;
	fh = do_open(FUSE_OPENDIR, FUSE_ROOT_ID, 0);
	rep = readdir_req(FUSE_READDIRPLUS, (uint64_t)fh, 0, 8192, OUT_MAX);
	parse_dir(&rep, true, names, sizeof(names), &count);
	CHECK(strstr(names, "init.krun") == NULL);
	release(FUSE_RELEASEDIR, (uint64_t)fh);

	/* The overlay shadows the host file of the same name. */
	id = lookup(FUSE_ROOT_ID, "file.txt", &e);
	CHECK_EQ(e.attr.size, 12);
	fh = do_open(FUSE_OPEN, (uint64_t)id, O_RDONLY);
	CHECK_EQ(do_read((uint64_t)fh, 0, 64, buf), 12);
	CHECK(!memcmp(buf, "from overlay", 12));
	release(FUSE_RELEASE, (uint64_t)fh);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "file.txt"), -EROFS);
	CHECK_EQ(rename_op(FUSE_ROOT_ID, "new.txt", FUSE_ROOT_ID, "file.txt", 0), -EROFS);
	CHECK_EQ(create(FUSE_ROOT_ID, "file.txt", O_RDWR | O_CREAT, 0644, &cfh), -EROFS);
	{
		struct fuse_setattr_in in = {.valid = FATTR_MODE, .mode = 0777};

		CHECK_EQ(setattr((uint64_t)id, &in), -EROFS);
	}
	CHECK_EQ(xattr_req(FUSE_SETXATTR, (uint64_t)id, "user.a", "b", 1).error, -EROFS);
	CHECK_EQ(xattr_req(FUSE_GETXATTR, (uint64_t)id, "user.a", NULL, 10).error, -ENODATA);

	/* Overlay directories hold only overlay entries and refuse changes. */
	dir = lookup(FUSE_ROOT_ID, "ovd", &e);
	CHECK(S_ISDIR(e.attr.mode));
	inner = lookup((uint64_t)dir, "inner", &e);
	CHECK(inner > 0);
	CHECK_EQ(lookup((uint64_t)dir, "sub.txt", NULL), -ENOENT);
	CHECK_EQ(lookup((uint64_t)dir, "..", NULL), FUSE_ROOT_ID);
	CHECK_EQ(mkdir_op((uint64_t)dir, "new", 0755), -EROFS);
	CHECK_EQ(create((uint64_t)dir, "new", O_RDWR | O_CREAT, 0644, &cfh), -EROFS);
	CHECK_EQ(name_op(FUSE_UNLINK, (uint64_t)dir, "inner"), -EROFS);
	CHECK_EQ(name_op(FUSE_RMDIR, FUSE_ROOT_ID, "ovd"), -EROFS);
	names[0] = 0;
	count = 0;
	fh = do_open(FUSE_OPENDIR, (uint64_t)dir, 0);
	rep = readdir_req(FUSE_READDIRPLUS, (uint64_t)fh, 0, 8192, OUT_MAX);
	parse_dir(&rep, true, names, sizeof(names), &count);
	CHECK(!strcmp(names, "inner,"));
	release(FUSE_RELEASEDIR, (uint64_t)fh);
	CHECK(!host_exists(share, "ovd"));
}

/* The guest tries to reach ../outside/secret.txt every way it can. */
static void test_confinement(void)
{
	struct fuse_entry_out e;
	char buf[64] = {0}, path[PATH_MAX];
	struct fuse_setattr_in sa = {0};
	uint64_t fh;
	int64_t abs, rel, reldir, dir, deep, swap;
	struct req r;
	struct reply rep;

	/* The links themselves can be looked up and read, never followed. */
	abs = lookup(FUSE_ROOT_ID, "abs", &e);
	CHECK(abs > 0 && S_ISLNK(e.attr.mode));
	rel = lookup(FUSE_ROOT_ID, "rel", NULL);
	reldir = lookup(FUSE_ROOT_ID, "reldir", NULL);
	dir = lookup(FUSE_ROOT_ID, "dir", NULL);
	deep = lookup((uint64_t)dir, "deep", NULL);
	CHECK(rel > 0 && reldir > 0 && deep > 0);
	req_init(&r, FUSE_READLINK, (uint64_t)rel);
	rep = send_req(&r);
	CHECK(rep.body_len == 21 && !memcmp(rep.body, "../outside/secret.txt", 21));

	CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)abs, O_RDONLY), -ELOOP);
	CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)rel, O_RDONLY), -ELOOP);
	CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)deep, O_RDWR | O_TRUNC), -ELOOP);
	CHECK_EQ(do_open(FUSE_OPENDIR, (uint64_t)reldir, 0), -ENOTDIR);
	CHECK_EQ(lookup((uint64_t)reldir, "secret.txt", NULL), -ENOTDIR);
	CHECK_EQ(create((uint64_t)reldir, "created", O_RDWR | O_CREAT, 0644, &fh), -ENOTDIR);
	CHECK_EQ(mkdir_op((uint64_t)reldir, "created", 0755), -ENOTDIR);
	CHECK_EQ(create(FUSE_ROOT_ID, "abs", O_RDWR | O_CREAT | O_TRUNC, 0644, &fh), -ELOOP);
	CHECK_EQ(create(FUSE_ROOT_ID, "rel", O_WRONLY | O_CREAT, 0644, &fh), -ELOOP);
	sa.valid = FATTR_SIZE;
	CHECK_EQ(setattr((uint64_t)abs, &sa), -EINVAL);
	sa.valid = FATTR_MODE;
	sa.mode = 0777;
	CHECK(setattr((uint64_t)rel, &sa) != 0);
	xattr_req(FUSE_SETXATTR, (uint64_t)abs, "user.x", "y", 1);
	rep = xattr_req(FUSE_GETXATTR, (uint64_t)abs, "user.x", NULL, 10);
	CHECK(rep.error != 0);
	/* LINK of a symlink node links the symlink. */
	{
		struct fuse_link_in li = {.oldnodeid = (uint64_t)abs};

		req_init(&r, FUSE_LINK, FUSE_ROOT_ID);
		req_add(&r, &li, sizeof(li));
		req_str(&r, "abs2");
		rep = send_req(&r);
		CHECK_EQ(rep.error, 0);
		CHECK(S_ISLNK(((struct fuse_entry_out *)rep.body)->attr.mode));
		CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "abs2"), 0);
	}

	/* A link to a host file the guest must never see, read or truncate. */
	{
		struct stat before, after;
		int64_t pw = lookup(FUSE_ROOT_ID, "passwd", NULL);
		struct fuse_read_in ri = {.fh = 1, .size = 4096};

		CHECK(!stat("/etc/passwd", &before));
		CHECK(pw > 0);
		CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)pw, O_RDONLY), -ELOOP);
		CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)pw, O_RDWR | O_TRUNC), -ELOOP);
		CHECK_EQ(create(FUSE_ROOT_ID, "passwd", O_WRONLY | O_CREAT | O_TRUNC, 0644, &fh),
			 -ELOOP);
		sa.valid = FATTR_SIZE;
		sa.size = 0;
		CHECK_EQ(setattr((uint64_t)pw, &sa), -EINVAL);
		/* No handle of any kind reads its bytes, whatever fh is tried. */
		for (ri.fh = 0; ri.fh < 64; ri.fh++) {
			req_init(&r, FUSE_READ, (uint64_t)pw);
			req_add(&r, &ri, sizeof(ri));
			rep = send_req(&r);
			CHECK(rep.error || !memmem(rep.body, rep.body_len, "root:", 5));
		}
		CHECK(!stat("/etc/passwd", &after));
		CHECK(after.st_size == before.st_size && after.st_mtime == before.st_mtime &&
		      after.st_mode == before.st_mode);
	}

	/* Names are single components. */
	CHECK_EQ(lookup(FUSE_ROOT_ID, "../outside", NULL), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "reldir/secret.txt", NULL), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "", NULL), -EINVAL);
	memset(path, 'a', 300);
	path[300] = 0;
	CHECK_EQ(lookup(FUSE_ROOT_ID, path, NULL), -ENAMETOOLONG);
	CHECK_EQ(create(FUSE_ROOT_ID, "../escape", O_RDWR | O_CREAT, 0644, &fh), -EINVAL);
	CHECK_EQ(create(FUSE_ROOT_ID, "..", O_RDWR | O_CREAT, 0644, &fh), -EINVAL);
	CHECK_EQ(mkdir_op(FUSE_ROOT_ID, "..", 0755), -EINVAL);
	CHECK_EQ(mkdir_op(FUSE_ROOT_ID, ".", 0755), -EINVAL);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "../outside/secret.txt"), -EINVAL);
	CHECK_EQ(name_op(FUSE_RMDIR, FUSE_ROOT_ID, ".."), -EINVAL);
	CHECK_EQ(rename_op(FUSE_ROOT_ID, "new.txt", FUSE_ROOT_ID, "../escape", 0), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "..", NULL), FUSE_ROOT_ID);

	/* A directory swapped for an outward symlink after its lookup (TOCTOU). */
	swap = mkdir_op(FUSE_ROOT_ID, "swap", 0755);
	CHECK(swap > 0);
	host_path(path, "swap");
	CHECK(!rmdir(path));
	CHECK(!symlink(outside, path));
	CHECK(create((uint64_t)swap, "x", O_RDWR | O_CREAT, 0644, &fh) < 0);
	CHECK(mkdir_op((uint64_t)swap, "x", 0755) < 0);
	CHECK(lookup((uint64_t)swap, "secret.txt", NULL) < 0);
	/* ".." of the removed directory is at most its old parent, the root. */
	CHECK(lookup((uint64_t)swap, "..", NULL) < 0 || lookup((uint64_t)swap, "..", NULL) == 1);
	/* The same after a rename into the share's parent (done by the host). */
	{
		char moved[PATH_MAX];
		int64_t sub = mkdir_op((uint64_t)dir, "sub", 0755);

		host_path(path, "dir/sub");
		PATHF(moved, sizeof(moved), "%s/escape", base);
		CHECK(!rename(path, moved));
		CHECK(lookup((uint64_t)sub, "..", NULL) < 0); /* not below the root */
		CHECK(!rename(moved, path));
		CHECK_EQ(lookup((uint64_t)sub, "..", NULL), dir);
	}
	host_path(path, "swap");
	CHECK(!unlink(path));

	/* Forged and stale ids. */
	CHECK_EQ(getattr(0, NULL), -ENOENT);
	CHECK_EQ(getattr(123456789, NULL), -ENOENT);
	CHECK_EQ(getattr(UINT64_MAX, NULL), -ENOENT);
	CHECK_EQ(lookup(987654, "file.txt", NULL), -ENOENT);
	CHECK_EQ(do_read(424242, 0, 10, buf), -EBADF);
	CHECK_EQ(do_write(424242, 0, "x", 1, 1), -EBADF);
	CHECK_EQ(release(FUSE_RELEASE, 0), -EBADF);
	CHECK_EQ(release(FUSE_RELEASEDIR, UINT64_MAX), -EBADF);
	outside_intact();
}

static void test_malformed(void)
{
	struct fuse_write_in wi = {0};
	char buf[32];
	struct req r;
	struct reply rep;
	uint64_t fh;
	int64_t id;

	/* No readable header: no reply at all. */
	req_init(&r, FUSE_GETATTR, FUSE_ROOT_ID);
	r.len = 10;
	CHECK_EQ(send_req(&r).total, 0);
	/* len field beyond the buffers, or smaller than a header. */
	req_init(&r, FUSE_GETATTR, FUSE_ROOT_ID);
	req_add(&r, &(struct fuse_getattr_in){0}, sizeof(struct fuse_getattr_in));
	rep = send_raw(&r, OUT_MAX, 100000);
	CHECK_EQ(rep.error, -EINVAL);
	rep = send_raw(&r, OUT_MAX, 12);
	CHECK_EQ(rep.error, -EINVAL);
	/* A body shorter than the operation's arguments. */
	req_init(&r, FUSE_GETATTR, FUSE_ROOT_ID);
	req_add(&r, "abc", 3);
	CHECK_EQ(send_req(&r).error, -EINVAL);
	req_init(&r, FUSE_SETATTR, FUSE_ROOT_ID);
	CHECK_EQ(send_req(&r).error, -EINVAL);
	/* A name without its NUL. */
	req_init(&r, FUSE_LOOKUP, FUSE_ROOT_ID);
	req_add(&r, "file.txt", 8);
	CHECK_EQ(send_req(&r).error, -EINVAL);
	/* Reply buffers too small: an error header, or nothing. */
	req_init(&r, FUSE_GETATTR, FUSE_ROOT_ID);
	req_add(&r, &(struct fuse_getattr_in){0}, sizeof(struct fuse_getattr_in));
	rep = send_raw(&r, 40, 0);
	CHECK_EQ(rep.error, -EINVAL);
	CHECK_EQ(send_raw(&r, 15, 0).total, 0);
	/* A huge BATCH_FORGET count with two entries present. */
	{
		struct fuse_batch_forget_in bf = {.count = UINT32_MAX};
		struct fuse_forget_one one = {.nodeid = 999999, .nlookup = 1};

		req_init(&r, FUSE_BATCH_FORGET, 0);
		req_add(&r, &bf, sizeof(bf));
		req_add(&r, &one, sizeof(one));
		req_add(&r, &one, sizeof(one));
		CHECK_EQ(send_req(&r).total, 0);
	}
	/* WRITE claiming more data than it carries changes nothing. */
	id = create(FUSE_ROOT_ID, "w.txt", O_RDWR | O_CREAT, 0644, &fh);
	CHECK(id > 0);
	CHECK_EQ(do_write(fh, 0, "abcdef", 1000, 6), -EINVAL);
	CHECK_EQ(do_write(fh, 0, "abcdef", UINT32_MAX, 6), -EINVAL);
	CHECK_EQ(host_read("w.txt", buf, sizeof(buf)), 0);
	wi.fh = fh;
	wi.size = 4;
	wi.offset = UINT64_MAX;
	req_init(&r, FUSE_WRITE, (uint64_t)id);
	req_add(&r, &wi, sizeof(wi));
	req_add(&r, "abcd", 4);
	CHECK_EQ(send_req(&r).error, -EINVAL);
	/* WRITE with only part of fuse_write_in. */
	req_init(&r, FUSE_WRITE, (uint64_t)id);
	req_add(&r, &wi, 20);
	CHECK_EQ(send_req(&r).error, -EINVAL);
	/* READ larger than the reply buffer is clipped to it. */
	CHECK_EQ(do_write(fh, 0, "0123456789", 10, 10), 10);
	{
		struct fuse_read_in ri = {.fh = fh, .size = 1 << 30};

		req_init(&r, FUSE_READ, (uint64_t)id);
		req_add(&r, &ri, sizeof(ri));
		rep = send_raw(&r, 16 + 4, 0);
		CHECK_EQ(rep.error, 0);
		CHECK_EQ(rep.body_len, 4);
	}
	CHECK_EQ(release(FUSE_RELEASE, fh), 0);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "w.txt"), 0);
	outside_intact();
}

static void test_read_only(void)
{
	struct fuse_server *rw = srv;
	char buf[32];
	uint64_t fh;
	int64_t id;

	srv = fuse_server_new(share, true);
	CHECK(srv != NULL);
	CHECK(do_init(38) > 0);
	CHECK_EQ(mkdir_op(FUSE_ROOT_ID, "ro", 0755), -EROFS);
	CHECK_EQ(create(FUSE_ROOT_ID, "ro", O_RDWR | O_CREAT, 0644, &fh), -EROFS);
	CHECK_EQ(name_op(FUSE_UNLINK, FUSE_ROOT_ID, "new.txt"), -EROFS);
	id = lookup(FUSE_ROOT_ID, "new.txt", NULL);
	CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)id, O_WRONLY), -EROFS);
	CHECK_EQ(do_open(FUSE_OPEN, (uint64_t)id, O_RDONLY | O_TRUNC), -EROFS);
	fh = (uint64_t)do_open(FUSE_OPEN, (uint64_t)id, O_RDONLY);
	CHECK(fh > 0);
	CHECK_EQ(do_read(fh, 0, 4, buf), 4);
	CHECK_EQ(do_write(fh, 0, "x", 1, 1), -EROFS);
	{
		struct req r;

		req_init(&r, FUSE_DESTROY, 0);
		CHECK_EQ(send_req(&r).error, 0);
	}
	CHECK_EQ(getattr((uint64_t)id, NULL), -EIO); /* destroyed: INIT first */
	fuse_server_free(srv);
	srv = rw;
	CHECK(fuse_server_new("/nonexistent/dir", false) == NULL && errno == ENOENT);
}

/* ---- several queues at once ---- */

#define THREADS	   4
#define ITERATIONS 300

struct worker {
	int index;
	int errors;
};

/* One request with private buffers; returns the reply error and fills body. */
static int32_t call(uint32_t op, uint64_t node, const void *arg, size_t len, const char *name,
		    void *body, size_t body_size)
{
	uint8_t in[512], out[4096 + 16];
	struct fuse_in_header h = {.opcode = op, .nodeid = node, .unique = 1};
	size_t n = sizeof(h), name_len = name ? strlen(name) + 1 : 0;
	struct iovec iin, iout = {out, sizeof(out)};
	struct fuse_out_header oh;

	if (len)
		memcpy(in + n, arg, len);
	n += len;
	if (name_len)
		memcpy(in + n, name, name_len);
	n += name_len;
	h.len = (uint32_t)n;
	memcpy(in, &h, sizeof(h));
	iin = (struct iovec){in, n};
	if (fuse_server_handle(srv, &iin, 1, &iout, 1) < sizeof(oh))
		return 1;
	memcpy(&oh, out, sizeof(oh));
	if (body)
		memcpy(body, out + sizeof(oh), MIN_SZ(body_size, oh.len - sizeof(oh)));
	return oh.error;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[32];

	snprintf(name, sizeof(name), "thread%d", w->index);
	for (int i = 0; i < ITERATIONS; i++) {
		struct fuse_create_in ci = {.flags = O_RDWR, .mode = S_IFREG | 0644};
		struct fuse_entry_out e;
		struct fuse_open_out oo;
		uint8_t both[sizeof(e) + sizeof(oo)];
		struct fuse_release_in ri = {0};
		struct fuse_forget_in fi = {.nlookup = 1};
		struct fuse_getattr_in gi = {0};
		struct fuse_read_in rd = {.size = 64};

		w->errors +=
		    call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "new.txt", &e, sizeof(e)) != 0;
		w->errors += call(FUSE_GETATTR, e.nodeid, &gi, sizeof(gi), NULL, NULL, 0) != 0;
		w->errors += call(FUSE_OPEN, e.nodeid, &(struct fuse_open_in){0},
				  sizeof(struct fuse_open_in), NULL, &oo, sizeof(oo)) != 0;
		rd.fh = oo.fh;
		w->errors += call(FUSE_READ, e.nodeid, &rd, sizeof(rd), NULL, NULL, 0) != 0;
		ri.fh = oo.fh;
		w->errors += call(FUSE_RELEASE, e.nodeid, &ri, sizeof(ri), NULL, NULL, 0) != 0;
		call(FUSE_FORGET, e.nodeid, &fi, sizeof(fi), NULL, NULL, 0);

		w->errors +=
		    call(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), name, both, sizeof(both)) != 0;
		memcpy(&e, both, sizeof(e));
		memcpy(&oo, both + sizeof(e), sizeof(oo));
		ri.fh = oo.fh;
		w->errors += call(FUSE_RELEASE, e.nodeid, &ri, sizeof(ri), NULL, NULL, 0) != 0;
		w->errors += call(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, name, NULL, 0) != 0;
		call(FUSE_FORGET, e.nodeid, &fi, sizeof(fi), NULL, NULL, 0);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t tids[THREADS];
	struct worker workers[THREADS];

	for (int i = 0; i < THREADS; i++) {
		workers[i] = (struct worker){.index = i};
		CHECK(!pthread_create(&tids[i], NULL, worker_main, &workers[i]));
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tids[i], NULL);
		CHECK_EQ(workers[i].errors, 0);
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/*
 * A READ of 4 GiB - 1 into more than 4 GiB of reply buffers: the reply's
 * length is 32-bit, so it must be served short, never with a length that
 * wrapped. The guest buffers alias one 16 MiB block (so each preadv stays under
 * the kernel's 2 GiB per call and the loop goes on); the file is sparse.
 */
static void test_huge_read(void)
{
	enum { BLOCK = 16 << 20, NBLOCKS = 260 };
	struct fuse_read_in in = {.offset = 0, .size = UINT32_MAX};
	struct fuse_out_header oh;
	struct iovec reqv, out[NBLOCKS];
	uint8_t *block = malloc(BLOCK);
	char path[PATH_MAX];
	struct req r;
	int64_t node, fh;
	size_t total;
	int fd;

	PATHF(path, sizeof(path), "%s/huge", share);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0 && block);
	if (fd < 0 || !block || ftruncate(fd, 5LL << 30)) {
		free(block);
		return;
	}
	close(fd);
	node = lookup(FUSE_ROOT_ID, "huge", NULL);
	fh = do_open(FUSE_OPEN, (uint64_t)node, O_RDONLY);
	CHECK(node > 0 && fh > 0);
	in.fh = (uint64_t)fh;
	req_init(&r, FUSE_READ, 0);
	req_add(&r, &in, sizeof(in));
	memcpy(r.buf, &(uint32_t){(uint32_t)r.len}, sizeof(uint32_t));
	reqv = (struct iovec){r.buf, r.len};
	for (int i = 0; i < NBLOCKS; i++)
		out[i] = (struct iovec){block, BLOCK};
	total = fuse_server_handle(srv, &reqv, 1, out, NBLOCKS);
	memcpy(&oh, block, sizeof(oh));
	CHECK(total <= UINT32_MAX);
	CHECK(total > sizeof(oh));
	CHECK_EQ(oh.error, 0);
	CHECK_EQ(oh.len, total);
	release(FUSE_RELEASE, (uint64_t)fh);
	forget((uint64_t)node, 1);
	unlink(path);
	free(block);
}

#ifdef __SANITIZE_ADDRESS__
#define HANDLE_KIB_MAX 3
#else
#define HANDLE_KIB_MAX 1
#endif

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* OPENDIR + one READDIR each until the server refuses; returns how many, *err the refusal. */
static int hold_dirs(int64_t *fhs, int max, int *err)
{
	int n;

	*err = 0;
	for (n = 0; n < max; n++) {
		fhs[n] = do_open(FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY);
		if (fhs[n] < 0) {
			*err = (int)fhs[n];
			break;
		}
		CHECK_EQ(readdir_req(FUSE_READDIR, (uint64_t)fhs[n], 0, 4096, OUT_MAX).error, 0);
	}
	return n;
}

/*
 * A guest holding directory handles by the ten thousand: capped (EMFILE at
 * FUSE_MAX_DIR_HANDLES, or half the fd budget when the fd limit is lower),
 * no per-handle buffer kept between READDIRs, and files still open.
 */
static void test_handle_caps(void)
{
	enum { TRY = FUSE_MAX_DIR_HANDLES + 100 };
	int64_t *fhs = calloc(TRY, sizeof(*fhs)), file_fh;
	long before = rss_kib(), grown;
	int n, err;

	n = hold_dirs(fhs, TRY, &err);
	grown = rss_kib() - before;
	printf("  %d directory handles held (then %s), RSS +%ld KiB\n", n, strerror(-err), grown);
	CHECK_EQ(n, MIN_SZ(FUSE_MAX_DIR_HANDLES, fuse_fd_budget() / 2));
	CHECK_EQ(err, -EMFILE);
	/* ~0.2 KiB a handle (ASan's redzones and quarantine: ~2.3), not the 4.5 KiB it was. */
	CHECK(grown < n * HANDLE_KIB_MAX);
	/* Other requests are still served: a file opens and reads. */
	file_fh = do_open(FUSE_OPEN, (uint64_t)lookup(FUSE_ROOT_ID, "file.txt", NULL), O_RDONLY);
	CHECK(file_fh > 0);
	CHECK(do_read((uint64_t)file_fh, 0, 4, (char[8]){0}) >= 0);
	CHECK_EQ(release(FUSE_RELEASE, (uint64_t)file_fh), 0);
	for (int i = 0; i < n; i++)
		CHECK_EQ(release(FUSE_RELEASEDIR, (uint64_t)fhs[i]), 0);
	fhs[0] = do_open(FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY);
	CHECK(fhs[0] > 0);
	release(FUSE_RELEASEDIR, (uint64_t)fhs[0]);
	free(fhs);
}

/*
 * With a low fd limit, the servers stop while the process still has fds
 * for everything else. Lowers the hard limit: the last test.
 */
static void test_fd_budget(void)
{
	struct rlimit lim = {700, 700};
	int64_t fhs[800], file_fh;
	int n, err, spare[100], got = 0;

	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
	srv = fuse_server_new(share, false);
	CHECK(srv != NULL);
	if (!srv)
		return;
	do_init(FUSE_OUR_MINOR);
	n = hold_dirs(fhs, 800, &err);
	printf("  fd limit 700: %d directory handles held (then %s)\n", n, strerror(-err));
	/* Directories take at most half the budget: files still open. */
	CHECK_EQ(err, -EMFILE);
	CHECK_EQ(n, (700 - FUSE_FD_HEADROOM_MIN) / 2);
	file_fh = do_open(FUSE_OPEN, (uint64_t)lookup(FUSE_ROOT_ID, "file.txt", NULL), O_RDONLY);
	CHECK(file_fh > 0);
	release(FUSE_RELEASE, (uint64_t)file_fh);
	for (got = 0; got < 100; got++)
		if ((spare[got] = dup(0)) < 0)
			break;
	CHECK_EQ(got, 100);
	while (got--)
		close(spare[got]);
	for (int i = 0; i < n; i++)
		release(FUSE_RELEASEDIR, (uint64_t)fhs[i]);
	fuse_server_free(srv);
	srv = NULL;
}

/*
 * New inodes of a non-root guest user, with the VMM as root: born with the
 * guest's owner and the exact mode, so nothing is changed afterwards through
 * the name (which a host process may have pointed elsewhere meanwhile). An
 * inotify watch sees every attribute change: there must be none.
 */
static void *create_as_guest_user(void *arg)
{
	uint64_t dir = *(uint64_t *)arg, fh = 0;
	struct fuse_mknod_in mk = {.mode = S_IFIFO | 0664, .umask = 0};
	struct req r;

	CHECK_EQ(fuse_server_thread_init(), 0);
	req_uid = 1234;
	req_gid = 1235;
	CHECK(mkdir_op(dir, "d", 0775) > 0);
	CHECK(create(dir, "f", O_RDWR, 04775, &fh) > 0);
	CHECK_EQ(release(FUSE_RELEASE, fh), 0);
	req_init(&r, FUSE_MKNOD, dir);
	req_add(&r, &mk, sizeof(mk));
	req_str(&r, "p");
	CHECK_EQ(send_req(&r).error, 0);
	req_init(&r, FUSE_SYMLINK, dir);
	req_str(&r, "l");
	req_str(&r, "target");
	CHECK_EQ(send_req(&r).error, 0);
	req_uid = req_gid = 0;
	return NULL;
}

static void check_new(const char *dir, const char *name, mode_t mode)
{
	char path[PATH_MAX];
	struct stat st;

	PATHF(path, sizeof(path), "%s/%s", dir, name);
	CHECK_EQ(lstat(path, &st), 0);
	CHECK_EQ(st.st_uid, 1234);
	CHECK_EQ(st.st_gid, 1235);
	if (mode)
		CHECK_EQ(st.st_mode & 07777, mode);
}

static void test_created_owner_without_race(void)
{
	char dir[PATH_MAX], events[4096];
	uint64_t node;
	pthread_t t;
	ssize_t n;
	int in, attribs = 0;

	if (geteuid() != 0) {
		printf("  (not root: the owner of new inodes is the VMM's, skipped)\n");
		return;
	}
	PATHF(dir, sizeof(dir), "%s/pub", share);
	CHECK_EQ(mkdir(dir, 0777), 0);
	CHECK_EQ(chmod(dir, 0777), 0);
	node = (uint64_t)lookup(FUSE_ROOT_ID, "pub", NULL);
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	CHECK(in >= 0 && inotify_add_watch(in, dir, IN_ATTRIB | IN_CREATE) >= 0);
	pthread_create(&t, NULL, create_as_guest_user, &node);
	pthread_join(t, NULL);
	while ((n = read(in, events, sizeof(events))) > 0)
		for (char *p = events; p < events + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			attribs += !!(ev->mask & IN_ATTRIB);
			p += sizeof(*ev) + ev->len;
		}
	CHECK_EQ(attribs, 0);
	check_new(dir, "d", 0775);
	check_new(dir, "f", 04775);
	check_new(dir, "p", 0664);
	check_new(dir, "l", 0);
	close(in);
	forget(node, 1);
}

static int mknod_req(uint64_t dir, const char *name, uint32_t mode, uint32_t rdev)
{
	struct fuse_mknod_in in = {.mode = mode, .rdev = rdev};
	struct req r;

	req_init(&r, FUSE_MKNOD, dir);
	req_add(&r, &in, sizeof(in));
	req_str(&r, name);
	return send_req(&r).error;
}

static mode_t host_mode(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	host_path(path, name);
	return lstat(path, &st) ? 0 : st.st_mode;
}

/* The privileged things a guest's root can make on a share: compat allows, strict refuses. */
static void test_share_modes(void)
{
	struct fuse_server *compat = srv;
	struct fuse_setattr_in sa = {.valid = FATTR_MODE};
	uint64_t fh = 0, node, dnode;

	if (geteuid() != 0) {
		printf("  (not root: device nodes and trusted.* cannot be made, share modes "
		       "skipped)\n");
		return;
	}
	/* Compat, the default: as upstream. */
	CHECK_EQ(mknod_req(FUSE_ROOT_ID, "cdev", S_IFCHR | 0600, (1 << 8) | 3), 0);
	CHECK(S_ISCHR(host_mode("cdev")));
	node = (uint64_t)create(FUSE_ROOT_ID, "suid", O_RDWR, 06755, &fh);
	release(FUSE_RELEASE, fh);
	CHECK_EQ(host_mode("suid") & 07777, 06755);
	CHECK_EQ(xattr_req(FUSE_SETXATTR, node, "trusted.t", "v", 1).error, 0);

	srv = fuse_server_new(share, false);
	CHECK(srv != NULL);
	if (!srv) {
		srv = compat;
		return;
	}
	fuse_server_set_strict(srv, true);
	CHECK(do_init(FUSE_OUR_MINOR) > 0);
	CHECK_EQ(mknod_req(FUSE_ROOT_ID, "cdev2", S_IFCHR | 0600, (1 << 8) | 3), -EPERM);
	CHECK_EQ(mknod_req(FUSE_ROOT_ID, "bdev2", S_IFBLK | 0600, (7 << 8) | 0), -EPERM);
	CHECK_EQ(host_mode("cdev2"), 0);
	CHECK_EQ(mknod_req(FUSE_ROOT_ID, "fifo2", S_IFIFO | 0644, 0), 0); /* harmless: allowed */
	CHECK_EQ(mknod_req(FUSE_ROOT_ID, "reg2", S_IFREG | 04755, 0), 0);
	CHECK_EQ(host_mode("reg2") & 07777, 0755);
	node = (uint64_t)create(FUSE_ROOT_ID, "suid2", O_RDWR, 06755, &fh);
	release(FUSE_RELEASE, fh);
	CHECK_EQ(host_mode("suid2") & 07777, 0755);
	sa.mode = 04755;
	CHECK_EQ(setattr(node, &sa), 0);
	CHECK_EQ(host_mode("suid2") & 07777, 0755);
	/* A directory's setgid only passes its group on: kept. */
	dnode = (uint64_t)mkdir_op(FUSE_ROOT_ID, "sgid-dir", 0755);
	sa.mode = 02775;
	CHECK_EQ(setattr(dnode, &sa), 0);
	CHECK_EQ(host_mode("sgid-dir") & 07777, 02775);
	CHECK_EQ(xattr_req(FUSE_SETXATTR, node, "security.capability", "\1\0\0\2", 4).error,
		 -EPERM);
	CHECK_EQ(xattr_req(FUSE_SETXATTR, node, "trusted.t", "v", 1).error, -EPERM);
	node = (uint64_t)lookup(FUSE_ROOT_ID, "suid", NULL);
	CHECK_EQ(xattr_req(FUSE_REMOVEXATTR, node, "trusted.t", NULL, 0).error, -EPERM);
	CHECK(xattr_req(FUSE_SETXATTR, node, "user.t", "v", 1).error != -EPERM);
	fuse_server_free(srv);
	srv = compat;
	for (const char *const *n =
		 (const char *const[]){"cdev", "suid", "fifo2", "reg2", "suid2", NULL};
	     *n; n++) {
		char path[PATH_MAX];

		host_path(path, *n);
		unlink(path);
	}
	{
		char path[PATH_MAX];

		host_path(path, "sgid-dir");
		rmdir(path);
	}
}

static void run_all(void)
{
	int fds = count_fds();

	setup_dirs();
	srv = fuse_server_new(share, false);
	CHECK(srv != NULL);
	if (!srv)
		return;
	test_init();
	test_lookup_getattr();
	test_create_write_read();
	test_namespace_ops();
	test_mknod();
	test_created_owner_without_race();
	test_share_modes();
	test_setattr();
	test_xattr();
	test_readdir();
	test_statfs();
	test_file_ranges();
	test_huge_read();
	test_handle_caps();
	test_misc_ops();
	test_exit_ioctl();
	test_threads();
	test_confinement();
	test_malformed();
	test_read_only();
	test_overlay();
	outside_intact();
	fuse_server_free(srv);
	CHECK_EQ(count_fds(), fds); /* every node and handle fd was closed */
	test_fd_budget();
	cleanup_dirs();
}

TEST_MAIN("test_fuse", run_all())
