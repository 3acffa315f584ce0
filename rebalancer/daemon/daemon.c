// SPDX-License-Identifier: MIT
/*
 * The event loop: a tick timer and the signals, on libevent. A model backend
 * with virtual time runs its ticks back to back, still through the loop, so
 * that signals are honoured between ticks exactly as on a real host.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "control.h"
#include "core.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "numab.h"
#include "util.h"
#include "virevent.h"

static struct timeval seconds_tv(double s)
{
	struct timeval tv = { 0, 0 };

	if (s > 0) {
		tv.tv_sec = (time_t)s;
		tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	}
	return tv;
}

/* Arms the next tick one interval from now (at once on a model's own time). */
static void schedule(struct vn_daemon *d)
{
	struct timeval tv = { 0, 0 };

	d->armed_at = now_monotonic();
	if (!d->core.virtual_time || d->pace)
		tv = seconds_tv(d->core.cfg.interval);
	evtimer_add(d->tick_ev, &tv);
}

/*
 * After a reload: the next tick stays one interval after the last, and
 * only a new interval moves it (to one new interval after the last tick,
 * or now if that has passed). Re-arming a whole interval ahead at every
 * SIGHUP let a stream of them stop the ticks altogether.
 */
static void reschedule(struct vn_daemon *d, double old_interval)
{
	struct timeval tv;

	if ((d->core.virtual_time && !d->pace) || d->core.cfg.interval == old_interval)
		return;
	tv = seconds_tv(d->armed_at + d->core.cfg.interval - now_monotonic());
	evtimer_del(d->tick_ev);
	evtimer_add(d->tick_ev, &tv);
}

static void stop(struct vn_daemon *d)
{
	if (!d->stopping)
		notify("STOPPING=1");
	d->stopping = true;
	event_base_loopbreak(d->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vn_daemon *d = arg;
	struct vn_core *c = &d->core;

	(void)fd;
	(void)what;
	if (core_tick(c) < 0) {
		d->failed_ticks++;
		if (c->virtual_time) {
			/* a model that cannot advance will not recover */
			log_warnx("simulated host failed; stopping");
			d->exit_code = 1;
			stop(d);
			return;
		}
	} else {
		d->failed_ticks = 0;
		notify("STATUS=tick %llu: %d guests, %llu moves, %llu kept, %llu reverted%s",
		       (unsigned long long)c->host.tick, c->host.nr_guests,
		       (unsigned long long)(c->stats.vcpu_moves + c->stats.memory_moves),
		       (unsigned long long)c->stats.kept,
		       (unsigned long long)c->stats.reverted,
		       c->cfg.dry_run ? " (dry run)" :
		       c->journal_err ? " (journal failing: advising only)" : "");
	}
	control_tick(d->control);
	if ((d->once && c->decided) ||
	    (d->max_ticks && c->stats.ticks >= d->max_ticks) ||
	    (d->end > 0 && c->host.now >= d->end - 1e-6)) {
		stop(d);
		return;
	}
	schedule(d);
}

/*
 * The systemd watchdog, fed from the loop itself: a loop that is stuck (a
 * blocking call, an in-process plugin that never returns) stops feeding it,
 * and so does a daemon whose ticks stopped. Either way systemd kills and
 * restarts it, and the journal's recovery undoes the trials it left.
 */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct vn_daemon *d = arg;

	(void)fd;
	(void)what;
	if (evtimer_pending(d->tick_ev, NULL))
		notify("WATCHDOG=1");
	else
		log_warning("no tick is scheduled: not feeding the watchdog");
}

/* Feeds the watchdog twice a period, as sd_watchdog_enabled(3) advises. */
static void watchdog_start(struct vn_daemon *d)
{
	uint64_t usec = notify_watchdog_usec();
	struct timeval tv;

	if (!usec)
		return;
	tv.tv_sec = (time_t)(usec / 2 / 1000000);
	tv.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	d->watchdog_ev = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
	event_add(d->watchdog_ev, &tv);
	log_info("watchdog: fed every %.3gs", (double)usec / 2e6);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct vn_daemon *d = arg;
	struct vn_errors e = { 0 };
	struct vn_config fresh;
	double interval = d->core.cfg.interval;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", strsignal((int)sig));
		stop(d);
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading %s", d->config_path ? d->config_path :
			 "the built-in defaults");
		notify("RELOADING=1");
		if (config_load(&fresh, d->config_path, &d->ov, &e) < 0) {
			for (int i = 0; i < e.count; i++)
				log_warnx("%s", e.msg[i]);
			log_warnx("reload rejected (%d error%s); the running configuration stays",
				  e.count, e.count == 1 ? "" : "s");
			config_free(&fresh);
			errors_free(&e);
			notify("READY=1\nSTATUS=reload rejected; running configuration kept");
			metrics_reloaded(d->metrics, false);
			break;
		}
		errors_free(&e);
		for (int i = 0; i < fresh.warnings.count; i++)
			log_warning("%s", fresh.warnings.msg[i]);
		if ((fresh.metrics == NULL) != (d->core.cfg.metrics == NULL) ||
		    (fresh.metrics && strcmp(fresh.metrics, d->core.cfg.metrics) != 0))
			log_warning("reload: [daemon] metrics changes only at restart");
		if (strcmp(fresh.control, d->core.cfg.control) != 0)
			log_warning("reload: [daemon] control changes only at restart");
		numab_reload(&d->core.cfg, &fresh);
		core_reconfigure(&d->core, &fresh);
		config_free(&fresh);
		metrics_reloaded(d->metrics, true);
		notify("READY=1\nSTATUS=configuration reloaded");
		reschedule(d, interval);
		break;
	case SIGUSR1:
		core_dump_state(&d->core);
		break;
	}
}

int daemon_run(struct vn_daemon *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct event *sigev[ARRAY_SIZE(sigs)];
	struct timeval now = { 0, 0 };
	int r = 0;

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		sigev[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		event_add(sigev[i], NULL);
	}
	d->tick_ev = evtimer_new(d->base, on_tick, d);
	/* a model run back to back lasts as long as its scenario says */
	if (d->core.virtual_time && !d->pace && !d->max_ticks && !d->once &&
	    d->core.backend.ops->duration) {
		char a[32];

		d->end = d->core.backend.ops->duration(&d->core.backend);
		if (d->end > 0)
			log_info("the scenario lasts %s: %ld ticks (--ticks N for another length)",
				 fmt_elapsed(a, sizeof(a), d->end),
				 (long)(d->end / d->core.cfg.interval + 1e-6));
	}
	/*
	 * The first tick at once: it finds the guests and primes their
	 * counters, so that the first decision comes one interval after
	 * start rather than two.
	 */
	evtimer_add(d->tick_ev, &now);
	watchdog_start(d);
	notify("READY=1\nSTATUS=running: backend %s, policy %s%s",
	       d->core.backend.ops->name, d->core.policy.desc->name,
	       d->core.cfg.dry_run ? ", dry run" : "");
	if (event_base_dispatch(d->base) < 0) {
		log_warnx("event loop failed");
		r = 1;
	}
	event_free(d->tick_ev);
	if (d->watchdog_ev)
		event_free(d->watchdog_ev);
	d->watchdog_ev = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		event_free(sigev[i]);
	return r ? r : d->exit_code;
}

int daemon_init(struct vn_daemon *d)
{
	/* libvirt calls the loop from its own threads too */
	if (evthread_use_pthreads() < 0) {
		log_warnx("libevent has no thread support");
		return -1;
	}
	d->base = event_base_new();
	if (!d->base) {
		log_warnx("cannot create the event loop");
		return -1;
	}
	return 0;
}

void daemon_fini(struct vn_daemon *d)
{
	virevent_unregister();
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
}
