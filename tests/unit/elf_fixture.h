/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal x86_64 ELF vmlinux for the loader tests: the ELF header and one
 * PT_LOAD at 16 MiB (also the entry point), whose file bytes start at
 * "offset". The caller writes the segment's bytes.
 */
#ifndef KRUN_TEST_ELF_FIXTURE_H
#define KRUN_TEST_ELF_FIXTURE_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

#define TEST_ELF_LOAD_ADDR 0x1000000

static inline void write_test_elf_header(uint8_t *buf, uint64_t offset, uint64_t filesz,
					 uint64_t memsz)
{
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph = {0};

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_entry = TEST_ELF_LOAD_ADDR;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_offset = offset;
	ph.p_paddr = TEST_ELF_LOAD_ADDR;
	ph.p_filesz = filesz;
	ph.p_memsz = memsz;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
}

#endif
