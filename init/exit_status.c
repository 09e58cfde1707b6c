// SPDX-License-Identifier: Apache-2.0
/*
 * The workload's exit status to the VMM (src/guest_abi.h), which stops the
 * VM on it:
 *  - on a virtio-fs root, KRUN_EXIT_STATUS_IOCTL on "/": works on any
 *    kernel with virtio-fs, upstream libkrunfw's included;
 *  - else, or if the VMM refuses the ioctl, the I/O port, which needs
 *    ioperm() (CONFIG_X86_IOPL_IOPERM, x86 only).
 * The fd on "/" is opened early, before the workload runs, so a workload
 * that mounts over "/" or pivots the root does not change where it goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "guest_abi.h"
#include "init.h"

/* f_type of FUSE filesystems, virtio-fs among them (linux/magic.h). */
#define FUSE_SUPER_MAGIC 0x65735546

/* How long the VMM may take to stop the VM after the ioctl returned. */
#define STOP_WAIT_S 10

static int root_fd = -1;

void exit_status_prepare(void)
{
	struct statfs st;
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstatfs(fd, &st) < 0 || st.f_type != FUSE_SUPER_MAGIC) {
		close(fd); /* a root disk: the I/O port */
		return;
	}
	root_fd = fd;
}

static bool report_by_ioctl(int status)
{
	if (root_fd < 0)
		return false;
	if (ioctl(root_fd, KRUN_EXIT_STATUS_IOCTL, (unsigned long)status) == 0)
		return true;
	say("cannot report exit status %d on the root share: %s; trying I/O port 0x%x", status,
	    strerror(errno), KRUN_EXIT_STATUS_PORT);
	return false;
}

/* The VM stops on the write itself. */
static void report_by_port(int status)
{
	if (ioperm(KRUN_EXIT_STATUS_PORT, 4, 1) < 0) {
		say("cannot report exit status %d: ioperm(0x%x): %s", status, KRUN_EXIT_STATUS_PORT,
		    strerror(errno));
		return;
	}
	outl((unsigned int)status, KRUN_EXIT_STATUS_PORT);
}

void exit_status_report(int status)
{
	if (report_by_ioctl(status)) {
		/*
		 * The VMM stops the VM from another thread: stay quiet until
		 * it does (a reboot now would print to the console).
		 */
		sleep(STOP_WAIT_S);
		say("the VM did not stop %d s after the exit status report", STOP_WAIT_S);
	} else {
		report_by_port(status);
	}
	/* Should nothing have stopped the VM, a reset at least ends it. */
	say("rebooting");
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}
