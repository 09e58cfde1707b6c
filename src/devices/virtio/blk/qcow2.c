// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2 images, versions 2 and 3 (QEMU's docs/interop/qcow2.txt, read for
 * the on-disk layout only). Guest offsets map through the L1 table (in
 * memory) and L2 tables (a small cache) to host clusters; clusters are
 * reference-counted in refcount blocks listed by the refcount table.
 *
 * Read: normal clusters straight into the guest's buffers, zero clusters,
 * compressed clusters (deflate or zstd), and unallocated ones from the
 * backing file (opened read-only, named relative to the image) or zeroes.
 * Write: in place for clusters this image owns alone; otherwise a cluster
 * is allocated (copy-on-write from what the guest saw before), and new L2
 * tables and refcount blocks are made as needed. Discard and write-zeroes
 * drop or zero whole clusters.
 *
 * Crash safety, for a VMM killed at any moment: every change is written in
 * an order where the image on disk never references a cluster whose
 * refcount does not count it: the refcount goes up before the cluster is
 * linked in (new data is written before the L2 entry that points at it), a
 * cluster is unlinked before its refcount goes down. A crash in between
 * leaks a cluster, which `qemu-img check` reports as a leak, not corruption.
 *
 * Refused, by name: encryption, external data files, extended L2 entries,
 * internal snapshots, images marked corrupt, and (for writing) dirty ones.
 * The refcount table grows up to 8 MiB (with 64 KiB clusters, 16-bit
 * refcounts: far beyond any disk); past that, writes needing a new
 * cluster fail with an I/O error (logged once).
 *
 * Every field, table entry and offset is checked before use: the image is
 * untrusted. Metadata lives under one lock per image; guest data moves
 * outside it where the mapping is stable (clusters owned by this image).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "devices/virtio/blk/image.h"
#include "vmm/iov.h"
#include "devices/virtio/blk/qcow2.h"
#include "libkrun.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define L2_CACHE_SIZE		32
#define RB_CACHE_SIZE		8
#define MAX_BACKING_DEPTH	16
#define QCOW2_FREE_SEARCH_SLACK 65536
#define IOV_SLICE_MAX		BLK_IOV_MAX

struct cache_entry {
	uint64_t offset; /* host offset of the table, 0 if empty */
	uint64_t last_use;
	uint8_t *data;
};

struct qcow2 {
	int fd;
	struct qcow2_header h;
	uint64_t cluster_size;
	unsigned int l2_bits; /* entries per L2 table: 1 << l2_bits */
	unsigned int rb_bits; /* refcounts per refcount block: 1 << rb_bits */
	uint64_t *l1;	      /* host byte order */
	uint64_t *reftable;   /* host byte order */
	uint64_t reftable_entries;
	struct cache_entry l2_cache[L2_CACHE_SIZE], rb_cache[RB_CACHE_SIZE];
	uint64_t use_clock;
	uint64_t free_hint; /* no free cluster below this index */
	uint64_t file_clusters;
	uint8_t *cow_buf;		/* one cluster: copy-on-write */
	uint8_t *comp_buf;		/* compressed input */
	uint8_t *plain_buf;		/* one cluster: decompressed */
	uint64_t plain_for;		/* the L2 entry plain_buf holds, 0 if none */
	struct qcow2_inflater inflater; /* kept across clusters, under the lock */
	struct blk_image *backing;
	bool warned_full;
	pthread_mutex_t lock;
};

/* ---- header and tables: pure checks, also run by the fuzzer */

static uint32_t be32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static int bad(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return -EINVAL;
}

static int unsupported(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return -ENOTSUP;
}

int qcow2_parse_header(const uint8_t *buf, size_t len, struct qcow2_header *h, char *why,
		       size_t why_len)
{
	uint64_t cs, l2_entries, need_l1;

	memset(h, 0, sizeof(*h));
	if (len < 72 || be32_at(buf) != QCOW2_MAGIC)
		return bad(why, why_len, "not a qcow2 image (no QFI\\xfb magic)");
	h->version = be32_at(buf + 4);
	h->backing_file_offset = be64_at(buf + 8);
	h->backing_file_size = be32_at(buf + 16);
	h->cluster_bits = be32_at(buf + 20);
	h->size = be64_at(buf + 24);
	h->crypt_method = be32_at(buf + 32);
	h->l1_size = be32_at(buf + 36);
	h->l1_table_offset = be64_at(buf + 40);
	h->refcount_table_offset = be64_at(buf + 48);
	h->refcount_table_clusters = be32_at(buf + 56);
	h->nb_snapshots = be32_at(buf + 60);
	h->snapshots_offset = be64_at(buf + 64);
	h->refcount_order = 4;
	h->header_length = 72;
	if (h->version != 2 && h->version != 3)
		return unsupported(why, why_len, "qcow2 version other than 2 or 3");
	if (h->version == 3) {
		if (len < 104)
			return bad(why, why_len, "truncated version 3 header");
		h->incompatible_features = be64_at(buf + 72);
		h->compatible_features = be64_at(buf + 80);
		h->autoclear_features = be64_at(buf + 88);
		h->refcount_order = be32_at(buf + 96);
		h->header_length = be32_at(buf + 100);
		if (h->header_length < 104 || h->header_length > len || h->header_length % 8)
			return bad(why, why_len, "bad header length");
		if (h->header_length > 104)
			h->compression_type = buf[104];
	}
	if (h->cluster_bits < 9 || h->cluster_bits > 21)
		return bad(why, why_len, "cluster size outside 512 B..2 MiB");
	cs = 1ULL << h->cluster_bits;
	if (h->header_length > cs)
		return bad(why, why_len, "header larger than a cluster");
	if (h->crypt_method)
		return unsupported(why, why_len, "encrypted qcow2 images are not supported");
	if (h->incompatible_features & QCOW2_INCOMPAT_CORRUPT)
		return unsupported(why, why_len, "the image is marked corrupt (qemu-img check -r)");
	if (h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE)
		return unsupported(why, why_len, "qcow2 external data files are not supported");
	if (h->incompatible_features & QCOW2_INCOMPAT_EXTL2)
		return unsupported(why, why_len,
				   "qcow2 extended L2 entries (subclusters) are not "
				   "supported");
	if (h->incompatible_features & ~(uint64_t)QCOW2_INCOMPAT_KNOWN)
		return unsupported(why, why_len, "unknown incompatible qcow2 features");
	if ((h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) && h->compression_type > 1)
		return unsupported(why, why_len, "unknown compression type");
	if (!(h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) && h->compression_type)
		return bad(why, why_len, "compression type set without its feature bit");
	if (h->nb_snapshots)
		return unsupported(why, why_len, "qcow2 internal snapshots are not supported");
	if (h->refcount_order > 6)
		return bad(why, why_len, "refcount width over 64 bits");
	if (h->size > QCOW2_MAX_SIZE)
		return bad(why, why_len, "virtual size too large");
	l2_entries = cs / 8;
	need_l1 = (h->size + cs * l2_entries - 1) / (cs * l2_entries);
	if (h->l1_size < need_l1 || h->l1_size > QCOW2_MAX_L1_ENTRIES)
		return bad(why, why_len,
			   "L1 table does not cover the virtual size, or is too large");
	if ((h->l1_size && (h->l1_table_offset % cs || !h->l1_table_offset)) ||
	    h->l1_table_offset > QCOW2_MAX_OFFSET)
		return bad(why, why_len, "L1 table offset not cluster aligned");
	if (!h->refcount_table_offset || h->refcount_table_offset % cs ||
	    h->refcount_table_offset > QCOW2_MAX_OFFSET)
		return bad(why, why_len, "refcount table offset not cluster aligned");
	if (!h->refcount_table_clusters ||
	    (uint64_t)h->refcount_table_clusters * cs > QCOW2_MAX_REFTABLE_BYTES)
		return bad(why, why_len, "refcount table empty or too large");
	if (h->backing_file_offset) {
		if (!h->backing_file_size || h->backing_file_size > 1023 ||
		    h->backing_file_offset > cs - h->backing_file_size)
			return bad(why, why_len, "backing file name outside the first cluster");
	}
	return 0;
}

/* Header extensions: only the backing file format matters here. */
int qcow2_parse_extensions(const uint8_t *buf, size_t len, const struct qcow2_header *h,
			   char *backing_fmt, size_t fmt_len)
{
	size_t off = h->version == 2 ? 72 : h->header_length;

	backing_fmt[0] = '\0';
	while (off + 8 <= len) {
		uint32_t type = be32_at(buf + off), elen = be32_at(buf + off + 4);

		off += 8;
		if (type == 0)
			return 0;
		if (elen > len - off)
			return -EINVAL;
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (elen >= fmt_len)
				return -EINVAL;
			memcpy(backing_fmt, buf + off, elen);
			backing_fmt[elen] = '\0';
		}
		off += ALIGN_UP((size_t)elen, 8);
	}
	return 0;
}

/* What an L1 or L2 entry points at, checked: 0 for none, or -1 when invalid. */
int64_t qcow2_table_offset(uint64_t entry, uint64_t cluster_size)
{
	uint64_t off = entry & QCOW2_OFFSET_MASK;

	if (entry & QCOW2_L1_RESERVED)
		return -1;
	if (off % cluster_size || off > QCOW2_MAX_OFFSET)
		return -1;
	return (int64_t)off;
}

/* ---- metadata I/O */

static int qread(struct qcow2 *q, void *buf, uint64_t len, uint64_t off)
{
	return blk_pread_full(q->fd, buf, len, off);
}

static int qwrite(struct qcow2 *q, const void *buf, uint64_t len, uint64_t off)
{
	return blk_pwrite_full(q->fd, buf, len, off);
}

static struct cache_entry *cache_get(struct qcow2 *q, struct cache_entry *c, unsigned int n,
				     uint64_t off, bool fill)
{
	struct cache_entry *victim = &c[0];

	for (unsigned int i = 0; i < n; i++) {
		if (c[i].offset == off) {
			c[i].last_use = ++q->use_clock;
			return &c[i];
		}
		if (c[i].last_use < victim->last_use)
			victim = &c[i];
	}
	victim->offset = 0;
	/* Buffers are made on first use: most images touch few tables. */
	if (!victim->data && !(victim->data = malloc(q->cluster_size)))
		return NULL;
	if (fill) {
		int ret = qread(q, victim->data, q->cluster_size, off);

		/* A table past the end of the file reads as zeroes (a sparse tail). */
		if (ret == -EIO)
			memset(victim->data, 0, q->cluster_size);
		else if (ret < 0)
			return NULL;
	} else {
		memset(victim->data, 0, q->cluster_size);
	}
	victim->offset = off;
	victim->last_use = ++q->use_clock;
	return victim;
}

/* ---- refcounts */

static uint64_t refcount_get_raw(const uint8_t *block, unsigned int order, uint64_t i)
{
	unsigned int bits = 1u << order;

	if (bits >= 8) {
		uint64_t v = 0;

		for (unsigned int b = 0; b < bits / 8; b++)
			v = v << 8 | block[i * (bits / 8) + b];
		return v;
	}
	return (block[i * bits / 8] >> (8 - bits - (i * bits) % 8)) & ((1u << bits) - 1);
}

static void refcount_set_raw(uint8_t *block, unsigned int order, uint64_t i, uint64_t v)
{
	unsigned int bits = 1u << order;

	if (bits >= 8) {
		for (unsigned int b = bits / 8; b-- > 0; v >>= 8)
			block[i * (bits / 8) + b] = (uint8_t)v;
		return;
	}
	unsigned int shift = 8 - bits - (i * bits) % 8;
	uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);

	block[i * bits / 8] = (uint8_t)((block[i * bits / 8] & ~mask) | ((v << shift) & mask));
}

/* The refcount of host cluster "c"; -errno, or -EINVAL for a bad table. */
static int refcount_get(struct qcow2 *q, uint64_t c, uint64_t *out)
{
	uint64_t idx = c >> q->rb_bits;
	int64_t off;
	struct cache_entry *e;

	*out = 0;
	if (idx >= q->reftable_entries)
		return 0;
	off = qcow2_table_offset(q->reftable[idx], q->cluster_size);
	if (off < 0)
		return -EINVAL;
	if (!off)
		return 0;
	e = cache_get(q, q->rb_cache, RB_CACHE_SIZE, (uint64_t)off, true);
	if (!e)
		return -EIO;
	*out = refcount_get_raw(e->data, q->h.refcount_order, c & ((1ULL << q->rb_bits) - 1));
	return 0;
}

/* Write one refcount; its block must exist. */
static int refcount_store(struct qcow2 *q, uint64_t c, uint64_t v)
{
	uint64_t idx = c >> q->rb_bits, i = c & ((1ULL << q->rb_bits) - 1);
	int64_t off =
	    idx < q->reftable_entries ? qcow2_table_offset(q->reftable[idx], q->cluster_size) : -1;
	unsigned int bits = 1u << q->h.refcount_order;
	uint64_t byte, len;
	struct cache_entry *e;

	if (off <= 0)
		return -EINVAL;
	e = cache_get(q, q->rb_cache, RB_CACHE_SIZE, (uint64_t)off, true);
	if (!e)
		return -EIO;
	refcount_set_raw(e->data, q->h.refcount_order, i, v);
	byte = i * bits / 8;
	len = bits >= 8 ? bits / 8 : 1;
	return qwrite(q, e->data + byte, len, (uint64_t)off + byte);
}

static int refcount_drop(struct qcow2 *q, uint64_t c)
{
	uint64_t v;
	int ret = refcount_get(q, c, &v);

	if (ret < 0 || v == 0)
		return ret;
	ret = refcount_store(q, c, v - 1);
	if (!ret && v == 1) {
		if (c < q->free_hint)
			q->free_hint = c;
		/* The space goes back to the host filesystem (du shrinks). */
		fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)(c * q->cluster_size), (off_t)q->cluster_size);
	}
	return ret;
}

/*
 * A refcount table with room for more refcount blocks. The new table and
 * the blocks that count it go where no refcount block reaches yet (the
 * first cluster the old table does not cover), blocks first: B blocks
 * covering [T, T + B * per_block), then the table of N clusters. Order:
 * blocks, table, then the header switches to it (one write), then the old
 * table's clusters are released. A crash before the switch leaves unused
 * bytes past the end, after it a leak.
 */
static int grow_reftable(struct qcow2 *q)
{
	uint64_t per_block = 1ULL << q->rb_bits, old = q->reftable_entries;
	uint64_t entries = old * 2, n, b = 1, t = old << q->rb_bits;
	uint64_t old_off = q->h.refcount_table_offset, old_clusters = q->h.refcount_table_clusters;
	uint64_t *table;
	uint8_t hdr[12];
	int ret = 0;

	for (;;) {
		n = (entries * 8 + q->cluster_size - 1) / q->cluster_size;
		uint64_t need = (n + b + per_block - 1) / per_block;

		if (need == b)
			break;
		b = need;
	}
	if (entries < old + b || n * q->cluster_size > QCOW2_MAX_REFTABLE_BYTES ||
	    (t + b + n) * q->cluster_size > QCOW2_MAX_OFFSET) {
		if (!q->warned_full)
			pr_err("qcow2: the refcount table cannot grow further");
		q->warned_full = true;
		return -ENOSPC;
	}
	table = calloc(n * q->cluster_size / 8, 8);
	if (!table)
		return -ENOMEM;
	memcpy(table, q->reftable, old * 8);
	for (uint64_t i = 0; i < b && !ret; i++) {
		struct cache_entry *e =
		    cache_get(q, q->rb_cache, RB_CACHE_SIZE, (t + i) * q->cluster_size, false);

		if (!e) {
			ret = -ENOMEM;
			break;
		}
		for (uint64_t c = (old + i) << q->rb_bits; c < ((old + i + 1) << q->rb_bits); c++)
			if (c >= t && c < t + b + n)
				refcount_set_raw(e->data, q->h.refcount_order,
						 c - ((old + i) << q->rb_bits), 1);
		ret = qwrite(q, e->data, q->cluster_size, (t + i) * q->cluster_size);
		if (ret < 0)
			e->offset = 0;
		table[old + i] = (t + i) * q->cluster_size;
	}
	for (uint64_t i = 0; i < n * q->cluster_size / 8 && !ret; i++)
		table[i] = htobe64(table[i]);
	if (!ret)
		ret = qwrite(q, table, n * q->cluster_size, (t + b) * q->cluster_size);
	for (uint64_t i = 0; i < n * q->cluster_size / 8; i++)
		table[i] = be64toh(table[i]);
	if (!ret) {
		uint64_t off = htobe64((t + b) * q->cluster_size);
		uint32_t clusters = htobe32((uint32_t)n);

		memcpy(hdr, &off, 8);
		memcpy(hdr + 8, &clusters, 4);
		ret = qwrite(q, hdr, 12, 48);
	}
	if (ret < 0) {
		free(table);
		return ret;
	}
	free(q->reftable);
	q->reftable = table;
	q->reftable_entries = n * q->cluster_size / 8;
	q->h.refcount_table_offset = (t + b) * q->cluster_size;
	q->h.refcount_table_clusters = (uint32_t)n;
	q->file_clusters = MAX(q->file_clusters, t + b + n);
	for (uint64_t i = 0; i < old_clusters && !ret; i++)
		ret = refcount_drop(q, (old_off >> q->h.cluster_bits) + i);
	return ret;
}

/*
 * The lowest cluster with refcount 0 at or after free_hint. Free clusters
 * lie inside the file or just past its end; an image whose refcounts say
 * otherwise (hostile, or broken) gets an error, not an endless search.
 */
static int find_free(struct qcow2 *q, uint64_t *out)
{
	for (uint64_t c = MAX(q->free_hint, 1);; c++) {
		uint64_t v;
		int ret;

		if (c >= q->file_clusters + QCOW2_FREE_SEARCH_SLACK) {
			if (!q->warned_full)
				pr_err("qcow2: no free cluster near the end of the image: its "
				       "refcounts are inconsistent (qemu-img check -r all)");
			q->warned_full = true;
			return -EIO;
		}
		if (c >= q->reftable_entries << q->rb_bits && (ret = grow_reftable(q)) < 0)
			return ret;
		ret = refcount_get(q, c, &v);
		if (ret < 0)
			return ret;
		if (!v) {
			q->free_hint = c + 1;
			if (c >= q->file_clusters)
				q->file_clusters = c + 1;
			*out = c;
			return 0;
		}
	}
}

/*
 * A new cluster with refcount 1 (written before anything points at it).
 * A missing refcount block is made in the free cluster itself, counting
 * itself, and linked from the refcount table before the search goes on.
 */
static int alloc_cluster(struct qcow2 *q, uint64_t *out)
{
	for (;;) {
		uint64_t c, idx;
		int ret = find_free(q, &c);

		if (ret < 0)
			return ret;
		idx = c >> q->rb_bits;
		if (q->reftable[idx]) {
			ret = refcount_store(q, c, 1);
			if (ret < 0)
				return ret;
			*out = c;
			return 0;
		}
		/* c becomes the refcount block of its own range. */
		struct cache_entry *e =
		    cache_get(q, q->rb_cache, RB_CACHE_SIZE, c * q->cluster_size, false);
		uint64_t be;

		if (!e)
			return -ENOMEM;
		refcount_set_raw(e->data, q->h.refcount_order, c & ((1ULL << q->rb_bits) - 1), 1);
		ret = qwrite(q, e->data, q->cluster_size, c * q->cluster_size);
		if (ret < 0) {
			e->offset = 0;
			return ret;
		}
		be = htobe64(c * q->cluster_size);
		ret = qwrite(q, &be, 8, q->h.refcount_table_offset + idx * 8);
		if (ret < 0)
			return ret;
		q->reftable[idx] = c * q->cluster_size;
	}
}

/* ---- mapping */

/* The L2 table of guest offset "off": its cache entry, or NULL (*err set) when none. */
static struct cache_entry *l2_table(struct qcow2 *q, uint64_t off, int *err)
{
	uint64_t l1_idx = off >> (q->h.cluster_bits + q->l2_bits);
	int64_t l2_off;

	*err = 0;
	if (l1_idx >= q->h.l1_size) {
		*err = -EINVAL;
		return NULL;
	}
	l2_off = qcow2_table_offset(q->l1[l1_idx], q->cluster_size);
	if (l2_off < 0) {
		*err = -EINVAL;
		return NULL;
	}
	if (!l2_off)
		return NULL;
	struct cache_entry *e = cache_get(q, q->l2_cache, L2_CACHE_SIZE, (uint64_t)l2_off, true);

	if (!e)
		*err = -EIO;
	return e;
}

static unsigned int l2_index(const struct qcow2 *q, uint64_t off)
{
	return (unsigned int)((off >> q->h.cluster_bits) & ((1ULL << q->l2_bits) - 1));
}

/* The L2 entry for guest offset "off" (0: unallocated). */
static int l2_entry(struct qcow2 *q, uint64_t off, uint64_t *entry)
{
	int err;
	struct cache_entry *e = l2_table(q, off, &err);

	*entry = e ? be64_at(e->data + 8 * l2_index(q, off)) : 0;
	return err;
}

enum cluster_kind { C_UNALLOCATED, C_ZERO, C_NORMAL, C_COMPRESSED };

int qcow2_classify(uint64_t entry, unsigned int version, uint64_t cluster_size, uint64_t *host)
{
	*host = 0;
	if (entry & QCOW2_COMPRESSED)
		return C_COMPRESSED;
	if (entry & QCOW2_L2_RESERVED)
		return -1;
	if (entry & QCOW2_ZERO_FLAG) {
		if (version < 3)
			return -1;
		return C_ZERO;
	}
	*host = entry & QCOW2_OFFSET_MASK;
	if (!*host)
		return C_UNALLOCATED;
	if (*host % cluster_size || *host > QCOW2_MAX_OFFSET)
		return -1;
	return C_NORMAL;
}

/* A compressed cluster's place: host offset and length in bytes. */
static void compressed_extent(const struct qcow2 *q, uint64_t entry, uint64_t *off, uint64_t *len)
{
	unsigned int x = 62 - (q->h.cluster_bits - 8);
	uint64_t sectors = ((entry >> x) & ((1ULL << (q->h.cluster_bits - 8)) - 1)) + 1;

	*off = entry & ((1ULL << x) - 1);
	*len = sectors * 512 - (*off & 511);
}

int qcow2_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len, bool zstd)
{
	struct qcow2_inflater z = {0};
	int ret = qcow2_inflate_with(&z, in, in_len, out, out_len, zstd);

	qcow2_inflater_free(&z);
	return ret;
}

void qcow2_inflater_free(struct qcow2_inflater *z)
{
	if (z->zstd)
		ZSTD_freeDCtx(z->zstd);
	if (z->zlib_ready)
		inflateEnd(&z->zlib);
	memset(z, 0, sizeof(*z));
}

int qcow2_inflate_with(struct qcow2_inflater *z, const uint8_t *in, size_t in_len, uint8_t *out,
		       size_t out_len, bool zstd)
{
	if (zstd) {
		ZSTD_inBuffer ib = {in, in_len, 0};
		ZSTD_outBuffer ob = {out, out_len, 0};
		size_t r = 1;

		if (!z->zstd && !(z->zstd = ZSTD_createDCtx()))
			return -ENOMEM;
		ZSTD_DCtx_reset(z->zstd, ZSTD_reset_session_only);
		/* The compressed data may be followed by unrelated bytes: stop when full. */
		while (ob.pos < ob.size && ib.pos < ib.size && r) {
			r = ZSTD_decompressStream(z->zstd, &ob, &ib);
			if (ZSTD_isError(r))
				break;
		}
		return ob.pos == out_len ? 0 : -EIO;
	}
	int r;

	if (!z->zlib_ready) {
		if (inflateInit2(&z->zlib, -12) != Z_OK)
			return -ENOMEM;
		z->zlib_ready = true;
	} else if (inflateReset(&z->zlib) != Z_OK) {
		return -EIO;
	}
	z->zlib.next_in = (uint8_t *)in;
	z->zlib.avail_in = (uInt)in_len;
	z->zlib.next_out = out;
	z->zlib.avail_out = (uInt)out_len;
	r = inflate(&z->zlib, Z_FINISH);
	return (r == Z_STREAM_END || r == Z_OK || r == Z_BUF_ERROR) && z->zlib.avail_out == 0
		   ? 0
		   : -EIO;
}

/* Decompress the cluster of L2 entry "entry" into plain_buf (kept for the next read). */
static int load_compressed(struct qcow2 *q, uint64_t entry)
{
	uint64_t off, len;
	ssize_t got;

	if (q->plain_for == entry)
		return 0;
	q->plain_for = 0;
	compressed_extent(q, entry, &off, &len);
	if (len > 2 * q->cluster_size || off > QCOW2_MAX_OFFSET)
		return -EINVAL;
	/* The last sectors may run past the end of the file. */
	got = pread(q->fd, q->comp_buf, len, (off_t)off);
	if (got <= 0)
		return -EIO;
	if (qcow2_inflate_with(&q->inflater, q->comp_buf, (size_t)got, q->plain_buf,
			       q->cluster_size, q->h.compression_type == 1) < 0)
		return -EIO;
	q->plain_for = entry;
	return 0;
}

/* From the backing image, zeroes past its end or without one. */
static int read_backing(struct qcow2 *q, struct iovec *v, unsigned int n, uint64_t off,
			uint64_t len)
{
	struct blk_image *b = q->backing;
	uint64_t in = 0;

	if (b && off < b->size)
		in = MIN(len, b->size - off);
	if (in) {
		struct iovec part[IOV_SLICE_MAX];
		unsigned int k = iov_slice_whole(v, n, 0, in, part, IOV_SLICE_MAX);
		int ret = k ? b->ops->read(b, part, k, off) : -EINVAL;

		if (ret < 0)
			return ret;
	}
	if (in < len) {
		struct iovec part[IOV_SLICE_MAX];
		unsigned int k = iov_slice_whole(v, n, in, len - in, part, IOV_SLICE_MAX);

		iov_zero(part, k);
	}
	return 0;
}

/* ---- read */

/* Read [off, off+len) within one cluster into v. */
static int read_piece(struct qcow2 *q, struct iovec *v, unsigned int n, uint64_t off, uint64_t len)
{
	uint64_t entry, host;
	int kind, ret;

	pthread_mutex_lock(&q->lock);
	ret = l2_entry(q, off, &entry);
	kind = ret < 0 ? -1 : qcow2_classify(entry, q->h.version, q->cluster_size, &host);
	if (kind == C_COMPRESSED) {
		ret = load_compressed(q, entry);
		if (!ret) {
			uint64_t in = off & (q->cluster_size - 1);
			size_t done = 0;

			for (unsigned int i = 0; i < n; i++) {
				memcpy(v[i].iov_base, q->plain_buf + in + done, v[i].iov_len);
				done += v[i].iov_len;
			}
		}
	}
	pthread_mutex_unlock(&q->lock);
	if (ret < 0 || kind < 0)
		return ret < 0 ? ret : -EIO;
	switch (kind) {
	case C_NORMAL:
		return blk_preadv_full(q->fd, v, n, host + (off & (q->cluster_size - 1)));
	case C_ZERO:
		iov_zero(v, n);
		return 0;
	case C_UNALLOCATED:
		return read_backing(q, v, n, off, len);
	default:
		return ret;
	}
}

/* A piece of a request that lies within one cluster (read_piece, write_piece). */
typedef int (*piece_fn)(struct qcow2 *q, struct iovec *v, unsigned int n, uint64_t off,
			uint64_t len);

/* Runs @piece on each cluster-sized part of a request, in order; stops at an error. */
static int for_each_cluster(struct blk_image *img, const struct iovec *iov, unsigned int n,
			    uint64_t off, piece_fn piece, const char *what)
{
	struct qcow2 *q = img->priv;
	uint64_t total = iov_length(iov, n), done = 0;

	while (done < total) {
		uint64_t pos = off + done;
		uint64_t len = MIN(total - done, q->cluster_size - (pos & (q->cluster_size - 1)));
		struct iovec part[IOV_SLICE_MAX];
		unsigned int k = iov_slice_whole(iov, n, done, len, part, IOV_SLICE_MAX);
		int ret = k ? piece(q, part, k, pos, len) : -EINVAL;

		if (ret < 0) {
			pr_debug("qcow2 %s: %s at %llu: %s", img->path, what,
				 (unsigned long long)pos, strerror(-ret));
			return ret;
		}
		done += len;
	}
	return 0;
}

static int qcow2_read(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off)
{
	return for_each_cluster(img, iov, n, off, read_piece, "read");
}

/* ---- write */

/* The L2 table for "off", made (zeroed, then linked into L1) if missing. */
static struct cache_entry *l2_table_alloc(struct qcow2 *q, uint64_t off, int *err)
{
	uint64_t l1_idx = off >> (q->h.cluster_bits + q->l2_bits), c, be;
	struct cache_entry *e = l2_table(q, off, err);

	if (e || *err)
		return e;
	*err = alloc_cluster(q, &c);
	if (*err)
		return NULL;
	e = cache_get(q, q->l2_cache, L2_CACHE_SIZE, c * q->cluster_size, false);
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = qwrite(q, e->data, q->cluster_size, c * q->cluster_size);
	if (*err) {
		e->offset = 0;
		return NULL;
	}
	be = htobe64(c * q->cluster_size | QCOW2_COPIED);
	*err = qwrite(q, &be, 8, q->h.l1_table_offset + l1_idx * 8);
	if (*err)
		return NULL;
	q->l1[l1_idx] = c * q->cluster_size | QCOW2_COPIED;
	return e;
}

static int l2_store(struct qcow2 *q, struct cache_entry *e, uint64_t off, uint64_t entry)
{
	unsigned int i = l2_index(q, off);
	uint64_t be = htobe64(entry);

	memcpy(e->data + 8 * i, &be, 8);
	return qwrite(q, &be, 8, e->offset + 8 * i);
}

/* Drop what an old L2 entry held (after it was unlinked). */
static int release_entry(struct qcow2 *q, uint64_t entry)
{
	uint64_t host;
	int kind = qcow2_classify(entry, q->h.version, q->cluster_size, &host);

	if (kind == C_NORMAL)
		return refcount_drop(q, host >> q->h.cluster_bits);
	if (kind == C_ZERO && (entry & QCOW2_OFFSET_MASK))
		return refcount_drop(q, (entry & QCOW2_OFFSET_MASK) >> q->h.cluster_bits);
	if (kind == C_COMPRESSED) {
		uint64_t coff, clen;

		compressed_extent(q, entry, &coff, &clen);
		for (uint64_t c = coff >> q->h.cluster_bits;
		     c <= (coff + clen - 1) >> q->h.cluster_bits; c++) {
			int ret = refcount_drop(q, c);

			if (ret < 0)
				return ret;
		}
		if (q->plain_for == entry)
			q->plain_for = 0;
	}
	return 0;
}

/* Is the cluster of a normal entry this image's alone (writable in place)? */
static int owned(struct qcow2 *q, uint64_t entry, uint64_t host)
{
	uint64_t v;
	int ret;

	if (entry & QCOW2_COPIED)
		return 1;
	ret = refcount_get(q, host >> q->h.cluster_bits, &v);
	return ret < 0 ? ret : v == 1;
}

/*
 * A write into a cluster that needs a new host cluster: what the guest saw
 * there before (backing, compressed, zeroes) with the new bytes over it,
 * written to a fresh cluster, which the L2 entry then points at.
 */
static int write_new_cluster(struct qcow2 *q, const struct iovec *v, unsigned int n, uint64_t off,
			     uint64_t len, uint64_t old)
{
	uint64_t cstart = off & ~(q->cluster_size - 1), in = off - cstart, c, host;
	int kind = qcow2_classify(old, q->h.version, q->cluster_size, &host);
	struct cache_entry *e;
	int ret;

	if (len < q->cluster_size) {
		struct iovec whole = {q->cow_buf, q->cluster_size};

		if (kind == C_NORMAL)
			ret = qread(q, q->cow_buf, q->cluster_size, host);
		else if (kind == C_COMPRESSED && !(ret = load_compressed(q, old)))
			memcpy(q->cow_buf, q->plain_buf, q->cluster_size);
		else if (kind == C_COMPRESSED)
			;
		else if (kind == C_UNALLOCATED)
			ret = read_backing(q, &whole, 1, cstart, q->cluster_size);
		else
			ret = (memset(q->cow_buf, 0, q->cluster_size), 0);
		if (ret < 0)
			return ret;
	}
	ret = alloc_cluster(q, &c);
	if (ret < 0)
		return ret;
	if (len < q->cluster_size) {
		size_t done = 0;

		for (unsigned int i = 0; i < n; i++) {
			memcpy(q->cow_buf + in + done, v[i].iov_base, v[i].iov_len);
			done += v[i].iov_len;
		}
		ret = qwrite(q, q->cow_buf, q->cluster_size, c * q->cluster_size);
	} else {
		ret = blk_pwritev_full(q->fd, v, n, c * q->cluster_size);
	}
	if (ret < 0)
		return ret;
	e = l2_table_alloc(q, off, &ret);
	if (!e)
		return ret ? ret : -EIO;
	ret = l2_store(q, e, off, c * q->cluster_size | QCOW2_COPIED);
	return ret < 0 ? ret : release_entry(q, old);
}

static int write_piece(struct qcow2 *q, struct iovec *v, unsigned int n, uint64_t off, uint64_t len)
{
	uint64_t entry, host;
	int kind, ret, own = 0;

	pthread_mutex_lock(&q->lock);
	ret = l2_entry(q, off, &entry);
	kind = ret < 0 ? -1 : qcow2_classify(entry, q->h.version, q->cluster_size, &host);
	if (kind == C_NORMAL)
		own = owned(q, entry, host);
	if (kind >= 0 && own == 1) {
		pthread_mutex_unlock(&q->lock);
		return blk_pwritev_full(q->fd, v, n, host + (off & (q->cluster_size - 1)));
	}
	if (kind >= 0 && own >= 0)
		ret = write_new_cluster(q, v, n, off, len, entry);
	else
		ret = ret < 0 ? ret : (own < 0 ? own : -EIO);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static int qcow2_write(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off)
{
	return for_each_cluster(img, iov, n, off, write_piece, "write");
}

static int qcow2_flush(struct blk_image *img)
{
	struct qcow2 *q = img->priv;

	return blk_sync_fd(q->fd, img->sync_mode);
}

/*
 * Whole clusters of [off, off+len): "zero" makes them read as zeroes
 * (keeping no data), otherwise they are dropped to show the backing file
 * again. Partial clusters: zeroes are written, a discard skips them.
 */
static int drop_range(struct blk_image *img, uint64_t off, uint64_t len, bool zero)
{
	struct qcow2 *q = img->priv;
	uint64_t end = off + len;
	int ret = 0;

	while (off < end && !ret) {
		uint64_t in = off & (q->cluster_size - 1);
		uint64_t piece = MIN(end - off, q->cluster_size - in);

		if (in || piece < q->cluster_size) {
			if (zero) {
				static const uint8_t zeroes[4096];
				uint64_t done = 0;

				while (done < piece && !ret) {
					struct iovec z = {(void *)zeroes,
							  MIN(piece - done, sizeof(zeroes))};

					ret = qcow2_write(img, &z, 1, off + done);
					done += z.iov_len;
				}
			}
			off += piece;
			continue;
		}
		pthread_mutex_lock(&q->lock);
		uint64_t entry, new_entry;

		ret = l2_entry(q, off, &entry);
		/* v2 has no zero flag: zeroes are unallocated clusters, without a backing file. */
		new_entry = (zero || q->backing) && q->h.version >= 3 ? QCOW2_ZERO_FLAG : 0;
		if (!ret && (new_entry || !q->backing) && entry != new_entry) {
			struct cache_entry *e =
			    new_entry ? l2_table_alloc(q, off, &ret) : l2_table(q, off, &ret);

			if (e)
				ret = l2_store(q, e, off, new_entry);
			if (e && !ret)
				ret = release_entry(q, entry);
		} else if (!ret && zero && q->backing && q->h.version < 3) {
			/* Zeroes over a backing file in v2: written out. */
			static const uint8_t zeroes[4096];

			pthread_mutex_unlock(&q->lock);

			for (uint64_t d = 0; d < piece && !ret; d += sizeof(zeroes)) {
				struct iovec zi = {(void *)zeroes, sizeof(zeroes)};

				ret = qcow2_write(img, &zi, 1, off + d);
			}
			off += piece;
			continue;
		}
		pthread_mutex_unlock(&q->lock);
		off += piece;
	}
	return ret;
}

static int qcow2_discard(struct blk_image *img, uint64_t off, uint64_t len)
{
	return drop_range(img, off, len, false);
}

static int qcow2_write_zeroes(struct blk_image *img, uint64_t off, uint64_t len, bool may_unmap)
{
	(void)may_unmap;
	return drop_range(img, off, len, true);
}

static void qcow2_free(struct qcow2 *q)
{
	for (unsigned int i = 0; i < L2_CACHE_SIZE; i++)
		free(q->l2_cache[i].data);
	for (unsigned int i = 0; i < RB_CACHE_SIZE; i++)
		free(q->rb_cache[i].data);
	free(q->l1);
	free(q->reftable);
	free(q->cow_buf);
	free(q->comp_buf);
	free(q->plain_buf);
	qcow2_inflater_free(&q->inflater);
	if (q->backing) {
		blk_image_close(q->backing);
		free((char *)q->backing->path);
		free(q->backing);
	}
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}

static void qcow2_close(struct blk_image *img)
{
	qcow2_free(img->priv);
}

static const struct blk_image_ops qcow2_ops = {
    .name = "qcow2",
    .read = qcow2_read,
    .write = qcow2_write,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
    .write_zeroes = qcow2_write_zeroes,
    .close = qcow2_close,
};

/* ---- open */

static int load_table(struct qcow2 *q, uint64_t **out, uint64_t entries, uint64_t off)
{
	uint64_t *t = calloc(entries ? entries : 1, 8);
	int ret;

	if (!t)
		return -ENOMEM;
	ret = entries ? qread(q, t, entries * 8, off) : 0;
	if (ret < 0) {
		free(t);
		return ret;
	}
	for (uint64_t i = 0; i < entries; i++)
		t[i] = be64toh(t[i]);
	*out = t;
	return 0;
}

static int alloc_buffers(struct qcow2 *q)
{
	q->cow_buf = malloc(q->cluster_size);
	q->comp_buf = malloc(2 * q->cluster_size);
	q->plain_buf = malloc(q->cluster_size);
	return q->cow_buf && q->comp_buf && q->plain_buf ? 0 : -ENOMEM;
}

/* Check every L1 and refcount table entry once, up front. */
static int check_tables(struct qcow2 *q, char *why, size_t len)
{
	for (uint64_t i = 0; i < q->h.l1_size; i++)
		if (qcow2_table_offset(q->l1[i], q->cluster_size) < 0)
			return bad(why, len, "bad L1 table entry");
	for (uint64_t i = 0; i < q->reftable_entries; i++)
		if (qcow2_table_offset(q->reftable[i], q->cluster_size) < 0)
			return bad(why, len, "bad refcount table entry");
	return 0;
}

/* The backing file, named relative to the image's directory, opened read-only. */
static int open_backing(struct qcow2 *q, const struct blk_image *img, const uint8_t *hdr,
			const char *fmt, unsigned int depth)
{
	char name[1024], *path, *dir_copy;
	struct disk_config d = {0};
	struct blk_image *b;
	int ret;

	memcpy(name, hdr + q->h.backing_file_offset, q->h.backing_file_size);
	name[q->h.backing_file_size] = '\0';
	if (strlen(name) != q->h.backing_file_size || !*name) {
		pr_err("qcow2 %s: bad backing file name", img->path);
		return -EINVAL;
	}
	if (depth >= MAX_BACKING_DEPTH) {
		pr_err("qcow2 %s: backing chain deeper than %d", img->path, MAX_BACKING_DEPTH);
		return -ELOOP;
	}
	if (!strcmp(fmt, "raw"))
		d.format = KRUN_DISK_FORMAT_RAW;
	else if (!strcmp(fmt, "qcow2"))
		d.format = KRUN_DISK_FORMAT_QCOW2;
	else {
		pr_err("qcow2 %s: backing file %s has format \"%s\"; only raw and qcow2 backing "
		       "files, with their format recorded in the image (qemu-img -F), are used "
		       "(never probed)",
		       img->path, name, fmt);
		return -ENOTSUP;
	}
	dir_copy = strdup(img->path);
	if (!dir_copy)
		return -ENOMEM;
	if (name[0] == '/')
		path = strdup(name);
	else if (asprintf(&path, "%s/%s", dirname(dir_copy), name) < 0)
		path = NULL;
	free(dir_copy);
	b = calloc(1, sizeof(*b));
	if (!path || !b) {
		free(path);
		free(b);
		return -ENOMEM;
	}
	pr_info("qcow2 %s: backing file %s (%s, read-only)", img->path, path, fmt);
	d.id = (char *)"backing";
	d.path = path;
	d.read_only = true;
	d.sync_mode = KRUN_SYNC_NONE;
	ret = blk_image_open_depth(b, &d, depth + 1);
	if (ret < 0) {
		pr_err("qcow2 %s: cannot open its backing file %s", img->path, path);
		free(path);
		free(b);
		return ret;
	}
	q->backing = b;
	return 0;
}

/* v3 images opened for writing: autoclear features we do not keep up are cleared. */
static int clear_autoclear(struct qcow2 *q)
{
	uint64_t zero = 0;

	if (q->h.version < 3 || !q->h.autoclear_features)
		return 0;
	q->h.autoclear_features = 0;
	return qwrite(q, &zero, 8, 88);
}

int blk_qcow2_open_depth(struct blk_image *img, const char *path, unsigned int depth)
{
	struct qcow2 *q = calloc(1, sizeof(*q));
	char why[160], fmt[64];
	uint8_t *hdr = NULL;
	struct stat st;
	ssize_t got;
	int ret;

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	q->fd = open(path, (img->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (q->fd < 0) {
		ret = -errno;
		pr_err("disk image %s: %s", path, strerror(errno));
		free(q);
		return ret;
	}
	if (img->direct_io)
		pr_info("qcow2 %s: direct I/O is not used for qcow2 images", path);
	hdr = calloc(1, QCOW2_MAX_CLUSTER);
	ret = hdr ? 0 : -ENOMEM;
	if (!ret && (fstat(q->fd, &st) < 0 || !S_ISREG(st.st_mode)))
		ret = -EINVAL, snprintf(why, sizeof(why), "not a regular file");
	if (!ret) {
		got = pread(q->fd, hdr, QCOW2_MAX_CLUSTER, 0);
		ret = got < 0 ? -errno
			      : qcow2_parse_header(hdr, (size_t)got, &q->h, why, sizeof(why));
		if (!ret &&
		    (uint64_t)got < MIN((uint64_t)QCOW2_MAX_CLUSTER, 1ULL << q->h.cluster_bits) &&
		    (uint64_t)got < (uint64_t)st.st_size)
			ret = -EIO, snprintf(why, sizeof(why), "short read");
		if (!ret && qcow2_parse_extensions(hdr, MIN((size_t)got, 1ULL << q->h.cluster_bits),
						   &q->h, fmt, sizeof(fmt)) < 0)
			ret = -EINVAL, snprintf(why, sizeof(why), "bad header extension");
	}
	if (!ret && !img->read_only && (q->h.incompatible_features & QCOW2_INCOMPAT_DIRTY))
		ret = -ENOTSUP, snprintf(why, sizeof(why),
					 "the image is dirty (lazy refcounts not written back): "
					 "run qemu-img check -r all first, or open it read-only");
	if (ret < 0) {
		if (ret != -ENOMEM)
			pr_err("disk image %s: %s", path, why);
		free(hdr);
		qcow2_free(q);
		return ret;
	}
	q->cluster_size = 1ULL << q->h.cluster_bits;
	q->l2_bits = q->h.cluster_bits - 3;
	q->rb_bits = q->h.cluster_bits + 3 - q->h.refcount_order;
	q->reftable_entries = (uint64_t)q->h.refcount_table_clusters * q->cluster_size / 8;
	q->file_clusters = ((uint64_t)st.st_size + q->cluster_size - 1) >> q->h.cluster_bits;
	q->free_hint = 1;
	ret = alloc_buffers(q);
	if (!ret)
		ret = load_table(q, &q->l1, q->h.l1_size, q->h.l1_table_offset);
	if (!ret)
		ret = load_table(q, &q->reftable, q->reftable_entries, q->h.refcount_table_offset);
	if (!ret && (ret = check_tables(q, why, sizeof(why))) < 0)
		pr_err("disk image %s: %s", path, why);
	if (!ret && q->h.backing_file_offset)
		ret = open_backing(q, img, hdr, fmt[0] ? fmt : "(not recorded)", depth);
	if (!ret && !img->read_only)
		ret = clear_autoclear(q);
	free(hdr);
	if (ret < 0) {
		if (ret == -EIO || ret == -ENOMEM)
			pr_err("disk image %s: cannot read its tables: %s", path, strerror(-ret));
		qcow2_free(q);
		return ret;
	}
	img->ops = &qcow2_ops;
	img->priv = q;
	img->size = q->h.size;
	img->flat = false;
	/* A write of a whole cluster allocates without copying from the backing file. */
	img->phys_block = (uint32_t)st.st_blksize;
	img->opt_io = (uint32_t)q->cluster_size;
	return 0;
}
