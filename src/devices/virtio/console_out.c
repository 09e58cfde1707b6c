// SPDX-License-Identifier: Apache-2.0
/* Bounded guest output with a writer thread per port (see console_out.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/console_out.h"
#include "vmm/iov.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/util.h"

struct console_out {
	int fd;
	void (*room)(void *);
	void (*broken)(void *);
	void *opaque;

	pthread_mutex_t lock;
	pthread_cond_t changed; /* data added, or written */
	uint8_t *buf;
	size_t head, len; /* bytes waiting: [head, head + len) modulo the size */
	bool want_room;	  /* a put did not fit: call room() once there is some */
	bool failed;	  /* fd failed: discard */
	bool writing;	  /* the writer holds bytes it has not accounted for yet */
	bool started;
	pthread_t writer;
};

struct console_out *console_out_create(int fd, void (*room)(void *), void (*broken)(void *),
				       void *opaque)
{
	struct console_out *o = calloc(1, sizeof(*o));
	pthread_condattr_t attr;

	if (!o)
		return NULL;
	o->buf = malloc(CONSOLE_OUT_SIZE);
	if (!o->buf) {
		free(o);
		return NULL;
	}
	o->fd = fd;
	o->room = room;
	o->broken = broken;
	o->opaque = opaque;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* deadlines are monotonic */
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->changed, &attr);
	pthread_condattr_destroy(&attr);
	return o;
}

void console_out_free(struct console_out *o)
{
	if (!o)
		return;
	pthread_cond_destroy(&o->changed);
	pthread_mutex_destroy(&o->lock);
	free(o->buf);
	free(o);
}

/* One write(), waiting out EINTR and a non-blocking fd; bytes or -errno. */
static ssize_t write_some(int fd, const uint8_t *p, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	for (;;) {
		ssize_t n = write(fd, p, len);

		if (n >= 0)
			return n;
		if (errno == EAGAIN)
			poll(&pfd, 1, -1);
		else if (errno != EINTR)
			return -errno;
	}
}

static void *writer_thread(void *arg)
{
	struct console_out *o = arg;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		size_t chunk;
		ssize_t n;
		bool call_room = false;

		while (!o->len)
			pthread_cond_wait(&o->changed, &o->lock);
		chunk = MIN(o->len, CONSOLE_OUT_SIZE - o->head);
		o->writing = true;
		pthread_mutex_unlock(&o->lock);
		/* Only the writer moves head: the bytes stay put while unlocked. */
		n = write_some(o->fd, o->buf + o->head, chunk);
		pthread_mutex_lock(&o->lock);
		o->writing = false;
		if (n <= 0) {
			bool first = !o->failed;

			o->failed = true;
			o->len = 0;
			pthread_cond_broadcast(&o->changed);
			pthread_mutex_unlock(&o->lock);
			if (first)
				o->broken(o->opaque);
			o->room(o->opaque); /* a stalled put goes on, discarding */
			return NULL;
		}
		o->head = (o->head + (size_t)n) % CONSOLE_OUT_SIZE;
		o->len -= (size_t)n;
		if (o->want_room) {
			o->want_room = false;
			call_room = true;
		}
		pthread_cond_broadcast(&o->changed);
		if (call_room) {
			pthread_mutex_unlock(&o->lock);
			o->room(o->opaque);
			pthread_mutex_lock(&o->lock);
		}
	}
}

size_t console_out_put(struct console_out *o, const struct iovec *iov, unsigned int n, size_t skip)
{
	size_t taken = 0, total = iov_length(iov, n);

	if (skip >= total)
		return 0;
	pthread_mutex_lock(&o->lock);
	if (o->failed) {
		pthread_mutex_unlock(&o->lock);
		return total - skip;
	}
	if (!o->started) {
		if (vmm_thread_start(&o->writer, VMM_THREAD_CONSOLE, writer_thread, o)) {
			pr_err("virtio-console: no output thread: output discarded");
			o->failed = true;
			pthread_mutex_unlock(&o->lock);
			return total - skip;
		}
		pthread_detach(o->writer);
		o->started = true;
	}
	while (o->len < CONSOLE_OUT_SIZE && skip + taken < total) {
		size_t tail = (o->head + o->len) % CONSOLE_OUT_SIZE;
		size_t space =
		    tail >= o->head || !o->len ? CONSOLE_OUT_SIZE - tail : o->head - tail;
		size_t got;

		space = MIN(space, CONSOLE_OUT_SIZE - o->len);
		got = iov_to_buf(iov, n, skip + taken, o->buf + tail, space);
		if (!got)
			break;
		o->len += got;
		taken += got;
	}
	if (skip + taken < total)
		o->want_room = true;
	if (taken)
		pthread_cond_broadcast(&o->changed);
	pthread_mutex_unlock(&o->lock);
	return taken;
}

bool console_out_flush(struct console_out *o, const struct timespec *deadline)
{
	bool empty;

	pthread_mutex_lock(&o->lock);
	while ((o->len || o->writing) && !o->failed) {
		if (!deadline)
			pthread_cond_wait(&o->changed, &o->lock);
		else if (pthread_cond_timedwait(&o->changed, &o->lock, deadline) == ETIMEDOUT)
			break;
	}
	empty = (!o->len && !o->writing) || o->failed;
	pthread_mutex_unlock(&o->lock);
	return empty;
}
