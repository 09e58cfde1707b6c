// SPDX-License-Identifier: Apache-2.0
/*
 * The seccomp filters without KVM: threads started by vmm_thread_start()
 * in a child process, which must die by SIGSYS (with the log line naming
 * the role and the syscall number) when a thread makes a syscall outside
 * its role's list, and live when the list has it or KRUN_SECCOMP=0.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"

static int fd_or_errno(int fd)
{
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void *open_file(void *arg)
{
	(void)arg;
	return (void *)(long)fd_or_errno(open("/dev/null", O_RDONLY | O_CLOEXEC));
}

static void *make_socket(void *arg)
{
	(void)arg;
	return (void *)(long)fd_or_errno(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

/* A vCPU starting a virtio-fs worker, as a DRIVER_OK write does: the worker opens files. */
static void *start_fs_worker(void *arg)
{
	pthread_t t;
	void *res;

	(void)arg;
	if (vmm_thread_start(&t, VMM_THREAD_FS, open_file, NULL) < 0)
		return (void *)-1L;
	pthread_join(t, &res);
	return res;
}

struct scenario {
	enum vmm_thread_role role;
	void *(*fn)(void *);
};

/* In a child: prepare, run fn in a thread of the role, exit 0 if it returned 0. */
static void run_child(const struct scenario *s, int errfd)
{
	pthread_t t;
	void *res;

	log_configure(errfd, 1, 2 /* KRUN_LOG_STYLE_NEVER */, false);
	if (vmm_seccomp_prepare() < 0)
		_exit(10);
	if (vmm_thread_start(&t, s->role, s->fn, NULL) < 0)
		_exit(11);
	pthread_join(t, &res);
	_exit(res ? 12 : 0);
}

/* The child's wait status; its log in buf. */
static int run(const char *env, enum vmm_thread_role role, void *(*fn)(void *), char *buf,
	       size_t size)
{
	struct scenario s = {role, fn};
	int pipefd[2], status = -1;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		if (env)
			setenv("KRUN_SECCOMP", env, 1);
		else
			unsetenv("KRUN_SECCOMP");
		signal(SIGSYS, SIG_DFL);
		run_child(&s, pipefd[1]);
	}
	close(pipefd[1]);
	n = read(pipefd[0], buf, size - 1);
	buf[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return status;
}

static bool killed_by_sigsys(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static void test_forbidden_kills(void)
{
	char log[512], want[128];
	int st;

	/* A vCPU has no business opening files. */
	st = run(NULL, VMM_THREAD_VCPU, open_file, log, sizeof(log));
	CHECK(killed_by_sigsys(st));
	snprintf(want, sizeof(want), "a vcpu thread made syscall %d,", SYS_openat);
	CHECK(strstr(log, want) != NULL);
	if (!strstr(log, want))
		fprintf(stderr, "log: %s\n", log);

	/* Nor a virtio-fs worker sockets. */
	st = run("1", VMM_THREAD_FS, make_socket, log, sizeof(log));
	CHECK(killed_by_sigsys(st));
	snprintf(want, sizeof(want), "a fs thread made syscall %d,", SYS_socket);
	CHECK(strstr(log, want) != NULL);

	/* The console threads neither. */
	st = run(NULL, VMM_THREAD_CONSOLE, open_file, log, sizeof(log));
	CHECK(killed_by_sigsys(st));
}

static void test_allowed_lives(void)
{
	char log[512];

	CHECK_EQ(run(NULL, VMM_THREAD_FS, open_file, log, sizeof(log)), 0);
	CHECK_EQ(run(NULL, VMM_THREAD_SOCKET, make_socket, log, sizeof(log)), 0);
	/* Started from a filtered vCPU thread: the worker does not inherit its list. */
	CHECK_EQ(run(NULL, VMM_THREAD_VCPU, start_fs_worker, log, sizeof(log)), 0);
	if (log[0])
		fprintf(stderr, "log: %s\n", log);
}

static void test_off(void)
{
	char log[512];

	CHECK_EQ(run("0", VMM_THREAD_VCPU, open_file, log, sizeof(log)), 0);
	CHECK_EQ(run("0", VMM_THREAD_FS, make_socket, log, sizeof(log)), 0);
	/* log: the violation is only logged (by the kernel), nothing dies. */
	CHECK_EQ(run("log", VMM_THREAD_VCPU, open_file, log, sizeof(log)), 0);
}

TEST_MAIN("test_seccomp", test_forbidden_kills(); test_allowed_lives(); test_off())
