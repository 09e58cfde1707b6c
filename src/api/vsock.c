// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock entry points: the device itself (implicit, or added with
 * TSI features and the TSI port map) and guest ports bridged to host unix
 * sockets.
 */
#include <errno.h>
#include <string.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

KRUN_EXPORT int32_t krun_add_vsock_port2(uint32_t ctx_id, uint32_t port, const char *c_filepath,
					 bool listen)
{
	NEED(c_filepath && *c_filepath);
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_vsock_port(cfg, port, c_filepath, listen));
}

KRUN_EXPORT int32_t krun_add_vsock_port(uint32_t ctx_id, uint32_t port, const char *c_filepath)
{
	return krun_add_vsock_port2(ctx_id, port, c_filepath, false);
}

KRUN_EXPORT int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features)
{
	NEED(!(tsi_features & ~(uint32_t)(KRUN_TSI_HIJACK_INET | KRUN_TSI_HIJACK_UNIX)));
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_vsock(cfg, tsi_features));
}

KRUN_EXPORT int32_t krun_disable_implicit_vsock(uint32_t ctx_id)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_disable_implicit_vsock(cfg));
}

KRUN_EXPORT int32_t krun_set_port_map(uint32_t ctx_id, const char *const port_map[])
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_port_map(cfg, port_map));
}
