/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-process FUSE server behind the virtio-fs device: serves one host
 * directory to the guest's virtiofs driver, confined to that directory.
 */
#ifndef KRUN_FUSE_SERVER_H
#define KRUN_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct fuse_server;

/* NULL + errno on failure. */
struct fuse_server *fuse_server_new(const char *root_dir, bool read_only);
void fuse_server_free(struct fuse_server *srv);

/*
 * KRUN_SHARE_MODE_STRICT: refuse device nodes (EPERM), strip setuid and
 * setgid from files (MKNOD, CREATE, SETATTR), refuse to set or remove
 * security.* and trusted.* extended attributes (EPERM). Set before serving.
 */
void fuse_server_set_strict(struct fuse_server *srv, bool strict);

/*
 * Virtual entries that exist only in memory (no host file), for the VMM's own
 * files like /init.krun. path is relative to the root and may contain '/'
 * below an overlay dir added earlier; data is NOT copied (the caller keeps it
 * alive). one_shot: the entry can be looked up only once (after the first
 * successful LOOKUP it disappears from lookups and readdir). Overlay entries
 * shadow host entries of the same name and are read-only (EROFS).
 * Return 0 or -errno.
 */
int fuse_server_add_overlay_file(struct fuse_server *srv, const char *path, const uint8_t *data,
				 size_t len, uint32_t mode, bool one_shot);
int fuse_server_add_overlay_dir(struct fuse_server *srv, const char *path, uint32_t mode);

/*
 * The guest's exit-status report (KRUN_EXIT_STATUS_IOCTL on the share's
 * root, see guest_abi.h) calls fn(opaque, status), status 0-255, from the
 * thread serving the request. Without a handler (the default) the request
 * is refused like any other ioctl. Set before the first request.
 */
typedef void (*fuse_exit_fn)(void *opaque, int status);
void fuse_server_set_exit_handler(struct fuse_server *srv, fuse_exit_fn fn, void *opaque);

/*
 * Call once in each thread that will serve requests: the thread gets its
 * own umask (0, through unshare(CLONE_FS)), so that new inodes get exactly
 * the mode the guest asked for, with nothing to fix up after creation.
 * Threads that do not call it still work (the mode is then restored after
 * creation). 0 or -errno.
 */
int fuse_server_thread_init(void);

/*
 * Serve one request. "in" holds the request (fuse_in_header + body, split at
 * arbitrary boundaries), "out" receives the reply. Returns the number of
 * bytes written to "out": 0 when the request has no reply (FORGET,
 * BATCH_FORGET, INTERRUPT) or when not even the header can be read or
 * written. Nothing in the request is trusted. Thread-safe.
 */
size_t fuse_server_handle(struct fuse_server *srv, const struct iovec *in, unsigned int in_count,
			  const struct iovec *out, unsigned int out_count);

#endif
