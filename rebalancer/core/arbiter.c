// SPDX-License-Identifier: MIT
/*
 * Stage 7, arbiter: the core's rules over what a policy proposed, and over
 * the operator's manual moves. A proposal is trusted with nothing: it is
 * checked for sense, then against the operator's rules (pinning, opt-out),
 * the guard's (quarantine, trials, moves per hour, enough history to judge),
 * hysteresis, a backend that refused the guest, and capacity. The
 * survivors are taken best expected gain first, within the per-tick move
 * cap and the migration budget; dropped proposals keep their reason.
 *
 * The rules read the view as the publish stage built it (flags, quarantine
 * masks, the age of each vCPU's last move), so that a move the guard undid
 * in this tick holds its vCPU like any other move.
 *
 * The accepted decisions leave ordered by guest, the guest with the best
 * gain first and its decisions best first, so that actuation takes each
 * guest's moves as one slice; the dropped ones follow in gain order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "util.h"

/* Each reason in words, and as the label of its metrics counter. */
static const struct {
	const char *words;
	const char *slug;
} drop_reasons[VN_DROP_NR] = {
	[VN_DROP_INVALID] = { "invalid proposal", "invalid" },
	[VN_DROP_PINNED] = { "guest pinned by the user", "pinned" },
	[VN_DROP_OPTED_OUT] = { "guest opted out", "opted_out" },
	[VN_DROP_QUARANTINE] = { "target quarantined after a reverted move", "quarantine" },
	[VN_DROP_TRIAL] = { "guest has a move under judgement", "trial" },
	[VN_DROP_HYSTERESIS] = { "vCPU moved too recently", "hysteresis" },
	[VN_DROP_HOURLY_CAP] = { "guest reached its moves per hour", "hourly_cap" },
	[VN_DROP_NO_HISTORY] = { "guest too new to judge a move", "no_history" },
	[VN_DROP_REFUSED] = { "the backend refused moves of this guest", "refused" },
	[VN_DROP_CPU_CAPACITY] = { "target node has no CPU room", "cpu_capacity" },
	[VN_DROP_MEMORY_CAPACITY] = { "target node has no free memory", "memory_capacity" },
	[VN_DROP_NO_MEMMOVE] = { "backend cannot migrate this guest's memory", "no_memmove" },
	[VN_DROP_MIGRATING] = { "guest memory already migrating", "migrating" },
	[VN_DROP_BANDWIDTH] = { "migration bandwidth budget spent", "bandwidth" },
	[VN_DROP_GAIN] = { "expected gain below min_gain", "gain" },
	[VN_DROP_TICK_CAP] = { "max_moves_per_tick reached", "tick_cap" },
	[VN_DROP_DUPLICATE] = { "same vCPU or guest already moved this tick", "duplicate" },
};

const char *arbiter_drop_reason(enum vn_drop why)
{
	return why >= 0 && why < VN_DROP_NR && drop_reasons[why].words ?
	       drop_reasons[why].words : "?";
}

const char *arbiter_drop_slug(enum vn_drop why)
{
	return why >= 0 && why < VN_DROP_NR && drop_reasons[why].slug ?
	       drop_reasons[why].slug : "unknown";
}

static bool node_ok(const struct vn_host *h, int n, bool need_cpus)
{
	return n >= 0 && n < h->nr_nodes && (h->online >> n & 1) &&
	       (!need_cpus || h->node[n].nr_cpus > 0);
}

static bool nodes_ok(const struct vn_host *h, uint64_t mask)
{
	if (!mask)
		return false;
	for (int n = 0; n < 64; n++)
		if ((mask >> n & 1) && !node_ok(h, n, true))
			return false;
	return true;
}

static int moves_last_hour(const struct vn_guest *g, double now)
{
	int n = 0;

	for (int i = 0; i < g->nr_move_times && i < VN_MOVES_KEPT; i++)
		if (now - g->move_times[i] < 3600.0)
			n++;
	return n;
}

/*
 * The largest expected gain a proposal may claim, either way: a thousandfold
 * is already no estimate, and more overflows what sums and prints gains.
 */
#define GAIN_MAX	1000.0

/*
 * Memory a whole-guest move onto `nodes` migrates: what the guest has on
 * other nodes, but for less than GUEST_MOVE_MIN on one (actuate.c).
 */
static double guest_memory_outside(const struct vn_host *h, const struct vn_guest *g,
				   uint64_t nodes)
{
	double outside = 0;

	for (int k = 0; k < h->nr_nodes; k++)
		if (!(nodes >> k & 1) && g->v.mem[k] >= GUEST_MOVE_MIN)
			outside += (double)g->v.mem[k];
	return outside;
}

/*
 * Sense: a guest, vCPU and nodes that exist, a move that changes something,
 * a finite gain within GAIN_MAX.
 */
static int check_sense(struct vn_core *c, struct vn_decision *d)
{
	struct vn_host *h = &c->host;
	struct vnumad_proposal *p = &d->p;
	struct vn_guest *g;

	/* the reason reaches terminals, logs and JSON: one clean line */
	p->reason[VNUMAD_REASON_MAX - 1] = '\0';
	clean_text(p->reason, sizeof(p->reason), p->reason);
	d->g = NULL;
	if (p->guest < 0 || p->guest >= h->nr_guests)
		return VN_DROP_INVALID;
	g = d->g = h->guests[p->guest];
	if (!isfinite(p->gain) || fabs(p->gain) > GAIN_MAX)
		return VN_DROP_INVALID;
	switch (p->kind) {
	case VNUMAD_MOVE_VCPU:
		if (p->vcpu < 0 || p->vcpu >= g->nr_vcpus || !node_ok(h, p->to, true))
			return VN_DROP_INVALID;
		if (g->vv[p->vcpu].allowed == 1ULL << p->to)
			return VN_DROP_INVALID;	/* already there */
		p->from = g->vv[p->vcpu].node;
		return -1;
	case VNUMAD_MOVE_MEMORY:
		if (!node_ok(h, p->from, false) || !node_ok(h, p->to, false) ||
		    p->from == p->to || !g->v.mem[p->from])
			return VN_DROP_INVALID;
		if (!p->bytes || p->bytes > g->v.mem[p->from])
			p->bytes = g->v.mem[p->from];
		return -1;
	case VNUMAD_MOVE_GUEST:
		if (!nodes_ok(h, p->nodes))
			return VN_DROP_INVALID;
		/* already there: every vCPU on those nodes, no memory to bring */
		for (int i = 0; i < g->nr_vcpus; i++)
			if (g->vv[i].allowed != p->nodes)
				return -1;
		if (!(g->v.flags & VNUMAD_GUEST_NO_MEMMOVE) &&
		    guest_memory_outside(h, g, p->nodes) > 0)
			return -1;
		return VN_DROP_INVALID;
	}
	return VN_DROP_INVALID;
}

/*
 * A guest whose user pinned its vCPUs and left its memory free
 * (VNUMAD_GUEST_MEMORY_FREE) may have its memory brought to them: a memory
 * move to a node one of its vCPUs may run on. Nothing else of it moves.
 */
static bool memory_to_pinned(const struct vn_guest *g, const struct vnumad_proposal *p)
{
	uint64_t where = 0;

	if (!(g->v.flags & VNUMAD_GUEST_MEMORY_FREE) || p->kind != VNUMAD_MOVE_MEMORY)
		return false;
	for (int v = 0; v < g->nr_vcpus; v++)
		where |= g->vv[v].allowed;
	return where >> p->to & 1;
}

int arbiter_check(struct vn_core *c, struct vn_decision *d, unsigned waive)
{
	struct vnumad_proposal *p = &d->p;
	struct vn_guest *g;
	uint64_t targets;
	int why = check_sense(c, d);

	if (why >= 0)
		return why;
	g = d->g;
	targets = p->kind == VNUMAD_MOVE_GUEST ? p->nodes : 1ULL << p->to;
	if ((g->v.flags & VNUMAD_GUEST_PINNED) && !(waive & ARBITER_WAIVE_PINNED) &&
	    !memory_to_pinned(g, p))
		return VN_DROP_PINNED;
	if ((g->v.flags & VNUMAD_GUEST_OPTED_OUT) && !(waive & ARBITER_WAIVE_OPTED_OUT))
		return VN_DROP_OPTED_OUT;
	if (g->refused)
		return VN_DROP_REFUSED;
	if (targets & g->v.quarantine)
		return VN_DROP_QUARANTINE;
	if (g->v.flags & VNUMAD_GUEST_IN_TRIAL)
		return VN_DROP_TRIAL;
	if (p->kind == VNUMAD_MOVE_VCPU && (g->vv[p->vcpu].flags & VNUMAD_VCPU_HOLD))
		return VN_DROP_HYSTERESIS;
	if (p->kind == VNUMAD_MOVE_GUEST)
		for (int v = 0; v < g->nr_vcpus; v++)
			if ((g->vv[v].flags & VNUMAD_VCPU_HOLD) && g->vv[v].allowed != p->nodes)
				return VN_DROP_HYSTERESIS;
	if (moves_last_hour(g, c->host.now) >= c->cfg.max_moves_per_hour)
		return VN_DROP_HOURLY_CAP;
	if (p->kind != VNUMAD_MOVE_VCPU) {
		if (g->v.flags & VNUMAD_GUEST_NO_MEMMOVE) {
			if (p->kind == VNUMAD_MOVE_MEMORY)
				return VN_DROP_NO_MEMMOVE;
		} else if (g->v.flags & VNUMAD_GUEST_MIGRATING) {
			return VN_DROP_MIGRATING;
		}
	}
	/*
	 * A dry run or a single round judges nothing, so needs no baseline;
	 * nor does a first move whose figure is unambiguous (history.c).
	 */
	if (c->cfg.guard && !core_advisory(c) && !c->once &&
	    !(waive & ARBITER_WAIVE_HISTORY) && !history_has_baseline(c, g) &&
	    !history_clear_first_move(c, g, p))
		return VN_DROP_NO_HISTORY;
	if (p->gain < c->cfg.min_gain && !(waive & ARBITER_WAIVE_GAIN))
		return VN_DROP_GAIN;
	return -1;
}

void arbiter_room_init(const struct vn_core *c, struct arbiter_room *room)
{
	const struct vn_host *h = &c->host;

	for (int n = 0; n < h->nr_nodes; n++) {
		room->cpu[n] = h->node[n].nr_cpus * (1.0 - h->node[n].cpu_load);
		room->mem[n] = (double)h->node[n].mem_free;
	}
	room->budget = migration_budget(c);
	room->moves = 0;
}

/*
 * CPU demand a whole-guest move to `nodes` adds there: that of the vCPUs
 * running elsewhere. Those already there use the room they need.
 */
static double guest_demand_outside(const struct vn_guest *g, uint64_t nodes)
{
	double d = 0;

	for (int i = 0; i < g->nr_vcpus; i++) {
		int n = g->vv[i].node;

		if (n < 0 || n >= 64 || !(nodes >> n & 1))
			d += g->vv[i].cpu_demand;
	}
	return d;
}

/* True when an accepted decision among d[0..n) already changes what d does. */
static bool duplicate(const struct vn_decision *d, int n, const struct vn_decision *x)
{
	for (int j = 0; j < n; j++) {
		const struct vn_decision *e = &d[j];

		if (!e->accepted || e->g != x->g)
			continue;
		if (e->p.kind == VNUMAD_MOVE_GUEST || x->p.kind == VNUMAD_MOVE_GUEST)
			return true;
		if (e->p.kind == x->p.kind &&
		    (x->p.kind == VNUMAD_MOVE_MEMORY || e->p.vcpu == x->p.vcpu))
			return true;
	}
	return false;
}

int arbiter_admit(struct vn_core *c, struct arbiter_room *room,
		  const struct vn_decision *before, int n, struct vn_decision *d,
		  unsigned waive)
{
	const struct vn_host *h = &c->host;
	struct vnumad_proposal *p = &d->p;
	struct vn_guest *g = d->g;

	if (duplicate(before, n, d))
		return VN_DROP_DUPLICATE;
	/* the cap paces what is applied; advice lists everything */
	if (!core_advisory(c) && !(waive & ARBITER_WAIVE_TICK_CAP) &&
	    room->moves >= c->cfg.max_moves_per_tick)
		return VN_DROP_TICK_CAP;
	if (p->kind == VNUMAD_MOVE_VCPU) {
		double need = g->vv[p->vcpu].cpu_demand;

		if (room->cpu[p->to] + 1e-9 < need && !(waive & ARBITER_WAIVE_CPU_ROOM))
			return VN_DROP_CPU_CAPACITY;
		room->cpu[p->to] -= need;
		if (p->from >= 0 && p->from < h->nr_nodes)
			room->cpu[p->from] += need;
	} else if (p->kind == VNUMAD_MOVE_MEMORY) {
		if (room->mem[p->to] < (double)p->bytes)
			return VN_DROP_MEMORY_CAPACITY;
		if (room->budget < (double)p->bytes)
			return VN_DROP_BANDWIDTH;
		room->mem[p->to] -= (double)p->bytes;
		room->budget -= (double)p->bytes;
	} else {
		double room_cpu = 0, need = guest_demand_outside(g, p->nodes);
		double outside = guest_memory_outside(h, g, p->nodes);
		int dest = host_freest_node(h, p->nodes), best = -1;

		for (int k = 0; k < h->nr_nodes; k++)
			if (p->nodes >> k & 1)
				room_cpu += room->cpu[k];
		if (room_cpu + 1e-9 < need)
			return VN_DROP_CPU_CAPACITY;
		if (outside > 0 && !(g->v.flags & VNUMAD_GUEST_NO_MEMMOVE)) {
			/* the memory all goes to one of the nodes, as actuate sends it */
			if (dest < 0 || room->mem[dest] < outside)
				return VN_DROP_MEMORY_CAPACITY;
			if (room->budget < outside)
				return VN_DROP_BANDWIDTH;
			room->mem[dest] -= outside;
			room->budget -= outside;
		}
		/* the CPU it brings, booked where most is free, given back where it ran */
		for (int k = 0; k < h->nr_nodes; k++)
			if ((p->nodes >> k & 1) && (best < 0 || room->cpu[k] > room->cpu[best]))
				best = k;
		room->cpu[best] -= need;
		for (int i = 0; i < g->nr_vcpus; i++) {
			int on = g->vv[i].node;

			if (on >= 0 && on < h->nr_nodes && !(p->nodes >> on & 1))
				room->cpu[on] += g->vv[i].cpu_demand;
		}
	}
	room->moves++;
	return -1;
}

static int cmp_int(int a, int b)
{
	return (a > b) - (a < b);
}

/* Admission order: the checked ones first, best gain first, then stable. */
static int by_gain(const void *a, const void *b)
{
	const struct vn_decision *x = a, *y = b;

	if (x->accepted != y->accepted)
		return x->accepted ? -1 : 1;
	if (x->p.gain != y->p.gain)
		return x->p.gain > y->p.gain ? -1 : 1;
	if (x->p.guest != y->p.guest)
		return cmp_int(x->p.guest, y->p.guest);
	if (x->p.kind != y->p.kind)
		return cmp_int((int)x->p.kind, (int)y->p.kind);
	return cmp_int(x->p.vcpu, y->p.vcpu);
}

/*
 * The partner of a vCPU move refused for CPU room: a move of another vCPU
 * the other way (from the target to the source), not admitted yet, whose
 * CPU demand is close enough to this one's that the two together leave
 * both nodes' load as it was, within SWAP_SLACK of what they move. Two
 * full nodes can trade vCPUs when neither can take one (the kernel's
 * task_numa_compare() swaps tasks for the same reason). -1 when none.
 */
#define SWAP_SLACK	0.25

static int swap_partner(const struct vn_decisions *dec, int i)
{
	const struct vn_decision *d = &dec->d[i];
	double need = d->g->vv[d->p.vcpu].cpu_demand;

	for (int j = 0; j < dec->nr; j++) {
		const struct vn_decision *e = &dec->d[j];
		double other;

		if (j == i || !e->accepted || e->rank >= 0 || e->p.kind != VNUMAD_MOVE_VCPU ||
		    e->p.from != d->p.to || e->p.to != d->p.from ||
		    (e->g == d->g && e->p.vcpu == d->p.vcpu))
			continue;
		other = e->g->vv[e->p.vcpu].cpu_demand;
		if (fabs(need - other) <= SWAP_SLACK * fmax(need, other) + 1e-9)
			return j;
	}
	return -1;
}

/*
 * Admits decision i with its swap partner, both or neither: each by the
 * usual rules but its target's CPU room (so the pair takes two of the tick
 * cap), and the pair only when it leaves each of the two nodes no more than
 * SWAP_SLACK of a move over its CPUs; a refused pair leaves the room as it
 * was. The index of the partner, or -1.
 */
static int admit_swap(struct vn_core *c, struct arbiter_room *room,
		      struct vn_decisions *dec, int i)
{
	struct vn_decision *d = &dec->d[i];
	struct arbiter_room saved = *room;
	int j = swap_partner(dec, i), to = d->p.to, from = d->p.from;
	double slack;

	if (j < 0 || from < 0 || from >= c->host.nr_nodes)
		return -1;
	slack = SWAP_SLACK * fmax(d->g->vv[d->p.vcpu].cpu_demand,
				  dec->d[j].g->vv[dec->d[j].p.vcpu].cpu_demand);
	if (arbiter_admit(c, room, dec->d, i, d, ARBITER_WAIVE_CPU_ROOM) < 0 &&
	    arbiter_admit(c, room, dec->d, j, &dec->d[j], ARBITER_WAIVE_CPU_ROOM) < 0 &&
	    room->cpu[to] + slack >= -1e-9 && room->cpu[from] + slack >= -1e-9)
		return j;
	*room = saved;
	return -1;
}

/* Marks decision i admitted: its guest's rank is that of its best one. */
static void admitted(struct vn_core *c, struct vn_decisions *dec, int i, int *ranks)
{
	struct vn_decision *d = &dec->d[i];

	d->rank = *ranks;
	for (int j = 0; j < dec->nr; j++)
		if (j != i && dec->d[j].rank >= 0 && dec->d[j].g == d->g) {
			d->rank = dec->d[j].rank;
			break;
		}
	*ranks += d->rank == *ranks;
	dec->nr_accepted++;
	c->stats.accepted++;
}

/* Output order: accepted by guest rank, then everything in admission order. */
static int by_guest(const void *a, const void *b)
{
	const struct vn_decision *x = a, *y = b;

	if (x->accepted != y->accepted)
		return x->accepted ? -1 : 1;
	if (x->accepted && x->rank != y->rank)
		return cmp_int(x->rank, y->rank);
	return cmp_int(x->order, y->order);
}

static void drop(struct vn_core *c, struct vn_decision *d, int why)
{
	d->accepted = false;
	d->why = why;
	c->stats.dropped[why]++;
}

void stage_arbiter(struct vn_core *c, const struct vnumad_out *out,
		   struct vn_decisions *dec)
{
	struct arbiter_room room;
	int ranks = 0;

	if (out->len > dec->cap) {
		dec->cap = out->len;
		dec->d = xreallocarray(dec->d, dec->cap, sizeof(*dec->d));
	}
	dec->nr = out->len;
	dec->nr_accepted = 0;
	c->stats.proposals += out->len;
	for (int i = 0; i < dec->nr; i++) {
		struct vn_decision *d = &dec->d[i];
		int why;

		memset(d, 0, sizeof(*d));
		d->p = out->buf[i];
		d->accepted = true;
		why = arbiter_check(c, d, 0);
		if (why >= 0)
			drop(c, d, why);
	}
	if (dec->nr > 1)
		qsort(dec->d, dec->nr, sizeof(*dec->d), by_gain);

	/*
	 * Best gain first. A move refused for CPU room is weighed again once
	 * the others are in: a policy may send a guest onto a node that
	 * another of the tick's moves, with less gain, leaves (place sent
	 * four-node's `crowded` to where `far`'s vCPU was going from, and it
	 * waited a tick). Meanwhile it still counts as its guest's choice, so
	 * that the guest's other proposals of the tick, which would conflict
	 * with it, are dropped as duplicates. Still refused then, it may go
	 * with a move the other way between the same two nodes (a swap,
	 * admit_swap). rank is -1 until admitted.
	 */
	arbiter_room_init(c, &room);
	for (int i = 0; i < dec->nr; i++) {
		dec->d[i].order = i;
		dec->d[i].rank = -1;
	}
	for (int pass = 0; pass < 2; pass++)
	for (int i = 0; i < dec->nr; i++) {
		struct vn_decision *d = &dec->d[i];
		int why;

		if (!d->accepted || d->rank >= 0)
			continue;
		why = arbiter_admit(c, &room, dec->d, i, d, 0);
		if (why == VN_DROP_CPU_CAPACITY && pass == 0)
			continue;
		if (why == VN_DROP_CPU_CAPACITY) {
			int j = admit_swap(c, &room, dec, i);

			if (j >= 0) {
				admitted(c, dec, i, &ranks);
				admitted(c, dec, j, &ranks);
				continue;
			}
		}
		if (why >= 0) {
			drop(c, d, why);
			continue;
		}
		admitted(c, dec, i, &ranks);
	}
	if (dec->nr > 1)
		qsort(dec->d, dec->nr, sizeof(*dec->d), by_guest);
}
