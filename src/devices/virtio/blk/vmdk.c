// SPDX-License-Identifier: Apache-2.0
/*
 * VMDK images made of flat extents: a text descriptor (createType
 * monolithicFlat or twoGbMaxExtentFlat) listing FLAT extents (a range of a
 * raw file, named relative to the descriptor) and ZERO extents (reads as
 * zeroes, no storage). Sparse extents, binary (KDMV) images, delta links
 * (a parentCID) and NOACCESS extents are refused with a log line naming
 * what the image has. A descriptor with a single FLAT extent is "flat":
 * the device moves its data itself (io_uring).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk/image.h"
#include "vmm/iov.h"
#include "devices/virtio/blk/vmdk.h"
#include "vmm/log.h"
#include "vmm/util.h"

struct vmdk_open_extent {
	uint64_t start, sectors; /* guest sectors */
	uint64_t offset;	 /* bytes into the file */
	int fd;			 /* -1 for ZERO */
};

struct vmdk {
	struct vmdk_open_extent ext[VMDK_MAX_EXTENTS];
	unsigned int n;
};

static int set_why(char *why, size_t len, int err, const char *msg, const char *arg)
{
	snprintf(why, len, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
	return err;
}

/* One "ACCESS SECTORS TYPE ["FILE" [OFFSET]]" line. */
static int parse_extent(char *line, struct vmdk_extent *e, char *why, size_t len)
{
	char access[16], type[16], *q1, *q2;
	unsigned long long sectors, offset = 0;
	int n;

	if (sscanf(line, "%15s %llu %15s%n", access, &sectors, type, &n) != 3)
		return set_why(why, len, -EINVAL, "bad extent line", line);
	if (!strcmp(access, "NOACCESS"))
		return set_why(why, len, -ENOTSUP, "NOACCESS extents are not supported", NULL);
	if (strcmp(access, "RW") && strcmp(access, "RDONLY"))
		return set_why(why, len, -EINVAL, "unknown extent access", access);
	if (!sectors || sectors > VMDK_MAX_SECTORS)
		return set_why(why, len, -EINVAL, "bad extent size", line);
	e->read_only = !strcmp(access, "RDONLY");
	e->sectors = sectors;
	e->file[0] = '\0';
	if (!strcmp(type, "ZERO")) {
		e->zero = true;
		return 0;
	}
	if (strcmp(type, "FLAT"))
		return set_why(why, len, -ENOTSUP,
			       "only FLAT and ZERO vmdk extents are supported, not", type);
	e->zero = false;
	q1 = strchr(line + n, '"');
	q2 = q1 ? strchr(q1 + 1, '"') : NULL;
	if (!q2 || q2 == q1 + 1 || (size_t)(q2 - q1 - 1) >= sizeof(e->file))
		return set_why(why, len, -EINVAL, "FLAT extent without a file name", line);
	memcpy(e->file, q1 + 1, (size_t)(q2 - q1 - 1));
	e->file[q2 - q1 - 1] = '\0';
	if (*(q2 + 1) && sscanf(q2 + 1, "%llu", &offset) != 1 &&
	    strspn(q2 + 1, " \t\r") != strlen(q2 + 1))
		return set_why(why, len, -EINVAL, "bad extent offset", line);
	if (offset > VMDK_MAX_SECTORS)
		return set_why(why, len, -EINVAL, "bad extent offset", line);
	e->offset = offset;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* key = "value" or key = value; NULL if the line is not that key. */
static const char *value_of(char *line, const char *key)
{
	size_t k = strlen(key);
	char *v;

	if (strncmp(line, key, k))
		return NULL;
	v = trim(line + k);
	if (*v != '=')
		return NULL;
	v = trim(v + 1);
	if (*v == '"') {
		char *end = strchr(v + 1, '"');

		if (end)
			*end = '\0';
		v++;
	}
	return v;
}

int vmdk_parse_descriptor(const char *text, size_t len, struct vmdk_descriptor *d, char *why,
			  size_t why_len)
{
	char *buf, *save, *line;
	bool create_ok = false;
	int ret = 0;

	memset(d, 0, sizeof(*d));
	if (len >= 4 && !memcmp(text, "KDMV", 4))
		return set_why(why, why_len, -ENOTSUP,
			       "sparse vmdk images (monolithicSparse, streamOptimized) are not "
			       "supported; only flat extents",
			       NULL);
	/* qemu-img pads the descriptor with NULs to a sector: text, then only NULs. */
	size_t text_len = strnlen(text, len);

	for (size_t i = text_len; i < len; i++)
		if (text[i])
			return set_why(why, why_len, -EINVAL, "not a vmdk text descriptor", NULL);
	len = text_len;
	if (len > VMDK_MAX_DESCRIPTOR)
		return set_why(why, why_len, -EINVAL, "vmdk descriptor too large", NULL);
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (!strstr(buf, "# Disk DescriptorFile")) {
		free(buf);
		return set_why(why, why_len, -EINVAL,
			       "not a vmdk descriptor (no \"# Disk DescriptorFile\")", NULL);
	}
	for (line = strtok_r(buf, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		const char *v;

		line = trim(line);
		if (!*line || *line == '#')
			continue;
		if ((v = value_of(line, "createType"))) {
			if (strcmp(v, "monolithicFlat") && strcmp(v, "twoGbMaxExtentFlat"))
				ret = set_why(why, why_len, -ENOTSUP,
					      "vmdk createType not supported (only monolithicFlat, "
					      "twoGbMaxExtentFlat)",
					      v);
			create_ok = true;
		} else if ((v = value_of(line, "parentCID"))) {
			if (strcasecmp(v, "ffffffff"))
				ret = set_why(why, why_len, -ENOTSUP,
					      "vmdk delta links (a parent image) are not supported",
					      NULL);
		} else if (!strncmp(line, "RW ", 3) || !strncmp(line, "RDONLY ", 7) ||
			   !strncmp(line, "NOACCESS ", 9)) {
			if (d->nextents == VMDK_MAX_EXTENTS)
				ret = set_why(why, why_len, -EINVAL, "too many extents", NULL);
			else
				ret = parse_extent(line, &d->extents[d->nextents++], why, why_len);
		}
	}
	free(buf);
	if (!ret && !create_ok)
		ret = set_why(why, why_len, -EINVAL, "no createType in the descriptor", NULL);
	if (!ret && !d->nextents)
		ret = set_why(why, why_len, -EINVAL, "no extents in the descriptor", NULL);
	for (unsigned int i = 0; !ret && i < d->nextents; i++) {
		if (d->extents[i].sectors > VMDK_MAX_SECTORS - d->sectors)
			ret = set_why(why, why_len, -EINVAL, "extents add up to too much", NULL);
		else
			d->sectors += d->extents[i].sectors;
	}
	return ret;
}

/* ---- I/O over the extents */

static struct vmdk_open_extent *find_extent(struct vmdk *v, uint64_t sector)
{
	for (unsigned int i = 0; i < v->n; i++)
		if (sector >= v->ext[i].start && sector - v->ext[i].start < v->ext[i].sectors)
			return &v->ext[i];
	return NULL;
}

static int vmdk_rw(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off,
		   bool write)
{
	struct vmdk *v = img->priv;
	uint64_t total = iov_length(iov, n), done = 0;

	while (done < total) {
		uint64_t pos = off + done, sector = pos >> 9;
		struct vmdk_open_extent *e = find_extent(v, sector);
		struct iovec part[BLK_IOV_MAX];
		uint64_t in, len;
		unsigned int k;
		int ret;

		if (!e)
			return -EIO;
		in = pos - (e->start << 9);
		len = MIN(total - done, (e->sectors << 9) - in);
		k = iov_slice_whole(iov, n, done, len, part, BLK_IOV_MAX);
		if (!k)
			return -EINVAL;
		if (e->fd < 0) {
			if (write)
				return -EIO; /* a ZERO extent has no storage */
			iov_zero(part, k);
			ret = 0;
		} else {
			ret = write ? blk_pwritev_full(e->fd, part, k, e->offset + in)
				    : blk_preadv_full(e->fd, part, k, e->offset + in);
		}
		if (ret < 0)
			return ret;
		done += len;
	}
	return 0;
}

static int vmdk_read(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off)
{
	return vmdk_rw(img, iov, n, off, false);
}

static int vmdk_write(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off)
{
	return vmdk_rw(img, iov, n, off, true);
}

static int vmdk_flush(struct blk_image *img)
{
	struct vmdk *v = img->priv;

	for (unsigned int i = 0; i < v->n; i++) {
		int ret = v->ext[i].fd >= 0 ? blk_sync_fd(v->ext[i].fd, img->sync_mode) : 0;

		if (ret < 0)
			return ret;
	}
	return 0;
}

static void vmdk_free(struct vmdk *v)
{
	for (unsigned int i = 0; i < v->n; i++)
		if (v->ext[i].fd >= 0)
			close(v->ext[i].fd);
	free(v);
}

static void vmdk_close(struct blk_image *img)
{
	vmdk_free(img->priv);
}

static const struct blk_image_ops vmdk_ops = {
    .name = "vmdk",
    .read = vmdk_read,
    .write = vmdk_write,
    .flush = vmdk_flush,
    .close = vmdk_close,
};

static int open_extent(struct blk_image *img, const char *dir, const struct vmdk_extent *x,
		       struct vmdk_open_extent *e)
{
	char *path;
	struct stat st;
	int err;

	if (x->read_only && !img->read_only) {
		pr_err("vmdk %s: extent \"%s\" is RDONLY: add the disk read-only", img->path,
		       x->file);
		return -EROFS;
	}
	if (asprintf(&path, "%s/%s", x->file[0] == '/' ? "" : dir, x->file) < 0)
		return -ENOMEM;
	e->fd = open(path, (img->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
			       (img->direct_io ? O_DIRECT : 0));
	if (e->fd < 0 && errno == EINVAL && img->direct_io)
		e->fd = open(path, (img->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (e->fd < 0) {
		err = -errno;
		pr_err("vmdk %s: extent %s: %s", img->path, path, strerror(errno));
		free(path);
		return err;
	}
	if (fstat(e->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < (x->offset + x->sectors) * 512) {
		pr_err("vmdk %s: extent %s is not a regular file as long as the descriptor says",
		       img->path, path);
		free(path);
		return -EINVAL;
	}
	pr_debug("vmdk %s: extent %s, %llu sectors at sector %llu", img->path, path,
		 (unsigned long long)x->sectors, (unsigned long long)x->offset);
	free(path);
	e->offset = x->offset * 512;
	return 0;
}

int blk_vmdk_open(struct blk_image *img, const char *path)
{
	static struct vmdk_descriptor d; /* large; opening is single-threaded */
	char why[200], *text = NULL, *dir_copy = NULL;
	struct vmdk *v = NULL;
	uint64_t start = 0;
	ssize_t got;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_err("disk image %s: %s", path, strerror(errno));
		return ret;
	}
	text = malloc(VMDK_MAX_DESCRIPTOR + 1);
	got = text ? pread(fd, text, VMDK_MAX_DESCRIPTOR + 1, 0) : -1;
	close(fd);
	if (got < 0) {
		free(text);
		return -EIO;
	}
	ret = vmdk_parse_descriptor(text, (size_t)got, &d, why, sizeof(why));
	free(text);
	if (ret < 0) {
		if (ret != -ENOMEM)
			pr_err("disk image %s: %s", path, why);
		return ret;
	}
	v = calloc(1, sizeof(*v));
	dir_copy = strdup(path);
	if (!v || !dir_copy) {
		free(v);
		free(dir_copy);
		return -ENOMEM;
	}
	const char *dir = dirname(dir_copy);

	for (unsigned int i = 0; i < d.nextents; i++) {
		struct vmdk_open_extent *e = &v->ext[v->n++];

		e->fd = -1;
		e->start = start;
		e->sectors = d.extents[i].sectors;
		start += e->sectors;
		if (!d.extents[i].zero && (ret = open_extent(img, dir, &d.extents[i], e)) < 0)
			break;
	}
	free(dir_copy);
	if (ret < 0) {
		vmdk_free(v);
		return ret;
	}
	img->ops = &vmdk_ops;
	img->priv = v;
	img->size = d.sectors * 512;
	if (v->n == 1 && v->ext[0].fd >= 0) {
		img->flat = true;
		img->flat_fd = v->ext[0].fd;
		img->flat_offset = v->ext[0].offset;
	}
	return 0;
}
