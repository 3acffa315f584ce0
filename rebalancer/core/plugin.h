/* SPDX-License-Identifier: MIT */
#ifndef VN_PLUGIN_H
#define VN_PLUGIN_H

#include "ini.h"
#include "policy.h"

/*
 * Loads a policy plugin: opens it once, refuses a file or a directory on
 * its path that others can write or that a user other than root or the
 * daemon's user owns (checked on the descriptors opened), dlopens that
 * descriptor RTLD_NOW|RTLD_LOCAL and checks the policy's descriptor. Every
 * problem is an error naming the file.
 */
const struct vnumad_policy *plugin_load(const char *path, void **handle,
					struct vn_errors *e);
/* The descriptor of the file a handle was loaded from (for the worker). */
int plugin_fd(const void *handle);
void plugin_unload(void *handle);
/* Checks a descriptor (built in or loaded); errors name `where`. */
int plugin_check(const struct vnumad_policy *p, const char *where,
		 struct vn_errors *e);
/* Prints a policy's options as `vnumad --help-policy` shows them. */
void plugin_print_help(const struct vnumad_policy *p, FILE *f);

#endif
