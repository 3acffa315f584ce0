// SPDX-License-Identifier: MIT
/*
 * The policy worker's wire (rebalancer/core/wire.c): a view packed into a
 * flat map and rebuilt comes back equal, member for member, pointing into
 * the map; a map that is cut short, of another tick or build, or whose
 * offsets lead outside is refused; messages keep their boundaries and
 * descriptors, refusing what is not one; and a plugin's descriptor told by
 * its describer comes back equal, while a description a hostile worker
 * could send (cut short, offsets outside, strings without an end, too many
 * options) is refused, as is packing one beyond the limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

#define NG	4
#define MAP	(1 << 20)

/* A view and everything it points to, with figures in every member. */
struct tv {
	struct vnumad_node nodes[3];
	struct vnumad_node_info info[3];
	uint8_t dist[9];
	struct vnumad_guest g[NG];
	struct vnumad_vcpu vc[NG][5];
	uint64_t vm[NG][2 * VNUMAD_MAX_NODES];	/* per-vnode memory (1.2) */
	const struct vnumad_guest *gp[NG];
	struct vnumad_view v;
};

static struct tv T;
static uint8_t map[MAP] __attribute__((aligned(64)));

static void fill(void)
{
	static const char *const names[NG] = { "web1", "a-guest-with-a-long-name", "", "db" };
	static const int nv[NG] = { 2, 5, 0, 1 };

	memset(&T, 0, sizeof(T));
	for (int n = 0; n < 3; n++) {
		T.nodes[n] = (struct vnumad_node){ .id = n, .nr_cpus = 8 + n,
			.mem_total = 64ULL << 30, .mem_free = (10ULL + n) << 30,
			.cpu_load = 0.25 * n, .bw_used = 1e9 * n, .bw_max = 4e10 };
		T.info[n] = (struct vnumad_node_info){ .bw_max_source = VNUMAD_SRC_HMAT,
			.bw_used_source = VNUMAD_SRC_UNCORE, .read_latency = 80 + n,
			.write_latency = 90 + n, .read_bandwidth = 3e10, .write_bandwidth = 2e10 };
		for (int m = 0; m < 3; m++)
			T.dist[n * 3 + m] = n == m ? 10 : (uint8_t)(20 + n + m);
	}
	for (int i = 0; i < NG; i++) {
		struct vnumad_guest *g = &T.g[i];

		g->name = names[i];
		g->flags = (unsigned)i;
		g->nr_vcpus = nv[i];
		g->vcpus = T.vc[i];
		for (int n = 0; n < VNUMAD_MAX_NODES; n++)
			g->mem[n] = (uint64_t)(i + 1) * 1000 + (uint64_t)n;
		g->mem_total = 123456789ULL * (uint64_t)(i + 1);
		g->quarantine = 0x5ULL << i;
		g->ips = 1e9 * (i + 1);
		g->remote_ratio = 0.1 * i;
		/* 1.2: guest 1 has two vnodes, guest 3 one; the others none */
		g->id = 1000 + (uint64_t)i;
		g->age = 30.5 * i;
		g->nr_vnodes = i == 1 ? 2 : i == 3 ? 1 : 0;
		g->vnode_mem = g->nr_vnodes ? T.vm[i] : NULL;
		for (int k = 0; k < 2 * VNUMAD_MAX_NODES; k++)
			T.vm[i][k] = (uint64_t)(i * 7919 + k) << 20;
		g->priv = &T;	/* the daemon's pointer: never travels */
		for (int k = 0; k < nv[i]; k++)
			T.vc[i][k] = (struct vnumad_vcpu){ .index = k, .node = k % 3,
				.vnode = -1, .flags = (unsigned)k, .allowed = 7,
				.ips = 1e8 * k, .ipc = 1.5, .remote_ratio = 0.5,
				.remote_trend = -0.01, .access_rate = 1e6, .cpu_demand = 0.7,
				.last_move_age = 42, .source = VNUMAD_SRC_PMU };
		T.gp[i] = g;
	}
	T.v = (struct vnumad_view){ .size = sizeof(T.v), .tick = 77, .now = 154.5,
		.interval = 2, .nr_nodes = 3, .online = 7, .nodes = T.nodes,
		.distance = T.dist, .nr_guests = NG, .guests = T.gp,
		.migrate_budget = 1.5e10, .node_info = T.info,
		.guest_size = sizeof(struct vnumad_guest), .migrate_rate = 2.5e8 };
}

static bool in_map(const void *p, size_t len)
{
	return (const uint8_t *)p >= map && (const uint8_t *)p <= map + len;
}

/*
 * A guest equal to another but for its pointer members, which point to
 * equal arrays; its priv (the daemon's storage) does not travel: NULL.
 */
static void assert_guest_equal(const struct vnumad_guest *a, const struct vnumad_guest *b)
{
	struct vnumad_guest x = *a, y = *b;

	x.name = y.name = NULL;
	x.vcpus = y.vcpus = NULL;
	x.vnode_mem = y.vnode_mem = NULL;
	assert_null(b->priv);
	x.priv = y.priv = NULL;
	assert_memory_equal(&x, &y, sizeof(x));
	assert_string_equal(a->name, b->name);
	if (a->nr_vcpus)
		assert_memory_equal(a->vcpus, b->vcpus, sizeof(*a->vcpus) * (size_t)a->nr_vcpus);
	if (a->vnode_mem) {
		assert_non_null(b->vnode_mem);
		assert_memory_equal(a->vnode_mem, b->vnode_mem, sizeof(uint64_t) *
				    VNUMAD_MAX_NODES * (size_t)a->nr_vnodes);
	} else {
		assert_null(b->vnode_mem);
	}
}

/* Every member comes back: the structures travel whole, pointers relocated. */
static void test_round_trip(void **state)
{
	struct wire_unpacked u = { 0 };
	const char *why = NULL;
	size_t len;
	struct vnumad_view x, y;

	(void)state;
	fill();
	len = wire_view_pack(map, sizeof(map), &T.v, 9);
	assert_true(len > sizeof(struct wire_view_hdr) && len < sizeof(map));
	assert_int_equal(wire_view_unpack(map, len, 9, &u, &why), 0);
	x = T.v;
	y = u.view;
	x.nodes = y.nodes = NULL;
	x.distance = y.distance = NULL;
	x.guests = y.guests = NULL;
	x.node_info = y.node_info = NULL;
	assert_memory_equal(&x, &y, sizeof(x));
	assert_memory_equal(u.view.nodes, T.nodes, sizeof(T.nodes));
	assert_non_null(u.view.node_info);
	assert_true(in_map(u.view.node_info, len));
	assert_memory_equal(u.view.node_info, T.info, sizeof(T.info));
	assert_memory_equal(u.view.distance, T.dist, sizeof(T.dist));
	for (int i = 0; i < NG; i++)
		assert_guest_equal(T.gp[i], u.view.guests[i]);
	/* what needs no relocating is read in the map itself */
	assert_true(in_map(u.view.nodes, len) && in_map(u.view.distance, len));
	for (int i = 0; i < NG; i++) {
		assert_true(in_map(u.view.guests[i]->name, len));
		assert_true(in_map(u.view.guests[i]->vcpus, len));
		if (u.view.guests[i]->vnode_mem)
			assert_true(in_map(u.view.guests[i]->vnode_mem, len));
		assert_false(in_map(u.view.guests[i], len));
	}
	wire_unpacked_free(&u);

	/* a view without node_info (before 1.2) comes back without it */
	T.v.node_info = NULL;
	len = wire_view_pack(map, sizeof(map), &T.v, 10);
	assert_int_equal(wire_view_unpack(map, len, 10, &u, &why), 0);
	assert_null(u.view.node_info);
	wire_unpacked_free(&u);
}

/* A map too small holds nothing usable, and the size needed is told. */
static void test_too_small(void **state)
{
	struct wire_unpacked u = { 0 };
	const char *why = NULL;
	size_t need;

	(void)state;
	fill();
	memset(map, 0, sizeof(map));
	need = wire_view_pack(map, 256, &T.v, 1);
	assert_true(need > 256);
	assert_int_equal(wire_view_unpack(map, sizeof(map), 1, &u, &why), -1);
	assert_string_equal(why, "the view has no header");
	assert_int_equal(wire_view_pack(map, need, &T.v, 1), need);
	assert_int_equal(wire_view_unpack(map, need, 1, &u, &why), 0);
	wire_unpacked_free(&u);
}

/* The map of another tick, of another build, cut short, or with an offset
 * out of it, is refused with the reason. */
static void test_refused(void **state)
{
	struct wire_unpacked u = { 0 };
	struct wire_view_hdr *h = (void *)map;
	const char *why = NULL;
	size_t len;
	uint64_t tab, goff, bad;
	struct vnumad_view *vv;

	(void)state;
	fill();
	len = wire_view_pack(map, sizeof(map), &T.v, 5);
	assert_int_equal(wire_view_unpack(map, len, 6, &u, &why), -1);
	assert_string_equal(why, "the view is not the one of this tick");
	assert_int_equal(wire_view_unpack(map, len - 8, 5, &u, &why), -1);
	assert_string_equal(why, "the view lies outside its map");

	h->sz_guest++;
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "the view comes from another build of vnumad");
	h->sz_guest--;

	/* a guest's name offset past the end */
	vv = (void *)(map + h->view);
	memcpy(&tab, &vv->guests, sizeof(tab));
	memcpy(&goff, map + tab + 8, sizeof(goff));
	bad = len + 64;
	memcpy(map + goff + offsetof(struct vnumad_guest, name), &bad, sizeof(bad));
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "a guest's name lies outside the map");

	/* its vCPUs running past the end */
	len = wire_view_pack(map, sizeof(map), &T.v, 5);
	memcpy(&goff, map + tab + 8, sizeof(goff));
	((struct vnumad_guest *)(map + goff))->nr_vcpus = 1 << 20;
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "a guest's vCPUs lie outside the map");

	/* its per-vnode memory running past the end, or a vnode count out of range */
	len = wire_view_pack(map, sizeof(map), &T.v, 5);
	memcpy(&goff, map + tab + 8, sizeof(goff));
	((struct vnumad_guest *)(map + goff))->nr_vnodes = VNUMAD_MAX_NODES;
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "a guest's per-vnode memory lies outside the map");
	((struct vnumad_guest *)(map + goff))->nr_vnodes = VNUMAD_MAX_NODES + 1;
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "a guest's vnode count is out of range");
	((struct vnumad_guest *)(map + goff))->nr_vnodes = 2;
	bad = len + 64;
	memcpy(map + goff + offsetof(struct vnumad_guest, vnode_mem), &bad, sizeof(bad));
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "a guest's per-vnode memory lies outside the map");

	/* a guest table longer than the map */
	len = wire_view_pack(map, sizeof(map), &T.v, 5);
	vv->nr_guests = 1 << 28;
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "a table of the view lies outside its map");
	vv->nr_nodes = VNUMAD_MAX_NODES + 1;
	assert_int_equal(wire_view_unpack(map, len, 5, &u, &why), -1);
	assert_string_equal(why, "the view's node or guest count is out of range");
	wire_unpacked_free(&u);
}

/* The worker's tables grow with the host and are reused tick to tick. */
static void test_reused(void **state)
{
	struct wire_unpacked u = { 0 };
	const char *why = NULL;
	size_t len;

	(void)state;
	fill();
	T.v.nr_guests = 1;
	len = wire_view_pack(map, sizeof(map), &T.v, 1);
	assert_int_equal(wire_view_unpack(map, len, 1, &u, &why), 0);
	assert_int_equal(u.view.nr_guests, 1);
	T.v.nr_guests = NG;
	len = wire_view_pack(map, sizeof(map), &T.v, 2);
	assert_int_equal(wire_view_unpack(map, len, 2, &u, &why), 0);
	assert_true(u.cap >= NG);
	for (int i = 0; i < NG; i++)
		assert_guest_equal(T.gp[i], u.view.guests[i]);
	T.v.nr_guests = 0;
	len = wire_view_pack(map, sizeof(map), &T.v, 3);
	assert_int_equal(wire_view_unpack(map, len, 3, &u, &why), 0);
	assert_int_equal(u.view.nr_guests, 0);
	wire_unpacked_free(&u);
}

/* Messages keep their boundaries and their descriptors. */
static void test_messages(void **state)
{
	struct wire_hdr h;
	char buf[64];
	size_t len;
	int sv[2], p[2], fds[WIRE_NR_FDS], nfds = WIRE_NR_FDS;
	uint32_t junk[8] = { 0 };

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(wire_send(sv[0], WIRE_TICK, 7, 100, -3, "abc", 4, p, 2), 0);
	assert_int_equal(wire_send_text(sv[0], WIRE_LOG, 6, 0, "a line"), 0);
	assert_int_equal(wire_recv(sv[1], &h, buf, sizeof(buf), &len, fds, &nfds), 1);
	assert_int_equal(h.type, WIRE_TICK);
	assert_int_equal(h.seq, 7);
	assert_int_equal(h.a, 100);
	assert_int_equal(h.b, -3);
	assert_int_equal(len, 4);
	assert_string_equal(buf, "abc");
	assert_int_equal(nfds, 2);
	/* the descriptors are the pipe's ends, close-on-exec */
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(read(fds[0], buf, 1), 1);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	close(fds[0]);
	close(fds[1]);
	/* descriptors nobody asked for are closed, not leaked */
	nfds = 0;
	assert_int_equal(wire_recv(sv[1], &h, buf, sizeof(buf), &len, NULL, NULL), 1);
	assert_int_equal(h.type, WIRE_LOG);
	assert_string_equal(buf, "a line");
	assert_int_equal(wire_send(sv[0], WIRE_SPAWN, 0, 0, 0, NULL, 0, p, 2), 0);
	assert_int_equal(wire_recv(sv[1], &h, buf, sizeof(buf), &len, NULL, NULL), 1);
	close(p[0]);
	close(p[1]);
	/* no magic, too long, too short: not a message */
	assert_int_equal(write(sv[0], junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(wire_recv(sv[1], &h, buf, sizeof(buf), &len, NULL, NULL), -EPROTO);
	assert_int_equal(wire_send(sv[0], WIRE_LOG, 0, 0, 0, map, 200, NULL, 0), 0);
	assert_int_equal(wire_recv(sv[1], &h, buf, sizeof(buf), &len, NULL, NULL), -EPROTO);
	assert_int_equal(write(sv[0], "ab", 2), 2);
	assert_int_equal(wire_recv(sv[1], &h, buf, sizeof(buf), &len, NULL, NULL), -EPROTO);
	assert_int_equal(wire_send(sv[0], WIRE_LOG, 0, 0, 0, map, WIRE_MSG_MAX, NULL, 0),
			 -EMSGSIZE);
	close(sv[0]);
	assert_int_equal(wire_recv(sv[1], &h, buf, sizeof(buf), &len, NULL, NULL), 0);
	close(sv[1]);
}

static const struct vnumad_option d_opts[] = {
	{ "threshold", VNUMAD_OPT_PERCENT, "40%", 0, 1, "remote share" },
	{ "label", VNUMAD_OPT_STRING, "x", 0, 0, NULL },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static int d_tick(void *priv, const struct vnumad_view *v, struct vnumad_out *out)
{
	(void)priv;
	(void)v;
	(void)out;
	return 0;
}

static const struct vnumad_policy d_policy = {
	VNUMAD_POLICY_INIT, .name = "described", .description = "told by a worker",
	.flags = VNUMAD_POLICY_F_ADVISORY_ONLY, .options = d_opts, .tick = d_tick,
};

static struct vnumad_option opts[WIRE_DESC_OPTIONS_MAX + 1];

static void test_desc_round_trip(void **state)
{
	struct vnumad_policy p;
	const char *why = NULL;
	char err[128];
	uint32_t cb;
	size_t n;

	(void)state;
	n = wire_desc_pack(map, MAP, &d_policy, err, sizeof(err));
	assert_true(n > sizeof(struct wire_desc));
	assert_int_equal(wire_desc_unpack(map, n, &p, opts, &cb, &why), 0);
	assert_int_equal(p.abi_major, VNUMAD_POLICY_ABI_MAJOR);
	assert_int_equal(p.size, sizeof(struct vnumad_policy));
	assert_string_equal(p.name, "described");
	assert_string_equal(p.description, "told by a worker");
	assert_int_equal(p.flags, VNUMAD_POLICY_F_ADVISORY_ONLY);
	assert_int_equal(cb, WIRE_DESC_TICK);
	/* no code crosses: the callbacks are the daemon's to fill */
	assert_null(p.tick);
	assert_null(p.init);
	assert_null(p.fini);
	assert_ptr_equal(p.options, opts);
	assert_string_equal(p.options[0].name, "threshold");
	assert_int_equal(p.options[0].type, VNUMAD_OPT_PERCENT);
	assert_string_equal(p.options[0].def, "40%");
	assert_true(p.options[0].min == 0 && p.options[0].max == 1);
	assert_string_equal(p.options[0].help, "remote share");
	assert_string_equal(p.options[1].name, "label");
	assert_null(p.options[1].help);
	assert_null(p.options[2].name);
	/* the strings point into the message, not into the plugin */
	assert_true((const uint8_t *)p.name >= map && (const uint8_t *)p.name < map + n);
}

/* Another ABI's descriptor: its head alone travels, for the refusal. */
static void test_desc_other_abi(void **state)
{
	struct vnumad_policy q = d_policy, p;
	const char *why = NULL;
	char err[128];
	uint32_t cb;
	size_t n;

	(void)state;
	q.abi_major = 2;
	n = wire_desc_pack(map, MAP, &q, err, sizeof(err));
	assert_int_equal(n, sizeof(struct wire_desc));
	assert_int_equal(wire_desc_unpack(map, n, &p, opts, &cb, &why), 0);
	assert_int_equal(p.abi_major, 2);
	assert_null(p.name);
	q.abi_major = VNUMAD_POLICY_ABI_MAJOR;
	q.size = 16;
	n = wire_desc_pack(map, MAP, &q, err, sizeof(err));
	assert_int_equal(wire_desc_unpack(map, n, &p, opts, &cb, &why), 0);
	assert_int_equal(p.size, 16);
	assert_null(p.name);
}

/* unpack of the description in map, modified by the caller, must refuse */
static void refused_desc(size_t n, const char *want)
{
	struct vnumad_policy p;
	const char *why = NULL;
	uint32_t cb;

	assert_int_equal(wire_desc_unpack(map, n, &p, opts, &cb, &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, want));
}

static void test_desc_hostile(void **state)
{
	struct wire_desc *d = (struct wire_desc *)map;
	char err[128];
	size_t n;

	(void)state;
	n = wire_desc_pack(map, MAP, &d_policy, err, sizeof(err));
	refused_desc(sizeof(*d) - 1, "shorter than a descriptor");
	refused_desc(sizeof(*d) + 10, "options lie outside");
	d->nr_options = WIRE_DESC_OPTIONS_MAX + 1;
	refused_desc(n, "more options");
	d->nr_options = 0xffffffffu;
	refused_desc(n, "more options");
	n = wire_desc_pack(map, MAP, &d_policy, err, sizeof(err));
	d->name = (uint32_t)n;		/* just past the end */
	refused_desc(n, "a string lies outside");
	n = wire_desc_pack(map, MAP, &d_policy, err, sizeof(err));
	d->description = 8;		/* inside the head */
	refused_desc(n, "a string lies outside");
	n = wire_desc_pack(map, MAP, &d_policy, err, sizeof(err));
	d->opt[1].name = 0;		/* would end the table early */
	refused_desc(n, "an option without a name");
	/* a string without its end: the last NUL cut off */
	n = wire_desc_pack(map, MAP, &d_policy, err, sizeof(err));
	refused_desc(n - 1, "has no end");
	/* one longer than a string may be, even with a NUL after it */
	n = wire_desc_pack(map, MAP, &d_policy, err, sizeof(err));
	memset(map + n, 'a', WIRE_DESC_TEXT_MAX + 8);
	map[n + WIRE_DESC_TEXT_MAX + 8] = '\0';
	d->description = (uint32_t)n;
	refused_desc(n + WIRE_DESC_TEXT_MAX + 9, "has no end");
}

/* What a describer refuses to pack: more than the limits, more than fits. */
static void test_desc_limits(void **state)
{
	static struct vnumad_option many[WIRE_DESC_OPTIONS_MAX + 2];
	static char longtext[WIRE_DESC_TEXT_MAX + 1];
	struct vnumad_policy q = d_policy;
	char err[128];

	(void)state;
	for (int i = 0; i < WIRE_DESC_OPTIONS_MAX + 1; i++)
		many[i] = d_opts[0];
	q.options = many;
	assert_int_equal(wire_desc_pack(map, MAP, &q, err, sizeof(err)), 0);
	assert_string_equal(err, "it declares more than 256 options");
	q.options = many + 1;	/* exactly the limit */
	assert_true(wire_desc_pack(map, MAP, &q, err, sizeof(err)) > 0);
	memset(longtext, 'x', WIRE_DESC_TEXT_MAX);
	q = d_policy;
	q.description = longtext;
	assert_int_equal(wire_desc_pack(map, MAP, &q, err, sizeof(err)), 0);
	assert_string_equal(err, "its description is longer than 1023 bytes");
	q = d_policy;
	assert_int_equal(wire_desc_pack(map, 100, &q, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "more than 100 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_reused),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_desc_round_trip),
		cmocka_unit_test(test_desc_other_abi),
		cmocka_unit_test(test_desc_hostile),
		cmocka_unit_test(test_desc_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
