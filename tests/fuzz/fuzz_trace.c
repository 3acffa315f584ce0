// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the trace reader (vnumad --record files, read back by
 * vnumad-sim replay): open and check, then every tick. Every record carries
 * a CRC-32 that a mutated input almost never matches, so each input is read
 * twice: as it is (the checks that refuse it), and with every record's CRC
 * made right (the decoding of the payloads behind those checks).
 */
#include "fuzz.h"
#include "log.h"
#include "trace.h"

#define HEADER_LEN	16

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Rewrites the CRC of every record that fits in the buffer. */
static void fix_crcs(uint8_t *p, size_t size)
{
	size_t off = HEADER_LEN;

	while (off + 12 <= size) {
		uint32_t len = get_u32(p + off + 4), crc;

		if (len > size - off - 12)
			break;
		crc = trace_crc32(0, p + off, 8 + (size_t)len);
		for (int i = 0; i < 4; i++)
			p[off + 8 + len + i] = (uint8_t)(crc >> (8 * i));
		off += 12 + (size_t)len;
	}
}

static void read_all(const uint8_t *data, size_t size)
{
	for (unsigned flags = 0; flags <= VN_TRACE_PARTIAL; flags += VN_TRACE_PARTIAL) {
		struct vn_errors e = { 0 };
		struct vn_trace_reader *r;

		/* both ways: a complete file, and one that may be cut short */
		r = trace_open_read(fuzz_as_file(data, size), flags, &e);
		if (r) {
			trace_reader_info(r);
			while (trace_next_tick(r))
				;
			trace_close_read(r);
		}
		errors_free(&e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	uint8_t *fixed;

	if (!quiet) {
		log_init(true, LOG_ERR, "fuzz");
		quiet = 1;
	}
	read_all(data, size);
	fixed = malloc(size ? size : 1);
	if (!fixed)
		abort();
	memcpy(fixed, data, size);
	fix_crcs(fixed, size);
	if (memcmp(fixed, data, size) != 0)
		read_all(fixed, size);
	free(fixed);
	return 0;
}
