// SPDX-License-Identifier: MIT
/*
 * replay: a recorded trace through the advisory pipeline. The core is built
 * as for a dry run of vnumad, with the trace backend and sampler in place of
 * the configured ones and the recorded tick interval; it prints, tick by
 * tick, what the policy would have recommended on the recorded host. The
 * whole trace is checked before the first tick: a cut or corrupt file is an
 * error naming the byte where it goes wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "harness.h"
#include "registry.h"
#include "trace.h"
#include "util.h"

int hs_replay(const char *path, const struct hs_opts *o)
{
	static struct vn_core c;
	struct vn_overrides ov = { .backend = -1, .log_level = -1, .dry_run = true };
	struct vn_errors e = { 0 };
	const struct vn_trace_info *info;
	struct vn_trace_reader *tr;
	uint64_t recommended = 0;
	int ret = 1;

	tr = trace_open_read(path, o->partial ? VN_TRACE_PARTIAL : 0, &e);
	if (!tr) {
		errors_print(&e, stderr);
		errors_free(&e);
		return 1;
	}
	info = trace_reader_info(tr);
	memset(&c, 0, sizeof(c));
	ov.policy = o->policy;
	/* as run does: in process unless --worker */
	ov.worker = o->worker ? 1 : -1;
	/* the recorded spacing of ticks, whatever the configuration says */
	ov.interval = info->interval;
	if (config_load(&c.cfg, o->config, &ov, &e) < 0) {
		errors_print(&e, stderr);
		errors_free(&e);
		trace_close_read(tr);
		config_free(&c.cfg);
		return 1;
	}
	errors_free(&e);
	if (!info->complete)
		fprintf(stderr, "vnumad-sim: %s: replaying the %llu complete ticks of a "
			"trace cut short\n", path, (unsigned long long)info->nr_ticks);
	c.verbose = o->verbose > 0;
	c.backend.ops = &trace_backend_ops;
	c.backend.priv = tr;		/* the backend owns it from here */
	c.sampler.ops = &trace_sampler_ops;
	if (core_open(&c, NULL, o->json ? VN_OUT_JSON : VN_OUT_TEXT, stdout) < 0) {
		if (c.backend.priv == tr)
			trace_close_read(tr);	/* open() never took it */
		goto out;
	}
	for (uint64_t k = 0; k < info->nr_ticks; k++) {
		if (core_tick(&c) < 0) {
			fprintf(stderr, "vnumad-sim: %s: tick %llu could not be replayed\n",
				path, (unsigned long long)k + 1);
			goto out;
		}
		recommended += (uint64_t)c.dec.nr_accepted;
	}
	fprintf(stderr, "vnumad-sim: %s: %llu ticks recorded by vnumad %s (backend %s, "
		"sampling %s, %s) replayed with policy %s: %llu recommendations\n", path,
		(unsigned long long)info->nr_ticks, info->vnumad_version, info->backend,
		info->sampler, info->source, c.policy.desc->name,
		(unsigned long long)recommended);
	ret = 0;
out:
	core_close(&c);
	config_free(&c.cfg);
	return ret;
}
