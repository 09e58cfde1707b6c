// SPDX-License-Identifier: Apache-2.0
/*
 * exit-ioctl: a guest program that tries the exit-status report
 * (KRUN_EXIT_STATUS_IOCTL, src/guest_abi.h) where it must be refused, and
 * the I/O port. One line per step, "STEP: result" (result "ok" or the
 * error); a refused report must leave the VM running, so the caller checks
 * that what comes after still runs.
 *
 *   exit-ioctl STEP...
 *     nonroot      the report on "/" from uid 65534 (in a child process)
 *     node=PATH    the report on PATH (a directory or a file), as root
 *     iow, ior     the same request number with size bits, on "/"
 *     ioperm       ioperm() of the exit-status port (is the port usable?)
 *     report=N     the real report of status N on "/", as root: the VM
 *                  stops (prints only if it fails)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_abi.h"

#define IOC_WRITE_INT (0x40000000u | (sizeof(int) << 16) | KRUN_EXIT_STATUS_IOCTL)
#define IOC_READ_INT  (0x80000000u | (sizeof(int) << 16) | KRUN_EXIT_STATUS_IOCTL)

static void result(const char *step, int ret)
{
	printf("%s: %s\n", step, ret == 0 ? "ok" : strerror(errno));
	fflush(stdout);
}

/* Returns ioctl()'s result on PATH, errno set; -1 with errno if PATH cannot be opened. */
static int ioctl_on(const char *path, unsigned long req, unsigned long arg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret, err;

	if (fd < 0)
		return -1;
	ret = ioctl(fd, req, arg);
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

static void nonroot(void)
{
	int wstatus;
	pid_t pid = fork();

	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0) {
			result("nonroot (setuid)", -1);
			_exit(1);
		}
		result("nonroot", ioctl_on("/", KRUN_EXIT_STATUS_IOCTL, 9));
		_exit(0);
	}
	waitpid(pid, &wstatus, 0);
}

static void step(const char *s)
{
	int v = 9;

	if (!strcmp(s, "nonroot")) {
		nonroot();
	} else if (!strncmp(s, "node=", 5)) {
		result(s, ioctl_on(s + 5, KRUN_EXIT_STATUS_IOCTL, 9));
	} else if (!strcmp(s, "iow")) {
		result(s, ioctl_on("/", IOC_WRITE_INT, (unsigned long)&v));
	} else if (!strcmp(s, "ior")) {
		result(s, ioctl_on("/", IOC_READ_INT, (unsigned long)&v));
	} else if (!strcmp(s, "ioperm")) {
		result(s, ioperm(KRUN_EXIT_STATUS_PORT, 4, 1));
	} else if (!strncmp(s, "report=", 7)) {
		if (ioctl_on("/", KRUN_EXIT_STATUS_IOCTL, strtoul(s + 7, NULL, 0)) < 0)
			result(s, -1);
		else
			pause(); /* the VMM stops the VM */
	} else {
		fprintf(stderr, "exit-ioctl: unknown step %s\n", s);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		step(argv[i]);
	return 0;
}
