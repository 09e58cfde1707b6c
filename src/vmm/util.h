/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_UTIL_H
#define KRUN_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)	 (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define MIN(a, b)	 ((a) < (b) ? (a) : (b))
#define MAX(a, b)	 ((a) > (b) ? (a) : (b))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

#define KRUN_EXPORT __attribute__((visibility("default")))

/* read() until len bytes or EOF; returns bytes read or -errno. */
ssize_t read_full(int fd, void *buf, size_t len);
/* write() all of buf, retrying on EINTR and short writes; 0 or -errno. */
int write_full(int fd, const void *buf, size_t len);
/* Read a whole regular file (at most max_size bytes) into a malloc'd buffer. */
int read_file(const char *path, size_t max_size, uint8_t **data, size_t *size);
/* The byte that makes all bytes of a firmware table sum to 0 (MP, SMBIOS). */
uint8_t checksum8(const void *p, size_t len);
/* CLOCK_MONOTONIC in milliseconds (deadlines, timeouts for epoll_wait()). */
int64_t monotonic_ms(void);

#endif
