// SPDX-License-Identifier: Apache-2.0
/*
 * krun_init_log(): where lines go, level, colour style, and the environment
 * (KRUN_LOG_LEVEL, RUST_LOG) unless KRUN_LOG_OPTION_NO_ENV. Each case logs
 * through a library call that fails with an error line, into a pipe.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "libkrun.h"
#include "test.h"

/* Configures the log to a fresh pipe, triggers one error line, returns what arrived. */
static const char *logged(uint32_t level, uint32_t style, uint32_t options)
{
	static char buf[512];
	int fds[2];
	ssize_t n;

	buf[0] = '\0';
	if (pipe2(fds, O_NONBLOCK) < 0)
		return buf;
	CHECK_EQ(krun_init_log(fds[1], level, style, options), 0);
	krun_set_root(999999, "/"); /* logs "... no context ..." at error level */
	n = read(fds[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	close(fds[1]);
	return buf;
}

static void test_target_level_style(void)
{
	unsetenv("KRUN_LOG_LEVEL");
	unsetenv("RUST_LOG");
	CHECK(strstr(logged(KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_NEVER, 0), "[krun error] "));
	CHECK(!strchr(logged(KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_NEVER, 0), '\033'));
	CHECK(
	    strstr(logged(KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_ALWAYS, 0), "\033[31m[krun error]"));
	/* AUTO: a pipe is no terminal. */
	CHECK(!strchr(logged(KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_AUTO, 0), '\033'));
	CHECK_EQ(strlen(logged(KRUN_LOG_LEVEL_OFF, KRUN_LOG_STYLE_NEVER, 0)), 0);
}

static void test_environment(void)
{
	setenv("KRUN_LOG_LEVEL", "off", 1);
	CHECK_EQ(strlen(logged(KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_NEVER, 0)), 0);
	CHECK(strstr(logged(KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_NEVER, KRUN_LOG_OPTION_NO_ENV),
		     "[krun error]"));
	setenv("KRUN_LOG_LEVEL", "1", 1);
	CHECK(strstr(logged(KRUN_LOG_LEVEL_OFF, KRUN_LOG_STYLE_NEVER, 0), "[krun error]"));
	unsetenv("KRUN_LOG_LEVEL");

	setenv("RUST_LOG", "off", 1);
	CHECK_EQ(strlen(logged(KRUN_LOG_LEVEL_ERROR, KRUN_LOG_STYLE_NEVER, 0)), 0);
	setenv("RUST_LOG", "other_crate=off,libkrun=error", 1);
	CHECK(strstr(logged(KRUN_LOG_LEVEL_OFF, KRUN_LOG_STYLE_NEVER, 0), "[krun error]"));
	setenv("RUST_LOG", "other_crate=error", 1); /* not ours: the caller's level stays */
	CHECK_EQ(strlen(logged(KRUN_LOG_LEVEL_OFF, KRUN_LOG_STYLE_NEVER, 0)), 0);
	unsetenv("RUST_LOG");
}

TEST_MAIN("log", test_target_level_style(); test_environment())
