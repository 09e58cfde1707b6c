// SPDX-License-Identifier: Apache-2.0
/*
 * multi_console: a workload with several consoles of its own choosing.
 *
 *   multi_console NEWROOT LOGFILE
 *
 * The workload's terminal is this process's stdio (a virtio console set up
 * explicitly, the implicit one disabled). A second, multi-port console has
 * two named ports: "greeting" carries a message from the host into the
 * guest, "log" carries the guest's answer into LOGFILE. In the guest, ports
 * are found by name under /sys/class/virtio-ports.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libkrun.h>

static const char guest_script[] =
    "port() { for p in /sys/class/virtio-ports/*; do\n"
    "    [ \"$(cat $p/name)\" = $1 ] && echo /dev/${p##*/}; done; }\n"
    "echo \"ports: $(cat /sys/class/virtio-ports/*/name | tr '\\n' ' ')\"\n"
    "tr a-z A-Z <$(port greeting) >$(port log)\n";

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "multi_console: %s: %s\n", what, strerror(-ret));
		exit(125);
	}
}

/* A pipe already holding "text" and closed at our end: the guest reads it to EOF. */
static int message_fd(const char *text)
{
	int fds[2];

	if (pipe(fds) < 0 || write(fds[1], text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("multi_console: pipe");
		exit(125);
	}
	close(fds[1]);
	return fds[0];
}

int main(int argc, char *argv[])
{
	const char *const args[] = {"-c", guest_script, NULL};
	const char *const envp[] = {"PATH=/bin:/sbin:/usr/bin", NULL};
	int ctx, console, log_fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s NEWROOT LOGFILE\n", argv[0]);
		return 2;
	}
	log_fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (log_fd < 0) {
		perror(argv[2]);
		return 125;
	}
	ctx = krun_create_ctx();
	check(ctx, "krun_create_ctx");
	check(krun_set_root(ctx, argv[1]), "krun_set_root");

	check(krun_disable_implicit_console(ctx), "krun_disable_implicit_console");
	check(krun_add_virtio_console_default(ctx, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO),
	      "krun_add_virtio_console_default");

	console = krun_add_virtio_console_multiport(ctx);
	check(console, "krun_add_virtio_console_multiport");
	check(krun_add_console_port_inout(ctx, console, "greeting",
					  message_fd("hello from the host\n"), -1),
	      "krun_add_console_port_inout");
	check(krun_add_console_port_inout(ctx, console, "log", -1, log_fd),
	      "krun_add_console_port_inout");

	check(krun_set_exec(ctx, "/bin/sh", args, envp), "krun_set_exec");
	check(krun_start_enter(ctx), "krun_start_enter");
	return 125;
}
