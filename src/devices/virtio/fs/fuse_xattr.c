// SPDX-License-Identifier: Apache-2.0
/*
 * Extended attributes. O_PATH fds do not support f*xattr(), so these go
 * through the node's /proc/self/fd magic link: it resolves to the inode
 * itself, and for a symlink acts on the link, not its target.
 * A request size of 0 probes: the reply is the size the value needs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "devices/virtio/fs/fuse_priv.h"

#define XATTR_NAME_MAX_LEN 255

static int check_xattr_name(const char *name)
{
	size_t len = strlen(name);

	if (!len)
		return -EINVAL;
	return len > XATTR_NAME_MAX_LEN ? -ERANGE : 0;
}

/* A strict share keeps the host's privileged namespaces out of the guest's hands. */
static int check_xattr_change(const struct fuse_server *srv, const char *name)
{
	if (srv->strict && (!strncmp(name, "security.", 9) || !strncmp(name, "trusted.", 8)))
		return -EPERM;
	return 0;
}

/* The node for an xattr request, with its proc path; overlay nodes have none. */
static int xattr_node(struct fuse_req *req, struct fuse_node **node, char *path, size_t size)
{
	*node = node_get(req->srv, req->h.nodeid);
	if (!*node)
		return -ENOENT;
	if ((*node)->fd >= 0)
		fuse_proc_path(path, size, (*node)->fd);
	return 0;
}

size_t fuse_op_setxattr(struct fuse_req *req)
{
	struct fuse_setxattr_in in = {0};
	struct fuse_node *node;
	const char *name;
	char path[32];
	size_t pos = FUSE_COMPAT_SETXATTR_IN_SIZE; /* FUSE_SETXATTR_EXT is not negotiated */
	int err;

	memcpy(&in, req->arg, FUSE_COMPAT_SETXATTR_IN_SIZE);
	if (fuse_arg_name(req, &pos, &name))
		return fuse_reply_err(req, EINVAL);
	err = check_xattr_name(name);
	if (!err)
		err = check_xattr_change(req->srv, name);
	if (err)
		return fuse_reply_err(req, -err);
	if (in.size > FUSE_XATTR_SIZE_MAX)
		return fuse_reply_err(req, E2BIG);
	if (in.size > req->arglen - pos)
		return fuse_reply_err(req, EINVAL); /* the value is not all there */
	err = xattr_node(req, &node, path, sizeof(path));
	if (err)
		return fuse_reply_err(req, -err);
	if (node->ovl)
		err = -EROFS;
	else if (setxattr(path, name, req->arg + pos, in.size, (int)in.flags))
		err = -errno;
	node_put(req->srv, node);
	return fuse_reply_status(req, err);
}

/* Shared tail of GETXATTR and LISTXATTR: probe or fetch up to size bytes. */
static size_t reply_xattr(struct fuse_req *req,
			  ssize_t (*get)(const char *, const char *, void *, size_t),
			  const char *name, uint32_t size)
{
	struct fuse_getxattr_out out = {0};
	struct fuse_node *node;
	char path[32];
	void *buf = NULL;
	ssize_t len;
	size_t ret;
	int err;

	/* A value larger than the reply buffer is ERANGE, as for a short size. */
	size = MIN(size, (uint32_t)FUSE_XATTR_SIZE_MAX);
	size = (uint32_t)MIN((size_t)size, req->out_cap - sizeof(struct fuse_out_header));
	err = xattr_node(req, &node, path, sizeof(path));
	if (err)
		return fuse_reply_err(req, -err);
	if (size && !(buf = malloc(size))) {
		len = -ENOMEM;
	} else if (node->ovl) {
		len = name ? -ENODATA : 0;
	} else {
		len = get(path, name, buf, size);
		if (len < 0)
			len = -errno;
	}
	node_put(req->srv, node);
	if (len < 0) {
		ret = fuse_reply_err(req, (int)-len);
	} else if (!size) {
		out.size = (uint32_t)len;
		ret = fuse_reply(req, &out, sizeof(out));
	} else {
		ret = fuse_reply(req, buf, (size_t)len);
	}
	free(buf);
	return ret;
}

static ssize_t get_value(const char *path, const char *name, void *buf, size_t size)
{
	return getxattr(path, name, buf, size);
}

static ssize_t get_list(const char *path, const char *name, void *buf, size_t size)
{
	(void)name;
	return listxattr(path, buf, size);
}

size_t fuse_op_getxattr(struct fuse_req *req)
{
	struct fuse_getxattr_in in;
	const char *name;
	size_t pos = sizeof(in);
	int err;

	memcpy(&in, req->arg, sizeof(in));
	if (fuse_arg_name(req, &pos, &name))
		return fuse_reply_err(req, EINVAL);
	err = check_xattr_name(name);
	if (err)
		return fuse_reply_err(req, -err);
	return reply_xattr(req, get_value, name, in.size);
}

size_t fuse_op_listxattr(struct fuse_req *req)
{
	struct fuse_getxattr_in in;

	memcpy(&in, req->arg, sizeof(in));
	return reply_xattr(req, get_list, NULL, in.size);
}

size_t fuse_op_removexattr(struct fuse_req *req)
{
	struct fuse_node *node;
	const char *name;
	char path[32];
	size_t pos = 0;
	int err;

	if (fuse_arg_name(req, &pos, &name))
		return fuse_reply_err(req, EINVAL);
	err = check_xattr_name(name);
	if (!err)
		err = check_xattr_change(req->srv, name);
	if (!err)
		err = xattr_node(req, &node, path, sizeof(path));
	if (err)
		return fuse_reply_err(req, -err);
	if (node->ovl)
		err = -EROFS;
	else if (removexattr(path, name))
		err = -errno;
	node_put(req->srv, node);
	return fuse_reply_status(req, err);
}
