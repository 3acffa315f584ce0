// SPDX-License-Identifier: MIT
/*
 * Stage 4, guard: every applied move is a trial, judged against its own
 * baseline and normalised by what happened meanwhile to the guests that
 * were not moved.
 *
 * The moves applied to one guest in one tick form one trial. Its baseline is
 * the guest's mean instructions per second over the `baseline` window up to
 * the tick of the move. After the move (and after its memory has finished
 * migrating) the guard waits `settle`, then measures the mean over the
 * `judge` window. The raw ratio judge/baseline is divided by the drift of
 * the host: the median of the same ratio over every guest that was neither
 * moved nor in a trial during the whole period. A host-wide phase change
 * moves every guest alike and cancels out; a phase of the guest's own
 * workload, told by its DRAM accesses per instruction, does not, and such a
 * trial is judged by the local share of its accesses instead. The baseline starts after the
 * last earlier move on the host, so that a neighbour's move does not colour
 * it. A trial whose normalised loss exceeds half the tolerance is a loser
 * (so that losses of the tolerance are caught despite noisy figures): its
 * moves are undone and its (guest, target node) pairs quarantined, for
 * `quarantine` doubled at each new strike up to `quarantine_max` (one
 * strike per reverted trial and target, however many vCPUs it moved). A
 * trial too close to call is judged over one more window, up to three.
 * Every outcome -- kept, reverted, unjudged, abandoned -- goes through one
 * function, verdict(), which reports, counts, journals and tells the hook.
 * A guest's first move may come before its baseline window is full when
 * the figure is unambiguous (history_clear_first_move); its baseline is then
 * the readings the guest has. vnumad-sim guard measures how often the
 * guard gets it right.
 *
 * An undo is written ahead like a move: the journal first learns what it
 * may take back, then it is applied, and a trial whose memory is moving
 * back stays (REVERTING, not "in trial") until that ends, with the journal
 * told how far it got. A trial the last run left unjudged is undone the
 * same way, by what the journal says may be in effect, read against where
 * the guest's memory is now: no more than was moved, and once. While the
 * journal cannot be written nothing is undone; the undo waits for it.
 *
 * The guard keeps its own state (trials, quarantines); the view's flags
 * that come from it are derived by the publish stage that follows.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "journal.h"
#include "log.h"
#include "util.h"

/*
 * Judging: a trial is reverted below -tolerance / 2, so that a loss at the
 * tolerance itself is caught despite the noise; when its gain is within one
 * standard error of that, the judge window grows by one window, up to
 * GUARD_MAX_WINDOWS.
 */
#define GUARD_REVERT_SHARE	0.5
#define GUARD_MAX_WINDOWS	3
/*
 * A guest whose DRAM accesses per instruction changed by this factor or
 * more between the baseline and the judge window changed its workload:
 * where a move sends an access changes how long it takes, not how many
 * there are.
 */
#define GUARD_PHASE_SHIFT	1.5
/* share of its memory a guest moves itself that lifts a quarantine */
#define QUARANTINE_MOVED	0.25

/* Notes that moves were applied on the host in the current tick. */
static void host_moved(struct vn_core *c)
{
	if (c->moved_tick[0] != c->host.tick) {
		c->moved_tick[1] = c->moved_tick[0];
		c->moved_tick[0] = c->host.tick;
	}
}

bool guard_in_trial(const struct vn_core *c, uint64_t guest_id)
{
	for (const struct vn_trial *t = c->trials; t; t = t->next)
		if (t->guest_id == guest_id && t->state != VN_TRIAL_REVERTING)
			return true;
	return false;
}

/* Tells the journal what of the trial may be in effect now. */
static int journal_effect(struct vn_core *c, const struct vn_trial *t, bool sync)
{
	if (!c->journal || !t->jid)
		return 0;
	return journal_update(c->journal, t->jid, t->act, t->nr_act, sync);
}

/* Ends the trial in the journal: nothing of it is undone after a restart. */
static void journal_end(struct vn_core *c, const struct vn_trial *t, const char *word,
			double gain)
{
	if (c->journal && t->jid)
		journal_verdict(c->journal, t->jid, t->guest, word, gain);
}

uint64_t guard_quarantine_mask(struct vn_core *c, const struct vn_guest *g)
{
	uint64_t m = 0;

	for (struct vn_quarantine *q = c->quarantine; q; q = q->next) {
		if (q->until <= c->host.now || strcmp(q->guest, g->name) != 0)
			continue;
		if (q->mem_known &&
		    sample_mem_shift(q->mem, g->v.mem, c->host.nr_nodes) >= QUARANTINE_MOVED) {
			char a[32];

			log_info("guest %s: quarantine of node %d lifted %s early: its "
				 "memory has moved since the verdict (a placement that is gone)",
				 g->name, q->node,
				 fmt_elapsed(a, sizeof(a), q->until - c->host.now));
			q->until = c->host.now;
			q->mem_known = false;
			if (c->journal)
				journal_quarantine(c->journal, g->name, q->node, q->strikes, 0);
			continue;
		}
		m |= 1ULL << q->node;
	}
	return m;
}

const struct vn_quarantine *guard_quarantine_of(const struct vn_core *c,
						const char *guest, int node)
{
	for (const struct vn_quarantine *q = c->quarantine; q; q = q->next)
		if (q->node == node && q->until > c->host.now &&
		    strcmp(q->guest, guest) == 0)
			return q;
	return NULL;
}

/*
 * One more strike for (guest, node): a quarantine twice the last one, on
 * the placement of trial t (NULL: none known).
 */
static void quarantine(struct vn_core *c, const char *guest, int node,
		       const struct vn_trial *t)
{
	struct vn_quarantine *q;
	double len;

	for (q = c->quarantine; q; q = q->next)
		if (q->node == node && strcmp(q->guest, guest) == 0)
			break;
	if (!q) {
		q = xcalloc(1, sizeof(*q));
		q->guest = xstrdup(guest);
		q->node = node;
		q->next = c->quarantine;
		c->quarantine = q;
	}
	q->strikes++;
	q->mem_known = t && t->mem_known;
	if (q->mem_known)
		memcpy(q->mem, t->mem, sizeof(q->mem));
	len = MIN(c->cfg.quarantine * exp2(MIN(q->strikes - 1, 30)), c->cfg.quarantine_max);
	q->until = c->host.now + len;
	if (c->journal)
		journal_quarantine(c->journal, guest, node, q->strikes, len);
}

/* A quarantine the journal kept from the last run. */
static void restore_quarantine(struct vn_core *c, const struct journal_quarantine *jq,
			       double wall)
{
	struct vn_quarantine *q;

	for (q = c->quarantine; q; q = q->next)
		if (q->node == jq->node && strcmp(q->guest, jq->guest) == 0)
			break;
	if (!q) {
		q = xcalloc(1, sizeof(*q));
		q->guest = xstrdup(jq->guest);
		q->node = jq->node;
		q->next = c->quarantine;
		c->quarantine = q;
	}
	/* no longer than this configuration would quarantine it */
	q->strikes = MAX(q->strikes, jq->strikes);
	q->until = MAX(q->until, c->host.now + MIN(jq->until - wall, c->cfg.quarantine_max));
}

/* Forgets quarantines long expired, so that strikes do not last forever. */
static void expire_quarantines(struct vn_core *c)
{
	struct vn_quarantine **pp = &c->quarantine;

	while (*pp) {
		struct vn_quarantine *q = *pp;

		if (q->until + c->cfg.quarantine_max < c->host.now) {
			*pp = q->next;
			free(q->guest);
			free(q);
		} else {
			pp = &q->next;
		}
	}
}

/* The judge window of a trial whose settle time starts now. */
static void schedule_judging(struct vn_core *c, struct vn_trial *t)
{
	t->judge_from = c->host.now + (c->hist_settle + 1) * c->cfg.interval;
	t->judge_until = t->judge_from + (c->hist_judge - 1) * c->cfg.interval;
}

void guard_start_trial(struct vn_core *c, struct vn_guest *g,
		       const struct vn_action *act, int n, double expected, uint64_t jid)
{
	struct vn_trial *t = xcalloc(1, sizeof(*t));

	t->guest_id = g->id;
	t->guest = xstrdup(g->name);
	t->act = xcalloc(n, sizeof(*t->act));
	memcpy(t->act, act, n * sizeof(*act));
	t->nr_act = n;
	t->tick = c->host.tick;
	/*
	 * The baseline starts after the last ticks that other moves changed:
	 * moving a guest onto a node slows its neighbours, and a baseline that
	 * holds their speed from before would charge that to this move.
	 */
	host_moved(c);
	t->base_from = t->tick >= (uint64_t)c->hist_baseline ?
		       t->tick - c->hist_baseline + 1 : 1;
	t->base_from = MAX(t->base_from, c->moved_tick[1] + 1);
	/*
	 * Nor before the guest's memory last shifted: the readings before a
	 * phase change measured a placement that is gone, and a move judged
	 * against them is judged against what no move could bring back
	 * (procfs, whose figure is the share of local memory, reads 100% local
	 * there). The arbiter lets no move through before a tick's figures
	 * know the shift; a manual move of that tick has no baseline and is
	 * kept unjudged.
	 */
	t->base_from = MAX(t->base_from, g->mem_shift_tick);
	/* a guest younger than the window: its baseline is what it has */
	while (t->base_from < t->tick &&
	       g->hist_tick[t->base_from % VN_HIST] != t->base_from)
		t->base_from++;
	t->applied = c->host.now;
	/*
	 * The placement judged, for quarantines that may be lifted once the
	 * guest moves its memory itself. Only where these moves leave the
	 * memory alone: a migration and its undo move it by the guard's hand.
	 */
	memcpy(t->mem, g->v.mem, sizeof(t->mem));
	t->mem_known = g->v.mem_total > 0;
	for (int i = 0; i < n; i++)
		if (act[i].kind != VNUMAD_MOVE_VCPU)
			t->mem_known = false;
	t->expected = expected;
	t->state = VN_TRIAL_SETTLING;
	for (int i = 0; i < n; i++)
		if (act[i].mig)
			t->state = VN_TRIAL_MIGRATING;
	schedule_judging(c, t);
	t->next = c->trials;
	c->trials = t;
	t->jid = jid;
	if (c->trial_hook)
		c->trial_hook(c, t, VN_TRIAL_STARTED, NULL, c->trial_hook_arg);
}

static void free_trial(struct vn_trial *t)
{
	free(t->guest);
	free(t->act);
	free(t);
}

static void unlink_trial(struct vn_core *c, struct vn_trial *t)
{
	for (struct vn_trial **pp = &c->trials; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			return;
		}
}

static const char *const journal_words[] = {
	[VN_TRIAL_KEPT] = "kept",
	[VN_TRIAL_REVERTED] = "reverted",
	[VN_TRIAL_UNJUDGED] = "unjudged",
	[VN_TRIAL_ABANDONED] = "abandoned",
};

/*
 * The end of a trial, whatever it is: reported (output and log), counted,
 * journaled and handed to the hook with the guard's own figures. The caller
 * undoes a reverted trial's moves and frees the trial.
 */
static void verdict(struct vn_core *c, const struct vn_trial *t, const struct vn_verdict *v)
{
	if (v->ev == VN_TRIAL_ABANDONED)
		record_event(c, "trial-abandoned", t->guest, "%s", v->why);
	else
		record_verdict(c, t, v);
	if (v->ev == VN_TRIAL_REVERTED)
		c->stats.reverted++;
	else if (v->ev != VN_TRIAL_ABANDONED)
		c->stats.kept++;	/* kept, judged or not */
	/* a reverted trial ends in the journal once it is undone */
	if (v->ev != VN_TRIAL_REVERTED)
		journal_end(c, t, journal_words[v->ev], v->gain);
	if (c->trial_hook)
		c->trial_hook(c, t, v->ev, v, c->trial_hook_arg);
}

void guard_guest_gone(struct vn_core *c, struct vn_guest *g)
{
	struct vn_trial *t = c->trials, *next;

	for (; t; t = next) {
		struct vn_verdict v = { .ev = VN_TRIAL_ABANDONED, .raw = NAN, .drift = NAN };

		next = t->next;
		if (t->guest_id != g->id)
			continue;
		if (t->state == VN_TRIAL_REVERTING) {
			/* judged already: what is left to undo went with the guest */
			journal_end(c, t, t->restart ? "abandoned" : "reverted", 0);
		} else {
			snprintf(v.why, sizeof(v.why),
				 "trial of %d move(s) abandoned: the guest is gone", t->nr_act);
			verdict(c, t, &v);
		}
		unlink_trial(c, t);
		free_trial(t);
	}
}

void guard_fini(struct vn_core *c)
{
	while (c->trials) {
		struct vn_trial *t = c->trials;

		c->trials = t->next;
		free_trial(t);
	}
	while (c->quarantine) {
		struct vn_quarantine *q = c->quarantine;

		c->quarantine = q->next;
		free(q->guest);
		free(q);
	}
	journal_free_pending(c->restart_pending);
	c->restart_pending = NULL;
}

/*
 * How much of memory action a to take back: what the journal says may be
 * in effect, narrowed by what the guest's memory says moved (what came to
 * `to` and left `from` since the move was asked), and never more than is
 * on `to` now.
 */
static uint64_t undo_amount(const struct vn_guest *g, const struct vn_action *a)
{
	bool known = g->mem_read_at >= 0;
	uint64_t n = a->eff_lo;

	if (a->eff_hi > a->eff_lo && known && a->before_from != VN_BYTES_UNKNOWN &&
	    a->before_to != VN_BYTES_UNKNOWN) {
		uint64_t came = g->v.mem[a->to] > a->before_to ?
				g->v.mem[a->to] - a->before_to : 0;
		uint64_t left = a->before_from > g->v.mem[a->from] ?
				a->before_from - g->v.mem[a->from] : 0;

		n = MAX(a->eff_lo, MIN(MIN(came, left), a->eff_hi));
	}
	return known ? MIN(n, g->v.mem[a->to]) : n;
}

/* What of a memory action is in effect while (or once) its undo runs. */
static void undo_progress(struct vn_action *a)
{
	uint64_t back = a->undo->done;

	a->eff_hi = a->base_hi - MIN(back, a->base_hi);
	if (a->undo->state != VN_MIG_RUNNING)
		a->eff_lo = a->base_lo - MIN(back, a->base_lo);
}

/*
 * Puts a moved vCPU back: its CPU set as it was, and the vCPU where it ran.
 * A set of several nodes alone would not bring it back: the scheduler
 * leaves a task where it is when its new set still holds that CPU, so an
 * unpinned vCPU would stay on the node of the reverted move. It goes to its
 * old node's CPUs first, which moves it there at once (sched_setaffinity
 * migrates a task off CPUs it may no longer use), then gets its old set.
 * 0, or the negative errno of restoring the old set.
 */
static int restore_vcpu(struct vn_core *c, struct vn_guest *g, const struct vn_action *a)
{
	uint64_t there = a->from >= 0 && a->from < VN_MAX_NODES ? 1ULL << a->from : 0;
	int r;

	if (!(a->old_allowed & there) || a->old_allowed == there ||
	    c->backend.ops->set_affinity(&c->backend, g, a->vcpu, there) < 0) {
		r = c->backend.ops->set_affinity(&c->backend, g, a->vcpu, a->old_allowed);
		if (r == 0)
			g->vv[a->vcpu].allowed = a->old_allowed;
		return r;
	}
	r = c->backend.ops->set_affinity(&c->backend, g, a->vcpu, a->old_allowed);
	if (r < 0) {
		/* back where it ran, on a narrower set than it had: still undone */
		log_warnx("guest %s: vCPU %d is back on node %d, but its CPU set "
			  "cannot be widened again: %s", g->name, a->vcpu, a->from,
			  strerror(-r));
		g->vv[a->vcpu].allowed = there;
		return 0;
	}
	g->vv[a->vcpu].allowed = a->old_allowed;
	return 0;
}

/*
 * Starts undoing trial t: the journal first learns what the undo may take
 * back, then vCPUs go back (restore_vcpu) and memory starts moving back.
 * False when the journal cannot be written: nothing is undone yet.
 */
static bool undo_start(struct vn_core *c, struct vn_guest *g, struct vn_trial *t)
{
	for (int i = 0; i < t->nr_act; i++) {
		struct vn_action *a = &t->act[i];

		a->base_lo = a->eff_lo;
		a->base_hi = a->eff_hi;
		a->undo_bytes = 0;
		if (a->kind == VNUMAD_MOVE_VCPU && a->eff_hi) {
			a->eff_lo = 0;
		} else if (a->kind == VNUMAD_MOVE_MEMORY && a->eff_hi) {
			a->undo_bytes = undo_amount(g, a);
			a->eff_lo -= MIN(a->eff_lo, a->undo_bytes);
		}
	}
	if (journal_effect(c, t, true) < 0) {
		for (int i = 0; i < t->nr_act; i++)
			t->act[i].eff_lo = t->act[i].base_lo;
		return false;
	}
	t->undo_started = true;
	for (int i = 0; i < t->nr_act; i++) {
		struct vn_action *a = &t->act[i];
		int err = 0;

		if (a->kind == VNUMAD_MOVE_VCPU && a->base_hi) {
			int r = a->vcpu >= 0 && a->vcpu < g->nr_vcpus ?
				restore_vcpu(c, g, a) : -ENODEV;

			if (r < 0) {
				c->stats.actuation_errors++;
				log_warnx("guest %s: cannot restore vCPU %d: %s", g->name,
					  a->vcpu, strerror(-r));
				a->eff_lo = a->base_lo;
				continue;
			}
			g->vc[a->vcpu].last_move = c->host.now;
			a->eff_lo = a->eff_hi = 0;
		} else if (a->kind == VNUMAD_MOVE_MEMORY && a->undo_bytes) {
			a->undo = migration_start(c, g, a->to, a->from, a->undo_bytes, true, 0, &err);
			if (!a->undo) {
				c->stats.actuation_errors++;
				log_warnx("guest %s: cannot migrate memory back from node %d "
					  "to node %d: %s", g->name, a->to, a->from,
					  strerror(err));
				a->eff_lo = a->base_lo;
				continue;
			}
			undo_progress(a);
		}
	}
	host_moved(c);
	g->last_move = c->host.now;
	return true;
}

/*
 * Follows the undo of a REVERTING trial; true once it is over (the memory
 * moved back, or stopped), and the journal has its end.
 */
static bool undo_done(struct vn_core *c, struct vn_trial *t)
{
	bool running = false;

	for (int i = 0; i < t->nr_act; i++) {
		struct vn_action *a = &t->act[i];

		if (!a->undo)
			continue;
		undo_progress(a);
		running |= a->undo->state == VN_MIG_RUNNING;
	}
	if (running) {
		journal_effect(c, t, false);
		return false;
	}
	journal_end(c, t, t->restart ? "reverted-at-restart" : "reverted", 0);
	return true;
}

/*
 * Undoes the moves of a loser, as far as the guest still allows (once the
 * journal can hold the undo); its targets go into quarantine, one strike
 * per target node. True when the trial may be freed.
 */
static bool revert(struct vn_core *c, struct vn_guest *g, struct vn_trial *t)
{
	uint64_t struck = 0;

	for (int i = 0; i < t->nr_act; i++) {
		const struct vn_action *a = &t->act[i];

		if ((a->kind == VNUMAD_MOVE_VCPU || a->kind == VNUMAD_MOVE_MEMORY) &&
		    a->to >= 0 && a->to < VN_MAX_NODES && !(struck >> a->to & 1)) {
			struck |= 1ULL << a->to;
			quarantine(c, g->name, a->to, t);
		}
	}
	t->state = VN_TRIAL_REVERTING;
	if (!undo_start(c, g, t))
		return false;
	return undo_done(c, t);
}

/* Takes what the journal read back: quarantines and unjudged trials. */
void guard_restore(struct vn_core *c)
{
	struct journal_quarantine *qs;
	struct journal_trial *tail;
	double wall = journal_wall();
	int n = 0;

	if (!c->journal)
		return;
	qs = journal_take_quarantines(c->journal);
	for (const struct journal_quarantine *jq = qs; jq; jq = jq->next)
		if (jq->until > wall) {
			restore_quarantine(c, jq, wall);
			n++;
		}
	journal_free_quarantines(qs);
	tail = journal_take_pending(c->journal);
	for (struct journal_trial *t = tail; t; t = t->next)
		n++;
	if (tail) {
		struct journal_trial **pp = &c->restart_pending;

		while (*pp)
			pp = &(*pp)->next;
		*pp = tail;
	}
	if (n)
		log_info("journal: %d quarantine(s) and unjudged trial(s) from the last run", n);
}

/* Why a trial of the last run concerns no guest there is now, or NULL. */
static const char *moot(const struct vn_core *c, const struct journal_trial *jt,
			const struct vn_guest *g)
{
	char boot[40];

	if (!g)
		return "the guest is gone";
	if (jt->boot[0] && c->journal) {
		journal_boot_id(c->journal, boot, sizeof(boot));
		if (boot[0] && strcmp(boot, jt->boot) != 0)
			return "the host restarted since";
	}
	if (jt->pid && g->pid && jt->pid != g->pid)
		return "the guest restarted since";
	return NULL;
}

/* Whether an action read back concerns a vCPU and nodes the guest still has. */
static bool fits_host(const struct vn_core *c, const struct vn_guest *g,
		      const struct vn_action *a)
{
	const struct vn_host *h = &c->host;

	if (a->kind == VNUMAD_MOVE_VCPU)
		return a->vcpu >= 0 && a->vcpu < g->nr_vcpus && a->old_allowed &&
		       !(a->old_allowed & ~h->online);
	return a->from >= 0 && a->from < h->nr_nodes && a->to >= 0 && a->to < h->nr_nodes &&
	       (h->online >> a->from & 1) && (h->online >> a->to & 1);
}

/*
 * Trials the last run applied but never judged (it died): their baseline is
 * gone with it, so they are undone, by what the journal says may be in
 * effect; the policy proposes them again if they are still worth it, and
 * they are judged afresh.
 */
static void settle_restart(struct vn_core *c)
{
	for (struct journal_trial *jt = c->restart_pending; jt; jt = jt->next) {
		struct vn_guest *g = host_find(&c->host, jt->guest);
		const char *why = moot(c, jt, g);
		struct vn_trial *t;

		if (why) {
			log_info("journal: trial %llu of guest %s abandoned: %s",
				 (unsigned long long)jt->id, jt->guest, why);
			journal_verdict(c->journal, jt->id, jt->guest, "abandoned", 0);
			continue;
		}
		t = xcalloc(1, sizeof(*t));
		t->guest_id = g->id;
		t->guest = xstrdup(jt->guest);
		t->act = xcalloc(jt->nr_act, sizeof(*t->act));
		memcpy(t->act, jt->act, jt->nr_act * sizeof(*t->act));
		t->nr_act = jt->nr_act;
		t->tick = c->host.tick;
		t->applied = c->host.now;
		t->jid = jt->id;
		t->restart = true;
		t->state = VN_TRIAL_REVERTING;
		for (int i = 0; i < t->nr_act; i++)
			if (!fits_host(c, g, &t->act[i])) {
				log_warnx("journal: trial %llu of guest %s: move %d names a vCPU "
					  "or node the guest or host lacks: not undone",
					  (unsigned long long)jt->id, g->name, i);
				t->act[i].kind = 0;
			}
		record_event(c, "trial-reverted", g->name,
			     "%d move(s) left unjudged by the last run are undone", t->nr_act);
		t->next = c->trials;
		c->trials = t;
	}
	journal_free_pending(c->restart_pending);
	c->restart_pending = NULL;
}

void guard_stop(struct vn_core *c)
{
	for (struct vn_trial *t = c->trials; t; t = t->next) {
		if (t->state != VN_TRIAL_REVERTING) {
			journal_end(c, t, "unjudged-at-stop", 0);
			continue;
		}
		/* an undo cut short: the next start takes back the rest */
		for (int i = 0; i < t->nr_act; i++)
			if (t->act[i].undo)
				undo_progress(&t->act[i]);
		journal_effect(c, t, true);
	}
	if (c->journal)
		journal_commit(c->journal);
}

/*
 * The drift of guests left alone over the trial's windows: their median,
 * with the number of guests in v->drift_n; *se2 its squared standard error
 * (-1 unknown, 0 without such guests).
 */
static double host_drift(struct vn_core *c, const struct vn_trial *t,
			 struct vn_verdict *v, double *se2)
{
	struct vn_host *h = &c->host;
	double since = t->applied - c->hist_baseline * c->cfg.interval;
	double *r = xcalloc(h->nr_guests + 1, sizeof(*r));
	double drift = 1.0;
	int n = 0;

	for (int i = 0; i < h->nr_guests; i++) {
		struct vn_guest *o = h->guests[i];
		double before, after;

		if (o->id == t->guest_id || guard_in_trial(c, o->id) ||
		    (o->last_move >= 0 && o->last_move >= since))
			continue;
		before = history_mean(o, v->base_from, v->base_to);
		after = history_mean(o, v->judge_from, v->judge_to);
		if (isnan(before) || isnan(after) || before <= 0)
			continue;
		r[n++] = after / before;
	}
	*se2 = n ? -1 : 0;	/* unknown: as the guest's own */
	if (n) {
		double mean = 0, var = 0;

		drift = median(r, n);
		for (int i = 0; i < n; i++)
			mean += r[i] / n;
		for (int i = 0; i < n; i++)
			var += (r[i] - mean) * (r[i] - mean);
		/* the median's standard error, about 1.25 times the mean's */
		if (n > 1)
			*se2 = 1.57 * var / (n - 1) / n;
	}
	free(r);
	v->drift_n = n;
	return drift;
}

/*
 * Judges a trial whose judge window is complete into *v; false when the
 * verdict is too close to call and the window was made one window longer
 * instead.
 */
static bool judge(struct vn_core *c, struct vn_guest *g, struct vn_trial *t,
		  struct vn_verdict *v)
{
	double before, after, se2, own, limit = -c->cfg.tolerance * GUARD_REVERT_SHARE;
	double api0, api1;
	const char *what;
	bool phase;

	*v = (struct vn_verdict){
		.raw = NAN, .drift = NAN,
		.base_from = t->base_from, .base_to = t->tick,
		.judge_from = history_tick_at(c, t->judge_from), .judge_to = c->host.tick,
	};
	v->windows = (int)((v->judge_to - v->judge_from + 1) / (uint64_t)c->hist_judge);
	before = history_mean(g, v->base_from, v->base_to);
	after = history_mean(g, v->judge_from, v->judge_to);
	if (isnan(before) || isnan(after) || before <= 0) {
		/* nothing to judge by: keep it, but say so */
		v->ev = VN_TRIAL_UNJUDGED;
		snprintf(v->why, sizeof(v->why), "kept unjudged: too few readings");
		return true;
	}
	v->raw = after / before;
	api0 = history_mean_api(g, v->base_from, v->base_to);
	api1 = history_mean_api(g, v->judge_from, v->judge_to);
	phase = !g->hist_local && api0 > 0 && api1 > 0 &&
		fmax(api1 / api0, api0 / api1) >= GUARD_PHASE_SHIFT;
	if (phase) {
		/*
		 * Instructions per second across a phase of the guest's own
		 * workload measure the phase (a guest gone idle reads as a loss
		 * of 90%), and the guests left alone cannot say so. The share of
		 * its accesses that are local is what the move changed: the
		 * trial is judged by that, as where no instructions are counted.
		 */
		before = history_mean_share(g, v->base_from, v->base_to);
		after = history_mean_share(g, v->judge_from, v->judge_to);
		if (isnan(before) || isnan(after) || before <= 0) {
			v->ev = VN_TRIAL_UNJUDGED;
			snprintf(v->why, sizeof(v->why), "kept unjudged: the guest's workload "
				 "changed (DRAM accesses per 1000 instructions %.3g -> %.3g)",
				 api0 * 1000, api1 * 1000);
			return true;
		}
		v->raw = after / before;
		v->drift = 1.0;
		v->drift_n = 0;
		se2 = 0;
		own = history_rse2_share(g, v->base_from, v->base_to) +
		      history_rse2_share(g, v->judge_from, v->judge_to);
	} else {
		v->drift = host_drift(c, t, v, &se2);
		own = history_rse2(g, v->base_from, v->base_to) +
		      history_rse2(g, v->judge_from, v->judge_to);
	}
	v->gain = v->raw / v->drift - 1.0;
	if (v->windows < GUARD_MAX_WINDOWS && own >= 0 &&
	    fabs(v->gain - limit) < sqrt(own + (se2 < 0 ? own : se2))) {
		t->judge_until += c->hist_judge * c->cfg.interval;
		return false;
	}
	v->ev = v->gain >= limit ? VN_TRIAL_KEPT : VN_TRIAL_REVERTED;
	/*
	 * A local share is told as one: from a guest all remote, a change
	 * of its figure in per cent (the floor under it is 1%) read
	 * "+9998.4%" (the VM's four-node setup). The gain stays in v->gain.
	 */
	what = v->ev == VN_TRIAL_KEPT ? "kept" : "reverted";
	if (phase)
		snprintf(v->why, sizeof(v->why), "%s: local share %.0f%% -> %.0f%%, judged "
			 "by locality: the guest's workload changed (DRAM accesses per 1000 "
			 "instructions %.3g -> %.3g)", what,
			 fmax(before - HIST_LOCAL_FLOOR, 0) * 100,
			 fmax(after - HIST_LOCAL_FLOOR, 0) * 100, api0 * 1000, api1 * 1000);
	else if (g->hist_local)
		snprintf(v->why, sizeof(v->why), "%s: local share %.0f%% -> %.0f%% "
			 "(host drift %+.1f%%)", what, fmax(before - HIST_LOCAL_FLOOR, 0) * 100,
			 fmax(after - HIST_LOCAL_FLOOR, 0) * 100, (v->drift - 1) * 100);
	else
		snprintf(v->why, sizeof(v->why), "%s: %+.1f%% (raw %+.1f%%, host drift %+.1f%%)",
			 what, v->gain * 100, (v->raw - 1) * 100, (v->drift - 1) * 100);
	return true;
}

/*
 * A trial whose memory has stopped moving: keep what moved, start settling.
 * Until then the journal learns how far each migration got.
 */
static bool migrated(struct vn_core *c, struct vn_trial *t)
{
	bool running = false;

	for (int i = 0; i < t->nr_act; i++) {
		struct vn_action *a = &t->act[i];

		if (!a->mig)
			continue;
		a->eff_lo = MIN(a->mig->done, a->bytes);
		if (a->mig->state != VN_MIG_RUNNING)
			a->eff_hi = a->eff_lo;
		running |= a->mig->state == VN_MIG_RUNNING;
	}
	journal_effect(c, t, false);
	if (running)
		return false;
	/* the migration record may now be freed */
	for (int i = 0; i < t->nr_act; i++)
		t->act[i].mig = NULL;
	/* the settle time starts once the memory has moved */
	t->state = VN_TRIAL_SETTLING;
	schedule_judging(c, t);
	return true;
}

void stage_guard(struct vn_core *c)
{
	struct vn_trial *t = c->trials, *next;

	expire_quarantines(c);
	guard_restore(c);
	if (c->restart_pending)
		settle_restart(c);
	for (t = c->trials; t; t = next) {
		struct vn_guest *g = host_find_id(&c->host, t->guest_id);
		struct vn_verdict v;

		next = t->next;
		if (!g) {
			journal_end(c, t, "abandoned", 0);
			unlink_trial(c, t);
			free_trial(t);
			continue;
		}
		if (t->state == VN_TRIAL_REVERTING) {
			/* an undo waits for the journal to hold it, then for its memory */
			if (!t->undo_started &&
			    (core_journal_failing(c) || !undo_start(c, g, t)))
				continue;
			if (undo_done(c, t)) {
				unlink_trial(c, t);
				free_trial(t);
			}
			continue;
		}
		if (t->state == VN_TRIAL_MIGRATING && !migrated(c, t))
			continue;
		if (c->host.now + 1e-9 < t->judge_from)
			continue;
		t->state = VN_TRIAL_JUDGING;
		if (c->host.now + 1e-9 < t->judge_until || !judge(c, g, t, &v))
			continue;
		verdict(c, t, &v);
		if (v.ev == VN_TRIAL_REVERTED && !revert(c, g, t))
			continue;
		unlink_trial(c, t);
		free_trial(t);
	}
}
