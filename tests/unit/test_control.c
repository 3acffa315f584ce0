// SPDX-License-Identifier: MIT
/*
 * The control protocol, rebalancer/daemon/control.c, against a core on the
 * built-in simulated host, one request over a socket pair at a time: every
 * member of a request is checked for its type and range before it is used
 * (json_integer_value() reads a string as 0, and a cast to int made node
 * 4294967296 node 0), and a refused request moves nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "control.h"
#include "core.h"
#include "log.h"
#include "registry.h"

static struct vn_core core;
static struct event_base *base;
static struct vn_control *ctl;

/* Sends one request line and returns the first reply line (static buffer). */
static const char *ask(const char *req)
{
	static char reply[8192];
	size_t len = 0;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv), 0);
	control_adopt(ctl, sv[0]);
	assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
	assert_int_equal(write(sv[1], "\n", 1), 1);
	for (int round = 0; round < 100 && !memchr(reply, '\n', len); round++) {
		ssize_t r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		r = read(sv[1], reply + len, sizeof(reply) - 1 - len);
		if (r > 0)
			len += (size_t)r;
		else if (r == 0 || errno != EAGAIN)
			break;
	}
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	reply[len] = '\0';
	if (strchr(reply, '\n'))
		*strchr(reply, '\n') = '\0';
	return reply;
}

/* The node masks of every vCPU of every guest, to see that nothing moved. */
static void affinities(uint64_t *out, int max)
{
	int k = 0;

	for (int i = 0; i < core.host.nr_guests; i++)
		for (int v = 0; v < core.host.guests[i]->nr_vcpus && k < max; v++)
			out[k++] = core.host.guests[i]->vv[v].allowed;
}

static void expect_refused(const char *req, const char *want)
{
	uint64_t before[512] = { 0 }, after[512] = { 0 };
	const char *rep;

	affinities(before, 512);
	rep = ask(req);
	if (!strstr(rep, "\"ok\":false") || !strstr(rep, want))
		fail_msg("%s: got %s, want an error saying \"%s\"", req, rep, want);
	affinities(after, 512);
	assert_memory_equal(before, after, sizeof(before));
	assert_null(core.migrations);
}

static void members_checked(void **state)
{
	(void)state;
	/* the guest and the node are right: only the member in question is wrong */
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":4294967296}",
		       "migrate: node 4294967296 out of range (0 to 63)");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":-1}",
		       "migrate: node -1 out of range (0 to 63)");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":1.0}",
		       "migrate: needs a guest name and a target node");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":1,\"vcpus\":[\"x\"]}",
		       "migrate: vcpus must be an array of vCPU numbers");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":1,\"vcpus\":\"0-3\"}",
		       "migrate: vcpus must be an array of vCPU numbers");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":1,\"vcpus\":[99]}",
		       "migrate: vCPU 99 out of range (0 to 63)");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":1,\"vcpus\":[],"
		       "\"memory\":\"1GiB\"}",
		       "migrate: memory must be a number of bytes, not negative");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"web1\",\"to\":1,\"vcpus\":[],"
		       "\"memory\":-1}",
		       "migrate: memory must be a number of bytes, not negative");
	expect_refused("{\"cmd\":\"migrate\",\"guest\":\"legacy\",\"to\":1,\"force\":\"yes\"}",
		       "migrate: force must be true or false");
	expect_refused("{\"cmd\":\"place\",\"vcpus\":\"4\"}",
		       "place: vcpus must be 1 to 4096 and memory not negative");
	expect_refused("{\"cmd\":\"place\",\"vcpus\":4,\"memory\":\"8GiB\"}",
		       "place: vcpus must be 1 to 4096 and memory not negative");
	/* and a sound request still works */
	assert_non_null(strstr(ask("{\"cmd\":\"place\",\"vcpus\":2,\"memory\":1073741824}"),
			       "\"ok\":true"));
	assert_non_null(strstr(ask("{\"cmd\":\"status\"}"), "\"ok\":true"));
}

static int setup(void **state)
{
	struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .policy = "none",
				   .log_level = -1 };
	struct vn_errors e = { 0 };

	(void)state;
	log_init(true, LOG_CRIT, "test_control");
	base = event_base_new();
	assert_non_null(base);
	assert_int_equal(config_load(&core.cfg, NULL, &ov, &e), 0);
	errors_free(&e);
	assert_int_equal(registry_pick(&core), 0);
	assert_int_equal(core_open(&core, base, VN_OUT_NONE, stdout), 0);
	for (int i = 0; i < 8; i++)
		core_tick(&core);
	ctl = control_new(base, &core);
	assert_non_null(ctl);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	control_close(ctl);
	core_close(&core);
	config_free(&core.cfg);
	event_base_free(base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(members_checked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
