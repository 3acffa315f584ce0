// SPDX-License-Identifier: MIT
/* The backends and counter sources built into this vnumad. */
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "hostinfo.h"
#include "log.h"
#include "sampling.h"
#include "vnumad.h"

static const struct vn_backend_ops *const backends[] = {
	&libvirt_backend_ops,
	&proc_backend_ops,
	&sim_backend_ops,
	NULL,
};

const struct vn_backend_ops *backend_lookup(const char *name)
{
	for (int i = 0; backends[i]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

/*
 * A model backend brings its own counters; a real host uses the source the
 * configuration asks for, and the reason for the choice is logged once.
 */
const struct vn_sampler_ops *sampler_for(const struct vn_backend *b,
					 const struct vn_config *cfg)
{
	const struct vn_sampler_ops *s;
	char why[256] = "";

	if (b->ops == &sim_backend_ops)
		return &sim_sampler_ops;
	s = sampling_select(cfg, why, sizeof(why));
	if (why[0]) {
		if (s)
			log_info("sampling: %s", why);
		else
			log_warnx("sampling: %s", why);
	}
	return s;
}
