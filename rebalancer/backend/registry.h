/* SPDX-License-Identifier: MIT */
/*
 * The backends and counter sources built into this vnumad. The core knows
 * them only through struct vn_backend_ops and struct vn_sampler_ops; its
 * callers (the daemon, vnumad-sim, the tests) pick them here and hand them
 * to core_open().
 */
#ifndef VN_REGISTRY_H
#define VN_REGISTRY_H

#include "vnumad.h"

struct vn_config;
struct vn_core;

extern const struct vn_backend_ops libvirt_backend_ops;	/* libvirt.c */
extern const struct vn_backend_ops proc_backend_ops;		/* proc.c */
extern const struct vn_backend_ops trace_backend_ops;		/* replay.c */
extern const struct vn_sampler_ops trace_sampler_ops;		/* replay.c */
extern const struct vn_backend_ops sim_backend_ops;		/* sim/ */
extern const struct vn_sampler_ops sim_sampler_ops;		/* sim/ */

/* A backend by its configuration name, or NULL. */
const struct vn_backend_ops *registry_backend(const char *name);
/*
 * The counter source for backend ops b under cfg: a model brings its own,
 * a real host gets what [sampling] source asks for, the reason logged once.
 */
const struct vn_sampler_ops *registry_sampler(const struct vn_backend_ops *b,
					      const struct vn_config *cfg);
/*
 * Fills c->backend.ops and c->sampler.ops from c->cfg where the caller has
 * not set them; returns 0, or -ENOTSUP after logging why.
 */
int registry_pick(struct vn_core *c);

#endif
