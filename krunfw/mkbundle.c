/*
 * mkbundle - turn an x86_64 vmlinux into the flat image libkrunfw embeds.
 *
 *   mkbundle VMLINUX IMAGE HEADER
 *
 * IMAGE is the guest-physical memory the kernel occupies, starting at the
 * lowest PT_LOAD p_paddr: each segment's file bytes at p_paddr - base, gaps
 * and .bss-style tails (p_memsz > p_filesz) zero, the total rounded up to a
 * page. A VMM copies it to guest memory at the load address and jumps to
 * the entry point; no ELF parsing at VM start.
 *
 * HEADER defines KRUNFW_LOAD_ADDR, KRUNFW_ENTRY_ADDR and KRUNFW_IMAGE_SIZE
 * as plain hex numbers so it can be included from C and from assembly.
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE_SIZE 4096ULL
/* Far more than any guest kernel; stops a corrupt ELF from eating memory. */
#define MAX_IMAGE_SIZE (1ULL << 30)
#define MAX_SEGMENTS   64

struct segment {
	uint64_t paddr;
	uint64_t offset;
	uint64_t filesz;
	uint64_t memsz;
};

struct kernel {
	const char *path;
	unsigned char *data;
	size_t size;
	uint64_t entry;
	uint64_t base; /* lowest p_paddr */
	uint64_t end;  /* highest p_paddr + p_memsz */
	struct segment seg[MAX_SEGMENTS];
	unsigned int nseg;
};

static const char *prog = "mkbundle";

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void read_file(struct kernel *k)
{
	FILE *f;
	long len;

	f = fopen(k->path, "rb");
	if (!f)
		die("%s: %s", k->path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die("%s: cannot get size: %s", k->path, strerror(errno));
	k->size = (size_t)len;
	k->data = malloc(k->size ? k->size : 1);
	if (!k->data)
		die("%s: out of memory", k->path);
	if (fread(k->data, 1, k->size, f) != k->size)
		die("%s: short read", k->path);
	fclose(f);
}

/* True if [off, off + len) lies inside the file. */
static int in_file(const struct kernel *k, uint64_t off, uint64_t len)
{
	return off <= k->size && len <= k->size - off;
}

static void check_ehdr(const struct kernel *k, const Elf64_Ehdr *eh)
{
	if (k->size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		die("%s: not an ELF file", k->path);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		die("%s: not ELF64", k->path);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		die("%s: not little-endian", k->path);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT)
		die("%s: unknown ELF version %u", k->path, eh->e_ident[EI_VERSION]);
	if (eh->e_machine != EM_X86_64)
		die("%s: machine %u is not x86_64", k->path, eh->e_machine);
	if (eh->e_type != ET_EXEC)
		die("%s: not an executable (e_type %u)", k->path, eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		die("%s: bad program header size %u", k->path, eh->e_phentsize);
	if (!eh->e_phnum)
		die("%s: no program headers", k->path);
	if (!in_file(k, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		die("%s: program headers beyond end of file", k->path);
}

static void add_segment(struct kernel *k, const Elf64_Phdr *ph, unsigned int i)
{
	struct segment *s;

	if (ph->p_filesz > ph->p_memsz)
		die("%s: segment %u: p_filesz %#" PRIx64 " > p_memsz %#" PRIx64, k->path, i,
		    (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
	if (!in_file(k, ph->p_offset, ph->p_filesz))
		die("%s: segment %u: bytes %#" PRIx64 "+%#" PRIx64
		    " beyond end of file (%zu bytes)",
		    k->path, i, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, k->size);
	if (ph->p_memsz > MAX_IMAGE_SIZE || ph->p_paddr > UINT64_MAX - ph->p_memsz)
		die("%s: segment %u: absurd size %#" PRIx64, k->path, i, (uint64_t)ph->p_memsz);
	if (k->nseg == MAX_SEGMENTS)
		die("%s: more than %d PT_LOAD segments", k->path, MAX_SEGMENTS);

	s = &k->seg[k->nseg++];
	s->paddr = ph->p_paddr;
	s->offset = ph->p_offset;
	s->filesz = ph->p_filesz;
	s->memsz = ph->p_memsz;
}

static int cmp_paddr(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

/* Sort by address, reject overlaps, compute the image bounds. */
static void layout(struct kernel *k)
{
	unsigned int i;

	if (!k->nseg)
		die("%s: no PT_LOAD segments", k->path);
	qsort(k->seg, k->nseg, sizeof(k->seg[0]), cmp_paddr);

	k->base = k->seg[0].paddr;
	k->end = k->base;
	for (i = 0; i < k->nseg; i++) {
		const struct segment *s = &k->seg[i];

		if (s->paddr < k->end)
			die("%s: PT_LOAD at %#" PRIx64 " overlaps the one below "
			    "it (ending at %#" PRIx64 ")",
			    k->path, s->paddr, k->end);
		k->end = s->paddr + s->memsz;
	}
	if (k->end - k->base > MAX_IMAGE_SIZE)
		die("%s: image of %#" PRIx64 " bytes is too large", k->path, k->end - k->base);
	if (k->base % PAGE_SIZE)
		die("%s: load address %#" PRIx64 " is not page aligned", k->path, k->base);
}

/* The entry point must be backed by bytes from the file. */
static void check_entry(const struct kernel *k)
{
	unsigned int i;

	for (i = 0; i < k->nseg; i++) {
		const struct segment *s = &k->seg[i];

		if (k->entry >= s->paddr && k->entry - s->paddr < s->filesz)
			return;
	}
	die("%s: entry %#" PRIx64 " is not inside any loaded segment "
	    "(is this an x86_64 vmlinux?)",
	    k->path, k->entry);
}

static void parse(struct kernel *k)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)k->data;
	unsigned int i;

	check_ehdr(k, eh);
	k->entry = eh->e_entry;
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		/* memcpy: e_phoff need not be aligned. */
		memcpy(&ph, k->data + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_memsz)
			add_segment(k, &ph, i);
	}
	layout(k);
	check_entry(k);
}

static uint64_t image_size(const struct kernel *k)
{
	return (k->end - k->base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/*
 * Write to a temporary name and rename, so that an interrupted run never
 * leaves a truncated output that make would take as up to date.
 */
static void write_atomic(const char *path, const void *buf, size_t len)
{
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	FILE *f;

	if (!tmp)
		die("out of memory");
	snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
	f = fopen(tmp, "wb");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	if (fwrite(buf, 1, len, f) != len || fclose(f))
		die("%s: write failed: %s", tmp, strerror(errno));
	if (rename(tmp, path))
		die("%s: %s", path, strerror(errno));
	free(tmp);
}

static void write_image(const struct kernel *k, const char *path)
{
	uint64_t size = image_size(k);
	unsigned char *img = calloc(1, size);
	unsigned int i;

	if (!img)
		die("out of memory for a %#" PRIx64 "-byte image", size);
	for (i = 0; i < k->nseg; i++) {
		const struct segment *s = &k->seg[i];

		memcpy(img + (s->paddr - k->base), k->data + s->offset, s->filesz);
	}
	write_atomic(path, img, size);
	free(img);
}

static void write_header(const struct kernel *k, const char *path)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "/* Generated by mkbundle from %s; do not edit. */\n"
		     "#ifndef KRUNFW_KERNEL_H\n"
		     "#define KRUNFW_KERNEL_H\n"
		     "#define KRUNFW_LOAD_ADDR 0x%" PRIx64 "\n"
		     "#define KRUNFW_ENTRY_ADDR 0x%" PRIx64 "\n"
		     "#define KRUNFW_IMAGE_SIZE 0x%" PRIx64 "\n"
		     "#endif\n",
		     k->path, k->base, k->entry, image_size(k));
	if (n < 0 || (size_t)n >= sizeof(buf))
		die("header too long");
	write_atomic(path, buf, (size_t)n);
}

int main(int argc, char **argv)
{
	struct kernel k = {0};

	if (argc != 4) {
		fprintf(stderr, "usage: %s VMLINUX IMAGE HEADER\n", prog);
		return 2;
	}
	k.path = argv[1];
	read_file(&k);
	parse(&k);
	write_image(&k, argv[2]);
	write_header(&k, argv[3]);
	fprintf(stderr,
		"%s: %u segments, load 0x%" PRIx64 ", entry 0x%" PRIx64 ", image %" PRIu64
		" bytes\n",
		prog, k.nseg, k.base, k.entry, image_size(&k));
	free(k.data);
	return 0;
}
