// SPDX-License-Identifier: MIT
/*
 * libvirt's own records of a QEMU domain's vCPU threads: the per-vCPU
 * cgroups and the status XML (see lvstate.h). libvirt 9.0.0 makes, for a
 * domain, the groups machine/qemu-ID-NAME.libvirt-qemu/{emulator,vcpuN}
 * (without systemd; with it under machine.slice/machine-qemu\x2dID\x2dNAME
 * .scope/libvirt/), moves the QEMU process into emulator and each vCPU
 * thread into its vcpuN, and writes <vcpus><vcpu id='N' pid='TID'/> into
 * the status XML.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "hostinfo.h"
#include "lvstate.h"
#include "util.h"
#include "vmm.h"

const char *lvstate_source_name(enum lvstate_source s)
{
	switch (s) {
	case LVS_CGROUP2: return "cgroup v2";
	case LVS_CGROUP1: return "cgroup v1";
	case LVS_STATUS_XML: return "status XML";
	case LVS_NAMES: return "thread names";
	default: return "none";
	}
}

/* Is item one of the comma-separated words of list (its first len bytes)? */
static bool has_word(const char *list, size_t len, const char *item)
{
	size_t li = strlen(item);
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t n = c ? (size_t)(c - p) : (size_t)(end - p);

		if (n == li && !memcmp(p, item, li))
			return true;
		p += n + 1;
	}
	return false;
}

/* Copies a mountinfo field up to the next space, undoing its \ooo escapes. */
static const char *field(const char *p, char *out, size_t size)
{
	size_t o = 0;

	while (*p && *p != ' ' && *p != '\n') {
		char c = *p++;

		if (c == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' &&
		    p[2] >= '0' && p[2] <= '7') {
			c = (char)((p[0] - '0') << 6 | (p[1] - '0') << 3 | (p[2] - '0'));
			p += 3;
		}
		if (o + 1 < size)
			out[o++] = c;
	}
	out[o] = '\0';
	return *p == ' ' ? p + 1 : p;
}

/*
 * The mount of a cgroup hierarchy: cgroup2 when ctrl is NULL, else the v1
 * hierarchy holding that controller. Fills its mount point and root.
 */
static bool find_mount(const char *mountinfo, const char *ctrl, char *point,
		       size_t plen, char *root, size_t rlen)
{
	for (const char *line = mountinfo; line && *line; ) {
		const char *nl = strchr(line, '\n'), *p = line, *sep;
		char skip[16], type[32], src[64], opts[512];

		/* id, parent, major:minor, then root and mount point */
		for (int i = 0; i < 3; i++)
			p = field(p, skip, sizeof(skip));
		p = field(p, root, rlen);
		p = field(p, point, plen);
		sep = strstr(p, " - ");
		line = nl ? nl + 1 : NULL;
		if (!sep || (nl && sep > nl))
			continue;
		p = field(sep + 3, type, sizeof(type));
		p = field(p, src, sizeof(src));
		field(p, opts, sizeof(opts));
		if (!ctrl && !strcmp(type, "cgroup2"))
			return true;
		if (ctrl && !strcmp(type, "cgroup") && has_word(opts, strlen(opts), ctrl))
			return true;
	}
	return false;
}

/*
 * The path of a process's group in a hierarchy, from /proc/PID/cgroup:
 * the "0::" line when ctrl is NULL, else the line listing ctrl.
 */
static bool find_group(const char *cgroup, const char *ctrl, char *path, size_t len)
{
	for (const char *line = cgroup, *next; line && *line; line = next) {
		const char *nl = strchr(line, '\n');
		const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		size_t n;

		next = nl ? nl + 1 : NULL;
		if (!c2 || (nl && c2 > nl))
			continue;
		if (ctrl ? !has_word(c1 + 1, (size_t)(c2 - c1 - 1), ctrl) :
		    !(c1 == line + 1 && line[0] == '0' && c2 == c1 + 1))
			continue;
		n = nl ? (size_t)(nl - c2 - 1) : strlen(c2 + 1);
		if (n >= len)
			return false;
		memcpy(path, c2 + 1, n);
		path[n] = '\0';
		return true;
	}
	return false;
}

int lvstate_cgroup_dir(const char *cgroup, const char *mountinfo, int nth,
		       char *dir, size_t len)
{
	static const char *const ctrls[] = { NULL, "cpuset", "cpu", "cpuacct" };
	char point[1024], root[1024], path[1024];
	int k = 0;

	for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++) {
		const char *rel = path;
		size_t lr, lp;

		if (!find_group(cgroup, ctrls[i], path, sizeof(path)) ||
		    !find_mount(mountinfo, ctrls[i], point, sizeof(point), root, sizeof(root)) ||
		    k++ != nth)
			continue;
		/* a mount of a subtree (a container's): the path below its root */
		lr = strlen(root);
		if (lr > 1 && !strncmp(path, root, lr) && (path[lr] == '/' || !path[lr]))
			rel = path + lr;
		lp = strlen(rel);
		if (lp >= 9 && !strcmp(rel + lp - 9, "/emulator"))
			lp -= 9;
		snprintf(dir, len, "%s%.*s", strcmp(point, "/") ? point : "", (int)lp, rel);
		return ctrls[i] ? 1 : 2;
	}
	return 0;
}

int lvstate_read_vcpu_groups(const char *dir, int version, pid_t pid,
			     pid_t *tids, int nr)
{
	char path[1200], buf[4096];
	int set = 0;

	for (int v = 0; v < nr; v++) {
		if (tids[v])
			continue;
		snprintf(path, sizeof(path), "%s/vcpu%d/%s", dir, v,
			 version == 2 ? "cgroup.threads" : "tasks");
		if (hostinfo_read(path, buf, sizeof(buf)) <= 0)
			continue;
		for (char *p = buf, *end; *p; p = end) {
			long t = strtol(p, &end, 10);

			if (end == p)
				break;
			if (t > 0 && vmm_is_thread_of(pid, (pid_t)t)) {
				tids[v] = (pid_t)t;
				set++;
				break;
			}
		}
	}
	return set;
}

/* A whole file, NUL-terminated, however long (a container's mount table is); NULL on error. */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t len = 0, cap = 16384;
	char *buf;

	if (!f)
		return NULL;
	buf = xmalloc(cap);
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (len < cap - 1)
			break;
		cap *= 2;
		buf = xreallocarray(buf, cap, 1);
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

int lvstate_cgroup_threads(pid_t pid, pid_t *tids, int nr, enum lvstate_source *src)
{
	char path[64], cgroup[4096], dir[1100], *mountinfo;
	int v, set = 0;

	*src = LVS_NONE;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (hostinfo_read(path, cgroup, sizeof(cgroup)) <= 0 ||
	    !(mountinfo = read_all("/proc/self/mountinfo")))
		return 0;
	for (int i = 0; set < nr && (v = lvstate_cgroup_dir(cgroup, mountinfo, i, dir,
							      sizeof(dir))); i++) {
		int n = lvstate_read_vcpu_groups(dir, v, pid, tids, nr);

		if (n > 0 && *src == LVS_NONE)
			*src = v == 2 ? LVS_CGROUP2 : LVS_CGROUP1;
		set += n;
	}
	free(mountinfo);
	return set;
}

int lvstate_status_threads(const char *path, pid_t pid, pid_t *tids, int nr)
{
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr o;
	int set = 0;

	if (access(path, R_OK) < 0)
		return -errno;
	doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EINVAL;
	ctx = xmlXPathNewContext(doc);
	o = ctx ? xmlXPathEvalExpression((const xmlChar *)"/domstatus/vcpus/vcpu", ctx) : NULL;
	for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
		xmlNodePtr n = o->nodesetval->nodeTab[i];
		xmlChar *id = xmlGetProp(n, (const xmlChar *)"id");
		xmlChar *tid = xmlGetProp(n, (const xmlChar *)"pid");
		long v = id ? strtol((const char *)id, NULL, 10) : -1;
		long t = tid ? strtol((const char *)tid, NULL, 10) : 0;

		if (v >= 0 && v < nr && !tids[v] && t > 0 && vmm_is_thread_of(pid, (pid_t)t)) {
			tids[v] = (pid_t)t;
			set++;
		}
		xmlFree(id);
		xmlFree(tid);
	}
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return set;
}
