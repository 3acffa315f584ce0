// SPDX-License-Identifier: MIT
/*
 * none: no management at all; the tick proposes nothing.
 *
 * The baseline every other policy is measured against: what the host does
 * on its own, with the kernel scheduler placing vCPUs and first touch
 * placing memory. It is also the smallest complete policy -- no options,
 * no state, no init and no fini (NULL callbacks are allowed) -- and keeps
 * the core's sampling, model and advisory output running, so that
 * `vnumad --policy none --dry-run` is a pure monitor.
 *
 * Expected gain: none is ever claimed.
 */
#include "policies.h"

static int none_tick(void *priv, const struct vnumad_view *v,
		     struct vnumad_out *out)
{
	(void)priv;
	(void)v;
	(void)out;
	return 0;
}

const struct vnumad_policy vn_policy_none = {
	VNUMAD_POLICY_INIT,
	.name = "none",
	.description = "no management: proposes nothing (the baseline, or a pure monitor)",
	.tick = none_tick,
};
