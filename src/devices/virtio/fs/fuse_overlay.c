// SPDX-License-Identifier: Apache-2.0
/*
 * Overlay entries: files and directories that exist only in memory, added by
 * the VMM (e.g. /init.krun). They shadow host entries of the same name, are
 * read-only, and a one_shot entry vanishes after its first LOOKUP. Entries
 * are never freed before the server, so pointers to them stay valid.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/fs/fuse_priv.h"

/* Inode numbers reported for overlay entries, far from real ones. */
#define OVL_INO_BASE 0xfffffff000000000ULL

static struct ovl_entry **children_of(struct fuse_server *srv, const struct fuse_node *dir)
{
	if (dir == srv->root)
		return &srv->ovl_root;
	if (dir->ovl && S_ISDIR(dir->ovl->mode))
		return &dir->ovl->children;
	return NULL;
}

static struct ovl_entry *find_child(struct ovl_entry *list, const char *name, size_t len)
{
	for (; list; list = list->next) {
		if (!list->consumed && strlen(list->name) == len && !memcmp(list->name, name, len))
			return list;
	}
	return NULL;
}

/* Walk the overlay directories of path; on success *name is the last component. */
static int resolve_parent(struct fuse_server *srv, const char *path, struct ovl_entry **parent,
			  struct ovl_entry ***list, const char **name)
{
	const char *slash;

	while (*path == '/')
		path++;
	*parent = NULL;
	*list = &srv->ovl_root;
	while ((slash = strchr(path, '/'))) {
		struct ovl_entry *dir = find_child(**list, path, (size_t)(slash - path));

		if (!dir)
			return -ENOENT;
		if (!S_ISDIR(dir->mode))
			return -ENOTDIR;
		*parent = dir;
		*list = &dir->children;
		path = slash + 1;
	}
	*name = path;
	return fuse_check_name(path);
}

static int ovl_add(struct fuse_server *srv, const char *path, const uint8_t *data, size_t len,
		   uint32_t mode, bool one_shot)
{
	struct ovl_entry *parent, **list, *e;
	const char *name;
	int err;

	if (!srv || !path || (!data && len))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_lock(&srv->lock);
	err = resolve_parent(srv, path, &parent, &list, &name);
	if (!err && find_child(*list, name, strlen(name)))
		err = -EEXIST;
	if (!err && !(e->name = strdup(name)))
		err = -ENOMEM;
	if (!err) {
		e->parent = parent;
		e->data = data;
		e->len = len;
		e->mode = mode;
		e->one_shot = one_shot;
		e->ino = OVL_INO_BASE + srv->next_ovl_ino++;
		while (*list) /* append: readdir lists entries in insertion order */
			list = &(*list)->next;
		*list = e;
	}
	pthread_mutex_unlock(&srv->lock);
	if (err)
		free(e);
	return err;
}

int fuse_server_add_overlay_file(struct fuse_server *srv, const char *path, const uint8_t *data,
				 size_t len, uint32_t mode, bool one_shot)
{
	return ovl_add(srv, path, data, len, S_IFREG | (mode & 07777), one_shot);
}

int fuse_server_add_overlay_dir(struct fuse_server *srv, const char *path, uint32_t mode)
{
	return ovl_add(srv, path, NULL, 0, S_IFDIR | (mode & 07777), false);
}

bool ovl_capable(const struct fuse_server *srv, const struct fuse_node *dir)
{
	return dir == srv->root || (dir->ovl && S_ISDIR(dir->ovl->mode));
}

/* The live overlay entry name in dir; consume: the LOOKUP that uses up a one_shot. */
struct ovl_entry *ovl_lookup(struct fuse_server *srv, const struct fuse_node *dir, const char *name,
			     bool consume)
{
	struct ovl_entry **list, *e = NULL;

	pthread_mutex_lock(&srv->lock);
	list = children_of(srv, dir);
	if (list)
		e = find_child(*list, name, strlen(name));
	if (e && consume && e->one_shot)
		e->consumed = true;
	pthread_mutex_unlock(&srv->lock);
	return e;
}

/* Whether name in dir is taken by an overlay entry (so the host's is hidden). */
bool ovl_shadows(struct fuse_server *srv, const struct fuse_node *dir, const char *name)
{
	return ovl_lookup(srv, dir, name, false) != NULL;
}

void ovl_stat(const struct fuse_server *srv, const struct ovl_entry *ovl, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ovl->ino;
	st->st_mode = ovl->mode;
	st->st_nlink = S_ISDIR(ovl->mode) ? 2 : 1;
	st->st_size = S_ISDIR(ovl->mode) ? 0 : (off_t)ovl->len;
	st->st_blocks = (blkcnt_t)((ovl->len + 511) / 512);
	st->st_blksize = 4096;
	st->st_atim = srv->start_time;
	st->st_mtim = srv->start_time;
	st->st_ctim = srv->start_time;
}

/* The live overlay children of dir, for a directory stream. */
int ovl_snapshot(struct fuse_server *srv, const struct fuse_node *dir, struct ovl_entry ***list,
		 size_t *count)
{
	struct ovl_entry **head, *e;
	size_t n = 0;
	int err = 0;

	*list = NULL;
	*count = 0;
	pthread_mutex_lock(&srv->lock);
	head = children_of(srv, dir);
	for (e = head ? *head : NULL; e; e = e->next)
		n += !e->consumed;
	if (n && !(*list = calloc(n, sizeof(**list))))
		err = -ENOMEM;
	for (e = head ? *head : NULL; e && !err; e = e->next) {
		if (!e->consumed)
			(*list)[(*count)++] = e;
	}
	pthread_mutex_unlock(&srv->lock);
	return err;
}

static void free_list(struct ovl_entry *e)
{
	while (e) {
		struct ovl_entry *next = e->next;

		free_list(e->children);
		free(e->name);
		free(e);
		e = next;
	}
}

void ovl_free_all(struct fuse_server *srv)
{
	free_list(srv->ovl_root);
	srv->ovl_root = NULL;
}
