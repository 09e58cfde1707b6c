// SPDX-License-Identifier: Apache-2.0
/*
 * 16550A UART (8250 family), as much as Linux's 8250 driver uses: divisor
 * latch, IER/IIR/FCR/LCR/MCR/LSR/MSR/SCR, a receive FIFO, loopback, and the
 * "transmitter empty" interrupt. Transmission is instant: every byte written
 * to THR goes straight to the output fd.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/legacy/legacy.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

enum uart_reg { RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR };

#define IER_RDI	 0x01
#define IER_THRI 0x02
#define IER_MASK 0x0f

#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_RDI	   0x04
#define IIR_FIFO   0xc0

#define FCR_FIFO_ENABLE 0x01
#define FCR_CLEAR_RX	0x02

#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI	0x40
#define MSR_DCD 0x80

#define RX_FIFO_SIZE 64

struct serial {
	struct vm *vm;
	pthread_mutex_t lock;
	unsigned int irq;
	int out_fd;
	struct event_source input;

	uint8_t ier, lcr, mcr, scr, fcr;
	uint8_t dll, dlm;
	bool thr_irq_pending; /* "transmitter empty" not yet seen via IIR */
	int irq_level;

	uint8_t rx[RX_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	bool input_paused;
};

static uint8_t serial_iir(struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_FIFO_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_irq_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NO_INT;
}

/* Called with the lock held after every state change. */
static void serial_update_irq(struct serial *s)
{
	int level = !(serial_iir(s) & IIR_NO_INT);

	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(s->vm, s->irq, level);
	}
}

static void rx_push(struct serial *s, const uint8_t *data, size_t len)
{
	while (len-- && s->rx_count < RX_FIFO_SIZE) {
		s->rx[(s->rx_head + s->rx_count) % RX_FIFO_SIZE] = *data++;
		s->rx_count++;
	}
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
	s->rx_count--;
	return c;
}

static void serial_transmit(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, &c, 1);
		return;
	}
	if (s->out_fd >= 0 && write_full(s->out_fd, &c, 1) < 0)
		s->out_fd = -1; /* the reader went away: drop output from now on */
}

static void serial_resume_input(struct serial *s)
{
	if (s->input_paused && s->rx_count == 0) {
		s->input_paused = false;
		event_loop_modify(&s->vm->loop, &s->input, EPOLLIN);
	}
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	uint8_t v;

	switch (reg) {
	case RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		v = rx_pop(s);
		serial_resume_input(s);
		return v;
	case IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case IIR_FCR:
		v = serial_iir(s);
		/* Reading IIR acknowledges a transmitter-empty interrupt. */
		if ((v & 0x0f) == IIR_THRI)
			s->thr_irq_pending = false;
		return v;
	case LCR:
		return s->lcr;
	case MCR:
		return s->mcr;
	case LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case MSR:
		if (s->mcr & MCR_LOOP) /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			return (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) |
					 ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
		return MSR_DCD | MSR_DSR | MSR_CTS;
	default:
		return s->scr;
	}
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		serial_transmit(s, v);
		s->thr_irq_pending = true;
		return;
	case IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling THRI with an empty transmitter raises it at once. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thr_irq_pending = true;
		s->ier = v & IER_MASK;
		return;
	case IIR_FCR:
		s->fcr = v & FCR_FIFO_ENABLE;
		if (v & FCR_CLEAR_RX) {
			s->rx_count = 0;
			serial_resume_input(s);
		}
		return;
	case LCR:
		s->lcr = v;
		return;
	case MCR:
		s->mcr = v & MCR_MASK;
		return;
	case SCR:
		s->scr = v;
		return;
	default: /* LSR and MSR are read-only */
		return;
	}
}

static void serial_io_read(struct bus_device *dev, uint64_t offset, void *data, uint32_t len)
{
	struct serial *s = dev->priv;

	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	*(uint8_t *)data = serial_read_reg(s, (unsigned int)offset);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_io_write(struct bus_device *dev, uint64_t offset, const void *data, uint32_t len)
{
	struct serial *s = dev->priv;

	(void)len;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, (unsigned int)offset, *(const uint8_t *)data);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static const struct bus_device_ops serial_ops = {
    .name = "serial",
    .read = serial_io_read,
    .write = serial_io_write,
};

/* Host input: fill the receive FIFO; pause the fd while the FIFO is full. */
static void serial_input_ready(struct event_source *src, uint32_t events)
{
	struct serial *s = src->opaque;
	uint8_t buf[RX_FIFO_SIZE];
	ssize_t n;

	(void)events;
	pthread_mutex_lock(&s->lock);
	/*
	 * The FIFO can be full without host input (loopback fills it): a
	 * read() of 0 bytes would look like EOF. Pause until the guest reads.
	 */
	if (s->rx_count == RX_FIFO_SIZE) {
		s->input_paused = true;
		event_loop_modify(&s->vm->loop, src, 0);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	n = read(src->fd, buf, RX_FIFO_SIZE - s->rx_count);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			event_loop_remove(&s->vm->loop, src); /* EOF or dead fd */
	} else {
		rx_push(s, buf, (size_t)n);
		if (s->rx_count == RX_FIFO_SIZE) {
			s->input_paused = true;
			event_loop_modify(&s->vm->loop, src, 0);
		}
		serial_update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
}

int serial_create(struct vm *vm, uint16_t port, unsigned int irq, int in_fd, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->vm = vm;
	s->irq = irq;
	s->out_fd = out_fd;
	s->input = (struct event_source){in_fd, serial_input_ready, s};
	pthread_mutex_init(&s->lock, NULL);

	ret = bus_register(&vm->pio, port, 8, &serial_ops, s);
	if (!ret)
		ret = vm_on_release(vm, free, s);
	if (ret < 0) {
		free(s);
		return ret;
	}
	if (in_fd >= 0 && event_loop_add(&vm->loop, &s->input, EPOLLIN) < 0)
		pr_debug("serial: input fd %d cannot be polled, guest input disabled", in_fd);
	return 0;
}
