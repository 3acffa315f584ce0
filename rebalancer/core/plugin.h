/* SPDX-License-Identifier: MIT */
#ifndef VN_PLUGIN_H
#define VN_PLUGIN_H

#include <stdbool.h>

#include "ini.h"
#include "policy.h"

struct vn_config;

/*
 * Loads a policy plugin: opens it once, refuses a file or a directory on
 * its path that others can write or that a user other than root or the
 * daemon's user owns (checked on the descriptors opened), and checks the
 * policy's descriptor. With `worker` (a configuration: its [policy] worker
 * settings), the plugin is never mapped into this process: a describer of
 * that configuration loads it from the descriptor opened and tells its
 * descriptor (worker_describe). Without, that descriptor is dlopen()ed
 * RTLD_NOW|RTLD_LOCAL here. Every problem is an error naming the file.
 */
const struct vnumad_policy *plugin_load(const char *path, const struct vn_config *worker,
					void **handle, struct vn_errors *e);
/* The descriptor of the file a handle was loaded from (for the worker). */
int plugin_fd(const void *handle);
/* The plugin was described by a worker, not loaded: it can run in one only. */
bool plugin_described(const void *handle);
void plugin_unload(void *handle);
/* Checks a descriptor (built in or loaded); errors name `where`. */
int plugin_check(const struct vnumad_policy *p, const char *where,
		 struct vn_errors *e);
/* Prints a policy's options as `vnumad --help-policy` shows them. */
void plugin_print_help(const struct vnumad_policy *p, FILE *f);

#endif
