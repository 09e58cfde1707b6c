// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "api/ctx.h"
#include "vmm/log.h"

struct krun_ctx {
	uint32_t id;
	struct vm_config cfg;
	struct krun_ctx *next;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct krun_ctx *contexts;
static unsigned int ncontexts;
static uint32_t next_id;

static struct krun_ctx *lookup(uint32_t id, struct krun_ctx ***link)
{
	struct krun_ctx **pp = &contexts;

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

/* Next id not in use; ids stay within int32_t so they fit the return value. */
static uint32_t allocate_id(void)
{
	uint32_t id;

	do {
		id = next_id;
		next_id = (next_id + 1) & INT32_MAX;
	} while (lookup(id, NULL));
	return id;
}

int ctx_create(void)
{
	struct krun_ctx *ctx = calloc(1, sizeof(*ctx));
	int id;

	if (!ctx)
		return -ENOMEM;
	vm_config_init(&ctx->cfg);
	pthread_mutex_lock(&table_lock);
	if (ncontexts == CTX_MAX) {
		pthread_mutex_unlock(&table_lock);
		free(ctx);
		pr_err("krun_create_ctx: too many live contexts (%d)", CTX_MAX);
		return -ENOSPC;
	}
	ctx->id = allocate_id();
	ctx->next = contexts;
	contexts = ctx;
	ncontexts++;
	id = (int)ctx->id;
	pthread_mutex_unlock(&table_lock);
	return id;
}

static struct krun_ctx *unlink_ctx(uint32_t id)
{
	struct krun_ctx **link, *ctx;

	pthread_mutex_lock(&table_lock);
	ctx = lookup(id, &link);
	if (ctx) {
		*link = ctx->next;
		ncontexts--;
	}
	pthread_mutex_unlock(&table_lock);
	return ctx;
}

int ctx_free(uint32_t id)
{
	struct krun_ctx *ctx = unlink_ctx(id);

	if (!ctx) {
		pr_err("krun_free_ctx: no context %u", id);
		return -EINVAL;
	}
	vm_config_release(&ctx->cfg);
	free(ctx);
	return 0;
}

struct vm_config *ctx_get(uint32_t id, const char *caller)
{
	struct krun_ctx *ctx;

	pthread_mutex_lock(&table_lock);
	ctx = lookup(id, NULL);
	if (!ctx) {
		pr_err("%s: no context %u", caller, id);
		return NULL;
	}
	return &ctx->cfg;
}

void ctx_put(void)
{
	pthread_mutex_unlock(&table_lock);
}

int ctx_take(uint32_t id, struct vm_config *out)
{
	struct krun_ctx *ctx = unlink_ctx(id);

	if (!ctx)
		return -EINVAL;
	*out = ctx->cfg;
	free(ctx);
	return 0;
}
