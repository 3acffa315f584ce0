// SPDX-License-Identifier: MIT
/*
 * The policy worker's wire (wire.h): messages on SOCK_SEQPACKET sockets, and
 * the view packed flat into shared memory and rebuilt on the other side.
 *
 * Both the daemon and vnumad-worker link this file, and nothing else of the
 * core: it uses the C library alone (no logging, no xmalloc), so that the
 * worker stays small.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/*
 * Tripwires. Packing copies the structures of policy.h whole and relocates
 * the pointer members listed in wire_view_pack(); a member added at the end
 * of a structure travels by itself, unless it is a pointer. When one of
 * these sizes changes, look at what was added: a pointer member needs its
 * lines in pack and unpack (and its target's bounds checked), then update
 * the size here. The ABI 1.2 members of a guest travel so:
 *
 *   id, age, nr_vnodes              scalars: copied
 *   vnode_mem                       a pointer: its [nr_vnodes *
 *                                   VNUMAD_MAX_NODES] array is packed after
 *                                   the guest's vCPUs, relocated and bounds
 *                                   checked in unpack (offset 0: NULL)
 *   priv                            the daemon's is meaningless in the
 *                                   worker: packed as 0; serve.c calls
 *                                   guest_init/guest_exit as ids appear in
 *                                   and vanish from its views, and fills
 *                                   the member in its copy of the guest
 *   view.guest_size, migrate_rate   scalars: copied
 *   exit info to exit(), then fini  a struct wire_fini payload of
 *                                   WIRE_FINI (worker.c sends why the
 *                                   policy stops, serve.c passes it)
 */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct vnumad_view) == 112,
	       "struct vnumad_view changed: check wire_view_pack for new pointer members");
_Static_assert(sizeof(struct vnumad_guest) == 608,
	       "struct vnumad_guest changed: check wire_view_pack for new pointer members");
_Static_assert(sizeof(struct vnumad_vcpu) == 88,
	       "struct vnumad_vcpu changed: it is copied whole; a pointer in it needs relocating");
_Static_assert(sizeof(struct vnumad_node) == 48,
	       "struct vnumad_node changed: it is copied whole; a pointer in it needs relocating");
_Static_assert(sizeof(struct vnumad_policy) == 88,
	       "struct vnumad_policy changed: check what wire_desc_pack tells the daemon");
#endif

int wire_send(int fd, uint32_t type, uint64_t seq, int64_t a, int64_t b,
	      const void *payload, size_t len, const int *fds, int nfds)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = type, .seq = seq,
			      .a = a, .b = b };
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_NR_FDS)];
		struct cmsghdr align;
	} cm;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (sizeof(h) + len > WIRE_MSG_MAX || nfds < 0 || nfds > WIRE_NR_FDS)
		return -EMSGSIZE;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + len ? 0 : -EMSGSIZE;
}

int wire_send_text(int fd, uint32_t type, int64_t a, int64_t b, const char *text)
{
	size_t n = strnlen(text, WIRE_TEXT_MAX - 1);
	char buf[WIRE_TEXT_MAX];

	memcpy(buf, text, n);
	buf[n] = '\0';
	return wire_send(fd, type, 0, a, b, buf, n + 1, NULL, 0);
}

int wire_recv(int fd, struct wire_hdr *h, void *payload, size_t cap,
	      size_t *len, int *fds, int *nfds)
{
	struct iovec iov[2] = {
		{ .iov_base = h, .iov_len = sizeof(*h) },
		{ .iov_base = payload, .iov_len = cap },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_NR_FDS)];
		struct cmsghdr align;
	} cm;
	struct msghdr msg = {
		.msg_iov = iov, .msg_iovlen = cap ? 2 : 1,
		.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
	};
	int want = nfds ? *nfds : 0, got = 0;
	ssize_t n;

	if (nfds)
		*nfds = 0;
	*len = 0;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	/* descriptors first: whatever else is wrong, none may leak */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		int k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int d;

			memcpy(&d, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < want)
				fds[got++] = d;
			else
				close(d);
		}
	}
	if (nfds)
		*nfds = got;
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(*h) ||
	    h->magic != WIRE_MAGIC) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		if (nfds)
			*nfds = 0;
		return -EPROTO;
	}
	*len = (size_t)n - sizeof(*h);
	return 1;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Stores an offset in a pointer member of a copied structure. */
static void put_off(void *member, uint64_t off)
{
	uintptr_t v = (uintptr_t)off;

	memcpy(member, &v, sizeof(v));
}

static uint64_t get_off(const void *member)
{
	uintptr_t v;

	memcpy(&v, member, sizeof(v));
	return v;
}

/* A bump allocator over the map that keeps counting past its end. */
struct packer {
	uint8_t *map;
	size_t cap, used;
};

/* Reserves n bytes, 8-aligned; NULL (and still counted) past the end. */
static void *reserve(struct packer *p, size_t n, uint64_t *off)
{
	size_t at = p->used;

	p->used = align8(at + n);
	*off = at;
	return p->used <= p->cap ? p->map + at : NULL;
}

static uint64_t put(struct packer *p, const void *src, size_t n)
{
	uint64_t off;
	void *dst = reserve(p, n, &off);

	if (dst && n)
		memcpy(dst, src, n);
	return off;
}

/*
 * The one list of pointer members, in the order they are packed:
 *
 *   view.nodes     [nr_nodes] struct vnumad_node, copied whole
 *   view.distance  [nr_nodes * nr_nodes] bytes
 *   view.node_info [nr_nodes] struct vnumad_node_info, copied whole; offset
 *                  0 (the header's) stands for NULL
 *   view.guests    [nr_guests] offsets of struct vnumad_guest
 *   guest.name     NUL-terminated
 *   guest.vcpus    [nr_vcpus] struct vnumad_vcpu, copied whole
 *   guest.vnode_mem [nr_vnodes * VNUMAD_MAX_NODES] uint64_t (1.2); offset 0
 *                  stands for NULL, as it does without vNUMA
 *   guest.priv     not packed: 0, the worker fills its own (serve.c)
 *
 * Everything else is copied as it is.
 */
size_t wire_view_pack(void *map, size_t cap, const struct vnumad_view *v,
		      uint64_t seq)
{
	struct packer p = { .map = map, .cap = cap };
	struct wire_view_hdr *h;
	struct vnumad_view *vv;
	uint64_t off, voff, table;
	uint64_t *tab;
	int nn = v->nr_nodes > 0 ? v->nr_nodes : 0;
	int ng = v->nr_guests > 0 ? v->nr_guests : 0;

	h = reserve(&p, sizeof(*h), &off);
	vv = reserve(&p, sizeof(*vv), &voff);
	if (vv) {
		memcpy(vv, v, sizeof(*vv));
		vv->size = sizeof(*vv);
	}
	off = put(&p, v->nodes, sizeof(*v->nodes) * (size_t)nn);
	if (vv)
		put_off(&vv->nodes, off);
	off = put(&p, v->distance, (size_t)nn * (size_t)nn);
	if (vv)
		put_off(&vv->distance, off);
	off = v->node_info ? put(&p, v->node_info, sizeof(*v->node_info) * (size_t)nn) : 0;
	if (vv)
		put_off(&vv->node_info, off);
	tab = reserve(&p, sizeof(uint64_t) * (size_t)ng, &table);
	if (vv)
		put_off(&vv->guests, table);
	for (int i = 0; i < ng; i++) {
		const struct vnumad_guest *g = v->guests[i];
		int nv = g->nr_vcpus > 0 ? g->nr_vcpus : 0;
		int nk = g->nr_vnodes > 0 && g->nr_vnodes <= VNUMAD_MAX_NODES ?
			 g->nr_vnodes : 0;
		struct vnumad_guest *gg;
		uint64_t goff;

		gg = reserve(&p, sizeof(*gg), &goff);
		if (tab)
			tab[i] = goff;
		if (gg)
			memcpy(gg, g, sizeof(*gg));
		off = put(&p, g->name, strlen(g->name) + 1);
		if (gg)
			put_off(&gg->name, off);
		off = put(&p, g->vcpus, sizeof(*g->vcpus) * (size_t)nv);
		if (gg)
			put_off(&gg->vcpus, off);
		off = g->vnode_mem && nk ? put(&p, g->vnode_mem, sizeof(*g->vnode_mem) *
					       VNUMAD_MAX_NODES * (size_t)nk) : 0;
		if (gg) {
			put_off(&gg->vnode_mem, off);
			gg->priv = NULL;
		}
	}
	if (p.used <= p.cap) {
		h->magic = WIRE_MAGIC;
		h->sz_view = sizeof(struct vnumad_view);
		h->sz_node = sizeof(struct vnumad_node);
		h->sz_guest = sizeof(struct vnumad_guest);
		h->sz_vcpu = sizeof(struct vnumad_vcpu);
		h->pad = 0;
		h->seq = seq;
		h->used = p.used;
		h->view = voff;
	}
	return p.used;
}

/* A pointer to n bytes at offset off of the map, or NULL when out of it. */
static const void *at(const uint8_t *map, size_t len, uint64_t off, uint64_t n)
{
	if (off > len || n > len - off || (off & 7))
		return NULL;
	return map + off;
}

int wire_view_unpack(const void *mapv, size_t len, uint64_t seq,
		     struct wire_unpacked *u, const char **why)
{
	const uint8_t *map = mapv;
	const struct wire_view_hdr *h = at(map, len, 0, sizeof(*h));
	const struct vnumad_view *vv;
	const uint64_t *tab;
	int nn, ng;

	if (!h || h->magic != WIRE_MAGIC) {
		*why = "the view has no header";
		return -1;
	}
	if (h->sz_view != sizeof(struct vnumad_view) ||
	    h->sz_node != sizeof(struct vnumad_node) ||
	    h->sz_guest != sizeof(struct vnumad_guest) ||
	    h->sz_vcpu != sizeof(struct vnumad_vcpu)) {
		*why = "the view comes from another build of vnumad";
		return -1;
	}
	if (h->seq != seq) {
		*why = "the view is not the one of this tick";
		return -1;
	}
	if (h->used > len || !(vv = at(map, h->used, h->view, sizeof(*vv)))) {
		*why = "the view lies outside its map";
		return -1;
	}
	len = h->used;
	u->view = *vv;
	nn = vv->nr_nodes;
	ng = vv->nr_guests;
	if (nn < 0 || nn > VNUMAD_MAX_NODES || ng < 0) {
		*why = "the view's node or guest count is out of range";
		return -1;
	}
	u->view.nodes = at(map, len, get_off(&vv->nodes),
			   sizeof(struct vnumad_node) * (uint64_t)nn);
	u->view.distance = at(map, len, get_off(&vv->distance), (uint64_t)nn * nn);
	tab = at(map, len, get_off(&vv->guests), sizeof(uint64_t) * (uint64_t)ng);
	u->view.node_info = NULL;
	if (get_off(&vv->node_info)) {
		u->view.node_info = at(map, len, get_off(&vv->node_info),
				       sizeof(struct vnumad_node_info) * (uint64_t)nn);
		if (!u->view.node_info)
			tab = NULL;
	}
	if (!u->view.nodes || !u->view.distance || !tab) {
		*why = "a table of the view lies outside its map";
		return -1;
	}
	if (ng > u->cap) {
		int cap = ng + ng / 2 + 16;
		struct vnumad_guest *g = realloc(u->guest, sizeof(*g) * cap);
		const struct vnumad_guest **gp;

		if (g)
			u->guest = g;
		gp = g ? realloc(u->guests, sizeof(*gp) * cap) : NULL;
		if (!gp) {
			*why = "the worker is out of memory";
			return -1;
		}
		u->guests = gp;
		u->cap = cap;
	}
	for (int i = 0; i < ng; i++) {
		const struct vnumad_guest *src = at(map, len, tab[i], sizeof(*src));
		struct vnumad_guest *g = &u->guest[i];
		uint64_t noff;

		if (!src) {
			*why = "a guest lies outside the map";
			return -1;
		}
		*g = *src;
		noff = get_off(&src->name);
		if (noff >= len || !memchr(map + noff, '\0', len - noff)) {
			*why = "a guest's name lies outside the map";
			return -1;
		}
		g->name = (const char *)map + noff;
		if (g->nr_vcpus < 0) {
			*why = "a guest's vCPU count is negative";
			return -1;
		}
		g->vcpus = at(map, len, get_off(&src->vcpus),
			      sizeof(struct vnumad_vcpu) * (uint64_t)g->nr_vcpus);
		if (!g->vcpus) {
			*why = "a guest's vCPUs lie outside the map";
			return -1;
		}
		if (g->nr_vnodes < 0 || g->nr_vnodes > VNUMAD_MAX_NODES) {
			*why = "a guest's vnode count is out of range";
			return -1;
		}
		g->vnode_mem = NULL;
		if (get_off(&src->vnode_mem)) {
			g->vnode_mem = at(map, len, get_off(&src->vnode_mem),
					  sizeof(uint64_t) * VNUMAD_MAX_NODES *
					  (uint64_t)g->nr_vnodes);
			if (!g->vnode_mem || !g->nr_vnodes) {
				*why = "a guest's per-vnode memory lies outside the map";
				return -1;
			}
		}
		g->priv = NULL;
		u->guests[i] = g;
	}
	u->view.guests = u->guests;
	return 0;
}

void wire_unpacked_free(struct wire_unpacked *u)
{
	free(u->guest);
	free(u->guests);
	memset(u, 0, sizeof(*u));
}

/* The descriptor being packed: strings go after the options, in order. */
struct desc_packer {
	uint8_t *buf;
	size_t cap, used;
	char *why;
	size_t len;
	bool bad;
};

/* Appends string s (NULL: offset 0); what names it in a refusal. */
static uint32_t put_str(struct desc_packer *k, const char *s, const char *what, int opt)
{
	size_t n;

	if (!s || k->bad)
		return 0;
	n = strnlen(s, WIRE_DESC_TEXT_MAX);
	if (n == WIRE_DESC_TEXT_MAX) {
		if (opt >= 0)
			snprintf(k->why, k->len, "option %d: its %s is longer than %d bytes",
				 opt + 1, what, WIRE_DESC_TEXT_MAX - 1);
		else
			snprintf(k->why, k->len, "its %s is longer than %d bytes", what,
				 WIRE_DESC_TEXT_MAX - 1);
		k->bad = true;
		return 0;
	}
	if (k->used + n + 1 > k->cap) {
		snprintf(k->why, k->len, "its descriptor is more than %zu bytes long", k->cap);
		k->bad = true;
		return 0;
	}
	memcpy(k->buf + k->used, s, n + 1);
	k->used += n + 1;
	return (uint32_t)(k->used - n - 1);
}

size_t wire_desc_pack(void *buf, size_t cap, const struct vnumad_policy *p,
		      char *why, size_t len)
{
	struct desc_packer k = { .buf = buf, .cap = cap, .why = why, .len = len };
	struct wire_desc *d = buf;
	size_t n = 0;

	if (cap < sizeof(*d)) {
		snprintf(why, len, "no room for a descriptor");
		return 0;
	}
	memset(d, 0, sizeof(*d));
	d->abi_major = p->abi_major;
	d->size = p->size;
	/* the rest of another ABI's descriptor may lie elsewhere, or nowhere */
	if (p->abi_major != VNUMAD_POLICY_ABI_MAJOR || p->size < WIRE_POLICY_V1_SIZE)
		return sizeof(*d);
	for (; p->options && p->options[n].name; n++)
		if (n == WIRE_DESC_OPTIONS_MAX) {
			snprintf(why, len, "it declares more than %d options",
				 WIRE_DESC_OPTIONS_MAX);
			return 0;
		}
	k.used = sizeof(*d) + n * sizeof(d->opt[0]);
	if (k.used > cap) {
		snprintf(why, len, "its descriptor is more than %zu bytes long", cap);
		return 0;
	}
	d->flags = p->flags;
	d->callbacks = (p->init ? WIRE_DESC_INIT : 0) | (p->tick ? WIRE_DESC_TICK : 0) |
		       (p->fini ? WIRE_DESC_FINI : 0);
	d->nr_options = (uint32_t)n;
	d->name = put_str(&k, p->name, "name", -1);
	d->description = put_str(&k, p->description, "description", -1);
	for (size_t i = 0; i < n; i++) {
		const struct vnumad_option *o = &p->options[i];
		struct wire_desc_opt *w = &d->opt[i];

		w->type = (uint32_t)o->type;
		w->min = o->min;
		w->max = o->max;
		w->name = put_str(&k, o->name, "name", (int)i);
		w->def = put_str(&k, o->def, "default", (int)i);
		w->help = put_str(&k, o->help, "help", (int)i);
	}
	return k.bad ? 0 : k.used;
}

/* A string of the description: NULL for 0, else inside buf and ended in time. */
static int get_str(const uint8_t *buf, size_t len, size_t start, uint32_t off,
		   const char **s)
{
	*s = NULL;
	if (!off)
		return 0;
	if (off < start || off >= len)
		return -1;
	if (!memchr(buf + off, '\0', len - off < WIRE_DESC_TEXT_MAX ? len - off :
		    WIRE_DESC_TEXT_MAX))
		return -1;
	*s = (const char *)buf + off;
	return 0;
}

int wire_desc_unpack(const void *buf, size_t len, struct vnumad_policy *p,
		     struct vnumad_option *opts, uint32_t *callbacks,
		     const char **why)
{
	const uint8_t *b = buf;
	struct wire_desc d;
	size_t start;
	int bad = 0;

	memset(p, 0, sizeof(*p));
	memset(opts, 0, sizeof(*opts));
	*callbacks = 0;
	if (len < sizeof(d)) {
		*why = "shorter than a descriptor";
		return -1;
	}
	memcpy(&d, b, sizeof(d));
	p->abi_major = d.abi_major;
	p->size = d.size;
	if (d.abi_major != VNUMAD_POLICY_ABI_MAJOR || d.size < WIRE_POLICY_V1_SIZE)
		return 0;	/* refused for that, by its checker */
	if (d.nr_options > WIRE_DESC_OPTIONS_MAX) {
		*why = "more options than a policy may declare";
		return -1;
	}
	start = sizeof(d) + sizeof(struct wire_desc_opt) * (size_t)d.nr_options;
	if (start > len) {
		*why = "its options lie outside the message";
		return -1;
	}
	p->flags = d.flags;
	*callbacks = d.callbacks;
	bad |= get_str(b, len, start, d.name, &p->name);
	bad |= get_str(b, len, start, d.description, &p->description);
	for (uint32_t i = 0; i < d.nr_options; i++) {
		struct wire_desc_opt w;
		struct vnumad_option *o = &opts[i];

		memcpy(&w, b + sizeof(d) + sizeof(w) * i, sizeof(w));
		o->type = (enum vnumad_opt_type)w.type;
		o->min = w.min;
		o->max = w.max;
		bad |= get_str(b, len, start, w.def, &o->def);
		bad |= get_str(b, len, start, w.help, &o->help);
		/* a NULL name would end the table early: the checker must see it */
		if (!w.name) {
			*why = "an option without a name";
			return -1;
		}
		bad |= get_str(b, len, start, w.name, &o->name);
	}
	if (bad) {
		*why = "a string lies outside the message or has no end";
		return -1;
	}
	memset(&opts[d.nr_options], 0, sizeof(*opts));
	p->options = opts;
	return 0;
}
