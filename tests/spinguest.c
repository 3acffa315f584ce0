// SPDX-License-Identifier: MIT
/*
 * A guest that keeps every vCPU busy, for the tests with real QEMU
 * (tests/t_libvirt_qemu.sh, tests/t_proc_qemu.sh): a 32-bit multiboot
 * kernel, which QEMU's -kernel (libvirt's <os><kernel>) loads and enters
 * in protected mode on the first vCPU. It wakes the others with INIT and
 * STARTUP IPIs through the local APIC (Intel SDM vol. 3, 10.6 and 8.4.4;
 * a software-disabled APIC still sends them) into a real-mode loop at
 * 0x8000, then loops itself. A busy vCPU has CPU time to sample; a
 * diskless guest sits in SeaBIOS with its other vCPUs halted.
 *
 * Built freestanding, -m32, by tests/fakeguest.mk; no libc, no stack use.
 */
#include <stdint.h>

/* multiboot 1 header: magic, flags (none: QEMU takes the ELF headers), checksum */
__asm__(".text\n.align 4\n.long 0x1BADB002, 0, -0x1BADB002\n");

#define ICR_LO	((volatile uint32_t *)0xFEE00300u)	/* local APIC command register */
#define ICR_HI	((volatile uint32_t *)0xFEE00310u)
#define ALL_BUT_SELF_INIT	0x000C4500u
#define ALL_BUT_SELF_SIPI	0x000C4600u	/* | the start page (vector) */
#define AP_START	0x8000u		/* page 8: 0x08 << 12 */

static void a_while(void)
{
	for (volatile int i = 0; i < 100000; i++)
		;
}

void _start(void);

void _start(void)
{
	/* what the others run: "jmp ." in real mode */
	*(volatile uint16_t *)AP_START = 0xFEEB;
	*ICR_HI = 0;
	*ICR_LO = ALL_BUT_SELF_INIT;
	a_while();
	/* twice, as the SDM's start-up sequence has it */
	for (int i = 0; i < 2; i++) {
		*ICR_LO = ALL_BUT_SELF_SIPI | (AP_START >> 12);
		a_while();
	}
	for (;;)
		;
}
