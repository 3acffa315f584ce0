// SPDX-License-Identifier: MIT
/*
 * The inventory: the core's table of guests, kept in step with what the
 * backend reports. A scan marks every guest it reports; guests not reported
 * are dropped at the end of the scan, and backends with events may add or
 * drop one between scans.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "vnumad.h"

void host_init(struct vn_host *h)
{
	memset(h, 0, sizeof(*h));
	h->next_id = 1;
}

static unsigned hash_name(const char *s)
{
	unsigned x = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 16777619u;
	return x % VN_HASH_SIZE;
}

struct vn_guest *host_find(const struct vn_host *h, const char *name)
{
	for (struct vn_guest *g = h->hash[hash_name(name)]; g; g = g->hnext)
		if (strcmp(g->name, name) == 0)
			return g;
	return NULL;
}

struct vn_guest *host_find_id(const struct vn_host *h, uint64_t id)
{
	for (int i = 0; i < h->nr_guests; i++)
		if (h->guests[i]->id == id)
			return h->guests[i];
	return NULL;
}

int host_distance(const struct vn_host *h, int a, int b)
{
	return h->distance[a * h->nr_nodes + b];
}

int host_freest_node(const struct vn_host *h, uint64_t nodes)
{
	int best = -1;

	for (int k = 0; k < h->nr_nodes; k++)
		if ((nodes >> k & 1) &&
		    (best < 0 || h->node[k].mem_free > h->node[best].mem_free))
			best = k;
	return best;
}

static void free_guest(struct vn_guest *g)
{
	free(g->unmeasured);
	free(g->memory_fixed);
	free(g->name);
	free(g->vv);
	free(g->vc);
	free(g->vnode_mem);
	free(g);
}

/* The guest NUMA nodes the backend reports: room for their memory per node. */
static void size_vnodes(struct vn_guest *g, const struct vn_guest_desc *d)
{
	int nv = 0;

	for (int i = 0; d->vnode && i < d->nr_vcpus; i++)
		if (d->vnode[i] >= nv && d->vnode[i] < VN_MAX_NODES)
			nv = d->vnode[i] + 1;
	if (nv < 2)
		nv = 0;
	if (nv == g->nr_vnodes)
		return;
	free(g->vnode_mem);
	g->vnode_mem = nv ? xcalloc((size_t)nv * VN_MAX_NODES, sizeof(uint64_t)) : NULL;
	g->nr_vnodes = nv;
	g->vnode_mem_valid = false;
}

/* (Re)sizes the vCPU arrays, keeping the state of vCPUs that stay. */
static void resize_vcpus(struct vn_guest *g, int n)
{
	g->vv = xreallocarray(g->vv, n, sizeof(*g->vv));
	g->vc = xreallocarray(g->vc, n, sizeof(*g->vc));
	for (int i = g->nr_vcpus; i < n; i++) {
		memset(&g->vv[i], 0, sizeof(g->vv[i]));
		memset(&g->vc[i], 0, sizeof(g->vc[i]));
		g->vv[i].index = i;
		g->vv[i].node = -1;
		g->vv[i].vnode = -1;
		g->vv[i].remote_ratio = -1;
		g->vv[i].last_move_age = -1;
		g->vc[i].last_move = -1;
	}
	g->nr_vcpus = n;
	g->v.nr_vcpus = n;
	g->v.vcpus = g->vv;
}

static void unlink_guest(struct vn_host *h, struct vn_guest *g)
{
	struct vn_guest **pp = &h->hash[hash_name(g->name)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == g) {
			*pp = g->hnext;
			break;
		}
	for (int i = 0; i < h->nr_guests; i++)
		if (h->guests[i] == g) {
			memmove(&h->guests[i], &h->guests[i + 1],
				(h->nr_guests - i - 1) * sizeof(*h->guests));
			memmove(&h->view_guests[i], &h->view_guests[i + 1],
				(h->nr_guests - i - 1) * sizeof(*h->view_guests));
			h->nr_guests--;
			break;
		}
}

/* Keeps a reason string; true when it changed. */
static bool set_reason(char **slot, const char *why)
{
	if (!why && !*slot)
		return false;
	if (why && *slot && !strcmp(why, *slot))
		return false;
	free(*slot);
	*slot = why ? xstrdup(why) : NULL;
	return true;
}

/*
 * Ages above this are bad input, taken as unknown: 10^9 s is 31 years, longer
 * than any host has been up (the backends count from boot), and below the
 * 1.7 * 10^9 s since 1970 that a clock mixed up (wall time for boot time)
 * would give.
 */
#define AGE_MAX	1e9

/*
 * When a new guest started, in the core's clock: now less the age its
 * backend reported, so never in the future; now when the age is unknown
 * (0 or less, NaN: the sim's guests arrive as the core sees them) or
 * implausible.
 */
static double started_at(const struct vn_host *h, const char *name, double age)
{
	if (!(age > 0))
		return h->now;
	if (!(age <= AGE_MAX)) {
		log_warning("guest %s: its reported age (%g s) is not plausible: its age "
			    "counts from now", name, age);
		return h->now;
	}
	return h->now - age;
}

const char *host_unmeasured(const struct vn_guest *g, char *buf, size_t len)
{
	if (g->unmeasured)
		return g->unmeasured;
	if (g->sample_error) {
		snprintf(buf, len, "its counters cannot be opened: %s",
			 strerror(g->sample_error));
		return buf;
	}
	return NULL;
}

struct vn_guest *host_report(struct vn_host *h, const struct vn_guest_desc *d)
{
	char name[256];
	struct vn_guest *g;
	bool fresh = false;

	/*
	 * The name as vnumad shows it, everywhere and in JSON: no control
	 * character to forge an output line, valid UTF-8 (jansson refuses
	 * anything else, and the guest vanished from --json).
	 */
	clean_text(name, sizeof(name), d->name);
	g = host_find(h, name);

	if (g && g->pid && d->pid && g->pid != d->pid) {
		/* same name, new process: a restarted guest is a new guest */
		host_remove(h, g);
		g = NULL;
	}
	if (!g) {
		unsigned b = hash_name(name);

		g = xcalloc(1, sizeof(*g));
		g->name = xstrdup(name);
		g->id = h->next_id++;
		g->first_seen = started_at(h, name, d->age);
		g->mem_read_at = -1;
		g->mem_cost = -1;
		g->last_move = -1;
		g->backend = d->priv;
		g->v.name = g->name;
		g->hnext = h->hash[b];
		h->hash[b] = g;
		if (h->nr_guests == h->cap_guests) {
			h->cap_guests = h->cap_guests ? h->cap_guests * 2 : 64;
			h->guests = xreallocarray(h->guests, h->cap_guests,
						  sizeof(*h->guests));
			h->view_guests = xreallocarray(h->view_guests, h->cap_guests,
						       sizeof(*h->view_guests));
		}
		h->guests[h->nr_guests] = g;
		h->view_guests[h->nr_guests] = &g->v;
		h->nr_guests++;
		fresh = true;
	}
	g->pid = d->pid;
	/* a UUID is hex digits and dashes: anything else is not one */
	if (d->uuid && strlen(d->uuid) < sizeof(g->uuid) &&
	    strspn(d->uuid, "0123456789abcdefABCDEF-") == strlen(d->uuid))
		snprintf(g->uuid, sizeof(g->uuid), "%s", d->uuid);
	g->v.flags = (g->v.flags & ~VN_BACKEND_FLAGS) | (d->flags & VN_BACKEND_FLAGS);
	if (!(g->v.flags & VNUMAD_GUEST_PINNED))	/* free memory is a kind of pin */
		g->v.flags &= ~VNUMAD_GUEST_MEMORY_FREE;
	bool changed = fresh || d->nr_vcpus != g->nr_vcpus;
	if (d->nr_vcpus != g->nr_vcpus)
		resize_vcpus(g, d->nr_vcpus);
	for (int i = 0; i < d->nr_vcpus; i++) {
		pid_t tid = d->tids ? d->tids[i] : 0;

		if (g->vc[i].tid != tid)
			changed = true;
		g->vc[i].tid = tid;
		g->vv[i].allowed = d->allowed[i];
		if (fresh || !g->vc[i].orig_allowed)
			g->vc[i].orig_allowed = d->allowed[i];
		/* policies index arrays by vnode: one out of range is none */
		g->vv[i].vnode = d->vnode && d->vnode[i] >= 0 &&
				 d->vnode[i] < VN_MAX_NODES ? d->vnode[i] : -1;
	}
	size_vnodes(g, d);
	g->seen = true;
	if (fresh) {
		char up[32] = "";

		if (g->first_seen < h->now) {
			memcpy(up, ", up ", 6);
			fmt_elapsed(up + 5, sizeof(up) - 5, h->now - g->first_seen);
		}
		log_info("guest %s: %d vCPUs%s%s%s", g->name, g->nr_vcpus, up,
			 g->v.flags & VNUMAD_GUEST_MEMORY_FREE ?
			 ", its vCPUs pinned by the user (its memory may follow them)" :
			 g->v.flags & VNUMAD_GUEST_PINNED ? ", pinned by the user" : "",
			 g->v.flags & VNUMAD_GUEST_OPTED_OUT ? ", opted out" : "");
	}
	/* one line when a reason appears, changes or goes, not one per scan */
	if (set_reason(&g->unmeasured, d->unmeasured)) {
		if (g->unmeasured)
			log_info("guest %s: cannot be measured: %s", g->name, g->unmeasured);
		else if (!fresh)
			log_info("guest %s: its vCPU threads are known now: measuring it",
				 g->name);
	}
	if (set_reason(&g->memory_fixed, d->memory_fixed) && g->memory_fixed)
		log_info("guest %s: its memory stays where it is: %s", g->name,
			 g->memory_fixed);
	/* a new guest, or new threads: (re)start counting */
	if (changed && h->on_new)
		h->on_new(h, g, h->cb_arg);
	return g;
}

void host_remove(struct vn_host *h, struct vn_guest *g)
{
	if (h->on_gone)
		h->on_gone(h, g, h->cb_arg);
	unlink_guest(h, g);
	free_guest(g);
}

void host_scan_begin(struct vn_host *h)
{
	for (int i = 0; i < h->nr_guests; i++)
		h->guests[i]->seen = false;
}

void host_scan_end(struct vn_host *h)
{
	for (int i = h->nr_guests - 1; i >= 0; i--) {
		struct vn_guest *g = h->guests[i];

		if (!g->seen) {
			log_info("guest %s is gone", g->name);
			host_remove(h, g);
		}
	}
}

void host_fini(struct vn_host *h)
{
	while (h->nr_guests)
		host_remove(h, h->guests[h->nr_guests - 1]);
	free(h->guests);
	free(h->view_guests);
	memset(h, 0, sizeof(*h));
}
