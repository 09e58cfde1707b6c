/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio devices over the virtio-mmio transport (virtio 1.2, section 4.2,
 * "modern" version 2 registers only). A device describes itself with a
 * struct virtio_device_ops; the transport handles feature negotiation,
 * queue setup, notifications (KVM ioeventfd) and interrupts (KVM irqfd).
 */
#ifndef KRUN_VIRTIO_H
#define KRUN_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtqueue.h"

#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19
#define VIRTIO_ID_FS	  26

#define VIRTIO_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_EVENT_IDX     (1ULL << 29)
#define VIRTIO_F_VERSION_1     (1ULL << 32)

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

#define VIRTIO_MMIO_SIZE 0x1000

struct vm;
struct virtio_device;

struct virtio_device_ops {
	const char *name;
	uint32_t device_id;
	/* Config space (offset from 0x100); bounds already checked against config_size. */
	void (*config_read)(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len);
	void (*config_write)(struct virtio_device *dev, uint32_t offset, const void *data,
			     uint32_t len);
	/* The driver set DRIVER_OK: queues are ready, start serving them. */
	int (*activate)(struct virtio_device *dev);
	/* The driver reset the device: stop using the queues. Optional. */
	void (*reset)(struct virtio_device *dev);
	/* Flush what the guest handed over before the VM stops. Optional. */
	void (*drain)(struct virtio_device *dev);
	/*
	 * A VM that never ran is freed: free the device (the transport's fds
	 * are closed already). Optional; only called once virtio_mmio_add()
	 * succeeded, which hands the device over to the VM.
	 */
	void (*release)(struct virtio_device *dev);
};

struct virtio_queue {
	struct virtq vq;
	int kick_fd;	      /* eventfd signalled by KVM when the driver notifies this queue */
	pthread_mutex_t lock; /* held while the queue is served or reset */
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	struct vm *vm;
	void *priv;
	uint64_t features; /* offered; VERSION_1 is always added */
	uint32_t config_size;
	unsigned int nqueues;
	uint16_t queue_max;

	/* Filled by virtio_mmio_add(). */
	uint64_t base;
	unsigned int irq;
	int irq_fd;		  /* signals edges while the device is alone on its line */
	struct vm_irq_line *line; /* the line, shared with other devices or not */
	struct virtio_queue *queues;

	/* Transport registers, under reg_lock. */
	pthread_mutex_t reg_lock;
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t status;
	uint32_t config_generation;
	atomic_uint interrupt_status;
	bool active;
};

/*
 * Place the device on the MMIO bus with the next free window and an IRQ
 * (its own while there are free lines, then one it shares), wire
 * its kicks and interrupt through KVM, and announce it on the kernel command
 * line. The caller filled ops, priv, features, config_size, nqueues,
 * queue_max. On success the VM owns the device (ops->release frees it if the
 * VM never runs); on failure nothing of the transport is left open and the
 * caller frees the device.
 */
int virtio_mmio_add(struct vm *vm, struct virtio_device *dev);

/* Tell the driver about used buffers / a config change. */
void virtio_notify_used(struct virtio_device *dev);
void virtio_notify_config(struct virtio_device *dev);

/* Push "head" with "len" bytes and interrupt the driver if it wants it. */
void virtio_queue_complete(struct virtio_device *dev, struct virtio_queue *q, uint16_t head,
			   uint32_t len);

/*
 * The same for a chain served after the queue lock was dropped (a worker
 * that handles the request unlocked): nothing goes back if the driver reset
 * the queue since the chain was popped. Call with q->lock held.
 */
void virtio_queue_complete_chain(struct virtio_device *dev, struct virtio_queue *q,
				 const struct virtq_chain *chain, uint32_t len);

/* Consume a kick eventfd's counter. */
void virtio_queue_ack_kick(struct virtio_queue *q);

#endif
