// SPDX-License-Identifier: MIT
/*
 * A stand-in for a QEMU/KVM process, for the tests of the proc backend and
 * the memory mover: vCPU threads named "CPU n/KVM" and guest RAM that is
 * allocated and touched. Options use QEMU's spelling where QEMU has one.
 *
 *   fakeguest [-name guest=NAME] [-smp N] [-m MIB] [-touch MIB] [-thp] [-memfd]
 *             [-busy]
 *
 * -touch makes only the first MIB of the RAM resident (default: all of it),
 * as a guest that has not yet used all its memory.
 * It prints "ready PID ADDRESS BYTES" once everything is in place and then
 * waits for SIGTERM. SIGUSR1 renames vCPU 0's thread "worker", as if it
 * were another thread now. -busy makes the vCPU threads spin.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int busy;

static void *vcpu(void *arg)
{
	volatile unsigned long spin = 0;

	(void)arg;
	for (;;) {
		if (busy)
			spin++;
		else
			pause();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long smp = 2, mib = 64, touch = -1;
	int thp = 0, memfd = 0;
	size_t len;
	char *ram;
	sigset_t set;
	pthread_t first = 0;
	int sig;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-smp") && i + 1 < argc)
			smp = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			mib = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-touch") && i + 1 < argc)
			touch = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-name") && i + 1 < argc)
			i++;	/* read by the proc backend from /proc/PID/cmdline */
		else if (!strcmp(argv[i], "-thp"))
			thp = 1;
		else if (!strcmp(argv[i], "-memfd"))
			memfd = 1;
		else if (!strcmp(argv[i], "-busy"))
			busy = 1;
		else {
			fprintf(stderr, "fakeguest: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	len = (size_t)mib << 20;
	if (memfd) {
		int fd = memfd_create("pc.ram", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
			perror("fakeguest: memfd");
			return 1;
		}
		ram = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		/* with -thp, 2 MiB aligned as QEMU aligns RAM for huge pages */
		size_t pad = thp ? 2UL << 20 : 0;

		ram = mmap(NULL, len + pad, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ram != MAP_FAILED && pad)
			ram = (char *)(((unsigned long)ram + pad - 1) & ~(pad - 1));
	}
	if (ram == MAP_FAILED) {
		perror("fakeguest: mmap");
		return 1;
	}
	if (thp)
		madvise(ram, len, MADV_HUGEPAGE);
	for (size_t off = 0; off < (touch >= 0 && touch < mib ? (size_t)touch << 20 : len);
	     off += 4096)
		ram[off] = (char)off;
	/* signals are taken by sigwait below, not by the vCPU threads */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (smp < 1 || smp > 4096) {
		fprintf(stderr, "fakeguest: -smp 1 to 4096\n");
		return 2;
	}
	for (int v = 0; v < smp; v++) {
		char name[32];	/* "CPU 4095/KVM" at most: within the 15 a name holds */
		pthread_t t;

		if (pthread_create(&t, NULL, vcpu, NULL)) {
			perror("fakeguest: thread");
			return 1;
		}
		/* named here, so that every name is in place before "ready" */
		snprintf(name, sizeof(name), "CPU %d/KVM", v);
		pthread_setname_np(t, name);
		if (!v)
			first = t;
	}
	printf("ready %d %p %zu\n", (int)getpid(), (void *)ram, len);
	fflush(stdout);
	while (sigwait(&set, &sig) == 0 && sig == SIGUSR1)
		if (first)
			pthread_setname_np(first, "worker");
	return 0;
}
