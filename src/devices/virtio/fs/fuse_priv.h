/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the FUSE server shared by its source files.
 *
 * Confinement rests on three rules:
 *  - every inode the guest can name is held as an O_PATH|O_NOFOLLOW fd, opened
 *    relative to its parent's fd, starting from an O_PATH fd of the root;
 *  - every name from the guest is one component, opened with openat2()
 *    RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS (or O_NOFOLLOW);
 *  - real file descriptors are re-opened from a node's O_PATH fd through
 *    /proc/self/fd only for regular files and directories, so no symlink is
 *    ever followed by the server.
 */
#ifndef KRUN_FUSE_PRIV_H
#define KRUN_FUSE_PRIV_H

#include <linux/fuse.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "devices/virtio/fs/fuse_server.h"
#include "vmm/iov.h"
#include "vmm/util.h"

#define FUSE_MIN_MINOR	    27
#define FUSE_OUR_MINOR	    38 /* the protocol this server speaks (linux/fuse.h 7.38) */
#define FUSE_MAX_WRITE	    (1024 * 1024)
#define FUSE_MAX_PAGES_INIT 256
/*
 * The most one READ returns: what max_pages lets the client ask for. A
 * reply's length is 32-bit (fuse_out_header.len, the used ring's len), so
 * a larger request is served short, never with a wrapped length.
 */
#define FUSE_MAX_READ	    (FUSE_MAX_PAGES_INIT * 4096)
#define FUSE_TIMEOUT_SEC    1
#define FUSE_MAX_REQ_ARGS   (64 * 1024 + 4096) /* largest non-WRITE body: SETXATTR */
#define FUSE_XATTR_SIZE_MAX (64 * 1024)
#define FUSE_HOST_NAME_MAX  255
#define FUSE_SYMLINK_MAX    4095

/*
 * What one guest may hold in one server. Past these, LOOKUP and friends
 * fail with ENFILE and OPEN/OPENDIR/CREATE with EMFILE, as the guest's own
 * kernel would. Directory handles have their own, smaller cap (and at most
 * half the fd budget below) so that a guest holding directories open can
 * still look up and open files.
 */
#define FUSE_MAX_NODES	     (1u << 20)
#define FUSE_MAX_HANDLES     65536u
#define FUSE_MAX_DIR_HANDLES 16384u
/*
 * Every node and handle costs the process an fd: all servers together keep
 * to the fd limit minus this share of it (at least FUSE_FD_HEADROOM_MIN),
 * left to the other devices, the caller and transient opens.
 */
#define FUSE_FD_HEADROOM_DIV 8
#define FUSE_FD_HEADROOM_MIN 256

/* A virtual, in-memory entry (file or directory) added by the VMM. */
struct ovl_entry {
	char *name;
	struct ovl_entry *parent;   /* NULL: a child of the root */
	struct ovl_entry *children; /* directories only */
	struct ovl_entry *next;	    /* next sibling */
	const uint8_t *data;	    /* files only; owned by the caller */
	size_t len;
	uint32_t mode; /* S_IFREG or S_IFDIR | permissions */
	uint64_t ino;
	bool one_shot;
	bool consumed;		/* one_shot entry already looked up */
	struct fuse_node *node; /* live node for this entry, under srv->lock */
};

struct fuse_node {
	uint64_t id;
	int fd; /* O_PATH|O_NOFOLLOW; -1 for overlay nodes */
	dev_t dev;
	ino_t ino;
	mode_t type;	   /* S_IFMT bits: an inode's type never changes */
	uint64_t nlookup;  /* the guest's references */
	unsigned int refs; /* in-flight users and open handles */
	bool hashed;	   /* reachable from the tables */
	struct ovl_entry *ovl;
	struct fuse_node *next_id, *next_ino;
};

enum handle_kind { HANDLE_FILE, HANDLE_DIR };

struct dir_stream;

struct fuse_handle {
	uint64_t id;
	enum handle_kind kind;
	int fd;			/* -1 for overlay handles */
	struct fuse_node *node; /* holds a reference */
	struct dir_stream *dir; /* directories only */
	unsigned int refs;
	bool hashed;
	struct fuse_handle *next;
};

struct node_table {
	struct fuse_node **by_id;
	struct fuse_node **by_ino;
	size_t nbuckets; /* power of two, same for both */
	size_t count;
};

struct handle_table {
	struct fuse_handle **buckets;
	size_t nbuckets;
	size_t count;
	size_t dirs; /* of which directory handles */
};

struct fuse_server {
	pthread_mutex_t lock; /* the tables, lookup counts, refs and overlay state */
	int root_fd;	      /* O_PATH|O_DIRECTORY of root_dir */
	bool read_only;
	bool strict;  /* KRUN_SHARE_MODE_STRICT */
	bool is_root; /* euid 0: new files get the caller's owner */
	mode_t umask; /* the process umask, undone on new inodes */
	struct fuse_node *root;
	struct ovl_entry *ovl_root; /* overlay children of the root */
	struct timespec start_time;
	uint64_t next_node_id;
	uint64_t next_fh;
	uint64_t next_ovl_ino;
	struct node_table nodes;
	struct handle_table handles;
	/* The exit-status ioctl (fuse_ioctl.c): set before the guest runs. */
	fuse_exit_fn exit_fn;
	void *exit_opaque;
	atomic_bool exit_refusal_logged;
	/* Negotiated by INIT; updated under lock, read racily by design. */
	bool initialized;
	uint32_t minor;
	uint64_t flags;
};

/* One request being served. */
struct fuse_req {
	struct fuse_server *srv;
	struct fuse_in_header h;
	const uint8_t *arg; /* body copied out of the guest buffers (not for WRITE) */
	size_t arglen;
	const struct iovec *in;
	unsigned int in_count;
	size_t in_len; /* bytes of the request present: h.len, checked */
	const struct iovec *out;
	unsigned int out_count;
	size_t out_cap;
	uint64_t flags; /* negotiated INIT flags, as of this request */
};

/* fuse_server.c: replies. Each returns the number of bytes written to "out". */
size_t fuse_reply_err(struct fuse_req *req, int err);
size_t fuse_reply(struct fuse_req *req, const void *body, size_t len);
size_t fuse_reply_iov(struct fuse_req *req, const struct iovec *parts, unsigned int n);
size_t fuse_reply_status(struct fuse_req *req, int ret); /* ret: 0 or -errno */
bool fuse_server_can_write(struct fuse_req *req);

/* fuse_node.c */
/* Take / give back one of the process's fds for a node or handle (all servers). */
bool fuse_fd_charge(void);
void fuse_fd_uncharge(void);
void fuse_fd_budget_set(size_t budget);
size_t fuse_fd_budget(void);
int node_tables_init(struct fuse_server *srv);
void node_tables_free(struct fuse_server *srv);
void node_tables_reset(struct fuse_server *srv); /* DESTROY: drop all but the root */
struct fuse_node *node_get(struct fuse_server *srv, uint64_t id);
void node_put(struct fuse_server *srv, struct fuse_node *node);
uint64_t node_link_fd(struct fuse_server *srv, int fd, const struct stat *st);
uint64_t node_link_ovl(struct fuse_server *srv, struct ovl_entry *ovl);
void node_link_again(struct fuse_server *srv, struct fuse_node *node);
void node_forget(struct fuse_server *srv, uint64_t id, uint64_t nlookup);
/* 0 with errno EMFILE (a cap), ENFILE (the process's fds) or ENOMEM on failure. */
uint64_t handle_add(struct fuse_server *srv, enum handle_kind kind, int fd, struct fuse_node *node,
		    struct dir_stream *dir);
struct fuse_handle *handle_get(struct fuse_server *srv, uint64_t id, enum handle_kind kind);
/* fuse_file.c: FSYNC/FSYNCDIR on a handle of the given kind. */
size_t fuse_fsync_handle(struct fuse_req *req, enum handle_kind kind);
void handle_put(struct fuse_server *srv, struct fuse_handle *h);
int handle_release(struct fuse_server *srv, uint64_t id, enum handle_kind kind);

/* fuse_util.c: host-side helpers */
/* The mode bits a strict share keeps for an inode of type "type" (S_IFMT bits). */
mode_t fuse_allowed_mode(const struct fuse_server *srv, mode_t type, mode_t mode);
int fuse_check_name(const char *name);
int fuse_arg_name(struct fuse_req *req, size_t *pos, const char **name);
int fuse_open_beneath(int dirfd, const char *name, int flags, mode_t mode);
int fuse_reopen_fd(struct fuse_server *srv, int fd, int flags);
int fuse_reopen_node(struct fuse_server *srv, const struct fuse_node *node, int flags);
void fuse_proc_path(char *buf, size_t size, int fd);
int fuse_node_stat(struct fuse_server *srv, const struct fuse_node *node, struct stat *st);
void fuse_fill_attr(struct fuse_attr *attr, const struct stat *st);
void fuse_fill_entry(struct fuse_entry_out *e, uint64_t nodeid, const struct stat *st);
int fuse_entry_from_fd(struct fuse_server *srv, int fd, struct fuse_entry_out *e);
int fuse_lookup_host(struct fuse_server *srv, int dirfd, const char *name,
		     struct fuse_entry_out *e);
int fuse_lookup_name(struct fuse_server *srv, struct fuse_node *dir, const char *name,
		     struct fuse_entry_out *e);
struct fuse_creds {
	bool switched;
	uid_t fsuid;
	gid_t fsgid;
};
/* Around a call that creates an inode: the guest's fs uid/gid (root VMM only). */
void fuse_creds_enter(struct fuse_req *req, struct fuse_creds *saved);
void fuse_creds_leave(const struct fuse_creds *saved);
void fuse_fix_new_mode(struct fuse_req *req, int fd, mode_t mode);
int fuse_kill_suidgid(int fd, const struct stat *st);

/* fuse_overlay.c (callers hold no lock) */
bool ovl_capable(const struct fuse_server *srv, const struct fuse_node *dir);
struct ovl_entry *ovl_lookup(struct fuse_server *srv, const struct fuse_node *dir, const char *name,
			     bool consume);
bool ovl_shadows(struct fuse_server *srv, const struct fuse_node *dir, const char *name);
void ovl_stat(const struct fuse_server *srv, const struct ovl_entry *ovl, struct stat *st);
void ovl_free_all(struct fuse_server *srv);
int ovl_snapshot(struct fuse_server *srv, const struct fuse_node *dir, struct ovl_entry ***list,
		 size_t *count);

/* fuse_dir.c */
void dir_stream_free(struct dir_stream *ds);
size_t fuse_op_opendir(struct fuse_req *req);
size_t fuse_op_readdir(struct fuse_req *req);
size_t fuse_op_readdirplus(struct fuse_req *req);
size_t fuse_op_releasedir(struct fuse_req *req);
size_t fuse_op_fsyncdir(struct fuse_req *req);

/* fuse_ioctl.c */
size_t fuse_op_ioctl(struct fuse_req *req);

/* fuse_entry.c */
size_t fuse_op_lookup(struct fuse_req *req);
size_t fuse_op_forget(struct fuse_req *req);
size_t fuse_op_batch_forget(struct fuse_req *req);
size_t fuse_op_getattr(struct fuse_req *req);
size_t fuse_op_setattr(struct fuse_req *req);
size_t fuse_op_readlink(struct fuse_req *req);
size_t fuse_op_symlink(struct fuse_req *req);
size_t fuse_op_mknod(struct fuse_req *req);
size_t fuse_op_mkdir(struct fuse_req *req);
size_t fuse_op_unlink(struct fuse_req *req);
size_t fuse_op_rmdir(struct fuse_req *req);
size_t fuse_op_rename(struct fuse_req *req);
size_t fuse_op_rename2(struct fuse_req *req);
size_t fuse_op_link(struct fuse_req *req);
size_t fuse_op_statfs(struct fuse_req *req);
size_t fuse_op_access(struct fuse_req *req);

/* fuse_xattr.c */
size_t fuse_op_setxattr(struct fuse_req *req);
size_t fuse_op_getxattr(struct fuse_req *req);
size_t fuse_op_listxattr(struct fuse_req *req);
size_t fuse_op_removexattr(struct fuse_req *req);

/* fuse_file.c */
size_t fuse_op_open(struct fuse_req *req);
size_t fuse_op_create(struct fuse_req *req);
size_t fuse_op_read(struct fuse_req *req);
size_t fuse_op_write(struct fuse_req *req);
size_t fuse_op_release(struct fuse_req *req);
size_t fuse_op_flush(struct fuse_req *req);
size_t fuse_op_fsync(struct fuse_req *req);
size_t fuse_op_fallocate(struct fuse_req *req);
size_t fuse_op_lseek(struct fuse_req *req);
size_t fuse_op_copy_file_range(struct fuse_req *req);
size_t fuse_op_getlk(struct fuse_req *req);
size_t fuse_op_setlk(struct fuse_req *req);
size_t fuse_op_syncfs(struct fuse_req *req);

#endif
