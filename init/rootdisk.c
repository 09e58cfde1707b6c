// SPDX-License-Identifier: Apache-2.0
/*
 * Disks: the /dev/disk/by-id/virtio-SERIAL links udev would make (there is
 * no udev here), and the switch to a root filesystem on a disk
 * ("root_disk" records, krun_set_root_disk_remount): the disk is mounted
 * under /dev, moved over / and made the root; the system filesystems are
 * then mounted again inside it, where the workload runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

#define STAGING "/dev/.krun-root"

static int read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] ? 0 : -1;
}

/* udev's rule: what is not a safe file name character becomes '_'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s == '/' || *s == '\\' || *s > '~')
			*s = '_';
}

static void link_disk(const char *name, const char *serial)
{
	char target[PATH_MAX], link[PATH_MAX], part[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(target, sizeof(target), "../../%s", name);
	snprintf(link, sizeof(link), "/dev/disk/by-id/virtio-%s", serial);
	symlink(target, link);
	/* Partitions: virtio-SERIAL-partN, as udev names them. */
	snprintf(part, sizeof(part), "/sys/block/%s", name);
	d = opendir(part);
	while (d && (e = readdir(d))) {
		size_t n = strlen(name);

		if (strncmp(e->d_name, name, n) || !e->d_name[n])
			continue;
		snprintf(target, sizeof(target), "../../%s", e->d_name);
		snprintf(link, sizeof(link), "/dev/disk/by-id/virtio-%s-part%s", serial,
			 e->d_name + n + (e->d_name[n] == 'p'));
		symlink(target, link);
	}
	if (d)
		closedir(d);
}

void disks_make_links(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	char path[PATH_MAX], serial[64];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "vd", 2))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
		if (read_line(path, serial, sizeof(serial)) < 0)
			continue;
		sanitize(serial);
		mkdir("/dev/disk", 0755);
		mkdir("/dev/disk/by-id", 0755);
		link_disk(e->d_name, serial);
	}
	closedir(d);
}

static const struct {
	const char *name;
	unsigned long flag;
	bool clear;
} mount_flags[] = {
    {"ro", MS_RDONLY, false},
    {"rw", MS_RDONLY, true},
    {"nosuid", MS_NOSUID, false},
    {"suid", MS_NOSUID, true},
    {"nodev", MS_NODEV, false},
    {"dev", MS_NODEV, true},
    {"noexec", MS_NOEXEC, false},
    {"exec", MS_NOEXEC, true},
    {"sync", MS_SYNCHRONOUS, false},
    {"async", MS_SYNCHRONOUS, true},
    {"noatime", MS_NOATIME, false},
    {"atime", MS_NOATIME, true},
    {"nodiratime", MS_NODIRATIME, false},
    {"relatime", MS_RELATIME, false},
    {"strictatime", MS_STRICTATIME, false},
    {"lazytime", MS_LAZYTIME, false},
};

/* "ro,noatime,errors=remount-ro": flags out, the rest left in @data. */
static unsigned long split_options(const char *options, char *data, size_t len)
{
	unsigned long flags = 0;
	char buf[1024], *save, *opt;
	size_t used = 0;

	data[0] = '\0';
	if (!options)
		return 0;
	snprintf(buf, sizeof(buf), "%s", options);
	for (opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		size_t i, n = sizeof(mount_flags) / sizeof(mount_flags[0]);

		for (i = 0; i < n && strcmp(opt, mount_flags[i].name); i++)
			;
		if (i < n) {
			flags = mount_flags[i].clear ? flags & ~mount_flags[i].flag
						     : flags | mount_flags[i].flag;
			continue;
		}
		used += (size_t)snprintf(data + used, len > used ? len - used : 0, "%s%s",
					 used ? "," : "", opt);
	}
	return flags;
}

/* Without a type: each block filesystem the kernel knows, as mount(8) does. */
static int mount_any(const char *dev, unsigned long flags, const char *data)
{
	char types[4096], *save, *line;
	int fd = open("/proc/filesystems", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, types, sizeof(types) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	types[n] = '\0';
	errno = ENODEV;
	for (line = strtok_r(types, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "nodev", 5))
			continue;
		while (*line == '\t' || *line == ' ')
			line++;
		if (mount(dev, STAGING, line, flags, data) == 0)
			return 0;
	}
	return -1;
}

/* The device may be probed a little after init starts. */
static int wait_for(const char *dev)
{
	struct timespec tick = {0, 20 * 1000 * 1000};
	struct stat st;

	for (int i = 0; i < 250; i++) {
		if (stat(dev, &st) == 0)
			return S_ISBLK(st.st_mode) ? 0 : -ENOTBLK;
		nanosleep(&tick, NULL);
		disks_make_links();
	}
	return -ENOENT;
}

int root_disk_switch(const struct config *cfg)
{
	char data[1024];
	unsigned long flags = split_options(cfg->root_options, data, sizeof(data));
	int err;

	if (!cfg->root_disk)
		return 0;
	err = wait_for(cfg->root_disk);
	if (err) {
		say("root disk %s: %s", cfg->root_disk, strerror(-err));
		return -1;
	}
	if (mkdir(STAGING, 0700) < 0 && errno != EEXIST) {
		say("root disk: cannot create %s: %s", STAGING, strerror(errno));
		return -1;
	}
	if ((cfg->root_fstype ? mount(cfg->root_disk, STAGING, cfg->root_fstype, flags, data)
			      : mount_any(cfg->root_disk, flags, data)) < 0) {
		say("cannot mount the root disk %s (%s, options \"%s\"): %s", cfg->root_disk,
		    cfg->root_fstype ? cfg->root_fstype : "any type",
		    cfg->root_options ? cfg->root_options : "", strerror(errno));
		return -1;
	}
	/* switch_root: the disk's mount goes over /, which becomes the root. */
	if (chdir(STAGING) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		say("cannot make %s the root: %s", cfg->root_disk, strerror(errno));
		return -1;
	}
	mount_system_filesystems();
	rmdir(STAGING);
	return 0;
}
