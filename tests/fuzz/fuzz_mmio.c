// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the virtio-mmio transport's register and feature state
 * machine (status, feature selectors, queue selection and layout,
 * QUEUE_READY 0/1, notifications, config space), with a virtio-console
 * behind it whose queues the fuzzer fills through guest RAM.
 *
 * Input: records of 7 bytes: op, 2-byte offset, 4-byte value.
 *   op % 6 == 0: 32-bit register write    1: register read
 *             2: config space byte write  3: 32-bit store into guest RAM at
 *                                            offset * 16 (rings, descriptors)
 *             4: notify queue (value)     5: serve the event loop
 */
#include <stdint.h>

#include "fuzz_vm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_vm_create();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_vm_reset();
	for (size_t i = 0; i + 7 <= size; i += 7) {
		uint16_t off;
		uint32_t v;

		memcpy(&off, data + i + 1, 2);
		memcpy(&v, data + i + 3, 4);
		switch (data[i] % 6) {
		case 0:
			mmio_write32(off & 0xffc, v);
			break;
		case 1:
			(void)mmio_read32(off & 0xffc);
			break;
		case 2:
			bus_write(&fuzz_vm->mmio, MMIO_BASE + 0x100 + (off & 0xff), &v, 1);
			break;
		case 3:
			memcpy((uint8_t *)fuzz_vm->mem.regions[0].hva +
				   ((size_t)off * 16) % (FUZZ_RAM - 4),
			       &v, 4);
			break;
		case 4:
			mmio_write32(0x050, v % 8);
			break;
		default:
			fuzz_serve_events();
			break;
		}
	}
	fuzz_serve_events();
	return 0;
}
