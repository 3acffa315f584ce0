// SPDX-License-Identifier: MIT
/*
 * A stand-in for a VMM process, for the tests of the proc backend and the
 * memory mover: vCPU threads named as a VMM names them and guest RAM that
 * is allocated and touched. Options use QEMU's spelling where QEMU has one.
 *
 *   fakeguest [-name guest=NAME] [-smp N] [-m MIB] [-touch MIB] [-thp] [-memfd]
 *             [-busy]
 *             [-names kvm|tcg|mshv|shared|none|ch|fc]
 *             [--api-socket ARG] [--api-sock PATH] [--id ID] [--cpus ARG]
 *
 * -names says how the vCPU threads are named: "CPU n/KVM" (kvm, the
 * default), "CPU n/TCG", "CPU n/MSHV" (QEMU), one "ALL CPUs/TCG" thread for
 * all (shared: QEMU's single-threaded TCG), not at all (none: QEMU without
 * debug-threads=on), "vcpuN" (ch: cloud-hypervisor), "fc_vcpu N" (fc:
 * Firecracker). The -- options are cloud-hypervisor's and Firecracker's,
 * there for the proc backend to read in /proc/PID/cmdline. Run a copy named
 * cloud-hypervisor or firecracker to stand in for those.
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
	const char *names = "kvm";
	size_t len;
	char *ram;
	sigset_t set;
	pthread_t first = 0;
	int sig;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-smp") && i + 1 < argc) {
			const char *v = argv[++i], *c = strstr(v, "cpus=");

			/* -smp N or -smp cpus=N,... as QEMU takes it */
			smp = strtol(c ? c + 5 : v, NULL, 10);
		}
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
		else if (!strcmp(argv[i], "-names") && i + 1 < argc)
			names = argv[++i];
		else if ((!strcmp(argv[i], "--api-socket") || !strcmp(argv[i], "--api-sock") ||
			  !strcmp(argv[i], "--id") || !strcmp(argv[i], "--cpus")) && i + 1 < argc)
			i++;	/* read by the proc backend from /proc/PID/cmdline */
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
	/* one thread runs every vCPU in QEMU's single-threaded TCG */
	if (!strcmp(names, "shared"))
		smp = 1;
	for (int v = 0; v < smp; v++) {
		char name[32];	/* "CPU 4095/MSHV" at most: within the 15 a name holds */
		pthread_t t;

		if (!strcmp(names, "kvm") || !strcmp(names, "tcg") || !strcmp(names, "mshv"))
			snprintf(name, sizeof(name), "CPU %d/%s", v, !strcmp(names, "kvm") ?
				 "KVM" : !strcmp(names, "tcg") ? "TCG" : "MSHV");
		else if (!strcmp(names, "shared"))
			snprintf(name, sizeof(name), "ALL CPUs/TCG");
		else if (!strcmp(names, "ch"))
			snprintf(name, sizeof(name), "vcpu%d", v);
		else if (!strcmp(names, "fc"))
			snprintf(name, sizeof(name), "fc_vcpu %d", v);
		else if (strcmp(names, "none") != 0) {
			fprintf(stderr, "fakeguest: -names kvm, tcg, mshv, shared, none, ch or fc\n");
			return 2;
		}
		if (pthread_create(&t, NULL, vcpu, NULL)) {
			perror("fakeguest: thread");
			return 1;
		}
		/* named here, so that every name is in place before "ready" */
		if (strcmp(names, "none") != 0)
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
