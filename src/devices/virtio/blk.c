// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk (virtio 1.2, section 5.2): one device per disk, one request
 * queue per vCPU (MQ), each served by its own thread that keeps many
 * requests in flight. A flat image (raw, flat vmdk) has its reads, writes
 * and flushes submitted to an io_uring of the queue, when the file can do
 * non-blocking I/O (probed at start with RWF_NOWAIT); everything else
 * (other formats, discard, write-zeroes, files without non-blocking I/O,
 * where io_uring would hand every request to a kernel worker of its own
 * anyway, and every request where io_uring is unavailable) runs on the
 * disk's thread pool through the format's operations (blk/image.h).
 * Completions found together are returned together, with one interrupt
 * when the driver wants one (EVENT_IDX).
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/builders.h"
#include "devices/virtio/blk/image.h"
#include "devices/virtio/blk/request.h"
#include "devices/virtio/virtio.h"
#include "libkrun.h"
#include "vmm/iov.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define VIRTIO_BLK_F_SIZE_MAX	  (1ULL << 1)
#define VIRTIO_BLK_F_SEG_MAX	  (1ULL << 2)
#define VIRTIO_BLK_F_RO		  (1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE	  (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH	  (1ULL << 9)
#define VIRTIO_BLK_F_TOPOLOGY	  (1ULL << 10)
#define VIRTIO_BLK_F_MQ		  (1ULL << 12)
#define VIRTIO_BLK_F_DISCARD	  (1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ULL << 14)

#define BLK_QUEUE_SIZE	 256
#define BLK_MAX_QUEUES	 8
#define BLK_POOL_THREADS 4

struct virtio_blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	struct {
		uint8_t physical_block_exp;
		uint8_t alignment_offset;
		uint16_t min_io_size;
		uint32_t opt_io_size;
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

struct virtio_blk;
struct blk_queue;

/* One request in flight; a queue has one per ring entry. */
struct blk_slot {
	struct blk_queue *q;
	struct blk_slot *next; /* free list, pool jobs, pool completions */
	uint16_t head;
	unsigned int gen; /* the queue's generation when popped: stale after a reset */
	int result;	  /* 0 or -errno */
	struct blk_request req;
	uint64_t t_pop, t_start, t_end; /* KRUN_BLK_STATS: when taken, started, finished */
};

/*
 * KRUN_BLK_STATS=1: each queue counts its requests and where their time
 * goes, logged when the VM stops (for profiling; off, nothing is timed).
 * Written by the queue thread only, under the queue lock.
 */
struct blk_stats {
	uint64_t n[3]; /* IN, OUT, FLUSH */
	uint64_t bytes[2];
	uint64_t segs;			   /* data segments of the IN and OUT requests */
	uint64_t passes;		   /* serve passes that returned requests */
	uint64_t inlined;		   /* lone requests run on the queue thread */
	uint64_t irqs;			   /* interrupts raised */
	uint64_t ns_queue, ns_io, ns_reap; /* taken to started, started to done, done to returned */
	uint64_t n_timed;
};

struct blk_queue {
	struct virtio_blk *blk;
	struct virtio_queue *vq;
	unsigned int index;
	pthread_t thread;
	bool started;
	struct blk_slot *slots, *free;
	unsigned int gen;
	struct virtq_chain *chain; /* scratch for virtq_pop */
	bool uring;
	struct io_uring ring;
	unsigned int to_submit;
	int done_efd; /* io_uring and pool completions */
	pthread_mutex_t done_lock;
	struct blk_slot *done; /* finished by the pool */
	unsigned int inflight; /* slots taken and not yet returned */
	struct blk_slot *held; /* this pass's first request for the pool (take_requests) */
	bool inline_ok;	       /* a lone request may run on the queue thread */
	struct blk_stats stats;
};

struct blk_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct blk_slot *head, *tail;
	pthread_t threads[BLK_POOL_THREADS];
	unsigned int nthreads;
};

struct virtio_blk {
	struct virtio_device dev;
	struct virtio_blk_config config;
	struct blk_image img;
	struct blk_limits lim;
	const char *name; /* the disk id */
	char serial[VIRTIO_BLK_ID_BYTES];
	struct blk_queue queues[BLK_MAX_QUEUES];
	struct blk_pool pool;
	bool use_uring;
};

/* How a disk's requests are served: KRUN_BLK_IO, for tests and comparisons. */
enum blk_engine {
	BLK_ENGINE_AUTO,    /* io_uring where the file can do non-blocking I/O */
	BLK_ENGINE_URING,   /* io_uring for every flat read, write and flush */
	BLK_ENGINE_THREADS, /* the thread pool only */
};

static bool stats_on;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void stats_finish(struct blk_queue *q, const struct blk_slot *s)
{
	struct blk_stats *st = &q->stats;
	unsigned int t = s->req.type == VIRTIO_BLK_T_IN	     ? 0
			 : s->req.type == VIRTIO_BLK_T_OUT   ? 1
			 : s->req.type == VIRTIO_BLK_T_FLUSH ? 2
							     : 3;
	uint64_t now = now_ns();

	if (t == 3)
		return;
	st->n[t]++;
	if (t < 2) {
		st->bytes[t] += s->req.len;
		st->segs += s->req.ndata;
	}
	if (s->t_start && s->t_end) {
		st->ns_queue += s->t_start - s->t_pop;
		st->ns_io += s->t_end - s->t_start;
		st->ns_reap += now - s->t_end;
		st->n_timed++;
	}
}

static void stats_log(struct virtio_blk *b)
{
	for (unsigned int i = 0; i < b->dev.nqueues; i++) {
		const struct blk_stats *st = &b->queues[i].stats;
		uint64_t rw = st->n[0] + st->n[1], nt = st->n_timed ? st->n_timed : 1;

		pr_info(
		    "virtio-blk %s queue %u: %llu reads (%llu KiB), %llu writes (%llu KiB), %llu "
		    "flushes; %.1f segments a request; %llu returned in %llu passes (%llu run "
		    "inline), %llu interrupts; mean us taken->started %.1f, started->done %.1f, "
		    "done->returned %.1f",
		    b->name, i, (unsigned long long)st->n[0],
		    (unsigned long long)(st->bytes[0] >> 10), (unsigned long long)st->n[1],
		    (unsigned long long)(st->bytes[1] >> 10), (unsigned long long)st->n[2],
		    rw ? (double)st->segs / (double)rw : 0.0, (unsigned long long)(rw + st->n[2]),
		    (unsigned long long)st->passes, (unsigned long long)st->inlined,
		    (unsigned long long)st->irqs, (double)st->ns_queue / 1e3 / (double)nt,
		    (double)st->ns_io / 1e3 / (double)nt, (double)st->ns_reap / 1e3 / (double)nt);
	}
}

/* ---- running a request through the image's operations (pool threads) */

static int run_ranges(struct blk_image *img, const struct blk_request *r)
{
	for (unsigned int i = 0; i < r->nranges; i++) {
		const struct blk_range *g = &r->ranges[i];
		int ret = r->type == VIRTIO_BLK_T_DISCARD
			      ? img->ops->discard(img, g->offset, g->len)
			      : img->ops->write_zeroes(img, g->offset, g->len, g->unmap);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static int run_sync(struct virtio_blk *b, const struct blk_request *r)
{
	struct blk_image *img = &b->img;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return img->ops->read(img, r->data, r->ndata, r->offset);
	case VIRTIO_BLK_T_OUT:
		return img->ops->write(img, r->data, r->ndata, r->offset);
	case VIRTIO_BLK_T_FLUSH:
		return img->ops->flush(img);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return run_ranges(img, r);
	default:
		return -EOPNOTSUPP;
	}
}

static void signal_done(struct blk_queue *q)
{
	uint64_t one = 1;

	if (write(q->done_efd, &one, sizeof(one)) < 0)
		pr_debug("virtio-blk: completion eventfd: %s", strerror(errno));
}

static void *pool_thread(void *arg)
{
	struct virtio_blk *b = arg;
	struct blk_pool *p = &b->pool;

	for (;;) {
		struct blk_slot *s;
		struct blk_queue *q;

		pthread_mutex_lock(&p->lock);
		while (!p->head)
			pthread_cond_wait(&p->cond, &p->lock);
		s = p->head;
		p->head = s->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);

		if (stats_on)
			s->t_start = now_ns();
		s->result = run_sync(b, &s->req);
		if (stats_on)
			s->t_end = now_ns();
		q = s->q;
		pthread_mutex_lock(&q->done_lock);
		s->next = q->done;
		q->done = s;
		pthread_mutex_unlock(&q->done_lock);
		signal_done(q);
	}
	return NULL;
}

static void pool_submit(struct virtio_blk *b, struct blk_slot *s)
{
	struct blk_pool *p = &b->pool;

	s->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = s;
	else
		p->head = s;
	p->tail = s;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static int pool_start(struct virtio_blk *b)
{
	struct blk_pool *p = &b->pool;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (unsigned int i = 0; i < BLK_POOL_THREADS; i++) {
		if (vmm_thread_start(&p->threads[i], VMM_THREAD_BLK, pool_thread, b) != 0)
			return p->nthreads ? 0 : -EAGAIN;
		p->nthreads++;
	}
	return 0;
}

/* ---- completing requests */

static void finish_slot(struct blk_queue *q, struct blk_slot *s, uint8_t status)
{
	struct blk_request *r = &s->req;

	if (stats_on)
		stats_finish(q, s);
	/* Under the queue lock: a reset in between makes the slot stale. */
	if (s->gen == q->gen) {
		uint32_t len = status == VIRTIO_BLK_S_OK ? r->used_len : 1;

		/* A chain without a writable byte gets nothing written back. */
		if (r->status)
			*r->status = status;
		virtq_push(&q->vq->vq, s->head, r->status ? len : 0);
	}
	s->next = q->free;
	q->free = s;
	q->inflight--;
}

static uint8_t result_status(struct blk_queue *q, struct blk_slot *s)
{
	if (s->result >= 0)
		return VIRTIO_BLK_S_OK;
	if (s->result == -EOPNOTSUPP)
		return VIRTIO_BLK_S_UNSUPP;
	if (q->blk->img.read_only || s->result != -ENOSPC)
		pr_debug("virtio-blk %s: request type %u at %llu: %s", q->blk->name, s->req.type,
			 (unsigned long long)s->req.offset, strerror(-s->result));
	return VIRTIO_BLK_S_IOERR;
}

/* Pool completions; returns how many were returned to the driver. */
static unsigned int reap_pool(struct blk_queue *q)
{
	struct blk_slot *s, *next;
	unsigned int n = 0;

	pthread_mutex_lock(&q->done_lock);
	s = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->done_lock);
	for (; s; s = next, n++) {
		next = s->next;
		finish_slot(q, s, result_status(q, s));
	}
	return n;
}

/*
 * An io_uring read or write that moved less than asked (a signal, a
 * filesystem's limit): the rest is done synchronously, whole.
 */
static int finish_short(struct blk_queue *q, struct blk_slot *s, int res)
{
	if (res < 0 || (uint64_t)res == s->req.len || s->req.type == VIRTIO_BLK_T_FLUSH)
		return res < 0 ? res : 0;
	return run_sync(q->blk, &s->req);
}

static unsigned int reap_uring(struct blk_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		struct blk_slot *s = io_uring_cqe_get_data(cqe);

		if (stats_on)
			s->t_end = now_ns();
		s->result = finish_short(q, s, cqe->res);
		io_uring_cqe_seen(&q->ring, cqe);
		finish_slot(q, s, result_status(q, s));
		n++;
	}
	return n;
}

/* ---- taking requests */

static void submit_all(struct blk_queue *q);

static bool uring_submit(struct blk_queue *q, struct blk_slot *s)
{
	struct blk_image *img = &q->blk->img;
	struct blk_request *r = &s->req;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		submit_all(q);
		sqe = io_uring_get_sqe(&q->ring);
		if (!sqe)
			return false;
	}
	if (r->type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, img->flat_fd, r->data, r->ndata,
				    img->flat_offset + r->offset);
	else if (r->type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, img->flat_fd, r->data, r->ndata,
				     img->flat_offset + r->offset);
	else
		io_uring_prep_fsync(sqe, img->flat_fd,
				    img->sync_mode == KRUN_SYNC_RELAXED ? IORING_FSYNC_DATASYNC
									: 0);
	io_uring_sqe_set_data(sqe, s);
	if (stats_on)
		s->t_start = now_ns();
	q->to_submit++;
	return true;
}

static void copy_id(struct virtio_blk *b, struct blk_request *r)
{
	size_t len = strnlen(b->serial, sizeof(b->serial));
	uint8_t id[VIRTIO_BLK_ID_BYTES] = {0};

	/* NUL-padded; not NUL-terminated when the id fills all 20 bytes. */
	memcpy(id, b->serial, len);
	r->used_len = (uint32_t)buf_to_iov(r->data, r->ndata, 0, id, MIN(r->len, sizeof(id))) + 1;
}

/* Start one parsed request, or answer it at once. */
static void start_request(struct blk_queue *q, struct blk_slot *s)
{
	struct virtio_blk *b = q->blk;
	struct blk_request *r = &s->req;
	bool flat_io = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT ||
		       r->type == VIRTIO_BLK_T_FLUSH;

	if (r->type == VIRTIO_BLK_T_GET_ID) {
		copy_id(b, r);
		finish_slot(q, s, VIRTIO_BLK_S_OK);
		return;
	}
	/* KRUN_SYNC_NONE: flushes are acknowledged, never passed on. */
	if (r->type == VIRTIO_BLK_T_FLUSH && b->img.sync_mode == KRUN_SYNC_NONE) {
		finish_slot(q, s, VIRTIO_BLK_S_OK);
		return;
	}
	if (!r->len && r->type != VIRTIO_BLK_T_FLUSH && r->type != VIRTIO_BLK_T_DISCARD &&
	    r->type != VIRTIO_BLK_T_WRITE_ZEROES) {
		finish_slot(q, s, VIRTIO_BLK_S_OK);
		return;
	}
	if (q->uring && flat_io && uring_submit(q, s))
		return;
	/* Held back until the pass ends: alone, it may run right here. */
	if (flat_io && q->inline_ok && !q->held) {
		q->held = s;
		return;
	}
	if (q->held)
		pool_submit(b, q->held);
	q->held = NULL;
	pool_submit(b, s);
}

/*
 * A read, write or flush that is the only request in flight runs on the
 * queue thread: at queue depth 1 the pool's two thread hops (there and
 * back) are most of the latency, and nothing waits behind it. With more
 * in flight it goes to the pool, where requests overlap.
 */
static void run_held(struct blk_queue *q)
{
	struct blk_slot *s = q->held;

	q->held = NULL;
	if (!s)
		return;
	if (q->inflight != 1) {
		pool_submit(q->blk, s);
		return;
	}
	if (stats_on)
		s->t_start = now_ns();
	s->result = run_sync(q->blk, &s->req);
	if (stats_on) {
		s->t_end = now_ns();
		q->stats.inlined++;
	}
	finish_slot(q, s, result_status(q, s));
}

/* Take what the driver made available while slots are free; returns answers given at once. */
static void take_requests(struct blk_queue *q)
{
	struct virtq *vq = &q->vq->vq;

	while (q->free) {
		struct blk_slot *s = q->free;
		struct virtq_chain *c = q->chain;
		int got = virtq_pop(vq, c), st;

		if (got != 1)
			break;
		q->free = s->next;
		q->inflight++;
		s->head = c->head;
		s->gen = q->gen;
		if (stats_on)
			s->t_pop = now_ns(), s->t_start = s->t_end = 0;
		st = blk_request_parse(c->readable, c->nreadable, c->writable, c->nwritable,
				       &q->blk->lim, &s->req);
		if (st == VIRTIO_BLK_S_OK)
			start_request(q, s);
		else
			finish_slot(q, s, st < 0 ? VIRTIO_BLK_S_IOERR : (uint8_t)st);
	}
	run_held(q);
}

static void drain_eventfd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_debug("virtio-blk: eventfd: %s", strerror(errno));
}

/*
 * Hand the queued SQEs to the kernel. One that is not taken now (a
 * transient -EAGAIN/-EBUSY/-EINTR, or fewer taken than queued) stays in
 * the submission ring: the queue thread polls with a short timeout while
 * any are left (uring_pending), so none waits for a kick that never comes.
 */
static void submit_all(struct blk_queue *q)
{
	for (int tries = 0; io_uring_sq_ready(&q->ring) && tries < 8; tries++) {
		int r = io_uring_submit(&q->ring);

		if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR) {
			pr_debug("virtio-blk %s: io_uring_submit: %s", q->blk->name, strerror(-r));
			break;
		}
	}
	q->to_submit = io_uring_sq_ready(&q->ring);
}

static void serve_once(struct blk_queue *q)
{
	struct virtio_queue *vq = q->vq;
	uint16_t used_before;

	pthread_mutex_lock(&vq->lock);
	used_before = vq->vq.next_used;
	if (q->uring)
		reap_uring(q);
	reap_pool(q);
	take_requests(q);
	if (q->to_submit)
		submit_all(q);
	/* Everything returned in this pass gets one interrupt, if the driver wants it. */
	if (vq->vq.next_used != used_before && stats_on)
		q->stats.passes++;
	if (vq->vq.next_used != used_before && virtq_needs_notify(&vq->vq)) {
		virtio_notify_used(&q->blk->dev);
		q->stats.irqs += stats_on;
	}
	pthread_mutex_unlock(&vq->lock);
}

static void *queue_thread(void *arg)
{
	struct blk_queue *q = arg;
	struct pollfd pfd[2] = {{.fd = q->vq->kick_fd, .events = POLLIN},
				{.fd = q->done_efd, .events = POLLIN}};

	for (;;) {
		/* Consume the wakeups first: what comes after them wakes us again. */
		virtio_queue_ack_kick(q->vq);
		drain_eventfd(q->done_efd);
		serve_once(q);
		if (poll(pfd, 2, q->to_submit ? 1 : -1) < 0 && errno != EINTR)
			break;
	}
	return NULL;
}

/* ---- setting up */

static int queue_init(struct virtio_blk *b, unsigned int i)
{
	struct blk_queue *q = &b->queues[i];
	int ret;

	q->blk = b;
	q->done_efd = -1;
	q->index = i;
	/* KRUN_BLK_INLINE=0: every pool request goes to the pool (comparisons). */
	q->inline_ok = !getenv("KRUN_BLK_INLINE") || strcmp(getenv("KRUN_BLK_INLINE"), "0");
	q->vq = &b->dev.queues[i];
	q->slots = calloc(BLK_QUEUE_SIZE, sizeof(*q->slots));
	q->chain = malloc(sizeof(*q->chain));
	if (!q->slots || !q->chain)
		return -ENOMEM;
	for (unsigned int j = 0; j < BLK_QUEUE_SIZE; j++) {
		q->slots[j].q = q;
		q->slots[j].next = q->free;
		q->free = &q->slots[j];
	}
	pthread_mutex_init(&q->done_lock, NULL);
	q->done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->done_efd < 0)
		return -errno;
	if (!b->use_uring)
		return 0;
	ret = io_uring_queue_init(BLK_QUEUE_SIZE, &q->ring, 0);
	if (ret < 0) {
		if (i == 0)
			pr_info(
			    "virtio-blk %s: io_uring unavailable (%s): requests run on a thread "
			    "pool",
			    b->name, strerror(-ret));
		return 0;
	}
	if (io_uring_register_eventfd(&q->ring, q->done_efd) < 0) {
		io_uring_queue_exit(&q->ring);
		return 0;
	}
	q->uring = true;
	return 0;
}

static void blk_config_read(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	struct virtio_blk *b = dev->priv;

	memcpy(data, (uint8_t *)&b->config + offset, len);
}

static int blk_activate(struct virtio_device *dev)
{
	struct virtio_blk *b = dev->priv;

	if (!b->pool.nthreads && pool_start(b) < 0)
		return -EAGAIN;
	for (unsigned int i = 0; i < dev->nqueues; i++) {
		struct blk_queue *q = &b->queues[i];

		if (q->started)
			continue;
		if (vmm_thread_start(&q->thread, VMM_THREAD_BLK, queue_thread, q) != 0)
			return -EAGAIN;
		q->started = true;
	}
	return 0;
}

/*
 * The driver reset the device (the transport resets the rings next):
 * requests still in flight finish into guest memory, which stays mapped,
 * but are not returned to the rings the driver sets up afterwards.
 */
static void blk_reset(struct virtio_device *dev)
{
	struct virtio_blk *b = dev->priv;

	for (unsigned int i = 0; i < dev->nqueues; i++) {
		pthread_mutex_lock(&dev->queues[i].lock);
		b->queues[i].gen++;
		pthread_mutex_unlock(&dev->queues[i].lock);
	}
}

/* Everything of a disk whose VM never ran (no thread was started). */
static void blk_free(struct virtio_blk *b)
{
	for (unsigned int i = 0; i < BLK_MAX_QUEUES; i++) {
		struct blk_queue *q = &b->queues[i];

		if (q->uring)
			io_uring_queue_exit(&q->ring);
		if (q->blk && q->done_efd >= 0)
			close(q->done_efd);
		free(q->slots);
		free(q->chain);
	}
	blk_image_close(&b->img);
	free(b);
}

static void blk_release(struct virtio_device *dev)
{
	blk_free(dev->priv);
}

/* The VM stopped (no vCPU runs): the counters, if asked for. */
static void blk_drain(struct virtio_device *dev)
{
	if (stats_on)
		stats_log(dev->priv);
}

static const struct virtio_device_ops blk_ops = {
    .name = "blk",
    .device_id = VIRTIO_ID_BLOCK,
    .config_read = blk_config_read,
    .activate = blk_activate,
    .reset = blk_reset,
    .drain = blk_drain,
    .release = blk_release,
};

#define BLK_MAX_PHYS_BLOCK 4096	      /* the guest's page: larger would not be aligned to */
#define BLK_MAX_OPT_IO	   (4u << 20) /* larger tells a guest nothing it can use */

static bool power_of_2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/*
 * TOPOLOGY: the host's physical block (so that the guest's file systems
 * align to it instead of making the host read around 512-byte writes), and
 * the optimal I/O size (a qcow2 cluster: writing it whole skips the copy
 * from the backing file). Offered only when it says something.
 */
static void fill_topology(struct virtio_blk *b)
{
	struct virtio_blk_config *c = &b->config;
	const struct blk_image *img = &b->img;
	uint32_t logical = c->blk_size, phys = logical, opt = 0;

	if (power_of_2(img->phys_block) && img->phys_block > logical &&
	    img->phys_block <= BLK_MAX_PHYS_BLOCK)
		phys = img->phys_block;
	if (img->opt_io >= phys && img->opt_io <= BLK_MAX_OPT_IO && !(img->opt_io % phys))
		opt = img->opt_io;
	if (phys == logical && !opt)
		return;
	b->dev.features |= VIRTIO_BLK_F_TOPOLOGY;
	c->topology.physical_block_exp = (uint8_t)(__builtin_ctz(phys) - __builtin_ctz(logical));
	c->topology.alignment_offset = 0;
	c->topology.min_io_size = (uint16_t)(phys / logical);
	c->topology.opt_io_size = opt / logical;
}

static void fill_config(struct virtio_blk *b, unsigned int nqueues)
{
	struct virtio_blk_config *c = &b->config;
	struct blk_image *img = &b->img;

	b->lim.sectors = img->size >> BLK_SECTOR_SHIFT;
	b->lim.read_only = img->read_only;
	b->lim.discard = img->ops->discard && !img->read_only;
	b->lim.write_zeroes = img->ops->write_zeroes && !img->read_only;

	b->dev.features = VIRTIO_F_INDIRECT_DESC | VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX |
			  VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_MQ;
	c->capacity = b->lim.sectors;
	c->size_max = BLK_SIZE_MAX;
	c->seg_max = BLK_SEG_MAX;
	/* O_DIRECT wants the host's alignment: 4096 covers every sector size. */
	c->blk_size = img->direct_io ? 4096 : 512;
	c->num_queues = (uint16_t)nqueues;
	if (img->read_only)
		b->dev.features |= VIRTIO_BLK_F_RO;
	if (b->lim.discard) {
		b->dev.features |= VIRTIO_BLK_F_DISCARD;
		c->max_discard_sectors = BLK_MAX_RANGE_SECTORS;
		c->max_discard_seg = BLK_MAX_RANGES;
		c->discard_sector_alignment = 4096 >> BLK_SECTOR_SHIFT;
	}
	if (b->lim.write_zeroes) {
		b->dev.features |= VIRTIO_BLK_F_WRITE_ZEROES;
		c->max_write_zeroes_sectors = BLK_MAX_RANGE_SECTORS;
		c->max_write_zeroes_seg = BLK_MAX_RANGES;
		c->write_zeroes_may_unmap = 1;
	}
	fill_topology(b);
}

static enum blk_engine wanted_engine(void)
{
	const char *e = getenv("KRUN_BLK_IO");

	if (e && !strcmp(e, "threads"))
		return BLK_ENGINE_THREADS;
	if (e && !strcmp(e, "uring"))
		return BLK_ENGINE_URING;
	return BLK_ENGINE_AUTO;
}

/*
 * Can the image file do non-blocking reads (FMODE_NOWAIT)? Without, the
 * kernel's io_uring hands every request to one of its io-wq workers: a
 * thread hop like the pool's, dearer (measured on tmpfs, bench/RESULTS.md).
 * One sector is read with RWF_NOWAIT: EOPNOTSUPP says no; anything else
 * (data, EAGAIN for a page not in memory) says yes.
 */
static bool file_can_nowait(const struct blk_image *img)
{
	static uint8_t sector[4096] __attribute__((aligned(4096)));
	struct iovec iov = {sector, img->direct_io ? 4096 : 512};

	if (img->size < iov.iov_len)
		return true;
	return preadv2(img->flat_fd, &iov, 1, (off_t)img->flat_offset, RWF_NOWAIT) >= 0 ||
	       errno != EOPNOTSUPP;
}

static bool want_uring(const struct blk_image *img)
{
	switch (wanted_engine()) {
	case BLK_ENGINE_THREADS:
		return false;
	case BLK_ENGINE_URING:
		return true;
	default:
		return file_can_nowait(img);
	}
}

static int blk_create(struct vm *vm, const struct disk_config *disk)
{
	unsigned int nqueues = MIN(MAX(vm->nvcpus, 1u), (unsigned int)BLK_MAX_QUEUES);
	struct virtio_blk *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	b->name = disk->id;
	ret = blk_image_open(&b->img, disk);
	if (ret < 0) {
		pr_err("disk %s: cannot use %s", disk->id, disk->path);
		free(b);
		return ret;
	}
	if (strlen(disk->id) > VIRTIO_BLK_ID_BYTES)
		pr_warn("disk %s: the guest sees only the first %d bytes of the id as its serial",
			disk->id, VIRTIO_BLK_ID_BYTES);
	memcpy(b->serial, disk->id, MIN(strlen(disk->id), sizeof(b->serial)));
	b->use_uring = b->img.flat && want_uring(&b->img);
	stats_on = getenv("KRUN_BLK_STATS") && !strcmp(getenv("KRUN_BLK_STATS"), "1");
	fill_config(b, nqueues);
	b->dev.ops = &blk_ops;
	b->dev.priv = b;
	b->dev.config_size = sizeof(b->config);
	b->dev.nqueues = nqueues;
	b->dev.queue_max = BLK_QUEUE_SIZE;
	ret = virtio_mmio_add(vm, &b->dev);
	if (ret < 0) {
		pr_err("disk %s: %s", disk->id,
		       ret == -ENOSPC ? "too many virtio devices" : strerror(-ret));
		blk_free(b);
		return ret;
	}
	/* From here the VM owns the device: blk_release() frees it if the VM never runs. */
	for (unsigned int i = 0; !ret && i < nqueues; i++)
		ret = queue_init(b, i);
	if (ret < 0) {
		pr_err("disk %s: %s", disk->id, strerror(-ret));
		return ret;
	}
	pr_debug("disk %s: %s image %s, %llu bytes%s, %u queues, %s", disk->id, b->img.ops->name,
		 disk->path, (unsigned long long)b->img.size, b->img.read_only ? ", read-only" : "",
		 nqueues,
		 b->queues[0].uring ? "io_uring"
		 : b->img.flat && !b->use_uring && wanted_engine() == BLK_ENGINE_AUTO
		     ? "thread pool (the file has no non-blocking I/O)"
		     : "thread pool");
	return 0;
}

static int create_disks(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->cfg->ndisks; i++) {
		int ret = blk_create(vm, &vm->cfg->disks[i]);

		if (ret < 0)
			return ret;
	}
	return 0;
}

const struct device_builder disks_builder = {"virtio-blk disks", create_disks};
