// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the FUSE server: arbitrary bytes as one request,
 * split into 1-3 guest buffers at fuzzer-chosen points, against a server
 * rooted at a seeded temporary directory. Besides the sanitizers, every run
 * checks that nothing outside the shared directory changed.
 *
 * Input: byte 0 and 1 choose the split points, byte 2 bit 0 asks for the
 * header's len field to be fixed up to the real size (so the fuzzer reaches
 * the operations quickly), bits 1-3 the size of the reply buffers (from less
 * than a header to 64 KiB), the rest is the request. Every other server is
 * in strict share mode. Each server's end must give back every fd it took
 * and the memory it held; while it runs, the heap may not grow by more than
 * SERVER_MEM_CAP over what the fresh server held (no allocation sized by the
 * guest, no table that grows without a cap).
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc -g -O1 \
 *         -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_fuse.c \
 *         src/devices/virtio/fs/fuse_*.c src/vmm/log.c src/vmm/util.c -lpthread
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/fuse.h>
#include <sanitizer/allocator_interface.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/fs/fuse_server.h"
#include "fuzz_fds.h"

#define OUT_SIZE      (64 * 1024)
#define MIN_SZ(a, b)  ((a) < (b) ? (a) : (b))
#define RESET_EVERY   500 /* runs between fresh servers and a re-seeded tree */
#define SENTINEL_TEXT "do not touch"
#define FILE_SIZE_CAP (64 << 20)
/* Heap growth allowed while a server runs, and left after its end. */
#define SERVER_MEM_CAP	 ((size_t)64 << 20)
#define SERVER_MEM_SLACK ((size_t)8 << 20) /* libFuzzer's own growth in between */

static struct fuse_server *srv;
static unsigned long servers;
static const size_t out_sizes[8] = {0, 15, 16, 17, 40, 144, 4096, OUT_SIZE};
static char base[256], share[300], outside[300], sentinel[320];
static struct stat sentinel_st, outside_st, base_st;
static unsigned long runs;
static size_t heap_before_server, heap_fresh_server;
static const uint8_t overlay_data[] = "overlay file contents\n";

static void die(const char *what)
{
	perror(what);
	abort();
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(path);
	close(fd);
}

static void seed_share(void)
{
	char path[400];

	if (mkdir(share, 0755))
		die(share);
	snprintf(path, sizeof(path), "%s/file", share);
	write_file(path, "hello fuzzer\n");
	snprintf(path, sizeof(path), "%s/dir", share);
	if (mkdir(path, 0755))
		die(path);
	snprintf(path, sizeof(path), "%s/dir/inner", share);
	write_file(path, "inner\n");
	snprintf(path, sizeof(path), "%s/dir/sub", share);
	if (mkdir(path, 0700))
		die(path);
	snprintf(path, sizeof(path), "%s/up", share);
	if (symlink("../outside", path))
		die(path);
	snprintf(path, sizeof(path), "%s/abs", share);
	if (symlink(sentinel, path))
		die(path);
	snprintf(path, sizeof(path), "%s/dir/rel", share);
	if (symlink("../../outside/sentinel", path))
		die(path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	/* A fuzzed mode must not stop the cleanup; never chmod through a symlink. */
	if (S_ISDIR(st->st_mode))
		chmod(path, 0700);
	return remove(path);
}

static void canned(uint32_t opcode, uint64_t nodeid, const void *arg, size_t len)
{
	uint8_t in[256], out[4096];
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + len), .opcode = opcode, .unique = 2, .nodeid = nodeid};
	struct iovec iin = {in, sizeof(h) + len}, iout = {out, sizeof(out)};

	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), arg, len);
	fuse_server_handle(srv, &iin, 1, &iout, 1);
}

/*
 * Give single-request inputs something to work on: nodes 2-4 (file, dir,
 * init.krun) and handles 1-3 (file read-write, root dir, overlay file).
 */
static void open_some(void)
{
	struct fuse_open_in rw = {.flags = O_RDWR}, ro = {.flags = O_RDONLY};

	canned(FUSE_LOOKUP, FUSE_ROOT_ID, "file", 5);
	canned(FUSE_LOOKUP, FUSE_ROOT_ID, "dir", 4);
	canned(FUSE_LOOKUP, FUSE_ROOT_ID, "init.krun", 10);
	canned(FUSE_OPEN, 2, &rw, sizeof(rw));
	canned(FUSE_OPENDIR, FUSE_ROOT_ID, &ro, sizeof(ro));
	canned(FUSE_OPEN, 4, &ro, sizeof(ro));
}

/* The exit-status ioctl, as on the root share; the status is 8 bits. */
static void exit_reported(void *opaque, int status)
{
	(void)opaque;
	if (status < 0 || status > 255)
		abort();
}

static void new_server(void)
{
	struct fuse_init_in init = {
	    .major = 7,
	    .minor = 38,
	    .max_readahead = 1 << 20,
	    .flags = 0xffffffff,
	};
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} req = {.h = {.len = sizeof(req), .opcode = FUSE_INIT, .unique = 1}, .in = init};
	uint8_t out[256];
	struct iovec iin = {&req, sizeof(req)}, iout = {out, sizeof(out)};

	if (srv)
		fuse_server_free(srv);
	/* Every node and handle fd went with the server: none is left on the tree. */
	if (srv && fuzz_fds_to(base)) {
		fprintf(stderr, "fuzz_fuse: %u fds still open under %s after the server's end\n",
			fuzz_fds_to(base), base);
		abort();
	}
	/* Not the first: libFuzzer loads its corpus after LLVMFuzzerInitialize(). */
	if (srv && servers > 1 &&
	    __sanitizer_get_current_allocated_bytes() > heap_before_server + SERVER_MEM_SLACK) {
		fprintf(stderr, "fuzz_fuse: %zu KiB of heap left after the server's end\n",
			(__sanitizer_get_current_allocated_bytes() - heap_before_server) >> 10);
		abort();
	}
	nftw(share, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	seed_share();
	heap_before_server = __sanitizer_get_current_allocated_bytes();
	srv = fuse_server_new(share, false);
	if (!srv)
		die("fuse_server_new");
	fuse_server_set_strict(srv, ++servers % 2);
	if (fuse_server_add_overlay_file(srv, "init.krun", overlay_data, sizeof(overlay_data) - 1,
					 0755, true) ||
	    fuse_server_add_overlay_dir(srv, "ovl", 0755) ||
	    fuse_server_add_overlay_file(srv, "ovl/f", overlay_data, 8, 0644, false))
		die("overlay");
	fuse_server_set_exit_handler(srv, exit_reported, NULL);
	if (fuse_server_handle(srv, &iin, 1, &iout, 1) < sizeof(struct fuse_out_header))
		die("init");
	open_some();
	if (stat(base, &base_st))
		die("stat");
	heap_fresh_server = __sanitizer_get_current_allocated_bytes();
}

/* What the server holds stays bounded, whatever the guest asks. */
static void check_heap(void)
{
	size_t now = __sanitizer_get_current_allocated_bytes();

	if (servers > 1 && now > heap_fresh_server + SERVER_MEM_CAP) {
		fprintf(stderr, "fuzz_fuse: the server holds %zu MiB more than when it started\n",
			(now - heap_fresh_server) >> 20);
		abort();
	}
}

static void remove_all(void)
{
	fuse_server_free(srv);
	srv = NULL;
	nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void limit_resources(void)
{
	struct rlimit fsize = {FILE_SIZE_CAP, FILE_SIZE_CAP}, nofile;

	/* FALLOCATE/WRITE at huge offsets must fail, not fill the disk. */
	setrlimit(RLIMIT_FSIZE, &fsize);
	if (!getrlimit(RLIMIT_NOFILE, &nofile)) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "%s/fuzz_fuse.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(base))
		die("mkdtemp");
	snprintf(share, sizeof(share), "%s/share", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", outside);
	if (mkdir(outside, 0755))
		die(outside);
	write_file(sentinel, SENTINEL_TEXT);
	if (stat(sentinel, &sentinel_st) || stat(outside, &outside_st))
		die("stat");
	limit_resources();
	new_server();
	atexit(remove_all);
	return 0;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_uid == b->st_uid &&
	       a->st_gid == b->st_gid && a->st_size == b->st_size && a->st_nlink == b->st_nlink &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The sentinel, its directory and the parent of the share are untouched. */
static void check_outside(void)
{
	char buf[64] = {0};
	struct stat st;
	int fd;

	if (stat(sentinel, &st) || !same_stat(&st, &sentinel_st)) {
		fprintf(stderr, "fuzz_fuse: the sentinel outside the share changed\n");
		abort();
	}
	fd = open(sentinel, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)strlen(SENTINEL_TEXT) ||
	    strcmp(buf, SENTINEL_TEXT)) {
		fprintf(stderr, "fuzz_fuse: the sentinel's content changed\n");
		abort();
	}
	close(fd);
	if (stat(outside, &st) || !same_stat(&st, &outside_st)) {
		fprintf(stderr, "fuzz_fuse: the directory outside the share changed\n");
		abort();
	}
	/* The share's parent: only the share's own link count/times may not move. */
	if (stat(base, &st) || st.st_nlink != base_st.st_nlink ||
	    st.st_mtim.tv_sec != base_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != base_st.st_mtim.tv_nsec || st.st_mode != base_st.st_mode) {
		fprintf(stderr, "fuzz_fuse: an entry appeared or vanished next to the share\n");
		abort();
	}
}

/* Copy each piece into its own allocation so that ASan sees over-reads. */
static unsigned int split_input(const uint8_t *data, size_t size, size_t cut1, size_t cut2,
				struct iovec *iov)
{
	size_t cuts[4] = {0, cut1, cut2, size};
	unsigned int n = 0;

	for (int i = 0; i < 3; i++) {
		size_t len = cuts[i + 1] - cuts[i];

		if (i > 0 && !len)
			continue; /* 1-3 buffers */
		iov[n].iov_base = malloc(len ? len : 1);
		memcpy(iov[n].iov_base, data + cuts[i], len);
		iov[n].iov_len = len;
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec in[3], out[2];
	uint8_t *req, *o1, *o2;
	size_t cut1, cut2, n, ret, out_size, out1;
	unsigned int in_count;
	uint32_t opcode = 0;

	if (!runs)
		signal(SIGXFSZ, SIG_IGN); /* after libFuzzer's own handlers: EFBIG instead */
	if (size < 3)
		return 0;
	n = size - 3;
	req = malloc(n ? n : 1);
	memcpy(req, data + 3, n);
	if ((data[2] & 1) && n >= 4) {
		uint32_t len = (uint32_t)n;

		memcpy(req, &len, sizeof(len));
	}
	if (n >= 8)
		memcpy(&opcode, req + 4, sizeof(opcode));
	cut1 = n * data[0] / 255;
	cut2 = cut1 + (n - cut1) * data[1] / 255;
	in_count = split_input(req, n, cut1, cut2, in);

	out_size = out_sizes[(data[2] >> 1) & 7];
	out1 = MIN_SZ(out_size, 24);
	o1 = malloc(out1 ? out1 : 1);
	o2 = malloc(out_size - out1 ? out_size - out1 : 1);
	out[0] = (struct iovec){o1, out1};
	out[1] = (struct iovec){o2, out_size - out1};
	ret = fuse_server_handle(srv, in, in_count, out, 2);
	if (ret > out_size)
		abort();
	if (ret >= sizeof(struct fuse_out_header)) {
		struct fuse_out_header oh;

		/* The header straddles o1 and o2 when o1 is short. */
		memcpy(&oh, o1, MIN_SZ(out1, sizeof(oh)));
		if (out1 < sizeof(oh))
			memcpy((uint8_t *)&oh + out1, o2, sizeof(oh) - out1);
		if (oh.len != ret)
			abort();
	}
	for (unsigned int i = 0; i < in_count; i++)
		free(in[i].iov_base);
	free(o1);
	free(o2);
	free(req);
	check_outside();
	check_heap();
	if (++runs % RESET_EVERY == 0 || opcode == FUSE_DESTROY)
		new_server();
	return 0;
}
