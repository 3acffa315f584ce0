// SPDX-License-Identifier: MIT
/*
 * The memory mover against real processes (tests/fakeguest: touched guest
 * RAM, anonymous, memfd or transparent huge pages) with real move_pages
 * calls. The test machine has one NUMA node, so pages "move" from node 0 to
 * node 0: the kernel finds them on the target and leaves them, but every
 * call, batch, pacing step and status is real. What needs a second node is
 * tested through the status mapping with the statuses the kernel gives.
 *
 * Covered: guest-RAM detection in smaps (synthetic and real), per-page
 * status accounting (ENOMEM, EBUSY, EAGAIN, EACCES, not moved, unmapped),
 * batching against the per-call time target, the byte limit, the rate limit
 * over time, prompt cancel, a process that dies before and during a
 * migration, a reused pid, nodes that do not exist (ENODEV) and empty
 * source nodes, concurrent migrations, EPERM from an unprivileged mover,
 * shutdown with migrations running, and the worker's priority and CPUs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <numa.h>

#include "hostinfo.h"
#include "mover.h"
#include "testlib.h"
#include "util.h"
#include "vnumad.h"


/* --- the loop ---------------------------------------------------------- */

/* Runs the loop until m leaves RUNNING; false on timeout. */
static bool wait_end(struct event_base *base, struct vn_migration *m, double timeout)
{
	double t0 = now_monotonic();

	while (m->state == VN_MIG_RUNNING && now_monotonic() - t0 < timeout)
		loop_for(base, 0.005);
	return m->state != VN_MIG_RUNNING;
}

struct env {
	struct event_base *base;
	struct vn_mover *mv;
	struct fg fg;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->base = event_base_new();
	e->mv = mover_new(e->base);
	if (!e->base || !e->mv)
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	mover_free(e->mv);
	fg_stop(&e->fg);
	event_base_free(e->base);
	free(e);
	return 0;
}

static struct vn_migration mig(int from, int to, uint64_t bytes)
{
	return (struct vn_migration){ .from = from, .to = to, .bytes = bytes,
				      .state = VN_MIG_RUNNING };
}

/* A node number that has no memory here, or -1. */
static int absent_node(void)
{
	int n = numa_available() < 0 ? 0 : numa_max_node();

	return n + 1 < VN_MAX_NODES ? n + 1 : -1;
}

/* --- pure functions ------------------------------------------------------ */

#define VMA(range, perms, path, rss, kps, flags, extra)			\
	range " " perms " 00000000 00:00 0 " path "\n"			\
	"Size: 1 kB\nKernelPageSize: " kps " kB\nRss: " rss " kB\n"	\
	extra "VmFlags: " flags "\n"

static void smaps_picks_guest_ram(void **state)
{
	static const char text[] =
		/* 128 MiB anonymous: guest RAM */
		VMA("7f0000000000-7f0008000000", "rw-p", "", "1024", "4", "rd wr mr mw me ac sd", "")
		/* the heap, however big, is not */
		VMA("560000000000-560010000000", "rw-p", "[heap]", "1024", "4", "rd wr mr mw me ac sd", "")
		/* executable: a JIT buffer */
		VMA("7f1000000000-7f1008000000", "rwxp", "", "1024", "4", "rd wr ex mr mw me ac sd", "")
		/* too small */
		VMA("7f2000000000-7f2000800000", "rw-p", "", "1024", "4", "rd wr mr mw me ac sd", "")
		/* memfd guest RAM, with transparent huge pages */
		VMA("7f3000000000-7f3008000000", "rw-s", "/memfd:pc.ram (deleted)", "2048", "4",
		    "rd wr sh mr mw me ms sd", "ShmemPmdMapped: 2048 kB\n")
		/* hugetlbfs, 2 MiB pages */
		VMA("7f4000000000-7f4008000000", "rw-s", "/dev/hugepages/ram", "4096", "2048",
		    "rd wr sh mr mw me ms de ht sd", "")
		/* hugetlbfs, 1 GiB pages: kept, refused with a reason */
		VMA("7f5000000000-7f5080000000", "rw-s", "/anon_hugepage (deleted)", "1048576",
		    "1048576", "rd wr sh mr mw me ms de ht sd", "")
		/* a VFIO BAR */
		VMA("7f6000000000-7f6008000000", "rw-s", "/dev/vfio/12", "1024", "4",
		    "rd wr sh mr mw me ms io pf dc de dd sd", "")
		/* memory-backend-file, shared */
		VMA("7f7000000000-7f7008000000", "rw-s", "/var/lib/ram/guest", "1024", "4",
		    "rd wr sh mr mw me ms sd", "")
		/* a private file mapping is not guest RAM */
		VMA("7f8000000000-7f8008000000", "rw-p", "/usr/lib/big.so", "1024", "4",
		    "rd wr mr mw me ac sd", "")
		/* nothing resident: nothing to move */
		VMA("7f9000000000-7f9008000000", "rw-p", "", "0", "4", "rd wr mr mw me ac sd", "")
		/* anonymous with MADV_HUGEPAGE */
		VMA("7fa000000000-7fa008000000", "rw-p", "[anon:guest]", "64", "4",
		    "rd wr mr mw me ac sd hg", "AnonHugePages: 0 kB\n");
	struct mover_region *r;
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	int n;

	(void)state;
	n = mover_parse_smaps(f, 32 * MiB, &r);
	fclose(f);
	assert_int_equal(n, 6);
	assert_int_equal(r[0].start, 0x7f0000000000);
	assert_int_equal(r[0].end, 0x7f0008000000);
	assert_int_equal(r[0].page, 4096);
	assert_false(r[0].thp);
	assert_null(r[0].refused);
	assert_int_equal(r[1].start, 0x7f3000000000);
	assert_true(r[1].thp);
	assert_int_equal(r[2].start, 0x7f4000000000);
	assert_int_equal(r[2].page, 2 * MiB);
	assert_false(r[2].thp);
	assert_null(r[2].refused);
	assert_int_equal(r[3].start, 0x7f5000000000);
	assert_int_equal(r[3].page, GiB);
	assert_non_null(r[3].refused);
	assert_int_equal(r[4].start, 0x7f7000000000);
	assert_int_equal(r[5].start, 0x7fa000000000);
	assert_true(r[5].thp);
	free(r);
}

static void status_mapping(void **state)
{
	enum { FROM = 1, TO = 0 };
	const int st[] = {
		TO, TO, -ENOMEM, -EBUSY, -EAGAIN, -EACCES, FROM, -ENOENT, -EFAULT, 3,
		-ENOMEM,
	};
	struct mover_tally t = { 0 };

	(void)state;
	mover_account(st, ARRAY_SIZE(st), FROM, TO, 4096, &t);
	assert_int_equal(t.done, 2 * 4096);
	/* ENOMEM x2, EBUSY, EAGAIN, EACCES, still on FROM */
	assert_int_equal(t.failed, 6 * 4096);
	assert_int_equal(t.error, ENOMEM);	/* the first met */
	assert_int_equal(t.nomem, 2);
	assert_int_equal(t.busy, 3);		/* EBUSY, EAGAIN, not moved */

	/* a pinned page (device assignment) fails alone; the rest moves */
	{
		const int pinned[] = { TO, -EBUSY, TO, TO };
		struct mover_tally u = { 0 };

		mover_account(pinned, 4, FROM, TO, 2 * MiB, &u);
		assert_int_equal(u.done, 6 * MiB);
		assert_int_equal(u.failed, 2 * MiB);
		assert_int_equal(u.error, EBUSY);
	}
}

/*
 * Choosing a window's pages. The kernel moves a transparent huge page whole
 * through any of its addresses (the VM tests show it: a partial move that
 * took huge pages a small page at a time moved twice what it was asked), so
 * a whole huge page on the source node is one unit of 512 pages.
 */
static void selection_of_huge_pages(void **state)
{
	enum { FROM = 1, TO = 0, HP = 512, N = 256 + 3 * HP };
	/* a window from 1 MiB into a 2 MiB range: 256 small pages, 3 huge pages */
	const uintptr_t base = 0x7f0000000000 + MiB;
	struct mover_region thp = { .start = base, .end = base + N * 4096, .page = 4096,
				    .thp = true };
	struct mover_region small = thp;
	static void *addr[N];
	static int where[N], idx[N];
	int k, last;
	bool stop;

	(void)state;
	small.thp = false;
	for (int i = 0; i < N; i++) {
		addr[i] = (void *)(base + (uintptr_t)i * 4096);
		where[i] = FROM;
	}

	/* everything: all of it, no stop */
	k = mover_select(&thp, addr, where, N, FROM, 0, false, idx, &last, &stop);
	assert_int_equal(k, N);
	assert_int_equal(last, N - 1);
	assert_false(stop);

	/* 100 pages past a huge page: less than half the next, left */
	k = mover_select(&thp, addr, where, N, FROM, 256 + HP + 100, true, idx, &last, &stop);
	assert_int_equal(k, 256 + HP);
	assert_int_equal(last, 256 + HP - 1);	/* the next window starts at it */
	assert_false(stop);
	assert_int_equal(idx[256], 256);	/* the head, then its small pages */
	assert_int_equal(idx[k - 1], 256 + HP - 1);

	/* 300 pages past: more than half, taken whole */
	k = mover_select(&thp, addr, where, N, FROM, 256 + HP + 300, true, idx, &last, &stop);
	assert_int_equal(k, 256 + 2 * HP);
	assert_false(stop);

	/* a window that starts at a huge page, 100 pages to go: stop there */
	k = mover_select(&thp, addr + 256, where + 256, N - 256, FROM, 100, true, idx,
			 &last, &stop);
	assert_int_equal(k, 0);
	assert_int_equal(last, -1);
	assert_true(stop);

	/* nothing left to take (under half a hugetlbfs page): stop at once */
	k = mover_select(&small, addr, where, N, FROM, 0, true, idx, &last, &stop);
	assert_int_equal(k, 0);
	assert_int_equal(last, -1);
	assert_true(stop);

	/* small pages are taken one by one, to the page */
	k = mover_select(&thp, addr, where, N, FROM, 100, true, idx, &last, &stop);
	assert_int_equal(k, 100);
	assert_int_equal(last, 99);
	assert_false(stop);
	k = mover_select(&small, addr, where, N, FROM, 256 + HP + 100, true, idx, &last,
			 &stop);
	assert_int_equal(k, 256 + HP + 100);
	assert_false(stop);

	/* a 2 MiB range with one page elsewhere is small pages, not a unit */
	where[256 + HP + 7] = TO;
	k = mover_select(&thp, addr, where, N, FROM, 256 + HP + 100, true, idx, &last, &stop);
	assert_int_equal(k, 256 + HP + 100);
	assert_int_equal(idx[256 + HP + 7], 256 + HP + 8);	/* skipped */
	assert_false(stop);

	/* pages not on the source are never taken */
	for (int i = 0; i < N; i++)
		where[i] = i % 2 ? TO : FROM;
	k = mover_select(&thp, addr, where, N, FROM, 0, false, idx, &last, &stop);
	assert_int_equal(k, N / 2);
	for (int x = 0; x < k; x++)
		assert_int_equal(where[idx[x]], FROM);

	/* a huge page cut by the window's end is not a unit */
	for (int i = 0; i < N; i++)
		where[i] = FROM;
	k = mover_select(&thp, addr, where, 256 + 10, FROM, 20, true, idx, &last, &stop);
	assert_int_equal(k, 20);
	assert_false(stop);
}

/* --- against a real process ---------------------------------------------- */

static void smaps_of_a_real_guest(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", "-thp", NULL };
	struct mover_region *r;
	char path[64];
	FILE *f;
	int n, hit = -1;

	fg_start(&e->fg, args);
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)e->fg.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = mover_parse_smaps(f, 32 * MiB, &r);
	fclose(f);
	for (int i = 0; i < n; i++)
		if (r[i].start == e->fg.addr)
			hit = i;
	/* its RAM and nothing else: no stack, heap or library */
	assert_int_equal(n, 1);
	assert_int_equal(hit, 0);
	assert_int_equal(r[0].end - r[0].start, 64 * MiB);
	assert_true(r[0].thp);
	free(r);
}

static void moves_in_short_batches(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "128", NULL };
	struct vn_migration m = mig(0, 0, 128 * MiB);
	struct vn_mover_stats st;

	fg_start(&e->fg, args);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 20));
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 128 * MiB);
	assert_int_equal(m.failed, 0);
	assert_int_equal(m.error, 0);
	assert_null(m.priv);
	mover_get_stats(e->mv, &st);
	/* 32768 pages in calls of at most ~2500: many batches */
	assert_true(st.moves >= 13);
	assert_int_equal(st.pages, 32768);
	assert_true(st.max_batch <= 8192);
	/* short calls, in the kernel's CPU time (wall time adds preemption) */
	assert_true(st.total_move_cpu / (double)st.moves < 0.005);
	assert_true(st.max_move_cpu < 0.020);
	print_message("# move_pages 0->0, 4 KiB pages: %llu calls of %llu..%llu pages; "
		      "CPU %.3f ms mean, %.3f ms max; wall %.3f ms mean, %.3f ms max; "
		      "query wall %.3f ms max\n",
		      (unsigned long long)st.moves, (unsigned long long)st.min_batch,
		      (unsigned long long)st.max_batch,
		      st.total_move_cpu * 1e3 / (double)st.moves, st.max_move_cpu * 1e3,
		      st.total_move * 1e3 / (double)st.moves, st.max_move * 1e3,
		      st.max_query * 1e3);
}

static void batches_follow_the_call_target(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };
	struct vn_migration m = mig(0, 0, 64 * MiB);
	struct vn_mover_stats st;

	fg_start(&e->fg, args);
	mover_set_call_target(e->mv, 0.001);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 20));
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 64 * MiB);
	mover_get_stats(e->mv, &st);
	/* 1 ms at no faster than 1 GB/s is under 250 pages: many more calls */
	assert_true(st.max_batch <= 250);
	assert_true(st.moves >= 16384 / 250);
	print_message("# 1 ms target: %llu calls of at most %llu pages, CPU %.3f ms max\n",
		      (unsigned long long)st.moves, (unsigned long long)st.max_batch,
		      st.max_move_cpu * 1e3);
}

static void thp_and_memfd_regions(void **state)
{
	struct env *e = *state;
	const char *thp[] = { "-m", "64", "-thp", NULL };
	const char *memfd[] = { "-m", "64", "-memfd", NULL };
	struct vn_migration m = mig(0, 0, 0);
	struct vn_mover_stats st;
	struct fg other = { 0 };

	/* huge pages: the aligned pass goes first, with a page per 2 MiB */
	fg_start(&e->fg, thp);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 20));
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 64 * MiB);
	mover_get_stats(e->mv, &st);
	assert_true(st.min_batch <= 16);
	/*
	 * A partial move takes huge pages whole (2 MiB aligned RAM here, so
	 * none is cut): 4 KiB over 5 MiB rounds up to 6 MiB, 4 KiB under
	 * down to 4 MiB, which ends DONE with a note, not short and failed.
	 */
	m = mig(0, 0, 5 * MiB + 4096);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 20));
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 6 * MiB);
	m = mig(0, 0, 5 * MiB - 4096);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 20));
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 4 * MiB);
	assert_int_equal(m.failed, 0);
	/* shared memfd RAM, as memory-backend-memfd gives */
	fg_start(&other, memfd);
	m = mig(0, 0, 0);
	assert_int_equal(mover_start(e->mv, other.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 20));
	fg_stop(&other);
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 64 * MiB);
}

static void rate_limit_over_time(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };
	struct vn_migration m = mig(0, 0, 32 * MiB);
	double t0, elapsed, at = 0;
	uint64_t mid = 0;

	fg_start(&e->fg, args);
	mover_set_rate(e->mv, 64.0 * MiB);
	t0 = now_monotonic();
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	/* never ahead of the rate, by more than the one window it starts with */
	while (m.state == VN_MIG_RUNNING && now_monotonic() - t0 < 10) {
		loop_for(e->base, 0.01);
		elapsed = now_monotonic() - t0;
		if ((double)m.done > 64.0 * MiB * elapsed + 3.3 * MiB)
			fail_msg("%llu bytes after %.3f s", (unsigned long long)m.done, elapsed);
		if (!mid && m.done && m.done < 32 * MiB) {
			mid = m.done;
			at = elapsed;
		}
	}
	elapsed = now_monotonic() - t0;
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 32 * MiB);
	/* 32 MiB at 64 MiB/s: half a second, less the first window's head start */
	assert_true(elapsed >= 0.40);
	/* progress reached the loop while it ran */
	assert_true(mid > 0);
	print_message("# 32 MiB at 64 MiB/s took %.2f s; first progress %llu KiB at %.3f s\n",
		      elapsed, (unsigned long long)(mid / KiB), at);
}

static void cancel_is_prompt(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };
	struct vn_migration m = mig(0, 0, 0);
	double t0;

	fg_start(&e->fg, args);
	mover_set_rate(e->mv, 32.0 * MiB);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	loop_for(e->base, 0.2);
	assert_int_equal(m.state, VN_MIG_RUNNING);
	mover_cancel(e->mv, &m);
	/* at once, with what was moved so far, and never touched again */
	assert_int_equal(m.state, VN_MIG_CANCELLED);
	assert_true(m.done > 0 && m.done < 64 * MiB);
	assert_null(m.priv);
	m.done = 12345;
	t0 = now_monotonic();
	while (mover_busy(e->mv) && now_monotonic() - t0 < 1)
		loop_for(e->base, 0.001);
	/* the worker dropped it within one paced step */
	assert_int_equal(mover_busy(e->mv), 0);
	assert_true(now_monotonic() - t0 < 0.1);
	loop_for(e->base, 0.1);
	assert_int_equal(m.done, 12345);
	assert_int_equal(m.state, VN_MIG_CANCELLED);
	/* a second cancel is harmless */
	mover_cancel(e->mv, &m);
}

static void dead_or_replaced_process(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };
	struct vn_migration m = mig(0, 0, 0);
	uint64_t st;

	/* gone before the start */
	fg_start(&e->fg, args);
	st = hostinfo_starttime(e->fg.pid);
	assert_true(st > 0);
	/* same pid, another start time: a reused pid is not the guest */
	assert_int_equal(mover_start(e->mv, e->fg.pid, st + 1, &m), -ESRCH);
	fg_stop(&e->fg);
	m = mig(0, 0, 0);
	fg_start(&e->fg, args);
	kill(e->fg.pid, SIGKILL);
	waitpid(e->fg.pid, NULL, 0);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), -ESRCH);
	e->fg.pid = 0;

	/* gone in the middle: FAILED with ESRCH, what was done is kept */
	fg_start(&e->fg, args);
	mover_set_rate(e->mv, 32.0 * MiB);
	m = mig(0, 0, 0);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	loop_for(e->base, 0.3);
	assert_int_equal(m.state, VN_MIG_RUNNING);
	fg_stop(&e->fg);
	assert_true(wait_end(e->base, &m, 5));
	assert_int_equal(m.state, VN_MIG_FAILED);
	assert_int_equal(m.error, ESRCH);
	assert_true(m.done > 0 && m.done < 64 * MiB);
}

static void nodes_that_are_not_there(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };
	int absent = absent_node();
	struct vn_migration m = mig(0, 0, 0);
	struct vn_mover_stats before, after;

	if (absent < 0)
		skip();
	fg_start(&e->fg, args);
	/* negative nodes never reach the kernel */
	m = mig(0, -1, 0);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), -EINVAL);
	/* a target without memory: the kernel says ENODEV, the job ends */
	m = mig(0, absent, 0);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 5));
	assert_int_equal(m.state, VN_MIG_FAILED);
	assert_int_equal(m.error, ENODEV);
	assert_int_equal(m.done, 0);
	/* nothing on the source: a no-op that only looks */
	mover_get_stats(e->mv, &before);
	m = mig(absent, 0, 0);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 5));
	mover_get_stats(e->mv, &after);
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_int_equal(m.done, 0);
	assert_int_equal(m.failed, 0);
	assert_int_equal(after.moves, before.moves);
	assert_true(after.queries > before.queries);
}

static void concurrent_migrations(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };
	struct vn_migration a = mig(0, 0, 0), b = mig(0, 0, 48 * MiB);
	struct fg other = { 0 };

	fg_start(&e->fg, args);
	fg_start(&other, args);
	mover_set_rate(e->mv, 256.0 * MiB);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &a), 0);
	assert_int_equal(mover_start(e->mv, other.pid, 0, &b), 0);
	/* served in turn: both make progress before either ends */
	while (a.state == VN_MIG_RUNNING && b.state == VN_MIG_RUNNING &&
	       !(a.done && b.done))
		loop_for(e->base, 0.005);
	assert_true(a.done > 0 && b.done > 0);
	assert_true(wait_end(e->base, &a, 10));
	assert_true(wait_end(e->base, &b, 10));
	fg_stop(&other);
	assert_int_equal(a.state, VN_MIG_DONE);
	assert_int_equal(a.done, 64 * MiB);
	assert_int_equal(b.state, VN_MIG_DONE);
	assert_int_equal(b.done, 48 * MiB);
}

static void shutdown_with_migrations_running(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };
	struct vn_migration m = mig(0, 0, 0);

	fg_start(&e->fg, args);
	mover_set_rate(e->mv, 8.0 * MiB);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	loop_for(e->base, 0.1);
	mover_free(e->mv);
	e->mv = mover_new(e->base);
	assert_int_equal(m.state, VN_MIG_CANCELLED);
	assert_null(m.priv);
}

/*
 * Forks a child that becomes nobody, without capabilities, and migrates all
 * of guest with a mover of its own (nice first, unless 0); the child exits
 * with judge()'s verdict, which must be 0. Needs root to change users.
 */
static void as_nobody(pid_t guest, int nice,
		      int (*judge)(const struct vn_migration *m, pid_t tid))
{
	pid_t child;
	int status;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct event_base *base;
		struct vn_mover *mv;
		struct vn_migration m = mig(0, 0, 0);
		double t0 = now_monotonic();

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		base = event_base_new();
		mv = mover_new(base);
		if (nice)
			mover_set_nice(mv, nice);
		if (mover_start(mv, guest, 0, &m) < 0)
			_exit(11);
		while (m.state == VN_MIG_RUNNING && now_monotonic() - t0 < 5)
			loop_for(base, 0.01);
		_exit(judge(&m, mover_tid(mv)));
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int judge_eperm(const struct vn_migration *m, pid_t tid)
{
	(void)tid;
	/* smaps refuses first (EACCES); move_pages would say EPERM */
	if (m->state != VN_MIG_FAILED || m->done)
		return 12;
	return m->error == EACCES || m->error == EPERM ? 0 : 13;
}

/* An unprivileged mover cannot touch another user's process: EPERM. */
static void unprivileged_mover_gets_eperm(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "64", NULL };

	if (geteuid() != 0)
		skip();
	fg_start(&e->fg, args);
	as_nobody(e->fg.pid, 0, judge_eperm);
}

/*
 * The worker copies at its configured nice value: 5 needs no privilege; a
 * value below the process's, without CAP_SYS_NICE, is refused and logged,
 * and the migration still runs. It is named for top -H.
 */
static void mover_thread_priority(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "32", NULL };
	struct vn_migration m = mig(0, 0, 0);
	char path[64], comm[32] = "";
	pid_t tid = mover_tid(e->mv);
	FILE *f;

	assert_true(tid > 0);
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	assert_string_equal(comm, "vnumad-mover\n");

	fg_start(&e->fg, args);
	mover_set_nice(e->mv, 5);
	assert_int_equal(mover_start(e->mv, e->fg.pid, 0, &m), 0);
	assert_true(wait_end(e->base, &m, 20));
	assert_int_equal(m.state, VN_MIG_DONE);
	errno = 0;
	assert_int_equal(getpriority(PRIO_PROCESS, (id_t)tid), 5);
	assert_int_equal(getpriority(PRIO_PROCESS, 0), 0);	/* the loop keeps its own */
}

static int judge_nice_kept(const struct vn_migration *m, pid_t tid)
{
	if (m->state == VN_MIG_RUNNING)
		return 12;	/* the refused priority must not hang it */
	return getpriority(PRIO_PROCESS, (id_t)tid) == 0 ? 0 : 13;
}

static void mover_nice_without_privilege(void **state)
{
	struct env *e = *state;
	const char *args[] = { "-m", "32", NULL };

	if (geteuid() != 0)
		skip();		/* it needs to become nobody */
	fg_start(&e->fg, args);
	as_nobody(e->fg.pid, -5, judge_nice_kept);
}

/*
 * Where it copies: the target node's CPUs that the process may use; all of
 * those for a node without CPUs or with none allowed. One node here: node 0
 * has every CPU, the node after the last has none.
 */
static void mover_cpus_of_the_target(void **state)
{
	size_t sz = hostinfo_cpuset_size();
	cpu_set_t *all = hostinfo_cpuset_alloc(), *one = hostinfo_cpuset_alloc();
	cpu_set_t *out = hostinfo_cpuset_alloc();
	int n = hostinfo_nr_cpus(), last = -1, absent = absent_node();
	(void)state;

	for (int c = 0; c < n; c++)
		CPU_SET_S(c, sz, all);
	assert_int_equal(mover_node_cpus(0, all, out), n);
	assert_true(CPU_EQUAL_S(sz, out, all));
	for (int c = 0; c < n; c++)
		if (hostinfo_cpu_node(c) == 0)
			last = c;
	assert_true(last >= 0);
	CPU_SET_S(last, sz, one);
	assert_int_equal(mover_node_cpus(0, one, out), 1);
	assert_true(CPU_ISSET_S(last, sz, out));
	if (absent >= 0)
		assert_int_equal(mover_node_cpus(absent, all, out), 0);
	assert_int_equal(mover_node_cpus(-1, all, out), 0);
	assert_int_equal(mover_node_cpus(VN_MAX_NODES + 70, all, out), 0);
	CPU_ZERO_S(sz, one);
	assert_int_equal(mover_node_cpus(0, one, out), 0);
	CPU_FREE(all);
	CPU_FREE(one);
	CPU_FREE(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(smaps_picks_guest_ram),
		cmocka_unit_test(status_mapping),
		cmocka_unit_test(selection_of_huge_pages),
		cmocka_unit_test_setup_teardown(smaps_of_a_real_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(moves_in_short_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(batches_follow_the_call_target, setup, teardown),
		cmocka_unit_test_setup_teardown(thp_and_memfd_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(rate_limit_over_time, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_is_prompt, setup, teardown),
		cmocka_unit_test_setup_teardown(dead_or_replaced_process, setup, teardown),
		cmocka_unit_test_setup_teardown(nodes_that_are_not_there, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(shutdown_with_migrations_running, setup, teardown),
		cmocka_unit_test_setup_teardown(unprivileged_mover_gets_eperm, setup, teardown),
		cmocka_unit_test_setup_teardown(mover_thread_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(mover_nice_without_privilege, setup, teardown),
		cmocka_unit_test(mover_cpus_of_the_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
