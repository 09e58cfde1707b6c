// SPDX-License-Identifier: Apache-2.0
/*
 * Seccomp allowlists, one per thread role (vmm/seccomp.h), built with
 * libseccomp when the VM starts and installed by each thread on itself.
 *
 * A filter is inherited by the threads its thread creates and can only be
 * narrowed, so:
 *   - the filters are compiled to BPF once, by the caller's thread before
 *     any is installed; a thread installs its own with one seccomp(2) call
 *     (no libseccomp, no allocation, in the new thread);
 *   - every VMM thread starts in vmm_thread_start(), which installs the
 *     role's filter before the thread function runs. Before the caller's
 *     thread is filtered, it creates the thread itself; after, a spawner
 *     thread does, whose filter is the union of every role's list (plus
 *     what creating a thread takes), so that the new thread ends up with
 *     exactly its role's list;
 *   - the caller's thread installs its filter last, once the vCPUs run.
 *
 * A violation: the filter returns SECCOMP_RET_TRAP, the SIGSYS handler
 * writes one log line with the role and the syscall number (write(2) only),
 * then makes the same syscall again with the same arguments. With SIGSYS
 * blocked in its own handler, the kernel delivers that second SIGSYS with
 * the default action: the process dies by SIGSYS (and dumps core where
 * that is enabled), as SCMP_ACT_KILL_PROCESS would have done.
 *
 * The lists were found by running every guest test script under strace -f
 * with KRUN_SECCOMP=log; each entry says who needs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <termios.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/util.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS */
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define KRUN_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define KRUN_SANITIZED 1
#endif
#endif

enum seccomp_mode { SECCOMP_OFF, SECCOMP_KILL, SECCOMP_LOG };

static const char *const role_names[VMM_THREAD_ROLES] = {
    [VMM_THREAD_VCPU] = "vcpu",	      [VMM_THREAD_MAIN] = "main",
    [VMM_THREAD_FS] = "fs",	      [VMM_THREAD_BLK] = "blk",
    [VMM_THREAD_SOCKET] = "socket",   [VMM_THREAD_CONSOLE] = "console",
    [VMM_THREAD_SPAWNER] = "spawner",
};

const char *vmm_thread_role_name(enum vmm_thread_role role)
{
	return role < VMM_THREAD_ROLES ? role_names[role] : "?";
}

/* ---- the lists */

#define END -1

/* Every thread: locks, memory, the log, the end of the thread. */
static const int common_syscalls[] = {
    SCMP_SYS(futex),	       /* mutexes, condition variables, joins */
    SCMP_SYS(write),	       /* log lines, eventfd/irqfd wakeups, guest output */
    SCMP_SYS(munmap),	       /* malloc, free, thread stacks */
    SCMP_SYS(mremap),	       /* realloc */
    SCMP_SYS(madvise),	       /* free, the stack of a thread that ends */
    SCMP_SYS(brk),	       /* malloc */
    SCMP_SYS(clock_gettime),   /* when the vDSO cannot (log timestamps, rate limits) */
    SCMP_SYS(clock_nanosleep), /* back-offs */
    SCMP_SYS(nanosleep),
    SCMP_SYS(sched_yield),
    SCMP_SYS(gettid),
    SCMP_SYS(getpid),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(exit),	  /* a thread's end */
    SCMP_SYS(exit_group), /* the process's end, from any thread */
    END,
};

static const int vcpu_syscalls[] = {
    SCMP_SYS(ioctl), /* KVM_RUN and friends: the requests are listed below */
    SCMP_SYS(read),
    END,
};

static const int main_syscalls[] = {
    SCMP_SYS(epoll_wait), /* the event loop */
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(ioctl), /* requests below */
    SCMP_SYS(read),  /* eventfds, timerfds, the signalfd, host input */
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(close),
    SCMP_SYS(timerfd_settime), /* shutdown deadline, rng/balloon timers */
    SCMP_SYS(fcntl),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(tgkill),	 /* kicking vCPUs (pthread_kill); pid checked below */
    SCMP_SYS(fsync),	 /* exit: flushing the console output file */
    SCMP_SYS(getrandom), /* virtio-rng */
    SCMP_SYS(unlink),	 /* vsock: the listening sockets' paths, when the VM stops */
    END,
};

static const int fs_syscalls[] = {
    /* waiting for the guest */
    SCMP_SYS(read),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    /* FUSE requests on the shared directory */
    SCMP_SYS(openat),
    SCMP_SYS(openat2),
    SCMP_SYS(close),
    SCMP_SYS(dup),
    SCMP_SYS(fcntl),
    SCMP_SYS(newfstatat),
    SCMP_SYS(fstat),
    SCMP_SYS(statx),
    SCMP_SYS(fstatfs),
    SCMP_SYS(getdents64),
    SCMP_SYS(lseek),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(preadv),
    SCMP_SYS(pwritev),
    SCMP_SYS(preadv2),
    SCMP_SYS(pwritev2),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(syncfs), /* FUSE_SYNCFS */
    SCMP_SYS(ftruncate),
    SCMP_SYS(fallocate),
    SCMP_SYS(copy_file_range),
    SCMP_SYS(flock),
    SCMP_SYS(mkdirat),
    SCMP_SYS(mknodat),
    SCMP_SYS(unlinkat),
    SCMP_SYS(renameat), /* FUSE_RENAME: glibc renameat() */
    SCMP_SYS(renameat2),
    SCMP_SYS(symlinkat),
    SCMP_SYS(linkat),
    SCMP_SYS(readlinkat),
    SCMP_SYS(fchmod),
    SCMP_SYS(chmod), /* on /proc/self/fd/N: a node opened O_PATH */
    SCMP_SYS(fchmodat),
    SCMP_SYS(fchown),
    SCMP_SYS(fchownat),
    SCMP_SYS(utimensat),
    SCMP_SYS(fgetxattr),
    SCMP_SYS(fsetxattr),
    SCMP_SYS(flistxattr),
    SCMP_SYS(fremovexattr),
    SCMP_SYS(getxattr),
    SCMP_SYS(setxattr),
    SCMP_SYS(listxattr),
    SCMP_SYS(removexattr),
    SCMP_SYS(lgetxattr),
    SCMP_SYS(lsetxattr),
    SCMP_SYS(llistxattr),
    SCMP_SYS(lremovexattr),
    SCMP_SYS(setfsuid), /* acting as the guest's uid/gid */
    SCMP_SYS(setfsgid),
    SCMP_SYS(umask),
    SCMP_SYS(unshare), /* CLONE_FS at the start: a umask of its own (checked below) */
    END,
};

static const int blk_syscalls[] = {
    SCMP_SYS(poll), /* queue thread: the kick and completion eventfds */
    SCMP_SYS(ppoll),	 SCMP_SYS(read),       SCMP_SYS(io_uring_enter), /* submitting and reaping
									    requests */
    SCMP_SYS(pread64), /* the sync pool, and qcow2/vmdk metadata */
    SCMP_SYS(pwrite64),	 SCMP_SYS(preadv),     SCMP_SYS(pwritev),	 SCMP_SYS(fsync),
    SCMP_SYS(fdatasync), SCMP_SYS(fallocate), /* discard, write zeroes */
    SCMP_SYS(ftruncate),		      /* qcow2 growth */
    SCMP_SYS(fstat),	 SCMP_SYS(newfstatat), SCMP_SYS(lseek),		 END,
};

/*
 * vsock (unix sockets to the host, TSI) and network devices (tap,
 * passt/gvproxy sockets): what a socket device obviously needs.
 */
static const int socket_syscalls[] = {
    SCMP_SYS(read),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(close),
    SCMP_SYS(fcntl),
    SCMP_SYS(socket),
    SCMP_SYS(connect),
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(accept4),
    SCMP_SYS(shutdown),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendto),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(recvmmsg),
    SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt),
    SCMP_SYS(getsockname),
    SCMP_SYS(getpeername),
    SCMP_SYS(unlink),	  /* a listening unix socket's path */
    SCMP_SYS(newfstatat), /* TSI: is an AF_UNIX listener's path a stale socket (lstat) */
    SCMP_SYS(unlinkat),
    SCMP_SYS(ioctl), /* FIONREAD, FIONBIO: requests below */
    END,
};

static const int console_syscalls[] = {
    SCMP_SYS(read), /* host input */
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(ioctl), /* TIOCGWINSZ */
    END,
};

/* The spawner's own needs; it also gets every role's list (see above). */
static const int spawner_syscalls[] = {
    SCMP_SYS(clone),	       /* threads only: CLONE_THREAD checked below */
    SCMP_SYS(set_robust_list), /* glibc, in the new thread */
    SCMP_SYS(rseq),
    SCMP_SYS(prctl),   /* the new thread's name and no_new_privs */
    SCMP_SYS(seccomp), /* the new thread's own filter */
    END,
};

/*
 * The sanitizers' runtime (make check-asan, the fuzzers) in any thread:
 * its allocator, stack traces and reports.
 */
static const int sanitizer_syscalls[] = {
    SCMP_SYS(sigaltstack), /* a thread's start and end (ASan) */
    SCMP_SYS(sched_getaffinity), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), END,
};

static const int *const role_syscalls[VMM_THREAD_ROLES] = {
    [VMM_THREAD_VCPU] = vcpu_syscalls,	     [VMM_THREAD_MAIN] = main_syscalls,
    [VMM_THREAD_FS] = fs_syscalls,	     [VMM_THREAD_BLK] = blk_syscalls,
    [VMM_THREAD_SOCKET] = socket_syscalls,   [VMM_THREAD_CONSOLE] = console_syscalls,
    [VMM_THREAD_SPAWNER] = spawner_syscalls,
};

/* ioctl requests, by role (the fd is not checked: any of the thread's). */
/*
 * Interrupts, from any thread that completes a request or changes a line:
 * a shared (level-triggered) virtio line, a legacy device's, goes through
 * KVM_IRQ_LINE; with the split irqchip the VMM's IOAPIC sends KVM_SIGNAL_MSI.
 */
static const unsigned long irq_ioctls[] = {KVM_IRQ_LINE, KVM_SIGNAL_MSI, 0};

static const unsigned long vcpu_ioctls[] = {
    KVM_RUN,
    KVM_SET_SIGNAL_MASK, /* once, at the thread's start */
    KVM_GET_REGS,	 /* failure reports */
    KVM_GET_SREGS,
    KVM_TRANSLATE,
    KVM_SET_GSI_ROUTING, /* the guest programming the IOAPIC */
    TUNSETOFFLOAD,	 /* virtio-net on a tap: the offloads the driver took, at DRIVER_OK */
    0,
};

static const unsigned long main_ioctls[] = {
    TIOCGWINSZ, /* console resize (SIGWINCH) */
    TCGETS,	/* the terminal's mode given back at exit */
    TCSETS,	TCSETSW, 0,
};

static const unsigned long console_ioctls[] = {TIOCGWINSZ, TCGETS, 0};
static const unsigned long socket_ioctls[] = {FIONREAD, FIONBIO, 0};
static const unsigned long blk_ioctls[] = {BLKDISCARD, BLKZEROOUT, 0};

static const unsigned long *const role_ioctls[VMM_THREAD_ROLES] = {
    [VMM_THREAD_VCPU] = vcpu_ioctls,	   [VMM_THREAD_MAIN] = main_ioctls,
    [VMM_THREAD_SOCKET] = socket_ioctls,   [VMM_THREAD_BLK] = blk_ioctls,
    [VMM_THREAD_CONSOLE] = console_ioctls,
};

/* ---- building the filters */

static struct {
	enum seccomp_mode mode;
	bool prepared;
	struct sock_fprog prog[VMM_THREAD_ROLES];
	int log_fd;
} sc = {.log_fd = STDERR_FILENO};

static __thread enum vmm_thread_role thread_role = VMM_THREAD_ROLES; /* not filtered */

bool vmm_seccomp_enabled(void)
{
	return sc.mode != SECCOMP_OFF;
}

static enum seccomp_mode mode_from_env(void)
{
	const char *env = getenv("KRUN_SECCOMP");

	if (!env || !strcmp(env, "1") || !strcmp(env, "on"))
		return SECCOMP_KILL;
	if (!strcmp(env, "0") || !strcmp(env, "off"))
		return SECCOMP_OFF;
	if (!strcmp(env, "log"))
		return SECCOMP_LOG;
	pr_warn("KRUN_SECCOMP=%s: not 0, 1 or log; the filter stays on", env);
	return SECCOMP_KILL;
}

static int allow_list(scmp_filter_ctx ctx, const int *list)
{
	for (; *list != END; list++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, *list, 0);

		/* EEXIST: in two lists of the same filter (the spawner's union). */
		if (ret < 0 && ret != -EEXIST)
			return ret;
	}
	return 0;
}

static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *req)
{
	for (; req && *req; req++) {
		/* The request is an unsigned int: the kernel ignores the upper half. */
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					   SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, *req));

		if (ret < 0 && ret != -EEXIST)
			return ret;
	}
	return 0;
}

/* The rules with arguments every role may need. */
static int allow_common(scmp_filter_ctx ctx)
{
	int ret = allow_list(ctx, common_syscalls);

	/*
	 * Memory that is never executable: malloc (mprotect grows a thread's
	 * arena), thread stacks and their guard pages.
	 */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* abort() and pthread_kill(): signals to our own threads only. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
#ifdef KRUN_SANITIZED
	if (!ret)
		ret = allow_list(ctx, sanitizer_syscalls);
#else
	(void)sanitizer_syscalls;
#endif
	return ret == -EEXIST ? 0 : ret;
}

static int allow_role(scmp_filter_ctx ctx, enum vmm_thread_role role)
{
	const int *list = role_syscalls[role];
	int ret = 0;

	/* ioctl, if listed, only with the role's requests. */
	for (; *list != END && !ret; list++)
		if (*list != SCMP_SYS(ioctl) && *list != SCMP_SYS(unshare))
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, *list, 0);
	if (ret == -EEXIST)
		ret = 0;
	if (!ret)
		ret = allow_ioctls(ctx, role_ioctls[role]);
	if (!ret && role != VMM_THREAD_SPAWNER)
		ret = allow_ioctls(ctx, irq_ioctls);
	if (!ret && role == VMM_THREAD_FS)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1,
				       SCMP_A0(SCMP_CMP_EQ, CLONE_FS));
	if (!ret && role == VMM_THREAD_SPAWNER) {
		/* Threads, never processes: glibc falls back from clone3 to clone. */
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
		if (!ret)
			ret = seccomp_rule_add(
			    ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
		if (ret == -EEXIST)
			ret = 0;
		for (int r = 0; r < VMM_THREAD_ROLES && !ret; r++)
			if (r != VMM_THREAD_SPAWNER)
				ret = allow_role(ctx, r);
	}
	return ret == -EEXIST ? 0 : ret;
}

/* libseccomp writes the BPF to an fd: a memfd, read back into memory. */
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	int fd = memfd_create("krun-seccomp", MFD_CLOEXEC);
	off_t size;
	int ret;

	if (fd < 0)
		return -errno;
	ret = seccomp_export_bpf(ctx, fd);
	size = ret < 0 ? 0 : lseek(fd, 0, SEEK_END);
	if (!ret && (size <= 0 || size % sizeof(struct sock_filter) ||
		     size / sizeof(struct sock_filter) > BPF_MAXINSNS))
		ret = -E2BIG;
	if (!ret) {
		prog->filter = malloc((size_t)size);
		prog->len = (unsigned short)(size / sizeof(struct sock_filter));
		if (!prog->filter)
			ret = -ENOMEM;
		else if (pread(fd, prog->filter, (size_t)size, 0) != size)
			ret = -EIO;
	}
	close(fd);
	return ret;
}

static int build_filter(enum vmm_thread_role role)
{
	uint32_t deny = sc.mode == SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	scmp_filter_ctx ctx = seccomp_init(deny);
	int ret;

	if (!ctx)
		return -ENOMEM;
	/* Our own prctl(NO_NEW_PRIVS) and seccomp(2) calls install it. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!ret)
		ret = allow_common(ctx);
	if (!ret)
		ret = allow_role(ctx, role);
	if (!ret)
		ret = export_program(ctx, &sc.prog[role]);
	if (ret < 0)
		pr_err("seccomp: cannot build the %s threads' filter: %s", role_names[role],
		       strerror(-ret));
	seccomp_release(ctx);
	return ret;
}

/* ---- a violation */

static size_t put_str(char *buf, size_t n, const char *s)
{
	while (*s)
		buf[n++] = *s++;
	return n;
}

static size_t put_uint(char *buf, size_t n, unsigned int v)
{
	char digits[10];
	int i = 0;

	do
		digits[i++] = (char)('0' + v % 10);
	while ((v /= 10) && i < 10);
	while (i)
		buf[n++] = digits[--i];
	return n;
}

/* Async-signal-safe: write(2) and the syscall that trapped, nothing else. */
static void sigsys_handler(int sig, siginfo_t *si, void *ucontext)
{
	const greg_t *r = ((ucontext_t *)ucontext)->uc_mcontext.gregs;
	enum vmm_thread_role role = thread_role;
	char line[160];
	size_t n = 0;

	(void)sig;
	if (si->si_code != SYS_SECCOMP)
		return;
	n = put_str(line, n, "[krun error] seccomp: a ");
	n = put_str(line, n, role < VMM_THREAD_ROLES ? role_names[role] : "VMM");
	n = put_str(line, n, " thread made syscall ");
	n = put_uint(line, n, (unsigned int)si->si_syscall);
	n = put_str(line, n, ", which its filter forbids: killing the process (SIGSYS)\n");
	if (write(sc.log_fd, line, n) < 0 && sc.log_fd != STDERR_FILENO)
		(void)!write(STDERR_FILENO, line, n);
	/* SIGSYS is blocked here: the same trap now kills with the default action. */
	syscall(si->si_syscall, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8],
		r[REG_R9]);
	_exit(128 + SIGSYS); /* not reached */
}

/* ---- installing */

int vmm_seccomp_enter(enum vmm_thread_role role)
{
	sigset_t sys;

	if (sc.mode == SECCOMP_OFF || role >= VMM_THREAD_ROLES)
		return 0;
	if (!sc.prepared)
		return -EINVAL;
	/* A blocked SIGSYS would kill without the log line. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	thread_role = role; /* touched before the handler may read it */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sc.prog[role]) < 0) {
		int err = errno;

		thread_role = VMM_THREAD_ROLES;
		pr_err("seccomp: cannot install the %s thread's filter: %s", role_names[role],
		       strerror(err));
		return -err;
	}
	return 0;
}

bool vmm_seccomp_thread_filtered(void)
{
	return thread_role != VMM_THREAD_ROLES;
}

/*
 * glibc's malloc reads /sys/devices/system/cpu/online (get_nprocs()) the
 * first time a thread needs a ninth arena, in whatever thread that is: a
 * filtered one. Setting the limit to glibc's own default (8 arenas per CPU)
 * now, unless the caller chose one (MALLOC_ARENA_MAX, GLIBC_TUNABLES),
 * changes nothing but when the CPUs are counted.
 */
static void fix_arena_limit(void)
{
	const char *tunables = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") || (tunables && strstr(tunables, "arena_max")))
		return;
	mallopt(M_ARENA_MAX, 8 * get_nprocs());
}

int vmm_seccomp_prepare(void)
{
	struct sigaction sa = {.sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO};
	int ret = 0;

	vmm_seccomp_release();
	sc.mode = mode_from_env();
	if (sc.mode == SECCOMP_OFF) {
		pr_info("seccomp: off (KRUN_SECCOMP=0)");
		return 0;
	}
	for (int r = 0; r < VMM_THREAD_ROLES && !ret; r++)
		ret = build_filter(r);
	if (ret < 0) {
		vmm_seccomp_release();
		return ret;
	}
	sc.log_fd = log_get_fd();
	/* glibc reads /etc/localtime at the first gmtime_r() (the RTC's): now. */
	tzset();
	fix_arena_limit();
	sigaction(SIGSYS, &sa, NULL);
	sc.prepared = true;
	ret = vmm_seccomp_spawner_start();
	if (ret < 0)
		vmm_seccomp_release();
	return ret;
}

void vmm_seccomp_release(void)
{
	if (sc.prepared)
		vmm_seccomp_spawner_stop();
	for (int r = 0; r < VMM_THREAD_ROLES; r++) {
		free(sc.prog[r].filter);
		sc.prog[r] = (struct sock_fprog){0};
	}
	sc.prepared = false;
	sc.mode = SECCOMP_OFF;
}
