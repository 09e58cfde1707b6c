/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues (virtio 1.2, section 2.7), device side. Everything in the
 * rings is written by the guest and may change under our feet, so each value
 * is read once, checked, and only then used.
 */
#ifndef KRUN_VIRTQUEUE_H
#define KRUN_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/iov.h"
#include "vmm/memory.h"

#define VIRTQ_MAX_SIZE	1024
#define VIRTQ_MAX_CHAIN 1024 /* descriptors in one chain, indirect included */

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
} __attribute__((packed));

struct virtq {
	/* Set by the driver through the transport before the queue is ready. */
	uint16_t size;
	uint64_t desc_addr, avail_addr, used_addr;
	bool ready;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */

	/* Host views of the rings, valid while ready. */
	const struct guest_mem *mem;
	struct virtq_desc *desc;
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint16_t *used;	 /* flags, idx, then used elements, avail_event */

	uint16_t next_avail; /* next avail ring slot to consume */
	uint16_t next_used;  /* our copy of used->idx */
	uint16_t signalled_used;
	bool signalled_valid;
	bool broken; /* the driver broke the protocol; stop using the queue */
	/*
	 * Bumped by every reset (QUEUE_READY 0, device reset): a chain popped
	 * before it belongs to rings the driver has taken back.
	 */
	uint32_t generation;
};

/* A descriptor chain mapped to host memory. */
struct virtq_chain {
	uint16_t head;
	uint32_t generation; /* of the queue it was popped from */
	unsigned int nreadable, nwritable;
	struct iovec readable[VIRTQ_MAX_CHAIN]; /* guest -> device */
	struct iovec writable[VIRTQ_MAX_CHAIN]; /* device -> guest */
	uint64_t readable_len, writable_len;
};

/*
 * A descriptor chain as the driver wrote it, for devices whose buffers are
 * guest addresses to act on rather than data (the balloon's page ranges):
 * addr and len are unchecked, flags keep only VIRTQ_DESC_F_WRITE.
 */
struct virtq_raw_chain {
	uint16_t head;
	unsigned int ndesc;
	struct virtq_desc desc[VIRTQ_MAX_CHAIN];
};

/* Check the rings' addresses and map them; false leaves the queue unusable. */
bool virtq_activate(struct virtq *vq, const struct guest_mem *mem);
void virtq_reset(struct virtq *vq);

/*
 * Take the next available chain: 1 when "chain" was filled, 0 when the ring
 * is empty, -EINVAL when the driver put something invalid there (the queue
 * is then marked broken).
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);

/* The same, leaving the buffers unmapped: the caller validates each one. */
int virtq_pop_raw(struct virtq *vq, struct virtq_raw_chain *chain);

/*
 * Give back the last n chains virtq_pop() took and nothing pushed: the next
 * pops take them again (a device that found nothing to put in them).
 */
void virtq_unpop(struct virtq *vq, uint16_t n);

/* Return a chain to the driver with "len" bytes written into it. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * The same for a chain served without the queue lock held since its pop:
 * dropped (false) when the queue was reset meanwhile, as its head means
 * nothing in the rings the driver set up since.
 */
bool virtq_push_chain(struct virtq *vq, const struct virtq_chain *chain, uint32_t len);

/* After pushes: does the driver want an interrupt (NO_INTERRUPT / used_event)? */
bool virtq_needs_notify(struct virtq *vq);

/* Is anything available? (without consuming) */
bool virtq_has_avail(struct virtq *vq);

/* Copy helpers between flat buffers and iovec arrays; return bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len);
size_t buf_to_iov(const struct iovec *iov, unsigned int n, size_t skip, const void *buf,
		  size_t len);

#endif
