// SPDX-License-Identifier: Apache-2.0
/*
 * Directory handles: READDIR and READDIRPLUS over getdents64() on a private
 * directory fd per handle.
 *
 * Offsets are entry indices of the handle's stream: the overlay entries
 * snapshotted at OPENDIR come first, then the host entries that they do not
 * shadow. A record's "off" is the index of the entry after it, which is what
 * the client sends back to resume; an offset other than the stream position
 * (a seekdir) rewinds and skips forward.
 *
 * A handle keeps no buffer between requests (a guest may hold tens of
 * thousands of them): each READDIR reads host records into a buffer of its
 * own, about the size of its reply, and rewinds the directory fd to the
 * first record it did not use (the d_off of the last one it did).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/fs/fuse_priv.h"

#define DIRBUF_MIN	 1024 /* a record with a 255-byte name fits */
#define DIRBUF_MAX	 (32 * 1024)
#define READDIR_MAX_SIZE (1024 * 1024)

struct dir_stream {
	pthread_mutex_t lock;
	struct ovl_entry **ovl; /* overlay entries listed first */
	size_t n_ovl;
	uint64_t next; /* index of the entry at the stream position */
	char *buf;     /* getdents64 records, during one request */
	size_t len, pos, size;
	off_t resume; /* fd offset of the record at buf + pos */
	bool eof;
	bool is_root;
	ino_t root_ino;
};

struct dir_item {
	const char *name;
	size_t namelen;
	uint64_t ino;
	uint32_t type;
	struct ovl_entry *ovl;
};

void dir_stream_free(struct dir_stream *ds)
{
	if (!ds)
		return;
	pthread_mutex_destroy(&ds->lock);
	free(ds->ovl);
	free(ds->buf);
	free(ds);
}

static bool shadowed(const struct dir_stream *ds, const char *name)
{
	for (size_t i = 0; i < ds->n_ovl; i++) {
		if (!strcmp(ds->ovl[i]->name, name))
			return true;
	}
	return false;
}

static int refill(struct dir_stream *ds, int fd)
{
	ssize_t n;

	if (!ds->buf && !(ds->buf = malloc(ds->size)))
		return -ENOMEM;
	ds->resume = lseek(fd, 0, SEEK_CUR);
	n = getdents64(fd, ds->buf, ds->size);
	if (n < 0)
		return -errno;
	ds->len = (size_t)n;
	ds->pos = 0;
	ds->eof = n == 0;
	return 0;
}

/* The entry at the stream position: 1, or 0 at the end, or -errno. */
static int peek(struct dir_stream *ds, int fd, struct dir_item *it)
{
	if (ds->next < ds->n_ovl) {
		struct ovl_entry *e = ds->ovl[ds->next];

		*it = (struct dir_item){e->name, strlen(e->name), e->ino, (e->mode & S_IFMT) >> 12,
					e};
		return 1;
	}
	for (;;) {
		struct dirent64 *d;
		int err;

		if (ds->pos >= ds->len) {
			if (ds->eof || fd < 0)
				return 0;
			err = refill(ds, fd);
			if (err || ds->eof)
				return err;
		}
		d = (struct dirent64 *)(ds->buf + ds->pos);
		if (d->d_reclen == 0 || d->d_reclen > ds->len - ds->pos) {
			ds->eof = true; /* cannot happen with a sane kernel */
			ds->len = 0;
			return 0;
		}
		if (!shadowed(ds, d->d_name)) {
			*it = (struct dir_item){d->d_name, strlen(d->d_name), d->d_ino, d->d_type,
						NULL};
			/* The root's ".." would name a host directory outside. */
			if (ds->is_root && !strcmp(d->d_name, ".."))
				it->ino = ds->root_ino;
			return 1;
		}
		ds->pos += d->d_reclen;
		ds->resume = d->d_off;
	}
}

static void advance(struct dir_stream *ds)
{
	if (ds->next >= ds->n_ovl) {
		struct dirent64 *d = (struct dirent64 *)(ds->buf + ds->pos);

		ds->pos += d->d_reclen;
		ds->resume = d->d_off;
	}
	ds->next++;
}

/* End of a request: give back the records not used, and the buffer. */
static void unbuffer(struct dir_stream *ds, int fd)
{
	if (ds->pos < ds->len && fd >= 0 && lseek(fd, ds->resume, SEEK_SET) < 0) {
		/* Cannot happen for a directory; restart the stream rather than skip. */
		ds->next = 0;
		lseek(fd, 0, SEEK_SET);
	}
	if (ds->pos < ds->len)
		ds->eof = false;
	free(ds->buf);
	ds->buf = NULL;
	ds->len = ds->pos = 0;
}

static int seek(struct dir_stream *ds, int fd, uint64_t offset)
{
	struct dir_item it;
	int r = 1;

	if (offset == ds->next)
		return 0;
	if (fd >= 0 && lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	ds->next = 0;
	ds->len = ds->pos = 0;
	ds->eof = false;
	while (ds->next < offset && (r = peek(ds, fd, &it)) > 0)
		advance(ds);
	return r < 0 ? r : 0;
}

static bool is_dot_or_dotdot(const struct dir_item *it)
{
	return it->name[0] == '.' && (it->namelen == 1 || (it->namelen == 2 && it->name[1] == '.'));
}

/*
 * READDIRPLUS entry: a lookup reference, except for "." and ".." (the client
 * ignores their node ids, so a reference would leak) and for one_shot overlay
 * entries (which only a real LOOKUP may consume). Returns -ENOENT for an entry
 * that vanished meanwhile.
 */
static int plus_entry(struct fuse_server *srv, int fd, const struct dir_item *it,
		      struct fuse_entry_out *e)
{
	struct stat st;
	uint64_t id;
	int pfd, err;

	memset(e, 0, sizeof(*e));
	if (is_dot_or_dotdot(it) || (it->ovl && it->ovl->one_shot))
		return 0;
	if (it->ovl) {
		id = node_link_ovl(srv, it->ovl);
		if (!id)
			return 0;
		ovl_stat(srv, it->ovl, &st);
		fuse_fill_entry(e, id, &st);
		return 0;
	}
	pfd = fuse_open_beneath(fd, it->name, O_PATH, 0);
	if (pfd < 0)
		return pfd == -ENOENT ? -ENOENT : 0;
	err = fuse_entry_from_fd(srv, pfd, e);
	if (err)
		memset(e, 0, sizeof(*e));
	return 0;
}

static size_t put_dirent(char *buf, const struct dir_item *it, uint64_t off)
{
	struct fuse_dirent d = {
	    .ino = it->ino,
	    .off = off,
	    .namelen = (uint32_t)it->namelen,
	    .type = it->type,
	};
	size_t size = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + it->namelen);

	memset(buf, 0, size);
	memcpy(buf, &d, FUSE_NAME_OFFSET);
	memcpy(buf + FUSE_NAME_OFFSET, it->name, it->namelen);
	return size;
}

/* Fill buf with whole records; returns the bytes used or -errno. */
static ssize_t fill_dir(struct fuse_server *srv, struct fuse_handle *h, char *buf, size_t size,
			bool plus)
{
	struct dir_stream *ds = h->dir;
	struct fuse_entry_out e;
	struct dir_item it;
	size_t used = 0;
	int r;

	while ((r = peek(ds, h->fd, &it)) > 0) {
		size_t rec = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + it.namelen);

		if (plus)
			rec += sizeof(e);
		if (rec > size - used)
			break;
		if (plus && plus_entry(srv, h->fd, &it, &e) == -ENOENT) {
			advance(ds);
			continue;
		}
		if (plus) {
			memcpy(buf + used, &e, sizeof(e));
			used += sizeof(e);
		}
		used += put_dirent(buf + used, &it, ds->next + 1);
		advance(ds);
	}
	if (r < 0 && !used)
		return r;
	if (r > 0 && !used)
		return -EINVAL; /* not even one record fits the client's buffer */
	return (ssize_t)used;
}

static size_t do_readdir(struct fuse_req *req, bool plus)
{
	struct fuse_read_in in;
	struct fuse_handle *h;
	size_t size;
	ssize_t used = -ENOMEM;
	char *buf;

	memcpy(&in, req->arg, sizeof(in));
	if (req->out_cap < sizeof(struct fuse_out_header))
		return 0;
	size = MIN((size_t)in.size, req->out_cap - sizeof(struct fuse_out_header));
	size = MIN(size, (size_t)READDIR_MAX_SIZE);
	h = handle_get(req->srv, in.fh, HANDLE_DIR);
	if (!h)
		return fuse_reply_err(req, EBADF);
	buf = malloc(size ? size : 1);
	if (buf) {
		pthread_mutex_lock(&h->dir->lock);
		/* READDIRPLUS records are ~5 times larger than the host's. */
		h->dir->size =
		    MIN(MAX(plus ? size / 4 : size, (size_t)DIRBUF_MIN), (size_t)DIRBUF_MAX);
		used = seek(h->dir, h->fd, in.offset);
		if (!used)
			used = fill_dir(req->srv, h, buf, size, plus);
		unbuffer(h->dir, h->fd);
		pthread_mutex_unlock(&h->dir->lock);
	}
	handle_put(req->srv, h);
	if (used >= 0)
		used = (ssize_t)fuse_reply(req, buf, (size_t)used);
	else
		used = (ssize_t)fuse_reply_err(req, (int)-used);
	free(buf);
	return (size_t)used;
}

size_t fuse_op_readdir(struct fuse_req *req)
{
	return do_readdir(req, false);
}

size_t fuse_op_readdirplus(struct fuse_req *req)
{
	return do_readdir(req, true);
}

static int open_stream(struct fuse_req *req, struct fuse_node *node, int *fd,
		       struct dir_stream **ds)
{
	struct stat st;
	int err;

	*fd = -1;
	*ds = calloc(1, sizeof(**ds));
	if (!*ds)
		return -ENOMEM;
	pthread_mutex_init(&(*ds)->lock, NULL);
	if (ovl_capable(req->srv, node)) {
		err = ovl_snapshot(req->srv, node, &(*ds)->ovl, &(*ds)->n_ovl);
		if (err)
			return err;
	}
	if (node->ovl) {
		(*ds)->eof = true; /* overlay directories have no host part */
		return 0;
	}
	if (node == req->srv->root && !fstatat(node->fd, "", &st, AT_EMPTY_PATH)) {
		(*ds)->is_root = true;
		(*ds)->root_ino = st.st_ino;
	}
	*fd = fuse_reopen_node(req->srv, node, O_RDONLY | O_DIRECTORY);
	return *fd < 0 ? *fd : 0;
}

size_t fuse_op_opendir(struct fuse_req *req)
{
	struct fuse_node *node = node_get(req->srv, req->h.nodeid);
	struct fuse_open_out out = {0};
	struct dir_stream *ds = NULL;
	int fd = -1, err;

	if (!node)
		return fuse_reply_err(req, ENOENT);
	err = node->type == S_IFDIR ? open_stream(req, node, &fd, &ds) : -ENOTDIR;
	if (!err) {
		out.fh = handle_add(req->srv, HANDLE_DIR, fd, node, ds);
		err = out.fh ? 0 : -errno;
	}
	node_put(req->srv, node);
	if (err) {
		if (fd >= 0)
			close(fd);
		dir_stream_free(ds);
		return fuse_reply_err(req, -err);
	}
	return fuse_reply(req, &out, sizeof(out));
}

size_t fuse_op_releasedir(struct fuse_req *req)
{
	struct fuse_release_in in;

	memcpy(&in, req->arg, sizeof(in));
	return fuse_reply_status(req, handle_release(req->srv, in.fh, HANDLE_DIR));
}

size_t fuse_op_fsyncdir(struct fuse_req *req)
{
	return fuse_fsync_handle(req, HANDLE_DIR);
}
