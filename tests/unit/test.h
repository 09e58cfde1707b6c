/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny test harness: CHECK() counts, TEST_MAIN() prints
 * "<name>: N passed, N failed" and exits non-zero on any failure.
 */
#ifndef KRUN_TEST_H
#define KRUN_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tests_passed, tests_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			tests_passed++;                                                            \
		} else {                                                                           \
			tests_failed++;                                                            \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ == b_) {                                                                    \
			tests_passed++;                                                            \
		} else {                                                                           \
			tests_failed++;                                                            \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,        \
				__LINE__, #a, #b, a_, b_);                                         \
		}                                                                                  \
	} while (0)

#define TEST_MAIN(name, ...)                                                                       \
	int main(void)                                                                             \
	{                                                                                          \
		__VA_ARGS__;                                                                       \
		printf("%s: %d passed, %d failed\n", name, tests_passed, tests_failed);            \
		return tests_failed ? 1 : 0;                                                       \
	}

#endif
