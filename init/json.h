/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small JSON (RFC 8259) reader for krun-init: it parses a whole document
 * held in a writable buffer into a table of nodes, decoding strings in
 * place. Plain C with no dependency on init's other files, so the host's
 * unit tests and fuzzer build it too.
 *
 * Bounds: nesting depth JSON_MAX_DEPTH, JSON_MAX_NODES values in a
 * document; anything beyond is an error, never a crash. Strings are
 * NUL-terminated after decoding and keep their length: one with an escaped
 * NUL (\u0000) has strlen() < len, which a caller wanting a C string must
 * refuse. Numbers keep their text; only what callers need is decoded.
 */
#ifndef KRUN_JSON_H
#define KRUN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64
#define JSON_MAX_NODES (1u << 18)

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/* Nodes refer to each other by index; 0 is the root, so 0 also means "none". */
struct json_node {
	enum json_type type;
	uint32_t next;	 /* next element or member of the parent, 0 at the end */
	uint32_t child;	 /* first element or member (arrays, objects), 0 if empty */
	uint32_t count;	 /* elements or members (arrays, objects) */
	const char *key; /* member name (decoded, NUL-terminated), NULL in arrays */
	size_t key_len;
	const char *str; /* string value (decoded) or number text (not terminated) */
	size_t len;
};

struct json_doc {
	struct json_node *nodes;
	uint32_t nnodes, cap;
};

struct json_error {
	size_t offset; /* byte offset of the problem in the text */
	unsigned int line, column;
	char msg[96];
};

/*
 * Parses @text[0..@len) (which it modifies: strings are decoded in place)
 * into @doc. Returns 0, or -1 with @err filled in. On success the document
 * must be freed with json_free(); the strings point into @text.
 */
int json_parse(struct json_doc *doc, char *text, size_t len, struct json_error *err);
void json_free(struct json_doc *doc);

static inline const struct json_node *json_root(const struct json_doc *doc)
{
	return &doc->nodes[0];
}

/* First element or member of @n, and the one after @n; NULL at the end. */
const struct json_node *json_first(const struct json_doc *doc, const struct json_node *n);
const struct json_node *json_next(const struct json_doc *doc, const struct json_node *n);

/* The first member of object @obj whose name is @name, ignoring ASCII case. */
const struct json_node *json_member(const struct json_doc *doc, const struct json_node *obj,
				    const char *name);

/* A string without an embedded NUL: its value, else NULL. */
const char *json_cstring(const struct json_node *n);

/*
 * An integer number 0..@max (no fraction, exponent or sign): 0 and *out,
 * else -1. @max is at most UINT64_MAX.
 */
int json_uint(const struct json_node *n, uint64_t max, uint64_t *out);

const char *json_type_name(enum json_type type);

#endif
