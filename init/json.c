// SPDX-License-Identifier: Apache-2.0
/*
 * JSON reader (see json.h): recursive descent over the text, one node per
 * value appended to a growing table, strings decoded where they stand.
 * A decoded string is never longer than its escaped form, so the write
 * position never passes the read position and the terminating NUL fits
 * where the closing quote was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

struct parser {
	char *text;
	size_t len, pos;
	unsigned int line;
	size_t line_start;
	struct json_doc *doc;
	struct json_error *err;
};

static int fail(struct parser *p, const char *msg)
{
	struct json_error *e = p->err;

	e->offset = p->pos;
	e->line = p->line;
	e->column = (unsigned int)(p->pos - p->line_start + 1);
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	return -1;
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->text[p->pos];

		if (c == '\n') {
			p->line++;
			p->line_start = p->pos + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		p->pos++;
	}
}

/* The next byte, or -1 at the end of the text. */
static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

/* A new node; its index in *idx. Nodes may move: index, never point. */
static int new_node(struct parser *p, enum json_type type, uint32_t *idx)
{
	struct json_doc *d = p->doc;

	if (d->nnodes == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 64;
		struct json_node *bigger;

		if (d->cap >= JSON_MAX_NODES)
			return fail(p, "too many values");
		if (cap > JSON_MAX_NODES)
			cap = JSON_MAX_NODES;
		bigger = realloc(d->nodes, cap * sizeof(*bigger));
		if (!bigger)
			return fail(p, "out of memory");
		d->nodes = bigger;
		d->cap = cap;
	}
	*idx = d->nnodes++;
	memset(&d->nodes[*idx], 0, sizeof(d->nodes[*idx]));
	d->nodes[*idx].type = type;
	return 0;
}

static int hex4(struct parser *p, size_t at, unsigned int *out)
{
	unsigned int v = 0;

	if (at + 4 > p->len)
		return -1;
	for (size_t i = at; i < at + 4; i++) {
		char c = p->text[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *dst, unsigned int cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | (cp >> 6));
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | (cp >> 12));
		dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | (cp >> 18));
	dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX at p->pos (after the backslash and 'u'), a surrogate pair as one. */
static int unicode_escape(struct parser *p, unsigned int *cp)
{
	unsigned int lo;

	if (hex4(p, p->pos, cp) < 0)
		return fail(p, "bad \\u escape (want 4 hex digits)");
	p->pos += 4;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return fail(p, "unpaired low surrogate in \\u escape");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (p->pos + 2 > p->len || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u' ||
	    hex4(p, p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
		return fail(p, "unpaired high surrogate in \\u escape");
	p->pos += 6;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

/* A string at p->pos (its opening quote): decoded in place into *s, *len. */
static int parse_string(struct parser *p, const char **s, size_t *len)
{
	char *start = p->text + p->pos + 1, *dst = start;
	unsigned int cp;

	p->pos++;
	for (;;) {
		int c = peek(p);

		if (c < 0)
			return fail(p, "unterminated string");
		p->pos++;
		if (c == '"')
			break;
		if (c < 0x20) {
			p->pos--;
			return fail(p, "control character in a string (escape it)");
		}
		if (c != '\\') {
			*dst++ = (char)c;
			continue;
		}
		c = peek(p);
		p->pos++;
		switch (c) {
		case '"':
			*dst++ = '"';
			break;
		case '\\':
			*dst++ = '\\';
			break;
		case '/':
			*dst++ = '/';
			break;
		case 'b':
			*dst++ = '\b';
			break;
		case 'f':
			*dst++ = '\f';
			break;
		case 'n':
			*dst++ = '\n';
			break;
		case 'r':
			*dst++ = '\r';
			break;
		case 't':
			*dst++ = '\t';
			break;
		case 'u':
			if (unicode_escape(p, &cp) < 0)
				return -1;
			dst += put_utf8(dst, cp);
			break;
		default:
			p->pos--;
			return fail(p, "bad escape in a string");
		}
	}
	*len = (size_t)(dst - start);
	*dst = '\0'; /* at or before the closing quote, already read */
	*s = start;
	return 0;
}

static size_t skip_digits(struct parser *p)
{
	size_t n = 0;

	while (peek(p) >= '0' && peek(p) <= '9') {
		p->pos++;
		n++;
	}
	return n;
}

static int parse_number(struct parser *p, uint32_t idx)
{
	size_t start = p->pos;

	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0')
		p->pos++;
	else if (!skip_digits(p))
		return fail(p, "bad number");
	if (peek(p) == '.') {
		p->pos++;
		if (!skip_digits(p))
			return fail(p, "bad number (digits must follow '.')");
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!skip_digits(p))
			return fail(p, "bad number (digits must follow the exponent)");
	}
	p->doc->nodes[idx].str = p->text + start;
	p->doc->nodes[idx].len = p->pos - start;
	return 0;
}

static int parse_literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n))
		return fail(p, "unexpected character (want a value)");
	p->pos += n;
	return 0;
}

static int parse_value(struct parser *p, unsigned int depth, uint32_t *idx);

/* Elements or members up to @close; each is linked after the one before. */
static int parse_container(struct parser *p, unsigned int depth, uint32_t idx, char close)
{
	bool object = close == '}';
	uint32_t prev = 0, child;
	const char *key = NULL;
	size_t key_len = 0;

	if (depth >= JSON_MAX_DEPTH)
		return fail(p, "nested too deeply");
	p->pos++;
	skip_space(p);
	if (peek(p) == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (object) {
			if (peek(p) != '"')
				return fail(p, "expected a member name (a string)");
			if (parse_string(p, &key, &key_len) < 0)
				return -1;
			skip_space(p);
			if (peek(p) != ':')
				return fail(p, "expected ':' after a member name");
			p->pos++;
		}
		if (parse_value(p, depth + 1, &child) < 0)
			return -1;
		p->doc->nodes[child].key = key;
		p->doc->nodes[child].key_len = key_len;
		if (prev)
			p->doc->nodes[prev].next = child;
		else
			p->doc->nodes[idx].child = child;
		p->doc->nodes[idx].count++;
		prev = child;
		skip_space(p);
		if (peek(p) == close) {
			p->pos++;
			return 0;
		}
		if (peek(p) != ',')
			return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
		p->pos++;
		skip_space(p);
	}
}

static int parse_value(struct parser *p, unsigned int depth, uint32_t *idx)
{
	int c;

	skip_space(p);
	c = peek(p);
	switch (c) {
	case '{':
		return new_node(p, JSON_OBJECT, idx) ?: parse_container(p, depth, *idx, '}');
	case '[':
		return new_node(p, JSON_ARRAY, idx) ?: parse_container(p, depth, *idx, ']');
	case '"':
		return new_node(p, JSON_STRING, idx)
			   ?: parse_string(p, &p->doc->nodes[*idx].str, &p->doc->nodes[*idx].len);
	case 't':
		return new_node(p, JSON_TRUE, idx) ?: parse_literal(p, "true");
	case 'f':
		return new_node(p, JSON_FALSE, idx) ?: parse_literal(p, "false");
	case 'n':
		return new_node(p, JSON_NULL, idx) ?: parse_literal(p, "null");
	case -1:
		return fail(p, "unexpected end of the text (want a value)");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return new_node(p, JSON_NUMBER, idx) ?: parse_number(p, *idx);
		return fail(p, "unexpected character (want a value)");
	}
}

int json_parse(struct json_doc *doc, char *text, size_t len, struct json_error *err)
{
	struct parser p = {.text = text, .len = len, .line = 1, .doc = doc, .err = err};
	uint32_t root;

	memset(doc, 0, sizeof(*doc));
	memset(err, 0, sizeof(*err));
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) /* a UTF-8 byte order mark */
		p.pos = p.line_start = 3;
	if (parse_value(&p, 0, &root) < 0)
		goto bad;
	skip_space(&p);
	if (p.pos != p.len) {
		fail(&p, "unexpected data after the document");
		goto bad;
	}
	return 0;
bad:
	json_free(doc);
	return -1;
}

void json_free(struct json_doc *doc)
{
	free(doc->nodes);
	memset(doc, 0, sizeof(*doc));
}

const struct json_node *json_first(const struct json_doc *doc, const struct json_node *n)
{
	if (!n || (n->type != JSON_ARRAY && n->type != JSON_OBJECT) || !n->child)
		return NULL;
	return &doc->nodes[n->child];
}

const struct json_node *json_next(const struct json_doc *doc, const struct json_node *n)
{
	return n && n->next ? &doc->nodes[n->next] : NULL;
}

const struct json_node *json_member(const struct json_doc *doc, const struct json_node *obj,
				    const char *name)
{
	size_t len = strlen(name);

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (const struct json_node *m = json_first(doc, obj); m; m = json_next(doc, m)) {
		if (m->key_len == len && !strncasecmp(m->key, name, len))
			return m;
	}
	return NULL;
}

const char *json_cstring(const struct json_node *n)
{
	if (!n || n->type != JSON_STRING || strlen(n->str) != n->len)
		return NULL;
	return n->str;
}

int json_uint(const struct json_node *n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n->type != JSON_NUMBER || !n->len)
		return -1;
	for (size_t i = 0; i < n->len; i++) {
		unsigned int d = (unsigned int)(n->str[i] - '0');

		if (d > 9 || d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

const char *json_type_name(enum json_type type)
{
	static const char *const names[] = {
	    [JSON_NULL] = "null",	 [JSON_FALSE] = "a boolean", [JSON_TRUE] = "a boolean",
	    [JSON_NUMBER] = "a number",	 [JSON_STRING] = "a string", [JSON_ARRAY] = "an array",
	    [JSON_OBJECT] = "an object",
	};

	return (unsigned int)type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}
