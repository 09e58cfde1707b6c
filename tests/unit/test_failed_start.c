// SPDX-License-Identifier: Apache-2.0
/*
 * A start that fails after the devices were made (kernel load, vCPU setup)
 * returns to the caller: 1000 of them in one process must leave it as it
 * was. The VM gets every device a krun-chroot VM has (legacy devices, the
 * default console on a terminal, a second share, the shutdown channel), built
 * without KVM, then released as krun_start_enter() releases a failed start.
 */
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "test.h"
#include "vmm/vm.h"

static const int watched_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGABRT, SIGPIPE, SIGWINCH};

struct process_state {
	int fds;
	struct termios tio;
	void (*handlers[sizeof(watched_signals) / sizeof(int)])(int);
	sigset_t mask;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void snapshot(struct process_state *s)
{
	/* termios has padding that tcgetattr() leaves as it was: compare zeros there. */
	memset(s, 0, sizeof(*s));
	s->fds = count_fds();
	tcgetattr(STDIN_FILENO, &s->tio);
	for (size_t i = 0; i < sizeof(watched_signals) / sizeof(int); i++) {
		struct sigaction sa;

		sigaction(watched_signals[i], NULL, &sa);
		s->handlers[i] = sa.sa_handler;
	}
	pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
}

static bool same_state(const struct process_state *a, const struct process_state *b)
{
	bool same = a->fds == b->fds && !memcmp(&a->tio, &b->tio, sizeof(a->tio));

	if (a->fds != b->fds)
		fprintf(stderr, "fds: %d before, %d after\n", a->fds, b->fds);
	for (size_t i = 0; i < sizeof(watched_signals) / sizeof(int); i++)
		same &= a->handlers[i] == b->handlers[i];
	for (int sig = 1; sig < NSIG; sig++)
		same &= sigismember(&a->mask, sig) == sigismember(&b->mask, sig);
	return same;
}

static void callers_handler(int sig)
{
	(void)sig;
}

/* stdin becomes a terminal (a pty), so the console puts it in raw mode. */
static int terminal_on_stdin(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave;

	if (master < 0 || grantpt(master) || unlockpt(master))
		return -1;
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (slave < 0 || dup2(slave, STDIN_FILENO) < 0)
		return -1;
	close(slave);
	return master;
}

static void test_thousand_failed_starts(void)
{
	char root[] = "/tmp/krun-failed-start.XXXXXX";
	struct process_state before, after;
	struct vm_config cfg;
	int ctx, master, ok = 0;

	CHECK(mkdtemp(root) != NULL);
	master = terminal_on_stdin();
	CHECK(master >= 0);
	signal(SIGTERM, callers_handler);
	ctx = krun_create_ctx();
	CHECK(ctx >= 0);
	CHECK_EQ(krun_set_vm_config((uint32_t)ctx, 1, 64), 0);
	CHECK_EQ(krun_set_root((uint32_t)ctx, root), 0);
	CHECK_EQ(krun_add_virtiofs((uint32_t)ctx, "data", root), 0);
	CHECK(krun_get_shutdown_eventfd((uint32_t)ctx) >= 0);
	/* Disks: their image fds, io_uring rings and completion eventfds too. */
	char disk[64], qcow[64], cmd[200];
	snprintf(disk, sizeof(disk), "%s.raw", root);
	snprintf(qcow, sizeof(qcow), "%s.qcow2", root);
	snprintf(cmd, sizeof(cmd), "truncate -s 1M %s && qemu-img create -q -f qcow2 %s 1M", disk,
		 qcow);
	bool have_qcow = system(cmd) == 0;
	CHECK_EQ(krun_add_disk((uint32_t)ctx, "raw", disk, false), 0);
	if (have_qcow)
		CHECK_EQ(krun_add_disk2((uint32_t)ctx, "q", qcow, KRUN_DISK_FORMAT_QCOW2, true), 0);
	CHECK_EQ(ctx_take((uint32_t)ctx, &cfg), 0);
	CHECK_EQ(vm_config_validate(&cfg), 0);

	snapshot(&before);
	for (int i = 0; i < 1000; i++) {
		struct vm *vm = vm_alloc(&cfg);

		ok += vm && vm_build_devices(vm) == 0;
		if (vm)
			vm_free(vm);
	}
	snapshot(&after);
	CHECK_EQ(ok, 1000);
	CHECK_EQ(after.fds, before.fds);
	CHECK(!memcmp(&after.tio, &before.tio, sizeof(before.tio))); /* not left raw */
	CHECK(after.handlers[0] == callers_handler);
	CHECK(same_state(&before, &after));
	vm_config_release(&cfg);
	close(master);
	rmdir(root);
	unlink(disk);
	unlink(qcow);
}

TEST_MAIN("failed_start", test_thousand_failed_starts())
