// SPDX-License-Identifier: MIT
/*
 * Nodes as the core sees them.
 *
 * Memory-only nodes (a CXL expander, HBM in flat mode): a node that exists
 * (its online bit) with memory and no CPUs. Memory moves to and from it,
 * vCPUs never go there, and policies see it: the arbiter and the locality
 * policy on a hand-made host of two CPU nodes and one memory-only node.
 *
 * Node bandwidth and latency from ACPI HMAT, read through a fake sysfs tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <stdio.h>

#include "core.h"
#include "hostinfo.h"
#include "registry.h"
#include "policies.h"
#include "util.h"

#define MEMONLY	2

struct fixture {
	struct vn_core c;
	struct vn_guest *g;
	struct vn_decisions dec;
};

/*
 * Nodes 0 and 1 with 4 CPUs and 8 GiB, node 2 with 16 GiB and no CPU; one
 * guest of 2 vCPUs running on node 0 with 3 GiB of its 4 on node 2.
 */
static void setup(struct fixture *f)
{
	static const pid_t tids[] = { 101, 102 };
	static const uint64_t allowed[] = { 1, 1 };
	struct vn_guest_desc d = { .name = "cxl", .pid = 1, .nr_vcpus = 2,
				   .tids = tids, .allowed = allowed };
	struct vn_host *h;

	memset(f, 0, sizeof(*f));
	config_defaults(&f->c.cfg);
	f->c.cfg.dry_run = true;	/* advice: no baseline needed */
	f->c.cfg.min_gain = 0;
	h = &f->c.host;
	host_init(h);
	h->nr_nodes = 3;
	h->online = 7;
	for (int n = 0; n < 3; n++) {
		h->node[n].id = n;
		h->node[n].nr_cpus = n == MEMONLY ? 0 : 4;
		h->node[n].mem_total = (n == MEMONLY ? 16 : 8) * GiB;
		h->node[n].mem_free = (n == MEMONLY ? 13 : 7) * GiB;
		for (int m = 0; m < 3; m++)
			h->distance[n * 3 + m] = n == m ? 10 : 20;
	}
	host_scan_begin(h);
	f->g = host_report(h, &d);
	host_scan_end(h);
	f->g->v.mem[0] = 1 * GiB;
	f->g->v.mem[MEMONLY] = 3 * GiB;
	f->g->v.mem_total = 4 * GiB;
	for (int i = 0; i < 2; i++) {
		struct vnumad_vcpu *v = &f->g->vv[i];

		v->node = 0;
		v->remote_ratio = 0.75;
		v->access_rate = 5e7;
		v->ips = 1e9;
		v->cpu_demand = 0.5;
		v->source = VNUMAD_SRC_PMU;
	}
	f->g->v.remote_ratio = 0.75;
}

static void teardown(struct fixture *f)
{
	host_fini(&f->c.host);
	free(f->dec.d);
	config_free(&f->c.cfg);
}

static struct vnumad_proposal vcpu_to(int vcpu, int to)
{
	return (struct vnumad_proposal){ .kind = VNUMAD_MOVE_VCPU, .guest = 0,
					 .vcpu = vcpu, .to = to, .gain = 0.2 };
}

static struct vnumad_proposal memory(int from, int to, uint64_t bytes)
{
	return (struct vnumad_proposal){ .kind = VNUMAD_MOVE_MEMORY, .guest = 0,
					 .from = from, .to = to, .bytes = bytes,
					 .gain = 0.1 };
}

/* The arbiter: memory to and from a memory-only node, never a vCPU. */
static void test_arbiter(void **state)
{
	struct vnumad_proposal p[4];
	struct vnumad_out out = { p, 4, 0 };
	struct fixture f;
	(void)state;

	setup(&f);
	p[out.len++] = vcpu_to(0, MEMONLY);
	p[out.len++] = (struct vnumad_proposal){ .kind = VNUMAD_MOVE_GUEST,
		.guest = 0, .nodes = 1ULL << MEMONLY, .gain = 0.3 };
	p[out.len++] = memory(MEMONLY, 0, 1 * GiB);
	stage_arbiter(&f.c, &out, &f.dec);
	assert_int_equal(f.dec.nr, 3);
	for (int i = 0; i < f.dec.nr; i++) {
		const struct vn_decision *d = &f.dec.d[i];

		if (d->p.kind == VNUMAD_MOVE_MEMORY) {
			assert_true(d->accepted);
		} else {
			assert_false(d->accepted);
			assert_int_equal(d->why, VN_DROP_INVALID);
		}
	}
	/* and memory onto it */
	out.len = 0;
	p[out.len++] = memory(0, MEMONLY, 512 * MiB);
	stage_arbiter(&f.c, &out, &f.dec);
	assert_true(f.dec.d[0].accepted);
	teardown(&f);
}

/* The policies' helpers tell a node that takes memory from one that takes vCPUs. */
static void test_helpers(void **state)
{
	struct vnumad_view v = { .size = sizeof(v) };
	struct fixture f;
	(void)state;

	setup(&f);
	v.nr_nodes = f.c.host.nr_nodes;
	v.online = f.c.host.online;
	v.nodes = f.c.host.node;
	v.distance = f.c.host.distance;
	assert_true(pol_node_exists(&v, MEMONLY));
	assert_false(pol_node_usable(&v, MEMONLY));
	assert_true(pol_node_usable(&v, 0));
	assert_false(pol_node_exists(&v, 3));
	teardown(&f);
}

/*
 * locality: most of the guest's memory is on the memory-only node, where
 * its vCPUs cannot go; it proposes moving memory off it to the vCPUs' node
 * and no vCPU move there.
 */
static void test_locality(void **state)
{
	const struct vnumad_policy *pol = policy_builtin("locality");
	struct vnumad_proposal buf[16];
	struct vnumad_out out = { buf, 16, 0 };
	struct vnumad_value vals[8];
	struct vnumad_init_args args = { .size = sizeof(args), .values = vals,
					 .log = plugin_log };
	const struct vnumad_guest *gv[1];
	struct vnumad_view v = { .size = sizeof(v) };
	struct fixture f;
	void *priv = NULL;
	int n = 0, moves = 0;
	const char *why;
	(void)state;

	setup(&f);
	assert_non_null(pol);
	for (const struct vnumad_option *o = pol->options; o->name; o++)
		assert_int_equal(config_option_value(o, o->def, &vals[n++], &why), 0);
	assert_int_equal(pol->init(&priv, &args), 0);
	gv[0] = &f.g->v;
	v.nr_nodes = f.c.host.nr_nodes;
	v.online = f.c.host.online;
	v.nodes = f.c.host.node;
	v.distance = f.c.host.distance;
	v.nr_guests = 1;
	v.guests = gv;
	v.node_info = f.c.host.node_info;
	assert_int_equal(pol->tick(priv, &v, &out), 0);
	for (int i = 0; i < out.len; i++) {
		assert_false(buf[i].kind == VNUMAD_MOVE_VCPU && buf[i].to == MEMONLY);
		if (buf[i].kind == VNUMAD_MOVE_MEMORY) {
			assert_int_equal(buf[i].from, MEMONLY);
			assert_int_equal(buf[i].to, 0);
			moves++;
		}
	}
	assert_int_equal(moves, 1);
	pol->fini(priv);
	teardown(&f);
}

/* Writes ROOT/rel with the text, making the directories. */
static void write_file(const char *root, const char *rel, const char *text)
{
	char path[1024], cmd[1200];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/*
 * HMAT through sysfs (access0: from the nearest initiators): node 0's
 * bandwidth, in MiB/s, becomes bw_max; its latency goes with it; both are
 * labelled as HMAT's. Without the files, nothing is known.
 */
static void test_hmat(void **state)
{
	char root[] = "/tmp/vnumad-hmat-XXXXXX", cmd[64];
	const char *dir = "devices/system/node/node0/access0/initiators";
	char path[256];
	struct vn_host h;
	(void)state;

	assert_non_null(mkdtemp(root));
	hostinfo_set_sysfs_root(root);
	host_init(&h);
	assert_int_equal(hostinfo_topology(&h), 0);
	assert_true(h.node[0].bw_max == 0);
	assert_int_equal(h.node_info[0].bw_max_source, VNUMAD_SRC_NONE);

	snprintf(path, sizeof(path), "%s/read_bandwidth", dir);
	write_file(root, path, "20480\n");
	snprintf(path, sizeof(path), "%s/write_bandwidth", dir);
	write_file(root, path, "10240\n");
	snprintf(path, sizeof(path), "%s/read_latency", dir);
	write_file(root, path, "80\n");
	snprintf(path, sizeof(path), "%s/write_latency", dir);
	write_file(root, path, "95\n");
	hostinfo_set_sysfs_root(root);		/* read again */
	assert_int_equal(hostinfo_topology(&h), 0);
	assert_true(h.node[0].bw_max == 20480.0 * MiB);
	assert_int_equal(h.node_info[0].bw_max_source, VNUMAD_SRC_HMAT);
	assert_true(h.node_info[0].read_bandwidth == 20480.0 * MiB);
	assert_true(h.node_info[0].write_bandwidth == 10240.0 * MiB);
	assert_true(h.node_info[0].read_latency == 80);
	assert_true(h.node_info[0].write_latency == 95);
	/* a node without the files is not given node 0's */
	assert_true(h.node[1].bw_max == 0);
	hostinfo_set_sysfs_root(NULL);
	host_fini(&h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/*
 * [host] bandwidth wins over the firmware's figure, and the source says so;
 * the inventory applies it after the backend's topology.
 */
static void test_configured_bandwidth(void **state)
{
	struct vn_errors e = { 0 };
	struct vn_config cfg;
	FILE *fp;
	char path[] = "/tmp/vnumad-bw-XXXXXX";
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("[host]\nbandwidth = 12GiB/s, 1:3GB/s\n", fp);
	fclose(fp);
	assert_int_equal(config_load(&cfg, path, NULL, &e), 0);
	assert_int_equal(cfg.node_bw_set, ~0ULL);
	assert_true(cfg.node_bw[0] == 12.0 * GiB);
	assert_true(cfg.node_bw[1] == 3e9);
	config_free(&cfg);

	/* a bad item refuses the key, naming the item */
	{
		static const struct { const char *v, *want; } bad[] = {
			{ "5:fast", "'5:fast': not a number" },
			{ "40", "'40' is out of range" },
			{ "x:1GB/s", "the node before ':' must be 0 to 63" },
			{ "64:1GB/s", "the node before ':' must be 0 to 63" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct vn_errors e2 = { 0 };
			char p2[] = "/tmp/vnumad-bw-XXXXXX";
			int f2 = mkstemp(p2);
			FILE *fp2 = fdopen(f2, "w");

			fprintf(fp2, "[host]\nbandwidth = 1:2GB/s, %s\n", bad[i].v);
			fclose(fp2);
			assert_int_equal(config_load(&cfg, p2, NULL, &e2), -1);
			assert_int_equal(e2.count, 1);
			assert_non_null(strstr(e2.msg[0], bad[i].want));
			assert_int_equal(cfg.node_bw_set, 0);	/* nothing kept */
			config_free(&cfg);
			errors_free(&e2);
			unlink(p2);
		}
	}

	/* the simulated host's own figures give way to the configured ones */
	{
		struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .dry_run = true,
					   .log_level = -1 };
		static struct vn_core c;

		memset(&c, 0, sizeof(c));
		assert_int_equal(config_load(&c.cfg, path, &ov, &e), 0);
		assert_int_equal(registry_pick(&c), 0);
		assert_int_equal(core_open(&c, NULL, VN_OUT_NONE, NULL), 0);
		assert_int_equal(core_tick(&c), 0);
		assert_true(c.host.node[0].bw_max == 12.0 * GiB);
		assert_true(c.host.node[1].bw_max == 3e9);
		assert_int_equal(c.host.node_info[1].bw_max_source, VNUMAD_SRC_CONFIG);
		core_close(&c);
		config_free(&c.cfg);
	}
	unlink(path);
	errors_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arbiter),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_locality),
		cmocka_unit_test(test_hmat),
		cmocka_unit_test(test_configured_bandwidth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
