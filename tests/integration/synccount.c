// SPDX-License-Identifier: Apache-2.0
/*
 * LD_PRELOAD shim for blk-tests.sh: counts the fsync() and fdatasync()
 * calls of the process (the VMM's thread pool makes them for guest
 * flushes) and writes "fsync=N fdatasync=M" to $SYNCCOUNT_FILE at exit.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

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

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("SYNCCOUNT_FILE");
	FILE *f = path ? fopen(path, "w") : NULL;

	if (!f)
		return;
	fprintf(f, "fsync=%u fdatasync=%u\n", atomic_load(&n_fsync), atomic_load(&n_fdatasync));
	fclose(f);
}
