// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-rng (virtio 1.2, section 5.4): one request queue whose writable
 * buffers are filled from the host's getrandom(), straight into guest
 * memory. Served by the event loop, which it must never block: getrandom()
 * is asked with GRND_NONBLOCK, and while the host's pool is not yet
 * initialized the request waits on a timer instead of on the pool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/builders.h"
#include "devices/virtio/virtio.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define RNG_QUEUE_SIZE	64
#define RNG_MAX_REQUEST (64 * KiB) /* bytes given per request; the driver asks again */
#define RNG_BATCH	64	   /* requests per turn of the event loop */
#define RNG_RETRY_NSEC	(50 * 1000 * 1000)

struct virtio_rng {
	struct virtio_device dev;
	struct event_source kick, retry;
	struct virtq_chain chain; /* the request being filled, under the queue lock */
	bool held;		  /* chain was popped but the pool was not ready */
	bool warned;
};

/* Fill the chain's writable buffers; bytes written, or -EAGAIN before any. */
static ssize_t fill_request(struct virtio_rng *rng, const struct virtq_chain *c)
{
	size_t done = 0;

	for (unsigned int i = 0; i < c->nwritable && done < RNG_MAX_REQUEST; i++) {
		uint8_t *p = c->writable[i].iov_base;
		size_t len = MIN(c->writable[i].iov_len, RNG_MAX_REQUEST - done);

		while (len) {
			ssize_t n = getrandom(p, len, GRND_NONBLOCK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				if (errno == EAGAIN && !done)
					return -EAGAIN;
				if (errno != EAGAIN && !rng->warned) {
					rng->warned = true;
					pr_warn("virtio-rng: getrandom: %s", strerror(errno));
				}
				return (ssize_t)done;
			}
			p += n;
			len -= (size_t)n;
			done += (size_t)n;
		}
	}
	return (ssize_t)done;
}

static void arm_retry(struct virtio_rng *rng)
{
	struct itimerspec its = {.it_value = {0, RNG_RETRY_NSEC}};

	if (timerfd_settime(rng->retry.fd, 0, &its, NULL) < 0)
		pr_debug("virtio-rng: timerfd_settime: %s", strerror(errno));
}

static void serve_requests(struct virtio_rng *rng)
{
	struct virtio_queue *q = &rng->dev.queues[0];
	unsigned int served = 0;
	bool more = false;

	pthread_mutex_lock(&q->lock);
	while (served < RNG_BATCH) {
		ssize_t n;

		if (!rng->held && virtq_pop(&q->vq, &rng->chain) != 1)
			break;
		rng->held = false;
		n = fill_request(rng, &rng->chain);
		if (n == -EAGAIN) {
			rng->held = true;
			arm_retry(rng);
			break;
		}
		virtq_push(&q->vq, rng->chain.head, (uint32_t)n);
		served++;
	}
	/* One interrupt for the whole batch, if the driver wants one. */
	if (served && virtq_needs_notify(&q->vq))
		virtio_notify_used(&rng->dev);
	more = served == RNG_BATCH && virtq_has_avail(&q->vq);
	pthread_mutex_unlock(&q->lock);

	/* Let the other event sources run, then come back for the rest. */
	if (more) {
		uint64_t one = 1;

		if (write(q->kick_fd, &one, sizeof(one)) < 0)
			pr_debug("virtio-rng: self-kick: %s", strerror(errno));
	}
}

static void rng_kicked(struct event_source *src, uint32_t events)
{
	struct virtio_rng *rng = src->opaque;

	(void)events;
	virtio_queue_ack_kick(&rng->dev.queues[0]);
	serve_requests(rng);
}

static void rng_retry(struct event_source *src, uint32_t events)
{
	struct virtio_rng *rng = src->opaque;
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_debug("virtio-rng: timerfd: %s", strerror(errno));
	serve_requests(rng);
}

static int rng_activate(struct virtio_device *dev)
{
	(void)dev;
	return 0;
}

/* The queue is about to be reset: a held request belongs to the old ring. */
static void rng_reset(struct virtio_device *dev)
{
	struct virtio_rng *rng = dev->priv;
	struct virtio_queue *q = &dev->queues[0];

	pthread_mutex_lock(&q->lock);
	rng->held = false;
	pthread_mutex_unlock(&q->lock);
}

/* A VM that never ran is freed (the transport's fds are closed already). */
static void rng_release(struct virtio_device *dev)
{
	struct virtio_rng *rng = dev->priv;

	close(rng->retry.fd);
	free(rng);
}

static const struct virtio_device_ops rng_ops = {
    .name = "rng",
    .device_id = VIRTIO_ID_RNG,
    .activate = rng_activate,
    .reset = rng_reset,
    .release = rng_release,
};

/* Every VM has one, as with upstream libkrun. */
static int create_rng(struct vm *vm)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int ret;

	if (!rng)
		return -ENOMEM;
	rng->dev.ops = &rng_ops;
	rng->dev.priv = rng;
	rng->dev.features = VIRTIO_F_INDIRECT_DESC;
	rng->dev.nqueues = 1;
	rng->dev.queue_max = RNG_QUEUE_SIZE;
	rng->retry.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rng->retry.fd < 0) {
		ret = -errno;
		free(rng);
		return ret;
	}
	ret = virtio_mmio_add(vm, &rng->dev);
	if (ret < 0) {
		pr_err("virtio-rng: %s", strerror(-ret));
		close(rng->retry.fd);
		free(rng);
		return ret;
	}
	/* From here on the device is the VM's: rng_release() frees it if the VM never runs. */
	rng->kick = (struct event_source){rng->dev.queues[0].kick_fd, rng_kicked, rng};
	rng->retry.handler = rng_retry;
	rng->retry.opaque = rng;
	ret = event_loop_add(&vm->loop, &rng->kick, EPOLLIN);
	if (!ret)
		ret = event_loop_add(&vm->loop, &rng->retry, EPOLLIN);
	return ret;
}

const struct device_builder rng_builder = {"virtio-rng", create_rng};
