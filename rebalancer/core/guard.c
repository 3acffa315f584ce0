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
 * moves every guest alike and cancels out. The baseline starts after the
 * last earlier move on the host, so that a neighbour's move does not colour
 * it. A trial whose normalised loss exceeds half the tolerance is a loser
 * (so that losses of the tolerance are caught despite noisy figures): its
 * moves are undone and its (guest, target node) pairs quarantined, for
 * `quarantine` doubled at each new strike up to `quarantine_max`. A trial
 * too close to call is judged over one more window, up to three.
 * vnumad-sim guard measures how often the guard gets it right.
 */
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

/* Mean of a guest's per-tick IPS over ticks [a, b]; NaN if mostly unknown. */
double guard_window_mean(const struct vn_guest *g, uint64_t a, uint64_t b)
{
	double sum = 0;
	int n = 0, want = 0;

	for (uint64_t t = a; t <= b; t++) {
		int slot = (int)(t % VN_HIST);

		want++;
		if (g->hist_tick[slot] != t || isnan(g->hist[slot]))
			continue;
		sum += g->hist[slot];
		n++;
	}
	return n * 2 >= want && n > 0 ? sum / n : NAN;
}

/* The squared relative standard error of that mean, or -1 if unknown. */
static double window_rse2(const struct vn_guest *g, uint64_t a, uint64_t b)
{
	double sum = 0, sum2 = 0;
	int n = 0;

	for (uint64_t t = a; t <= b; t++) {
		int slot = (int)(t % VN_HIST);

		if (g->hist_tick[slot] != t || isnan(g->hist[slot]))
			continue;
		sum += g->hist[slot];
		sum2 += g->hist[slot] * g->hist[slot];
		n++;
	}
	if (n < 2 || sum <= 0)
		return -1;
	return MAX(0, (sum2 - sum * sum / n) / (n - 1)) / n / (sum / n * sum / n);
}

/* The tick that ends at time `when`. */
uint64_t guard_tick_at(const struct vn_core *c, double when)
{
	/*
	 * Counted back from the current tick: on a real host ticks are an
	 * interval plus their own run time apart, so when / interval drifts.
	 */
	long long k = (long long)c->host.tick -
		      llround((c->host.now - when) / c->cfg.interval);

	return k < 1 ? 1 : (uint64_t)k;
}

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
		if (t->guest_id == guest_id)
			return true;
	return false;
}

bool guard_quarantined(const struct vn_core *c, const char *guest, int node)
{
	for (const struct vn_quarantine *q = c->quarantine; q; q = q->next)
		if (q->node == node && q->until > c->host.now &&
		    strcmp(q->guest, guest) == 0)
			return true;
	return false;
}

uint64_t guard_quarantine_mask(const struct vn_core *c, const char *guest)
{
	uint64_t m = 0;

	for (const struct vn_quarantine *q = c->quarantine; q; q = q->next)
		if (q->until > c->host.now && strcmp(q->guest, guest) == 0)
			m |= 1ULL << q->node;
	return m;
}

static void quarantine(struct vn_core *c, const char *guest, int node)
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
	len = MIN(c->cfg.quarantine * exp2(MIN(q->strikes - 1, 30)), c->cfg.quarantine_max);
	q->until = c->host.now + len;
	if (c->journal)
		journal_quarantine(c->journal, guest, node, q->strikes, len);
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

void guard_start_trial(struct vn_core *c, struct vn_guest *g,
		       const struct vn_action *act, int n, double expected)
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
	t->applied = c->host.now;
	t->expected = expected;
	t->state = VN_TRIAL_SETTLING;
	for (int i = 0; i < n; i++)
		if (act[i].mig)
			t->state = VN_TRIAL_MIGRATING;
	t->judge_from = c->host.now + (c->hist_settle + 1) * c->cfg.interval;
	t->judge_until = t->judge_from + (c->hist_judge - 1) * c->cfg.interval;
	t->next = c->trials;
	c->trials = t;
	g->v.flags |= VNUMAD_GUEST_IN_TRIAL;
	if (c->journal)
		t->jid = journal_trial(c->journal, g->name, act, n);
	if (c->trial_hook)
		c->trial_hook(c, t, VN_TRIAL_STARTED, 0, c->trial_hook_arg);
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

void guard_guest_gone(struct vn_core *c, struct vn_guest *g)
{
	struct vn_trial *t = c->trials, *next;

	for (; t; t = next) {
		next = t->next;
		if (t->guest_id != g->id)
			continue;
		report_event(c, "trial-abandoned", g->name,
			     "trial of %d move(s) abandoned: the guest is gone", t->nr_act);
		if (c->journal && t->jid)
			journal_verdict(c->journal, t->jid, t->guest, "abandoned", 0);
		if (c->trial_hook)
			c->trial_hook(c, t, VN_TRIAL_ABANDONED, 0, c->trial_hook_arg);
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
 * Undoes the moves of a trial, as far as the guest still allows; a loser's
 * targets go into quarantine.
 */
static void revert(struct vn_core *c, struct vn_guest *g, struct vn_trial *t,
		   bool loser)
{
	for (int i = 0; i < t->nr_act; i++) {
		struct vn_action *a = &t->act[i];

		if (a->kind == VNUMAD_MOVE_VCPU && a->vcpu < g->nr_vcpus) {
			int r = c->backend.ops->set_affinity(&c->backend, g, a->vcpu,
							     a->old_allowed);
			if (r < 0) {
				c->stats.actuation_errors++;
				log_warnx("guest %s: cannot restore vCPU %d: %s", g->name,
					  a->vcpu, strerror(-r));
			}
			g->vc[a->vcpu].last_move = c->host.now;
		} else if (a->kind == VNUMAD_MOVE_MEMORY) {
			uint64_t done = a->mig ? a->mig->done : a->bytes;

			/* never more than what is still there */
			if (done > g->v.mem[a->to] && g->mem_read_at >= 0)
				done = g->v.mem[a->to];
			if (done)
				core_migrate(c, g, a->to, a->from, done, true);
		}
		if (loser)
			quarantine(c, g->name, a->to);
	}
	host_moved(c);
	g->last_move = c->host.now;
}

void guard_restore(struct vn_core *c)
{
	double wall = journal_wall();
	int n = 0;

	if (!c->journal)
		return;
	for (const struct journal_quarantine *jq = journal_quarantines(c->journal);
	     jq; jq = jq->next) {
		struct vn_quarantine *q;

		if (jq->until <= wall)
			continue;
		q = xcalloc(1, sizeof(*q));
		q->guest = xstrdup(jq->guest);
		q->node = jq->node;
		q->strikes = jq->strikes;
		q->until = c->host.now + (jq->until - wall);
		q->next = c->quarantine;
		c->quarantine = q;
		n++;
	}
	c->restart_pending = journal_take_pending(c->journal);
	for (struct journal_trial *t = c->restart_pending; t; t = t->next)
		n++;
	if (n)
		log_info("journal: %d quarantine(s) and unjudged trial(s) from the last run", n);
}

/*
 * Trials the last run applied but never judged (it died): their baseline is
 * gone with it, so they are undone; the policy proposes them again if they
 * are still worth it, and they are judged afresh.
 */
static void settle_restart(struct vn_core *c)
{
	for (struct journal_trial *jt = c->restart_pending; jt; jt = jt->next) {
		struct vn_guest *g = host_find(&c->host, jt->guest);
		struct vn_trial t = {
			.guest = jt->guest, .act = jt->act, .nr_act = jt->nr_act,
		};

		if (!g) {
			log_info("journal: trial %llu of guest %s abandoned: the guest is gone",
				 (unsigned long long)jt->id, jt->guest);
			journal_verdict(c->journal, jt->id, jt->guest, "abandoned", 0);
			continue;
		}
		for (int i = 0; i < t.nr_act; i++)
			if (t.act[i].kind == VNUMAD_MOVE_VCPU && t.act[i].vcpu >= g->nr_vcpus)
				t.act[i].kind = 0;	/* that vCPU is gone */
		report_event(c, "trial-reverted", g->name,
			     "%d move(s) left unjudged by the last run are undone", t.nr_act);
		journal_verdict(c->journal, jt->id, jt->guest, "reverted-at-restart", 0);
		revert(c, g, &t, false);
	}
	journal_free_pending(c->restart_pending);
	c->restart_pending = NULL;
}

void guard_stop(struct vn_core *c)
{
	for (struct vn_trial *t = c->trials; t; t = t->next)
		if (c->journal && t->jid)
			journal_verdict(c->journal, t->jid, t->guest, "unjudged-at-stop", 0);
}

/* The drift of guests left alone over the trial's windows: their median. */
static double host_drift(struct vn_core *c, const struct vn_trial *t,
			 uint64_t b0, uint64_t b1, uint64_t j0, uint64_t j1, double *se2)
{
	struct vn_host *h = &c->host;
	double since = t->applied - c->hist_baseline * c->cfg.interval;
	double *r = xcalloc(h->nr_guests + 1, sizeof(*r));
	double drift = 1.0;
	int n = 0;

	for (int i = 0; i < h->nr_guests; i++) {
		struct vn_guest *o = h->guests[i];
		double before, after;

		if (o->id == t->guest_id || (o->v.flags & VNUMAD_GUEST_IN_TRIAL) ||
		    (o->last_move >= 0 && o->last_move >= since))
			continue;
		before = guard_window_mean(o, b0, b1);
		after = guard_window_mean(o, j0, j1);
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
	return drift;
}

/*
 * Judges a trial whose judge window is complete; false when the verdict is
 * too close to call and the window was made one window longer instead.
 */
static bool judge(struct vn_core *c, struct vn_guest *g, struct vn_trial *t)
{
	uint64_t j0 = guard_tick_at(c, t->judge_from), j1 = c->host.tick;
	uint64_t b0 = t->base_from, b1 = t->tick;
	double before = guard_window_mean(g, b0, b1), after = guard_window_mean(g, j0, j1);
	double drift, gain, se2, own, limit = -c->cfg.tolerance * GUARD_REVERT_SHARE;
	int windows = (int)((j1 - j0 + 1) / (uint64_t)c->hist_judge);
	char why[160];

	if (isnan(before) || isnan(after) || before <= 0) {
		/* nothing to judge by: keep it, but say so */
		report_verdict(c, t, true, 0, "kept unjudged: too few readings");
		c->stats.kept++;
		if (c->journal && t->jid)
			journal_verdict(c->journal, t->jid, t->guest, "unjudged", 0);
		if (c->trial_hook)
			c->trial_hook(c, t, VN_TRIAL_KEPT, 0, c->trial_hook_arg);
		return true;
	}
	drift = host_drift(c, t, b0, b1, j0, j1, &se2);
	gain = after / before / drift - 1.0;
	own = window_rse2(g, b0, b1) + window_rse2(g, j0, j1);
	if (windows < GUARD_MAX_WINDOWS && own >= 0 &&
	    fabs(gain - limit) < sqrt(own + (se2 < 0 ? own : se2))) {
		t->judge_until += c->hist_judge * c->cfg.interval;
		return false;
	}
	if (gain >= limit) {
		snprintf(why, sizeof(why), "kept: %+.1f%% (raw %+.1f%%, host drift %+.1f%%)",
			 gain * 100, (after / before - 1) * 100, (drift - 1) * 100);
		report_verdict(c, t, true, gain, why);
		c->stats.kept++;
		if (c->journal && t->jid)
			journal_verdict(c->journal, t->jid, t->guest, "kept", gain);
		if (c->trial_hook)
			c->trial_hook(c, t, VN_TRIAL_KEPT, gain, c->trial_hook_arg);
		return true;
	}
	snprintf(why, sizeof(why), "reverted: %+.1f%% (raw %+.1f%%, host drift %+.1f%%)",
		 gain * 100, (after / before - 1) * 100, (drift - 1) * 100);
	report_verdict(c, t, false, gain, why);
	c->stats.reverted++;
	if (c->journal && t->jid)
		journal_verdict(c->journal, t->jid, t->guest, "reverted", gain);
	if (c->trial_hook)
		c->trial_hook(c, t, VN_TRIAL_REVERTED, gain, c->trial_hook_arg);
	revert(c, g, t, true);
	return true;
}

void stage_guard(struct vn_core *c)
{
	struct vn_trial *t = c->trials, *next;

	expire_quarantines(c);
	if (c->restart_pending)
		settle_restart(c);
	for (; t; t = next) {
		struct vn_guest *g = host_find_id(&c->host, t->guest_id);

		next = t->next;
		if (!g) {
			unlink_trial(c, t);
			free_trial(t);
			continue;
		}
		if (t->state == VN_TRIAL_MIGRATING) {
			bool busy = false;

			for (int i = 0; i < t->nr_act; i++)
				if (t->act[i].mig && t->act[i].mig->state == VN_MIG_RUNNING)
					busy = true;
			if (busy)
				continue;
			/* keep what moved; the migration record may now be freed */
			for (int i = 0; i < t->nr_act; i++)
				if (t->act[i].mig) {
					t->act[i].bytes = t->act[i].mig->done;
					t->act[i].mig = NULL;
				}
			/* the settle time starts once the memory has moved */
			t->state = VN_TRIAL_SETTLING;
			t->judge_from = c->host.now + (c->hist_settle + 1) * c->cfg.interval;
			t->judge_until = t->judge_from + (c->hist_judge - 1) * c->cfg.interval;
		}
		if (c->host.now + 1e-9 < t->judge_from)
			continue;
		t->state = VN_TRIAL_JUDGING;
		if (c->host.now + 1e-9 < t->judge_until || !judge(c, g, t))
			continue;
		unlink_trial(c, t);
		free_trial(t);
		if (!guard_in_trial(c, g->id))
			g->v.flags &= ~VNUMAD_GUEST_IN_TRIAL;
	}
}
