/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table of configuration contexts. Ids count up and are never handed out
 * twice while a context with that id lives. One lock guards the table and
 * every configuration in it: configuration calls are rare and short.
 */
#ifndef KRUN_CTX_H
#define KRUN_CTX_H

#include <stdint.h>

#include "vmm/config.h"

#define CTX_MAX 4096 /* live contexts at once */

int ctx_create(void);
int ctx_free(uint32_t id);

/*
 * Lock the table and return the configuration of context "id", or NULL
 * (table still locked, error logged on behalf of "caller") when there is
 * none. Always pair with ctx_put().
 */
struct vm_config *ctx_get(uint32_t id, const char *caller);
void ctx_put(void);

/* Remove the context and hand its configuration to the caller. */
int ctx_take(uint32_t id, struct vm_config *out);

/* Run "expr" with "cfg" bound to the context's configuration. */
#define WITH_CONFIG(ctx_id, cfg, expr)                                                             \
	({                                                                                         \
		struct vm_config *cfg = ctx_get((ctx_id), __func__);                               \
		int32_t ret_ = cfg ? (int32_t)(expr) : -EINVAL;                                    \
		ctx_put();                                                                         \
		ret_;                                                                              \
	})

/* Argument check of an entry point: log and return -EINVAL when "cond" fails. */
#define NEED(cond)                                                                                 \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			pr_err("%s: invalid argument (%s)", __func__, #cond);                      \
			return -EINVAL;                                                            \
		}                                                                                  \
	} while (0)

#endif
