// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-mmio transport. Register accesses come from vCPU threads;
 * queue notifications bypass them entirely through KVM_IOEVENTFD, and
 * interrupts are injected with KVM_IRQFD, so the data path never waits on a
 * vCPU thread.
 *
 * Interrupt lines: the first VM_VIRTIO_LINES devices get a line each and
 * signal edges through their irqfd. Later devices share lines, round robin
 * from the first. A shared line is level-triggered (the MP table says so)
 * and the VMM drives it: up while any of its devices has a bit set in
 * InterruptStatus, down when the guest's InterruptACK clears the last one.
 * The guest's virtio_mmio driver asks for its IRQ with IRQF_SHARED and its
 * handler reads each device's InterruptStatus, so every device on the line
 * is looked at. Edges are not used on a shared line: with the in-kernel
 * IOAPIC, irqfds on one GSI share KVM's line state, and an edge raised
 * while another irqfd's pulse is up is merged with it and lost. A level
 * stays up until the guest has seen every cause; after its EOI the
 * IOAPIC delivers again if the line is still up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/vm.h"

enum mmio_reg {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC  0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4b52554e /* "KRUN" */
#define INT_USED_BUFFER	   1
#define INT_CONFIG_CHANGE  2
#define FIRST_VIRTIO_IRQ   5
#define LAST_VIRTIO_IRQ	   23
#define RTC_IRQ		   8

_Static_assert(LAST_VIRTIO_IRQ - FIRST_VIRTIO_IRQ == VM_VIRTIO_LINES, "one line per free IRQ");
_Static_assert(VIRTIO_MMIO_BASE + VM_MAX_VIRTIO * VIRTIO_MMIO_SIZE <= IOAPIC_ADDR,
	       "the virtio-mmio windows end below the IOAPIC");

static struct virtio_queue *selected_queue(struct virtio_device *dev)
{
	return dev->queue_sel < dev->nqueues ? &dev->queues[dev->queue_sel] : NULL;
}

static void set_addr_half(uint64_t *addr, uint32_t value, bool high)
{
	if (high)
		*addr = (*addr & 0xffffffffULL) | ((uint64_t)value << 32);
	else
		*addr = (*addr & ~0xffffffffULL) | value;
}

static void line_update(struct virtio_device *dev);

static void device_reset(struct virtio_device *dev)
{
	if (dev->ops->reset && dev->active)
		dev->ops->reset(dev);
	for (unsigned int i = 0; i < dev->nqueues; i++) {
		struct virtio_queue *q = &dev->queues[i];

		pthread_mutex_lock(&q->lock);
		virtq_reset(&q->vq);
		pthread_mutex_unlock(&q->lock);
	}
	dev->driver_features = 0;
	dev->device_features_sel = dev->driver_features_sel = dev->queue_sel = 0;
	dev->status = 0;
	__atomic_store_n(&dev->active, false, __ATOMIC_RELEASE);
	atomic_store(&dev->interrupt_status, 0);
	line_update(dev);
}

/* What every device offers on top of its own features. */
static uint64_t offered_features(const struct virtio_device *dev)
{
	return dev->features | VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX;
}

/* FEATURES_OK only sticks when the driver asked for nothing we don't offer. */
static uint32_t filter_status(struct virtio_device *dev, uint32_t status)
{
	uint64_t offered = offered_features(dev);

	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
		if ((dev->driver_features & ~offered) ||
		    !(dev->driver_features & VIRTIO_F_VERSION_1))
			status &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	return status;
}

static void write_status(struct virtio_device *dev, uint32_t status)
{
	if (status == 0) {
		device_reset(dev);
		return;
	}
	status = filter_status(dev, status);
	dev->status = status;
	if ((status & VIRTIO_STATUS_DRIVER_OK) && !dev->active &&
	    (status & VIRTIO_STATUS_FEATURES_OK)) {
		__atomic_store_n(&dev->active, true, __ATOMIC_RELEASE);
		if (dev->ops->activate(dev) < 0) {
			pr_err_guest("virtio-%s: activation failed", dev->ops->name);
			dev->status |= VIRTIO_STATUS_NEEDS_RESET;
			virtio_notify_config(dev);
		}
		/* A cause raised before the driver was ready may hold a shared line now. */
		line_update(dev);
	}
}

static void write_queue_ready(struct virtio_device *dev, struct virtio_queue *q, uint32_t v)
{
	pthread_mutex_lock(&q->lock);
	if (v == 1 && !q->vq.ready) {
		q->vq.event_idx = dev->driver_features & VIRTIO_F_EVENT_IDX;
		if (virtq_activate(&q->vq, &dev->vm->mem))
			q->vq.ready = true;
		else
			pr_warn_guest("virtio-%s: queue %u has invalid rings", dev->ops->name,
				      dev->queue_sel);
	} else if (v == 0) {
		virtq_reset(&q->vq);
	}
	pthread_mutex_unlock(&q->lock);
}

static uint32_t reg_read(struct virtio_device *dev, uint64_t offset)
{
	struct virtio_queue *q = selected_queue(dev);
	uint64_t features = offered_features(dev);

	switch (offset) {
	case REG_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return dev->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return dev->device_features_sel < 2
			   ? (uint32_t)(features >> (32 * dev->device_features_sel))
			   : 0;
	case REG_QUEUE_NUM_MAX:
		return q ? dev->queue_max : 0;
	case REG_QUEUE_READY:
		return q ? q->vq.ready : 0;
	case REG_INTERRUPT_STATUS:
		return atomic_load(&dev->interrupt_status);
	case REG_STATUS:
		return dev->status;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
		return 0xffffffff; /* no shared memory regions */
	case REG_CONFIG_GENERATION:
		return dev->config_generation;
	default:
		return 0;
	}
}

static void reg_write(struct virtio_device *dev, uint64_t offset, uint32_t v)
{
	struct virtio_queue *q = selected_queue(dev);
	/* Queue layout is frozen once the queue is live. */
	bool q_configurable = q && !q->vq.ready;

	switch (offset) {
	case REG_DEVICE_FEATURES_SEL:
		dev->device_features_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		if (dev->driver_features_sel < 2 && !(dev->status & VIRTIO_STATUS_FEATURES_OK))
			set_addr_half(&dev->driver_features, v, dev->driver_features_sel == 1);
		break;
	case REG_DRIVER_FEATURES_SEL:
		dev->driver_features_sel = v;
		break;
	case REG_QUEUE_SEL:
		dev->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
		if (q_configurable)
			q->vq.size = v <= dev->queue_max ? (uint16_t)v : 0;
		break;
	case REG_QUEUE_READY:
		if (q)
			write_queue_ready(dev, q, v);
		break;
	case REG_QUEUE_NOTIFY:
		/* Only reached when the ioeventfd is missing: kick the worker by hand. */
		if (v < dev->nqueues) {
			uint64_t one = 1;

			if (write(dev->queues[v].kick_fd, &one, sizeof(one)) < 0)
				pr_debug("virtio-%s: kick: %s", dev->ops->name, strerror(errno));
		}
		break;
	case REG_INTERRUPT_ACK:
		atomic_fetch_and(&dev->interrupt_status, ~v);
		line_update(dev);
		break;
	case REG_STATUS:
		write_status(dev, v);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (q_configurable)
			set_addr_half(&q->vq.desc_addr, v, offset == REG_QUEUE_DESC_HIGH);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (q_configurable)
			set_addr_half(&q->vq.avail_addr, v, offset == REG_QUEUE_DRIVER_HIGH);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (q_configurable)
			set_addr_half(&q->vq.used_addr, v, offset == REG_QUEUE_DEVICE_HIGH);
		break;
	default:
		break; /* read-only or unknown: ignored */
	}
}

static void mmio_read(struct bus_device *bdev, uint64_t offset, void *data, uint32_t len)
{
	struct virtio_device *dev = bdev->priv;

	memset(data, 0, len);
	pthread_mutex_lock(&dev->reg_lock);
	if (offset >= REG_CONFIG) {
		uint64_t off = offset - REG_CONFIG;

		if (off < dev->config_size && len <= dev->config_size - off &&
		    dev->ops->config_read)
			dev->ops->config_read(dev, (uint32_t)off, data, len);
	} else if (len == 4 && !(offset & 3)) {
		uint32_t v = reg_read(dev, offset);

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&dev->reg_lock);
}

static void mmio_write(struct bus_device *bdev, uint64_t offset, const void *data, uint32_t len)
{
	struct virtio_device *dev = bdev->priv;

	pthread_mutex_lock(&dev->reg_lock);
	if (offset >= REG_CONFIG) {
		uint64_t off = offset - REG_CONFIG;

		if (off < dev->config_size && len <= dev->config_size - off &&
		    dev->ops->config_write)
			dev->ops->config_write(dev, (uint32_t)off, data, len);
	} else if (len == 4 && !(offset & 3)) {
		uint32_t v;

		memcpy(&v, data, 4);
		reg_write(dev, offset, v);
	}
	pthread_mutex_unlock(&dev->reg_lock);
}

static const struct bus_device_ops virtio_mmio_ops = {
    .name = "virtio-mmio",
    .read = mmio_read,
    .write = mmio_write,
};

/* ---- interrupt lines */

static void set_line(struct virtio_device *dev, struct vm_irq_line *line, bool up)
{
	int ret;

	if (line->asserted == up)
		return;
	line->asserted = up;
	ret = vm_irq_line(dev->vm, line->irq, up);
	if (ret < 0)
		pr_debug("virtio-%s: irq %u: %s", dev->ops->name, line->irq, strerror(-ret));
}

/*
 * Causes of devices whose driver is not running (no DRIVER_OK) do not hold
 * a shared line: no handler of the guest would clear them, and the line
 * would interrupt until the guest disables it, for every device on it.
 */
static bool line_pending(struct vm *vm, const struct vm_irq_line *line)
{
	for (unsigned int i = 0; i < vm->nvirtio; i++) {
		struct virtio_device *d = vm->virtio[i];

		if (d->line == line && __atomic_load_n(&d->active, __ATOMIC_ACQUIRE) &&
		    atomic_load(&d->interrupt_status))
			return true;
	}
	return false;
}

/* A shared line follows its devices' InterruptStatus; called after it changed. */
static void line_update(struct virtio_device *dev)
{
	struct vm_irq_line *line = dev->line;

	if (!line || !line->shared)
		return;
	pthread_mutex_lock(&line->lock);
	set_line(dev, line, line_pending(dev->vm, line));
	pthread_mutex_unlock(&line->lock);
}

static void raise_interrupt(struct virtio_device *dev, uint32_t cause)
{
	uint64_t one = 1;

	if (dev->line && dev->line->shared) {
		pthread_mutex_lock(&dev->line->lock);
		atomic_fetch_or(&dev->interrupt_status, cause);
		if (__atomic_load_n(&dev->active, __ATOMIC_ACQUIRE))
			set_line(dev, dev->line, true);
		pthread_mutex_unlock(&dev->line->lock);
		return;
	}
	atomic_fetch_or(&dev->interrupt_status, cause);
	if (write(dev->irq_fd, &one, sizeof(one)) < 0)
		pr_debug("virtio-%s: irqfd: %s", dev->ops->name, strerror(errno));
}

void virtio_notify_used(struct virtio_device *dev)
{
	raise_interrupt(dev, INT_USED_BUFFER);
}

void virtio_notify_config(struct virtio_device *dev)
{
	dev->config_generation++;
	raise_interrupt(dev, INT_CONFIG_CHANGE);
}

void virtio_queue_complete(struct virtio_device *dev, struct virtio_queue *q, uint16_t head,
			   uint32_t len)
{
	virtq_push(&q->vq, head, len);
	if (virtq_needs_notify(&q->vq))
		virtio_notify_used(dev);
}

void virtio_queue_complete_chain(struct virtio_device *dev, struct virtio_queue *q,
				 const struct virtq_chain *chain, uint32_t len)
{
	if (virtq_push_chain(&q->vq, chain, len) && virtq_needs_notify(&q->vq))
		virtio_notify_used(dev);
}

void virtio_queue_ack_kick(struct virtio_queue *q)
{
	uint64_t v;

	if (read(q->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_debug("virtio: kick eventfd: %s", strerror(errno));
}

static int wire_queue_kick(struct vm *vm, struct virtio_device *dev, unsigned int i)
{
	struct kvm_ioeventfd io = {
	    .datamatch = i,
	    .addr = dev->base + REG_QUEUE_NOTIFY,
	    .len = 4,
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	struct virtio_queue *q = &dev->queues[i];

	q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick_fd < 0)
		return -errno;
	io.fd = q->kick_fd;
	/* A VM without KVM (unit tests, fuzzers): kicks come through QUEUE_NOTIFY. */
	if (vm->vm_fd >= 0 && ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		pr_warn("virtio-%s: KVM_IOEVENTFD: %s; kicks go through the vCPU", dev->ops->name,
			strerror(errno));
	return 0;
}

/* The irqfd of a device alone on its line; "deassign" takes it off the GSI. */
static int set_irqfd(struct vm *vm, struct virtio_device *dev, bool deassign)
{
	struct kvm_irqfd irqfd = {
	    .fd = (uint32_t)dev->irq_fd,
	    .gsi = dev->irq,
	    .flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0,
	};

	/* Without KVM the eventfd alone shows the interrupts. */
	if (vm->vm_fd >= 0 && ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int err = errno;

		pr_err("virtio-%s: KVM_IRQFD%s: %s", dev->ops->name, deassign ? " deassign" : "",
		       strerror(err));
		return -err;
	}
	return 0;
}

/*
 * The next line, round robin. The first device on a line keeps edges
 * through its irqfd; the second makes the line shared (level-triggered),
 * and the first one's irqfd comes off it. The VM is not running yet.
 */
static int wire_interrupt(struct vm *vm, struct virtio_device *dev, unsigned int index)
{
	struct vm_irq_line *line = &vm->virtio_lines[index % VM_VIRTIO_LINES];
	unsigned int irq = FIRST_VIRTIO_IRQ + index % VM_VIRTIO_LINES;

	dev->irq = irq + (irq >= RTC_IRQ);
	dev->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->irq_fd < 0)
		return -errno;
	if (!line->ndevs) {
		int ret = set_irqfd(vm, dev, false);

		if (ret < 0)
			return ret;
		pthread_mutex_init(&line->lock, NULL);
		line->irq = dev->irq;
	} else if (!line->shared) {
		struct virtio_device *first = NULL;

		for (unsigned int i = 0; i < vm->nvirtio && !first; i++)
			if (vm->virtio[i]->line == line)
				first = vm->virtio[i];
		if (first && set_irqfd(vm, first, true) < 0)
			return -EIO;
		line->shared = true;
		vm->level_irqs |= 1u << line->irq;
	}
	line->ndevs++;
	dev->line = line;
	return 0;
}

/*
 * The device's virtio_mmio.device= entry. The whole kernel command line
 * (the VMM's options, every device's entry, the user's) must fit in the
 * kernel's COMMAND_LINE_SIZE: that, not the lines or the MMIO window, is
 * what limits the number of devices.
 */
static int announce(struct vm *vm, struct virtio_device *dev)
{
	char cmdline[VM_MAX_CMDLINE + 1];
	size_t used = strlen(vm->device_cmdline);
	int n =
	    snprintf(vm->device_cmdline + used, sizeof(vm->device_cmdline) - used,
		     " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)dev->base, dev->irq);

	if (n < 0 || (size_t)n >= sizeof(vm->device_cmdline) - used ||
	    vm_config_cmdline(vm->cfg, vm->device_cmdline, cmdline, sizeof(cmdline)) < 0) {
		vm->device_cmdline[used] = '\0';
		pr_err("virtio-%s: no room for virtio device %u on the kernel command line (%d "
		       "bytes at most, about 36 a device)",
		       dev->ops->name, vm->nvirtio + 1, VM_MAX_CMDLINE - 1);
		return -E2BIG;
	}
	return 0;
}

/* The transport's fds and queues; then the device's own release. */
static void transport_release(struct virtio_device *dev)
{
	for (unsigned int i = 0; dev->queues && i < dev->nqueues; i++) {
		if (dev->queues[i].kick_fd >= 0)
			close(dev->queues[i].kick_fd);
		pthread_mutex_destroy(&dev->queues[i].lock);
	}
	free(dev->queues);
	dev->queues = NULL;
	if (dev->irq_fd >= 0)
		close(dev->irq_fd);
	dev->irq_fd = -1;
	pthread_mutex_destroy(&dev->reg_lock);
}

static void virtio_mmio_release(void *arg)
{
	struct virtio_device *dev = arg;

	transport_release(dev);
	if (dev->ops->release)
		dev->ops->release(dev);
}

int virtio_mmio_add(struct vm *vm, struct virtio_device *dev)
{
	unsigned int index = vm->nvirtio;
	int ret;

	dev->vm = vm;
	dev->base = VIRTIO_MMIO_BASE + (uint64_t)index * VIRTIO_MMIO_SIZE;
	dev->line = NULL;
	if (index >= VM_MAX_VIRTIO || !dev->nqueues)
		return -ENOSPC;
	pthread_mutex_init(&dev->reg_lock, NULL);
	atomic_init(&dev->interrupt_status, 0);
	dev->irq_fd = -1;
	dev->queues = calloc(dev->nqueues, sizeof(*dev->queues));
	if (!dev->queues) {
		pthread_mutex_destroy(&dev->reg_lock);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < dev->nqueues; i++) {
		dev->queues[i].kick_fd = -1;
		pthread_mutex_init(&dev->queues[i].lock, NULL);
	}

	ret = bus_register(&vm->mmio, dev->base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, dev);
	for (unsigned int i = 0; !ret && i < dev->nqueues; i++)
		ret = wire_queue_kick(vm, dev, i);
	if (!ret)
		ret = wire_interrupt(vm, dev, index);
	if (!ret)
		ret = announce(vm, dev);
	if (!ret)
		ret = vm_on_release(vm, virtio_mmio_release, dev);
	if (ret < 0) {
		/* The bus keeps a pointer, but the VM is not started now. */
		if (dev->line)
			dev->line->ndevs--;
		dev->line = NULL;
		transport_release(dev);
		return ret;
	}
	vm->virtio[vm->nvirtio++] = dev;
	pr_debug("virtio-%s at 0x%llx, irq %u%s, %u queues", dev->ops->name,
		 (unsigned long long)dev->base, dev->irq,
		 dev->line->shared ? " (shared, level-triggered)" : "", dev->nqueues);
	return 0;
}
