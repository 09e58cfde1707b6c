// SPDX-License-Identifier: Apache-2.0
/*
 * LD_PRELOAD shim for hardening-tests.sh: makes one VMM thread, once the VM
 * runs, call a syscall its seccomp role does not have, as code taken over
 * by a guest would. SECCOMP_PROBE names the thread:
 *   vcpu  the first KVM_RUN of a vCPU thread opens a file (openat)
 *   main  the first epoll_wait of the caller's thread (the event loop)
 *         makes a TCP socket (socket)
 *   fs    the first openat or fstatat of a virtio-fs worker (a thread other than the
 *         caller's, opening files once the VM runs) makes a socket
 * With the filter off (KRUN_SECCOMP=0) each call just happens, and the VM
 * runs on: the test's other half.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_bool probed;

static bool probe_is(const char *what)
{
	const char *env = getenv("SECCOMP_PROBE");

	return env && !strcmp(env, what) && !atomic_exchange(&probed, true);
}

static void forbidden_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (req == KVM_RUN && probe_is("vcpu")) {
		int f = (int)syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);

		if (f >= 0)
			close(f);
	}
	return real(fd, req, arg);
}

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	static int (*real)(int, struct epoll_event *, int, int);

	if (!real)
		real = (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT, "epoll_wait");
	if (gettid() == getpid() && probe_is("main"))
		forbidden_socket();
	return real(epfd, events, max, timeout);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	static int (*real)(int, const char *, int, ...);
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	if (!real)
		real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	if (gettid() != getpid() && probe_is("fs"))
		forbidden_socket();
	return real(dirfd, path, flags, mode);
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	static int (*real)(int, const char *, struct stat *, int);

	if (!real)
		real = (int (*)(int, const char *, struct stat *, int))dlsym(RTLD_NEXT, "fstatat");
	if (gettid() != getpid() && probe_is("fs"))
		forbidden_socket();
	return real(dirfd, path, st, flags);
}
