// SPDX-License-Identifier: Apache-2.0
/*
 * The shutdown request channel behind krun_get_shutdown_eventfd(). The
 * guest learns of the request through a virtio-console port that only init
 * reads (see guest_abi.h); a timer makes sure the VM stops even when no
 * init of ours listens (a plain kernel + initramfs, or a custom init).
 *
 * SIGTERM to the VMM process is the same request: that is how an OCI
 * runtime stops a container (`crun kill`, `podman stop`), whose process is
 * the VMM. init passes SIGTERM on to the workload, so its exit status is
 * the container's. SIGHUP, SIGINT, SIGQUIT, SIGUSR1 and SIGUSR2 go to the
 * workload as they are, as one byte each on the same port
 * (KRUN_SIGNAL_BYTE_BASE + the number). SIGKILL still ends the VMM at once,
 * guest and all.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <pthread.h>
#include <unistd.h>

#include "devices/virtio/console.h"
#include "guest_abi.h"
#include "vmm/log.h"
#include "vmm/shutdown.h"
#include "vmm/util.h"
#include "vmm/vm.h"

struct shutdown_channel {
	struct vm *vm;
	int port_fd;	  /* write end of the pipe the port reads */
	int port_read_fd; /* its read end, the port's input */
	bool requested;
	struct event_source request;
	struct event_source deadline;
	struct sigaction callers[6]; /* of taken_signals, given back if the VM fails to start */
	size_t ntaken;
};

static void request_received(struct event_source *src, uint32_t events)
{
	struct shutdown_channel *ch = src->opaque;
	struct itimerspec timeout = {.it_value.tv_sec = KRUN_SHUTDOWN_TIMEOUT_S};
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0 || ch->requested)
		return;
	ch->requested = true;
	clock_gettime(CLOCK_MONOTONIC, &ch->vm->drain_deadline);
	ch->vm->drain_deadline.tv_sec += KRUN_SHUTDOWN_TIMEOUT_S + 1;
	pr_info("shutdown requested: asking the guest to stop (%d s at most)",
		KRUN_SHUTDOWN_TIMEOUT_S);
	if (write(ch->port_fd, "\n", 1) != 1)
		pr_warn("shutdown request not passed to the guest: %s", strerror(errno));
	if (timerfd_settime(ch->deadline.fd, 0, &timeout, NULL) < 0)
		pr_err("shutdown timer: %s", strerror(errno));
}

static void deadline_passed(struct event_source *src, uint32_t events)
{
	struct shutdown_channel *ch = src->opaque;

	(void)events;
	pr_warn("the guest did not stop within %d s of the shutdown request: stopping it",
		KRUN_SHUTDOWN_TIMEOUT_S);
	vm_stop(ch->vm, VM_STOP_SHUTDOWN, VM_STATUS_SHUTDOWN);
}

/* SIGTERM first: a shutdown request; the others are passed on. */
static const int taken_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2};
static int sigterm_efd = -1, signal_port_fd = -1;

/* Async-signal-safe: one write each, to an eventfd or a non-blocking pipe. */
static void signal_received(int sig)
{
	unsigned char byte = (unsigned char)(KRUN_SIGNAL_BYTE_BASE + sig);
	uint64_t one = 1;
	int saved = errno;
	ssize_t n;

	if (sig == SIGTERM)
		n = write(sigterm_efd, &one, sizeof(one));
	else
		n = write(signal_port_fd, &byte, 1);
	(void)n; /* full: a request is pending anyway, or the guest reads nothing */
	errno = saved;
}

/*
 * Every thread of the VMM but this one blocks all signals, so the handler
 * runs here and interrupts at most the event loop's epoll_wait (retried).
 * It replaces the console's restore-and-die handlers: the terminal is
 * restored at exit. A VM that fails to start gives the caller's back.
 */
static int take_signals(struct shutdown_channel *ch, int efd)
{
	struct sigaction sa = {.sa_handler = signal_received, .sa_flags = SA_RESTART};
	sigset_t set;

	sigterm_efd = efd;
	signal_port_fd = ch->port_fd;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(taken_signals); i++) {
		if (sigaction(taken_signals[i], &sa, &ch->callers[i]) < 0)
			return -errno;
		ch->ntaken = i + 1;
		sigaddset(&set, taken_signals[i]);
	}
	return pthread_sigmask(SIG_UNBLOCK, &set, NULL) ? -EINVAL : 0;
}

/* A VM that never ran: the pipe, the timer and the channel go (the console goes on its own). */
static void channel_release(void *arg)
{
	struct shutdown_channel *ch = arg;

	for (size_t i = 0; i < ch->ntaken; i++)
		sigaction(taken_signals[i], &ch->callers[i], NULL);
	close(ch->port_fd);
	close(ch->port_read_fd);
	close(ch->deadline.fd);
	free(ch);
}

/* The channel lives as long as the process: the VM's end is exit(). */
int shutdown_channel_create(struct vm *vm, int efd)
{
	struct shutdown_channel *ch = calloc(1, sizeof(*ch));
	struct virtio_console *con = NULL;
	int pipefd[2] = {-1, -1}, timer_fd = -1, ret = -ENOMEM;

	if (!ch)
		goto fail;
	if (pipe2(pipefd, O_CLOEXEC) < 0 ||
	    (timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0) {
		ret = -errno;
		goto fail;
	}
	/* Never blocking: signal_received() writes here too. */
	fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
	ch->vm = vm;
	ch->port_fd = pipefd[1];
	ch->port_read_fd = pipefd[0];
	ch->request = (struct event_source){efd, request_received, ch};
	ch->deadline = (struct event_source){timer_fd, deadline_passed, ch};
	ret = vm_on_release(vm, channel_release, ch);
	if (ret < 0)
		goto fail;
	/* From here on the VM releases the channel if it fails. */
	con = virtio_console_create(vm);
	ret =
	    con ? virtio_console_add_port(con, KRUN_PORT_SHUTDOWN, false, pipefd[0], -1) : -ENOMEM;
	if (!ret)
		ret = virtio_console_realize(con);
	if (ret)
		virtio_console_discard(con);
	if (!ret)
		ret = event_loop_add(&vm->loop, &ch->request, EPOLLIN);
	if (!ret)
		ret = event_loop_add(&vm->loop, &ch->deadline, EPOLLIN);
	if (!ret)
		ret = take_signals(ch, efd);
	if (ret)
		pr_err("shutdown request channel: %s", strerror(-ret));
	return ret;
fail:
	pr_err("shutdown request channel: %s", strerror(-ret));
	if (timer_fd >= 0)
		close(timer_fd);
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	free(ch);
	return ret;
}
