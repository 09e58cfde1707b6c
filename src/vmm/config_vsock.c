// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-vsock part of the VM configuration: whether the VM gets the
 * device, its TSI features and port map, and the guest ports bridged to
 * host unix sockets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "libkrun.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

int vm_config_add_vsock_port(struct vm_config *cfg, uint32_t port, const char *path, bool listen)
{
	struct vsock_config *v = &cfg->vsock;
	struct vsock_port_config *p;
	struct stat st;

	if (strlen(path) > UNIX_PATH_MAX) {
		pr_err("vsock port %u: a unix socket path has at most %zu bytes: %s", port,
		       UNIX_PATH_MAX, path);
		return -ENAMETOOLONG;
	}
	if (listen && lstat(path, &st) == 0) {
		pr_err("vsock port %u: %s exists; the VMM creates the socket it listens on", port,
		       path);
		return -EEXIST;
	}
	for (unsigned int i = 0; i < v->nports; i++) {
		if (v->ports[i].port == port) {
			pr_err("vsock port %u was mapped already", port);
			return -EEXIST;
		}
	}
	if (v->nports == VM_MAX_VSOCK_PORTS) {
		pr_err("at most %d vsock ports", VM_MAX_VSOCK_PORTS);
		return -ENOSPC;
	}
	p = &v->ports[v->nports];
	p->path = strdup(path);
	if (!p->path)
		return -ENOMEM;
	p->port = port;
	p->listen = listen;
	v->nports++;
	return 0;
}

int vm_config_add_vsock(struct vm_config *cfg, uint32_t tsi_features)
{
	if (cfg->vsock.added) {
		pr_err("krun_add_vsock: the VM has its vsock device already");
		return -EEXIST;
	}
	cfg->vsock.added = true;
	cfg->vsock.tsi_features = tsi_features;
	return 0;
}

int vm_config_disable_implicit_vsock(struct vm_config *cfg)
{
	cfg->vsock.no_implicit = true;
	return 0;
}

/* As upstream: a network interface replaces the implicit vsock (and its TSI). */
bool vm_config_has_vsock(const struct vm_config *cfg)
{
	return cfg->vsock.added || (!cfg->vsock.no_implicit && cfg->net.nnets == 0);
}

uint32_t vm_config_tsi_features(const struct vm_config *cfg)
{
	if (cfg->vsock.added)
		return cfg->vsock.tsi_features;
	return vm_config_has_vsock(cfg) ? KRUN_TSI_HIJACK_INET : 0;
}

/* A decimal port 1..65535 ending at *end; -1 otherwise. */
static long parse_port(const char *s, const char **end)
{
	long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9' && p - s < 6)
		v = v * 10 + (*p++ - '0');
	*end = p;
	return p == s || v < 1 || v > 65535 ? -1 : v;
}

static int parse_pair(const char *s, struct vsock_port_pair *pair)
{
	const char *end;
	long host = parse_port(s, &end), guest;

	if (host < 0 || *end != ':')
		return -EINVAL;
	guest = parse_port(end + 1, &end);
	if (guest < 0 || *end)
		return -EINVAL;
	pair->host = (uint16_t)host;
	pair->guest = (uint16_t)guest;
	return 0;
}

static int parse_port_map(const char *const map[], struct vsock_port_pair *pairs, unsigned int *n)
{
	*n = 0;
	for (size_t i = 0; map[i]; i++) {
		struct vsock_port_pair *p = &pairs[*n];

		if (i == VM_MAX_PORT_MAP) {
			pr_err("krun_set_port_map: at most %d ports", VM_MAX_PORT_MAP);
			return -EINVAL;
		}
		if (parse_pair(map[i], p) < 0) {
			pr_err("krun_set_port_map: \"%s\" is not HOST_PORT:GUEST_PORT (1..65535)",
			       map[i]);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < *n; j++) {
			if (pairs[j].host == p->host || pairs[j].guest == p->guest) {
				pr_err("krun_set_port_map: \"%s\": host port %u or guest port %u "
				       "mapped twice",
				       map[i], p->host, p->guest);
				return -EINVAL;
			}
		}
		(*n)++;
	}
	return 0;
}

int vm_config_set_port_map(struct vm_config *cfg, const char *const map[])
{
	struct vsock_config *v = &cfg->vsock;
	struct vsock_port_pair *pairs = NULL;
	unsigned int n = 0;
	size_t count = 0;
	int ret;

	if (map) {
		while (map[count] && count <= VM_MAX_PORT_MAP)
			count++;
		pairs = calloc(count ? count : 1, sizeof(*pairs));
		if (!pairs)
			return -ENOMEM;
		ret = parse_port_map(map, pairs, &n);
		if (ret < 0) {
			free(pairs);
			return ret;
		}
	}
	free(v->port_map);
	v->port_map = pairs;
	v->nport_map = n;
	v->port_map_set = map != NULL;
	return 0;
}

int vm_config_validate_vsock(const struct vm_config *cfg)
{
	if (cfg->vsock.nports && !vm_config_has_vsock(cfg)) {
		pr_err("krun_start_enter: %u vsock port(s) mapped, but the VM has no vsock device "
		       "(krun_disable_implicit_vsock() or a network interface, and no "
		       "krun_add_vsock())",
		       cfg->vsock.nports);
		return -EINVAL;
	}
	return 0;
}

void vm_config_release_vsock(struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->vsock.nports; i++)
		free(cfg->vsock.ports[i].path);
	free(cfg->vsock.port_map);
	memset(&cfg->vsock, 0, sizeof(cfg->vsock));
}
