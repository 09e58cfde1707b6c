// SPDX-License-Identifier: Apache-2.0
/*
 * LD_PRELOAD shim for blk-tests.sh: counts the fsync() and fdatasync()
 * calls of the process (the VMM's thread pool makes them for guest
 * flushes) and writes "fsync=N fdatasync=M" to $SYNCCOUNT_FILE at exit.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_uint n_fsync, n_fdatasync;

int fsync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	atomic_fetch_add(&n_fsync, 1);
	return real(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	atomic_fetch_add(&n_fdatasync, 1);
	return real(fd);
}

/*
 * The file is opened when the shim loads: the report is written at exit by
 * the VMM's main thread, whose seccomp filter lets it write(2) but not
 * open files.
 */
static int report_fd = -1;

__attribute__((constructor)) static void open_report(void)
{
	const char *path = getenv("SYNCCOUNT_FILE");

	if (path)
		report_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

__attribute__((destructor)) static void report(void)
{
	char line[64];
	int n;

	if (report_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "fsync=%u fdatasync=%u\n", atomic_load(&n_fsync),
		     atomic_load(&n_fdatasync));
	if (n > 0 && write(report_fd, line, (size_t)n) != n)
		perror("synccount");
}
