/* SPDX-License-Identifier: Apache-2.0 */
/* The bundled guest kernel, libkrunfw.so.5 (see krunfw.c for when it loads). */
#ifndef KRUN_KRUNFW_H
#define KRUN_KRUNFW_H

#include <stddef.h>
#include <stdint.h>

#define KRUNFW_SONAME "libkrunfw.so.5"

typedef char *(*krunfw_get_kernel_fn)(uint64_t *load_addr, uint64_t *entry_addr, size_t *size);

/* Loads libkrunfw if it is not loaded yet; quiet, failures are kept for later. */
void krunfw_preload(void);

/*
 * The kernel image (mapped read-only by the library, which stays loaded):
 * 0, or -ENOENT / -ENOEXEC after one log line saying what was searched.
 */
int krunfw_kernel(const char **data, uint64_t *load_addr, uint64_t *entry, size_t *size);

#endif
