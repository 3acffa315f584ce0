// SPDX-License-Identifier: MIT
/*
 * Traces of the inventory and samples, written tick by tick and read back
 * for replay; trace.h documents the format. Every record carries its length
 * and a CRC-32, so that a reader tells a file cut short from a corrupt one
 * and names the byte where it went wrong, before any tick is replayed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "trace.h"
#include "util.h"

#define TRACE_MAGIC	"VNUMADTR"
#define HEADER_LEN	16
#define RECORD_OVERHEAD	12	/* type, length, crc */
#define RECORD_MAX	(1u << 30)

enum {
	REC_INFO = 1,
	REC_TOPOLOGY = 2,
	REC_TICK = 3,
	REC_END = 4,
	REC_AGES = 5,
};

static const char *record_name(uint32_t type)
{
	switch (type) {
	case REC_INFO: return "info";
	case REC_TOPOLOGY: return "topology";
	case REC_TICK: return "tick";
	case REC_END: return "end";
	case REC_AGES: return "ages";
	}
	return "unknown";
}

uint32_t trace_crc32(uint32_t crc, const void *data, size_t len)
{
	static uint32_t table[256];
	const unsigned char *p = data;

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Writing: each record is built in a buffer, then written whole. */

struct vn_trace {
	FILE *f;
	char *path;
	bool info_written;
	bool have_topo;
	struct vn_trace_topology topo;	/* last written */
	uint64_t ticks;
	unsigned char *buf;
	size_t len, cap;
	int error;		/* first write error, as an errno */
};

static void put(struct vn_trace *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = MAX(t->cap * 2, t->len + n + 4096);
		t->buf = xreallocarray(t->buf, t->cap, 1);
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static void put_u8(struct vn_trace *t, unsigned v)
{
	unsigned char b = (unsigned char)v;

	put(t, &b, 1);
}

static void put_u16(struct vn_trace *t, unsigned v)
{
	unsigned char b[2] = { v & 0xff, (v >> 8) & 0xff };

	put(t, b, 2);
}

static void put_u32(struct vn_trace *t, uint32_t v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(t, b, 4);
}

static void put_u64(struct vn_trace *t, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(t, b, 8);
}

static void put_f64(struct vn_trace *t, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	put_u64(t, v);
}

static void put_str(struct vn_trace *t, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > 0xffff)
		n = 0xffff;
	put_u16(t, (unsigned)n);
	put(t, s, n);
}

/* Starts a record in the buffer: type and a length filled in by end_record. */
static void begin_record(struct vn_trace *t, uint32_t type)
{
	t->len = 0;
	put_u32(t, type);
	put_u32(t, 0);
}

static int end_record(struct vn_trace *t)
{
	uint32_t len = (uint32_t)(t->len - 8), crc;

	for (int i = 0; i < 4; i++)
		t->buf[4 + i] = (unsigned char)(len >> (8 * i));
	crc = trace_crc32(0, t->buf, t->len);
	put_u32(t, crc);
	if (t->error)
		return -t->error;
	if (fwrite(t->buf, 1, t->len, t->f) != t->len) {
		t->error = errno ? errno : EIO;
		return -t->error;
	}
	return 0;
}

struct vn_trace *trace_open_write(const char *path, const struct vn_core *c,
				  char *err, size_t errlen)
{
	struct vn_trace *t;
	unsigned char head[HEADER_LEN] = { 0 };

	(void)c;
	t = xcalloc(1, sizeof(*t));
	t->f = fopen(path, "wb");
	if (!t->f) {
		snprintf(err, errlen, "%s: cannot create the trace: %s", path,
			 strerror(errno));
		free(t);
		return NULL;
	}
	t->path = xstrdup(path);
	memcpy(head, TRACE_MAGIC, 8);
	head[8] = VN_TRACE_VERSION & 0xff;
	head[9] = (VN_TRACE_VERSION >> 8) & 0xff;
	if (fwrite(head, 1, sizeof(head), t->f) != sizeof(head)) {
		snprintf(err, errlen, "%s: cannot write the trace: %s", path,
			 strerror(errno));
		fclose(t->f);
		free(t->path);
		free(t);
		return NULL;
	}
	return t;
}

/* Where the guests come from, in words: the scenario file or the URI. */
static const char *source_of(const struct vn_core *c)
{
	if (c->cfg.backend == VN_BACKEND_SIM)
		return c->cfg.scenario ? c->cfg.scenario : "(built-in demo scenario)";
	return c->cfg.uri ? c->cfg.uri : "";
}

static int write_info(struct vn_trace *t, const struct vn_core *c)
{
	begin_record(t, REC_INFO);
	put_str(t, VNUMAD_VERSION);
	put_str(t, c->backend.ops ? c->backend.ops->name : "?");
	put_str(t, c->sampler.ops ? c->sampler.ops->name : "?");
	put_f64(t, c->cfg.interval);
	put_u64(t, (uint64_t)(int64_t)time(NULL));
	put_str(t, source_of(c));
	return end_record(t);
}

static void topology_of(const struct vn_host *h, struct vn_trace_topology *o)
{
	int nn = h->nr_nodes;

	memset(o, 0, sizeof(*o));
	o->nr_nodes = nn;
	o->online = h->online;
	for (int n = 0; n < nn; n++) {
		o->nr_cpus[n] = h->node[n].nr_cpus;
		o->mem_total[n] = h->node[n].mem_total;
		o->bw_max[n] = h->node[n].bw_max;
	}
	memcpy(o->distance, h->distance, (size_t)nn * nn);
}

static int write_topology(struct vn_trace *t, const struct vn_trace_topology *o)
{
	int nn = o->nr_nodes;

	begin_record(t, REC_TOPOLOGY);
	put_u32(t, (uint32_t)nn);
	put_u64(t, o->online);
	for (int n = 0; n < nn; n++) {
		put_u32(t, (uint32_t)o->nr_cpus[n]);
		put_u64(t, o->mem_total[n]);
		put_f64(t, o->bw_max[n]);
	}
	put(t, o->distance, (size_t)nn * nn);
	return end_record(t);
}

static void put_counts(struct vn_trace *t, const struct vn_counts *d)
{
	put_u64(t, d->cycles);
	put_u64(t, d->instructions);
	put_u64(t, d->local_dram);
	put_u64(t, d->remote_dram);
	put_f64(t, d->cpu_time);
	put_f64(t, d->elapsed);
	put_u32(t, (uint32_t)d->node);
	put_u8(t, (unsigned)d->source);
	put_u8(t, d->valid);
}

int trace_write_tick(struct vn_trace *t, const struct vn_core *c)
{
	const struct vn_host *h = &c->host;
	const unsigned backend_flags = VN_BACKEND_FLAGS;
	struct vn_trace_topology now;
	int r, nn = h->nr_nodes;

	if (t->error)
		return -t->error;
	if (!t->info_written) {
		r = write_info(t, c);
		if (r < 0)
			return r;
		t->info_written = true;
	}
	topology_of(h, &now);
	if (!t->have_topo || memcmp(&now, &t->topo, sizeof(now)) != 0) {
		r = write_topology(t, &now);
		if (r < 0)
			return r;
		t->topo = now;
		t->have_topo = true;
	}
	begin_record(t, REC_TICK);
	put_u64(t, h->tick);
	put_f64(t, h->now);
	for (int n = 0; n < nn; n++)
		put_u64(t, h->node[n].mem_free);
	put_u32(t, (uint32_t)h->nr_guests);
	for (int i = 0; i < h->nr_guests; i++) {
		const struct vn_guest *g = h->guests[i];

		put_str(t, g->name);
		put_u32(t, (uint32_t)g->pid);
		put_u32(t, g->v.flags & backend_flags);
		put_u8(t, g->mem_read_at == h->now);
		for (int n = 0; n < nn; n++)
			put_u64(t, g->v.mem[n]);
		put_u32(t, (uint32_t)g->nr_vcpus);
		for (int v = 0; v < g->nr_vcpus; v++) {
			put_u32(t, (uint32_t)g->vc[v].tid);
			put_u64(t, g->vv[v].allowed);
			put_u32(t, (uint32_t)g->vv[v].vnode);
			put_counts(t, &g->vc[v].delta);
		}
	}
	r = end_record(t);
	if (r < 0)
		return r;
	/* what the core knows of each guest's age: a replay starts from it */
	begin_record(t, REC_AGES);
	put_u32(t, (uint32_t)h->nr_guests);
	for (int i = 0; i < h->nr_guests; i++)
		put_f64(t, h->now - h->guests[i]->first_seen);
	r = end_record(t);
	if (r == 0)
		t->ticks++;
	return r;
}

uint64_t trace_ticks(const struct vn_trace *t)
{
	return t ? t->ticks : 0;
}

int trace_close(struct vn_trace *t)
{
	int r = 0;

	if (!t)
		return 0;
	begin_record(t, REC_END);
	put_u64(t, t->ticks);
	r = end_record(t);
	if (fflush(t->f) != 0 && !r)
		r = -errno;
	if (fclose(t->f) != 0 && !r)
		r = -errno;
	free(t->buf);
	free(t->path);
	free(t);
	return r;
}

/* Reading: the whole file is in memory and checked before use. */

struct vn_trace_reader {
	char *path;
	unsigned char *data;
	size_t size;
	struct vn_trace_info info;
	/* the records, in file order */
	size_t *off;		/* payload offsets */
	uint32_t *type;
	uint32_t *len;
	int nr_rec;
	int next;		/* next record to look at */
	/* the tick handed out */
	struct vn_trace_topology topo;
	struct vn_trace_tick tick;
	int cap_guests;
	char *names;
	size_t cap_names;
	int *cap_vcpus;		/* [cap_guests] */
};

/* A cursor over one record's payload; the first error sticks. */
struct cursor {
	const unsigned char *p;
	size_t pos, len;
	size_t base;		/* file offset of the payload */
	const char *err;	/* static reason, NULL while fine */
	size_t err_at;
};

static bool need(struct cursor *c, size_t n)
{
	if (c->err)
		return false;
	if (c->len - c->pos < n) {
		c->err = "the record ends in the middle of a field";
		c->err_at = c->base + c->pos;
		return false;
	}
	return true;
}

static uint64_t get_le(struct cursor *c, int bytes)
{
	uint64_t v = 0;

	if (!need(c, (size_t)bytes))
		return 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)c->p[c->pos + i] << (8 * i);
	c->pos += bytes;
	return v;
}

static double get_f64(struct cursor *c)
{
	uint64_t v = get_le(c, 8);
	double d;

	memcpy(&d, &v, sizeof(d));
	return d;
}

/* A string: pointer into the file and its length (not NUL-terminated). */
static const char *get_str(struct cursor *c, size_t *n)
{
	const char *s;

	*n = (size_t)get_le(c, 2);
	if (!need(c, *n)) {
		*n = 0;		/* the cursor has its error; the string is empty */
		return "";
	}
	s = (const char *)c->p + c->pos;
	c->pos += *n;
	return s;
}

static void bad(struct cursor *c, const char *why)
{
	if (!c->err) {
		c->err = why;
		c->err_at = c->base + c->pos;
	}
}

static char *dup_n(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void parse_info(struct vn_trace_reader *r, struct cursor *c)
{
	const char *s;
	size_t n;

	s = get_str(c, &n);
	r->info.vnumad_version = dup_n(s, n);
	s = get_str(c, &n);
	r->info.backend = dup_n(s, n);
	s = get_str(c, &n);
	r->info.sampler = dup_n(s, n);
	r->info.interval = get_f64(c);
	r->info.unix_time = (int64_t)get_le(c, 8);
	s = get_str(c, &n);
	r->info.source = dup_n(s, n);
	if (!c->err && !(r->info.interval > 0 && r->info.interval <= 86400))
		bad(c, "the tick interval is out of range");
}

static void parse_topology(struct cursor *c, struct vn_trace_topology *o)
{
	uint32_t nn = (uint32_t)get_le(c, 4);

	memset(o, 0, sizeof(*o));
	if (!c->err && (nn < 1 || nn > VN_MAX_NODES)) {
		bad(c, "the number of nodes is out of range (1 to 64)");
		return;
	}
	o->nr_nodes = (int)nn;
	o->online = get_le(c, 8);
	for (uint32_t n = 0; n < nn; n++) {
		o->nr_cpus[n] = (int)(uint32_t)get_le(c, 4);
		o->mem_total[n] = get_le(c, 8);
		o->bw_max[n] = get_f64(c);
		if (!c->err && (o->nr_cpus[n] < 0 || o->nr_cpus[n] > 1 << 20))
			bad(c, "a node's CPU count is out of range");
	}
	if (need(c, (size_t)nn * nn)) {
		memcpy(o->distance, c->p + c->pos, (size_t)nn * nn);
		c->pos += (size_t)nn * nn;
	}
}

/* Makes room for guest i's vCPU arrays in the tick handed out. */
static void room_for_vcpus(struct vn_trace_reader *r, int i, int n)
{
	struct vn_trace_guest *g = &r->tick.guests[i];

	if (r->cap_vcpus[i] >= n)
		return;
	r->cap_vcpus[i] = MAX(n, 4);
	g->tids = xreallocarray(g->tids, r->cap_vcpus[i], sizeof(*g->tids));
	g->allowed = xreallocarray(g->allowed, r->cap_vcpus[i], sizeof(*g->allowed));
	g->vnode = xreallocarray(g->vnode, r->cap_vcpus[i], sizeof(*g->vnode));
	g->counts = xreallocarray(g->counts, r->cap_vcpus[i], sizeof(*g->counts));
}

static void room_for_guests(struct vn_trace_reader *r, int n)
{
	if (r->cap_guests >= n)
		return;
	r->tick.guests = xreallocarray(r->tick.guests, n, sizeof(*r->tick.guests));
	r->cap_vcpus = xreallocarray(r->cap_vcpus, n, sizeof(*r->cap_vcpus));
	for (int i = r->cap_guests; i < n; i++) {
		memset(&r->tick.guests[i], 0, sizeof(r->tick.guests[i]));
		r->cap_vcpus[i] = 0;
	}
	r->cap_guests = n;
}

/*
 * Decodes one tick into r->tick against the topology in force; the same
 * code checks the whole file at open and hands ticks out during replay.
 */
static void parse_tick(struct vn_trace_reader *r, struct cursor *c)
{
	struct vn_trace_tick *t = &r->tick;
	const struct vn_trace_topology *o = &r->topo;
	int nn = o->nr_nodes;
	size_t names = 0, *name_at;
	uint32_t ng;

	t->topo = o;
	t->tick = get_le(c, 8);
	t->now = get_f64(c);
	if (!c->err && !(t->now >= 0 && t->now < 1e12))
		bad(c, "the tick's time is out of range");
	for (int n = 0; n < nn; n++)
		t->mem_free[n] = get_le(c, 8);
	ng = (uint32_t)get_le(c, 4);
	/* each guest takes at least 19 bytes: a bound before allocating */
	if (!c->err && ng > (c->len - c->pos) / 19) {
		bad(c, "more guests than the record can hold");
		return;
	}
	if (c->err)
		return;
	room_for_guests(r, (int)ng);
	name_at = xcalloc(ng + 1, sizeof(*name_at));
	t->nr_guests = 0;
	for (uint32_t i = 0; i < ng && !c->err; i++) {
		struct vn_trace_guest *g = &t->guests[i];
		const char *s;
		size_t len;
		uint32_t nv;

		s = get_str(c, &len);
		if (!c->err && len == 0)
			bad(c, "a guest has no name");
		if (!c->err && memchr(s, '\0', len))
			bad(c, "a guest name holds a NUL byte");
		if (c->err)
			break;
		/* names go to one buffer, NUL-terminated; pointers are set below */
		if (names + len + 1 > r->cap_names) {
			r->cap_names = MAX(r->cap_names * 2, names + len + 1 + 256);
			r->names = xreallocarray(r->names, r->cap_names, 1);
		}
		memcpy(r->names + names, s, len);
		r->names[names + len] = '\0';
		name_at[i] = names;
		names += len + 1;
		g->age = 0;	/* unknown, unless an AGES record follows */
		g->pid = (pid_t)(int32_t)(uint32_t)get_le(c, 4);
		g->flags = (unsigned)get_le(c, 4);
		g->mem_read = get_le(c, 1) != 0;
		for (int n = 0; n < nn; n++)
			g->mem[n] = get_le(c, 8);
		for (int n = nn; n < VN_MAX_NODES; n++)
			g->mem[n] = 0;
		nv = (uint32_t)get_le(c, 4);
		if (!c->err && (nv < 1 || nv > VN_TRACE_MAX_VCPUS)) {
			bad(c, "a guest's vCPU count is out of range (1 to 4096)");
			break;
		}
		if (!need(c, (size_t)nv * 70))
			break;
		room_for_vcpus(r, (int)i, (int)nv);
		g->nr_vcpus = (int)nv;
		for (uint32_t v = 0; v < nv; v++) {
			struct vn_counts *d = &g->counts[v];
			unsigned src;

			g->tids[v] = (pid_t)(int32_t)(uint32_t)get_le(c, 4);
			g->allowed[v] = get_le(c, 8);
			g->vnode[v] = (int)(int32_t)(uint32_t)get_le(c, 4);
			d->cycles = get_le(c, 8);
			d->instructions = get_le(c, 8);
			d->local_dram = get_le(c, 8);
			d->remote_dram = get_le(c, 8);
			d->cpu_time = get_f64(c);
			d->elapsed = get_f64(c);
			d->node = (int)(int32_t)(uint32_t)get_le(c, 4);
			src = (unsigned)get_le(c, 1);
			d->source = (enum vnumad_source)src;
			d->valid = get_le(c, 1) != 0;
			if (c->err)
				break;
			if (src > VNUMAD_SRC_ESTIMATE)
				bad(c, "a vCPU's counter source is unknown");
			else if (g->vnode[v] < -1 || g->vnode[v] >= VN_MAX_NODES)
				bad(c, "a vCPU's guest NUMA node is out of range (-1 to 63)");
			else if (d->node < -1 || d->node >= nn)
				bad(c, "a vCPU ran on a node the topology does not have");
			else if (!g->allowed[v] || (g->allowed[v] & ~o->online))
				bad(c, "a vCPU's affinity names nodes the topology does not have");
			else if (!(d->elapsed >= 0 && d->cpu_time >= 0))
				bad(c, "a vCPU's times are negative");
			if (c->err)
				break;
		}
		t->nr_guests = (int)i + 1;
	}
	for (int i = 0; i < t->nr_guests; i++)
		t->guests[i].name = r->names + name_at[i];
	free(name_at);
	if (!c->err && c->pos != c->len)
		bad(c, "bytes left over after the last guest");
}

/* Decodes an AGES record into the guests of the tick just decoded. */
static void parse_ages(struct vn_trace_reader *r, struct cursor *c)
{
	uint32_t ng = (uint32_t)get_le(c, 4);

	if (!c->err && ng != (uint32_t)r->tick.nr_guests) {
		bad(c, "the ages record counts other guests than its tick");
		return;
	}
	if (!need(c, (size_t)ng * 8))
		return;
	for (uint32_t i = 0; i < ng; i++) {
		double age = get_f64(c);

		/* the same bound as a tick's time: an age is time on that clock */
		if (!(age >= 0 && age < 1e12)) {
			c->pos -= 8;
			bad(c, "a guest's age is out of range");
			return;
		}
		r->tick.guests[i].age = age;
	}
}

static void reader_free(struct vn_trace_reader *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->cap_guests; i++) {
		free(r->tick.guests[i].tids);
		free(r->tick.guests[i].allowed);
		free(r->tick.guests[i].vnode);
		free(r->tick.guests[i].counts);
	}
	free(r->tick.guests);
	free(r->cap_vcpus);
	free(r->names);
	free(r->info.vnumad_version);
	free(r->info.backend);
	free(r->info.sampler);
	free(r->info.source);
	free(r->off);
	free(r->type);
	free(r->len);
	free(r->data);
	free(r->path);
	free(r);
}

static int read_all(struct vn_trace_reader *r, struct vn_errors *e)
{
	FILE *f = fopen(r->path, "rb");
	size_t cap = 1 << 16, n;

	if (!f) {
		errors_add(e, "%s: %s", r->path, strerror(errno));
		return -1;
	}
	r->data = xmalloc(cap);
	while ((n = fread(r->data + r->size, 1, cap - r->size, f)) > 0) {
		r->size += n;
		/* no header, no trace: /dev/zero is not read until memory runs out */
		if (r->size >= 8 && memcmp(r->data, TRACE_MAGIC, 8) != 0)
			break;
		if (r->size == cap) {
			cap *= 2;
			r->data = xreallocarray(r->data, cap, 1);
		}
	}
	if (ferror(f)) {
		errors_add(e, "%s: %s", r->path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Splits the file into records, checking lengths and checksums. */
static int index_records(struct vn_trace_reader *r, unsigned flags,
			 struct vn_errors *e)
{
	size_t pos = HEADER_LEN;
	int cap = 0;

	while (pos < r->size) {
		const unsigned char *p = r->data + pos;
		size_t left = r->size - pos;
		uint32_t type, len, crc, want;
		int i = r->nr_rec;

		if (left < 8) {
			if (flags & VN_TRACE_PARTIAL)
				break;
			errors_add(e, "%s: byte %zu: truncated: record %d ends in its header "
				   "(%zu of 8 bytes)", r->path, pos, i + 1, left);
			return -1;
		}
		type = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		       (uint32_t)p[3] << 24;
		len = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
		      (uint32_t)p[7] << 24;
		if (len > RECORD_MAX) {
			errors_add(e, "%s: byte %zu: corrupt: record %d claims %u bytes",
				   r->path, pos, i + 1, len);
			return -1;
		}
		if (left < (size_t)len + RECORD_OVERHEAD) {
			if (flags & VN_TRACE_PARTIAL)
				break;
			errors_add(e, "%s: byte %zu: truncated: record %d (%s) needs %zu bytes, "
				   "%zu left", r->path, pos, i + 1, record_name(type),
				   (size_t)len + RECORD_OVERHEAD, left);
			return -1;
		}
		want = (uint32_t)p[8 + len] | (uint32_t)p[9 + len] << 8 |
		       (uint32_t)p[10 + len] << 16 | (uint32_t)p[11 + len] << 24;
		crc = trace_crc32(0, p, 8 + (size_t)len);
		if (crc != want) {
			errors_add(e, "%s: byte %zu: corrupt: record %d (%s, %u bytes) fails "
				   "its checksum", r->path, pos, i + 1, record_name(type), len);
			return -1;
		}
		if (i == cap) {
			cap = cap ? cap * 2 : 256;
			r->off = xreallocarray(r->off, cap, sizeof(*r->off));
			r->type = xreallocarray(r->type, cap, sizeof(*r->type));
			r->len = xreallocarray(r->len, cap, sizeof(*r->len));
		}
		r->off[i] = pos + 8;
		r->type[i] = type;
		r->len[i] = len;
		r->nr_rec++;
		pos += (size_t)len + RECORD_OVERHEAD;
	}
	return 0;
}

static void start_cursor(const struct vn_trace_reader *r, int i, struct cursor *c)
{
	memset(c, 0, sizeof(*c));
	c->p = r->data + r->off[i];
	c->len = r->len[i];
	c->base = r->off[i];
}

/* Checks the order and contents of every record, decoding every tick. */
static int check_records(struct vn_trace_reader *r, unsigned flags,
			 struct vn_errors *e)
{
	bool info = false, topo = false, end = false;
	uint64_t ticks = 0, last_tick = 0, end_ticks = 0;
	double last_now = -1;

	for (int i = 0; i < r->nr_rec; i++) {
		struct cursor c;
		const char *order = NULL;

		start_cursor(r, i, &c);
		if (end)
			order = "a record after the end record";
		else if (i == 0 && r->type[i] != REC_INFO)
			order = "the first record is not the info record";
		else if (i > 0 && r->type[i] == REC_INFO)
			order = "a second info record";
		else if (r->type[i] == REC_TICK && !topo)
			order = "a tick before any topology";
		else if (r->type[i] == REC_AGES && r->type[i - 1] != REC_TICK)
			order = "an ages record not right after a tick";
		if (order) {
			errors_add(e, "%s: byte %zu: corrupt: record %d (%s): %s", r->path,
				   r->off[i] - 8, i + 1, record_name(r->type[i]), order);
			return -1;
		}
		switch (r->type[i]) {
		case REC_INFO:
			parse_info(r, &c);
			info = true;
			break;
		case REC_TOPOLOGY:
			parse_topology(&c, &r->topo);
			topo = true;
			break;
		case REC_TICK:
			parse_tick(r, &c);
			if (!c.err && ticks && r->tick.tick <= last_tick)
				bad(&c, "tick numbers do not go up");
			if (!c.err && r->tick.now < last_now)
				bad(&c, "time goes backwards");
			last_tick = r->tick.tick;
			last_now = r->tick.now;
			ticks++;
			break;
		case REC_AGES:
			parse_ages(r, &c);
			break;
		case REC_END:
			end_ticks = get_le(&c, 8);
			if (!c.err && end_ticks != ticks)
				bad(&c, "the end record counts other ticks than the file holds");
			end = true;
			break;
		default:
			continue;	/* a later minor addition: skipped */
		}
		if (!c.err && c.pos != c.len)
			bad(&c, "bytes left over at the end of the record");
		if (c.err) {
			errors_add(e, "%s: byte %zu: corrupt: record %d (%s): %s", r->path,
				   c.err_at, i + 1, record_name(r->type[i]), c.err);
			return -1;
		}
	}
	if (!info) {
		errors_add(e, "%s: byte %d: truncated: the trace holds no record",
			   r->path, HEADER_LEN);
		return -1;
	}
	if (!end && !(flags & VN_TRACE_PARTIAL)) {
		errors_add(e, "%s: byte %zu: truncated after %llu tick%s: no end record "
			   "(the recorder did not finish; --partial replays what is there)",
			   r->path, r->size, (unsigned long long)ticks, ticks == 1 ? "" : "s");
		return -1;
	}
	r->info.nr_ticks = ticks;
	r->info.complete = end;
	return 0;
}

struct vn_trace_reader *trace_open_read(const char *path, unsigned flags,
					struct vn_errors *e)
{
	struct vn_trace_reader *r = xcalloc(1, sizeof(*r));
	unsigned version;

	r->path = xstrdup(path);
	if (read_all(r, e) < 0)
		goto fail;
	if (r->size < HEADER_LEN || memcmp(r->data, TRACE_MAGIC, 8) != 0) {
		if (r->size < 8 || memcmp(r->data, TRACE_MAGIC, 8) != 0)
			errors_add(e, "%s: byte 0: not a vnumad trace (no \"%s\" header)",
				   path, TRACE_MAGIC);
		else
			errors_add(e, "%s: byte %zu: truncated: the header needs %d bytes",
				   path, r->size, HEADER_LEN);
		goto fail;
	}
	version = (unsigned)r->data[8] | (unsigned)r->data[9] << 8 |
		  (unsigned)r->data[10] << 16 | (unsigned)r->data[11] << 24;
	if (version != VN_TRACE_VERSION) {
		errors_add(e, "%s: byte 8: trace format version %u; this vnumad reads "
			   "version %d", path, version, VN_TRACE_VERSION);
		goto fail;
	}
	if (r->data[12] | r->data[13] | r->data[14] | r->data[15]) {
		errors_add(e, "%s: byte 12: corrupt: the header's reserved word is not zero",
			   path);
		goto fail;
	}
	r->info.version = (int)version;
	if (index_records(r, flags, e) < 0 || check_records(r, flags, e) < 0)
		goto fail;
	r->next = 0;
	return r;
fail:
	reader_free(r);
	return NULL;
}

const struct vn_trace_info *trace_reader_info(const struct vn_trace_reader *r)
{
	return &r->info;
}

struct vn_trace_tick *trace_next_tick(struct vn_trace_reader *r)
{
	while (r->next < r->nr_rec) {
		int i = r->next++;
		struct cursor c;

		start_cursor(r, i, &c);
		if (r->type[i] == REC_TOPOLOGY) {
			parse_topology(&c, &r->topo);
		} else if (r->type[i] == REC_TICK) {
			parse_tick(r, &c);	/* checked at open: cannot fail */
			if (r->next < r->nr_rec && r->type[r->next] == REC_AGES) {
				start_cursor(r, r->next++, &c);
				parse_ages(r, &c);
			}
			return &r->tick;
		}
	}
	return NULL;
}

void trace_close_read(struct vn_trace_reader *r)
{
	reader_free(r);
}
