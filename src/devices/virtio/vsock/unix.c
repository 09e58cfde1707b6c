// SPDX-License-Identifier: Apache-2.0
/*
 * The unix-socket backend (krun_add_vsock_port2): a guest connect to host
 * port P reaches the unix stream socket mapped to P; for a port mapped with
 * listen=true the VMM creates the socket itself and makes every connection
 * to it a connection to the guest's port P.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/vsock/vsock.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define ACCEPT_BATCH 16 /* connections taken per event; the rest wait their turn */

struct unix_port {
	uint32_t port;
	char *path;
	bool listen;
	struct vsock_watch watch; /* listen: the listening socket */
};

struct vsock_unix {
	struct vsock_backend backend;
	struct unix_port ports[VM_MAX_VSOCK_PORTS];
	unsigned int nports;
};

static int unix_address(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

static int unix_connect(struct vsock_backend *b, uint32_t port, uint32_t peer_port)
{
	struct vsock_unix *u = (struct vsock_unix *)b;
	struct sockaddr_un sa;

	(void)peer_port;
	for (unsigned int i = 0; i < u->nports; i++) {
		struct unix_port *p = &u->ports[i];
		int fd, err;

		if (p->port != port || p->listen)
			continue;
		if (unix_address(p->path, &sa) < 0)
			return -ENAMETOOLONG;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		/* A unix connect completes at once, or fails (EAGAIN: backlog full). */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		err = -errno;
		close(fd);
		pr_debug("virtio-vsock: port %u: connect to %s: %s", port, p->path, strerror(-err));
		return err;
	}
	return -ENOENT;
}

static void unix_accept(struct vsock_backend *b, struct vsock_watch *w, uint32_t events)
{
	struct unix_port *p = (struct unix_port *)((char *)w - offsetof(struct unix_port, watch));

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				pr_debug("virtio-vsock: accept on %s: %s", p->path,
					 strerror(errno));
			return;
		}
		if (vsock_core_host_connect(b->core, p->port, fd, NULL) < 0)
			close(fd); /* table full: the host client sees the end at once */
	}
}

static int unix_listen(struct vsock_unix *u, struct unix_port *p)
{
	struct sockaddr_un sa;
	int fd, ret = unix_address(p->path, &sa);

	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		ret = errno == EADDRINUSE ? -EEXIST : -errno;
		close(fd);
		pr_err("virtio-vsock: port %u: cannot listen on %s: %s", p->port, p->path,
		       strerror(-ret));
		return ret;
	}
	p->watch = (struct vsock_watch){VSOCK_WATCH_BACKEND, fd, &u->backend};
	ret = vsock_core_watch(u->backend.core, &p->watch, EPOLLIN);
	if (ret < 0) {
		close(fd);
		unlink(p->path);
		p->watch.fd = -1;
	}
	return ret;
}

void vsock_unix_unlink(struct vsock_backend *b)
{
	struct vsock_unix *u = (struct vsock_unix *)b;

	for (unsigned int i = 0; u && i < u->nports; i++)
		if (u->ports[i].listen && u->ports[i].watch.fd >= 0)
			unlink(u->ports[i].path);
}

void vsock_unix_free(struct vsock_backend *b)
{
	struct vsock_unix *u = (struct vsock_unix *)b;

	if (!u)
		return;
	vsock_unix_unlink(b);
	for (unsigned int i = 0; i < u->nports; i++) {
		if (u->ports[i].watch.fd >= 0)
			close(u->ports[i].watch.fd);
		free(u->ports[i].path);
	}
	free(u);
}

int vsock_unix_create(struct vsock_core *vc, const struct vsock_config *cfg,
		      struct vsock_backend **out)
{
	struct vsock_unix *u = calloc(1, sizeof(*u));
	int ret = 0;

	if (!u)
		return -ENOMEM;
	u->backend =
	    (struct vsock_backend){.name = "unix", .connect = unix_connect, .event = unix_accept};
	vsock_core_add_backend(vc, &u->backend);
	for (unsigned int i = 0; i < cfg->nports && !ret; i++) {
		struct unix_port *p = &u->ports[u->nports];

		p->port = cfg->ports[i].port;
		p->listen = cfg->ports[i].listen;
		p->watch.fd = -1;
		p->path = strdup(cfg->ports[i].path);
		if (!p->path) {
			ret = -ENOMEM;
			break;
		}
		u->nports++;
		if (p->listen)
			ret = unix_listen(u, p);
	}
	*out = &u->backend;
	return ret;
}
