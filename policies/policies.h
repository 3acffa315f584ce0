/* SPDX-License-Identifier: MIT */
#ifndef VN_POLICIES_H
#define VN_POLICIES_H

#include "policy.h"

/* The policies built into vnumad, one file each. */
extern const struct vnumad_policy vn_policy_locality;

/* A built-in policy by name, or NULL. */
const struct vnumad_policy *policy_builtin(const char *name);
/* "a, b, c": the names, for messages. */
const char *policy_builtin_names(void);
/* NULL-terminated list of the built-in policies. */
extern const struct vnumad_policy *const vn_builtin_policies[];

#endif
