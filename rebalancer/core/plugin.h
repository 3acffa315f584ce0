/* SPDX-License-Identifier: MIT */
#ifndef VN_PLUGIN_H
#define VN_PLUGIN_H

#include "ini.h"
#include "policy.h"

/*
 * Loads a policy plugin: refuses a file that others can write or that a user
 * other than root or the daemon's user owns, dlopens it RTLD_NOW|RTLD_LOCAL
 * and checks its descriptor. Every problem is an error naming the file.
 */
const struct vnumad_policy *plugin_load(const char *path, void **handle,
					struct vn_errors *e);
void plugin_unload(void *handle);
/* Checks a descriptor (built in or loaded); errors name `where`. */
int plugin_check(const struct vnumad_policy *p, const char *where,
		 struct vn_errors *e);
/* Prints a policy's options as `vnumad --help-policy` shows them. */
void plugin_print_help(const struct vnumad_policy *p, FILE *f);

#endif
