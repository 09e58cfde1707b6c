// SPDX-License-Identifier: Apache-2.0
/*
 * Where the workload's fds 0, 1 and 2 go. The VMM gives each standard
 * stream that is not the user's terminal its own virtio-console port, named
 * KRUN_PORT_STDIN/STDOUT/STDERR; every stream without a port uses the
 * console, which then is the user's terminal (hvc0; ttyS0 in the tests).
 * PID 1 opens them all and keeps them, so that it can drain them once the
 * workload is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "guest_abi.h"
#include "init.h"

#define PORTS_DIR     "/sys/class/virtio-ports"
#define DEV_PATH_SIZE (sizeof("/dev/") + sizeof(((struct dirent *)0)->d_name))

/* Ports by index: fds 0-2 of the workload, then the shutdown request port. */
#define NPORTS	      4
#define SHUTDOWN_PORT 3
static const char *const port_names[NPORTS] = {KRUN_PORT_STDIN, KRUN_PORT_STDOUT, KRUN_PORT_STDERR,
					       KRUN_PORT_SHUTDOWN};

/* Reads a small sysfs attribute into @buf, without the trailing newline. */
static int read_attr(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

/* PID 1's own fds 0-2, if the kernel did not open them, go to the console. */
void console_as_init_stdio(void)
{
	int fd = -1;

	for (int i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) >= 0)
			continue;
		if (fd < 0)
			fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd < 0)
			fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return;
		if (fd != i)
			dup2(fd, i);
	}
	if (fd > 2)
		close(fd);
}

/* Fills @dev[i] with the device node of port_names[i], or "" if absent. */
static void find_ports(char dev[NPORTS][DEV_PATH_SIZE])
{
	char path[DEV_PATH_SIZE + 64], name[64];
	struct dirent *de;
	DIR *dir;

	memset(dev, 0, NPORTS * sizeof(dev[0]));
	dir = opendir(PORTS_DIR);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), PORTS_DIR "/%s/name", de->d_name);
		if (read_attr(path, name, sizeof(name)) < 0)
			continue;
		for (int i = 0; i < NPORTS; i++) {
			if (strcmp(name, port_names[i]))
				continue;
			dev_node("virtio-ports", de->d_name);
			snprintf(dev[i], sizeof(dev[i]), "/dev/%s", de->d_name);
		}
	}
	closedir(dir);
}

/*
 * The terminal behind /dev/console: the last name in console/active. Its
 * own node rather than /dev/console, so that ttyname() and `tty` name it.
 */
static int open_console(void)
{
	char active[256], path[sizeof(active) + 8];
	const char *name;
	int fd;

	if (read_attr("/sys/class/tty/console/active", active, sizeof(active)) == 0) {
		name = strrchr(active, ' ');
		name = name ? name + 1 : active;
		dev_node("tty", name);
		snprintf(path, sizeof(path), "/dev/%s", name);
		fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
}

/* Like `stty sane`: canonical input, echo, signals from ^C ^\ ^Z, CR-LF output. */
static void tty_set_sane(int fd)
{
	static const struct {
		int index;
		cc_t value;
	} chars[] = {
	    {VINTR, 003},  {VQUIT, 034},    {VERASE, 0177}, {VKILL, 025},    {VEOF, 004},
	    {VSTART, 021}, {VSTOP, 023},    {VSUSP, 032},   {VREPRINT, 022}, {VWERASE, 027},
	    {VLNEXT, 026}, {VDISCARD, 017}, {VMIN, 1},	    {VTIME, 0},
	};
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return;
	t.c_iflag &= ~(IGNBRK | PARMRK | INLCR | IGNCR | IXOFF | IXANY | ISTRIP);
	t.c_iflag |= BRKINT | ICRNL | IXON | IMAXBEL | IUTF8;
	t.c_oflag &= ~(OCRNL | ONOCR | ONLRET | OFILL);
	t.c_oflag |= OPOST | ONLCR;
	t.c_lflag &= ~(ECHONL | NOFLSH | TOSTOP);
	t.c_lflag |= ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
	t.c_cflag |= CREAD;
	for (size_t i = 0; i < sizeof(chars) / sizeof(chars[0]); i++)
		t.c_cc[chars[i].index] = chars[i].value;
	tcsetattr(fd, TCSANOW, &t);
}

/*
 * PID 1 leads the session that has the console as its controlling terminal;
 * the workload is only its foreground process group. Were the workload the
 * session leader, its exit would hang the terminal up (disassociate_ctty()
 * on a non-pty tty), which discards the output still queued in the driver:
 * the end of what the workload wrote just before exiting.
 */
static void console_take_as_ctty(int fd)
{
	setsid(); /* fails if PID 1 leads a session already, which is fine */
	if (ioctl(fd, TIOCSCTTY, 1) < 0)
		say("warning: cannot make the console the controlling terminal: %s",
		    strerror(errno));
}

/* The console for the streams without a port; PID 1's own fd as a last resort. */
static void use_console(struct stdio *io, int i)
{
	if (io->console_fd < 0) {
		io->console_fd = open_console();
		if (io->console_fd >= 0 && isatty(io->console_fd)) {
			tty_set_sane(io->console_fd);
			console_take_as_ctty(io->console_fd);
		}
	}
	if (io->console_fd >= 0) {
		io->fd[i] = io->console_fd;
		io->on_console[i] = true;
	} else {
		io->fd[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
	}
}

unsigned int stdio_port_bit(const char *name)
{
	for (int i = 0; i < NPORTS; i++)
		if (!strcmp(name, port_names[i]))
			return 1u << i;
	return 0;
}

#define PORT_WAIT_MS 5000

/*
 * The guest names ports when the host's PORT_NAME message is handled, which
 * may be after init starts: wait for every port the VMM said it made.
 */
static void find_expected_ports(char dev[NPORTS][DEV_PATH_SIZE], unsigned int expected)
{
	for (int waited = 0;; waited++) {
		unsigned int found = 0;

		find_ports(dev);
		for (int i = 0; i < NPORTS; i++)
			found |= dev[i][0] ? 1u << i : 0;
		if ((found & expected) == expected)
			return;
		if (waited == PORT_WAIT_MS) {
			say("warning: console ports %#x did not appear; using the console",
			    expected & ~found);
			return;
		}
		usleep(1000);
	}
}

void stdio_open(struct stdio *io, unsigned int expected_ports)
{
	char dev[NPORTS][DEV_PATH_SIZE];

	io->console_fd = -1;
	find_expected_ports(dev, expected_ports);
	io->shutdown_fd = -1;
	if (dev[SHUTDOWN_PORT][0]) {
		io->shutdown_fd = open(dev[SHUTDOWN_PORT], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (io->shutdown_fd < 0)
			say("warning: cannot open the shutdown port %s: %s", dev[SHUTDOWN_PORT],
			    strerror(errno));
	}
	for (int i = 0; i < 3; i++) {
		io->on_console[i] = false;
		io->fd[i] = -1;
		if (dev[i][0]) {
			io->fd[i] = open(dev[i], (i ? O_WRONLY : O_RDONLY) | O_NOCTTY | O_CLOEXEC);
			if (io->fd[i] < 0)
				say("warning: cannot open %s (%s): %s; using the console", dev[i],
				    port_names[i], strerror(errno));
		}
		if (io->fd[i] < 0)
			use_console(io, i);
	}
}

/* True if the workload talks to the console terminal (its foreground group). */
bool stdio_uses_console(const struct stdio *io)
{
	return io->console_fd >= 0 && isatty(io->console_fd);
}

static void flush_fd(int fd)
{
	if (isatty(fd))
		tcdrain(fd);
	else
		fsync(fd); /* EINVAL on a port or a pipe: nothing is buffered there */
}

/*
 * Called once the workload is gone: wait until what was written to the
 * terminal has left the UART / hvc buffers (tcdrain), then close PID 1's
 * copies of the workload's streams. A write() to a virtio-console port
 * returns once the host has the data, so ports have nothing to wait for.
 */
void stdio_flush_and_close(struct stdio *io)
{
	for (int i = 0; i < 3; i++) {
		if (io->fd[i] < 0 || io->fd[i] == io->console_fd)
			continue;
		if (i > 0)
			flush_fd(io->fd[i]);
		close(io->fd[i]);
	}
	if (io->console_fd >= 0) {
		flush_fd(io->console_fd);
		close(io->console_fd);
	}
	/* PID 1's own messages, if they went elsewhere. */
	flush_fd(1);
	flush_fd(2);
	io->fd[0] = io->fd[1] = io->fd[2] = io->console_fd = -1;
}
