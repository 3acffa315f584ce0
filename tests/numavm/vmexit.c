// SPDX-License-Identifier: MIT
/*
 * vmexit CODE: ends the test VM with QEMU's isa-debug-exit device at I/O port
 * 0xf4. QEMU then exits with status (CODE << 1) | 1, so 0 becomes 1 and
 * 1 becomes 3: the host script tells a verdict from a crash or a timeout.
 * Built static: the initramfs has no libc of its own for it to need.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int code = argc > 1 ? atoi(argv[1]) : 1;

	sync();
	if (ioperm(0xf4, 4, 1) < 0) {
		perror("vmexit: ioperm");
		return 1;
	}
	outb((unsigned char)code, 0xf4);
	/* not reached under QEMU with -device isa-debug-exit */
	fprintf(stderr, "vmexit: no isa-debug-exit device at 0xf4\n");
	return 1;
}
