// SPDX-License-Identifier: Apache-2.0
/*
 * Networking entry points (virtio-net): interfaces on a stream socket
 * (passt), a datagram socket (gvproxy, vfkit-style peers) or a tap device,
 * and the deprecated single-interface calls.
 */
#include <errno.h>
#include <string.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

static int add_net(uint32_t ctx_id, enum net_backend backend, const char *path, int fd,
		   const uint8_t *mac, uint32_t features, uint32_t flags)
{
	struct net_config net = {
	    .backend = backend,
	    .path = (char *)path,
	    .fd = fd,
	    .features = features,
	    .flags = flags,
	    .legacy = !mac,
	};

	if (mac)
		memcpy(net.mac, mac, sizeof(net.mac));
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_net(cfg, &net));
}

static bool valid_endpoint(const char *path, int fd)
{
	return (path && *path && strlen(path) < VM_MAX_PATH && fd == -1) || (!path && fd >= 0);
}

/* A unicast address (bit 0 of the first byte clear): the guest's own. */
static bool valid_mac(const uint8_t *mac)
{
	return mac && !(mac[0] & 1);
}

KRUN_EXPORT int32_t krun_add_net_unixstream(uint32_t ctx_id, const char *c_path, int fd,
					    uint8_t *const c_mac, uint32_t features, uint32_t flags)
{
	NEED(valid_endpoint(c_path, fd) && valid_mac(c_mac));
	return add_net(ctx_id, NET_UNIXSTREAM, c_path, fd, c_mac, features, flags);
}

KRUN_EXPORT int32_t krun_add_net_unixgram(uint32_t ctx_id, const char *c_path, int fd,
					  uint8_t *const c_mac, uint32_t features, uint32_t flags)
{
	NEED(valid_endpoint(c_path, fd) && valid_mac(c_mac));
	return add_net(ctx_id, NET_UNIXGRAM, c_path, fd, c_mac, features, flags);
}

KRUN_EXPORT int32_t krun_add_net_tap(uint32_t ctx_id, char *c_tap_name, uint8_t *const c_mac,
				     uint32_t features, uint32_t flags)
{
	NEED(c_tap_name && *c_tap_name && strlen(c_tap_name) < 16 && valid_mac(c_mac));
	return add_net(ctx_id, NET_TAP, c_tap_name, -1, c_mac, features, flags);
}

/* Deprecated: passt on a connected stream socket, upstream's compat offloads. */
KRUN_EXPORT int32_t krun_set_passt_fd(uint32_t ctx_id, int fd)
{
	NEED(fd >= 0);
	return add_net(ctx_id, NET_UNIXSTREAM, NULL, fd, NULL, COMPAT_NET_FEATURES, 0);
}

/*
 * Deprecated: gvproxy on a datagram socket path. gvproxy's datagram listener
 * is its vfkit mode, which waits for the "VFKT" datagram first.
 */
KRUN_EXPORT int32_t krun_set_gvproxy_path(uint32_t ctx_id, char *c_path)
{
	NEED(c_path && *c_path && strlen(c_path) < VM_MAX_PATH);
	return add_net(ctx_id, NET_UNIXGRAM, c_path, -1, NULL, COMPAT_NET_FEATURES, NET_FLAG_VFKIT);
}

KRUN_EXPORT int32_t krun_set_net_mac(uint32_t ctx_id, uint8_t *const c_mac)
{
	NEED(c_mac);
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_net_mac(cfg, c_mac));
}
