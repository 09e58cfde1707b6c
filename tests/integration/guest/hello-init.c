// SPDX-License-Identifier: Apache-2.0
/*
 * A minimal guest init for the boot tests. It runs as PID 1 from an
 * initramfs, prints what the tests look for, and reports an exit status to
 * the VMM through the exit-status port.
 *
 * Driven by the kernel command line (unknown key=value parameters reach
 * init as environment variables):
 *   krun_test_status=N   status to report (default 7)
 *   krun_test_mode=panic  return from PID 1 instead: the kernel panics
 *   krun_test_mode=reboot reboot without reporting (what any init can do)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "devices/legacy/legacy.h"

static void open_console(void)
{
	int fd;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void report_status(int status)
{
	if (ioperm(KRUN_EXIT_STATUS_PORT, 4, 1) < 0) {
		perror("hello-init: ioperm");
		reboot(RB_AUTOBOOT);
	}
	outl((unsigned int)status, KRUN_EXIT_STATUS_PORT);
}

int main(void)
{
	const char *status = getenv("krun_test_status");
	const char *mode = getenv("krun_test_mode");

	open_console();
	printf("hello from the guest\n");
	printf("cpus=%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	fflush(stdout);

	/* The status stops the VM at once: let the UART send everything first. */
	tcdrain(STDOUT_FILENO);
	if (mode && !strcmp(mode, "panic"))
		return 3; /* PID 1 exits: the kernel panics and, with panic=-1, reboots */
	if (mode && !strcmp(mode, "reboot"))
		reboot(RB_AUTOBOOT);
	report_status(status ? atoi(status) : 7);
	for (;;)
		pause();
}
