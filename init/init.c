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
 * PID 1 never takes a signal asynchronously: the ones it handles stay
 * blocked and are read from a signalfd. (The kernel drops signals to
 * PID 1 whose action is the default, but queues blocked ones.)
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_abi.h"
#include "init.h"

/* Passed on to the workload's process group. */
static const int forwarded_signals[] = {
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM,
};

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
 * @set: the signals main loop waits for. SIGTTOU and SIGTTIN are blocked
 * too, never read: PID 1 is not in the terminal's foreground group once the
 * workload runs, and the tty layer lets a process that blocks them use
 * the terminal anyway (tcsetattr, tcsetpgrp, write with TOSTOP).
 */
static void block_signals(sigset_t *set)
{
	sigset_t blocked;

	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(set, forwarded_signals[i]);
	blocked = *set;
	sigaddset(&blocked, SIGTTOU);
	sigaddset(&blocked, SIGTTIN);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
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

enum { POLL_SIGNALS, POLL_SHUTDOWN, POLL_STDOUT, POLL_STDERR, NPOLL };

static int wait_for_workload(pid_t workload, const sigset_t *set, const struct stdio *io)
{
	struct pollfd fds[NPOLL] = {
	    [POLL_SIGNALS] = {.fd = signalfd(-1, set, SFD_CLOEXEC), .events = POLLIN},
	    [POLL_SHUTDOWN] = {.fd = io->shutdown_fd, .events = POLLIN},
	    [POLL_STDOUT] = {.fd = io->on_console[1] ? -1 : io->fd[1]},
	    [POLL_STDERR] = {.fd = io->on_console[2] || io->fd[2] == io->fd[1] ? -1 : io->fd[2]},
	};
	struct signalfd_siginfo info;
	int status, timeout = -1;

	for (;;) {
		if (reap_children(workload, &status))
			return status;
		if (fds[POLL_SIGNALS].fd < 0) { /* no signalfd: signals only, as a last resort */
			if (sigwaitinfo(set, NULL) < 0 && errno != EINTR)
				return KRUN_STATUS_SETUP_FAILED;
			continue;
		}
		if (poll(fds, NPOLL, timeout) == 0) {
			say("the workload did not stop within %d s: killing everything",
			    KRUN_SHUTDOWN_GRACE_S);
			kill(-1, SIGKILL);
			timeout = -1;
			continue;
		}
		if (fds[POLL_SHUTDOWN].revents) {
			fds[POLL_SHUTDOWN].fd = -1; /* one request is enough */
			shutdown_begin();
			timeout = KRUN_SHUTDOWN_GRACE_S * 1000;
		}
		for (int i = POLL_STDOUT; i <= POLL_STDERR; i++)
			if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
				output_closed(workload, &fds[i]);
		if ((fds[POLL_SIGNALS].revents & POLLIN) &&
		    read(fds[POLL_SIGNALS].fd, &info, sizeof(info)) == sizeof(info) &&
		    info.ssi_signo != SIGCHLD)
			forward_signal(workload, (int)info.ssi_signo);
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
	env_add_defaults(&cfg, stdio_uses_console(&io));
	pid = workload_start(&cfg, &io, &failed);
	if (pid < 0)
		finish(KRUN_STATUS_SETUP_FAILED, &io);
	status = wait_for_workload(pid, &set, &io);
	finish(failed ? failed : status, &io);
}
