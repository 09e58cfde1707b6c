/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the command-line tools. */
#ifndef KRUN_CLI_H
#define KRUN_CLI_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number no larger than max; 0 or -1. */
static inline int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return (errno || *end || !*s || *out > max) ? -1 : 0;
}

/* Report a failed libkrun call as "TOOL: WHAT: error"; returns ret. */
static inline int check_call(const char *tool, const char *what, int ret)
{
	if (ret < 0)
		fprintf(stderr, "%s: %s: %s (%d)\n", tool, what, strerror(-ret), ret);
	return ret;
}

/* --vsock-port "PORT:PATH" or "PORT:PATH:listen" (a path may hold colons). */
static inline int parse_vsock_port(const char *spec, unsigned long *port, char *path,
				   size_t path_size, bool *listen)
{
	const char *colon = strchr(spec, ':');
	char num[16];
	size_t len;

	if (!colon || (size_t)(colon - spec) >= sizeof(num))
		return -1;
	memcpy(num, spec, (size_t)(colon - spec));
	num[colon - spec] = 0;
	if (parse_uint(num, UINT32_MAX, port) < 0 ||
	    snprintf(path, path_size, "%s", colon + 1) >= (int)path_size || !*path)
		return -1;
	len = strlen(path);
	*listen = len > 7 && !strcmp(path + len - 7, ":listen");
	if (*listen)
		path[len - 7] = 0;
	return 0;
}

#endif
