// SPDX-License-Identifier: Apache-2.0
/*
 * What the two unix-socket backends (unixstream.c, unixgram.c) share: the
 * peer's socket, either the caller's connected fd or a new connection to a
 * path, checked to be of the backend's type and given room for bursts.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/net/net.h"
#include "vmm/log.h"

/* Room for a burst of 64 KiB frames each way; the kernel caps it. */
#define SOCK_BUF (2 * 1024 * 1024)

/*
 * A datagram socket is bound to an autobound abstract address first, so
 * that the peer has an address to answer to.
 */
static int connect_path(const char *path, int type)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (type == SOCK_DGRAM && bind(fd, (struct sockaddr *)&addr, sizeof(sa_family_t)) < 0)
		goto fail;
	strcpy(addr.sun_path, path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

int net_unix_peer_open(struct net_if *nif, const struct net_config *cfg, int type)
{
	int got = 0, size = SOCK_BUF;
	socklen_t len = sizeof(got);

	if (cfg->path) {
		nif->fd = connect_path(cfg->path, type);
		if (nif->fd < 0) {
			pr_err("virtio-net %s: connect to %s: %s", nif->name, cfg->path,
			       strerror(-nif->fd));
			return nif->fd;
		}
		nif->own_fd = true;
	} else {
		nif->fd = cfg->fd;
	}
	if (getsockopt(nif->fd, SOL_SOCKET, SO_TYPE, &got, &len) < 0 || got != type) {
		pr_err("virtio-net %s: fd %d is not a %s socket", nif->name, nif->fd,
		       type == SOCK_STREAM ? "stream" : "datagram");
		return -EINVAL;
	}
	setsockopt(nif->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(nif->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return 0;
}
