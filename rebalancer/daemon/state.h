/* SPDX-License-Identifier: MIT */
#ifndef VN_STATE_H
#define VN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct vn_core;

/* What a manual move started. */
struct vn_manual {
	uint64_t tag;		/* its migrations carry this tag */
	int vcpus;		/* vCPUs moved */
	int migrations;		/* memory migrations started */
	uint64_t bytes;		/* memory asked to move */
};

/* The state `vnumad status` shows: nodes, guests, trials, quarantines. */
json_t *state_json(const struct vn_core *c);
/*
 * The best node set for a guest of ncpus vCPUs and mem bytes about to
 * start; 0, or -ENOSPC with the nearest best set when the host is too full.
 * why says it in words.
 */
int state_place(const struct vn_core *c, int ncpus, uint64_t mem,
		uint64_t *nodes, char *why, size_t len);
/*
 * An operator's move of a guest's vCPUs (all, or the mask vcpus) and/or mem
 * bytes of its memory to node `to`, through the same actuation and guard as
 * the policy's moves; 0 or a negative errno, why says it in words.
 */
int state_migrate(struct vn_core *c, const char *guest, int to, uint64_t mem,
		  bool all_vcpus, uint64_t vcpus, bool force,
		  struct vn_manual *out, char *why, size_t len);

#endif
