/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_VIRTIO_FS_H
#define KRUN_VIRTIO_FS_H

#include <stdbool.h>

struct vm;
struct fuse_server;

#define VIRTIO_FS_TAG_MAX 36

/*
 * A virtio-fs device sharing host directory "path" under "tag", served by
 * the in-process FUSE server; returns that server (to add overlay entries)
 * or NULL.
 */
struct fuse_server *virtio_fs_create(struct vm *vm, const char *tag, const char *path,
				     bool read_only);

#endif
