// SPDX-License-Identifier: Apache-2.0
/*
 * The workload's process: forked by PID 1, it sets up its process group,
 * stdio, working directory, limits and ids, then execs the program.
 *
 * A failure before the program runs is written, as the exit status it
 * stands for, to a close-on-exec pipe: PID 1 reads end-of-file if exec
 * succeeded and that status if not, so it never mistakes a program that
 * itself exits with 126 or 127 for a failed exec, or the reverse.
 */
#define _GNU_SOURCE /* strchrnul, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "guest_abi.h"
#include "init.h"

static __attribute__((noreturn)) void child_fail(int report_fd, int status)
{
	while (write(report_fd, &status, sizeof(status)) < 0 && errno == EINTR)
		;
	_exit(status);
}

/* fds 0-2 from PID 1's stdio. */
static void connect_stdio(const struct stdio *io)
{
	for (int i = 0; i < 3; i++) {
		if (io->fd[i] >= 0)
			dup2(io->fd[i], i);
	}
}

/*
 * Its own process group, the terminal's foreground one if it uses the
 * console: ^C, ^Z and job control reach it. Done while SIGTTOU is still
 * blocked, since a background group may not call tcsetpgrp() otherwise.
 */
static void become_foreground(const struct stdio *io)
{
	setpgid(0, 0);
	if (stdio_uses_console(io))
		tcsetpgrp(io->console_fd, getpid());
}

static int apply_rlimits(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nrlimits; i++) {
		const struct krun_rlimit *rl = &cfg->rlimits[i];

		if (setrlimit(rl->resource, &rl->limit) < 0) {
			say("cannot set resource limit %d to %llu:%llu: %s", rl->resource,
			    (unsigned long long)rl->limit.rlim_cur,
			    (unsigned long long)rl->limit.rlim_max, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Groups first: once the uid is not 0, the gid can no longer change. */
static int drop_privileges(const struct config *cfg)
{
	if (setgroups(0, NULL) < 0 || setgid(cfg->gid) < 0 || setuid(cfg->uid) < 0) {
		say("cannot switch to uid %u gid %u: %s", (unsigned int)cfg->uid,
		    (unsigned int)cfg->gid, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * execvp() with the workload's PATH rather than PID 1's: returns the errno
 * that best describes the failure. Like execvp, a directory where the file
 * exists but may not be run (EACCES) is remembered while the search goes
 * on; an empty PATH element is the working directory.
 */
static int exec_in_path(const char *file, char *const argv[], char *const envp[])
{
	const char *dir = env_lookup(envp, "PATH"), *end;
	size_t flen = strlen(file), dlen;
	char path[PATH_MAX];
	int err = ENOENT;

	for (; dir; dir = *end ? end + 1 : NULL) {
		end = strchrnul(dir, ':');
		dlen = (size_t)(end - dir);
		if (!dlen) {
			dir = ".";
			dlen = 1;
		}
		if (dlen + 1 + flen >= sizeof(path))
			continue;
		memcpy(path, dir, dlen);
		path[dlen] = '/';
		memcpy(path + dlen + 1, file, flen + 1);
		execve(path, argv, envp);
		if (errno == EACCES)
			err = EACCES;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG &&
			 errno != ELOOP)
			return errno;
	}
	return err;
}

static int exec_workload(const struct config *cfg)
{
	if (!*cfg->exec)
		return ENOENT;
	if (strchr(cfg->exec, '/')) {
		execve(cfg->exec, cfg->argv, cfg->envp);
		return errno;
	}
	return exec_in_path(cfg->exec, cfg->argv, cfg->envp);
}

static __attribute__((noreturn)) void child_run(const struct config *cfg, const struct stdio *io,
						int report_fd)
{
	sigset_t none;
	int err;

	become_foreground(io);
	signals_default(); /* PID 1's handlers, before the signals are unblocked */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	connect_stdio(io);
	say_to(STDERR_FILENO);
	if (chdir(cfg->workdir) < 0) {
		say("cannot change to the working directory %s: %s", cfg->workdir, strerror(errno));
		child_fail(report_fd, KRUN_STATUS_SETUP_FAILED);
	}
	if (apply_rlimits(cfg) < 0 || drop_privileges(cfg) < 0)
		child_fail(report_fd, KRUN_STATUS_SETUP_FAILED);
	err = exec_workload(cfg);
	say("%s: %s", cfg->exec, strerror(err));
	child_fail(report_fd,
		   err == ENOENT || err == ENOTDIR ? KRUN_STATUS_NOT_FOUND : KRUN_STATUS_NOT_EXEC);
}

/*
 * Starts the workload; returns its pid (it leads its process group), or -1.
 * *failed_status is 0 if the program runs, else the status of its setup or
 * exec failure (the child exits with it too).
 */
pid_t workload_start(const struct config *cfg, const struct stdio *io, int *failed_status)
{
	int report[2], status;
	ssize_t n;
	pid_t pid;

	*failed_status = 0;
	if (pipe2(report, O_CLOEXEC) < 0) {
		say("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(report[0]);
		child_run(cfg, io, report[1]);
	}
	close(report[1]);
	if (pid < 0) {
		say("cannot fork: %s", strerror(errno));
		close(report[0]);
		return -1;
	}
	do
		n = read(report[0], &status, sizeof(status));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == sizeof(status))
		*failed_status = status;
	return pid;
}
