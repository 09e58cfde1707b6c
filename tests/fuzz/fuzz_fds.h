/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leak checks of the fuzzers: open fds whose target starts with a prefix
 * (a directory of the fuzzer's, "socket:"). Counting every fd would not do:
 * libFuzzer keeps pipes to its symbolizer open once it printed a new function.
 */
#ifndef KRUN_FUZZ_FDS_H
#define KRUN_FUZZ_FDS_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned int fuzz_fds_to(const char *prefix)
{
	DIR *d = opendir("/proc/self/fd");
	size_t plen = strlen(prefix);
	struct dirent *de;
	unsigned int n = 0;

	while (d && (de = readdir(d))) {
		char link[64], target[PATH_MAX];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		len = readlink(link, target, sizeof(target));
		if (len > 0 && (size_t)len >= plen && !memcmp(target, prefix, plen))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

#endif
