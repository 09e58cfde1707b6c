/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the command-line tools. */
#ifndef KRUN_CLI_H
#define KRUN_CLI_H

#include <errno.h>
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

#endif
