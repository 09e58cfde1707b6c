// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for krun-init's JSON reader and /.krun_config.json
 * handling (init/json.c, init/oci_config.c): any bytes, as the guest's root
 * may hold any file there. The text is an exact-size copy, so ASan sees any
 * read past its end. A document that parses is walked whole; every value
 * the config takes must be a C string or in range.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "init.h"
#include "json.h"

void say(const char *fmt, ...)
{
	(void)fmt;
}

unsigned int stdio_port_bit(const char *name)
{
	(void)name;
	return 0;
}

static size_t walk(const struct json_doc *doc, const struct json_node *n, unsigned int depth)
{
	size_t count = 1;
	uint64_t v;

	if (depth > JSON_MAX_DEPTH + 1)
		abort();
	if (n->type == JSON_NUMBER && !json_uint(n, UINT64_MAX, &v) && n->len > 20)
		abort();
	if (n->type == JSON_STRING && n->str[n->len] != '\0')
		abort();
	for (const struct json_node *c = json_first(doc, n); c; c = json_next(doc, c))
		count += walk(doc, c, depth + 1);
	return count;
}

static void check_config(const struct config *cfg)
{
	for (size_t i = 0; cfg->argv && cfg->argv[i]; i++)
		if (strlen(cfg->argv[i]) > (1u << 20))
			abort();
	for (size_t i = 0; i < cfg->nenv; i++)
		if (!strchr(cfg->envp[i], '='))
			abort();
	for (size_t i = 0; i < cfg->nrlimits; i++)
		if (cfg->rlimits[i].resource < 0 || cfg->rlimits[i].resource >= RLIM_NLIMITS)
			abort();
	if (cfg->workdir && strlen(cfg->workdir) > (1u << 24))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc doc;
	struct json_error err;
	struct config cfg = {0};
	char *text = malloc(size ? size : 1);

	memcpy(text, data, size);
	if (!json_parse(&doc, text, size, &err)) {
		if (walk(&doc, json_root(&doc), 0) != doc.nnodes)
			abort();
		json_free(&doc);
	} else if (!err.msg[0] || err.offset > size) {
		abort();
	}

	/* Again as init reads it: on top of an empty set of records. */
	memcpy(text, data, size);
	cfg.argv = calloc(2, sizeof(char *));
	cfg.envp = calloc(ENV_DEFAULTS_MAX + 1, sizeof(char *));
	cfg.rlimits = calloc(1, sizeof(*cfg.rlimits));
	cfg.workdir = "/";
	cfg.hostname = "krun";
	if (!oci_config_apply(&cfg, "/.krun_config.json", text, size))
		check_config(&cfg);
	if (cfg.argv && cfg.argv[0] != cfg.exec && cfg.exec)
		abort();
	free(cfg.argv);
	free(cfg.envp);
	free(cfg.rlimits);
	free(text);
	return 0;
}
