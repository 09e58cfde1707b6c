// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: virtio-console control messages from the guest
 * (DEVICE_READY, PORT_READY, PORT_OPEN, and anything else), on a device a
 * well-behaved driver set up, with receive buffers for the host's answers
 * given and withheld at the fuzzer's choice.
 *
 * Input: records of 10 bytes: op, length byte, 8 bytes of message.
 *   op % 4 == 0: a control message of (length % 80) bytes, the 8 given first
 *             1: a control receive buffer of (length % 80) bytes
 *             2: a transmit buffer on port (length % 2)
 *             3: serve the event loop
 */
#include <stdint.h>

#include "fuzz_vm.h"

enum { CTRL_RX = 2, CTRL_TX = 3, NQUEUES = 6 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_vm_create();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t id = 0;

	fuzz_vm_reset();
	fuzz_driver_setup(NQUEUES);
	for (size_t i = 0; i + 10 <= size; i += 10, id++) {
		uint64_t gpa = FUZZ_DATA_GPA + (uint64_t)(id % FUZZ_QNUM) * 128;
		uint32_t len = data[i + 1] % 80;

		switch (data[i] % 4) {
		case 0:
			memcpy(guest_ptr(&fuzz_vm->mem, gpa, 8), data + i + 2, 8);
			fuzz_driver_give(CTRL_TX, id, gpa, len, 0);
			break;
		case 1:
			fuzz_driver_give(CTRL_RX, id, gpa, len, VIRTQ_DESC_F_WRITE);
			break;
		case 2:
			memcpy(guest_ptr(&fuzz_vm->mem, gpa, 8), data + i + 2, 8);
			fuzz_driver_give(len % 2 ? 5 : 1, id, gpa, 8, 0);
			break;
		default:
			fuzz_serve_events();
			break;
		}
	}
	fuzz_serve_events();
	return 0;
}
