/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest physical memory map (x86_64):
 *
 *   0x00000000  real-mode area, BIOS data area
 *   0x00000500  GDT
 *   0x00007000  zero page (struct boot_params)
 *   0x00009000  page tables: PML4, PDPT, 4 x PD (identity map of 4 GiB)
 *   0x00020000  kernel command line
 *   0x0009fc00  end of base memory; reserved from here to 1 MiB in e820
 *   0x000f0000  MP table (the BIOS area, one of the places Linux scans)
 *   0x000f2000  SMBIOS: 64-bit entry point, then the structure table
 *   0x00100000  RAM; a bzImage loads here, a vmlinux at its own p_paddr
 *   ...         initramfs at the top of low RAM
 *   0xc0000000  MMIO hole up to 4 GiB: virtio-mmio, IOAPIC, LAPIC
 *   0x100000000 the rest of RAM
 */
#ifndef KRUN_X86_LAYOUT_H
#define KRUN_X86_LAYOUT_H

#define BOOT_GDT_ADDR	  0x500ULL
#define BOOT_ZERO_PAGE	  0x7000ULL
#define BOOT_PML4_ADDR	  0x9000ULL
#define BOOT_PDPT_ADDR	  0xa000ULL
#define BOOT_PD_ADDR	  0xb000ULL /* four pages: 0xb000..0xefff */
#define BOOT_STACK_ADDR	  0x8ff0ULL
#define BOOT_CMDLINE_ADDR 0x20000ULL
#define BASE_MEMORY_END	  0x9fc00ULL
/*
 * The BIOS area 0xf0000..0xfffff, reserved in e820, which Linux scans on
 * 16-byte boundaries for both the MP floating pointer ("_MP_") and the SMBIOS
 * entry point ("_SM3_"). Each table has its own fixed region: 8 KiB hold the
 * MP table for 254 CPUs (5364 bytes), SMBIOS takes the remaining 56 KiB.
 */
#define MPTABLE_ADDR	  0xf0000ULL
#define MPTABLE_END	  0xf2000ULL
#define SMBIOS_ADDR	  0xf2000ULL
#define SMBIOS_END	  0x100000ULL
#define HIGH_MEMORY_START 0x100000ULL
#define BZIMAGE_LOAD_ADDR 0x100000ULL

#define MMIO_HOLE_START 0xc0000000ULL
#define MMIO_HOLE_END	0x100000000ULL

#define VIRTIO_MMIO_BASE 0xd0000000ULL
#define IOAPIC_ADDR	 0xfec00000ULL
#define LAPIC_ADDR	 0xfee00000ULL
#define KVM_IDENTITY_MAP 0xfffbc000ULL
#define KVM_TSS_ADDR	 0xfffbd000ULL

/* GDT selectors required by the Linux 64-bit boot protocol. */
#define BOOT_CS_SELECTOR  0x10
#define BOOT_DS_SELECTOR  0x18
#define BOOT_TSS_SELECTOR 0x20

#endif
