// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* Ring layout offsets, in 16-bit units for avail and used. */
#define AVAIL_FLAGS	  0
#define AVAIL_IDX	  1
#define AVAIL_RING	  2
#define USED_FLAGS	  0
#define USED_IDX	  1
#define USED_RING	  2				   /* element i at byte 4 + 8 * i */
#define AVAIL_EVENT(size) (USED_RING + 4 * (size_t)(size)) /* after the elements */

static size_t avail_bytes(uint16_t size)
{
	return 2 * (3 + (size_t)size);
}

/* flags, idx, the elements, and avail_event when VIRTIO_F_EVENT_IDX is on. */
static size_t used_bytes(uint16_t size, bool event_idx)
{
	return 4 + 8 * (size_t)size + (event_idx ? 2 : 0);
}

bool virtq_activate(struct virtq *vq, const struct guest_mem *mem)
{
	uint16_t size = vq->size;

	/* Power of two, bounded, and the alignment the spec requires. */
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)) || (vq->desc_addr & 15) ||
	    (vq->avail_addr & 1) || (vq->used_addr & 3))
		return false;
	vq->desc = guest_ptr(mem, vq->desc_addr, 16 * (uint64_t)size);
	vq->avail = guest_ptr(mem, vq->avail_addr, avail_bytes(size));
	vq->used = guest_ptr(mem, vq->used_addr, used_bytes(size, vq->event_idx));
	if (!vq->desc || !vq->avail || !vq->used)
		return false;
	vq->mem = mem;
	vq->next_avail = 0;
	vq->next_used = 0;
	vq->signalled_valid = false;
	vq->broken = false;
	return true;
}

void virtq_reset(struct virtq *vq)
{
	uint32_t generation = vq->generation + 1;

	memset(vq, 0, sizeof(*vq));
	vq->generation = generation;
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/*
 * The ring looks empty. With EVENT_IDX the driver kicks only when it adds
 * the entry named by avail_event: ask for the next one, then look again, as
 * an entry added before the driver could see the request would otherwise
 * wait for a kick that never comes.
 */
static bool still_empty(struct virtq *vq)
{
	if (!vq->event_idx)
		return true;
	store16(&vq->used[AVAIL_EVENT(vq->size)], vq->next_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->avail[AVAIL_IDX]) == vq->next_avail;
}

bool virtq_has_avail(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	return load16(&vq->avail[AVAIL_IDX]) != vq->next_avail || !still_empty(vq);
}

static int mark_broken(struct virtq *vq, const char *why)
{
	if (!vq->broken)
		pr_warn_guest("virtqueue: %s; queue disabled until reset", why);
	vq->broken = true;
	return -EINVAL;
}

/* Read descriptor "i" of a table of "n" (the ring or an indirect table). */
static bool read_desc(const struct virtq_desc *table, uint32_t n, uint32_t i,
		      struct virtq_desc *out)
{
	if (i >= n)
		return false;
	memcpy(out, (const void *)&table[i], sizeof(*out)); /* one snapshot */
	return true;
}

/* Where a walk puts each descriptor: mapped (struct virtq_chain) or raw. */
typedef int (*desc_sink)(struct virtq *vq, void *out, const struct virtq_desc *d);

static int add_buffer(struct virtq *vq, void *out, const struct virtq_desc *d)
{
	struct virtq_chain *c = out;
	void *host;

	if (c->nreadable + c->nwritable >= VIRTQ_MAX_CHAIN)
		return mark_broken(vq, "descriptor chain too long");
	host = guest_ptr(vq->mem, d->addr, d->len);
	if (!host)
		return mark_broken(vq, "descriptor points outside guest RAM");
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		c->writable[c->nwritable++] = (struct iovec){host, d->len};
		c->writable_len += d->len;
	} else {
		/* Device-readable buffers must all come first. */
		if (c->nwritable)
			return mark_broken(vq, "readable descriptor after a writable one");
		c->readable[c->nreadable++] = (struct iovec){host, d->len};
		c->readable_len += d->len;
	}
	return 0;
}

/* The descriptor as the driver wrote it: its address is for the device to judge. */
static int add_raw(struct virtq *vq, void *out, const struct virtq_desc *d)
{
	struct virtq_raw_chain *c = out;

	if (c->ndesc >= VIRTQ_MAX_CHAIN)
		return mark_broken(vq, "descriptor chain too long");
	c->desc[c->ndesc].addr = d->addr;
	c->desc[c->ndesc].len = d->len;
	c->desc[c->ndesc].flags = d->flags & VIRTQ_DESC_F_WRITE;
	c->desc[c->ndesc].next = 0;
	c->ndesc++;
	return 0;
}

static int walk_indirect(struct virtq *vq, void *out, desc_sink add, const struct virtq_desc *d)
{
	const struct virtq_desc *table;
	struct virtq_desc id;
	uint32_t n = d->len / sizeof(struct virtq_desc);
	uint32_t i = 0, steps = 0;

	if (d->len % sizeof(struct virtq_desc) || n == 0 || n > VIRTQ_MAX_CHAIN)
		return mark_broken(vq, "bad indirect descriptor table size");
	table = guest_ptr(vq->mem, d->addr, d->len);
	if (!table)
		return mark_broken(vq, "indirect table outside guest RAM");
	for (;;) {
		if (!read_desc(table, n, i, &id) || ++steps > n)
			return mark_broken(vq, "bad or looping indirect chain");
		if (id.flags & VIRTQ_DESC_F_INDIRECT)
			return mark_broken(vq, "nested indirect descriptor");
		if (add(vq, out, &id) < 0)
			return -EINVAL;
		if (!(id.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = id.next;
	}
}

/* Take the next available head; 1, 0 (empty) or -EINVAL (broken). */
static int next_head(struct virtq *vq, uint16_t *head)
{
	uint16_t avail_idx;

	if (!vq->ready || vq->broken)
		return 0;
	avail_idx = load16(&vq->avail[AVAIL_IDX]);
	if (avail_idx == vq->next_avail) {
		if (still_empty(vq))
			return 0;
		avail_idx = load16(&vq->avail[AVAIL_IDX]);
	}
	if ((uint16_t)(avail_idx - vq->next_avail) > vq->size)
		return mark_broken(vq, "available index ran ahead of the ring");

	*head = load16(&vq->avail[AVAIL_RING + vq->next_avail % vq->size]);
	vq->next_avail++;
	return 1;
}

/* Hand every descriptor of the chain at "head" to "add", indirect tables included. */
static int walk_chain(struct virtq *vq, uint16_t head, void *out, desc_sink add)
{
	struct virtq_desc d;
	uint32_t i, steps = 0;

	for (i = head;;) {
		if (!read_desc(vq->desc, vq->size, i, &d) || ++steps > vq->size)
			return mark_broken(vq, "bad or looping descriptor chain");
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* An indirect descriptor stands alone in its chain. */
			if (d.flags & VIRTQ_DESC_F_NEXT || steps > 1)
				return mark_broken(vq, "indirect descriptor inside a chain");
			return walk_indirect(vq, out, add, &d) < 0 ? -EINVAL : 1;
		}
		if (add(vq, out, &d) < 0)
			return -EINVAL;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	int ret = next_head(vq, &c->head);

	if (ret != 1)
		return ret;
	c->generation = vq->generation;
	c->nreadable = c->nwritable = 0;
	c->readable_len = c->writable_len = 0;
	return walk_chain(vq, c->head, c, add_buffer);
}

int virtq_pop_raw(struct virtq *vq, struct virtq_raw_chain *c)
{
	int ret = next_head(vq, &c->head);

	if (ret != 1)
		return ret;
	c->ndesc = 0;
	return walk_chain(vq, c->head, c, add_raw);
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	vq->next_avail -= n;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *ring = (uint8_t *)vq->used + 4;
	struct virtq_used_elem elem = {head, len};

	if (!vq->ready || vq->broken)
		return;
	memcpy(ring + 8 * (vq->next_used % vq->size), &elem, sizeof(elem));
	vq->next_used++;
	/* The element must be visible before the index that publishes it. */
	store16(&vq->used[USED_IDX], vq->next_used);
}

bool virtq_push_chain(struct virtq *vq, const struct virtq_chain *chain, uint32_t len)
{
	if (chain->generation != vq->generation)
		return false;
	virtq_push(vq, chain->head, len);
	return true;
}

bool virtq_needs_notify(struct virtq *vq)
{
	uint16_t old, new, event;

	if (!vq->ready || vq->broken)
		return false;
	/* Our used->idx store must be ordered before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(&vq->avail[AVAIL_FLAGS]) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	old = vq->signalled_used;
	new = vq->next_used;
	vq->signalled_used = new;
	if (!vq->signalled_valid) {
		vq->signalled_valid = true;
		return true;
	}
	event = load16(&vq->avail[AVAIL_RING + vq->size]); /* used_event */
	/* Notify when used_event lies in (old, new]: vring_need_event(). */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}
