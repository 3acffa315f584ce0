// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the simulator's scenario parser (sim_load_text); a scenario
 * it accepts is also stepped once, so that values the parser lets through
 * reach the model.
 */
#include "fuzz.h"
#include "log.h"
#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct vn_errors e = { 0 };
	char *text = fuzz_as_text(data, size);
	struct sim *s;

	if (!quiet) {
		log_init(true, LOG_ERR, "fuzz");
		quiet = 1;
	}
	s = sim_load_text("fuzz.ini", text, &e);
	if (s) {
		sim_step(s, 1.0);
		sim_free(s);
	}
	errors_free(&e);
	free(text);
	return 0;
}
