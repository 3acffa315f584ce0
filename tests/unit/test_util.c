// SPDX-License-Identifier: MIT
/*
 * Value parsers and formatters of rebalancer/base/util.c: every accepted form
 * (units, case, blanks, fractions), every error path, and round trips
 * through the formatters. The tables give the input and the exact result,
 * so that a change of meaning fails here rather than in someone's config.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* A parse that must succeed with this result. */
struct ok_case {
	const char *in;
	double want;
};

/* A parse that must fail with this explanation. */
struct err_case {
	const char *in;
	const char *why;
};

#define UNIT_MSG	"unknown unit (use ns, us, ms, s, min, h or d)"
#define SIZE_UNIT_MSG	"unknown unit (use B, KiB, MiB, GiB, TiB or kB, MB, GB, TB)"
#define PCT_MSG		"not a percentage (use 30% or 0.3)"
#define BOOL_MSG	"not a boolean (use yes or no)"
#define MASK_MSG	"not a node list (use 0-3,5; nodes 0 to 63)"

/* Relative comparison, for results computed with a multiplier. */
static void assert_close(double got, double want, const char *in)
{
	double tol = fabs(want) * 1e-12 + 1e-18;

	if (fabs(got - want) > tol)
		fail_msg("'%s': got %.17g, want %.17g", in, got, want);
}

static void assert_why(int r, const char *why, const char *in, const char *want)
{
	if (r != -1)
		fail_msg("'%s': accepted, want error '%s'", in, want);
	if (!why || strcmp(why, want) != 0)
		fail_msg("'%s': why '%s', want '%s'", in, why ? why : "(null)", want);
}

/* ---- durations ---- */

static void duration_accepts(void **state)
{
	static const struct ok_case cases[] = {
		{ "500ms", 0.5 }, { "2s", 2 }, { "1.5min", 90 }, { "1h", 3600 },
		{ "250us", 250e-6 }, { "5ns", 5e-9 }, { "1d", 86400 },
		{ "5sec", 5 }, { "2m", 120 }, { "3", 3 }, { "0", 0 },
		{ ".5s", 0.5 }, { "1e3ms", 1 }, { "0.25", 0.25 },
		/* case and blanks */
		{ "3S", 3 }, { "1MIN", 60 }, { "10Ms", 0.01 }, { "1H", 3600 },
		{ " 3 ", 3 }, { "1.5 h", 5400 }, { "\t2s\t", 2 }, { "+5s", 5 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = -1;

		if (parse_duration(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		assert_close(v, cases[i].want, cases[i].in);
	}
}

static void duration_refuses(void **state)
{
	static const struct err_case cases[] = {
		{ "", "empty value" }, { "   ", "empty value" },
		{ "-1s", "negative duration" }, { "-0.5", "negative duration" },
		{ "5x", UNIT_MSG }, { "5 s x", UNIT_MSG }, { "5 5", UNIT_MSG },
		{ "1,5s", UNIT_MSG }, { "5mins", UNIT_MSG }, { "5 seconds", UNIT_MSG },
		{ "s", "not a number" }, { "ms", "not a number" },
		{ "nan", "not a number" }, { "NaN s", "not a number" },
		{ "inf", "not a number" }, { "infinity", "not a number" },
		{ "1e400", "not a number" }, { "1e400s", "not a number" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = 42;
		int r = parse_duration(cases[i].in, &v, &why);

		assert_why(r, why, cases[i].in, cases[i].why);
		/* a refused value leaves the output alone */
		assert_true(v == 42);
	}
}

/* ---- sizes ---- */

static void size_accepts(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} cases[] = {
		{ "0", 0 }, { "123", 123 }, { "1b", 1 }, { "1B", 1 },
		{ "1k", 1024 }, { "1K", 1024 }, { "1KiB", 1024 }, { "1kib", 1024 },
		{ "1kB", 1000 }, { "1KB", 1000 },
		{ "512MiB", 512 * MiB }, { "4M", 4 * MiB }, { "2MB", 2000000 },
		{ "4G", 4 * GiB }, { "4g", 4 * GiB }, { "4GiB", 4 * GiB },
		{ "1.5GB", 1500000000 }, { "1.5GiB", 3 * GiB / 2 },
		{ "1T", 1024 * GiB }, { "1TiB", 1024 * GiB }, { "1TB", 1000000000000ULL },
		{ "0.5KiB", 512 }, { "1e3", 1000 },
		/* blanks between and around */
		{ "4 KiB", 4096 }, { " 2 mib ", 2 * MiB }, { "\t8\tk", 8192 },
		/* the largest values below 2^64 */
		{ "16777215TiB", 16777215ULL * 1024 * GiB },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		uint64_t v = 7;

		if (parse_size(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		if (v != cases[i].want)
			fail_msg("'%s': got %llu, want %llu", cases[i].in,
				 (unsigned long long)v, (unsigned long long)cases[i].want);
	}
}

static void size_refuses(void **state)
{
	static const struct err_case cases[] = {
		{ "", "empty value" }, { " ", "empty value" },
		{ "-1", "negative size" }, { "-4GiB", "negative size" },
		{ "1XB", SIZE_UNIT_MSG }, { "16EiB", SIZE_UNIT_MSG },
		{ "4 GiB x", SIZE_UNIT_MSG }, { "4GiBs", SIZE_UNIT_MSG },
		{ "4Gi", SIZE_UNIT_MSG }, { "4 4", SIZE_UNIT_MSG },
		{ "GiB", "not a number" }, { "nan", "not a number" },
		{ "inf", "not a number" }, { "1e400", "not a number" },
		/* overflow of 64 bits, with and without a unit */
		{ "16777216TiB", "size too large" },
		{ "17179869184GiB", "size too large" },
		{ "18446744073709551616", "size too large" },
		{ "1e30", "size too large" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		uint64_t v = 42;
		int r = parse_size(cases[i].in, &v, &why);

		assert_why(r, why, cases[i].in, cases[i].why);
		assert_true(v == 42);
	}
}

/* ---- rates ---- */

static void rate_accepts(void **state)
{
	static const struct ok_case cases[] = {
		{ "256MiB", 256.0 * MiB }, { "256MiB/s", 256.0 * MiB },
		{ "256mib/S", 256.0 * MiB }, { "1GB/s", 1e9 }, { "1/s", 1 },
		{ "512", 512 }, { "1.5KiB/s", 1536 }, { "256MiB/s ", 256.0 * MiB },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = -1;

		if (parse_rate(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		assert_close(v, cases[i].want, cases[i].in);
	}
}

static void rate_refuses(void **state)
{
	static const struct err_case cases[] = {
		{ "256MiB/min", "a rate is a size per second, such as 256MiB/s" },
		{ "256MiB/", "a rate is a size per second, such as 256MiB/s" },
		{ "256MiB/h", "a rate is a size per second, such as 256MiB/s" },
		{ "1/s/s", "a rate is a size per second, such as 256MiB/s" },
		{ "/s", "empty value" }, { "", "empty value" },
		{ "-1/s", "negative size" }, { "5 parsecs/s", SIZE_UNIT_MSG },
		{ "nan/s", "not a number" },
		{ "1111111111111111111111111111111111111111111111111111111111111111/s",
		  "value too long" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = 42;
		int r = parse_rate(cases[i].in, &v, &why);

		assert_why(r, why, cases[i].in, cases[i].why);
		assert_true(v == 42);
	}
}

/* ---- percentages ---- */

static void percent_accepts(void **state)
{
	static const struct ok_case cases[] = {
		{ "30%", 0.3 }, { "0.3", 0.3 }, { " 30 % ", 0.3 }, { "30 %", 0.3 },
		{ "0%", 0 }, { "100%", 1 }, { "150%", 1.5 }, { "2.5%", 0.025 },
		{ "1e2%", 1 }, { "1", 1 }, { "0", 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = -1;

		if (parse_percent(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		assert_close(v, cases[i].want, cases[i].in);
	}
}

static void percent_refuses(void **state)
{
	static const struct err_case cases[] = {
		{ "", "empty value" }, { "  ", "empty value" },
		{ "abc", "not a number" }, { "%", "not a number" },
		{ "nan%", "not a number" }, { "inf", "not a number" },
		{ "30 %x", PCT_MSG }, { "30%%", PCT_MSG }, { "0.3x", PCT_MSG },
		{ "30 percent", PCT_MSG }, { "3 0%", PCT_MSG },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = 42;
		int r = parse_percent(cases[i].in, &v, &why);

		assert_why(r, why, cases[i].in, cases[i].why);
		assert_true(v == 42);
	}
}

/* ---- booleans ---- */

static void bool_accepts(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} cases[] = {
		{ "yes", true }, { "YES", true }, { "Yes", true }, { "true", true },
		{ "TRUE", true }, { "on", true }, { "On", true }, { "1", true },
		{ "no", false }, { "No", false }, { "false", false },
		{ "FALSE", false }, { "off", false }, { "OFF", false }, { "0", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		bool v = !cases[i].want;

		if (parse_bool(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		if (v != cases[i].want)
			fail_msg("'%s': got %d", cases[i].in, v);
	}
}

static void bool_refuses(void **state)
{
	static const char *const cases[] = {
		"", "y", "n", "2", "-1", "yess", "enabled", "nein", "t", "10",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		bool v = true;
		int r = parse_bool(cases[i], &v, &why);

		assert_why(r, why, cases[i], BOOL_MSG);
		assert_true(v);
	}
}

/* ---- integers and reals ---- */

static void long_accepts(void **state)
{
	static const struct {
		const char *in;
		long want;
	} cases[] = {
		{ "42", 42 }, { " -42 ", -42 }, { "+7", 7 }, { "0", 0 },
		{ "010", 10 },	/* decimal, not octal */
		{ "9223372036854775807", 9223372036854775807L },
		{ "-9223372036854775808", -9223372036854775807L - 1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		long v = -1;

		if (parse_long(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		if (v != cases[i].want)
			fail_msg("'%s': got %ld", cases[i].in, v);
	}
}

static void long_refuses(void **state)
{
	static const struct err_case cases[] = {
		{ "", "not an integer" }, { "  ", "not an integer" },
		{ "abc", "not an integer" }, { "12abc", "not an integer" },
		{ "1.5", "not an integer" }, { "0x10", "not an integer" },
		{ "1e3", "not an integer" }, { "1 2", "not an integer" },
		{ "9223372036854775808", "integer out of range" },
		{ "-9223372036854775809", "integer out of range" },
		{ "99999999999999999999999", "integer out of range" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		long v = 0;

		int r = parse_long(cases[i].in, &v, &why);

		assert_why(r, why, cases[i].in, cases[i].why);
	}
}

static void double_accepts(void **state)
{
	static const struct ok_case cases[] = {
		{ "1.5", 1.5 }, { " 2 ", 2 }, { "1e3", 1000 }, { "-2.5", -2.5 },
		{ "1000000", 1e6 }, { "1e12", 1e12 }, { ".25", 0.25 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = -1;

		if (parse_double(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		assert_close(v, cases[i].want, cases[i].in);
	}
}

static void double_refuses(void **state)
{
	static const struct err_case cases[] = {
		{ "", "empty value" }, { "\t", "empty value" },
		{ "x", "not a number" }, { "nan", "not a number" },
		{ "-nan", "not a number" }, { "inf", "not a number" },
		{ "-inf", "not a number" }, { "1e400", "not a number" },
		{ "-1e400", "not a number" },
		{ "1.5x", "trailing characters after the number" },
		{ "1 2", "trailing characters after the number" },
		{ "5%", "trailing characters after the number" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		double v = 0;

		int r = parse_double(cases[i].in, &v, &why);

		assert_why(r, why, cases[i].in, cases[i].why);
	}
}

/* ---- node masks ---- */

static void nodemask_accepts(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} cases[] = {
		{ "0", 0x1 }, { "0-3,5", 0x2f }, { "0-3, 5", 0x2f },
		{ " 1 , 2 ", 0x6 }, { "63", 1ULL << 63 }, { "0-63", UINT64_MAX },
		{ "1-1", 0x2 }, { "5,0-3", 0x2f }, { "1,1,1", 0x2 },
		{ "0,63", 0x8000000000000001ULL }, { "2-3,1-2", 0xe },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		uint64_t v = 0;

		if (parse_nodemask(cases[i].in, &v, &why) != 0)
			fail_msg("'%s': refused: %s", cases[i].in, why);
		if (v != cases[i].want)
			fail_msg("'%s': got %#llx, want %#llx", cases[i].in,
				 (unsigned long long)v, (unsigned long long)cases[i].want);
	}
}

static void nodemask_refuses(void **state)
{
	static const struct err_case cases[] = {
		{ "", "empty node list" },
		{ "64", MASK_MSG }, { "-1", MASK_MSG }, { "a", MASK_MSG },
		{ ",", MASK_MSG }, { "1,,2", MASK_MSG }, { "x-3", MASK_MSG },
		{ "99999999999999999999", MASK_MSG },
		{ "3-1", "bad node range" }, { "0-", "bad node range" },
		{ "0-64", "bad node range" }, { "1--2", "bad node range" },
		{ "1 2", "not a node list (use 0-3,5)" },
		{ "2-3x", "not a node list (use 0-3,5)" },
		{ "1;2", "not a node list (use 0-3,5)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		uint64_t v = 42;
		int r = parse_nodemask(cases[i].in, &v, &why);

		assert_why(r, why, cases[i].in, cases[i].why);
		assert_true(v == 42);
	}
}

/* ---- formatting ---- */

static void size_format(void **state)
{
	static const struct {
		uint64_t in;
		const char *want;
	} cases[] = {
		{ 0, "0 B" }, { 1, "1 B" }, { 1023, "1023 B" },
		{ 1024, "1.00 KiB" }, { 1536, "1.50 KiB" }, { 10 * KiB, "10.0 KiB" },
		{ 100 * MiB, "100 MiB" }, { 256 * MiB, "256 MiB" },
		{ GiB, "1.00 GiB" }, { 3 * GiB / 2, "1.50 GiB" },
		{ 1024 * GiB, "1.00 TiB" }, { 2048 * 1024 * GiB, "2.00 PiB" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(fmt_size(buf, sizeof(buf), cases[i].in),
				    cases[i].want);
	/* a short buffer is cut, never overrun */
	assert_string_equal(fmt_size(buf, 4, 1536), "1.5");
}

static void duration_format(void **state)
{
	static const struct {
		double in;
		const char *want;
	} cases[] = {
		{ 0, "0s" }, { 1e-6, "1us" }, { 250e-6, "250us" },
		{ 0.001, "1ms" }, { 0.25, "250ms" }, { 1, "1s" }, { 2.5, "2.5s" },
		{ 1.25, "1250ms" }, { 1.234, "1234ms" }, { 90, "1.5min" },
		{ 120, "2min" }, { 600, "10min" }, { 5400, "1.5h" },
		{ 7200, "2h" }, { 86400, "1d" }, { 3601, "3601s" }, { 1e-7, "0.1us" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(fmt_duration(buf, sizeof(buf), cases[i].in),
				    cases[i].want);
}

/* Clock readings: one format, seconds below a minute, then a clock. */
static void elapsed_format(void **state)
{
	static const struct {
		double in;
		const char *want;
	} cases[] = {
		{ -1, "0s" }, { 0, "0s" }, { 0.5, "0.5s" }, { 2, "2s" }, { 2.5, "2.5s" },
		{ 59.4, "59.4s" }, { 59.6, "1m00s" }, { 60, "1m00s" }, { 62, "1m02s" },
		{ 66, "1m06s" }, { 572, "9m32s" }, { 1110, "18m30s" }, { 3599.4, "59m59s" },
		{ 3600, "1h00m" }, { 7500, "2h05m" }, { 86400, "1d00h" },
		{ 3 * 86400 + 4 * 3600 + 59, "3d04h" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(fmt_elapsed(buf, sizeof(buf), cases[i].in),
				    cases[i].want);
}

/* What the formatters print, the parsers read back (to the printed precision). */
static void format_round_trips(void **state)
{
	static const double durs[] = { 0, 250e-6, 0.1, 0.5, 2, 2.5, 90, 600,
				       5400, 7200, 86400, 7 * 86400.0 };
	static const uint64_t sizes[] = { 0, 1, 1023, 1024, 1536, 512 * MiB,
					  GiB, 3 * GiB / 2, 1024 * GiB };
	static const uint64_t masks[] = { 1, 0x2f, 0xf0f0, 1ULL << 63, UINT64_MAX,
					  0x5555555555555555ULL,
					  0x8000000000000001ULL, 0x7ffe };
	char buf[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
		const char *why = NULL;
		double v = -1;

		fmt_duration(buf, sizeof(buf), durs[i]);
		if (parse_duration(buf, &v, &why) != 0)
			fail_msg("%g printed as '%s', refused: %s", durs[i], buf, why);
		assert_close(v, durs[i], buf);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		const char *why = NULL;
		uint64_t v = 7;

		fmt_size(buf, sizeof(buf), sizes[i]);
		if (parse_size(buf, &v, &why) != 0)
			fail_msg("%llu printed as '%s', refused: %s",
				 (unsigned long long)sizes[i], buf, why);
		assert_true(v == sizes[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(masks); i++) {
		const char *why = NULL;
		uint64_t v = 0;

		fmt_nodemask(buf, sizeof(buf), masks[i]);
		if (parse_nodemask(buf, &v, &why) != 0)
			fail_msg("%#llx printed as '%s', refused: %s",
				 (unsigned long long)masks[i], buf, why);
		if (v != masks[i])
			fail_msg("'%s' read back as %#llx", buf, (unsigned long long)v);
	}
}

static void nodemask_format(void **state)
{
	char buf[128], small[8];

	(void)state;
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), 0), "");
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), 1), "0");
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), 0xf), "0-3");
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), 0x2f), "0-3,5");
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), 0x5), "0,2");
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), 1ULL << 63), "63");
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), UINT64_MAX), "0-63");
	assert_string_equal(fmt_nodemask(buf, sizeof(buf), 0xc000000000000003ULL),
			    "0-1,62-63");
	/* cut at the buffer's end, terminated, never overrun */
	memset(small, 'x', sizeof(small));
	fmt_nodemask(small, sizeof(small), 0x5555555555555555ULL);
	assert_true(memchr(small, '\0', sizeof(small)) != NULL);
	assert_string_equal(small, "0,2,4,6");
}

/* ---- lists and globs ---- */

static void list_split(void **state)
{
	char s1[] = "a, b ,,c,  ,d ";
	char s2[] = "";
	char s3[] = " , ,";
	char s4[] = "one";
	char s5[] = "a,b,c";
	char *items[4];

	(void)state;
	assert_int_equal(split_list(s1, items, 4), 4);
	assert_string_equal(items[0], "a");
	assert_string_equal(items[1], "b");
	assert_string_equal(items[2], "c");
	assert_string_equal(items[3], "d");
	assert_int_equal(split_list(s2, items, 4), 0);
	assert_int_equal(split_list(s3, items, 4), 0);
	assert_int_equal(split_list(s4, items, 1), 1);
	assert_string_equal(items[0], "one");
	/* more items than room */
	assert_int_equal(split_list(s5, items, 2), -1);
	{
		int n;
		char **v = split_list_dup("a, b*,, c? ,", &n);

		assert_int_equal(n, 3);
		assert_string_equal(v[0], "a");
		assert_string_equal(v[1], "b*");
		assert_string_equal(v[2], "c?");
		assert_null(v[3]);
		strv_free(v);
		v = split_list_dup("", &n);
		assert_int_equal(n, 0);
		assert_null(v[0]);
		strv_free(v);
		strv_free(NULL);
	}
}

static void medians(void **state)
{
	double one[] = { 7 }, odd[] = { 3, -1, 2 }, even[] = { 4, 1, 3, 2 };

	(void)state;
	assert_true(median(one, 1) == 7);
	assert_true(median(odd, 3) == 2);
	assert_true(odd[0] == -1 && odd[2] == 3);	/* sorted in place */
	assert_true(median(even, 4) == 2.5);
}

static void glob_patterns(void **state)
{
	(void)state;
	assert_true(glob_match("web-*", "web-01"));
	assert_true(glob_match("web-*", "web-"));
	assert_false(glob_match("web-*", "db-01"));
	assert_true(glob_match("vm?", "vm1"));
	assert_false(glob_match("vm?", "vm10"));
	assert_true(glob_match("[ab]*", "backup"));
	assert_false(glob_match("[ab]*", "cache"));
	assert_true(glob_match("exact", "exact"));
	assert_false(glob_match("exact", "exactly"));
	assert_true(glob_match("*", ""));
}

/* What is shown of a foreign string: one line, no escape, valid UTF-8. */
static void text_cleaned(void **state)
{
	char buf[64], small[6];
	char same[] = "a\nb\xff\xc3\xa9";

	(void)state;
	assert_string_equal(clean_text(buf, sizeof(buf), "plain words, caf\xc3\xa9 \xe2\x82\xac"),
			    "plain words, caf\xc3\xa9 \xe2\x82\xac");
	/* a forged line, an escape sequence, a carriage return, a tab */
	assert_string_equal(clean_text(buf, sizeof(buf), "ok\nvnumad: error: forged"),
			    "ok?vnumad: error: forged");
	assert_string_equal(clean_text(buf, sizeof(buf), "\x1b[2J\x1b]0;title\a\r\t\x7f"),
			    "?[2J?]0;title????");
	/* C1 controls (CSI is U+009B), separators, bidirectional overrides */
	assert_string_equal(clean_text(buf, sizeof(buf), "\xc2\x9b" "31m \xe2\x80\xa8 \xe2\x80\xae "
				       "\xe2\x81\xa6 \xc2\xa0"), "?31m ? ? ? \xc2\xa0");
	/* bytes that are not UTF-8: stray, overlong, surrogate, cut short */
	assert_string_equal(clean_text(buf, sizeof(buf), "\xff\xc0\xaf\xed\xa0\x80\xe2\x82"),
			    "????????");
	/* cut at a character boundary, never inside one */
	assert_string_equal(clean_text(small, sizeof(small), "abcd\xc3\xa9"), "abcd");
	assert_string_equal(clean_text(small, sizeof(small), "ab\xe2\x82\xacz"), "ab\xe2\x82\xac");
	assert_string_equal(clean_text(small, 1, "abc"), "");
	/* in place */
	assert_string_equal(clean_text(same, sizeof(same), same), "a?b?\xc3\xa9");
	assert_int_equal(utf8_len("\xf0\x9f\x98\x80"), 4);
	assert_int_equal(utf8_len("\xf4\x90\x80\x80"), 0);	/* above U+10FFFF */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(duration_accepts),
		cmocka_unit_test(duration_refuses),
		cmocka_unit_test(size_accepts),
		cmocka_unit_test(size_refuses),
		cmocka_unit_test(rate_accepts),
		cmocka_unit_test(rate_refuses),
		cmocka_unit_test(percent_accepts),
		cmocka_unit_test(percent_refuses),
		cmocka_unit_test(bool_accepts),
		cmocka_unit_test(bool_refuses),
		cmocka_unit_test(long_accepts),
		cmocka_unit_test(long_refuses),
		cmocka_unit_test(double_accepts),
		cmocka_unit_test(double_refuses),
		cmocka_unit_test(nodemask_accepts),
		cmocka_unit_test(nodemask_refuses),
		cmocka_unit_test(size_format),
		cmocka_unit_test(duration_format),
		cmocka_unit_test(elapsed_format),
		cmocka_unit_test(nodemask_format),
		cmocka_unit_test(format_round_trips),
		cmocka_unit_test(list_split),
		cmocka_unit_test(glob_patterns),
		cmocka_unit_test(medians),
		cmocka_unit_test(text_cleaned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
