// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the configuration file, through config_load as the daemon
 * reads it (iniparser, every typed value parser, the policy's own keys).
 */
#include <stdio.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct vn_errors e = { 0 };
	struct vn_config c;

	if (!quiet) {
		log_init(true, LOG_ERR, "fuzz");
		quiet = 1;
	}
	/* a policy plugin by path would be dlopen'ed: not this target's business */
	if (memmem(data, size, "/", 1) && memmem(data, size, "name", 4) &&
	    memmem(data, size, ".so", 3))
		return 0;
	config_load(&c, fuzz_as_file(data, size), NULL, &e);
	errors_free(&e);
	config_free(&c);
	return 0;
}
