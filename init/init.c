// SPDX-License-Identifier: Apache-2.0
/*
 * krun-init, the guest's PID 1 (see init.h for the map of init/).
 *
 * Steps: /dev and a console for its own messages, the config, the other
 * filesystems, hostname, the workload's stdio and environment; then it
 * starts the workload and, until it exits, forwards signals to it and reaps
 * every process that ends up as PID 1's child. Last it drains the output,
 * syncs, and reports the workload's status to the VMM (exit_status.c),
 * which stops the VM. Processes the workload left behind are not waited
 * for nor signalled: the VM stops under them, after sync().
 *
 * PID 1 takes signals only where it waits: the ones it handles stay
 * blocked except inside ppoll(), where a handler notes them; the loop then
 * acts on them. (The kernel drops signals to PID 1 whose action is the
 * default.) No signalfd: kernels without CONFIG_SIGNALFD work the same.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_abi.h"
#include "init.h"

/* Passed on to the workload's process group. */
static const int forwarded_signals[] = {
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM,
};

#define NFORWARDED (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

/* Set by the handler, inside ppoll() only; cleared by the wait loop. */
static volatile sig_atomic_t caught[NFORWARDED];

static int say_fd = STDERR_FILENO;

/* Where say() writes: the console at first, then the workload's stderr. */
void say_to(int fd)
{
	say_fd = fd;
}

/* One line, "krun-init: ...", in one write(): no stdio buffers to flush. */
void say(const char *fmt, ...)
{
	char line[1024];
	size_t len = sizeof("krun-init: ") - 1;
	ssize_t n;
	va_list ap;
	int add;

	memcpy(line, "krun-init: ", len);
	va_start(ap, fmt);
	add = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	if (add > 0)
		len += (size_t)add < sizeof(line) - len - 1 ? (size_t)add : sizeof(line) - len - 2;
	line[len++] = '\n';
	for (size_t done = 0; done < len; done += (size_t)n) {
		n = write(say_fd, line + done, len - done);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			break;
	}
}

/*
 * One line for the kernel log only (dmesg): what went right, which the
 * workload's stderr need not show. Lost if there is no /dev/kmsg.
 */
void note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int fd, n;

	n = snprintf(line, sizeof(line), "<6>krun-init: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* Ended by a newline, or the kernel keeps the record open for more. */
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

static void catch_signal(int sig)
{
	for (size_t i = 0; i < NFORWARDED; i++)
		if (forwarded_signals[i] == sig)
			caught[i] = 1;
	/* SIGCHLD: interrupting ppoll() is all it has to do. */
}

/*
 * @set: the signals the main loop waits for, caught by catch_signal().
 * SIGTTOU and SIGTTIN are blocked too, never unblocked: PID 1 is not in the
 * terminal's foreground group once the workload runs, and the tty layer lets
 * a process that blocks them use the terminal anyway (tcsetattr, tcsetpgrp,
 * write with TOSTOP).
 */
static void block_signals(sigset_t *set)
{
	struct sigaction sa = {.sa_handler = catch_signal};
	sigset_t blocked;

	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(set, forwarded_signals[i]);
	blocked = *set;
	sigaddset(&blocked, SIGTTOU);
	sigaddset(&blocked, SIGTTIN);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	sigfillset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded_signals[i], &sa, NULL);
}

/* In the workload's child, before it unblocks them: the default actions. */
void signals_default(void)
{
	signal(SIGCHLD, SIG_DFL);
	for (size_t i = 0; i < NFORWARDED; i++)
		signal(forwarded_signals[i], SIG_DFL);
}

/* The status a shell would report: the exit code, or 128 + the signal. */
static int shell_status(int wstatus)
{
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
}

/*
 * Reaps every child that has exited (orphans included); returns true once
 * the workload is among them, with its status in *status.
 */
static bool reap_children(pid_t workload, int *status)
{
	bool workload_done = false;
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		if (pid == workload) {
			*status = shell_status(wstatus);
			workload_done = true;
		}
	}
	if (pid < 0 && errno == ECHILD && !workload_done) {
		say("the workload vanished without an exit status");
		*status = KRUN_STATUS_SETUP_FAILED;
		return true;
	}
	return workload_done;
}

/* To its process group (it leads one), or to it alone if it moved to another. */
static void forward_signal(pid_t workload, int sig)
{
	if (kill(-workload, sig) < 0)
		kill(workload, sig);
}

/*
 * A shutdown request from the host: SIGTERM to every process but PID 1 (the
 * workload included, once), SIGKILL once the grace period is over.
 */
static void shutdown_begin(void)
{
	say("shutdown requested by the host: terminating the workload");
	kill(-1, SIGTERM);
}

/*
 * The host end of an output port went away (its reader closed the pipe, as
 * in "krun-chroot ... | head -1"): the VMM closes the port, poll() says
 * POLLHUP, and the workload gets the SIGPIPE a writer to a closed pipe gets
 * (a write to a closed port would only block).
 */
static void output_closed(pid_t workload, struct pollfd *pfd)
{
	pfd->fd = -1;
	forward_signal(workload, SIGPIPE);
}

/* What catch_signal() noted, to the workload. Signals are blocked here. */
static void forward_caught(pid_t workload)
{
	for (size_t i = 0; i < NFORWARDED; i++) {
		if (caught[i]) {
			caught[i] = 0;
			forward_signal(workload, forwarded_signals[i]);
		}
	}
}

/* The time left until @deadline (CLOCK_MONOTONIC), or false if it passed. */
static bool time_left(const struct timespec *deadline, struct timespec *left)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = deadline->tv_sec - now.tv_sec;
	left->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_sec--;
		left->tv_nsec += 1000000000L;
	}
	return left->tv_sec >= 0;
}

/*
 * Bytes from the shutdown port (guest_abi.h): KRUN_SIGNAL_BYTE_BASE + N
 * passes signal N to the workload, any other byte asks for a shutdown.
 * Returns true for a shutdown request.
 */
static bool shutdown_port_read(pid_t workload, struct pollfd *pfd)
{
	unsigned char buf[64];
	bool shutdown = false;
	ssize_t n = read(pfd->fd, buf, sizeof(buf));

	if (n <= 0) {
		/* End of file, or woken without data: the port is of no more use. */
		if (n == 0 || !(pfd->revents & POLLIN) || (errno != EAGAIN && errno != EINTR))
			pfd->fd = -1;
		return false;
	}
	for (ssize_t i = 0; i < n; i++) {
		int sig = buf[i] - KRUN_SIGNAL_BYTE_BASE;

		if (sig > 0 && sig < NSIG)
			forward_signal(workload, sig);
		else if (sig < 0)
			shutdown = true;
	}
	return shutdown;
}

enum { POLL_SHUTDOWN, POLL_STDOUT, POLL_STDERR, NPOLL };

static int wait_for_workload(pid_t workload, const sigset_t *set, const struct stdio *io)
{
	/* A negative fd (no such port, or done with it) is ignored by ppoll(). */
	struct pollfd fds[NPOLL] = {
	    [POLL_SHUTDOWN] = {.fd = io->shutdown_fd, .events = POLLIN},
	    [POLL_STDOUT] = {.fd = io->on_console[1] ? -1 : io->fd[1]},
	    [POLL_STDERR] = {.fd = io->on_console[2] || io->fd[2] == io->fd[1] ? -1 : io->fd[2]},
	};
	struct timespec deadline, left;
	bool grace = false, shutting_down = false;
	sigset_t waiting;
	int status;

	/* Inside ppoll(), the signals of @set are deliverable. */
	sigprocmask(SIG_SETMASK, NULL, &waiting);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1)
			sigdelset(&waiting, sig);
	for (;;) {
		if (reap_children(workload, &status))
			return status;
		forward_caught(workload);
		if (grace && !time_left(&deadline, &left)) {
			say("the workload did not stop within %d s: killing everything",
			    KRUN_SHUTDOWN_GRACE_S);
			kill(-1, SIGKILL);
			grace = false;
			continue;
		}
		if (ppoll(fds, NPOLL, grace ? &left : NULL, &waiting) <= 0)
			continue; /* a signal, or the grace period is over */
		if (fds[POLL_SHUTDOWN].revents &&
		    shutdown_port_read(workload, &fds[POLL_SHUTDOWN]) &&
		    !shutting_down) { /* one request is enough */
			shutting_down = true;
			shutdown_begin();
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_sec += KRUN_SHUTDOWN_GRACE_S;
			grace = true;
		}
		for (int i = POLL_STDOUT; i <= POLL_STDERR; i++)
			if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
				output_closed(workload, &fds[i]);
	}
}

/* Makes sure the workload's output and files reached the host, then reports. */
static __attribute__((noreturn)) void finish(int status, struct stdio *io)
{
	say_to(STDERR_FILENO);
	if (io)
		stdio_flush_and_close(io);
	sync();
	exit_status_report(status);
}

int main(void)
{
	static struct config cfg;
	struct stdio io;
	int status, failed;
	sigset_t set;
	pid_t pid;

	block_signals(&set);
	mount_dev();
	console_as_init_stdio();
	exit_status_prepare();
	if (config_load(KRUN_CONFIG_PATH, &cfg) < 0)
		finish(KRUN_STATUS_SETUP_FAILED, NULL);
	mount_system_filesystems();
	disks_make_links();
	if (root_disk_switch(&cfg) < 0)
		finish(KRUN_STATUS_SETUP_FAILED, NULL);
	/* The container's own config, in the root the workload gets. */
	if (oci_config_load(KRUN_OCI_CONFIG_PATH, &cfg) < 0 ||
	    config_finish(&cfg, KRUN_CONFIG_PATH) < 0)
		finish(KRUN_STATUS_SETUP_FAILED, NULL);
	if (sethostname(cfg.hostname, strlen(cfg.hostname)) < 0)
		say("warning: cannot set the hostname: %s", strerror(errno));
	stdio_open(&io, cfg.ports);
	if (io.fd[2] >= 0)
		say_to(io.fd[2]);
	if (mount_shares(&cfg) < 0)
		finish(KRUN_STATUS_SETUP_FAILED, &io);
	network_setup(&cfg);
	env_add_defaults(&cfg, stdio_uses_console(&io));
	pid = workload_start(&cfg, &io, &failed);
	if (pid < 0)
		finish(KRUN_STATUS_SETUP_FAILED, &io);
	status = wait_for_workload(pid, &set, &io);
	finish(failed ? failed : status, &io);
}
