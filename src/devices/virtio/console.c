// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-console with VIRTIO_CONSOLE_F_MULTIPORT (virtio 1.2, section 5.3).
 *
 * Threads: guest output (transmit queues) and the control queues are served
 * by the VMM's event loop, a bounded number of buffers per wakeup; output
 * goes into a bounded ring per port that a writer thread empties into the
 * host fd (console_out.c), so a host reader that stops never blocks the loop; each port with an
 * input fd has a reader thread that blocks in read() straight into the guest's receive buffers, so
 * any kind of fd works (tty, pipe, file, socket) and no byte is copied twice. dev_lock serializes
 * the control protocol and reset against all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "devices/builders.h"
#include "devices/virtio/console.h"
#include "devices/virtio/console_out.h"
#include "devices/virtio/virtio.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/util.h"
#include "vmm/shutdown.h"
#include "vmm/vm.h"
#include "guest_abi.h"

#define VIRTIO_CONSOLE_F_SIZE	   (1ULL << 0)
#define VIRTIO_CONSOLE_F_MULTIPORT (1ULL << 1)

enum console_event {
	DEVICE_READY = 0,
	DEVICE_ADD = 1,
	DEVICE_REMOVE = 2,
	PORT_READY = 3,
	CONSOLE_PORT = 4,
	RESIZE = 5,
	PORT_OPEN = 6,
	PORT_NAME = 7,
};

struct control_msg {
	uint32_t id;
	uint16_t event;
	uint16_t value;
} __attribute__((packed));

struct virtio_console_config {
	uint16_t cols;
	uint16_t rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
} __attribute__((packed));

#define CTRL_RX_QUEUE	2
#define CTRL_TX_QUEUE	3
#define CTRL_QUEUE_SIZE 32
#define CTRL_MAX_LEN	(sizeof(struct control_msg) + 64)
/* Buffers a transmit or control handler takes per wakeup of the event loop. */
#define CONSOLE_TX_BUDGET 64

struct console_port {
	struct virtio_console *con;
	unsigned int id;
	char name[32];
	bool is_console;
	int in_fd, out_fd;
	bool reader_started;
	bool guest_ready; /* the guest sent PORT_READY */
	bool guest_open;  /* a guest process has the port open */
	bool host_eof;	  /* input ended, and no output keeps the port open */
	pthread_t reader;
	struct event_source tx_kick;

	/* Guest output: served by the event loop into "out" (NULL: discarded). */
	struct console_out *out;
	struct virtq_chain *tx_chain;
	bool tx_pending; /* tx_chain is popped, tx_done of its bytes taken */
	size_t tx_done;
};

struct pending_ctrl {
	uint8_t data[CTRL_MAX_LEN];
	uint32_t len;
};

struct virtio_console {
	struct virtio_device dev;
	pthread_mutex_t dev_lock;
	pthread_cond_t rx_cond; /* a reader waits here for receive buffers */
	struct console_port ports[CONSOLE_MAX_PORTS];
	unsigned int nports;
	struct virtio_console_config config;
	unsigned int reset_count;

	bool owned; /* by the VM, since virtio_mmio_add() */
	struct virtq_chain *ctrl_chain;

	struct pending_ctrl ctrl[CTRL_QUEUE_SIZE]; /* host -> guest, not yet delivered */
	unsigned int ctrl_head, ctrl_count;
	struct event_source ctrl_rx_kick, ctrl_tx_kick, winch;
	struct event_source rx_kicks[CONSOLE_MAX_PORTS];
};

static unsigned int port_rx_queue(unsigned int id)
{
	return id == 0 ? 0 : 2 * id + 2;
}

static struct virtio_queue *queue(struct virtio_console *con, unsigned int index)
{
	return &con->dev.queues[index];
}

/* ---- host terminal ------------------------------------------------------ */

/* Terminals put in raw mode, with their settings to restore. */
#define MAX_RAW_TERMINALS 8

static struct {
	int fd;
	struct termios saved;
} raw_terminals[MAX_RAW_TERMINALS];
static volatile sig_atomic_t nraw_terminals;
static volatile sig_atomic_t termios_saved; /* stdin is one of them */

/* Signal-safe: tcsetattr() is, and the array only grows before the VM runs. */
void console_restore_terminal(void)
{
	for (sig_atomic_t i = 0; i < nraw_terminals; i++)
		tcsetattr(raw_terminals[i].fd, TCSANOW, &raw_terminals[i].saved);
	nraw_terminals = 0;
	termios_saved = 0;
}

static void restore_and_die(int sig)
{
	console_restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static bool terminal_is_raw(int fd)
{
	for (sig_atomic_t i = 0; i < nraw_terminals; i++)
		if (raw_terminals[i].fd == fd)
			return true;
	return false;
}

static const int fatal_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGABRT};
static struct sigaction callers_fatal[ARRAY_SIZE(fatal_signals)];

/* A VM that never ran gives the caller its terminal and signal handlers back. */
static void restore_host_terminal(void *arg)
{
	(void)arg;
	console_restore_terminal();
	for (size_t i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		sigaction(fatal_signals[i], &callers_fatal[i], NULL);
}

/* Raw mode for the VM's lifetime: the guest's tty does the line editing. */
static void make_terminal_raw(struct vm *vm, int fd)
{
	static bool atexit_done;
	struct sigaction die = {.sa_handler = restore_and_die};
	int n = nraw_terminals;
	struct termios raw;

	if (n == MAX_RAW_TERMINALS || terminal_is_raw(fd) ||
	    tcgetattr(fd, &raw_terminals[n].saved) < 0)
		return;
	raw = raw_terminals[n].saved;
	cfmakeraw(&raw);
	if (n == 0 && vm_on_release(vm, restore_host_terminal, NULL) < 0)
		return; /* it could not be undone: leave the terminal alone */
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return;
	raw_terminals[n].fd = fd;
	nraw_terminals = n + 1;
	termios_saved |= fd == STDIN_FILENO;
	if (n == 0) {
		if (!atexit_done)
			atexit(console_restore_terminal);
		atexit_done = true;
		for (size_t i = 0; i < ARRAY_SIZE(fatal_signals); i++)
			sigaction(fatal_signals[i], &die, &callers_fatal[i]);
	}
}

/* ---- control messages --------------------------------------------------- */

/* Deliver queued host->guest control messages while the guest has buffers. */
static void flush_control(struct virtio_console *con)
{
	struct virtio_queue *q = queue(con, CTRL_RX_QUEUE);
	struct virtq_chain chain;

	pthread_mutex_lock(&q->lock);
	while (con->ctrl_count && virtq_pop(&q->vq, &chain) == 1) {
		struct pending_ctrl *m = &con->ctrl[con->ctrl_head];
		size_t n = buf_to_iov(chain.writable, chain.nwritable, 0, m->data, m->len);

		virtio_queue_complete(&con->dev, q, chain.head, (uint32_t)n);
		con->ctrl_head = (con->ctrl_head + 1) % CTRL_QUEUE_SIZE;
		con->ctrl_count--;
	}
	pthread_mutex_unlock(&q->lock);
}

static void send_control(struct virtio_console *con, uint32_t id, uint16_t event, uint16_t value,
			 const void *extra, size_t extra_len)
{
	struct control_msg msg = {id, event, value};
	struct pending_ctrl *m;

	if (con->ctrl_count == CTRL_QUEUE_SIZE || extra_len > CTRL_MAX_LEN - sizeof(msg)) {
		pr_warn_guest("virtio-console: control queue full, message %u dropped", event);
		return;
	}
	m = &con->ctrl[(con->ctrl_head + con->ctrl_count++) % CTRL_QUEUE_SIZE];
	memcpy(m->data, &msg, sizeof(msg));
	if (extra_len)
		memcpy(m->data + sizeof(msg), extra, extra_len);
	m->len = (uint32_t)(sizeof(msg) + extra_len);
	flush_control(con);
}

static void send_resize(struct virtio_console *con, struct console_port *port)
{
	struct winsize ws;
	uint16_t size[2];

	if (port->in_fd < 0 || ioctl(port->in_fd, TIOCGWINSZ, &ws) < 0)
		return;
	/* struct virtio_console_resize: columns first. */
	size[0] = ws.ws_col;
	size[1] = ws.ws_row;
	send_control(con, port->id, RESIZE, 0, size, sizeof(size));
}

static void port_ready(struct virtio_console *con, struct console_port *port)
{
	if (port->is_console) {
		/* The guest's hvc driver takes console input at any time. */
		port->guest_open = true;
		pthread_cond_broadcast(&con->rx_cond);
		send_control(con, port->id, CONSOLE_PORT, 1, NULL, 0);
		send_resize(con, port);
	}
	/*
	 * The host end is open until its input ends (which may already be so).
	 * Sent before the name: a guest process that finds the port by its
	 * name then never sees it unconnected (poll() would say POLLHUP).
	 */
	port->guest_ready = true;
	send_control(con, port->id, PORT_OPEN, !port->host_eof, NULL, 0);
	if (port->name[0])
		send_control(con, port->id, PORT_NAME, 1, port->name, strlen(port->name));
}

static void handle_control(struct virtio_console *con, const struct control_msg *msg)
{
	switch (msg->event) {
	case DEVICE_READY:
		for (unsigned int i = 0; i < con->nports; i++)
			send_control(con, i, DEVICE_ADD, 1, NULL, 0);
		break;
	case PORT_READY:
		if (msg->id < con->nports && msg->value == 1)
			port_ready(con, &con->ports[msg->id]);
		break;
	case PORT_OPEN:
		/*
		 * Linux drops data that reaches a port nobody has open, so input
		 * waits for this.
		 */
		if (msg->id < con->nports && !con->ports[msg->id].is_console) {
			con->ports[msg->id].guest_open = msg->value;
			pthread_cond_broadcast(&con->rx_cond);
		}
		break;
	default:
		pr_debug("virtio-console: control event %u ignored", msg->event);
		break;
	}
}

static void ctrl_tx_kicked(struct event_source *src, uint32_t events)
{
	struct virtio_console *con = src->opaque;
	struct virtio_queue *q = queue(con, CTRL_TX_QUEUE);
	struct virtq_chain *chain = con->ctrl_chain;
	struct control_msg msg;
	unsigned int n = 0;

	(void)events;
	virtio_queue_ack_kick(q);
	pthread_mutex_lock(&con->dev_lock);
	for (;; n++) {
		int got;

		/* The budget spent: come back after the loop's other sources. */
		if (n == CONSOLE_TX_BUDGET) {
			uint64_t one = 1;

			if (write(q->kick_fd, &one, sizeof(one)) < 0)
				pr_debug("virtio-console: ctrl kick: %s", strerror(errno));
			break;
		}

		pthread_mutex_lock(&q->lock);
		got = virtq_pop(&q->vq, chain);
		if (got == 1) {
			size_t n =
			    iov_to_buf(chain->readable, chain->nreadable, 0, &msg, sizeof(msg));

			virtio_queue_complete(&con->dev, q, chain->head, 0);
			pthread_mutex_unlock(&q->lock);
			if (n == sizeof(msg))
				handle_control(con, &msg);
			continue;
		}
		pthread_mutex_unlock(&q->lock);
		break;
	}
	pthread_mutex_unlock(&con->dev_lock);
}

static void ctrl_rx_kicked(struct event_source *src, uint32_t events)
{
	struct virtio_console *con = src->opaque;

	(void)events;
	virtio_queue_ack_kick(queue(con, CTRL_RX_QUEUE));
	pthread_mutex_lock(&con->dev_lock);
	flush_control(con);
	pthread_mutex_unlock(&con->dev_lock);
}

static void winch_received(struct event_source *src, uint32_t events)
{
	struct virtio_console *con = src->opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(src->fd, &si, sizeof(si)) < 0)
		return;
	pthread_mutex_lock(&con->dev_lock);
	for (unsigned int i = 0; i < con->nports; i++)
		if (con->ports[i].is_console)
			send_resize(con, &con->ports[i]);
	pthread_mutex_unlock(&con->dev_lock);
}

/* ---- guest output ------------------------------------------------------- */

/*
 * The host end of the port's output is gone (EPIPE: its reader closed the
 * pipe). From now on the output is discarded, and the guest learns that the
 * host end is closed (poll() says POLLHUP; init then sends the workload the
 * SIGPIPE a writer to a closed pipe gets). Called by the output's writer.
 */
static void output_broken(void *arg)
{
	struct console_port *port = arg;
	struct virtio_console *con = port->con;

	pthread_mutex_lock(&con->dev_lock);
	port->out_fd = -1;
	port->host_eof = true;
	if (port->guest_ready && !port->is_console)
		send_control(con, port->id, PORT_OPEN, 0, NULL, 0);
	pthread_mutex_unlock(&con->dev_lock);
}

static struct virtio_queue *tx_queue(struct console_port *port)
{
	return queue(port->con, port_rx_queue(port->id) + 1);
}

/* The ring has room again: serve the transmit queue from the event loop. */
static void output_room(void *arg)
{
	struct console_port *port = arg;
	uint64_t one = 1;

	if (write(tx_queue(port)->kick_fd, &one, sizeof(one)) < 0)
		pr_debug("virtio-console: tx kick: %s", strerror(errno));
}

/*
 * Take up to "budget" of the guest's transmit buffers into the port's
 * output ring. A buffer that does not fit stays ours (tx_pending) until the
 * writer makes room. Returns true if buffers may be left.
 */
static bool serve_tx(struct console_port *port, unsigned int budget)
{
	struct virtio_console *con = port->con;
	struct virtio_queue *q = tx_queue(port);
	struct virtq_chain *chain = port->tx_chain;

	for (unsigned int n = 0; n < budget; n++) {
		if (port->tx_pending) {
			/* The driver reset the queue since: the rest of that buffer is not wanted.
			 */
			pthread_mutex_lock(&q->lock);
			port->tx_pending = chain->generation == q->vq.generation;
			pthread_mutex_unlock(&q->lock);
		}
		if (!port->tx_pending) {
			int got;

			pthread_mutex_lock(&q->lock);
			got = virtq_pop(&q->vq, chain);
			pthread_mutex_unlock(&q->lock);
			if (got != 1)
				return false;
			port->tx_pending = true;
			port->tx_done = 0;
		}
		if (port->out) {
			port->tx_done += console_out_put(port->out, chain->readable,
							 chain->nreadable, port->tx_done);
			if (port->tx_done < chain->readable_len)
				return false; /* full: output_room() brings us back */
		}
		pthread_mutex_lock(&q->lock);
		virtio_queue_complete_chain(&con->dev, q, chain, 0);
		pthread_mutex_unlock(&q->lock);
		port->tx_pending = false;
	}
	return true;
}

static void tx_kicked(struct event_source *src, uint32_t events)
{
	struct console_port *port = src->opaque;

	(void)events;
	virtio_queue_ack_kick(tx_queue(port));
	/* A guest that keeps the ring full must not keep the loop from the rest. */
	if (serve_tx(port, CONSOLE_TX_BUDGET))
		output_room(port);
}

/* The VM stopped (vCPUs parked): hand the host everything, by the deadline if any. */
static void drain_port_output(struct console_port *port, const struct timespec *deadline)
{
	while (serve_tx(port, UINT_MAX) || port->tx_pending) {
		if (!port->out || !console_out_flush(port->out, deadline))
			break;
	}
	if (port->out && !console_out_flush(port->out, deadline))
		pr_warn("virtio-console: port %u: host output not taken in time, the rest is "
			"dropped",
			port->id);
}

/* ---- guest input -------------------------------------------------------- */

static void rx_kicked(struct event_source *src, uint32_t events)
{
	struct virtio_console *con = src->opaque;

	(void)events;
	virtio_queue_ack_kick(queue(con, port_rx_queue((unsigned int)(src - con->rx_kicks))));
	pthread_mutex_lock(&con->dev_lock);
	pthread_cond_broadcast(&con->rx_cond);
	pthread_mutex_unlock(&con->dev_lock);
}

/* Wait until the guest has the port open and a receive buffer, then take it. */
static bool wait_rx_buffer(struct console_port *port, struct virtq_chain *chain,
			   unsigned int *reset_count)
{
	struct virtio_console *con = port->con;
	struct virtio_queue *q = queue(con, port_rx_queue(port->id));

	pthread_mutex_lock(&con->dev_lock);
	for (;;) {
		int got;

		if (port->guest_open) {
			pthread_mutex_lock(&q->lock);
			got = virtq_pop(&q->vq, chain);
			pthread_mutex_unlock(&q->lock);
			if (got == 1)
				break;
		}
		pthread_cond_wait(&con->rx_cond, &con->dev_lock);
	}
	*reset_count = con->reset_count;
	pthread_mutex_unlock(&con->dev_lock);
	return true;
}

/* read() into the guest's buffers, waiting out EINTR and non-blocking fds. */
static ssize_t read_input(int fd, const struct virtq_chain *chain)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	for (;;) {
		ssize_t n = readv(fd, chain->writable, (int)MIN(chain->nwritable, 1024u));

		if (n >= 0)
			return n;
		if (errno == EAGAIN)
			poll(&pfd, 1, -1);
		else if (errno != EINTR)
			return -errno;
	}
}

static void *port_reader(void *arg)
{
	struct console_port *port = arg;
	struct virtio_console *con = port->con;
	struct virtio_queue *q = queue(con, port_rx_queue(port->id));
	struct virtq_chain *chain = malloc(sizeof(*chain));
	unsigned int reset_count;

	while (chain && wait_rx_buffer(port, chain, &reset_count)) {
		ssize_t n = 0;

		/*
		 * A buffer with no room in it: read() would return 0, which
		 * means end of input. Give it back empty and wait for the next.
		 */
		if (!chain->writable_len)
			pr_warn_guest("virtio-console: port %u: receive buffer without writable "
				      "bytes",
				      port->id);
		else
			n = read_input(port->in_fd, chain);

		pthread_mutex_lock(&con->dev_lock);
		if (n <= 0 && chain->writable_len) {
			/*
			 * EOF: the guest's reads return 0 once the host end is
			 * closed. Not for a port that has an output too: the
			 * guest could no longer write to it.
			 */
			port->host_eof = port->out_fd < 0;
			if (port->guest_ready && port->host_eof)
				send_control(con, port->id, PORT_OPEN, 0, NULL, 0);
			pthread_mutex_unlock(&con->dev_lock);
			break;
		}
		if (reset_count == con->reset_count) {
			pthread_mutex_lock(&q->lock);
			virtio_queue_complete_chain(&con->dev, q, chain, (uint32_t)n);
			pthread_mutex_unlock(&q->lock);
		}
		pthread_mutex_unlock(&con->dev_lock);
	}
	free(chain);
	return NULL;
}

/* ---- device ops --------------------------------------------------------- */

static void console_config_read(struct virtio_device *dev, uint32_t offset, void *data,
				uint32_t len)
{
	struct virtio_console *con = dev->priv;

	memcpy(data, (uint8_t *)&con->config + offset, len);
}

static int console_activate(struct virtio_device *dev)
{
	struct virtio_console *con = dev->priv;

	for (unsigned int i = 0; i < con->nports; i++) {
		struct console_port *port = &con->ports[i];

		if (port->in_fd < 0 || port->reader_started)
			continue;
		if (vmm_thread_start(&port->reader, VMM_THREAD_CONSOLE, port_reader, port) != 0)
			return -EAGAIN;
		port->reader_started = true;
	}
	return 0;
}

static void console_reset(struct virtio_device *dev)
{
	struct virtio_console *con = dev->priv;

	pthread_mutex_lock(&con->dev_lock);
	con->reset_count++;
	con->ctrl_count = 0;
	for (unsigned int i = 0; i < con->nports; i++)
		con->ports[i].guest_ready = con->ports[i].guest_open = false;
	pthread_mutex_unlock(&con->dev_lock);
}

static void console_drain(struct virtio_device *dev)
{
	struct virtio_console *con = dev->priv;
	const struct timespec *deadline =
	    dev->vm->drain_deadline.tv_sec ? &dev->vm->drain_deadline : NULL;

	for (unsigned int i = 0; i < con->nports; i++)
		drain_port_output(&con->ports[i], deadline);
}

/* Only for a VM that never ran: no reader thread was started. */
static void free_console(struct virtio_console *con)
{
	for (unsigned int i = 0; i < con->nports; i++) {
		console_out_free(con->ports[i].out);
		free(con->ports[i].tx_chain);
	}
	free(con->ctrl_chain);
	if (con->winch.fd >= 0)
		close(con->winch.fd);
	pthread_cond_destroy(&con->rx_cond);
	pthread_mutex_destroy(&con->dev_lock);
	free(con);
}

static void console_release(struct virtio_device *dev)
{
	free_console(dev->priv);
}

static const struct virtio_device_ops console_ops = {
    .name = "console",
    .device_id = VIRTIO_ID_CONSOLE,
    .config_read = console_config_read,
    .activate = console_activate,
    .reset = console_reset,
    .drain = console_drain,
    .release = console_release,
};

void virtio_console_discard(struct virtio_console *con)
{
	if (con && !con->owned)
		free_console(con);
}

struct virtio_console *virtio_console_create(struct vm *vm)
{
	struct virtio_console *con = calloc(1, sizeof(*con));

	if (!con)
		return NULL;
	con->dev.vm = vm;
	con->winch.fd = -1;
	pthread_mutex_init(&con->dev_lock, NULL);
	pthread_cond_init(&con->rx_cond, NULL);
	return con;
}

int virtio_console_add_port(struct virtio_console *con, const char *name, bool is_console,
			    int in_fd, int out_fd)
{
	struct console_port *port;

	if (con->nports == CONSOLE_MAX_PORTS || (name && strlen(name) >= sizeof(port->name)))
		return -EINVAL;
	port = &con->ports[con->nports];
	port->con = con;
	port->id = con->nports++;
	snprintf(port->name, sizeof(port->name), "%s", name ? name : "");
	port->is_console = is_console;
	port->in_fd = in_fd;
	port->out_fd = out_fd;
	if (is_console && in_fd >= 0 && isatty(in_fd))
		make_terminal_raw(con->dev.vm, in_fd);
	return 0;
}

static int watch_kick(struct vm *vm, struct event_source *src, struct virtio_queue *q,
		      void (*handler)(struct event_source *, uint32_t), void *opaque)
{
	*src = (struct event_source){q->kick_fd, handler, opaque};
	return event_loop_add(&vm->loop, src, EPOLLIN);
}

static int watch_window_size(struct virtio_console *con)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* SIGWINCH stays blocked; vm_free() puts the caller's mask back. */
	con->winch = (struct event_source){fd, winch_received, con};
	return event_loop_add(&con->dev.vm->loop, &con->winch, EPOLLIN);
}

int virtio_console_realize(struct virtio_console *con)
{
	struct vm *vm = con->dev.vm;
	struct virtio_device *dev = &con->dev;
	int ret;

	dev->ops = &console_ops;
	dev->priv = con;
	/* F_SIZE: without it the guest keeps RESIZE sizes and never applies them. */
	dev->features = VIRTIO_CONSOLE_F_SIZE | VIRTIO_CONSOLE_F_MULTIPORT | VIRTIO_F_INDIRECT_DESC;
	dev->config_size = sizeof(con->config);
	dev->nqueues = 2 * (con->nports + 1);
	dev->queue_max = 256;
	con->config.max_nr_ports = con->nports;
	ret = virtio_mmio_add(vm, dev);
	if (ret < 0)
		return ret;
	con->owned = true;

	con->ctrl_chain = malloc(sizeof(*con->ctrl_chain));
	ret = con->ctrl_chain ? 0 : -ENOMEM;
	if (!ret)
		ret = watch_kick(vm, &con->ctrl_rx_kick, queue(con, CTRL_RX_QUEUE), ctrl_rx_kicked,
				 con);
	if (!ret)
		ret = watch_kick(vm, &con->ctrl_tx_kick, queue(con, CTRL_TX_QUEUE), ctrl_tx_kicked,
				 con);
	for (unsigned int i = 0; !ret && i < con->nports; i++) {
		struct console_port *port = &con->ports[i];
		unsigned int rx = port_rx_queue(i);

		port->tx_chain = malloc(sizeof(*port->tx_chain));
		if (port->out_fd >= 0)
			port->out =
			    console_out_create(port->out_fd, output_room, output_broken, port);
		if (!port->tx_chain || (port->out_fd >= 0 && !port->out))
			ret = -ENOMEM;
		if (!ret)
			ret = watch_kick(vm, &port->tx_kick, queue(con, rx + 1), tx_kicked, port);
		if (!ret)
			ret = watch_kick(vm, &con->rx_kicks[i], queue(con, rx), rx_kicked, con);
	}
	if (!ret && termios_saved)
		ret = watch_window_size(con);
	return ret;
}

/* Realize unless "ret" says a step before failed; a console the VM does not own is freed. */
static int realize_or_discard(struct virtio_console *con, int ret)
{
	if (!ret)
		ret = virtio_console_realize(con);
	if (ret)
		virtio_console_discard(con);
	return ret;
}

int virtio_console_create_default(struct vm *vm, int in_fd, int out_fd, int err_fd,
				  unsigned int *named_ports)
{
	struct virtio_console *con = virtio_console_create(vm);
	bool tty_in = in_fd >= 0 && isatty(in_fd), tty_out = out_fd >= 0 && isatty(out_fd);
	bool tty_err = err_fd >= 0 && isatty(err_fd);
	unsigned int mine = 0;
	int ret;

	if (!con)
		return -ENOMEM;
	/* Named ports for the streams that are no terminal, unless taken already. */
	mine |= (in_fd >= 0 && !tty_in) ? CONSOLE_PORT_STDIN : 0;
	mine |= (out_fd >= 0 && !tty_out) ? CONSOLE_PORT_STDOUT : 0;
	mine |= (err_fd >= 0 && !tty_err) ? CONSOLE_PORT_STDERR : 0;
	mine &= ~*named_ports;

	/* The terminal port carries the kernel's and init's own messages too. */
	ret = virtio_console_add_port(con, NULL, true, tty_in ? in_fd : -1,
				      tty_out ? out_fd : err_fd);
	if (!ret && (mine & CONSOLE_PORT_STDIN))
		ret = virtio_console_add_port(con, KRUN_PORT_STDIN, false, in_fd, -1);
	if (!ret && (mine & CONSOLE_PORT_STDOUT))
		ret = virtio_console_add_port(con, KRUN_PORT_STDOUT, false, -1, out_fd);
	if (!ret && (mine & CONSOLE_PORT_STDERR))
		ret = virtio_console_add_port(con, KRUN_PORT_STDERR, false, -1, err_fd);
	*named_ports |= mine;
	return realize_or_discard(con, ret);
}

int virtio_console_create_output_only(struct vm *vm, int out_fd)
{
	struct virtio_console *con = virtio_console_create(vm);

	if (!con)
		return -ENOMEM;
	return realize_or_discard(con, virtio_console_add_port(con, NULL, true, -1, out_fd));
}

static int create_multiport_console(struct vm *vm, const struct console_config *c)
{
	struct virtio_console *con;
	int ret = 0;

	if (!c->nports) {
		pr_warn("a multi-port console without ports is left out");
		return 0;
	}
	con = virtio_console_create(vm);
	if (!con)
		return -ENOMEM;
	for (unsigned int i = 0; !ret && i < c->nports; i++) {
		const struct console_port_config *p = &c->ports[i];

		ret = virtio_console_add_port(con, p->name, p->tty, p->in_fd, p->out_fd);
	}
	return realize_or_discard(con, ret);
}

/*
 * Virtio consoles: the implicit one of a workload VM, then those added
 * through the API in their order (serial ones are legacy devices), then the
 * shutdown request channel. vm->named_ports: the stdio ports made for init.
 */
static int create_consoles(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	unsigned int *named_ports = &vm->named_ports;
	int ret = 0;

	*named_ports = 0;
	if (cfg->root_path && !cfg->no_implicit_console) {
		if (cfg->console_output)
			ret = virtio_console_create_output_only(vm, vm->console_out_fd);
		else
			ret = virtio_console_create_default(vm, STDIN_FILENO, STDOUT_FILENO,
							    STDERR_FILENO, named_ports);
	}
	for (unsigned int i = 0; !ret && i < cfg->nconsoles; i++) {
		const struct console_config *c = &cfg->consoles[i];

		if (c->kind == CONSOLE_VIRTIO_DEFAULT)
			ret = virtio_console_create_default(vm, c->in_fd, c->out_fd, c->err_fd,
							    named_ports);
		else if (c->kind == CONSOLE_VIRTIO_MULTIPORT)
			ret = create_multiport_console(vm, c);
	}
	if (!ret && cfg->shutdown_efd >= 0)
		ret = shutdown_channel_create(vm, cfg->shutdown_efd);
	return ret;
}

const struct device_builder consoles_builder = {"consoles", create_consoles};
