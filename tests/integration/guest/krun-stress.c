// SPDX-License-Identifier: Apache-2.0
/*
 * krun-stress: the hostile or heavy side of the hardening tests.
 *
 *   krun-stress wstatus FILE CMD...   (host) run CMD, write "exit N" or
 *                                     "signal N", and "maxrss KiB" to FILE
 *   krun-stress opendirs DIR N FILE   (guest) hold up to N directory handles
 *                                     of DIR, each read once; report how many
 *                                     opened, the first error, and whether a
 *                                     file can still be read meanwhile
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int do_wstatus(const char *file, char **cmd)
{
	struct rusage ru;
	int wstatus;
	pid_t pid = fork();
	FILE *f;

	if (pid < 0)
		return 2;
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	/* Not this process's business: its stdout may be the same pipe. */
	signal(SIGPIPE, SIG_IGN);
	if (wait4(pid, &wstatus, 0, &ru) < 0)
		return 2;
	f = fopen(file, "w");
	if (!f)
		return 2;
	if (WIFSIGNALED(wstatus))
		fprintf(f, "signal %d\n", WTERMSIG(wstatus));
	else
		fprintf(f, "exit %d\n", WEXITSTATUS(wstatus));
	fprintf(f, "maxrss %ld\n", ru.ru_maxrss);
	fclose(f);
	return 0;
}

/* Can the share still serve a plain open + read? */
static int read_file(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int do_opendirs(const char *dir, long want, const char *file)
{
	struct rlimit lim = {(rlim_t)want + 64, (rlim_t)want + 64};
	int *fds = calloc((size_t)want, sizeof(*fds)), first_err = 0, err;
	char buf[4096];
	long n = 0;
	FILE *f = fopen(file, "w");

	if (!fds || !f || setrlimit(RLIMIT_NOFILE, &lim) < 0) {
		perror("opendirs setup");
		return 2;
	}
	for (n = 0; n < want; n++) {
		fds[n] = open(dir, O_RDONLY | O_DIRECTORY);
		if (fds[n] < 0) {
			first_err = errno;
			break;
		}
		if (syscall(SYS_getdents64, fds[n], buf, sizeof(buf)) < 0) {
			first_err = errno;
			close(fds[n]);
			break;
		}
	}
	fprintf(f, "opened %ld\nerrno %d\n", n, first_err);
	err = read_file("/etc/passwd");
	fprintf(f, "file-while-held %s\n", err ? strerror(-err) : "ok");
	for (long i = 0; i < n; i++)
		close(fds[i]);
	err = read_file("/etc/passwd");
	fprintf(f, "file-after %s\n", err ? strerror(-err) : "ok");
	fds[0] = open(dir, O_RDONLY | O_DIRECTORY);
	fprintf(f, "opendir-after %s\n", fds[0] < 0 ? strerror(errno) : "ok");
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "wstatus"))
		return do_wstatus(argv[2], argv + 3);
	if (argc == 5 && !strcmp(argv[1], "opendirs"))
		return do_opendirs(argv[2], atol(argv[3]), argv[4]);
	fprintf(stderr, "usage: krun-stress wstatus|opendirs ...\n");
	return 2;
}
