// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/event_loop.h"
#include "vmm/log.h"

int event_loop_init(struct event_loop *loop)
{
	loop->stop = false;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

void event_loop_release(struct event_loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

static int event_ctl(struct event_loop *loop, int op, struct event_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(loop->epfd, op, src->fd, &ev) < 0 ? -errno : 0;
}

int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	return event_ctl(loop, EPOLL_CTL_ADD, src, events);
}

int event_loop_modify(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	return event_ctl(loop, EPOLL_CTL_MOD, src, events);
}

int event_loop_remove(struct event_loop *loop, struct event_source *src)
{
	return event_ctl(loop, EPOLL_CTL_DEL, src, 0);
}

int event_loop_run(struct event_loop *loop)
{
	struct epoll_event events[EVENT_LOOP_MAX];

	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, events, EVENT_LOOP_MAX, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			pr_err("event loop: epoll_wait: %s", strerror(err));
			return -err;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			struct event_source *src = events[i].data.ptr;

			src->handler(src, events[i].events);
		}
	}
	return 0;
}
