// SPDX-License-Identifier: Apache-2.0
/* init/json.c, the JSON reader of krun-init: valid and invalid documents, limits. */
#include <stdlib.h>

#include "json.h"
#include "test.h"

static struct json_doc doc;
static struct json_error err;

/* Parses a private, unterminated copy of @s (ASan sees any read past it). */
static int parse(const char *s)
{
	size_t len = strlen(s);
	static char *copy;

	free(copy);
	copy = malloc(len ? len : 1);
	memcpy(copy, s, len);
	json_free(&doc);
	return json_parse(&doc, copy, len, &err);
}

static void test_values(void)
{
	const struct json_node *r, *n;
	uint64_t v;

	CHECK_EQ(parse("\xef\xbb\xbf { \"a\" : [1, -2.5e+3, true, false, null, \"s\", {}, []],\n"
		       "\"B\": {\"c\": \"d\"}, \"a\": 0 }\n"),
		 0);
	r = json_root(&doc);
	CHECK_EQ(r->type, JSON_OBJECT);
	CHECK_EQ(r->count, 3);
	n = json_member(&doc, r, "A"); /* any case; the first of two wins */
	CHECK(n && n->type == JSON_ARRAY && n->count == 8);
	n = json_first(&doc, n);
	CHECK(n && n->type == JSON_NUMBER && n->len == 1 && !json_uint(n, 10, &v) && v == 1);
	n = json_next(&doc, n);
	CHECK(n && n->type == JSON_NUMBER && n->len == 7 && !memcmp(n->str, "-2.5e+3", 7));
	CHECK_EQ(json_uint(n, UINT64_MAX, &v), -1);
	n = json_next(&doc, n);
	CHECK(n && n->type == JSON_TRUE);
	n = json_next(&doc, json_next(&doc, n));
	CHECK(n && n->type == JSON_NULL);
	n = json_next(&doc, n);
	CHECK(n && json_cstring(n) && !strcmp(json_cstring(n), "s"));
	n = json_next(&doc, n);
	CHECK(n && n->type == JSON_OBJECT && n->count == 0 && !json_first(&doc, n));
	n = json_next(&doc, n);
	CHECK(n && n->type == JSON_ARRAY && !json_next(&doc, n));
	n = json_member(&doc, json_member(&doc, r, "b"), "C");
	CHECK(n && !strcmp(json_cstring(n), "d"));
	CHECK(!json_member(&doc, r, "c"));
	CHECK(!json_member(&doc, json_member(&doc, r, "a"), "x")); /* not an object */

	CHECK_EQ(parse("\"x\""), 0);
	CHECK(!strcmp(json_cstring(json_root(&doc)), "x"));
	CHECK_EQ(parse(" 0 "), 0);
	CHECK_EQ(parse("[[[[]]]]"), 0);
}

static void test_strings(void)
{
	const struct json_node *n;

	CHECK_EQ(parse("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\""), 0);
	n = json_root(&doc);
	CHECK(n->len == 17 && !strcmp(n->str, "a\"b\\c/d\be\ff\ng\rh\ti"));
	CHECK_EQ(parse("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\""), 0);
	n = json_root(&doc);
	CHECK(!strcmp(n->str, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
	CHECK_EQ(n->len, 10);
	CHECK_EQ(parse("\"caf\xc3\xa9\""), 0); /* raw UTF-8 passes as is */
	CHECK_EQ(json_root(&doc)->len, 5);
	/* An escaped NUL is kept, but is no C string. */
	CHECK_EQ(parse("[\"a\\u0000b\"]"), 0);
	n = json_first(&doc, json_root(&doc));
	CHECK(n->len == 3 && json_cstring(n) == NULL);
	/* Keys are decoded too. */
	CHECK_EQ(parse("{\"k\\u0065y\": 1}"), 0);
	CHECK(json_member(&doc, json_root(&doc), "KEY") != NULL);
}

static void test_numbers(void)
{
	uint64_t v;

	CHECK_EQ(parse("[4294967294, 4294967295, 18446744073709551615, 18446744073709551616, -1, "
		       "1.0, 1e3, 0, 7]"),
		 0);
	const struct json_node *n = json_first(&doc, json_root(&doc));
	CHECK(!json_uint(n, 0xfffffffeu, &v) && v == 0xfffffffeu);
	n = json_next(&doc, n);
	CHECK_EQ(json_uint(n, 0xfffffffeu, &v), -1);
	n = json_next(&doc, n);
	CHECK(!json_uint(n, UINT64_MAX, &v) && v == UINT64_MAX);
	n = json_next(&doc, n);
	CHECK_EQ(json_uint(n, UINT64_MAX, &v), -1);
	for (int i = 0; i < 3; i++) { /* -1, 1.0, 1e3 */
		n = json_next(&doc, n);
		CHECK_EQ(json_uint(n, UINT64_MAX, &v), -1);
	}
	n = json_next(&doc, n);
	CHECK(!json_uint(n, 0, &v) && v == 0);
	n = json_next(&doc, n);
	CHECK_EQ(json_uint(n, 5, &v), -1);		 /* above max */
	CHECK_EQ(json_uint(json_root(&doc), 5, &v), -1); /* not a number */
}

static void test_invalid(void)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "{",
	    "}",
	    "[",
	    "[1,]",
	    "[,1]",
	    "[1 2]",
	    "{\"a\"}",
	    "{\"a\":}",
	    "{\"a\":1,}",
	    "{a:1}",
	    "{1:2}",
	    "01",
	    "1.",
	    ".5",
	    "1e",
	    "1e+",
	    "-",
	    "+1",
	    "tru",
	    "nul",
	    "falsy",
	    "\"abc",
	    "\"a\nb\"",
	    "\"\\x\"",
	    "\"\\u12\"",
	    "\"\\u12g4\"",
	    "\"\\ud800\"",
	    "\"\\ud800\\u0041\"",
	    "\"\\udc00\"",
	    "\"\\",
	    "[1] 2",
	    "{} {}",
	    "[\"a\"\"b\"]",
	    "'a'",
	    "[1,2",
	    "nan",
	    "Infinity",
	    "\x01",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i]);

		CHECK_EQ(ret, -1);
		CHECK(err.msg[0] != '\0');
		if (ret == 0)
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
	}
	/* A NUL byte in the text is not whitespace. */
	CHECK_EQ(json_parse(&doc, (char[]){'[', '1', ']', '\0'}, 4, &err), -1);
	/* Where: line and column of the problem. */
	CHECK_EQ(parse("{\n  \"a\": 1,\n  \"b\" 2\n}"), -1);
	CHECK_EQ(err.line, 3);
	CHECK_EQ(err.column, 7);
	CHECK(strstr(err.msg, "':'") != NULL);
}

static void test_limits(void)
{
	char *deep = malloc(2 * JSON_MAX_DEPTH + 4), *many;
	size_t n = 0, count = JSON_MAX_NODES;

	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	CHECK_EQ(parse(deep), 0);
	memmove(deep + 1, deep, n + 1);
	deep[0] = '[';
	deep[n + 1] = ']';
	deep[n + 2] = '\0';
	CHECK_EQ(parse(deep), -1);
	CHECK(strstr(err.msg, "deep") != NULL);
	free(deep);

	/* The root and JSON_MAX_NODES - 1 elements fit; one more does not. */
	many = malloc(2 * count + 3);
	n = 0;
	many[n++] = '[';
	for (size_t i = 0; i < count - 1; i++) {
		many[n++] = '0';
		many[n++] = ',';
	}
	many[n - 1] = ']';
	many[n] = '\0';
	CHECK_EQ(parse(many), 0);
	CHECK_EQ(json_root(&doc)->count, count - 1);
	many[n - 1] = ',';
	many[n++] = '0';
	many[n++] = ']';
	many[n] = '\0';
	CHECK_EQ(parse(many), -1);
	CHECK(strstr(err.msg, "too many") != NULL);
	free(many);
	json_free(&doc);
}

TEST_MAIN("json", test_values(); test_strings(); test_numbers(); test_invalid(); test_limits())
