// SPDX-License-Identifier: Apache-2.0
/*
 * The filesystems every program expects, mounted on the guest's root (the
 * user's directory): none of them is fatal, since a workload may well run
 * without /run or /dev/shm. Mount points that are missing are created;
 * on a read-only root that fails and the mount is skipped with a warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init.h"

struct system_mount {
	const char *path, *type, *options;
	unsigned long flags;
	mode_t dir_mode;
};

/* In this order: /dev first (see mount_dev()), and before what goes under it. */
static const struct system_mount system_mounts[] = {
    {"/dev", "devtmpfs", "mode=0755", MS_NOSUID, 0755},
    {"/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555},
    {"/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555},
    {"/dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620", MS_NOSUID | MS_NOEXEC, 0755},
    {"/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777},
    {"/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777},
    {"/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV, 0755},
};

/* Links that programs and shells expect in /dev, made if missing. */
static const struct {
	const char *target, *path;
} dev_links[] = {
    {"/proc/self/fd", "/dev/fd"},	{"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
    {"pts/ptmx", "/dev/ptmx"},
};

/*
 * Something is mounted on @path if it is on another device than its parent
 * (or is the root). That misses a bind mount of the same filesystem, which
 * is fine here: we only avoid stacking our mounts on the kernel's own
 * (devtmpfs is mounted automatically on a virtio-fs root).
 */
static bool is_mount_point(const char *path)
{
	char parent[PATH_MAX];
	struct stat st, pst;
	const char *slash = strrchr(path, '/');
	size_t len = slash && slash != path ? (size_t)(slash - path) : 1;

	if (len >= sizeof(parent) || stat(path, &st) < 0)
		return false;
	memcpy(parent, path, len);
	parent[len] = '\0';
	if (stat(parent, &pst) < 0)
		return false;
	return st.st_dev != pst.st_dev || st.st_ino == pst.st_ino;
}

static int make_dir(const char *path, mode_t mode)
{
	struct stat st;
	int err;

	if (mkdir(path, mode) == 0)
		return 0;
	err = -errno;
	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	return err;
}

/* 0 if it is mounted (by us or before), else -errno. */
static int mount_system(const struct system_mount *m)
{
	int err = make_dir(m->path, m->dir_mode);

	if (err) {
		say("warning: not mounting %s: cannot create the mount point: %s", m->path,
		    strerror(-err));
		return err;
	}
	if (is_mount_point(m->path))
		return 0;
	if (mount(m->type, m->path, m->type, m->flags, m->options) < 0) {
		err = -errno;
		say("warning: cannot mount %s on %s: %s", m->type, m->path, strerror(-err));
	}
	return err;
}

/*
 * A kernel without CONFIG_DEVTMPFS: a tmpfs on /dev with the nodes every
 * program expects; dev_node() adds those of the devices init finds.
 */
static void mount_dev_fallback(void)
{
	static const struct {
		const char *path;
		mode_t mode;
		unsigned int major, minor;
	} nodes[] = {
	    {"/dev/console", 0600, 5, 1}, {"/dev/tty", 0666, 5, 0},  {"/dev/null", 0666, 1, 3},
	    {"/dev/zero", 0666, 1, 5},	  {"/dev/full", 0666, 1, 7}, {"/dev/random", 0666, 1, 8},
	    {"/dev/urandom", 0666, 1, 9},
	};

	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=0755") < 0) {
		say("warning: no devtmpfs, and no tmpfs for /dev either: %s", strerror(errno));
		return;
	}
	say("no devtmpfs in this kernel: /dev is a tmpfs with the basic nodes");
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (mknod(nodes[i].path, S_IFCHR | nodes[i].mode,
			  makedev(nodes[i].major, nodes[i].minor)) < 0)
			say("warning: cannot create %s: %s", nodes[i].path, strerror(errno));
}

/*
 * /dev/NAME for the device /sys/class/CLASS/NAME, if it is missing (no
 * devtmpfs): made from the "MAJOR:MINOR" in its dev attribute.
 */
void dev_node(const char *class, const char *name)
{
	char path[PATH_MAX], attr[PATH_MAX], buf[32];
	unsigned int major, minor;
	struct stat st;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "/dev/%s", name) >= (int)sizeof(path) ||
	    lstat(path, &st) == 0 || errno != ENOENT)
		return;
	if (snprintf(attr, sizeof(attr), "/sys/class/%s/%s/dev", class, name) >= (int)sizeof(attr))
		return;
	fd = open(attr, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (sscanf(buf, "%u:%u", &major, &minor) == 2 &&
	    mknod(path, S_IFCHR | 0600, makedev(major, minor)) < 0)
		say("warning: cannot create %s: %s", path, strerror(errno));
}

static void make_dev_links(void)
{
	struct stat st;

	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		if (lstat(dev_links[i].path, &st) < 0 && errno == ENOENT)
			symlink(dev_links[i].target, dev_links[i].path);
	}
}

/* Before anything else, for /dev/console (the rest is mounted later). */
void mount_dev(void)
{
	if (mount_system(&system_mounts[0]) == -ENODEV)
		mount_dev_fallback();
}

/* All of them; those mounted already, /dev included, are left as they are. */
void mount_system_filesystems(void)
{
	for (size_t i = 0; i < sizeof(system_mounts) / sizeof(system_mounts[0]); i++)
		mount_system(&system_mounts[i]);
	make_dev_links();
}

/* mkdir -p: every missing component of the absolute @path. */
static int make_path(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	int err;

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		err = make_dir(buf, 0755);
		*p = '/';
		if (err)
			return err;
	}
	return make_dir(buf, 0755);
}

/* The config's "mount=TAG:PATH" records: each failure is fatal. */
int mount_shares(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nmounts; i++) {
		const struct krun_mount *m = &cfg->mounts[i];
		int err = make_path(m->path);

		if (err) {
			say("cannot create %s to mount virtio-fs %s: %s", m->path, m->tag,
			    strerror(-err));
			return -1;
		}
		if (mount(m->tag, m->path, "virtiofs", 0, NULL) < 0) {
			say("cannot mount virtio-fs %s on %s: %s", m->tag, m->path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}
