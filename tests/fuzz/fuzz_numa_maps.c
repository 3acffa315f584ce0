// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the numa_maps parser, on the buffer as it comes and cut at
 * every possible chunk boundary of the streaming reader (through a file).
 */
#include "fuzz.h"
#include "sampling.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t mem[VN_MAX_NODES], mem2[VN_MAX_NODES];
	int r, r2;

	r = numa_maps_parse((const char *)data, size, mem);
	r2 = numa_maps_read_path(fuzz_as_file(data, size), mem2);
	/* the two ways of reading the same text agree */
	if (r >= 0 && r2 == 0 && memcmp(mem, mem2, sizeof(mem)) != 0)
		abort();
	return 0;
}
