// SPDX-License-Identifier: MIT
/*
 * A guest's memory per node from its memory cgroup. The kernel keeps, per
 * cgroup and node, counters of the pages charged to it, and moves them with
 * the pages when they migrate: memory.numa_stat costs tens of microseconds
 * to read whatever the guest's size, where /proc/PID/numa_maps walks every
 * page table entry of the process (milliseconds per GiB of 4 KiB pages).
 *
 *   v1  <memory hierarchy>/PATH/memory.numa_stat, in pages:
 *         total=N N0=.. N1=..   file=..   anon=..   unevictable=..
 *         hierarchical_total=.. (and the others, children included)
 *       counted: anon + unevictable of the cgroup itself. Its anonymous
 *       LRU lists hold shmem and memfd RAM too (swap-backed pages), the
 *       unevictable list mlocked RAM; file is page cache (disk images).
 *   v2  <cgroup2 mount>/PATH/memory.numa_stat, in bytes:
 *         anon N0=.. N1=..   file N0=..   shmem N0=..   ...
 *       counted: anon + shmem. A process in a threaded cgroup (libvirt's
 *       .../libvirt/emulator) has no memory files there: the nearest
 *       ancestor that has memory.numa_stat, its threaded domain, holds them.
 *
 * PATH is the process's own, from /proc/PID/cgroup ("4:memory:/machine/
 * qemu-1-vm.libvirt-qemu", "0::/machine.slice/machine-qemu\x2d1\x2dvm.scope/
 * libvirt/emulator"), under the mount points of /proc/self/mountinfo.
 *
 * The figure is used only when the cgroup holds this guest's memory and
 * little else: its sum must agree with the process's own resident anonymous
 * and shared memory (RssAnon + RssShmem of /proc/PID/status) within an
 * eighth plus 16 MiB. That turns away a cgroup shared with other processes
 * (the root cgroup, a login session), and a process moved into its cgroup
 * after it touched its memory (pages stay charged where they were first
 * charged). A process with hugetlbfs pages (HugetlbPages), which memory
 * cgroups do not count per node, is read from numa_maps, and so is every
 * guest turned away; the reason is logged once per change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sampling.h"
#include "sampling_impl.h"
#include "util.h"

#define MOUNTS_MAX_AGE	60.0		/* seconds a parsed mount table is kept */
#define AGREE_SLACK	(16ULL << 20)	/* bytes of disagreement always allowed */

/* One guest's memory source, kept between readings. */
struct mem_state {
	pid_t pid;		/* the process it was set up for */
	int fd;			/* memory.numa_stat, kept open; -1 none */
	int status_fd;		/* /proc/PID/status, kept open; -1 none */
	int version;		/* of the cgroup behind fd */
	char dir[PATH_MAX];	/* that cgroup's directory */
	const char *source;	/* of the last reading, for the log */
	char why[384];		/* why the last reading came from numa_maps */
	char *buf;
	size_t cap;
};

static inline bool is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* Decimal at *p; false when there is none. */
static bool get_dec(const char **pp, const char *end, uint64_t *v)
{
	const char *p = *pp;
	uint64_t x = 0;

	if (p >= end || !is_digit(*p))
		return false;
	while (p < end && is_digit(*p))
		x = x * 10 + (uint64_t)(*p++ - '0');
	*v = x;
	*pp = p;
	return true;
}

/* Copies a mountinfo field, undoing the kernel's octal escapes (\040). */
static void unescape(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < len; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
		    s[i + 3] <= '7') {
			out[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
					  (s[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

/* Whether the comma-separated list [s, s + n) holds word. */
static bool has_word(const char *s, size_t n, const char *word)
{
	size_t wl = strlen(word);
	const char *end = s + n;

	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t l = (size_t)((c ? c : end) - s);

		if (l == wl && !memcmp(s, word, wl))
			return true;
		s = c ? c + 1 : end;
	}
	return false;
}

int cg_mounts_parse(const char *buf, size_t len, struct cg_mounts *m)
{
	const char *p = buf, *end = buf + len;
	int found = 0;

	memset(m, 0, sizeof(*m));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *f[10], *dash = NULL;
		size_t fl[10];
		int nf = 0;

		if (!eol)
			eol = end;
		/* id parent maj:min root mountpoint opts [optional...] - type source superopts */
		for (const char *q = p; q < eol && nf < 10; ) {
			const char *sp = memchr(q, ' ', (size_t)(eol - q));
			const char *e = sp ? sp : eol;

			if (e - q == 1 && *q == '-' && !dash && nf >= 6) {
				dash = q;
				nf = 6;	/* what follows the separator: type, source, superopts */
			} else if (!dash && nf >= 6) {
				/* an optional field: skipped */
			} else {
				f[nf] = q;
				fl[nf++] = (size_t)(e - q);
			}
			q = sp ? sp + 1 : eol;
		}
		if (dash && nf >= 9) {
			bool v2 = fl[6] == 7 && !memcmp(f[6], "cgroup2", 7);
			bool v1 = fl[6] == 6 && !memcmp(f[6], "cgroup", 6) &&
				  has_word(f[8], fl[8], "memory");

			if (v1 && !m->v1[0]) {
				unescape(f[4], fl[4], m->v1, sizeof(m->v1));
				unescape(f[3], fl[3], m->v1_root, sizeof(m->v1_root));
				found++;
			} else if (v2 && !m->v2[0]) {
				unescape(f[4], fl[4], m->v2, sizeof(m->v2));
				unescape(f[3], fl[3], m->v2_root, sizeof(m->v2_root));
				found++;
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	return found;
}

/*
 * Joins a hierarchy's mount point and a process's path in it, which must
 * lie under the mount's root (a bind mount of a subtree shows only that).
 */
static int join_path(const char *mnt, const char *root, const char *path,
		     char *out, size_t len)
{
	size_t rl = strlen(root);
	int n;

	if (rl == 1 && root[0] == '/')
		rl = 0;
	if (rl && (strncmp(path, root, rl) || (path[rl] && path[rl] != '/')))
		return -ENOENT;	/* outside what this mount shows */
	path += rl;
	while (*path == '/')
		path++;
	n = snprintf(out, len, "%s%s%s", mnt, *path ? "/" : "", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cg_resolve(const struct cg_mounts *m, const char *buf, size_t len,
	       char *dir, size_t dlen, char *why, size_t wlen)
{
	const char *p = buf, *end = buf + len;
	char v1path[PATH_MAX] = "", v2path[PATH_MAX] = "";
	bool have_v1 = false, have_v2 = false;

	/* hierarchy-ID:controller-list:cgroup-path, one line per hierarchy */
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *c1, *c2;

		if (!eol)
			eol = end;
		c1 = memchr(p, ':', (size_t)(eol - p));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2) {
			size_t pl = (size_t)(eol - c2 - 1);

			if (c1 - p == 1 && *p == '0' && c2 == c1 + 1 && !have_v2 &&
			    pl < sizeof(v2path)) {
				memcpy(v2path, c2 + 1, pl);
				v2path[pl] = '\0';
				have_v2 = true;
			} else if (has_word(c1 + 1, (size_t)(c2 - c1 - 1), "memory") &&
				   !have_v1 && pl < sizeof(v1path)) {
				memcpy(v1path, c2 + 1, pl);
				v1path[pl] = '\0';
				have_v1 = true;
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	/* a hybrid host has the memory controller on v1: that is where it counts */
	if (have_v1 && m->v1[0]) {
		if (join_path(m->v1, m->v1_root, v1path, dir, dlen) < 0) {
			snprintf(why, wlen, "its memory cgroup %.100s is not under the "
				 "memory hierarchy mounted at %.100s", v1path, m->v1);
			return -ENOENT;
		}
		return 1;
	}
	if (have_v2 && m->v2[0]) {
		char path[PATH_MAX + 32];
		size_t top;

		if (join_path(m->v2, m->v2_root, v2path, dir, dlen) < 0) {
			snprintf(why, wlen, "its cgroup %.100s is not under the cgroup2 "
				 "mount %.100s", v2path, m->v2);
			return -ENOENT;
		}
		/* a threaded cgroup has no memory files: its domain has them */
		top = strlen(m->v2);
		for (;;) {
			char *slash;

			snprintf(path, sizeof(path), "%s/memory.numa_stat", dir);
			if (access(path, F_OK) == 0)
				return 2;
			slash = strrchr(dir, '/');
			if (!slash || (size_t)(slash - dir) < top || strlen(dir) <= top)
				break;
			*slash = '\0';
		}
		snprintf(why, wlen, "no memory.numa_stat in its cgroup %.100s or above "
			 "(the memory controller is not enabled there)", v2path);
		return -ENOENT;
	}
	if (have_v1 || have_v2)
		snprintf(why, wlen, "its memory cgroup's hierarchy is not mounted here");
	else
		snprintf(why, wlen, "it is in no memory cgroup");
	return -ENOENT;
}

int numa_stat_parse(const char *buf, size_t len, int version,
		    uint64_t mem[VN_MAX_NODES])
{
	static const char *const v1_keys[] = { "anon", "unevictable" };
	static const char *const v2_keys[] = { "anon", "shmem" };
	const char *const *keys = version == 1 ? v1_keys : v2_keys;
	const char *p = buf, *end = buf + len;
	uint64_t unit = version == 1 ? (uint64_t)sysconf(_SC_PAGESIZE) : 1;
	int found = 0;

	memset(mem, 0, VN_MAX_NODES * sizeof(*mem));
	if (version != 1 && version != 2)
		return -EINVAL;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *k = p, *q;
		size_t kl;
		int which = -1;

		if (!eol)
			eol = end;
		/* v1 "anon=N N0=..", v2 "anon N0=.." */
		for (q = p; q < eol && *q != ' ' && *q != '='; q++)
			;
		kl = (size_t)(q - k);
		for (int i = 0; i < 2; i++)
			if (strlen(keys[i]) == kl && !memcmp(k, keys[i], kl))
				which = i;
		if (which >= 0 && !(found >> which & 1)) {
			found |= 1 << which;
			while (q < eol) {
				const char *sp = memchr(q, ' ', (size_t)(eol - q));
				uint64_t node, v;

				q = sp ? sp + 1 : eol;
				if (q < eol && *q == 'N') {
					const char *r = q + 1;

					if (get_dec(&r, eol, &node) && r < eol && *r == '=') {
						r++;
						if (get_dec(&r, eol, &v) && node < VN_MAX_NODES)
							mem[node] += v * unit;
					}
				}
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	return found == 3 ? 0 : -EINVAL;
}

int proc_status_mem(const char *buf, size_t len, uint64_t *anon,
		    uint64_t *shmem, uint64_t *hugetlb)
{
	static const char *const keys[] = { "RssAnon:", "RssShmem:", "HugetlbPages:" };
	uint64_t *out[] = { anon, shmem, hugetlb };
	const char *p = buf, *end = buf + len;
	int found = 0;

	*anon = *shmem = *hugetlb = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		for (int i = 0; i < 3; i++) {
			size_t kl = strlen(keys[i]);
			const char *q = p + kl;
			uint64_t v;

			if ((size_t)(eol - p) <= kl || memcmp(p, keys[i], kl))
				continue;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (get_dec(&q, eol, &v)) {
				*out[i] = v * 1024;	/* kB */
				found |= 1 << i;
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	/* HugetlbPages is missing before Linux 4.4: none counted */
	return (found & 3) == 3 ? 0 : -EINVAL;
}

bool cg_agrees(uint64_t cgroup, uint64_t rss)
{
	uint64_t d = cgroup > rss ? cgroup - rss : rss - cgroup;

	return d <= rss / 8 + AGREE_SLACK;
}

/* The hierarchies' mount points, parsed again once a minute. */
static const struct cg_mounts *mounts(void)
{
	static struct cg_mounts m;
	static double at = -1e9;
	double now = now_monotonic();
	char *buf;
	size_t len = 0, cap = 64 * 1024;
	ssize_t r;
	int fd;

	if (now - at < MOUNTS_MAX_AGE)
		return &m;
	at = now;
	fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		memset(&m, 0, sizeof(m));
		return &m;
	}
	buf = xmalloc(cap);
	while ((r = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)r;
		if (len == cap) {
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	close(fd);
	cg_mounts_parse(buf, len, &m);
	free(buf);
	return &m;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reads a kept-open file whole into st->buf, growing it; bytes or -errno. */
static ssize_t read_whole(struct mem_state *st, int fd)
{
	for (;;) {
		ssize_t n;

		if (!st->buf) {
			st->cap = 16 * 1024;
			st->buf = xmalloc(st->cap);
		}
		n = pread_all(fd, st->buf, st->cap);
		if (n < 0 || (size_t)n < st->cap)
			return n;
		st->cap *= 2;
		st->buf = xreallocarray(st->buf, st->cap, 1);
	}
}

/* Finds and opens the memory.numa_stat of the process's cgroup. */
static int cg_open(struct mem_state *st, pid_t pid)
{
	char path[PATH_MAX + 32], buf[4096];
	int fd, version;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(st->why, sizeof(st->why), "cannot read %.150s: %s", path,
			 strerror(errno));
		return errno == ENOENT ? -ESRCH : -errno;
	}
	n = pread_all(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		snprintf(st->why, sizeof(st->why), "cannot read %.150s: %s", path,
			 strerror((int)-n));
		return (int)n;
	}
	/* empty where no cgroup hierarchy was ever mounted (a bare initramfs):
	 * in no memory cgroup, which cg_resolve says; the process is there */
	version = cg_resolve(mounts(), buf, (size_t)n, st->dir, sizeof(st->dir),
			     st->why, sizeof(st->why));
	if (version < 0)
		return version;
	snprintf(path, sizeof(path), "%s/memory.numa_stat", st->dir);
	fd = open_retry(path, O_RDONLY);
	if (fd < 0) {
		snprintf(st->why, sizeof(st->why), "cannot read %.150s: %s", path,
			 strerror(-fd));
		return fd;
	}
	st->fd = fd;
	st->version = version;
	return 0;
}

/*
 * One reading from the cgroup: 0 with mem[] filled, or -1 with the reason
 * in st->why (then the caller reads numa_maps), or -ESRCH.
 */
static int cg_read(struct mem_state *st, pid_t pid, uint64_t mem[VN_MAX_NODES])
{
	uint64_t anon, shmem, huge, total = 0;
	ssize_t n;
	int r;

	if (st->status_fd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		st->status_fd = open_retry(path, O_RDONLY);
		if (st->status_fd < 0)
			return st->status_fd == -ENOENT ? -ESRCH : -1;
	}
	n = read_whole(st, st->status_fd);
	if (n <= 0)
		return -ESRCH;	/* the process is gone: its status reads empty */
	if (proc_status_mem(st->buf, (size_t)n, &anon, &shmem, &huge) < 0) {
		snprintf(st->why, sizeof(st->why), "no RssAnon and RssShmem in "
			 "/proc/%d/status", (int)pid);
		return -1;
	}
	if (huge) {
		snprintf(st->why, sizeof(st->why), "it has %llu MiB of hugetlbfs "
			 "pages, which memory cgroups do not count per node",
			 (unsigned long long)(huge >> 20));
		close_fd(&st->fd);
		return -1;
	}
	if (st->fd < 0 && (r = cg_open(st, pid)) < 0)
		return r == -ESRCH ? r : -1;
	n = read_whole(st, st->fd);
	if (n <= 0 || numa_stat_parse(st->buf, (size_t)n, st->version, mem) < 0) {
		snprintf(st->why, sizeof(st->why), "cannot read %.150s/memory.numa_stat%s",
			 st->dir, n < 0 ? "" : ": no anon figures");
		close_fd(&st->fd);	/* found again next time */
		return -1;
	}
	for (int i = 0; i < VN_MAX_NODES; i++)
		total += mem[i];
	if (!cg_agrees(total, anon + shmem)) {
		snprintf(st->why, sizeof(st->why), "its memory cgroup %.100s (v%d) holds "
			 "%llu MiB where the process has %llu MiB resident: shared "
			 "with other processes, or its pages were charged elsewhere",
			 st->dir, st->version, (unsigned long long)(total >> 20),
			 (unsigned long long)((anon + shmem) >> 20));
		close_fd(&st->fd);	/* looked for again next time */
		return -1;
	}
	return 0;
}

void mem_state_free(struct mem_state *st)
{
	if (!st)
		return;
	close_fd(&st->fd);
	close_fd(&st->status_fd);
	free(st->buf);
	free(st);
}

const char *mem_state_dir(const struct mem_state *st)
{
	return st && st->fd >= 0 ? st->dir : NULL;
}

int guest_memory(struct vn_guest *g)
{
	struct thread_table *tab = g->sampler;
	struct mem_state **slot = tab ? &tab->mem : NULL;
	struct mem_state *st = slot ? *slot : NULL;
	uint64_t mem[VN_MAX_NODES], total = 0;
	const char *src;
	int r;

	if (g->pid <= 0)
		return -ESRCH;
	if (!st) {
		st = xcalloc(1, sizeof(*st));
		st->fd = st->status_fd = -1;
	}
	if (st->pid != g->pid) {
		close_fd(&st->fd);
		close_fd(&st->status_fd);
		st->pid = g->pid;
		st->source = NULL;
	}
	st->why[0] = '\0';
	r = cg_read(st, g->pid, mem);
	if (r == 0) {
		src = st->version == 1 ? "cgroup v1" : "cgroup v2";
		for (int n = 0; n < VN_MAX_NODES; n++) {
			g->v.mem[n] = mem[n];
			total += mem[n];
		}
		g->v.mem_total = total;
	} else if (r == -ESRCH) {
		src = st->source;
	} else {
		src = "numa_maps";
		r = numa_maps_guest(g);
	}
	if (r == 0 && src != st->source) {
		if (!strcmp(src, "numa_maps"))
			log_info("guest %s: memory per node from numa_maps, which "
				 "costs milliseconds per GiB: %s", g->name ? g->name : "?",
				 st->why);
		else
			log_debug("guest %s: memory per node from %s", g->name ?
				  g->name : "?", st->dir);
		st->source = src;
	}
	if (r == 0)
		g->mem_source = src;
	if (slot)
		*slot = st;
	else
		mem_state_free(st);
	return r;
}
