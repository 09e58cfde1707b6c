// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libkrun.h"
#include "vmm/guest_config.h"

struct blob {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

/* Append "key=value\0". */
static void put(struct blob *b, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), need = klen + 1 + vlen + 1;

	if (b->failed)
		return;
	if (b->len + need > b->cap) {
		size_t cap = (b->cap + need) * 2;
		uint8_t *p = realloc(b->data, cap);

		if (!p) {
			b->failed = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, key, klen);
	b->data[b->len + klen] = '=';
	memcpy(b->data + b->len + klen + 1, value, vlen + 1);
	b->len += need;
}

static void put_all(struct blob *b, const char *key, char *const *values)
{
	for (; values && *values; values++)
		put(b, key, *values);
}

static void put_number(struct blob *b, const char *key, unsigned long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lu", v);
	put(b, key, num);
}

uint8_t *guest_config_build(const struct vm_config *cfg, const char *const ports[], size_t *len)
{
	struct blob b = {0};

	/*
	 * Without krun_set_exec(), the guest's /.krun_config.json may name the
	 * program (newer crun relies on it); /bin/sh runs if it does not.
	 */
	if (cfg->exec_path) {
		put(&b, "exec", cfg->exec_path);
		put_all(&b, "arg", cfg->argv);
	}
	put(&b, "default_exec", "/bin/sh");
	put_all(&b, "env", cfg->envp);
	if (cfg->workdir)
		put(&b, "workdir", cfg->workdir);
	put_all(&b, "rlimit", cfg->rlimits);
	if (cfg->has_uid)
		put_number(&b, "uid", cfg->uid);
	if (cfg->has_gid)
		put_number(&b, "gid", cfg->gid);
	put_all(&b, "port", (char *const *)ports);
	if (cfg->remount.device) {
		put(&b, "root_disk", cfg->remount.device);
		if (cfg->remount.fstype)
			put(&b, "root_fstype", cfg->remount.fstype);
		if (cfg->remount.options)
			put(&b, "root_options", cfg->remount.options);
	}
	for (unsigned int i = 0; i < cfg->nshares; i++) {
		const struct fs_share *sh = &cfg->shares[i];
		char *spec;

		if (!sh->mount_point || asprintf(&spec, "%s:%s", sh->tag, sh->mount_point) < 0)
			continue;
		put(&b, "mount", spec);
		free(spec);
	}
	/* Init brings up lo and every ethN; DHCP only on these. */
	for (unsigned int i = 0; i < cfg->net.nnets; i++) {
		char name[16];

		if (!(cfg->net.nets[i].flags & NET_FLAG_DHCP_CLIENT))
			continue;
		vm_config_net_name(i, name, sizeof(name));
		put(&b, "net_dhcp", name);
	}
	if (b.failed) {
		free(b.data);
		return NULL;
	}
	*len = b.len;
	return b.data;
}
