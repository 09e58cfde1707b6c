// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-net part of the VM configuration: the interfaces, in the order
 * they were added (the guest's eth0, eth1...), each with its backend (a
 * stream or datagram socket to a userspace proxy, or a tap device), MAC,
 * offload features and flags.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "libkrun.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* Upstream libkrun's MAC for the interface of krun_set_passt_fd/gvproxy_path. */
static const uint8_t legacy_default_mac[6] = {0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};

/* The offloads a caller may ask for: the NET_FEATURE_* bits of the header. */
#define NET_KNOWN_FEATURES                                                                         \
	(NET_FEATURE_CSUM | NET_FEATURE_GUEST_CSUM | NET_FEATURE_GUEST_TSO4 |                      \
	 NET_FEATURE_GUEST_TSO6 | NET_FEATURE_GUEST_UFO | NET_FEATURE_HOST_TSO4 |                  \
	 NET_FEATURE_HOST_TSO6 | NET_FEATURE_HOST_UFO)

static int check_net(const struct net_config *net)
{
	if (net->features & ~(uint32_t)NET_KNOWN_FEATURES) {
		pr_err("virtio-net: unknown feature bits 0x%x",
		       net->features & ~NET_KNOWN_FEATURES);
		return -EINVAL;
	}
	if (net->flags & ~(uint32_t)(NET_FLAG_VFKIT | NET_FLAG_DHCP_CLIENT)) {
		pr_err("virtio-net: unknown flags 0x%x", net->flags);
		return -EINVAL;
	}
	if (net->flags & NET_FLAG_VFKIT && net->backend != NET_UNIXGRAM) {
		pr_err("virtio-net: NET_FLAG_VFKIT is for a unixgram interface");
		return -EINVAL;
	}
	if (net->backend == NET_TAP) {
		if (!net->path || !*net->path || strlen(net->path) >= IFNAMSIZ) {
			pr_err("virtio-net: a tap name has 1 to %d bytes", IFNAMSIZ - 1);
			return -EINVAL;
		}
		return 0;
	}
	if (net->path && strlen(net->path) > UNIX_PATH_MAX) {
		pr_err("virtio-net: a unix socket path has at most %zu bytes: %s", UNIX_PATH_MAX,
		       net->path);
		return -ENAMETOOLONG;
	}
	if (!net->path == (net->fd < 0)) {
		pr_err("virtio-net: give a socket path or a connected fd, not both");
		return -EINVAL;
	}
	return 0;
}

int vm_config_add_net(struct vm_config *cfg, const struct net_config *net)
{
	struct net_setup *s = &cfg->net;
	struct net_config *n;
	int ret = check_net(net);

	if (ret < 0)
		return ret;
	if (s->nnets == VM_MAX_NETS) {
		pr_err("at most %d network interfaces", VM_MAX_NETS);
		return -ENOSPC;
	}
	n = &s->nets[s->nnets];
	*n = *net;
	n->path = NULL;
	if (net->path && !(n->path = strdup(net->path)))
		return -ENOMEM;
	s->nnets++;
	return 0;
}

int vm_config_set_net_mac(struct vm_config *cfg, const uint8_t mac[6])
{
	if (mac[0] & 1) {
		pr_err("krun_set_net_mac: %02x:... is a multicast address", mac[0]);
		return -EINVAL;
	}
	memcpy(cfg->net.legacy_mac, mac, 6);
	cfg->net.has_legacy_mac = true;
	return 0;
}

void vm_config_net_mac(const struct vm_config *cfg, unsigned int i, uint8_t mac[6])
{
	const struct net_config *n = &cfg->net.nets[i];

	if (!n->legacy)
		memcpy(mac, n->mac, 6);
	else if (cfg->net.has_legacy_mac)
		memcpy(mac, cfg->net.legacy_mac, 6);
	else
		memcpy(mac, legacy_default_mac, 6);
}

void vm_config_net_name(unsigned int i, char *buf, size_t len)
{
	snprintf(buf, len, "eth%u", i);
}

void vm_config_release_net(struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->net.nnets; i++)
		free(cfg->net.nets[i].path);
	memset(&cfg->net, 0, sizeof(cfg->net));
}
