// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-vsock device: receive, transmit and event queues, guest CID 3.
 * One device thread serves the queues' kicks and every host fd of the
 * connections (conn.c) from one epoll set; vCPU threads only reach it
 * through kicks (ioeventfd) and a driver reset.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/builders.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock/tsi.h"
#include "devices/virtio/vsock/vsock.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define RX_QUEUE    0
#define TX_QUEUE    1
#define EVENT_QUEUE 2
#define QUEUE_SIZE  256

#define TX_BATCH     32 /* transmit packets between two receive fills */
#define SERVE_ROUNDS 16 /* before the thread looks at its epoll set again */
/* Transmit completions alone: how long and how many before an interrupt. */
#define TX_IRQ_DELAY_MS 1
#define TX_IRQ_BATCH	(QUEUE_SIZE / 4)

struct vsock_device {
	struct virtio_device dev;
	uint64_t config_cid;  /* struct virtio_vsock_config, little-endian */
	pthread_mutex_t lock; /* the core: the device thread, and a driver reset */
	struct vsock_core core;
	struct vsock_backend *unix_backend;
	struct vsock_backend *tsi_backend; /* NULL without TSI */
	struct vsock_watch kicks[3];
	struct virtq_chain chain;    /* the transmit chain being handled */
	unsigned int tx_unsignalled; /* completions since the last interrupt */
	int64_t tx_irq_due_ms;	     /* an interrupt owed for them, or 0 */
	pthread_t thread;
	bool started;
};

/* Transmit packets, up to TX_BATCH; returns how many. */
static unsigned int serve_tx(struct vsock_device *vs, bool *notify)
{
	struct virtio_queue *q = &vs->dev.queues[TX_QUEUE];
	unsigned int n = 0;

	pthread_mutex_lock(&q->lock);
	while (n < TX_BATCH && !vsock_core_tx_blocked(&vs->core) &&
	       virtq_pop(&q->vq, &vs->chain) == 1) {
		/* The chain's buffers stay the guest's memory: nothing is copied here. */
		vsock_core_tx(&vs->core, vs->chain.readable, vs->chain.nreadable);
		virtq_push(&q->vq, vs->chain.head, 0);
		n++;
	}
	if (n && virtq_needs_notify(&q->vq))
		*notify = true;
	pthread_mutex_unlock(&q->lock);
	return n;
}

static unsigned int serve_rx(struct vsock_device *vs, bool *notify)
{
	struct virtio_queue *q = &vs->dev.queues[RX_QUEUE];
	unsigned int n = 0;

	if (!vsock_core_has_rx(&vs->core))
		return 0;
	pthread_mutex_lock(&q->lock);
	n = vsock_core_rx(&vs->core, &q->vq);
	if (n && virtq_needs_notify(&q->vq))
		*notify = true;
	pthread_mutex_unlock(&q->lock);
	return n;
}

static void raise_irq(struct vsock_device *vs)
{
	vs->tx_unsignalled = 0;
	vs->tx_irq_due_ms = 0;
	virtio_notify_used(&vs->dev);
}

/*
 * One interrupt serves every queue (virtio-mmio has one line per device).
 * Receive buffers signal at once; transmit completions alone wait up to
 * TX_IRQ_DELAY_MS for one to go with: a packet the guest sends is usually
 * answered (a CONNECT, a REQUEST, a SHUTDOWN), and the answer's interrupt
 * returns its buffer too. A guest that sends in bulk hears every
 * TX_IRQ_BATCH packets, well before its ring fills.
 */
static void signal_used(struct vsock_device *vs, bool tx, bool rx, unsigned int sent)
{
	vs->tx_unsignalled += sent;
	if (rx || ((tx || vs->tx_irq_due_ms) && vs->tx_unsignalled >= TX_IRQ_BATCH)) {
		raise_irq(vs);
		return;
	}
	if (tx && !vs->tx_irq_due_ms)
		vs->tx_irq_due_ms = monotonic_ms() + TX_IRQ_DELAY_MS;
}

/* The owed transmit interrupt, when its time has come; the wait left, or -1. */
static int tx_irq_wait(struct vsock_device *vs)
{
	int64_t left;

	if (!vs->tx_irq_due_ms)
		return -1;
	left = vs->tx_irq_due_ms - monotonic_ms();
	if (left > 0)
		return (int)left;
	raise_irq(vs);
	return -1;
}

/* Both directions until neither moves; false when it stopped with work left. */
static bool serve(struct vsock_device *vs)
{
	for (int round = 0; round < SERVE_ROUNDS; round++) {
		bool tx = false, rx = false;
		unsigned int sent = serve_tx(vs, &tx);
		unsigned int moved = sent + serve_rx(vs, &rx);

		signal_used(vs, tx, rx, sent);
		if (!moved)
			return true;
	}
	return false;
}

static void handle_events(struct vsock_device *vs, const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		struct vsock_watch *w = ev[i].data.ptr;

		if (w->kind == VSOCK_WATCH_DEVICE)
			virtio_queue_ack_kick(&vs->dev.queues[w - vs->kicks]);
		else
			vsock_core_event(&vs->core, w, ev[i].events);
	}
}

static void *vsock_thread(void *arg)
{
	struct vsock_device *vs = arg;
	struct epoll_event ev[64];
	bool idle = true;

	for (;;) {
		int timeout, irq_wait, n;

		pthread_mutex_lock(&vs->lock);
		timeout = idle ? vsock_core_expire(&vs->core) : 0;
		irq_wait = tx_irq_wait(vs);
		if (irq_wait >= 0 && (timeout < 0 || irq_wait < timeout))
			timeout = irq_wait;
		pthread_mutex_unlock(&vs->lock);
		n = epoll_wait(vs->core.epfd, ev, 64, timeout);
		if (n < 0 && errno != EINTR) {
			pr_err("virtio-vsock: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&vs->lock);
		handle_events(vs, ev, MAX(n, 0));
		vsock_core_expire(&vs->core);
		idle = !vs->dev.active || serve(vs);
		pthread_mutex_unlock(&vs->lock);
	}
	return NULL;
}

static void vsock_config_read(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	struct vsock_device *vs = dev->priv;

	memcpy(data, (uint8_t *)&vs->config_cid + offset, len);
}

static int vsock_activate(struct virtio_device *dev)
{
	struct vsock_device *vs = dev->priv;

	/* Datagrams only if offered (TSI) and taken by the driver. */
	pthread_mutex_lock(&vs->lock);
	vs->core.dgram = dev->driver_features & (1ull << VIRTIO_VSOCK_F_DGRAM);
	pthread_mutex_unlock(&vs->lock);
	if (vs->started)
		return 0;
	if (vmm_thread_start(&vs->thread, VMM_THREAD_SOCKET, vsock_thread, vs) != 0)
		return -EAGAIN;
	vs->started = true;
	return 0;
}

/* The driver reset the device: every connection ends, host ends closed. */
static void vsock_reset(struct virtio_device *dev)
{
	struct vsock_device *vs = dev->priv;

	pthread_mutex_lock(&vs->lock);
	vsock_core_reset(&vs->core);
	tsi_reset(vs->tsi_backend);
	vs->tx_unsignalled = 0;
	vs->tx_irq_due_ms = 0; /* the rings it was owed for are gone */
	pthread_mutex_unlock(&vs->lock);
}

/* The VM stops: the sockets the VMM created go with it. */
static void vsock_drain(struct virtio_device *dev)
{
	struct vsock_device *vs = dev->priv;

	pthread_mutex_lock(&vs->lock);
	pr_debug("virtio-vsock: %llu packets from the guest, %llu to it, %llu credit updates, "
		 "%llu resets",
		 (unsigned long long)vs->core.stat_tx_pkts,
		 (unsigned long long)vs->core.stat_rx_pkts,
		 (unsigned long long)vs->core.stat_credit_updates,
		 (unsigned long long)vs->core.stat_resets);
	vsock_unix_unlink(vs->unix_backend);
	tsi_unlink(vs->tsi_backend);
	pthread_mutex_unlock(&vs->lock);
}

static void vsock_free(struct vsock_device *vs)
{
	vsock_core_reset(&vs->core);	   /* the connections tell the backends, still there */
	vsock_unix_free(vs->unix_backend); /* removes the sockets it created */
	tsi_free(vs->tsi_backend);
	vs->core.backends = NULL;
	vsock_core_release(&vs->core);
	pthread_mutex_destroy(&vs->lock);
	free(vs);
}

/* Only for a VM that never ran: the device thread was never started. */
static void vsock_release(struct virtio_device *dev)
{
	vsock_free(dev->priv);
}

static const struct virtio_device_ops vsock_ops = {
    .name = "vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .config_read = vsock_config_read,
    .activate = vsock_activate,
    .reset = vsock_reset,
    .drain = vsock_drain,
    .release = vsock_release,
};

static int watch_kicks(struct vsock_device *vs)
{
	for (unsigned int i = 0; i < 3; i++) {
		int ret;

		vs->kicks[i] =
		    (struct vsock_watch){VSOCK_WATCH_DEVICE, vs->dev.queues[i].kick_fd, vs};
		ret = vsock_core_watch(&vs->core, &vs->kicks[i], EPOLLIN);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * TSI: the backend, and the kernel parameters that make the guest's
 * sockets TSI ones (a kernel without TSI ignores them).
 */
static int setup_tsi(struct vm *vm, struct vsock_device *vs, uint32_t features)
{
	const struct vsock_config *v = &vm->cfg->vsock;
	struct tsi_config tc = {
	    .features = (features & KRUN_TSI_HIJACK_INET ? TSI_INET : 0) |
			(features & KRUN_TSI_HIJACK_UNIX ? TSI_UNIX : 0),
	    .port_map_set = v->port_map_set,
	    .port_map = (const struct tsi_port_pair *)v->port_map,
	    .nport_map = v->nport_map,
	};
	size_t used = strlen(vm->device_cmdline);
	int n, ret;

	_Static_assert(sizeof(struct tsi_port_pair) == sizeof(struct vsock_port_pair) &&
			   offsetof(struct tsi_port_pair, guest) ==
			       offsetof(struct vsock_port_pair, guest),
		       "port pairs");
	if (!features)
		return 0;
	ret = tsi_create(&vs->core, &tc, &vs->tsi_backend);
	if (ret < 0)
		return ret;
	vs->dev.features |= 1ull << VIRTIO_VSOCK_F_DGRAM;
	/*
	 * tsi_pipeline: our kernel may send a proxy's vsock connect before CONNECT
	 * (tsi.c). With "=1" a kernel without the parameter hands it to init as an
	 * environment variable, not as an argument.
	 */
	n = snprintf(vm->device_cmdline + used, sizeof(vm->device_cmdline) - used,
		     "%s%s tsi_pipeline=1", features & KRUN_TSI_HIJACK_INET ? " tsi_hijack" : "",
		     features & KRUN_TSI_HIJACK_UNIX ? " tsi_hijack_unix" : "");
	if (n < 0 || (size_t)n >= sizeof(vm->device_cmdline) - used)
		return -E2BIG;
	pr_debug("virtio-vsock: TSI for%s%s, %s",
		 features & KRUN_TSI_HIJACK_INET ? " AF_INET/6" : "",
		 features & KRUN_TSI_HIJACK_UNIX ? " AF_UNIX" : "",
		 v->port_map_set ? "port map" : "every guest listener on its own port");
	return 0;
}

static int create_vsock(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	struct vsock_device *vs;
	int ret;

	if (!vm_config_has_vsock(cfg))
		return 0;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	pthread_mutex_init(&vs->lock, NULL);
	vs->config_cid = htole64(VSOCK_GUEST_CID);
	ret = vsock_core_init(&vs->core, VSOCK_GUEST_CID);
	if (!ret)
		ret = vsock_unix_create(&vs->core, &cfg->vsock, &vs->unix_backend);
	vs->dev.features = VIRTIO_F_INDIRECT_DESC;
	if (!ret)
		ret = setup_tsi(vm, vs, vm_config_tsi_features(cfg));
	if (ret < 0)
		goto fail;
	vs->dev.ops = &vsock_ops;
	vs->dev.priv = vs;
	vs->dev.config_size = sizeof(vs->config_cid);
	vs->dev.nqueues = 3;
	vs->dev.queue_max = QUEUE_SIZE;
	ret = virtio_mmio_add(vm, &vs->dev);
	if (ret < 0)
		goto fail;
	/* The VM owns the device now: vsock_release() if it never runs. */
	ret = watch_kicks(vs);
	if (ret < 0)
		pr_err("virtio-vsock: %s", strerror(-ret));
	return ret;
fail:
	pr_err("virtio-vsock: %s", strerror(-ret));
	vsock_free(vs);
	return ret;
}

const struct device_builder vsock_builder = {"virtio-vsock", create_vsock};
