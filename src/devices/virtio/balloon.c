// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-balloon (virtio 1.2, section 5.5), what lets the guest give memory
 * back to the host:
 *  - free page reporting (VIRTIO_BALLOON_F_REPORTING): the guest reports
 *    free ranges of its own accord; each one is checked against guest RAM
 *    (balloon_report.c) and dropped from the host with MADV_DONTNEED, so
 *    the process's RSS follows what the guest really uses;
 *  - the inflate and deflate queues, with DEFLATE_ON_OOM, for a target set
 *    by the host in num_pages;
 *  - the statistics queue, logged at debug level (and only then polled).
 * Served by the event loop. Free page hinting is not offered: reporting
 * does the same without a migration to drive it.
 *
 * Queue indexes follow the negotiated features (the driver only creates
 * the queues it uses): inflate, deflate, then stats and reporting if
 * negotiated, in that order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/builders.h"
#include "devices/virtio/balloon_report.h"
#include "devices/virtio/virtio.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define VIRTIO_BALLOON_F_STATS_VQ	(1ULL << 1)
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM (1ULL << 2)
#define VIRTIO_BALLOON_F_REPORTING	(1ULL << 5)

#define BALLOON_NQUEUES	     4
#define BALLOON_QUEUE_SIZE   128 /* the driver wants >= 32 for reporting */
#define BALLOON_BATCH	     32	 /* chains per queue per turn of the event loop */
#define BALLOON_STATS_PERIOD 10	 /* seconds, with debug logging */
/*
 * The guest reports free blocks of 2^order pages. The kernel's default is
 * the pageblock (4 MiB here); 2 MiB is the host's huge page, and catches
 * the free memory that 4 MiB blocks would miss.
 */
#define BALLOON_REPORTING_ORDER 9

/* Test switch (tests/integration/balloon-tests.sh): "no-reporting", "target=MIB". */
#define BALLOON_TEST_ENV "KRUN_TEST_BALLOON"

enum balloon_role { ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORTING, ROLE_NONE };

struct virtio_balloon_config {
	uint32_t num_pages; /* host: pages the guest should give up */
	uint32_t actual;    /* guest: pages in the balloon */
	uint32_t free_page_hint_cmd_id;
	uint32_t poison_val;
} __attribute__((packed));

struct virtio_balloon;

struct balloon_kick {
	struct event_source src;
	struct virtio_balloon *b;
	unsigned int index;
};

struct virtio_balloon {
	struct virtio_device dev;
	struct virtio_balloon_config config; /* little-endian, under dev.reg_lock */
	struct balloon_kick kicks[BALLOON_NQUEUES];
	struct event_source stats_timer;

	/* The event loop's alone. */
	struct balloon_guard guard;
	struct balloon_sink sink;
	struct virtq_chain chain;
	struct virtq_raw_chain raw;
	uint64_t given_bytes;
	unsigned int warned; /* 1 << verdict once logged */

	/* The statistics buffer the driver lent us, returned to ask for fresh ones. */
	pthread_mutex_t stats_lock;
	bool stats_held;
	uint16_t stats_head;
	uint32_t stats_generation; /* of the queue it came from */
	unsigned int stats_index;
};

static enum balloon_role queue_role(const struct virtio_balloon *b, unsigned int index)
{
	uint64_t f = __atomic_load_n(&b->dev.driver_features, __ATOMIC_RELAXED);
	unsigned int next = 2;

	if (index < 2)
		return index == 0 ? ROLE_INFLATE : ROLE_DEFLATE;
	if ((f & VIRTIO_BALLOON_F_STATS_VQ) && index == next++)
		return ROLE_STATS;
	if ((f & VIRTIO_BALLOON_F_REPORTING) && index == next)
		return ROLE_REPORTING;
	return ROLE_NONE;
}

/* Guest-triggered: each kind of refusal is logged once. */
static void refuse_range(void *opaque, enum balloon_verdict why, uint64_t gpa, uint64_t len)
{
	struct virtio_balloon *b = opaque;

	if (b->warned & (1u << why))
		return;
	b->warned |= 1u << why;
	pr_warn("virtio-balloon: refused to give back 0x%llx bytes at 0x%llx: %s "
		"(not logged again)",
		(unsigned long long)len, (unsigned long long)gpa, balloon_verdict_name(why));
}

/* The kernel is in guest memory by the time the guest can talk to us. */
static void update_guard(struct virtio_balloon *b)
{
	const struct vm *vm = b->dev.vm;

	b->guard.nprotect = 1;
	if (vm->kernel_end > vm->kernel_start)
		b->guard.protect[b->guard.nprotect++] =
		    (struct balloon_range){vm->kernel_start, vm->kernel_end};
}

static void serve_inflate(struct virtio_balloon *b, struct virtio_queue *q, bool inflate)
{
	struct virtq_chain *c = &b->chain;

	if (virtq_pop(&q->vq, c) != 1)
		return;
	for (unsigned int i = 0; inflate && i < c->nreadable; i++)
		b->given_bytes += balloon_give_pfns(&b->guard, &b->sink, c->readable[i].iov_base,
						    c->readable[i].iov_len);
	/* Deflated pages need nothing: the guest's next touch faults them in. */
	virtq_push(&q->vq, c->head, 0);
}

static void serve_report(struct virtio_balloon *b, struct virtio_queue *q)
{
	if (virtq_pop_raw(&q->vq, &b->raw) != 1)
		return;
	b->given_bytes += balloon_give_report(&b->guard, &b->sink, &b->raw);
	virtq_push(&q->vq, b->raw.head, 0);
}

static void log_stats(const struct virtq_chain *c)
{
	uint8_t buf[16 * 10];
	char line[512];
	size_t len = iov_to_buf(c->readable, c->nreadable, 0, buf, sizeof(buf));

	if (balloon_format_stats(buf, len, line, sizeof(line)))
		pr_debug("virtio-balloon: guest memory: %s", line);
}

/* Keep the driver's statistics buffer; give back one we held before. */
static void serve_stats(struct virtio_balloon *b, struct virtio_queue *q, unsigned int index)
{
	struct virtq_chain *c = &b->chain;

	if (virtq_pop(&q->vq, c) != 1)
		return;
	log_stats(c);
	pthread_mutex_lock(&b->stats_lock);
	if (b->stats_held && b->stats_generation == q->vq.generation)
		virtq_push(&q->vq, b->stats_head, 0);
	b->stats_held = true;
	b->stats_head = c->head;
	b->stats_generation = c->generation;
	b->stats_index = index;
	pthread_mutex_unlock(&b->stats_lock);
}

static void serve_queue(struct virtio_balloon *b, unsigned int index)
{
	struct virtio_queue *q = &b->dev.queues[index];
	enum balloon_role role = queue_role(b, index);
	uint16_t used_before;
	bool more;

	if (role == ROLE_NONE)
		return;
	pthread_mutex_lock(&q->lock);
	used_before = q->vq.next_used;
	update_guard(b);
	for (unsigned int i = 0; i < BALLOON_BATCH && virtq_has_avail(&q->vq); i++) {
		if (role == ROLE_REPORTING)
			serve_report(b, q);
		else if (role == ROLE_STATS)
			serve_stats(b, q, index);
		else
			serve_inflate(b, q, role == ROLE_INFLATE);
	}
	/* One interrupt for the batch. */
	if (q->vq.next_used != used_before && virtq_needs_notify(&q->vq))
		virtio_notify_used(&b->dev);
	more = virtq_has_avail(&q->vq);
	pthread_mutex_unlock(&q->lock);

	/* Let the other event sources run, then come back for the rest. */
	if (more) {
		uint64_t one = 1;

		if (write(q->kick_fd, &one, sizeof(one)) < 0)
			pr_debug("virtio-balloon: self-kick: %s", strerror(errno));
	}
	pr_trace("virtio-balloon: %llu MiB given back so far",
		 (unsigned long long)(b->given_bytes >> 20));
}

static void balloon_kicked(struct event_source *src, uint32_t events)
{
	struct balloon_kick *k = src->opaque;

	(void)events;
	virtio_queue_ack_kick(&k->b->dev.queues[k->index]);
	serve_queue(k->b, k->index);
}

/* Return the statistics buffer: the driver refills it and hands it over again. */
static void stats_due(struct event_source *src, uint32_t events)
{
	struct virtio_balloon *b = src->opaque;
	struct virtio_queue *q;
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_debug("virtio-balloon: timerfd: %s", strerror(errno));
	/* Queue lock, then stats lock, as in serve_stats(); stats_index is ours. */
	q = &b->dev.queues[b->stats_index];
	pthread_mutex_lock(&q->lock);
	pthread_mutex_lock(&b->stats_lock);
	/* Not into a ring the driver set up again since it lent us the buffer. */
	if (b->stats_held && b->stats_generation == q->vq.generation) {
		virtio_queue_complete(&b->dev, q, b->stats_head, 0);
		b->stats_held = false;
	}
	pthread_mutex_unlock(&b->stats_lock);
	pthread_mutex_unlock(&q->lock);
}

static void balloon_config_read(struct virtio_device *dev, uint32_t offset, void *data,
				uint32_t len)
{
	struct virtio_balloon *b = dev->priv;

	memcpy(data, (uint8_t *)&b->config + offset, len);
}

/* The driver owns "actual" and "poison_val"; the rest is the device's. */
static void balloon_config_write(struct virtio_device *dev, uint32_t offset, const void *data,
				 uint32_t len)
{
	struct virtio_balloon *b = dev->priv;
	struct virtio_balloon_config c = b->config;
	uint32_t old_actual = b->config.actual;

	memcpy((uint8_t *)&c + offset, data, len);
	b->config.actual = c.actual;
	b->config.poison_val = c.poison_val;
	if (b->config.actual != old_actual)
		pr_debug("virtio-balloon: the guest holds %u pages in the balloon (target %u)",
			 b->config.actual, b->config.num_pages);
}

static int balloon_activate(struct virtio_device *dev)
{
	pr_debug("virtio-balloon: features 0x%llx", (unsigned long long)dev->driver_features);
	return 0;
}

static void balloon_reset(struct virtio_device *dev)
{
	struct virtio_balloon *b = dev->priv;

	pthread_mutex_lock(&b->stats_lock);
	b->stats_held = false;
	pthread_mutex_unlock(&b->stats_lock);
}

/* A VM that never ran is freed (the transport's fds are closed already). */
static void balloon_release(struct virtio_device *dev)
{
	struct virtio_balloon *b = dev->priv;

	if (b->stats_timer.fd >= 0)
		close(b->stats_timer.fd);
	pthread_mutex_destroy(&b->stats_lock);
	free(b);
}

static const struct virtio_device_ops balloon_ops = {
    .name = "balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .activate = balloon_activate,
    .reset = balloon_reset,
    .release = balloon_release,
};

/* KRUN_TEST_BALLOON: for the tests that prove the device is what gives memory back. */
static void apply_test_switch(struct virtio_balloon *b)
{
	const char *env = getenv(BALLOON_TEST_ENV);
	unsigned int mib;

	if (!env)
		return;
	if (strstr(env, "no-reporting"))
		b->dev.features &= ~VIRTIO_BALLOON_F_REPORTING;
	if (strstr(env, "target=") && sscanf(strstr(env, "target=") + 7, "%u", &mib) == 1 &&
	    mib <= UINT32_MAX / (MiB / BALLOON_PAGE_SIZE))
		b->config.num_pages = mib * (uint32_t)(MiB / BALLOON_PAGE_SIZE);
	pr_info("virtio-balloon: test switch %s=%s", BALLOON_TEST_ENV, env);
}

static int announce_reporting_order(struct vm *vm)
{
	size_t used = strlen(vm->device_cmdline);
	int n = snprintf(vm->device_cmdline + used, sizeof(vm->device_cmdline) - used,
			 " page_reporting.page_reporting_order=%d", BALLOON_REPORTING_ORDER);

	return (n < 0 || (size_t)n >= sizeof(vm->device_cmdline) - used) ? -E2BIG : 0;
}

static int watch_stats(struct virtio_balloon *b)
{
	struct itimerspec its = {{BALLOON_STATS_PERIOD, 0}, {BALLOON_STATS_PERIOD, 0}};
	int fd;

	/* Statistics are only ever logged at debug level: otherwise leave the guest be. */
	if (!log_enabled(4))
		return 0;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	b->stats_timer = (struct event_source){fd, stats_due, b};
	if (timerfd_settime(fd, 0, &its, NULL) < 0)
		return -errno;
	return event_loop_add(&b->dev.vm->loop, &b->stats_timer, EPOLLIN);
}

/* Every VM has one, as with upstream libkrun. */
static int create_balloon(struct vm *vm)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	long page = sysconf(_SC_PAGESIZE);
	int ret;

	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->stats_lock, NULL);
	b->stats_timer.fd = -1;
	b->dev.ops = &balloon_ops;
	b->dev.priv = b;
	b->dev.features = VIRTIO_BALLOON_F_STATS_VQ | VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
			  VIRTIO_BALLOON_F_REPORTING | VIRTIO_F_INDIRECT_DESC;
	b->dev.config_size = sizeof(b->config);
	b->dev.nqueues = BALLOON_NQUEUES;
	b->dev.queue_max = BALLOON_QUEUE_SIZE;
	b->guard.mem = &vm->mem;
	b->guard.host_page = page > 0 ? (size_t)page : 4096;
	/* Zero page, page tables, command line, MP and SMBIOS tables. */
	b->guard.protect[0] = (struct balloon_range){0, HIGH_MEMORY_START};
	b->guard.nprotect = 1;
	b->sink = (struct balloon_sink){balloon_discard_anonymous, refuse_range, b};
	apply_test_switch(b);

	ret = virtio_mmio_add(vm, &b->dev);
	if (ret < 0) {
		pr_err("virtio-balloon: %s", strerror(-ret));
		pthread_mutex_destroy(&b->stats_lock);
		free(b);
		return ret;
	}
	/* From here on the device is the VM's: balloon_release() frees it if the VM never runs. */
	for (unsigned int i = 0; !ret && i < BALLOON_NQUEUES; i++) {
		struct balloon_kick *k = &b->kicks[i];

		k->b = b;
		k->index = i;
		k->src = (struct event_source){b->dev.queues[i].kick_fd, balloon_kicked, k};
		ret = event_loop_add(&vm->loop, &k->src, EPOLLIN);
	}
	if (!ret && (b->dev.features & VIRTIO_BALLOON_F_REPORTING))
		ret = announce_reporting_order(vm);
	if (!ret)
		ret = watch_stats(b);
	return ret;
}

const struct device_builder balloon_builder = {"virtio-balloon", create_balloon};
