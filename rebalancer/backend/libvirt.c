// SPDX-License-Identifier: MIT
/*
 * The libvirt backend: guests are the running domains of a libvirt
 * connection (qemu:///system by default; Xen through the libxl driver,
 * test:///default for tests).
 *
 * libvirt's events run in the daemon's libevent loop (virevent.c). Lifecycle
 * events add and drop guests at once; a full resync with
 * virConnectListAllDomains every RESYNC seconds, and after every reconnect,
 * catches what events missed. A scan between ticks costs no libvirt call:
 * it reports the cached domains, with the vCPU threads and affinities of
 * local QEMU guests read from /proc.
 *
 * A local QEMU domain's vCPU threads are those libvirt recorded: each
 * vCPU's cgroup, else the domain's status XML (lvstate.c); the threads'
 * names only when neither says (vmm.c). Whatever the accelerator: KVM,
 * TCG, MSHV.
 *
 * When the connection closes (libvirtd restarted or died, keepalive timed
 * out) the guests stay in the inventory (their QEMU processes run on), a
 * timer reconnects with a doubling backoff, and the resync on success
 * brings the cache up to date.
 *
 * vCPUs move with virDomainPinVcpuFlags(LIVE) to every CPU of the target
 * nodes, so that libvirt's view of the domain stays true. Guest memory moves
 * with the mover (move_pages on the QEMU process); Xen has no such thing.
 *
 * A guest is left alone (PINNED) when its persistent definition pins it:
 * <cputune><vcpupin>, <vcpu cpuset=...>, or a <numatune> with a nodeset of
 * its own. placement='auto' (numad's advice at start) is no pin: vnumad
 * manages such a guest as numad would, and says where libvirt's memory
 * mode keeps its memory from moving. Our metadata element opts a guest
 * out, or a pinned one in:
 *
 *   <metadata>
 *     <vnumad:guest xmlns:vnumad="https://vnumad.org/xmlns/guest/1" manage="no"/>
 *   </metadata>
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <dirent.h>
#include <event2/event.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "config.h"
#include "hostinfo.h"
#include "log.h"
#include "lvstate.h"
#include "mover.h"
#include "registry.h"
#include "util.h"
#include "virevent.h"
#include "vmm.h"
#include "vnumad.h"

#define VNUMAD_XMLNS	"https://vnumad.org/xmlns/guest/1"
#define RESYNC		30.0	/* seconds between full resyncs */
#define BACKOFF_MIN	1.0
#define BACKOFF_MAX	60.0
#define RETRY		5.0	/* seconds before a resync after a failed read */

enum lv_kind {
	LV_QEMU,
	LV_XEN,
	LV_TEST,
	LV_OTHER,
};

/* One running domain as the backend caches it. */
struct lv_dom {
	unsigned char uuid[VIR_UUID_BUFLEN];
	char uuidstr[VIR_UUID_STRING_BUFLEN];
	char *name;
	virDomainPtr dom;	/* NULL while disconnected */
	bool persistent;
	bool judged;		/* flags read once (transient domains keep them) */
	unsigned flags;		/* VNUMAD_GUEST_PINNED, _OPTED_OUT, _NO_MEMMOVE */
	pid_t pid;		/* local QEMU process, 0 unknown */
	uint64_t starttime;
	int nr_vcpus;
	int cap;
	pid_t *tids;
	uint64_t *allowed;
	int *vnode;
	bool has_vnode;
	enum lvstate_source tid_src;	/* where the thread ids came from */
	bool shared_thread;	/* single-threaded TCG: "ALL CPUs/TCG" */
	bool autoplaced;	/* placement='auto': numad's advice at start */
	char memmode[16];	/* its numatune memory mode, "" none */
	char unmeasured[192];	/* why its vCPUs cannot be measured, "" they can */
	double looked_at;	/* when its threads were last looked for */
	char memory_fixed[192];	/* why its memory cannot move, "" it can */
	bool seen;		/* listed by the current resync */
	bool known;		/* discovered once: fit to report */
	bool md_warned;		/* a bad metadata value was logged */
	uint64_t guest_id;	/* the core's guest, 0 none */
	struct lv_dom *next;
};

/* The host layout libvirt pins against. */
struct lv_topo {
	int nr_nodes;
	uint64_t online;
	int nr_cpus;		/* CPUs in libvirt's cpumaps */
	int *cpu_node;		/* [nr_cpus], -1 none */
	int node_cpus[VN_MAX_NODES];
	uint64_t mem_total[VN_MAX_NODES];
	uint64_t mem_free[VN_MAX_NODES];
	uint8_t distance[VN_MAX_NODES * VN_MAX_NODES];
};

struct lv {
	struct vn_backend *b;
	char *uri;
	virConnectPtr conn;
	enum lv_kind kind;
	bool local;		/* QEMU on this host: /proc and libnuma describe it */
	bool connected;
	bool system;		/* qemu:///system, not a session */
	bool waiting;		/* not yet connected since the start */
	int cb_lifecycle;	/* callback ids, -1 none */
	int cb_metadata;
	struct event *drop_ev;	/* made active by the close callback */
	struct event *reconnect_ev;
	atomic_int close_reason;
	double backoff;
	double lost_at;
	int attempts;
	double last_resync;
	bool retry;		/* a domain could not be refreshed: resync soon */
	struct lv_dom *doms;
	struct vn_mover *mover;
	struct lv_topo topo;
};

static double resync_interval = RESYNC;

void libvirt_backend_set_resync(double seconds)
{
	resync_interval = seconds;
}

static struct lv *lv_of(const struct vn_backend *b)
{
	return b->priv;
}

/* libvirt prints every error to stderr unless told otherwise. */
static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static const char *lv_err(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

/* The errno closest to libvirt's last error. */
static int lv_errno(void)
{
	virErrorPtr e = virGetLastError();

	if (!e)
		return -EIO;
	switch (e->code) {
	case VIR_ERR_NO_DOMAIN:
	case VIR_ERR_OPERATION_INVALID:
		return -ESRCH;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_OPERATION_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_INVALID_ARG:
		return -EINVAL;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_AUTH_FAILED:
		return -EPERM;
	case VIR_ERR_SYSTEM_ERROR:
	case VIR_ERR_RPC:
	case VIR_ERR_INTERNAL_ERROR:
		if (e->domain == VIR_FROM_RPC || e->code == VIR_ERR_RPC)
			return -ENOTCONN;
		return -EIO;
	default:
		return -EIO;
	}
}

static bool gone_error(void)
{
	virErrorPtr e = virGetLastError();

	return e && (e->code == VIR_ERR_NO_DOMAIN || e->code == VIR_ERR_OPERATION_INVALID);
}

/* --- XML ---------------------------------------------------------------- */

static xmlDocPtr parse_xml(const char *s)
{
	return xmlReadMemory(s, (int)strlen(s), "libvirt.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int xpath_count(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	int n = 0;

	if (o && o->type == XPATH_NODESET && o->nodesetval)
		n = o->nodesetval->nodeNr;
	xmlXPathFreeObject(o);
	return n;
}

/* Marks the vCPU numbers of a list such as "0-3,6" in vnode[] as cell. */
static void mark_cpus(const char *list, int cell, int *vnode, int nr)
{
	const char *p = list;

	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b;

		if (end == p)
			break;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			p = end;
		}
		for (long v = a; v <= b && v < nr; v++)
			if (v >= 0)
				vnode[v] = cell;
		while (*p == ',' || *p == ' ')
			p++;
		if (*p == '^')
			break;	/* exclusions do not occur in numa cells */
	}
}

/* The string value of an XPath expression, "" when empty. */
static void xpath_string(xmlXPathContextPtr ctx, const char *expr, char *buf, size_t len)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);

	buf[0] = '\0';
	if (o && o->type == XPATH_STRING && o->stringval)
		snprintf(buf, len, "%s", (const char *)o->stringval);
	xmlXPathFreeObject(o);
}

/*
 * What a domain definition says about pinning, and the guest NUMA cell of
 * each vCPU. Returns VNUMAD_GUEST_PINNED when the user pinned it:
 * <cputune><vcpupin>, a <vcpu cpuset> of its own (placement static),
 * <numatune><memnode>, or a <numatune><memory> with a nodeset of its own;
 * with VNUMAD_GUEST_MEMORY_FREE when only its vCPUs are pinned (no
 * <numatune> names its memory: the kernel's first touch put it, and its
 * NUMA balancing would bring it to the vCPUs). 0 when it is not pinned.
 * placement='auto' on <vcpu> or <numatune><memory> is numad's choice at
 * start, not the user's: the guest is managed, and d->autoplaced and
 * d->memmode say how libvirt holds its memory.
 */
static unsigned judge_definition(const char *xml, struct lv_dom *d)
{
	xmlDocPtr doc = parse_xml(xml);
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr o;
	char vplace[16], mplace[16], nodeset[64];
	bool pinned, mem_static, vcpu_auto, mem_named;

	d->autoplaced = false;
	d->memmode[0] = '\0';
	if (!doc)
		return 0;
	ctx = xmlXPathNewContext(doc);
	xpath_string(ctx, "string(/domain/vcpu/@placement)", vplace, sizeof(vplace));
	xpath_string(ctx, "string(/domain/numatune/memory/@placement)", mplace, sizeof(mplace));
	xpath_string(ctx, "string(/domain/numatune/memory/@nodeset)", nodeset, sizeof(nodeset));
	xpath_string(ctx, "string(/domain/numatune/memory/@mode)", d->memmode,
		     sizeof(d->memmode));
	vcpu_auto = !strcmp(vplace, "auto");
	/* <memory> without placement follows the vCPUs' unless it names nodes */
	mem_static = xpath_count(ctx, "/domain/numatune/memory") > 0 &&
		     (!strcmp(mplace, "static") || (!mplace[0] && (nodeset[0] || !vcpu_auto)));
	mem_named = xpath_count(ctx, "/domain/numatune/memory") > 0 ||
		    xpath_count(ctx, "/domain/numatune/memnode") > 0;
	pinned = xpath_count(ctx, "/domain/cputune/vcpupin") > 0 ||
		 (xpath_count(ctx, "/domain/vcpu[@cpuset]") > 0 && !vcpu_auto) ||
		 xpath_count(ctx, "/domain/numatune/memnode") > 0 || mem_static;
	d->autoplaced = vcpu_auto || !strcmp(mplace, "auto");
	/* libvirt's default mode, also for the numatune that vCPU auto implies */
	if (d->autoplaced && !d->memmode[0])
		snprintf(d->memmode, sizeof(d->memmode), "strict");
	d->has_vnode = false;
	o = xmlXPathEvalExpression((const xmlChar *)"/domain/cpu/numa/cell", ctx);
	if (o && o->nodesetval && o->nodesetval->nodeNr > 0 && d->nr_vcpus > 0) {
		for (int v = 0; v < d->nr_vcpus; v++)
			d->vnode[v] = -1;
		for (int i = 0; i < o->nodesetval->nodeNr; i++) {
			xmlNodePtr n = o->nodesetval->nodeTab[i];
			xmlChar *id = xmlGetProp(n, (const xmlChar *)"id");
			xmlChar *cpus = xmlGetProp(n, (const xmlChar *)"cpus");

			if (cpus)
				mark_cpus((const char *)cpus, id ? atoi((const char *)id) : i,
					  d->vnode, d->nr_vcpus);
			xmlFree(id);
			xmlFree(cpus);
		}
		d->has_vnode = true;
	}
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	if (!pinned)
		return 0;
	return VNUMAD_GUEST_PINNED | (mem_named ? 0 : VNUMAD_GUEST_MEMORY_FREE);
}

/* Our metadata element: 1 manage="yes", 0 manage="no", -1 absent or other. */
static int metadata_manage(struct lv_dom *d, virDomainPtr dom, unsigned int flags)
{
	char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VNUMAD_XMLNS,
					flags);
	xmlDocPtr doc;
	xmlChar *v = NULL;
	int r = -1;

	if (!md)
		return -1;
	doc = parse_xml(md);
	if (doc && xmlDocGetRootElement(doc))
		v = xmlGetProp(xmlDocGetRootElement(doc), (const xmlChar *)"manage");
	if (v) {
		bool b;
		const char *why;

		if (parse_bool((const char *)v, &b, &why) == 0)
			r = b;
		else if (!d->md_warned) {
			d->md_warned = true;
			log_warning("guest %s: metadata %s: manage='%s': %s; ignored",
				    d->name, VNUMAD_XMLNS, (const char *)v, why);
		}
	}
	xmlFree(v);
	xmlFreeDoc(doc);
	free(md);
	return r;
}

/* --- topology ------------------------------------------------------------ */

/* Reads a numeric attribute, or def. */
static long attr_long(xmlNodePtr n, const char *name, long def)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	long r = def;

	if (v)
		r = strtol((const char *)v, NULL, 10);
	xmlFree(v);
	return r;
}

static uint64_t memory_bytes(xmlNodePtr n)
{
	xmlChar *unit = xmlGetProp(n, (const xmlChar *)"unit");
	xmlChar *text = xmlNodeGetContent(n);
	uint64_t v = text ? strtoull((const char *)text, NULL, 10) : 0;
	uint64_t mul = KiB;	/* libvirt's default unit */

	if (unit) {
		if (!strcmp((const char *)unit, "b") || !strcmp((const char *)unit, "bytes"))
			mul = 1;
		else if (!strcasecmp((const char *)unit, "MiB") || !strcmp((const char *)unit, "M"))
			mul = MiB;
		else if (!strcasecmp((const char *)unit, "GiB") || !strcmp((const char *)unit, "G"))
			mul = GiB;
	}
	xmlFree(unit);
	xmlFree(text);
	return v * mul;
}

static void topo_free(struct lv_topo *t)
{
	free(t->cpu_node);
	memset(t, 0, sizeof(*t));
}

/*
 * The host from libvirt's capabilities: cells, their CPUs, memory and
 * distances. A host (or test driver file) without cells is one node.
 */
static int topo_from_caps(struct lv *lv, struct lv_topo *t)
{
	char *caps = virConnectGetCapabilities(lv->conn);
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr cells;
	virNodeInfo ni;
	int maxcpu = -1, nr;

	memset(t, 0, sizeof(*t));
	if (!caps) {
		log_warnx("libvirt: cannot read the capabilities: %s", lv_err());
		return -EIO;
	}
	doc = parse_xml(caps);
	free(caps);
	if (!doc) {
		log_warnx("libvirt: capabilities are not XML");
		return -EIO;
	}
	ctx = xmlXPathNewContext(doc);
	cells = xmlXPathEvalExpression((const xmlChar *)"/capabilities/host/topology/cells/cell", ctx);
	nr = cells && cells->nodesetval ? cells->nodesetval->nodeNr : 0;
	/* first pass: the highest CPU number, to size the map */
	for (int i = 0; i < nr; i++) {
		xmlNodePtr c = cells->nodesetval->nodeTab[i];

		for (xmlNodePtr x = c->children; x; x = x->next)
			if (x->type == XML_ELEMENT_NODE && !xmlStrcmp(x->name, (const xmlChar *)"cpus"))
				for (xmlNodePtr cpu = x->children; cpu; cpu = cpu->next)
					if (cpu->type == XML_ELEMENT_NODE)
						maxcpu = MAX(maxcpu, (int)attr_long(cpu, "id", -1));
	}
	if (virNodeGetInfo(lv->conn, &ni) == 0)
		maxcpu = MAX(maxcpu, (int)ni.cpus - 1);
	t->nr_cpus = maxcpu + 1;
	if (t->nr_cpus < 1)
		t->nr_cpus = 1;
	t->cpu_node = xcalloc(t->nr_cpus, sizeof(*t->cpu_node));
	for (int c = 0; c < t->nr_cpus; c++)
		t->cpu_node[c] = nr ? -1 : 0;
	if (!nr) {
		t->nr_nodes = 1;
		t->online = 1;
		t->node_cpus[0] = t->nr_cpus;
		t->mem_total[0] = (uint64_t)ni.memory * KiB;
	}
	for (int i = 0; i < nr; i++) {
		xmlNodePtr c = cells->nodesetval->nodeTab[i];
		long id = attr_long(c, "id", i);

		if (id < 0 || id >= VN_MAX_NODES) {
			log_warning("libvirt: cell %ld ignored: vnumad handles nodes 0 to %d",
				    id, VN_MAX_NODES - 1);
			continue;
		}
		t->online |= 1ULL << id;
		t->nr_nodes = MAX(t->nr_nodes, (int)id + 1);
		for (xmlNodePtr x = c->children; x; x = x->next) {
			if (x->type != XML_ELEMENT_NODE)
				continue;
			if (!xmlStrcmp(x->name, (const xmlChar *)"memory")) {
				t->mem_total[id] = memory_bytes(x);
			} else if (!xmlStrcmp(x->name, (const xmlChar *)"cpus")) {
				for (xmlNodePtr cpu = x->children; cpu; cpu = cpu->next) {
					long cid = cpu->type == XML_ELEMENT_NODE ?
						   attr_long(cpu, "id", -1) : -1;

					if (cid >= 0 && cid < t->nr_cpus) {
						t->cpu_node[cid] = (int)id;
						t->node_cpus[id]++;
					}
				}
			} else if (!xmlStrcmp(x->name, (const xmlChar *)"distances")) {
				for (xmlNodePtr s = x->children; s; s = s->next) {
					long to = s->type == XML_ELEMENT_NODE ?
						  attr_long(s, "id", -1) : -1;
					long v = to >= 0 ? attr_long(s, "value", 0) : 0;

					if (to >= 0 && to < VN_MAX_NODES && v > 0 && v < 256)
						t->distance[id * VN_MAX_NODES + to] = (uint8_t)v;
				}
			}
		}
	}
	/* distances were stored with stride VN_MAX_NODES; repack, fill gaps */
	{
		uint8_t d[VN_MAX_NODES * VN_MAX_NODES];

		for (int a = 0; a < t->nr_nodes; a++)
			for (int b = 0; b < t->nr_nodes; b++) {
				uint8_t v = t->distance[a * VN_MAX_NODES + b];

				d[a * t->nr_nodes + b] = v ? v : a == b ? 10 : 20;
			}
		memcpy(t->distance, d, sizeof(d));
	}
	xmlXPathFreeObject(cells);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return 0;
}

/* The same host as the kernel sees it, from libnuma. */
static void topo_from_kernel(struct lv_topo *t)
{
	struct vn_host h;

	memset(t, 0, sizeof(*t));
	memset(&h, 0, sizeof(h));
	hostinfo_topology(&h);
	t->nr_nodes = h.nr_nodes;
	t->online = h.online;
	t->nr_cpus = hostinfo_nr_cpus();
	t->cpu_node = xcalloc(t->nr_cpus, sizeof(*t->cpu_node));
	for (int c = 0; c < t->nr_cpus; c++)
		t->cpu_node[c] = hostinfo_cpu_node(c);
	for (int n = 0; n < h.nr_nodes; n++) {
		t->node_cpus[n] = h.node[n].nr_cpus;
		t->mem_total[n] = h.node[n].mem_total;
		t->mem_free[n] = h.node[n].mem_free;
	}
	memcpy(t->distance, h.distance, sizeof(t->distance));
}

/* A node's CPUs as a list ("0-3,8"), for messages. */
static void fmt_cpus(const struct lv_topo *t, int node, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int c = 0; c < t->nr_cpus && off + 12 < len; c++) {
		int e = c;

		if (t->cpu_node[c] != node)
			continue;
		while (e + 1 < t->nr_cpus && t->cpu_node[e + 1] == node)
			e++;
		off += snprintf(buf + off, len - off, off ? ",%d" : "%d", c);
		if (e > c)
			off += snprintf(buf + off, len - off, "-%d", e);
		c = e;
	}
}

/* Logs where libvirt and libnuma disagree about the host; true if they agree. */
static bool topo_compare(const struct lv_topo *lt, const struct lv_topo *kt)
{
	char a[128], b[128];

	if (lt->online != kt->online) {
		fmt_nodemask(a, sizeof(a), lt->online);
		fmt_nodemask(b, sizeof(b), kt->online);
		log_warning("libvirt and libnuma disagree about the host's NUMA nodes: "
			    "libvirt lists %s, libnuma %s; using libnuma's", a, b);
		return false;
	}
	for (int n = 0; n < kt->nr_nodes; n++) {
		if (!(kt->online >> n & 1))
			continue;
		fmt_cpus(lt, n, a, sizeof(a));
		fmt_cpus(kt, n, b, sizeof(b));
		if (strcmp(a, b) != 0) {
			log_warning("libvirt and libnuma disagree about node %d: libvirt "
				    "lists CPUs %s, libnuma %s; using libnuma's", n,
				    a[0] ? a : "none", b[0] ? b : "none");
			return false;
		}
	}
	return true;
}

/* Reads the layout for this connection; the kernel's for local QEMU. */
static int topo_load(struct lv *lv)
{
	struct lv_topo caps, kern;
	int r = topo_from_caps(lv, &caps);

	if (!lv->local) {
		if (r < 0)
			return r;
		topo_free(&lv->topo);
		lv->topo = caps;
		return 0;
	}
	topo_from_kernel(&kern);
	if (r == 0)
		topo_compare(&caps, &kern);
	topo_free(&caps);
	topo_free(&lv->topo);
	lv->topo = kern;
	return 0;
}

/* --- domains ------------------------------------------------------------- */

static struct lv_dom *dom_find(struct lv *lv, const unsigned char *uuid)
{
	for (struct lv_dom *d = lv->doms; d; d = d->next)
		if (!memcmp(d->uuid, uuid, VIR_UUID_BUFLEN))
			return d;
	return NULL;
}

static void dom_size(struct lv_dom *d, int n)
{
	if (n > d->cap) {
		d->tids = xreallocarray(d->tids, n, sizeof(*d->tids));
		d->allowed = xreallocarray(d->allowed, n, sizeof(*d->allowed));
		d->vnode = xreallocarray(d->vnode, n, sizeof(*d->vnode));
		for (int i = d->cap; i < n; i++) {
			d->tids[i] = 0;
			d->allowed[i] = 0;
			d->vnode[i] = -1;
		}
		d->cap = n;
	}
	d->nr_vcpus = n;
}

static void dom_free(struct lv_dom *d)
{
	if (d->dom)
		virDomainFree(d->dom);
	free(d->name);
	free(d->tids);
	free(d->allowed);
	free(d->vnode);
	free(d);
}

/* Does this process's command line carry the domain's UUID? */
static bool cmdline_has_uuid(pid_t pid, const char *uuid)
{
	static char buf[64 * 1024];
	ssize_t n = hostinfo_cmdline(pid, buf, sizeof(buf));

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
		if (!strcmp(buf + i, "-uuid") && i + 6 < n && !strcmp(buf + i + 6, uuid))
			return true;
	return false;
}

/* A file libvirt keeps for a running domain: NAME.pid, NAME.xml. */
static void run_path(const struct lv *lv, const struct lv_dom *d, const char *ext,
		     char *path, size_t len)
{
	const char *run = getenv("XDG_RUNTIME_DIR");

	if (lv->system)
		snprintf(path, len, "/run/libvirt/qemu/%s.%s", d->name, ext);
	else
		snprintf(path, len, "%s/libvirt/qemu/run/%s.%s", run ? run : "/run",
			 d->name, ext);
}

/*
 * The QEMU process of a local domain: libvirt's pid file, checked against
 * the command line's -uuid, else a search of /proc for that -uuid.
 */
static pid_t find_qemu_pid(struct lv *lv, struct lv_dom *d)
{
	char path[512], buf[32];
	struct dirent *de;
	FILE *f;
	DIR *dir;
	long pid = 0;

	run_path(lv, d, "pid", path, sizeof(path));
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			pid = strtol(buf, NULL, 10);
		fclose(f);
		if (pid > 0 && cmdline_has_uuid((pid_t)pid, d->uuidstr))
			return (pid_t)pid;
	}
	dir = opendir("/proc");
	if (!dir)
		return 0;
	pid = 0;
	while ((de = readdir(dir))) {
		long p = strtol(de->d_name, NULL, 10);

		if (p > 0 && cmdline_has_uuid((pid_t)p, d->uuidstr)) {
			pid = p;
			break;
		}
	}
	closedir(dir);
	return (pid_t)pid;
}

/* The node masks of each vCPU's pinning, as libvirt reports it. */
static void read_pininfo(struct lv *lv, struct lv_dom *d)
{
	int maplen = VIR_CPU_MAPLEN(lv->topo.nr_cpus);
	unsigned char *maps;
	int n;

	if (!d->dom || !d->nr_vcpus)
		return;
	maps = xcalloc((size_t)d->nr_vcpus, (size_t)maplen);
	n = virDomainGetVcpuPinInfo(d->dom, d->nr_vcpus, maps, maplen,
				    lv->kind == LV_TEST ? 0 : VIR_DOMAIN_AFFECT_LIVE);
	for (int v = 0; v < n && v < d->nr_vcpus; v++) {
		uint64_t nodes = 0;

		for (int c = 0; c < lv->topo.nr_cpus; c++)
			if (VIR_CPU_USABLE(maps, maplen, v, c) && lv->topo.cpu_node[c] >= 0)
				nodes |= 1ULL << lv->topo.cpu_node[c];
		d->allowed[v] = nodes;
	}
	free(maps);
}

/*
 * A local QEMU domain's vCPU threads from the sources in turn: libvirt's
 * per-vCPU cgroups, its status XML, the threads' names. Each fills the
 * vCPUs the ones before left unknown. Says why where none is known.
 */
static int find_threads(struct lv *lv, struct lv_dom *d)
{
	pid_t *tids = d->tids;
	enum vmm_kind kind = VMM_QEMU;
	char path[512];
	unsigned seen = 0;
	int found, r, n;

	memset(tids, 0, (size_t)d->nr_vcpus * sizeof(*tids));
	d->shared_thread = false;
	found = lvstate_cgroup_threads(d->pid, tids, d->nr_vcpus, &d->tid_src);
	if (found < d->nr_vcpus) {
		run_path(lv, d, "xml", path, sizeof(path));
		r = lvstate_status_threads(path, d->pid, tids, d->nr_vcpus);
		if (r > 0 && !found)
			d->tid_src = LVS_STATUS_XML;
		found += MAX(r, 0);
	}
	if (found < d->nr_vcpus) {
		pid_t *named = xcalloc(HI_MAX_VCPUS, sizeof(*named));

		n = vmm_vcpu_threads(d->pid, &kind, named, HI_MAX_VCPUS, &seen);
		if (n < 0) {
			free(named);
			return n;
		}
		/* names may show a vCPU plugged since libvirt last told us */
		dom_size(d, MAX(n, d->nr_vcpus));
		tids = d->tids;
		for (int v = 0; v < n; v++)
			if (!tids[v] && named[v]) {
				tids[v] = named[v];
				found++;
				if (d->tid_src == LVS_NONE)
					d->tid_src = LVS_NAMES;
			}
		d->shared_thread = seen & VMM_SEEN_SHARED;
		free(named);
	}
	if (!found && d->shared_thread)
		snprintf(d->unmeasured, sizeof(d->unmeasured), "single-threaded TCG: one "
			 "thread (\"ALL CPUs/TCG\") runs every vCPU, none has a thread "
			 "to measure");
	else if (!found)
		snprintf(d->unmeasured, sizeof(d->unmeasured), "vCPU threads not found: "
			 "no per-vCPU cgroup, no status XML and no thread names (QEMU "
			 "without debug-threads?)");
	else if (found < d->nr_vcpus)
		snprintf(d->unmeasured, sizeof(d->unmeasured), "the threads of %d of "
			 "its %d vCPUs are not found", d->nr_vcpus - found, d->nr_vcpus);
	else
		d->unmeasured[0] = '\0';
	return found;
}

/*
 * Local QEMU: the vCPU threads and their affinity, from /proc. The thread
 * ids are looked for again when full, or when one is no thread of the
 * process any more (a vCPU unplugged, the process replaced).
 */
static int read_threads(struct lv *lv, struct lv_dom *d, bool full)
{
	bool stale = full;
	double now = now_monotonic();

	if (!d->pid)
		return 0;
	if (!hostinfo_same_process(d->pid, d->starttime))
		return -ESRCH;
	/* a thread gone is looked for at once, one never found every RETRY s */
	for (int v = 0; v < d->nr_vcpus && !stale; v++)
		stale = d->tids[v] ? !vmm_is_thread_of(d->pid, d->tids[v]) :
			now - d->looked_at >= RETRY;
	if (stale) {
		d->looked_at = now;
		int r = find_threads(lv, d);

		if (r < 0)
			return r;
	}
	for (int v = 0; v < d->nr_vcpus; v++) {
		uint64_t nodes;

		if (d->tids[v] && hostinfo_thread_nodes(d->tids[v], &nodes) == 0)
			d->allowed[v] = nodes;
	}
	return 0;
}

/*
 * Where libvirt keeps a local guest's memory from moving: its strict
 * numatune (set for placement='auto' too) binds it to the nodes it was
 * given, and a cpuset (cgroup cpuset.mems) forbids the other nodes.
 */
static void judge_memory(struct lv *lv, struct lv_dom *d)
{
	uint64_t mems, online = hostinfo_online_nodes();
	char nodes[64];

	d->memory_fixed[0] = '\0';
	if (lv->kind == LV_XEN || !lv->local)
		d->flags |= VNUMAD_GUEST_NO_MEMMOVE;
	else
		d->flags &= ~VNUMAD_GUEST_NO_MEMMOVE;
	if (!lv->local || lv->kind != LV_QEMU ||
	    (d->flags & (VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE)) == VNUMAD_GUEST_PINNED)
		return;
	if (d->autoplaced && !strcmp(d->memmode, "strict"))
		snprintf(d->memory_fixed, sizeof(d->memory_fixed), "libvirt's numatune "
			 "mode 'strict' binds it to the nodes numad advised at start "
			 "(placement='auto'); 'preferred' or 'interleave' would let it move");
	else if (d->pid && vmm_mems_allowed(d->pid, &mems) == 0 && (online & ~mems))
		snprintf(d->memory_fixed, sizeof(d->memory_fixed), "its cgroup's "
			 "cpuset.mems holds it on node%s %s%s%s%s", mems & (mems - 1) ? "s" : "",
			 fmt_nodemask(nodes, sizeof(nodes), mems),
			 d->memmode[0] ? " (numatune mode '" : "", d->memmode,
			 d->memmode[0] ? "')" : "");
	if (d->memory_fixed[0])
		d->flags |= VNUMAD_GUEST_NO_MEMMOVE;
}

/* The flags a domain's definition and metadata give it. */
static void judge(struct lv *lv, struct lv_dom *d)
{
	unsigned flags = 0;
	char *xml;
	int manage;

	if (!d->dom)
		return;
	d->persistent = virDomainIsPersistent(d->dom) == 1;
	/*
	 * A transient domain's only definition is the live one, where our own
	 * pins show: judge it once, before we touch it.
	 */
	if (d->judged && !d->persistent)
		return;
	xml = virDomainGetXMLDesc(d->dom, d->persistent ? VIR_DOMAIN_XML_INACTIVE : 0);
	if (!xml) {
		if (!gone_error())
			log_warnx("guest %s: cannot read its definition: %s", d->name, lv_err());
		return;
	}
	flags |= judge_definition(xml, d);
	free(xml);
	manage = metadata_manage(d, d->dom, VIR_DOMAIN_AFFECT_CURRENT);
	if (manage < 0 && d->persistent)
		manage = metadata_manage(d, d->dom, VIR_DOMAIN_AFFECT_CONFIG);
	if (manage == 0)
		flags |= VNUMAD_GUEST_OPTED_OUT;
	else if (manage == 1)
		/* the user opted a pinned guest in */
		flags &= ~(VNUMAD_GUEST_PINNED | VNUMAD_GUEST_MEMORY_FREE);
	if (lv->kind == LV_XEN || !lv->local)
		flags |= VNUMAD_GUEST_NO_MEMMOVE;
	if (d->judged && (flags ^ d->flags) & ~VNUMAD_GUEST_NO_MEMMOVE)
		log_info("guest %s: now %s%s", d->name,
			 flags & VNUMAD_GUEST_OPTED_OUT ? "opted out" :
			 flags & VNUMAD_GUEST_MEMORY_FREE ?
			 "pinned by the user (its vCPUs; its memory may be brought to them)" :
			 flags & VNUMAD_GUEST_PINNED ? "pinned by the user" : "managed",
			 manage == 1 && !(flags & VNUMAD_GUEST_OPTED_OUT) ?
			 " (opted in by its metadata)" : "");
	d->flags = flags;
	d->judged = true;
	judge_memory(lv, d);
}

/* Refreshes everything about a running domain; -ESRCH when it is gone. */
static int discover(struct lv *lv, struct lv_dom *d)
{
	virDomainInfo info;

	if (!d->dom)
		return -ESRCH;
	if (virDomainGetInfo(d->dom, &info) < 0)
		return gone_error() ? -ESRCH : lv_errno();
	if (info.state == VIR_DOMAIN_SHUTOFF)
		return -ESRCH;
	dom_size(d, (int)info.nrVirtCpu);
	judge(lv, d);
	if (lv->local && lv->kind == LV_QEMU &&
	    (!d->pid || !hostinfo_same_process(d->pid, d->starttime))) {
		d->pid = find_qemu_pid(lv, d);
		d->starttime = d->pid ? hostinfo_starttime(d->pid) : 0;
		if (!d->pid)
			log_warning("guest %s: QEMU process not found; its vCPU threads are "
				    "unknown", d->name);
	}
	read_pininfo(lv, d);
	if (read_threads(lv, d, true) == -ESRCH)
		return -ESRCH;
	judge_memory(lv, d);
	return 0;
}

/* Why a domain's vCPUs cannot be measured, or NULL. */
static const char *unmeasured(const struct lv *lv, const struct lv_dom *d)
{
	if (lv->kind == LV_XEN)
		return "Xen vCPUs are not host threads: dom0 cannot count them per thread";
	if (lv->kind == LV_TEST)
		return "the test driver runs no guest: no host threads";
	if (!lv->local)
		return "not this host: its vCPU threads are out of reach";
	if (!d->pid)
		return "its QEMU process is not found (no pid file, no process with its -uuid)";
	return d->unmeasured[0] ? d->unmeasured : NULL;
}

/* Hands a domain to the core's inventory. */
static void report(struct lv *lv, struct lv_dom *d)
{
	struct vn_guest_desc desc = {
		.name = d->name,
		.uuid = d->uuidstr,
		.pid = d->pid,
		.flags = d->flags,
		.nr_vcpus = d->nr_vcpus,
		.tids = d->tids,
		.allowed = d->allowed,
		.vnode = d->has_vnode ? d->vnode : NULL,
		.priv = d,
		.unmeasured = unmeasured(lv, d),
		.memory_fixed = d->memory_fixed[0] ? d->memory_fixed : lv->kind == LV_XEN ?
			"Xen has no interface that moves a running domain's memory" :
			lv->kind == LV_TEST ? "the test driver runs no guest: no memory" :
			!lv->local ? "not this host: its memory is out of reach" : NULL,
		/* its QEMU's, where it runs here; unknown otherwise (Xen, test, remote) */
		.age = d->pid ? hostinfo_process_age(d->starttime) : 0,
	};
	struct vn_guest *g;

	if (!lv->b->host)
		return;
	g = host_report(lv->b->host, &desc);
	if (g->id != d->guest_id) {
		char tids[256];
		size_t off = 0;

		tids[0] = '\0';
		for (int v = 0; v < d->nr_vcpus && off + 16 < sizeof(tids); v++)
			off += snprintf(tids + off, sizeof(tids) - off, "%s%d", v ? "," : "",
					(int)d->tids[v]);
		log_debug("guest %s: uuid %s, pid %d, vCPU threads %s (%s)%s", d->name,
			  d->uuidstr, (int)d->pid, d->pid ? tids : "unknown",
			  lvstate_source_name(d->tid_src),
			  d->autoplaced ? ", placement auto" : "");
	}
	d->guest_id = g->id;
	g->backend = d;
}

/* The domain stopped: out of the inventory and the cache. */
static void dom_gone(struct lv *lv, struct lv_dom *d)
{
	struct lv_dom **pp;

	if (d->guest_id && lv->b->host) {
		struct vn_guest *g = host_find_id(lv->b->host, d->guest_id);

		if (g) {
			log_info("guest %s stopped", d->name);
			host_remove(lv->b->host, g);
		}
	}
	for (pp = &lv->doms; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	dom_free(d);
}

/* Takes a domain handle into the cache (the cache keeps its own reference). */
static struct lv_dom *dom_take(struct lv *lv, virDomainPtr dom)
{
	unsigned char uuid[VIR_UUID_BUFLEN];
	struct lv_dom *d;

	if (virDomainGetUUID(dom, uuid) < 0)
		return NULL;
	d = dom_find(lv, uuid);
	if (!d) {
		const char *name = virDomainGetName(dom);

		d = xcalloc(1, sizeof(*d));
		memcpy(d->uuid, uuid, sizeof(uuid));
		virDomainGetUUIDString(dom, d->uuidstr);
		d->name = xstrdup(name ? name : d->uuidstr);
		d->next = lv->doms;
		lv->doms = d;
	}
	if (d->dom != dom) {
		virDomainRef(dom);
		if (d->dom)
			virDomainFree(d->dom);
		d->dom = dom;
	}
	return d;
}

/* A domain seen running (event or resync): refresh and report it. */
static void dom_running(struct lv *lv, virDomainPtr dom)
{
	struct lv_dom *d = dom_take(lv, dom);
	int r;

	if (!d)
		return;
	d->seen = true;
	r = discover(lv, d);
	if (r == -ESRCH) {
		/* it stopped while we looked; its STOPPED event may follow */
		dom_gone(lv, d);
		return;
	}
	if (r < 0) {
		/* libvirt failed us, not the guest: keep what we knew, retry later */
		log_debug("guest %s: cannot refresh it: %s", d->name, lv_err());
		lv->retry = true;
		if (!d->known)
			return;
	}
	d->known = true;
	report(lv, d);
}

/* --- connection ---------------------------------------------------------- */

static void connection_lost(struct lv *lv, const char *why);

/*
 * Full resync with virConnectListAllDomains: new domains are added, those
 * no longer running dropped. Returns 0 or a negative errno.
 */
static int resync(struct lv *lv)
{
	virDomainPtr *list = NULL;
	struct lv_dom *d, *next;
	int n;

	n = virConnectListAllDomains(lv->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		int err = lv_errno();

		log_warnx("libvirt: cannot list the domains: %s", lv_err());
		if (virConnectIsAlive(lv->conn) != 1)
			connection_lost(lv, lv_err());
		return err;
	}
	for (d = lv->doms; d; d = d->next)
		d->seen = false;
	for (int i = 0; i < n; i++) {
		dom_running(lv, list[i]);
		virDomainFree(list[i]);
	}
	free(list);
	for (d = lv->doms; d; d = next) {
		next = d->next;
		if (!d->seen)
			dom_gone(lv, d);
	}
	/* a domain that could not be read is read again in a few seconds */
	lv->last_resync = now_monotonic() - (lv->retry ? MAX(resync_interval - RETRY, 0) : 0);
	lv->retry = false;
	return 0;
}

/* Domains start and stop: the inventory follows at once, between ticks. */
static void on_lifecycle_event(virConnectPtr conn, virDomainPtr dom, int event,
			       int detail, void *opaque)
{
	struct lv *lv = opaque;
	unsigned char uuid[VIR_UUID_BUFLEN];
	struct lv_dom *d = NULL;

	(void)conn;
	(void)detail;
	if (virDomainGetUUID(dom, uuid) == 0)
		d = dom_find(lv, uuid);
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		dom_running(lv, dom);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (d)
			dom_gone(lv, d);
		break;
	case VIR_DOMAIN_EVENT_DEFINED:
	case VIR_DOMAIN_EVENT_UNDEFINED:
		/* a new persistent definition may pin or unpin it */
		if (d && d->known) {
			judge(lv, d);
			report(lv, d);
		}
		break;
	default:
		break;
	}
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			int detail, void *opaque)
{
	on_lifecycle_event(conn, dom, event, detail, opaque);
	return 0;
}

/* Our metadata element changed: the guest may be opted out or in. */
static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type,
			const char *nsuri, void *opaque)
{
	struct lv *lv = opaque;
	unsigned char uuid[VIR_UUID_BUFLEN];
	struct lv_dom *d;

	(void)conn;
	if (type != VIR_DOMAIN_METADATA_ELEMENT || (nsuri && strcmp(nsuri, VNUMAD_XMLNS)))
		return;
	if (virDomainGetUUID(dom, uuid) < 0 || !(d = dom_find(lv, uuid)) || !d->known)
		return;
	d->judged = false;	/* the metadata may speak for a transient one too */
	judge(lv, d);
	report(lv, d);
}

/* May run on any thread that noticed the close: hand it to the loop. */
static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct lv *lv = opaque;

	(void)conn;
	atomic_store(&lv->close_reason, reason);
	event_active(lv->drop_ev, EV_TIMEOUT, 0);
}

static const char *close_reason(int r)
{
	switch (r) {
	case VIR_CONNECT_CLOSE_REASON_EOF: return "libvirtd closed it";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "keepalive timed out";
	case VIR_CONNECT_CLOSE_REASON_CLIENT: return "closed by us";
	default: return "I/O error";
	}
}

/* Drops the callbacks and the connection; the domain cache stays. */
static void disconnect(struct lv *lv)
{
	if (!lv->conn)
		return;
	if (lv->cb_lifecycle >= 0)
		virConnectDomainEventDeregisterAny(lv->conn, lv->cb_lifecycle);
	if (lv->cb_metadata >= 0)
		virConnectDomainEventDeregisterAny(lv->conn, lv->cb_metadata);
	lv->cb_lifecycle = lv->cb_metadata = -1;
	virConnectUnregisterCloseCallback(lv->conn, on_close);
	for (struct lv_dom *d = lv->doms; d; d = d->next)
		if (d->dom) {
			virDomainFree(d->dom);
			d->dom = NULL;
		}
	virConnectClose(lv->conn);
	lv->conn = NULL;
	lv->connected = false;
}

/* Opens the connection and registers keepalive, close and domain callbacks. */
static int connect_uri(struct lv *lv)
{
	const char *type;
	char *uri;

	lv->conn = virConnectOpen(lv->uri);
	if (!lv->conn)
		return lv_errno();
	type = virConnectGetType(lv->conn);
	uri = virConnectGetURI(lv->conn);
	lv->kind = !type ? LV_OTHER : !strcasecmp(type, "QEMU") ? LV_QEMU :
		   !strcasecmp(type, "Xen") ? LV_XEN : !strcasecmp(type, "Test") ? LV_TEST :
		   LV_OTHER;
	/* no host part ("driver:///path"): libvirtd runs here */
	lv->local = uri && strstr(uri, ":///") && (lv->kind == LV_QEMU || lv->kind == LV_XEN);
	/* Xen's vCPUs are not host threads, and dom0 sees its own CPUs only */
	if (lv->kind == LV_XEN)
		lv->local = false;
	lv->system = uri && strstr(uri, ":///system");
	free(uri);
	/* a dead libvirtd that keeps the socket open is found by keepalive */
	if (virConnectSetKeepAlive(lv->conn, 5, 3) < 0)
		log_debug("libvirt: no keepalive on %s: %s", lv->uri, lv_err());
	if (virConnectRegisterCloseCallback(lv->conn, on_close, lv, NULL) < 0)
		log_debug("libvirt: no close callback on %s: %s", lv->uri, lv_err());
	lv->cb_lifecycle = virConnectDomainEventRegisterAny(lv->conn, NULL,
		VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
		lv, NULL);
	if (lv->cb_lifecycle < 0)
		log_warning("libvirt: no lifecycle events from %s (%s); guests are found "
			    "by the resync every %.0f s", lv->uri, lv_err(), resync_interval);
	lv->cb_metadata = virConnectDomainEventRegisterAny(lv->conn, NULL,
		VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_metadata),
		lv, NULL);
	lv->connected = true;
	return 0;
}

static void schedule_reconnect(struct lv *lv)
{
	struct timeval tv = { (time_t)lv->backoff,
			      (suseconds_t)((lv->backoff - (double)(time_t)lv->backoff) * 1e6) };

	evtimer_add(lv->reconnect_ev, &tv);
}

/* The connection is gone: keep the guests, reconnect from a timer. */
static void connection_lost(struct lv *lv, const char *why)
{
	if (!lv->connected)
		return;
	lv->connected = false;
	lv->lost_at = now_monotonic();
	lv->attempts = 0;
	lv->backoff = BACKOFF_MIN;
	log_warning("libvirt: connection to %s lost (%s); %s; reconnecting", lv->uri, why,
		    "the guests stay as they are");
	schedule_reconnect(lv);
}

static void on_drop(evutil_socket_t fd, short what, void *arg)
{
	struct lv *lv = arg;

	(void)fd;
	(void)what;
	connection_lost(lv, close_reason(atomic_load(&lv->close_reason)));
}

/* Says what the connection reaches. */
static void log_connected(struct lv *lv)
{
	log_info("libvirt: connected to %s (%s%s)", lv->uri,
		 lv->kind == LV_QEMU ? "QEMU" : lv->kind == LV_XEN ? "Xen" :
		 lv->kind == LV_TEST ? "test driver" : "other driver",
		 lv->kind == LV_XEN ? "; guest memory cannot be migrated on Xen" :
		 lv->local || lv->kind == LV_TEST ? "" :
		 "; not this host: vCPU threads and memory are out of reach");
}

/* A URI of QEMU on this host, whose layout is the kernel's before it answers. */
static bool local_qemu_uri(const char *uri)
{
	return !strncmp(uri, "qemu:///", 8) || !strncmp(uri, "qemu+unix:///", 13);
}

/* The reconnect timer: one attempt, then the next after a doubled wait. */
static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	struct lv *lv = arg;
	int r;

	(void)fd;
	(void)what;
	disconnect(lv);
	lv->attempts++;
	r = connect_uri(lv);
	if (r < 0) {
		if (lv->attempts == 1 || lv->attempts % 10 == 0)
			log_warning("libvirt: cannot %s %s (%s); retrying every %.0f s",
				    lv->waiting ? "connect to" : "reconnect to", lv->uri,
				    lv_err(), MIN(lv->backoff * 2, BACKOFF_MAX));
		lv->backoff = MIN(lv->backoff * 2, BACKOFF_MAX);
		schedule_reconnect(lv);
		return;
	}
	topo_load(lv);
	if (resync(lv) < 0)
		return;		/* lost again: connection_lost rescheduled us */
	{
		int n = 0;

		for (struct lv_dom *d = lv->doms; d; d = d->next)
			n++;
		if (lv->waiting)
			log_connected(lv);
		log_info("libvirt: %s %s after %.1f s; %d guest%s running",
			 lv->waiting ? "connected to" : "reconnected to", lv->uri,
			 now_monotonic() - lv->lost_at, n, n == 1 ? "" : "s");
		lv->waiting = false;
	}
}

/* --- backend ops --------------------------------------------------------- */

static void lv_free(struct lv *lv)
{
	mover_free(lv->mover);
	if (lv->drop_ev)
		event_free(lv->drop_ev);
	if (lv->reconnect_ev)
		event_free(lv->reconnect_ev);
	disconnect(lv);
	while (lv->doms) {
		struct lv_dom *d = lv->doms;

		lv->doms = d->next;
		dom_free(d);
	}
	topo_free(&lv->topo);
	free(lv->uri);
	free(lv);
	/* the loop's libvirt watches are gone with the connection */
	if (virevent_count(NULL, NULL) == 0)
		virevent_unregister();
}

/* Binds libvirt to our loop, connects, reads the layout; the first scan lists. */
static int lv_open(struct vn_backend *b)
{
	const char *uri = b->cfg && b->cfg->uri && b->cfg->uri[0] ? b->cfg->uri : "qemu:///system";
	struct lv *lv;
	int r;

	if (!b->base) {
		log_warnx("libvirt backend: no event loop");
		return -EINVAL;
	}
	hostinfo_init();
	virSetErrorFunc(NULL, quiet);
	if (virInitialize() < 0 || virevent_register(b->base) < 0) {
		log_warnx("libvirt: cannot initialise");
		return -EIO;
	}
	lv = xcalloc(1, sizeof(*lv));
	lv->b = b;
	lv->uri = xstrdup(uri);
	lv->cb_lifecycle = lv->cb_metadata = -1;
	lv->backoff = BACKOFF_MIN;
	b->priv = lv;
	lv->drop_ev = event_new(b->base, -1, 0, on_drop, lv);
	lv->reconnect_ev = evtimer_new(b->base, on_reconnect, lv);
	lv->mover = mover_new(b->base);
	if (!lv->drop_ev || !lv->reconnect_ev || !lv->mover) {
		lv_free(lv);
		b->priv = NULL;
		return -ENOMEM;
	}
	r = connect_uri(lv);
	if (r == -ENOTCONN && local_qemu_uri(uri)) {
		/*
		 * libvirtd (or virtqemud) is not up yet, or is restarting: the host
		 * is this one whatever answers later, so wait for it as after a
		 * restart instead of failing the start.
		 */
		log_warning("libvirt: cannot connect to %s (%s); waiting for libvirtd "
			    "(or virtqemud), retrying every %.0f s, then up to every %.0f s",
			    uri, lv_err(), BACKOFF_MIN, BACKOFF_MAX);
		lv->kind = LV_QEMU;
		lv->local = true;
		lv->system = strstr(uri, ":///system") != NULL;
		lv->waiting = true;
		lv->lost_at = now_monotonic();
		lv->attempts = 1;	/* said once already */
		topo_free(&lv->topo);
		topo_from_kernel(&lv->topo);
		schedule_reconnect(lv);
		lv->last_resync = -1e9;
		return 0;
	}
	if (r < 0) {
		log_warnx("libvirt: cannot connect to %s: %s", uri, lv_err());
		lv_free(lv);
		b->priv = NULL;
		return r;
	}
	r = topo_load(lv);
	if (r < 0) {
		lv_free(lv);
		b->priv = NULL;
		return r;
	}
	log_connected(lv);
	/* the first scan lists the domains */
	lv->last_resync = -1e9;
	return 0;
}

static void lv_close(struct vn_backend *b)
{
	struct lv *lv = lv_of(b);

	if (!lv)
		return;
	lv_free(lv);
	b->priv = NULL;
}

/* The kernel's figures for local QEMU, libvirt's (free memory fresh) otherwise. */
static int lv_topology(struct vn_backend *b, struct vn_host *h)
{
	struct lv *lv = lv_of(b);
	struct lv_topo *t = &lv->topo;

	if (lv->local) {
		/* the kernel's figures, fresh: free memory changes */
		hostinfo_topology(h);
		return 0;
	}
	if (lv->connected && t->nr_nodes > 0) {
		unsigned long long fm[VN_MAX_NODES];
		int n = virNodeGetCellsFreeMemory(lv->conn, fm, 0, t->nr_nodes);

		/* the test driver gives KiB where the API promises bytes */
		for (int i = 0; i < n && i < t->nr_nodes; i++)
			t->mem_free[i] = lv->kind == LV_TEST ? fm[i] * KiB : fm[i];
		if (n < 0 && t->nr_nodes == 1) {
			unsigned long long f = virNodeGetFreeMemory(lv->conn);

			if (f)
				t->mem_free[0] = f;
		}
	}
	h->nr_nodes = t->nr_nodes;
	h->online = t->online;
	memset(h->node, 0, sizeof(h->node));
	for (int n = 0; n < t->nr_nodes; n++) {
		h->node[n].id = n;
		h->node[n].nr_cpus = t->node_cpus[n];
		h->node[n].mem_total = t->mem_total[n];
		h->node[n].mem_free = t->mem_free[n];
	}
	memcpy(h->distance, t->distance, (size_t)t->nr_nodes * t->nr_nodes);
	return 0;
}

/* Reports the cached domains; resyncs with libvirt when that is due. */
static int lv_scan(struct vn_backend *b, struct vn_host *h)
{
	struct lv *lv = lv_of(b);
	struct lv_dom *d, *next;

	(void)h;
	if (lv->connected && now_monotonic() - lv->last_resync >= resync_interval)
		resync(lv);
	for (d = lv->doms; d; d = next) {
		next = d->next;
		if (!d->known)
			continue;
		/* local QEMU: threads and affinities change under us; cheap to read */
		if (d->pid && read_threads(lv, d, false) == -ESRCH) {
			log_debug("guest %s: QEMU process %d is gone", d->name, (int)d->pid);
			dom_gone(lv, d);
			continue;
		}
		report(lv, d);
	}
	return 0;
}

/* Pins a vCPU live to every CPU of the nodes, through libvirt. */
static int lv_set_affinity(struct vn_backend *b, struct vn_guest *g, int vcpu,
			   uint64_t nodes)
{
	struct lv *lv = lv_of(b);
	struct lv_dom *d = g->backend;
	struct lv_topo *t = &lv->topo;
	int maplen = VIR_CPU_MAPLEN(t->nr_cpus), ncpus = 0, r;
	unsigned char *map;
	char buf[64];

	if (!d || vcpu < 0 || vcpu >= d->nr_vcpus)
		return -EINVAL;
	if (!lv->connected || !d->dom)
		return -ENOTCONN;
	map = xcalloc(1, (size_t)maplen);
	for (int c = 0; c < t->nr_cpus; c++)
		if (t->cpu_node[c] >= 0 && (nodes >> t->cpu_node[c] & 1)) {
			VIR_USE_CPU(map, c);
			ncpus++;
		}
	if (!ncpus) {
		free(map);
		return -EINVAL;
	}
	/* the test driver accepts no flags; LIVE elsewhere: never the config */
	if (virDomainPinVcpuFlags(d->dom, (unsigned)vcpu, map, maplen,
				  lv->kind == LV_TEST ? 0 : VIR_DOMAIN_AFFECT_LIVE) < 0) {
		r = lv_errno();
		log_warnx("guest %s: cannot pin vCPU %d to node%s %s: %s", d->name, vcpu,
			  nodes & (nodes - 1) ? "s" : "", fmt_nodemask(buf, sizeof(buf), nodes),
			  lv_err());
		free(map);
		if (virConnectIsAlive(lv->conn) != 1)
			connection_lost(lv, lv_err());
		return r;
	}
	free(map);
	d->allowed[vcpu] = nodes;
	log_debug("guest %s: vCPU %d pinned to the %d CPUs of node%s %s", d->name, vcpu,
		  ncpus, nodes & (nodes - 1) ? "s" : "", fmt_nodemask(buf, sizeof(buf), nodes));
	return 0;
}

/* Hands a memory move to the mover: local QEMU only. */
static int lv_migrate(struct vn_backend *b, struct vn_guest *g,
		      struct vn_migration *m)
{
	struct lv *lv = lv_of(b);
	struct lv_dom *d = g->backend;

	if (!d)
		return -ESRCH;
	if (lv->kind == LV_XEN || !lv->local)
		return -EOPNOTSUPP;	/* no move_pages into a Xen or remote guest */
	if (!d->pid)
		return -ESRCH;
	if (m->to < 0 || m->to >= lv->topo.nr_nodes || !(lv->topo.online >> m->to & 1) ||
	    m->from < 0 || m->from >= lv->topo.nr_nodes)
		return -EINVAL;
	mover_set_rate(lv->mover, b->cfg ? b->cfg->migrate_rate : 0);
	if (b->cfg)
		mover_set_nice(lv->mover, (int)b->cfg->migrate_nice);
	return mover_start(lv->mover, d->pid, d->starttime, m);
}

static void lv_cancel(struct vn_backend *b, struct vn_migration *m)
{
	mover_cancel(lv_of(b)->mover, m);
}

/* The core dropped the guest; the cached domain may outlive it. */
static void lv_forget(struct vn_backend *b, struct vn_guest *g)
{
	struct lv *lv = lv_of(b);

	for (struct lv_dom *d = lv->doms; d; d = d->next)
		if (d == g->backend && d->guest_id == g->id)
			d->guest_id = 0;
	g->backend = NULL;
}

void libvirt_backend_drop(struct vn_backend *b)
{
	on_close(NULL, VIR_CONNECT_CLOSE_REASON_ERROR, lv_of(b));
}

bool libvirt_backend_connected(const struct vn_backend *b)
{
	return lv_of(b)->connected;
}

const struct vn_backend_ops libvirt_backend_ops = {
	.name = "libvirt",
	.open = lv_open,
	.close = lv_close,
	.topology = lv_topology,
	.scan = lv_scan,
	.set_affinity = lv_set_affinity,
	.migrate = lv_migrate,
	.cancel = lv_cancel,
	.forget = lv_forget,
};
