// SPDX-License-Identifier: MIT
/*
 * /proc/PID/numa_maps: where a process's memory sits. One line per mapping,
 *
 *   7f3a40000000 bind:0 anon=262144 dirty=262144 N0=131072 N1=131072 kernelpagesize_kB=4
 *   7f2000000000 default file=/dev/hugepages/qemu_back_mem.pc.ram huge dirty=16 N1=16 kernelpagesize_kB=1048576
 *
 * N<node>=<pages> counts pages of the mapping's own size (transparent huge
 * pages in base pages, hugetlbfs pages as whole huge pages), and the size
 * comes last on the line, so each line's counts are held until its end.
 * File names are escaped by the kernel (space as \040), so tokens never
 * contain a blank. The parser is one pass with memchr and no sscanf: a
 * guest's file can hold tens of thousands of lines and is read every
 * memory_interval for every guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sampling.h"
#include "sampling_impl.h"

#define KPS	"kernelpagesize_kB="
#define KPS_LEN	(sizeof(KPS) - 1)
#define READ_CHUNK	(256 * 1024)

static inline bool is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

static inline bool is_hex(char c)
{
	return is_digit(c) || (unsigned char)((c | 0x20) - 'a') < 6;
}

/* Decimal digits at p (before end); *ok false when there are none. */
static inline uint64_t digits(const char **pp, const char *end, bool *ok)
{
	const char *p = *pp;
	uint64_t v = 0;

	*ok = p < end && is_digit(*p);
	while (p < end && is_digit(*p))
		v = v * 10 + (uint64_t)(*p++ - '0');
	*pp = p;
	return v;
}

/*
 * Adds one line [p, eol) to mem[]; returns 1 when it had pages, 0 when not,
 * -1 when it does not look like a numa_maps line.
 */
static int parse_line(const char *p, const char *eol, uint64_t mem[VN_MAX_NODES])
{
	uint64_t pages[VN_MAX_NODES], seen = 0, kb = 4;

	if (p >= eol || !is_hex(*p))
		return -1;
	while (p < eol) {
		const char *sp = memchr(p, ' ', (size_t)(eol - p));
		const char *tok = sp ? sp + 1 : eol;
		bool ok;

		if (tok >= eol)
			break;
		if (tok[0] == 'N' && tok + 1 < eol && is_digit(tok[1])) {
			const char *q = tok + 1;
			uint64_t node = digits(&q, eol, &ok), n;

			if (q < eol && *q == '=') {
				q++;
				n = digits(&q, eol, &ok);
				if (ok && node < VN_MAX_NODES) {
					if (!(seen >> node & 1)) {
						seen |= 1ULL << node;
						pages[node] = 0;
					}
					pages[node] += n;
				}
			}
		} else if (tok[0] == 'k' && (size_t)(eol - tok) > KPS_LEN &&
			   memcmp(tok, KPS, KPS_LEN) == 0) {
			const char *q = tok + KPS_LEN;
			uint64_t v = digits(&q, eol, &ok);

			if (ok && v)
				kb = v;
		}
		p = tok;
	}
	if (!seen)
		return 0;
	for (uint64_t m = seen; m; m &= m - 1) {
		int node = __builtin_ctzll(m);

		mem[node] += pages[node] * kb * 1024;
	}
	return 1;
}

/* Parses the complete lines of buf; *used is where the first partial one starts. */
static int parse_lines(const char *buf, size_t len, bool final,
		       uint64_t mem[VN_MAX_NODES], size_t *used, bool *bad)
{
	const char *p = buf, *end = buf + len;
	int n = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		int r;

		if (!eol) {
			if (!final)
				break;
			eol = end;
		}
		if (eol > p) {
			r = parse_line(p, eol, mem);
			if (r < 0)
				*bad = true;
			else
				n += r;
		}
		p = eol < end ? eol + 1 : end;
	}
	*used = (size_t)(p - buf);
	return n;
}

int numa_maps_parse(const char *buf, size_t len, uint64_t mem[VN_MAX_NODES])
{
	bool bad = false;
	size_t used;
	int n;

	memset(mem, 0, VN_MAX_NODES * sizeof(*mem));
	n = parse_lines(buf, len, true, mem, &used, &bad);
	return bad ? -EINVAL : n;
}

/* Streams a file through a fixed buffer, carrying partial lines over. */
static int read_fd(int fd, uint64_t mem[VN_MAX_NODES])
{
	char *buf = malloc(READ_CHUNK);
	size_t have = 0;
	bool bad = false;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	memset(mem, 0, VN_MAX_NODES * sizeof(*mem));
	for (;;) {
		ssize_t r = read(fd, buf + have, READ_CHUNK - have);
		size_t used;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		have += (size_t)r;
		parse_lines(buf, have, r == 0, mem, &used, &bad);
		if (r == 0)
			break;
		if (used == 0 && have == READ_CHUNK) {
			/* a line longer than the buffer: no real numa_maps has one */
			ret = -EINVAL;
			break;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	free(buf);
	if (!ret && bad)
		ret = -EINVAL;
	return ret;
}

int numa_maps_read_path(const char *path, uint64_t mem[VN_MAX_NODES])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = read_fd(fd, mem);
	close(fd);
	return ret;
}

int numa_maps_read(pid_t pid, uint64_t mem[VN_MAX_NODES])
{
	char path[64];

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/numa_maps", (int)pid);
	return numa_maps_read_path(path, mem);
}

int numa_maps_guest(struct vn_guest *g)
{
	uint64_t mem[VN_MAX_NODES], total = 0;
	int r = numa_maps_read(g->pid, mem);

	if (r == -ENOENT)
		r = -ESRCH;	/* the process is gone */
	if (r < 0)
		return r;
	for (int n = 0; n < VN_MAX_NODES; n++) {
		g->v.mem[n] = mem[n];
		total += mem[n];
	}
	g->v.mem_total = total;
	return 0;
}
