// SPDX-License-Identifier: Apache-2.0
/*
 * The node and file-handle tables. Node ids and handle ids are opaque
 * counters, never reused and never host pointers: a forged or stale id simply
 * misses the table. Nodes are deduplicated by (st_dev, st_ino) so that hard
 * links share one node; an O_PATH fd keeps each inode alive, so its number
 * cannot be recycled while the node exists.
 *
 * Lifetime: a node lives while it is hashed (nlookup > 0, or the root) or
 * referenced (refs: requests in flight and open handles).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "devices/virtio/fs/fuse_priv.h"

#define TABLE_MIN_BUCKETS 64

/* fds held by nodes and handles of every server, against the process's budget. */
static atomic_size_t fds_held;
static atomic_size_t fd_budget = 1024 - FUSE_FD_HEADROOM_MIN;

void fuse_fd_budget_set(size_t budget)
{
	atomic_store(&fd_budget, budget);
}

size_t fuse_fd_budget(void)
{
	return atomic_load(&fd_budget);
}

bool fuse_fd_charge(void)
{
	size_t held = atomic_fetch_add(&fds_held, 1);

	if (held < atomic_load(&fd_budget))
		return true;
	atomic_fetch_sub(&fds_held, 1);
	return false;
}

void fuse_fd_uncharge(void)
{
	atomic_fetch_sub(&fds_held, 1);
}

static size_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (size_t)x;
}

static size_t id_bucket(const struct node_table *t, uint64_t id)
{
	return hash_u64(id) & (t->nbuckets - 1);
}

static size_t ino_bucket(const struct node_table *t, dev_t dev, ino_t ino)
{
	return hash_u64((uint64_t)ino ^ hash_u64((uint64_t)dev)) & (t->nbuckets - 1);
}

static void node_hash_insert(struct node_table *t, struct fuse_node *node)
{
	size_t b = id_bucket(t, node->id);

	node->next_id = t->by_id[b];
	t->by_id[b] = node;
	if (node->fd >= 0) {
		b = ino_bucket(t, node->dev, node->ino);
		node->next_ino = t->by_ino[b];
		t->by_ino[b] = node;
	}
	node->hashed = true;
	t->count++;
}

static void node_hash_remove(struct node_table *t, struct fuse_node *node)
{
	struct fuse_node **pp;

	for (pp = &t->by_id[id_bucket(t, node->id)]; *pp; pp = &(*pp)->next_id) {
		if (*pp == node) {
			*pp = node->next_id;
			break;
		}
	}
	if (node->fd >= 0) {
		for (pp = &t->by_ino[ino_bucket(t, node->dev, node->ino)]; *pp;
		     pp = &(*pp)->next_ino) {
			if (*pp == node) {
				*pp = node->next_ino;
				break;
			}
		}
	}
	if (node->ovl)
		node->ovl->node = NULL;
	node->hashed = false;
	t->count--;
}

static int node_table_alloc(struct node_table *t, size_t nbuckets)
{
	t->by_id = calloc(nbuckets, sizeof(*t->by_id));
	t->by_ino = calloc(nbuckets, sizeof(*t->by_ino));
	if (!t->by_id || !t->by_ino) {
		free(t->by_id);
		free(t->by_ino);
		return -ENOMEM;
	}
	t->nbuckets = nbuckets;
	t->count = 0;
	return 0;
}

/* Grow when the load passes 1; on allocation failure keep the old table. */
static void node_table_maybe_grow(struct node_table *t)
{
	struct node_table bigger;

	if (t->count < t->nbuckets || node_table_alloc(&bigger, t->nbuckets * 2))
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct fuse_node *node = t->by_id[i], *next;

		for (; node; node = next) {
			next = node->next_id;
			node_hash_insert(&bigger, node);
		}
	}
	free(t->by_id);
	free(t->by_ino);
	*t = bigger;
}

static struct fuse_node *node_find_locked(struct fuse_server *srv, uint64_t id)
{
	struct node_table *t = &srv->nodes;
	struct fuse_node *node;

	for (node = t->by_id[id_bucket(t, id)]; node; node = node->next_id) {
		if (node->id == id)
			return node;
	}
	return NULL;
}

static struct fuse_node *node_find_ino_locked(struct fuse_server *srv, dev_t dev, ino_t ino)
{
	struct node_table *t = &srv->nodes;
	struct fuse_node *node;

	for (node = t->by_ino[ino_bucket(t, dev, ino)]; node; node = node->next_ino) {
		if (node->dev == dev && node->ino == ino)
			return node;
	}
	return NULL;
}

static void node_destroy(struct fuse_node *node)
{
	if (node->fd >= 0) {
		close(node->fd);
		fuse_fd_uncharge();
	}
	free(node);
}

int node_tables_init(struct fuse_server *srv)
{
	struct stat st;
	struct fuse_node *root;

	if (fstatat(srv->root_fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (node_table_alloc(&srv->nodes, TABLE_MIN_BUCKETS))
		return -ENOMEM;
	srv->handles.buckets = calloc(TABLE_MIN_BUCKETS, sizeof(*srv->handles.buckets));
	root = calloc(1, sizeof(*root));
	if (!srv->handles.buckets || !root) {
		free(root);
		return -ENOMEM;
	}
	srv->handles.nbuckets = TABLE_MIN_BUCKETS;
	root->id = FUSE_ROOT_ID;
	root->fd = srv->root_fd;
	root->dev = st.st_dev;
	root->ino = st.st_ino;
	root->type = S_IFDIR;
	root->nlookup = 1;
	node_hash_insert(&srv->nodes, root);
	srv->root = root;
	srv->next_node_id = FUSE_ROOT_ID + 1;
	srv->next_fh = 1;
	return 0;
}

struct fuse_node *node_get(struct fuse_server *srv, uint64_t id)
{
	struct fuse_node *node;

	pthread_mutex_lock(&srv->lock);
	node = node_find_locked(srv, id);
	if (node)
		node->refs++;
	pthread_mutex_unlock(&srv->lock);
	return node;
}

/* Drop one reference; returns true when the caller must destroy the node. */
static bool node_unref_locked(struct fuse_node *node)
{
	node->refs--;
	return !node->refs && !node->hashed;
}

void node_put(struct fuse_server *srv, struct fuse_node *node)
{
	bool dead;

	if (!node)
		return;
	pthread_mutex_lock(&srv->lock);
	dead = node_unref_locked(node);
	pthread_mutex_unlock(&srv->lock);
	if (dead)
		node_destroy(node);
}

/*
 * Give the guest one more lookup reference on the inode behind fd (O_PATH,
 * consumed). Returns the node id, or 0 with errno set.
 */
uint64_t node_link_fd(struct fuse_server *srv, int fd, const struct stat *st)
{
	struct fuse_node *node, *fresh = calloc(1, sizeof(*fresh));
	int err = ENOMEM;
	uint64_t id;

	pthread_mutex_lock(&srv->lock);
	node = node_find_ino_locked(srv, st->st_dev, st->st_ino);
	if (node) {
		node->nlookup++;
		id = node->id;
	} else if (fresh && (srv->nodes.count >= FUSE_MAX_NODES || !fuse_fd_charge())) {
		err = ENFILE;
		id = 0;
	} else if (fresh) {
		fresh->id = srv->next_node_id++;
		fresh->fd = fd;
		fresh->dev = st->st_dev;
		fresh->ino = st->st_ino;
		fresh->type = st->st_mode & S_IFMT;
		fresh->nlookup = 1;
		node_hash_insert(&srv->nodes, fresh);
		node_table_maybe_grow(&srv->nodes);
		id = fresh->id;
		fresh = NULL;
		fd = -1;
	} else {
		id = 0;
	}
	pthread_mutex_unlock(&srv->lock);
	free(fresh);
	if (fd >= 0)
		close(fd);
	if (!id)
		errno = err;
	return id;
}

/* Same for an overlay entry; one node per entry. */
uint64_t node_link_ovl(struct fuse_server *srv, struct ovl_entry *ovl)
{
	struct fuse_node *fresh = calloc(1, sizeof(*fresh));
	int err = ENOMEM;
	uint64_t id = 0;

	pthread_mutex_lock(&srv->lock);
	if (ovl->node) {
		ovl->node->nlookup++;
		id = ovl->node->id;
	} else if (fresh && srv->nodes.count >= FUSE_MAX_NODES) {
		err = ENFILE;
	} else if (fresh) {
		fresh->id = srv->next_node_id++;
		fresh->fd = -1;
		fresh->ino = ovl->ino;
		fresh->type = ovl->mode & S_IFMT;
		fresh->nlookup = 1;
		fresh->ovl = ovl;
		ovl->node = fresh;
		node_hash_insert(&srv->nodes, fresh);
		node_table_maybe_grow(&srv->nodes);
		id = fresh->id;
		fresh = NULL;
	}
	pthread_mutex_unlock(&srv->lock);
	free(fresh);
	if (!id)
		errno = err;
	return id;
}

/* One more lookup reference on a node the caller holds (".", LINK). */
void node_link_again(struct fuse_server *srv, struct fuse_node *node)
{
	pthread_mutex_lock(&srv->lock);
	node->nlookup++;
	/* A node forgotten meanwhile comes back into the tables. */
	if (!node->hashed && !(node->fd >= 0 && node_find_ino_locked(srv, node->dev, node->ino)))
		node_hash_insert(&srv->nodes, node);
	pthread_mutex_unlock(&srv->lock);
}

void node_forget(struct fuse_server *srv, uint64_t id, uint64_t nlookup)
{
	struct fuse_node *node;
	bool dead = false;

	pthread_mutex_lock(&srv->lock);
	node = node_find_locked(srv, id);
	if (node && node != srv->root) {
		node->nlookup -= MIN(nlookup, node->nlookup);
		if (!node->nlookup) {
			node_hash_remove(&srv->nodes, node);
			dead = !node->refs;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	if (dead)
		node_destroy(node);
}

/* ---- file handles ---- */

static size_t fh_bucket(const struct handle_table *t, uint64_t id)
{
	return hash_u64(id) & (t->nbuckets - 1);
}

static void handle_table_maybe_grow(struct handle_table *t)
{
	struct fuse_handle **bigger;
	size_t n = t->nbuckets * 2;

	if (t->count < t->nbuckets)
		return;
	bigger = calloc(n, sizeof(*bigger));
	if (!bigger)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct fuse_handle *h = t->buckets[i], *next;

		for (; h; h = next) {
			size_t b = hash_u64(h->id) & (n - 1);

			next = h->next;
			h->next = bigger[b];
			bigger[b] = h;
		}
	}
	free(t->buckets);
	t->buckets = bigger;
	t->nbuckets = n;
}

/*
 * Register an open handle (takes over fd and dir, and one reference on node).
 * Returns its id, or 0 with errno = ENOMEM (fd and dir are then released by the
 * caller).
 */
uint64_t handle_add(struct fuse_server *srv, enum handle_kind kind, int fd, struct fuse_node *node,
		    struct dir_stream *dir)
{
	struct fuse_handle *h = calloc(1, sizeof(*h));
	size_t cap =
	    kind == HANDLE_DIR ? MIN(FUSE_MAX_DIR_HANDLES, fuse_fd_budget() / 2) : FUSE_MAX_HANDLES;
	size_t b;

	if (!h) {
		errno = ENOMEM;
		return 0;
	}
	pthread_mutex_lock(&srv->lock);
	if (srv->handles.count >= FUSE_MAX_HANDLES ||
	    (kind == HANDLE_DIR ? srv->handles.dirs : srv->handles.count) >= cap) {
		pthread_mutex_unlock(&srv->lock);
		free(h);
		errno = EMFILE;
		return 0;
	}
	if (fd >= 0 && !fuse_fd_charge()) {
		pthread_mutex_unlock(&srv->lock);
		free(h);
		errno = ENFILE;
		return 0;
	}
	h->kind = kind;
	h->fd = fd;
	h->dir = dir;
	h->node = node;
	h->refs = 1;
	h->hashed = true;
	node->refs++;
	h->id = srv->next_fh++;
	b = fh_bucket(&srv->handles, h->id);
	h->next = srv->handles.buckets[b];
	srv->handles.buckets[b] = h;
	srv->handles.count++;
	srv->handles.dirs += kind == HANDLE_DIR;
	handle_table_maybe_grow(&srv->handles);
	pthread_mutex_unlock(&srv->lock);
	return h->id;
}

struct fuse_handle *handle_get(struct fuse_server *srv, uint64_t id, enum handle_kind kind)
{
	struct fuse_handle *h;

	pthread_mutex_lock(&srv->lock);
	for (h = srv->handles.buckets[fh_bucket(&srv->handles, id)]; h; h = h->next) {
		if (h->id == id)
			break;
	}
	if (h && h->kind == kind)
		h->refs++;
	else
		h = NULL;
	pthread_mutex_unlock(&srv->lock);
	return h;
}

/* Under lock: drop a reference; returns the node to destroy, if any, via *dead. */
static bool handle_unref_locked(struct fuse_handle *h, struct fuse_node **dead)
{
	*dead = NULL;
	if (--h->refs)
		return false;
	if (node_unref_locked(h->node))
		*dead = h->node;
	return true;
}

static void handle_destroy(struct fuse_handle *h, struct fuse_node *dead_node)
{
	if (h->fd >= 0) {
		close(h->fd);
		fuse_fd_uncharge();
	}
	dir_stream_free(h->dir);
	free(h);
	if (dead_node)
		node_destroy(dead_node);
}

void handle_put(struct fuse_server *srv, struct fuse_handle *h)
{
	struct fuse_node *dead_node;
	bool dead;

	if (!h)
		return;
	pthread_mutex_lock(&srv->lock);
	dead = handle_unref_locked(h, &dead_node);
	pthread_mutex_unlock(&srv->lock);
	if (dead)
		handle_destroy(h, dead_node);
}

static void handle_unhash_locked(struct fuse_server *srv, struct fuse_handle *h)
{
	struct fuse_handle **pp = &srv->handles.buckets[fh_bucket(&srv->handles, h->id)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	h->hashed = false;
	srv->handles.count--;
	srv->handles.dirs -= h->kind == HANDLE_DIR;
}

int handle_release(struct fuse_server *srv, uint64_t id, enum handle_kind kind)
{
	struct fuse_handle *h = handle_get(srv, id, kind);
	struct fuse_node *dead_node = NULL;
	bool dead = false;

	if (!h)
		return -EBADF;
	pthread_mutex_lock(&srv->lock);
	if (h->hashed) {
		handle_unhash_locked(srv, h);
		dead = handle_unref_locked(h, &dead_node); /* the table's reference */
	}
	pthread_mutex_unlock(&srv->lock);
	if (dead)
		handle_destroy(h, dead_node);
	else
		handle_put(srv, h);
	return 0;
}

/* Drop every handle and every node but the root (DESTROY, or teardown). */
void node_tables_reset(struct fuse_server *srv)
{
	struct fuse_handle *dead_handles = NULL;
	struct fuse_node *dead_nodes = NULL;

	pthread_mutex_lock(&srv->lock);
	for (size_t i = 0; i < srv->handles.nbuckets; i++) {
		while (srv->handles.buckets[i]) {
			struct fuse_handle *h = srv->handles.buckets[i];
			struct fuse_node *dead_node;

			handle_unhash_locked(srv, h);
			if (handle_unref_locked(h, &dead_node)) {
				h->next = dead_handles;
				dead_handles = h;
				/* h->node stays for handle_destroy; remember if it died */
				if (dead_node) {
					dead_node->next_id = dead_nodes;
					dead_nodes = dead_node;
				}
			}
		}
	}
	for (size_t i = 0; i < srv->nodes.nbuckets; i++) {
		struct fuse_node *node = srv->nodes.by_id[i], *next;

		for (; node; node = next) {
			next = node->next_id;
			if (node == srv->root)
				continue;
			node_hash_remove(&srv->nodes, node);
			node->nlookup = 0;
			if (!node->refs) {
				node->next_id = dead_nodes;
				dead_nodes = node;
			}
		}
	}
	pthread_mutex_unlock(&srv->lock);
	while (dead_handles) {
		struct fuse_handle *h = dead_handles;

		dead_handles = h->next;
		handle_destroy(h, NULL);
	}
	while (dead_nodes) {
		struct fuse_node *node = dead_nodes;

		dead_nodes = node->next_id;
		node_destroy(node);
	}
}

void node_tables_free(struct fuse_server *srv)
{
	if (srv->nodes.by_id)
		node_tables_reset(srv);
	free(srv->root); /* its fd is srv->root_fd, closed by the caller */
	free(srv->nodes.by_id);
	free(srv->nodes.by_ino);
	free(srv->handles.buckets);
}
