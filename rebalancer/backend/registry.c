// SPDX-License-Identifier: MIT
/* The backends and counter sources built into this vnumad. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "registry.h"
#include "sampling.h"

static const struct vn_backend_ops *const backends[] = {
	&libvirt_backend_ops,
	&proc_backend_ops,
	&sim_backend_ops,
	NULL,
};

const struct vn_backend_ops *registry_backend(const char *name)
{
	for (int i = 0; backends[i]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const struct vn_sampler_ops *registry_sampler(const struct vn_backend_ops *b,
					      const struct vn_config *cfg)
{
	const struct vn_sampler_ops *s;
	char why[SAMPLING_REASON_MAX] = "";

	if (b == &sim_backend_ops)
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

int registry_pick(struct vn_core *c)
{
	const char *name = vn_backend_names[c->cfg.backend];

	if (!c->backend.ops)
		c->backend.ops = registry_backend(name);
	if (!c->backend.ops) {
		log_warnx("backend %s is not available in this version of vnumad "
			  "(built in: libvirt, proc, sim)", name);
		return -ENOTSUP;
	}
	if (!c->sampler.ops)
		c->sampler.ops = registry_sampler(c->backend.ops, &c->cfg);
	if (!c->sampler.ops) {
		log_warnx("no counter source for backend %s", c->backend.ops->name);
		return -ENOTSUP;
	}
	return 0;
}
