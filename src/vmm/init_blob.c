// SPDX-License-Identifier: Apache-2.0
/*
 * The guest init (init/, a static executable) embedded in the library. The
 * root virtio-fs share shows it as /init.krun without touching the host
 * directory; krun_get_default_init() hands it to callers.
 */
#include "vmm/guest_config.h"

#ifndef KRUN_INIT_BINARY
#error "KRUN_INIT_BINARY must name the guest init executable"
#endif

__asm__(".pushsection .rodata.krun_init,\"a\",@progbits\n"
	".balign 16\n"
	".globl krun_init_blob\n"
	".hidden krun_init_blob\n"
	"krun_init_blob:\n"
	".incbin \"" KRUN_INIT_BINARY "\"\n"
	"krun_init_blob_end:\n"
	".balign 8\n"
	".globl krun_init_blob_size\n"
	".hidden krun_init_blob_size\n"
	"krun_init_blob_size:\n"
	".quad krun_init_blob_end - krun_init_blob\n"
	".popsection\n");
