// SPDX-License-Identifier: Apache-2.0
/*
 * krun_init_log(): where lines go, level, colour style, and the environment
 * (KRUN_LOG_LEVEL, RUST_LOG) unless KRUN_LOG_OPTION_NO_ENV. Each case logs
 * through a library call that fails with an error line, into a pipe.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <linux/fuse.h>
#include <stdint.h>

#include "devices/virtio/fs/fuse_server.h"
#include "devices/virtio/virtqueue.h"
#include "libkrun.h"
#include "test.h"
#include "vmm/log.h"
#include "vmm/util.h"

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

/* The limiter itself, on a fake clock. */
static void test_ratelimit_window(void)
{
	const uint64_t s = 1000000000ULL;
	struct log_ratelimit rl = {0};
	unsigned int suppressed = 99, allowed = 0;

	for (int i = 0; i < 100; i++)
		allowed += log_ratelimit_allow(&rl, 10 * s + (uint64_t)i, &suppressed);
	CHECK_EQ(allowed, LOG_RATELIMIT_BURST);
	/* Still inside the window: nothing more. */
	CHECK(!log_ratelimit_allow(&rl, 10 * s + (LOG_RATELIMIT_INTERVAL_S - 1) * s, &suppressed));
	/* The next window: printed again, with the count of what was dropped. */
	CHECK(log_ratelimit_allow(&rl, 10 * s + LOG_RATELIMIT_INTERVAL_S * s, &suppressed));
	CHECK_EQ(suppressed, 100 - LOG_RATELIMIT_BURST + 1);
	CHECK(log_ratelimit_allow(&rl, 10 * s + LOG_RATELIMIT_INTERVAL_S * s + 1, &suppressed));
	CHECK_EQ(suppressed, 0);
}

static int count_lines(int fd)
{
	char buf[4096];
	int lines = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	return lines;
}

/* A guest repeating FUSE INIT with a protocol we refuse. */
static void bad_fuse_init(struct fuse_server *srv)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in init;
	} req = {{.len = sizeof(req), .opcode = FUSE_INIT, .unique = 1}, {.major = 7, .minor = 1}};
	uint8_t reply[256];
	struct iovec in = {&req, sizeof(req)}, out = {reply, sizeof(reply)};

	fuse_server_handle(srv, &in, 1, &out, 1);
}

/* A guest that breaks a queue, re-arms it (QUEUE_READY 0/1) and breaks it again. */
static void break_queue(struct guest_mem *mem)
{
	static struct virtq_chain chain;
	struct virtq vq = {
	    .size = 8, .desc_addr = 0x1000, .avail_addr = 0x2000, .used_addr = 0x3000};
	uint16_t *avail = guest_ptr(mem, 0x2000, 32);

	CHECK(virtq_activate(&vq, mem));
	vq.ready = true;
	avail[1] = 100; /* available index far ahead of the ring */
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);
	avail[1] = 0;
	virtq_reset(&vq);
}

/* Every guest-triggered warning goes through the limiter: 1000 tries, a few lines. */
static void test_guest_floods_are_limited(void)
{
	struct fuse_server *srv = fuse_server_new("/", true);
	struct guest_mem mem = {0};
	int fds[2];

	unsetenv("KRUN_LOG_LEVEL");
	unsetenv("RUST_LOG");
	CHECK(srv != NULL);
	CHECK_EQ(guest_mem_init(&mem, 1 * MiB), 0);
	if (!srv || pipe2(fds, O_NONBLOCK) < 0)
		return;
	CHECK_EQ(krun_init_log(fds[1], KRUN_LOG_LEVEL_WARN, KRUN_LOG_STYLE_NEVER, 0), 0);
	for (int i = 0; i < 1000; i++)
		bad_fuse_init(srv);
	CHECK_EQ(count_lines(fds[0]), LOG_RATELIMIT_BURST);
	for (int i = 0; i < 1000; i++)
		break_queue(&mem);
	CHECK_EQ(count_lines(fds[0]), LOG_RATELIMIT_BURST);
	krun_init_log(KRUN_LOG_TARGET_DEFAULT, KRUN_LOG_LEVEL_WARN, KRUN_LOG_STYLE_NEVER, 0);
	close(fds[0]);
	close(fds[1]);
	fuse_server_free(srv);
	guest_mem_release(&mem);
}

TEST_MAIN("log", test_target_level_style(); test_environment(); test_ratelimit_window();
	  test_guest_floods_are_limited())
