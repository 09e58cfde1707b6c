// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-vsock part of the VM configuration: whether the VM gets the
 * device, and the guest ports bridged to host unix sockets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

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
	return cfg->vsock.added || (!cfg->vsock.no_implicit && cfg->pending.nnets == 0);
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
	memset(&cfg->vsock, 0, sizeof(cfg->vsock));
}
