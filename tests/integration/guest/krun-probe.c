// SPDX-License-Identifier: Apache-2.0
/*
 * krun-probe: small operations busybox lacks, for the integration tests.
 * Static, so it runs in the guest's busybox root and in the test host alike.
 *
 *   krun-probe setxattr PATH NAME VALUE
 *   krun-probe getxattr PATH NAME        prints the value
 *   krun-probe handles PATH              tries file-handle tricks; prints
 *                                        what it could read through them
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

static int do_setxattr(char **argv)
{
	if (setxattr(argv[0], argv[1], argv[2], strlen(argv[2]), 0) < 0) {
		perror("setxattr");
		return 1;
	}
	return 0;
}

static int do_getxattr(char **argv)
{
	char value[4096];
	ssize_t n = getxattr(argv[0], argv[1], value, sizeof(value) - 1);

	if (n < 0) {
		perror("getxattr");
		return 1;
	}
	value[n] = 0;
	printf("%s\n", value);
	return 0;
}

/* Print whatever can be read through fd. */
static void dump(int fd, const char *how)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n > 0) {
		buf[n] = 0;
		printf("read via %s: %s\n", how, buf);
	}
	close(fd);
}

/*
 * name_to_handle_at()/open_by_handle_at() and forged handles: on virtio-fs
 * the guest kernel has no export ops, so all of this must fail; and whatever
 * handle a guest invents, it is interpreted by the guest kernel, never by
 * the host.
 */
static int do_handles(char **argv)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[128];
	} h;
	int mount_id, fd;

	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = sizeof(h.bytes);
	if (name_to_handle_at(AT_FDCWD, argv[0], &h.fh, &mount_id, 0) < 0)
		printf("name_to_handle_at: %s\n", strerror(errno));
	fd = open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY);
	if (fd >= 0)
		dump(fd, "own handle");
	/* Forged handles: small inode numbers, typical host root inode 2. */
	for (unsigned int type = 1; type < 4; type++) {
		for (unsigned long ino = 1; ino < 64; ino++) {
			h.fh.handle_type = (int)type;
			h.fh.handle_bytes = 8;
			memcpy(h.fh.f_handle, &ino, sizeof(ino));
			fd = open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY);
			if (fd >= 0)
				dump(fd, "forged handle");
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "setxattr"))
		return do_setxattr(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "getxattr"))
		return do_getxattr(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "handles"))
		return do_handles(argv + 2);
	fprintf(stderr, "usage: krun-probe setxattr|getxattr|handles ...\n");
	return 2;
}
