/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's event loop: one epoll set served by the thread that called
 * krun_start_enter(). Devices own a struct event_source per file descriptor
 * they want watched; vCPU threads never block on the loop.
 */
#ifndef KRUN_EVENT_LOOP_H
#define KRUN_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EVENT_LOOP_MAX 64

struct event_source {
	int fd;
	void (*handler)(struct event_source *src, uint32_t events);
	void *opaque;
};

struct event_loop {
	int epfd;
	volatile bool stop;
};

int event_loop_init(struct event_loop *loop);
void event_loop_release(struct event_loop *loop);
/* Watch src->fd for "events" (EPOLLIN...). */
int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events);
/* Change the watched events; 0 pauses the source. */
int event_loop_modify(struct event_loop *loop, struct event_source *src, uint32_t events);
int event_loop_remove(struct event_loop *loop, struct event_source *src);
/* Dispatch events until a handler sets loop->stop. */
int event_loop_run(struct event_loop *loop);

#endif
