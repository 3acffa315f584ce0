// SPDX-License-Identifier: MIT
/*
 * guestload: a guest-like process for the multi-node test VM. Like QEMU
 * with KVM it names its vCPU threads "CPU n/KVM" and takes "-name
 * guest=NAME", so that vnumad's proc backend sees a guest; unlike
 * tests/fakeguest it places itself: its RAM on one node (bound while it is
 * first touched, then the policy is dropped so that the pages may move),
 * its vCPU threads on another node's CPUs. The process itself keeps every
 * CPU, as an unpinned QEMU does. The vCPU threads run a memory-bound loop
 * over the RAM.
 *
 *   guestload -name guest=NAME [-smp N] [-m MIB] [-cpu-node N] [-mem-node N]
 *             [-mem-head N:MIB] [-idle] [-thp on|off] [-phase-node N]
 *   guestload -fill-node N -leave MIB
 *
 * It prints "ready PID" once in place. SIGUSR1 checks that every page still
 * holds what was written to it ("verify ok" or "verify BAD ..."): memory
 * moved by the kernel must come back intact. SIGTERM and SIGINT end it.
 *
 * -mem-head N:MIB places the first MIB of the RAM on node N instead, the rest
 * as -mem-node says: a guest with memory on two nodes from the start.
 *
 * -phase-node N: on SIGUSR2 the guest's working set moves to node N, as
 * when a guest drops its caches and builds new ones: new RAM of the same
 * size is first touched there (bound, then the policy dropped), the vCPU
 * threads switch to it, and the old RAM is unmapped. It prints "phase
 * done" once the old RAM is gone.
 *
 * -thp: the RAM is madvise'd MADV_HUGEPAGE (on, the default, as QEMU does
 * for guest RAM) or MADV_NOHUGEPAGE (off: small pages only).
 *
 * -fill-node takes memory on node N, bound there, until the node has only
 * -leave MiB free, and holds it: the way to make a migration meet ENOMEM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MPOL_DEFAULT	0
#define MPOL_BIND	2
#define PAGE		4096UL
#define MIB		(1UL << 20)

static char *_Atomic ram;
static size_t ram_len;
static char *_Atomic *in_use;	/* [nr_vcpus]: the RAM each vCPU thread reads */
static int nr_vcpus = 2;
static int idle;
static int thp = 1;
static cpu_set_t vcpu_cpus;
static int have_vcpu_cpus;

static long mbind_node(void *addr, size_t len, int mode, int node)
{
	unsigned long mask[4] = { 0 };

	if (node >= 0)
		mask[node / 64] |= 1UL << (node % 64);
	return syscall(SYS_mbind, addr, len, mode, node >= 0 ? mask : NULL,
		       node >= 0 ? 256UL : 0UL, 0U);
}

/* The CPUs of a node, from sysfs; 0 or -1. */
static int node_cpus(int node, cpu_set_t *set)
{
	char path[96], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	CPU_ZERO(set);
	for (p = buf; *p && *p != '\n';) {
		long a = strtol(p, &p, 10), b = a;

		if (*p == '-')
			b = strtol(p + 1, &p, 10);
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, set);
		if (*p == ',')
			p++;
		else
			break;
	}
	return CPU_COUNT(set) ? 0 : -1;
}

/* MemFree of a node in bytes, or 0. */
static uint64_t node_free(int node)
{
	char path[96], line[256];
	uint64_t kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "MemFree:");

		if (p) {
			kb = strtoull(p + 8, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb * 1024;
}

static uint64_t pattern(size_t off)
{
	return (uint64_t)off * 0x9E3779B97F4A7C15ULL ^ 0x5a5a5a5a5a5a5a5aULL;
}

static void *vcpu(void *arg)
{
	int v = (int)(long)arg;
	size_t a = ram_len / (size_t)nr_vcpus * (size_t)v;
	size_t b = ram_len / (size_t)nr_vcpus * (size_t)(v + 1);
	volatile uint64_t sum = 0;
	char name[16], *mine = NULL;

	snprintf(name, sizeof(name), "CPU %d/KVM", v);
	pthread_setname_np(pthread_self(), name);
	if (have_vcpu_cpus && sched_setaffinity(0, sizeof(vcpu_cpus), &vcpu_cpus) < 0)
		perror("guestload: sched_setaffinity");
	for (;;) {
		if (idle) {
			pause();
			continue;
		}
		/* a new working set (-phase-node): say so, then run on it */
		if (atomic_load(&ram) != mine) {
			mine = atomic_load(&ram);
			atomic_store(&in_use[v], mine);
		}
		/* one read per cache line: the loop is bound by memory */
		for (size_t off = a; off < b; off += 64)
			sum += *(volatile uint64_t *)(mine + off);
	}
	return NULL;
}

/*
 * RAM of ram_len bytes holding the pattern, first touched on `node` (bound
 * while it is touched, then the policy dropped so that the pages may move),
 * or wherever the kernel puts it for node < 0, its first head_len bytes on
 * head_node instead when that is >= 0; NULL after saying why.
 */
static char *place_ram(int node, int head_node, size_t head_len)
{
	char *p = mmap(NULL, ram_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("guestload: mmap");
		return NULL;
	}
	if (madvise(p, ram_len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0)
		perror("guestload: madvise");
	if ((node >= 0 && mbind_node(p, ram_len, MPOL_BIND, node) < 0) ||
	    (head_node >= 0 && mbind_node(p, head_len, MPOL_BIND, head_node) < 0)) {
		perror("guestload: mbind");
		munmap(p, ram_len);
		return NULL;
	}
	for (size_t off = 0; off < ram_len; off += PAGE)
		*(uint64_t *)(p + off) = pattern(off);
	/* placed; from now on the kernel may move it anywhere */
	if ((node >= 0 || head_node >= 0) && mbind_node(p, ram_len, MPOL_DEFAULT, -1) < 0)
		perror("guestload: mbind default");
	return p;
}

/* -phase-node: the working set moves to `node`; the old RAM goes once unused. */
static void phase(int node)
{
	char *old = atomic_load(&ram), *p = place_ram(node, -1, 0);

	if (!p)
		return;
	atomic_store(&ram, p);
	/* idle vCPU threads never read it */
	for (int v = 0; v < nr_vcpus && !idle; v++)
		while (atomic_load(&in_use[v]) != p)
			usleep(1000);
	munmap(old, ram_len);
	printf("phase done: RAM on node %d\n", node);
	fflush(stdout);
}

static void verify(void)
{
	for (size_t off = 0; off < ram_len; off += PAGE)
		if (*(uint64_t *)(atomic_load(&ram) + off) != pattern(off)) {
			printf("verify BAD at offset %zu\n", off);
			fflush(stdout);
			return;
		}
	printf("verify ok %zu bytes\n", ram_len);
	fflush(stdout);
}

static int fill(int node, uint64_t leave)
{
	size_t got = 0;

	for (;;) {
		uint64_t f = node_free(node);
		size_t chunk;
		char *p, *a;

		if (!f || f <= leave + 2 * MIB)
			break;
		/* big steps while far from the mark, 2 MiB ones near it */
		chunk = (size_t)((f - leave) / 2) & ~(2 * MIB - 1);
		if (chunk < 2 * MIB)
			chunk = 2 * MIB;
		/* 2 MiB aligned, so that huge pages make the touching quick */
		p = mmap(NULL, chunk + 2 * MIB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			break;
		a = (char *)(((uintptr_t)p + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
		madvise(a, chunk, MADV_HUGEPAGE);
		if (mbind_node(a, chunk, MPOL_BIND, node) < 0) {
			perror("guestload: mbind");
			return 1;
		}
		for (size_t off = 0; off < chunk; off += PAGE)
			a[off] = 1;
		got += chunk;
	}
	printf("filled node %d with %zu MiB, %llu MiB free\n", node, got / MIB,
	       (unsigned long long)(node_free(node) / MIB));
	return 0;
}

int main(int argc, char **argv)
{
	int cpu_node = -1, mem_node = -1, fill_node = -1, phase_node = -1, head_node = -1;
	long mib = 64, leave = 16, head_mib = 0;
	sigset_t set;
	int sig;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "-idle")) {
			idle = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "guestload: %s needs a value\n", o);
			return 2;
		}
		i++;
		if (!strcmp(o, "-name"))
			;	/* read by vnumad from /proc/PID/cmdline */
		else if (!strcmp(o, "-smp"))
			nr_vcpus = atoi(v);
		else if (!strcmp(o, "-m"))
			mib = atol(v);
		else if (!strcmp(o, "-cpu-node"))
			cpu_node = atoi(v);
		else if (!strcmp(o, "-mem-node"))
			mem_node = atoi(v);
		else if (!strcmp(o, "-phase-node"))
			phase_node = atoi(v);
		else if (!strcmp(o, "-mem-head") && sscanf(v, "%d:%ld", &head_node, &head_mib) == 2)
			;
		else if (!strcmp(o, "-fill-node"))
			fill_node = atoi(v);
		else if (!strcmp(o, "-leave"))
			leave = atol(v);
		else if (!strcmp(o, "-thp") && (!strcmp(v, "on") || !strcmp(v, "off")))
			thp = !strcmp(v, "on");
		else {
			fprintf(stderr, "guestload: unknown option %s\n", o);
			return 2;
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (fill_node >= 0) {
		if (fill(fill_node, (uint64_t)leave * MIB))
			return 1;
	} else {
		if (nr_vcpus < 1 || nr_vcpus > 1024 || mib < 1) {
			fprintf(stderr, "guestload: bad -smp or -m\n");
			return 2;
		}
		if (cpu_node >= 0) {
			if (node_cpus(cpu_node, &vcpu_cpus) < 0) {
				fprintf(stderr, "guestload: node %d has no CPUs\n", cpu_node);
				return 1;
			}
			have_vcpu_cpus = 1;
		}
		ram_len = (size_t)mib * MIB;
		if (head_node >= 0 && (head_mib < 1 || head_mib > mib)) {
			fprintf(stderr, "guestload: bad -mem-head %d:%ld\n", head_node, head_mib);
			return 1;
		}
		ram = place_ram(mem_node, head_node, (size_t)head_mib * MIB);
		in_use = calloc((size_t)nr_vcpus, sizeof(*in_use));
		if (!ram || !in_use)
			return 1;
		for (long v = 0; v < nr_vcpus; v++) {
			pthread_t t;

			if (pthread_create(&t, NULL, vcpu, (void *)v)) {
				fprintf(stderr, "guestload: cannot start a vCPU thread\n");
				return 1;
			}
		}
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR1 && ram)
			verify();
		else if (sig == SIGUSR2 && ram && phase_node >= 0)
			phase(phase_node);
		else if (sig != SIGUSR1 && sig != SIGUSR2)
			break;
	}
	return 0;
}
