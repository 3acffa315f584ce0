// SPDX-License-Identifier: MIT
/* The table of built-in policies. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "policies.h"

/* The order is the order `vnumad --help` lists them in: useful ones first. */
const struct vnumad_policy *const vn_builtin_policies[] = {
	&vn_policy_place,
	&vn_policy_locality,
	&vn_policy_spread,
	&vn_policy_brm,
	&vn_policy_numad,
	&vn_policy_static,
	&vn_policy_none,
	&vn_policy_chaos,
	NULL,
};

const struct vnumad_policy *policy_builtin(const char *name)
{
	for (int i = 0; vn_builtin_policies[i]; i++)
		if (strcmp(vn_builtin_policies[i]->name, name) == 0)
			return vn_builtin_policies[i];
	return NULL;
}

const char *policy_builtin_names(void)
{
	static char buf[256];
	size_t off = 0;

	if (buf[0])
		return buf;
	for (int i = 0; vn_builtin_policies[i]; i++) {
		int r = snprintf(buf + off, sizeof(buf) - off, "%s%s",
				 i ? ", " : "", vn_builtin_policies[i]->name);

		/* a truncated list still ends in a NUL; stop there */
		if (r < 0 || (size_t)r >= sizeof(buf) - off)
			break;
		off += r;
	}
	return buf;
}
