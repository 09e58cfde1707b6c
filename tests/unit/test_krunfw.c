// SPDX-License-Identifier: Apache-2.0
/*
 * libkrunfw loading. This test binary links the library's objects, so the
 * "directory of libkrun" is build/tests/unit/, where no libkrunfw.so.5 is,
 * and it has no RUNPATH: the bundle cannot be found, which must be an error
 * only when the kernel is asked for, naming every place searched.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "libkrun.h"
#include "test.h"
#include "vmm/krunfw.h"
#include "vmm/log.h"

static void test_missing_bundle(void)
{
	char log[4096] = "";
	const char *data = NULL;
	uint64_t load, entry;
	size_t size = 0;
	int pipefd[2];
	ssize_t n;

	/* Creating a context never needs the kernel. */
	int ctx = krun_create_ctx();
	CHECK(ctx >= 0);
	CHECK_EQ(krun_free_ctx((uint32_t)ctx), 0);

	CHECK_EQ(pipe2(pipefd, O_NONBLOCK), 0);
	CHECK_EQ(log_configure(pipefd[1], KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_NEVER, false), 0);
	CHECK_EQ(krunfw_kernel(&data, &load, &entry, &size), -ENOENT);
	n = read(pipefd[0], log, sizeof(log) - 1);
	CHECK(n > 0);
	log[n > 0 ? n : 0] = '\0';
	CHECK(strstr(log, "cannot load the guest kernel bundle libkrunfw.so.5") != NULL);
	CHECK(strstr(log, "/tests/unit/libkrunfw.so.5") != NULL); /* next to "libkrun" */
	CHECK(strstr(log, "LD_LIBRARY_PATH=") != NULL);
	CHECK(strstr(log, "ld.so.cache") != NULL);
	CHECK(data == NULL);
	if (tests_failed)
		fprintf(stderr, "log was: %s\n", log);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_MAIN("krunfw", test_missing_bundle())
