// SPDX-License-Identifier: Apache-2.0
/*
 * The filesystems every program expects, mounted on the guest's root (the
 * user's directory): none of them is fatal, since a workload may well run
 * without /run or /dev/shm. Mount points that are missing are created;
 * on a read-only root that fails and the mount is skipped with a warning.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
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

static void mount_system(const struct system_mount *m)
{
	int err = make_dir(m->path, m->dir_mode);

	if (err) {
		say("warning: not mounting %s: cannot create the mount point: %s", m->path,
		    strerror(-err));
		return;
	}
	if (is_mount_point(m->path))
		return;
	if (mount(m->type, m->path, m->type, m->flags, m->options) < 0)
		say("warning: cannot mount %s on %s: %s", m->type, m->path, strerror(errno));
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
	mount_system(&system_mounts[0]);
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
