// SPDX-License-Identifier: Apache-2.0
/* The split-virtqueue walker against well-formed and hostile rings. */
#include <stdlib.h>

#include "devices/virtio/virtqueue.h"
#include "test.h"
#include "vmm/util.h"

#define QSIZE	  8
#define DESC_GPA  0x10000
#define AVAIL_GPA 0x11000
#define USED_GPA  0x12000
#define DATA_GPA  0x20000

static struct guest_mem mem;
static struct virtq vq;
static struct virtq_chain chain;

static struct virtq_desc *desc(unsigned int i)
{
	return (struct virtq_desc *)guest_ptr(&mem, DESC_GPA, 16 * QSIZE) + i;
}

static uint16_t *avail(void)
{
	return guest_ptr(&mem, AVAIL_GPA, 6 + 2 * QSIZE);
}

static uint16_t *used(void)
{
	return guest_ptr(&mem, USED_GPA, 6 + 8 * QSIZE);
}

static void setup_with(bool event_idx)
{
	memset(mem.regions[0].hva, 0, 1 * MiB);
	virtq_reset(&vq);
	vq.event_idx = event_idx;
	vq.size = QSIZE;
	vq.desc_addr = DESC_GPA;
	vq.avail_addr = AVAIL_GPA;
	vq.used_addr = USED_GPA;
	CHECK(virtq_activate(&vq, &mem));
	vq.ready = true;
}

static void setup(void)
{
	setup_with(false);
}

static void make_available(uint16_t head)
{
	uint16_t *a = avail();

	a[2 + a[1] % QSIZE] = head;
	a[1]++;
}

static void set_desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(i) = (struct virtq_desc){addr, len, flags, next};
}

static void test_simple_chain(void)
{
	setup();
	CHECK_EQ(virtq_pop(&vq, &chain), 0); /* empty */
	set_desc(0, DATA_GPA, 100, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA + 100, 50, VIRTQ_DESC_F_NEXT, 2);
	set_desc(2, DATA_GPA + 200, 300, VIRTQ_DESC_F_WRITE, 0);
	make_available(0);
	CHECK(virtq_has_avail(&vq));
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 0);
	CHECK_EQ(chain.nreadable, 2);
	CHECK_EQ(chain.nwritable, 1);
	CHECK_EQ(chain.readable_len, 150);
	CHECK_EQ(chain.writable_len, 300);
	CHECK(chain.writable[0].iov_base == guest_ptr(&mem, DATA_GPA + 200, 300));
	CHECK_EQ(virtq_pop(&vq, &chain), 0);

	virtq_push(&vq, 0, 42);
	CHECK_EQ(used()[1], 1);
	CHECK_EQ(((uint32_t *)(used() + 2))[0], 0);
	CHECK_EQ(((uint32_t *)(used() + 2))[1], 42);
	CHECK(virtq_needs_notify(&vq));
	avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	CHECK(!virtq_needs_notify(&vq));
}

/*
 * VIRTIO_F_EVENT_IDX: whenever the device finds the ring empty it asks for a
 * kick at the next entry (avail_event), and only interrupts the driver when
 * the used index passes used_event.
 */
static void test_event_idx(void)
{
	uint16_t *avail_event = &used()[2 + 4 * QSIZE], *used_event = &avail()[2 + QSIZE];

	setup_with(true);
	*avail_event = 0xdead;
	CHECK(!virtq_has_avail(&vq));
	CHECK_EQ(*avail_event, 0);
	set_desc(0, DATA_GPA, 10, VIRTQ_DESC_F_WRITE, 0);
	for (int i = 0; i < 3; i++)
		make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(*avail_event, 0); /* not empty yet: no new wish */
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	CHECK_EQ(*avail_event, 3);

	*used_event = 1; /* interrupt once used->idx passes 1 */
	virtq_push(&vq, 0, 1);
	CHECK(virtq_needs_notify(&vq)); /* the first one always does */
	virtq_push(&vq, 0, 1);
	CHECK(virtq_needs_notify(&vq)); /* idx 1 -> 2 crosses used_event 1 */
	virtq_push(&vq, 0, 1);
	CHECK(!virtq_needs_notify(&vq));
}

static void test_indirect(void)
{
	struct virtq_desc *table = guest_ptr(&mem, DATA_GPA + 0x8000, 3 * 16);

	setup();
	table[0] = (struct virtq_desc){DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 1};
	table[1] =
	    (struct virtq_desc){DATA_GPA + 10, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2};
	table[2] = (struct virtq_desc){DATA_GPA + 30, 30, VIRTQ_DESC_F_WRITE, 0};
	set_desc(3, DATA_GPA + 0x8000, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_available(3);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.nreadable, 1);
	CHECK_EQ(chain.nwritable, 2);
	CHECK_EQ(chain.writable_len, 50);

	/* Nested indirect is refused. */
	setup();
	table = guest_ptr(&mem, DATA_GPA + 0x8000, 16);
	table[0] = (struct virtq_desc){DATA_GPA + 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0};
	set_desc(0, DATA_GPA + 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);
	CHECK(vq.broken);

	/* A table whose size is not a multiple of 16. */
	setup();
	set_desc(0, DATA_GPA + 0x8000, 17, VIRTQ_DESC_F_INDIRECT, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);

	/* A looping indirect table. */
	setup();
	table = guest_ptr(&mem, DATA_GPA + 0x8000, 32);
	table[0] = (struct virtq_desc){DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1};
	table[1] = (struct virtq_desc){DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 0};
	set_desc(0, DATA_GPA + 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);
}

static void test_hostile(void)
{
	/* A descriptor loop. */
	setup();
	set_desc(0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);
	/* Once broken, the queue stays silent until reset. */
	CHECK_EQ(virtq_pop(&vq, &chain), 0);

	/* next out of range, head out of range. */
	setup();
	set_desc(0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, QSIZE);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);
	setup();
	make_available(QSIZE + 3);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);

	/* A buffer outside guest RAM, one that wraps, one that straddles the end. */
	setup();
	set_desc(0, 0xffffffffffff0000ULL, 0x20000, 0, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);
	setup();
	set_desc(0, 1 * MiB - 8, 16, 0, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);

	/* A readable buffer after a writable one. */
	setup();
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(1, DATA_GPA, 8, 0, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);

	/* The driver claims more available entries than the ring holds. */
	setup();
	avail()[1] = QSIZE + 1;
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);

	/* Rings that do not fit, or are misaligned, never activate. */
	virtq_reset(&vq);
	vq.size = QSIZE;
	vq.desc_addr = 1 * MiB - 16;
	vq.avail_addr = AVAIL_GPA;
	vq.used_addr = USED_GPA;
	CHECK(!virtq_activate(&vq, &mem));
	vq.desc_addr = DESC_GPA + 8;
	CHECK(!virtq_activate(&vq, &mem));
	vq.desc_addr = DESC_GPA;
	vq.size = 6; /* not a power of two */
	CHECK(!virtq_activate(&vq, &mem));
}

static void test_iov_copy(void)
{
	char a[5], b[7], out[12];
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};

	CHECK_EQ(buf_to_iov(iov, 2, 3, "hello world!", 12), 9);
	CHECK_EQ(iov_to_buf(iov, 2, 3, out, sizeof(out)), 9);
	CHECK(!memcmp(out, "hello wor", 9));
	CHECK_EQ(iov_to_buf(iov, 2, 100, out, sizeof(out)), 0);
}

/*
 * A chain still being served when the driver disables the queue (QUEUE_READY
 * 0) and sets it up again: its head means nothing in the new rings and must
 * not be completed there.
 */
static void test_stale_chain_after_reset(void)
{
	struct virtq_chain stale, fresh;

	setup();
	set_desc(0, DATA_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	make_available(0);
	CHECK_EQ(virtq_pop(&vq, &stale), 1);
	/* The driver takes the queue back and sets up new rings at the same place. */
	setup();
	set_desc(3, DATA_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	make_available(3);
	CHECK_EQ(virtq_pop(&vq, &fresh), 1);
	CHECK(!virtq_push_chain(&vq, &stale, 10));
	CHECK_EQ(used()[1], 0); /* nothing went into the new used ring */
	CHECK(virtq_push_chain(&vq, &fresh, 20));
	CHECK_EQ(used()[1], 1);
	CHECK_EQ(((struct virtq_used_elem *)(used() + 2))[0].id, 3);
	CHECK_EQ(((struct virtq_used_elem *)(used() + 2))[0].len, 20);
}

TEST_MAIN("virtqueue", guest_mem_init(&mem, 1 * MiB); test_simple_chain(); test_event_idx();
	  test_indirect(); test_hostile(); test_iov_copy(); test_stale_chain_after_reset();
	  guest_mem_release(&mem))
