// SPDX-License-Identifier: Apache-2.0
/*
 * FUSE_IOCTL: the server passes no ioctl through to host files. It knows
 * one request, the guest's exit-status report (KRUN_EXIT_STATUS_IOCTL in
 * guest_abi.h), and only on a share that has an exit handler (the root
 * share), only on its root directory and only from the guest's root user.
 * Every other request is refused with ENOTTY, as an ioctl the file does not
 * know; a malformed exit report is refused too and stops nothing.
 */
#include <errno.h>
#include <string.h>

#include "devices/virtio/fs/fuse_priv.h"
#include "guest_abi.h"
#include "vmm/log.h"

void fuse_server_set_exit_handler(struct fuse_server *srv, fuse_exit_fn fn, void *opaque)
{
	srv->exit_fn = fn;
	srv->exit_opaque = opaque;
}

/* The guest decides how often it tries: say it once. */
static size_t refuse_exit_report(struct fuse_req *req, int err, const char *why)
{
	if (!atomic_exchange(&req->srv->exit_refusal_logged, true))
		pr_warn("fuse: exit-status ioctl refused (%s); further refusals are not logged",
			why);
	return fuse_reply_err(req, err);
}

/* The request's fh must be a directory handle opened on the root. */
static bool is_root_dir_handle(struct fuse_server *srv, uint64_t fh)
{
	struct fuse_handle *h = handle_get(srv, fh, HANDLE_DIR);
	bool ok = h && h->node == srv->root;

	if (h)
		handle_put(srv, h);
	return ok;
}

static size_t exit_report(struct fuse_req *req, const struct fuse_ioctl_in *in)
{
	struct fuse_server *srv = req->srv;
	struct fuse_ioctl_out out = {0};
	int status;

	if (req->h.nodeid != FUSE_ROOT_ID)
		return refuse_exit_report(req, ENOTTY, "not on the root directory");
	if (req->h.uid != 0)
		return refuse_exit_report(req, EPERM, "not from uid 0");
	/* _IO(): the kernel sends no data and expects none back. */
	if (in->in_size || in->out_size || req->arglen != sizeof(*in) ||
	    (in->flags & FUSE_IOCTL_UNRESTRICTED))
		return refuse_exit_report(req, EINVAL, "malformed request");
	if (!(in->flags & FUSE_IOCTL_DIR) || !is_root_dir_handle(srv, in->fh))
		return refuse_exit_report(req, EBADF, "not on an open handle of the root");

	status = (int)(in->arg & 0xff);
	pr_debug("fuse: guest reported exit status %d", status);
	srv->exit_fn(srv->exit_opaque, status);
	return fuse_reply(req, &out, sizeof(out));
}

size_t fuse_op_ioctl(struct fuse_req *req)
{
	struct fuse_ioctl_in in;

	memcpy(&in, req->arg, sizeof(in)); /* dispatch() checked the length */
	if (in.cmd != KRUN_EXIT_STATUS_IOCTL || !req->srv->exit_fn)
		return fuse_reply_err(req, ENOTTY);
	return exit_report(req, &in);
}
