// SPDX-License-Identifier: MIT
/*
 * The libvirt backend and its event loop glue, against real libvirt: the
 * in-process test:///default driver (two cells of 8 CPUs, one running
 * domain "test"; its state is shared by the connections of this process,
 * so a second connection plays the operator).
 *
 * virevent: repeating, every-iteration and disabled timers; level-triggered
 * handles; free callbacks that run later from the loop, never inside remove;
 * adds and removes from another thread while the loop sleeps or runs the
 * watch's callback.
 *
 * Backend: discovery and topology, lifecycle events that add and drop
 * guests without a scan, live pinning to a node's CPU set as libvirt then
 * reports it, pinning in the persistent definition (vcpupin, vcpu cpuset,
 * numatune), guest NUMA cells, our metadata opting a guest out or a pinned
 * one in, domains created and destroyed by another thread while ticks run,
 * and a dropped connection that reconnects and keeps the guests.
 *
 * With VNUMAD_QEMU_DOMAIN set (tests/t_libvirt_qemu.sh) the same binary runs
 * the real-libvirtd cases instead, against qemu:///system and a running
 * QEMU guest of that name, under KVM or TCG: its vCPU threads as libvirt
 * records them (cgroups, status XML), a live pin, a memory move within the
 * node, libvirtd restarted, the guest destroyed while ticks run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "config.h"
#include "hostinfo.h"
#include "log.h"
#include "lvstate.h"
#include "registry.h"
#include "util.h"
#include "virevent.h"
#include "vmm.h"
#include "vnumad.h"

#define NS "https://vnumad.org/xmlns/guest/1"

static struct event_base *base;
static struct vn_config cfg;
static struct vn_host host;
static struct vn_backend be;
static virConnectPtr op;	/* the operator's connection */
static int nr_new, nr_gone;

static void loop_for(double s)
{
	struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Runs the loop until cond() holds; false on timeout. */
static bool loop_until(bool (*cond)(void *), void *arg, double timeout)
{
	double t0 = now_monotonic();

	while (!cond(arg)) {
		if (now_monotonic() - t0 > timeout)
			return false;
		loop_for(0.01);
	}
	return true;
}

static void on_new(struct vn_host *h, struct vn_guest *g, void *arg)
{
	(void)h;
	(void)g;
	(void)arg;
	nr_new++;
}

static void on_gone(struct vn_host *h, struct vn_guest *g, void *arg)
{
	(void)h;
	(void)arg;
	nr_gone++;
	/* the core's part: the backend forgets the guest */
	be.ops->forget(&be, g);
}

/* One inventory pass, as stage_inventory runs it. */
static void tick(void)
{
	assert_int_equal(be.ops->topology(&be, &host), 0);
	host_scan_begin(&host);
	assert_int_equal(be.ops->scan(&be, &host), 0);
	host_scan_end(&host);
}

static bool has_guest(void *name)
{
	return host_find(&host, name) != NULL;
}

static bool lacks_guest(void *name)
{
	return host_find(&host, name) == NULL;
}

static int open_backend(const char *uri)
{
	config_defaults(&cfg);
	free(cfg.uri);
	cfg.uri = xstrdup(uri);
	host_init(&host);
	host.on_new = on_new;
	host.on_gone = on_gone;
	be = (struct vn_backend){ .ops = &libvirt_backend_ops, .cfg = &cfg, .base = base,
				  .host = &host };
	if (be.ops->open(&be) < 0)
		return -1;
	/* after open: our event loop is libvirt's before any connection */
	op = virConnectOpen(uri);
	return op ? 0 : -1;
}

static int close_backend(void **state)
{
	(void)state;
	host_fini(&host);	/* on_gone forgets each guest */
	be.ops->close(&be);
	if (op)
		virConnectClose(op);
	op = NULL;
	loop_for(0.01);
	config_free(&cfg);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	libvirt_backend_set_resync(30);
	return open_backend("test:///default");
}

/* --- virevent ------------------------------------------------------------- */

static int fired;
static int freed;
static pthread_t freed_on;

static void count_timer(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
	fired++;
}

static void note_free(void *opaque)
{
	(void)opaque;
	freed++;
	freed_on = pthread_self();
}

static void timers_repeat(void **state)
{
	int id;

	(void)state;
	fired = freed = 0;
	id = virEventAddTimeout(20, count_timer, NULL, note_free);
	assert_true(id > 0);
	loop_for(0.21);
	/* every 20 ms, not once */
	assert_in_range(fired, 7, 12);
	virEventUpdateTimeout(id, -1);
	fired = 0;
	loop_for(0.1);
	assert_int_equal(fired, 0);
	/* 0: on every loop iteration */
	virEventUpdateTimeout(id, 0);
	loop_for(0.02);
	assert_true(fired >= 5);
	assert_int_equal(virEventRemoveTimeout(id), 0);
	/* the free callback never runs inside remove, but soon after */
	assert_int_equal(freed, 0);
	fired = 0;
	loop_for(0.02);
	assert_int_equal(freed, 1);
	assert_int_equal(fired, 0);
	assert_int_equal(virEventRemoveTimeout(id), -1);
}

static int handle_calls;
static int self_remove_id;
static bool drain;

static void on_readable(int watch, int fd, int events, void *opaque)
{
	char c;

	(void)opaque;
	assert_int_equal(events & VIR_EVENT_HANDLE_READABLE, VIR_EVENT_HANDLE_READABLE);
	handle_calls++;
	if (drain && read(fd, &c, 1) < 0)
		fail();
	if (self_remove_id == watch) {
		assert_int_equal(virEventRemoveHandle(watch), 0);
		/* still inside our callback: the opaque data must live on */
		assert_int_equal(freed, 0);
	}
}

static void handles_are_level_triggered(void **state)
{
	int p[2], id;

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	freed = handle_calls = 0;
	drain = false;
	self_remove_id = 0;
	id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_readable, NULL, note_free);
	assert_true(id > 0);
	loop_for(0.02);
	assert_int_equal(handle_calls, 0);
	assert_int_equal(write(p[1], "xy", 2), 2);
	loop_for(0.05);
	/* not drained: it fires again and again */
	assert_true(handle_calls >= 3);
	virEventUpdateHandle(id, 0);
	handle_calls = 0;
	loop_for(0.03);
	assert_int_equal(handle_calls, 0);
	/* back on, draining: two bytes, two calls, then quiet */
	drain = true;
	virEventUpdateHandle(id, VIR_EVENT_HANDLE_READABLE);
	loop_for(0.05);
	assert_int_equal(handle_calls, 2);
	/* a callback that removes its own watch */
	assert_int_equal(write(p[1], "z", 1), 1);
	self_remove_id = id;
	loop_for(0.05);
	assert_int_equal(handle_calls, 3);
	assert_int_equal(freed, 1);
	close(p[0]);
	close(p[1]);
}

struct xthread {
	int timer;
	int fd;
	int handle;
	double removed_in;	/* seconds remove took */
};

static void *add_from_thread(void *arg)
{
	struct xthread *x = arg;

	usleep(20000);	/* the loop is asleep in epoll_wait by now */
	x->timer = virEventAddTimeout(10, count_timer, NULL, note_free);
	return NULL;
}

static void slow_handle(int watch, int fd, int events, void *opaque)
{
	char c;

	(void)watch;
	(void)events;
	(void)opaque;
	if (read(fd, &c, 1) < 0)
		fail();
	handle_calls++;
	usleep(100000);	/* the other thread removes us meanwhile */
	assert_int_equal(freed, 0);
}

static void *remove_from_thread(void *arg)
{
	struct xthread *x = arg;
	double t0;

	usleep(30000);
	t0 = now_monotonic();
	if (virEventRemoveHandle(x->handle) != 0)
		x->removed_in = -1;
	else
		x->removed_in = now_monotonic() - t0;
	return NULL;
}

static void calls_from_other_threads(void **state)
{
	struct xthread x = { 0 };
	pthread_t t;
	int p[2];

	(void)state;
	fired = freed = 0;
	/* an add from another thread wakes the sleeping loop */
	pthread_create(&t, NULL, add_from_thread, &x);
	loop_for(0.12);
	pthread_join(t, NULL);
	assert_true(x.timer > 0);
	assert_true(fired >= 5);
	assert_int_equal(virEventRemoveTimeout(x.timer), 0);
	loop_for(0.01);
	assert_int_equal(freed, 1);
	assert_true(pthread_equal(freed_on, pthread_self()));

	/* a remove while the watch's callback runs neither waits nor frees */
	freed = handle_calls = 0;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	x.handle = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, slow_handle, NULL,
				     note_free);
	assert_int_equal(write(p[1], "ab", 2), 2);
	pthread_create(&t, NULL, remove_from_thread, &x);
	loop_for(0.2);
	pthread_join(t, NULL);
	assert_true(x.removed_in >= 0 && x.removed_in < 0.05);
	/* one byte left unread, yet no second call after the remove */
	assert_int_equal(handle_calls, 1);
	assert_int_equal(freed, 1);
	assert_true(pthread_equal(freed_on, pthread_self()));
	close(p[0]);
	close(p[1]);
}

/* --- the backend on the test driver ---------------------------------------- */

/* A test-driver domain with 2 vCPUs; attributes of <vcpu>, more elements. */
static const char *dom_xml(const char *name, const char *vcpu_attrs, const char *elems)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "<domain type='test'><name>%s</name><memory>131072</memory>"
		 "<vcpu%s>2</vcpu><os><type>hvm</type></os>%s</domain>",
		 name, vcpu_attrs ? vcpu_attrs : "", elems ? elems : "");
	return buf;
}

static void discovery_and_topology(void **state)
{
	struct vn_guest *g;

	(void)state;
	tick();
	assert_int_equal(host.nr_nodes, 2);
	assert_int_equal(host.online, 3);
	assert_int_equal(host.node[0].nr_cpus, 8);
	assert_int_equal(host.node[1].nr_cpus, 8);
	assert_int_equal(host.node[0].mem_total, 2 * GiB);
	assert_int_equal(host.node[1].mem_total, 4 * GiB);
	/* the driver's figure in KiB, given to the core in bytes */
	assert_true(host.node[1].mem_free > 1 * GiB);
	assert_int_equal(host.distance[0], 10);
	assert_int_equal(host.distance[1], 20);
	g = host_find(&host, "test");
	assert_non_null(g);
	assert_int_equal(g->nr_vcpus, 2);
	/* not this host's process: no threads, no memory moves, no age */
	assert_int_equal(g->pid, 0);
	assert_true(g->first_seen == host.now);
	assert_int_equal(g->vc[0].tid, 0);
	assert_int_equal(g->v.flags, VNUMAD_GUEST_NO_MEMMOVE);
	/* and it says why it has no figures */
	assert_non_null(g->unmeasured);
	assert_non_null(strstr(g->unmeasured, "no host threads"));
	assert_non_null(g->memory_fixed);
	assert_int_not_equal(g->vv[0].allowed, 0);
	assert_ptr_equal(g->backend != NULL, true);
	{
		struct vn_migration m = { .from = 0, .to = 1, .bytes = MiB };

		assert_int_equal(be.ops->migrate(&be, g, &m), -EOPNOTSUPP);
	}
}

static void lifecycle_events_without_scan(void **state)
{
	virDomainPtr d;
	struct vn_guest *g;
	int gone;

	(void)state;
	tick();
	d = virDomainCreateXML(op, dom_xml("ev1", NULL, NULL), 0);
	assert_non_null(d);
	/* the STARTED event, through our loop: no scan needed */
	assert_true(loop_until(has_guest, "ev1", 2));
	g = host_find(&host, "ev1");
	assert_int_equal(g->nr_vcpus, 2);
	gone = nr_gone;
	assert_int_equal(virDomainDestroy(d), 0);
	virDomainFree(d);
	assert_true(loop_until(lacks_guest, "ev1", 2));
	assert_int_equal(nr_gone, gone + 1);
	/* a persistent one, started later */
	d = virDomainDefineXML(op, dom_xml("ev2", NULL, NULL));
	assert_non_null(d);
	loop_for(0.05);
	assert_null(host_find(&host, "ev2"));
	assert_int_equal(virDomainCreate(d), 0);
	assert_true(loop_until(has_guest, "ev2", 2));
	assert_int_equal(virDomainDestroy(d), 0);
	assert_true(loop_until(lacks_guest, "ev2", 2));
	assert_int_equal(virDomainUndefine(d), 0);
	virDomainFree(d);
	tick();
	assert_null(host_find(&host, "ev2"));
	assert_non_null(host_find(&host, "test"));
}

/* The CPUs libvirt says a vCPU may run on, as a bitmask of CPUs 0..15. */
static unsigned pin_of(const char *name, int vcpu)
{
	virDomainPtr d = virDomainLookupByName(op, name);
	unsigned char maps[2 * 8] = { 0 };
	unsigned v;

	assert_non_null(d);
	assert_true(virDomainGetVcpuPinInfo(d, 8, maps, 2, 0) > vcpu);
	virDomainFree(d);
	v = maps[vcpu * 2] | (unsigned)maps[vcpu * 2 + 1] << 8;
	return v;
}

static void live_pin_to_a_node(void **state)
{
	struct vn_guest *g;

	(void)state;
	tick();
	g = host_find(&host, "test");
	assert_non_null(g);
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 1ULL << 1), 0);
	/* every CPU of node 1, never just one */
	assert_int_equal(pin_of("test", 1), 0xff00);
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 1ULL << 0), 0);
	assert_int_equal(pin_of("test", 1), 0x00ff);
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 3), 0);
	assert_int_equal(pin_of("test", 0), 0xffff);
	/* libvirt's view is what the next scan reports */
	tick();
	assert_int_equal(g->vv[1].allowed, 1);
	assert_int_equal(g->vv[0].allowed, 3);
	/* nodes without CPUs, vCPUs that do not exist */
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 1ULL << 5), -EINVAL);
	assert_int_equal(be.ops->set_affinity(&be, g, 7, 1), -EINVAL);
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 3), 0);
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 3), 0);
}

/* Defines and starts a domain, ticks, and gives its flags. */
static unsigned flags_of(const char *name, const char *vcpu_attrs, const char *elems,
			 const char *metadata)
{
	virDomainPtr d = virDomainDefineXML(op, dom_xml(name, vcpu_attrs, elems));
	struct vn_guest *g;
	unsigned f;

	assert_non_null(d);
	if (metadata)
		assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, metadata,
						      "vnumad", NS, VIR_DOMAIN_AFFECT_CONFIG), 0);
	assert_int_equal(virDomainCreate(d), 0);
	assert_true(loop_until(has_guest, (void *)name, 2));
	tick();
	g = host_find(&host, name);
	assert_non_null(g);
	f = g->v.flags & ~VNUMAD_GUEST_NO_MEMMOVE;
	virDomainDestroy(d);
	virDomainUndefine(d);
	virDomainFree(d);
	loop_until(lacks_guest, (void *)name, 2);
	return f;
}

static void pinned_by_the_definition(void **state)
{
	(void)state;
	assert_int_equal(flags_of("free", NULL, NULL, NULL), 0);
	/* vCPUs pinned, memory left free: it may be brought to them */
	assert_int_equal(flags_of("vcpupin", NULL,
				  "<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>", NULL),
			 VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE);
	assert_int_equal(flags_of("cpuset", " cpuset='0-3'", NULL, NULL),
			 VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE);
	assert_int_equal(flags_of("numatune", NULL,
				  "<numatune><memory mode='strict' nodeset='0'/></numatune>",
				  NULL), VNUMAD_GUEST_PINNED);
	/* a numatune of any mode names the memory too: all of it is the user's */
	assert_int_equal(flags_of("vcpupin_numatune", NULL,
				  "<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>"
				  "<numatune><memory mode='preferred' nodeset='0'/></numatune>",
				  NULL), VNUMAD_GUEST_PINNED);
	/* placement='auto' is numad's advice at start, not the user's pin */
	assert_int_equal(flags_of("auto", " placement='auto'", NULL, NULL), 0);
	assert_int_equal(flags_of("automem", NULL,
				  "<numatune><memory mode='strict' placement='auto'/></numatune>",
				  NULL), 0);
	assert_int_equal(flags_of("autoboth", " placement='auto'",
				  "<numatune><memory mode='interleave' placement='auto'/></numatune>",
				  NULL), 0);
	/* a nodeset of the user's own still pins, with vCPUs placed by numad */
	assert_int_equal(flags_of("autonodes", " placement='auto'",
				  "<numatune><memory mode='strict' nodeset='1'/></numatune>",
				  NULL), VNUMAD_GUEST_PINNED);
	/* the metadata opts a pinned guest in, or any guest out */
	assert_int_equal(flags_of("optin", NULL,
				  "<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>",
				  "<guest manage='yes'/>"), 0);
	assert_int_equal(flags_of("optout", NULL, NULL, "<guest manage='no'/>"),
			 VNUMAD_GUEST_OPTED_OUT);
	/* an unreadable value changes nothing */
	assert_int_equal(flags_of("garbled", NULL, NULL, "<guest manage='maybe'/>"), 0);
}

static void guest_numa_cells(void **state)
{
	virDomainPtr d;
	struct vn_guest *g;

	(void)state;
	d = virDomainCreateXML(op, dom_xml("cells", NULL,
		"<cpu><numa><cell id='0' cpus='1' memory='65536'/>"
		"<cell id='1' cpus='0' memory='65536'/></numa></cpu>"), 0);
	assert_non_null(d);
	assert_true(loop_until(has_guest, "cells", 2));
	g = host_find(&host, "cells");
	assert_int_equal(g->vv[0].vnode, 1);
	assert_int_equal(g->vv[1].vnode, 0);
	virDomainDestroy(d);
	virDomainFree(d);
	assert_true(loop_until(lacks_guest, "cells", 2));
}

static bool flag_is(void *want)
{
	struct vn_guest *g = host_find(&host, "test");

	return g && (g->v.flags & VNUMAD_GUEST_OPTED_OUT) == *(unsigned *)want;
}

static void metadata_opts_out_live(void **state)
{
	virDomainPtr d = virDomainLookupByName(op, "test");
	unsigned out = VNUMAD_GUEST_OPTED_OUT, in = 0;

	(void)state;
	tick();
	assert_true(flag_is(&in));
	assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT,
					      "<guest manage='no'/>", "vnumad", NS,
					      VIR_DOMAIN_AFFECT_LIVE), 0);
	/* the metadata-change event, without a scan */
	assert_true(loop_until(flag_is, &out, 2));
	tick();
	assert_true(flag_is(&out));
	assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL,
					      NS, VIR_DOMAIN_AFFECT_LIVE), 0);
	assert_true(loop_until(flag_is, &in, 2));
	virDomainFree(d);
}

static volatile int racing;

/* The operator starts and stops domains as fast as it can. */
static void *churn(void *arg)
{
	virConnectPtr c = virConnectOpen("test:///default");
	int n = 0;

	(void)arg;
	while (c && racing) {
		char name[32];
		virDomainPtr d;

		snprintf(name, sizeof(name), "race%d", n++ % 5);
		d = virDomainCreateXML(c, dom_xml(name, NULL, NULL), 0);
		if (d) {
			usleep(n % 3 * 1000);
			virDomainDestroy(d);
			virDomainFree(d);
		}
	}
	if (c)
		virConnectClose(c);
	return (void *)(long)n;
}

static void events_while_ticks_run(void **state)
{
	pthread_t t;
	double t0;
	long n;
	int ticks = 0;

	(void)state;
	/* every scan lists the domains, so that lists and events interleave */
	libvirt_backend_set_resync(0);
	racing = 1;
	pthread_create(&t, NULL, churn, NULL);
	t0 = now_monotonic();
	while (now_monotonic() - t0 < 1.5) {
		tick();
		ticks++;
		loop_for(0.002);
	}
	racing = 0;
	pthread_join(t, (void **)&n);
	libvirt_backend_set_resync(30);
	assert_true(n > 20);
	loop_for(0.1);
	tick();
	/* all raced domains are gone; the running one is still there */
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "race%d", i);
		assert_null(host_find(&host, name));
	}
	assert_non_null(host_find(&host, "test"));
	print_message("# %ld domains started and stopped during %d ticks\n", n, ticks);
}

static bool connected(void *arg)
{
	(void)arg;
	return libvirt_backend_connected(&be);
}

static void reconnects_and_keeps_guests(void **state)
{
	struct vn_guest *g;
	uint64_t id;
	virDomainPtr d;
	double t0;

	(void)state;
	tick();
	g = host_find(&host, "test");
	assert_non_null(g);
	id = g->id;
	libvirt_backend_drop(&be);
	loop_for(0.01);
	assert_false(libvirt_backend_connected(&be));
	/* meanwhile: no libvirt calls, the inventory stays */
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 1), -ENOTCONN);
	tick();
	assert_non_null(host_find(&host, "test"));
	/* a domain that starts while we are away: found by the resync */
	d = virDomainCreateXML(op, dom_xml("missed", NULL, NULL), 0);
	assert_non_null(d);
	t0 = now_monotonic();
	assert_true(loop_until(connected, NULL, 5));
	/* the first backoff step is one second */
	assert_true(now_monotonic() - t0 > 0.8);
	assert_non_null(host_find(&host, "missed"));
	g = host_find(&host, "test");
	assert_non_null(g);
	assert_int_equal(g->id, id);
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 3), 0);
	/* events flow on the new connection */
	assert_int_equal(virDomainDestroy(d), 0);
	virDomainFree(d);
	assert_true(loop_until(lacks_guest, "missed", 2));
}

/* --- real libvirtd and QEMU (tests/t_libvirt_qemu.sh) -------------------- */

static const char *qemu_domain;

static int qemu_setup(void **state)
{
	(void)state;
	libvirt_backend_set_resync(30);
	return open_backend("qemu:///system");
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* The Cpus_allowed_list line of a thread. */
static void thread_cpus(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[96], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	f = fopen(path, "r");
	assert_non_null(f);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cpus_allowed_list:", 18)) {
			snprintf(buf, len, "%s", line + 18 + strspn(line + 18, " \t"));
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	fclose(f);
}

/*
 * The guest, its QEMU process and its vCPU threads, which are those libvirt
 * recorded (each vCPU's cgroup and the status XML agree) and bear the
 * vCPUs' names, whatever the accelerator.
 */
static void qemu_discovers_guest_and_threads(void **state)
{
	struct vn_guest *g;
	pid_t tids[HI_MAX_VCPUS], rec[2] = { 0, 0 }, xml[2] = { 0, 0 };
	enum lvstate_source src;
	char path[256];
	FILE *f;
	int pid = 0;

	(void)state;
	tick();
	g = host_find(&host, qemu_domain);
	assert_non_null(g);
	snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.pid", qemu_domain);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	assert_int_equal(g->pid, pid);
	assert_int_equal(g->nr_vcpus, 2);
	{
		enum vmm_kind k = VMM_QEMU;

		assert_int_equal(vmm_vcpu_threads(pid, &k, tids, HI_MAX_VCPUS, NULL), 2);
	}
	assert_int_equal(g->vc[0].tid, tids[0]);
	assert_int_equal(g->vc[1].tid, tids[1]);
	assert_true(tids[0] > 0 && tids[1] > 0 && tids[0] != tids[1]);
	assert_int_equal(g->v.flags, 0);
	assert_null(g->unmeasured);
	/* as old as its QEMU, which ran before the backend first saw it */
	{
		double age = host.now - g->first_seen;
		double run = hostinfo_process_age(hostinfo_starttime(pid));

		if (!(age > 0 && age <= run + 0.02 && run - age < 30))
			fprintf(stderr, "age %.3f s; its QEMU has run %.3f s\n", age, run);
		assert_true(age > 0 && age <= run + 0.02 && run - age < 30);
	}
	/* libvirt's own records name the same threads */
	assert_int_equal(lvstate_cgroup_threads(pid, rec, 2, &src), 2);
	assert_true(src == LVS_CGROUP2 || src == LVS_CGROUP1);
	assert_int_equal(rec[0], tids[0]);
	assert_int_equal(rec[1], tids[1]);
	snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.xml", qemu_domain);
	assert_int_equal(lvstate_status_threads(path, pid, xml, 2), 2);
	assert_int_equal(xml[0], tids[0]);
	assert_int_equal(xml[1], tids[1]);
}

static void qemu_live_pin(void **state)
{
	struct vn_guest *g;
	virDomainPtr d = virDomainLookupByName(op, qemu_domain);
	unsigned char one = 1 << 1, maps[8] = { 0 };
	char before[64], after[64], want[64];
	int ncpu = hostinfo_nr_cpus();

	(void)state;
	assert_non_null(d);
	if (ncpu < 2)
		skip();
	/* the operator narrowed vCPU 0 to CPU 1 (node 0 still) */
	assert_int_equal(virDomainPinVcpuFlags(d, 0, &one, 1, VIR_DOMAIN_AFFECT_LIVE), 0);
	tick();
	g = host_find(&host, qemu_domain);
	assert_non_null(g);
	thread_cpus(g->pid, g->vc[0].tid, before, sizeof(before));
	assert_string_equal(before, "1");
	/* node 0: all of its CPUs */
	assert_int_equal(be.ops->set_affinity(&be, g, 0, 1), 0);
	thread_cpus(g->pid, g->vc[0].tid, after, sizeof(after));
	{
		size_t off = 0;
		int first = -1, last = -1;

		for (int c = 0; c < ncpu; c++)
			if (hostinfo_cpu_node(c) == 0) {
				if (first < 0)
					first = c;
				last = c;
			}
		off = (size_t)snprintf(want, sizeof(want), "%d", first);
		if (last > first)
			snprintf(want + off, sizeof(want) - off, "-%d", last);
	}
	assert_string_equal(after, want);
	/* and libvirt agrees, through its API and through virsh */
	assert_true(virDomainGetVcpuPinInfo(d, 2, maps, 1, VIR_DOMAIN_AFFECT_LIVE) == 2);
	for (int c = 0; c < ncpu && c < 8; c++)
		assert_int_equal(!!(maps[0] & 1 << c), hostinfo_cpu_node(c) == 0);
	{
		char cmd[256], line[256], got[64] = "";
		FILE *p;
		int v;

		snprintf(cmd, sizeof(cmd), "virsh -c qemu:///system vcpupin %s 0 --live",
			 qemu_domain);
		p = popen(cmd, "r");
		assert_non_null(p);
		while (fgets(line, sizeof(line), p))
			if (sscanf(line, " %d %63s", &v, got) == 2 && v == 0)
				break;
		pclose(p);
		assert_string_equal(got, want);
	}
	virDomainFree(d);
	tick();
	assert_int_equal(g->vv[0].allowed, 1);
}

static bool migration_over(void *arg)
{
	return ((struct vn_migration *)arg)->state != VN_MIG_RUNNING;
}

/*
 * The real QEMU process's memory moves through the backend: on a host of
 * one node, onto the node it is on (the kernel still takes every page
 * through move_pages).
 */
static void qemu_memory_move(void **state)
{
	struct vn_migration m = { .from = 0, .to = 0, .bytes = 0, .state = VN_MIG_RUNNING };
	struct vn_guest *g;

	(void)state;
	tick();
	g = host_find(&host, qemu_domain);
	assert_non_null(g);
	assert_int_equal(g->v.flags & VNUMAD_GUEST_NO_MEMMOVE, 0);
	m.guest_id = g->id;
	/* all the guest RAM the mover finds on node 0 */
	assert_int_equal(be.ops->migrate(&be, g, &m), 0);
	assert_true(loop_until(migration_over, &m, 20));
	assert_int_equal(m.state, VN_MIG_DONE);
	assert_true(m.done > 0);
	assert_int_equal(m.failed, 0);
	print_message("# %llu KiB of guest RAM moved within node 0\n",
		      (unsigned long long)(m.done / 1024));
}

static void qemu_reconnects_after_restart(void **state)
{
	const char *restart = getenv("VNUMAD_QEMU_RESTART");
	struct vn_guest *g;
	uint64_t id;

	(void)state;
	if (!restart)
		skip();
	tick();
	g = host_find(&host, qemu_domain);
	assert_non_null(g);
	id = g->id;
	/* the operator's connection dies with libvirtd too */
	virConnectClose(op);
	op = NULL;
	assert_int_equal(system(restart), 0);
	/* EOF on the socket, the close callback, the backoff, the resync */
	loop_for(0.2);
	assert_true(loop_until(connected, NULL, 30));
	tick();
	g = host_find(&host, qemu_domain);
	assert_non_null(g);
	assert_int_equal(g->id, id);
	assert_int_equal(be.ops->set_affinity(&be, g, 1, 1), 0);
	op = virConnectOpen("qemu:///system");
	assert_non_null(op);
}

static void *destroy_soon(void *arg)
{
	virConnectPtr c = virConnectOpen("qemu:///system");
	virDomainPtr d = c ? virDomainLookupByName(c, arg) : NULL;

	usleep(150000);
	if (d) {
		virDomainDestroy(d);
		virDomainFree(d);
	}
	if (c)
		virConnectClose(c);
	return NULL;
}

static void qemu_guest_destroyed_mid_tick(void **state)
{
	pthread_t t;
	double t0;
	int fds_before, pins = 0;

	(void)state;
	tick();
	assert_non_null(host_find(&host, qemu_domain));
	fds_before = count_fds();
	pthread_create(&t, NULL, destroy_soon, (void *)qemu_domain);
	t0 = now_monotonic();
	/* ticks back to back, pinning as they go, while the guest dies */
	while (host_find(&host, qemu_domain) && now_monotonic() - t0 < 10) {
		struct vn_guest *g = host_find(&host, qemu_domain);

		if (g && be.ops->set_affinity(&be, g, pins % 2, 1) == 0)
			pins++;
		tick();
		loop_for(0.001);
	}
	pthread_join(t, NULL);
	assert_null(host_find(&host, qemu_domain));
	loop_for(0.1);
	assert_int_equal(count_fds(), fds_before);
	print_message("# %d pins during the ticks before the guest was gone\n", pins);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_repeat),
		cmocka_unit_test(handles_are_level_triggered),
		cmocka_unit_test(calls_from_other_threads),
		cmocka_unit_test(discovery_and_topology),
		cmocka_unit_test(lifecycle_events_without_scan),
		cmocka_unit_test(live_pin_to_a_node),
		cmocka_unit_test(pinned_by_the_definition),
		cmocka_unit_test(guest_numa_cells),
		cmocka_unit_test(metadata_opts_out_live),
		cmocka_unit_test(events_while_ticks_run),
		cmocka_unit_test(reconnects_and_keeps_guests),
	};
	const struct CMUnitTest qemu[] = {
		cmocka_unit_test(qemu_discovers_guest_and_threads),
		cmocka_unit_test(qemu_live_pin),
		cmocka_unit_test(qemu_memory_move),
		cmocka_unit_test(qemu_reconnects_after_restart),
		cmocka_unit_test(qemu_guest_destroyed_mid_tick),
	};
	int r;

	log_init(true, getenv("VERBOSE") ? LOG_DEBUG : LOG_WARNING, "vnumad");
	/* libvirt calls us from its threads: the base must have locks */
	evthread_use_pthreads();
	base = event_base_new();
	qemu_domain = getenv("VNUMAD_QEMU_DOMAIN");
	if (qemu_domain)
		r = cmocka_run_group_tests_name("qemu", qemu, qemu_setup, close_backend);
	else
		r = cmocka_run_group_tests_name("libvirt", tests, group_setup, close_backend);
	virevent_unregister();
	event_base_free(base);
	return r;
}
