// SPDX-License-Identifier: MIT
/*
 * bench-inputs: what hostile input costs the daemon's loop.
 *
 *   inputs.config_limit_ms   loading a configuration at the limits: 16,383
 *                            keys, every one unknown (the scan looked keys up
 *                            linearly: 100,000 took 53 s, on every SIGHUP);
 *                            goal under 500 ms
 *   inputs.metrics_render_ms rendering /metrics for 2,000 guests of 8 vCPUs,
 *                            what the first scrape of a tick costs (detail)
 *   inputs.metrics_copy_ms   a scrape served from the tick's copy, over a
 *                            socket pair, as every other scrape of the tick
 *                            is; goal under 10 ms (a rendering each, they
 *                            delayed the ticks)
 *
 * QUICK=1 scrapes 5 times instead of 50 and renders for 500 guests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "util.h"

static double config_limit_ms(void)
{
	char path[] = "/tmp/bench-inputs-XXXXXX";
	struct vn_errors e = { 0 };
	struct vn_config c;
	double t0, ms;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f)
		return -1;
	fprintf(f, "[daemon]\n");
	for (int i = 0; i < 16383; i++)
		fprintf(f, "k%d = %d\n", i, i);
	fclose(f);
	t0 = now_monotonic();
	config_load(&c, path, NULL, &e);
	ms = (now_monotonic() - t0) * 1e3;
	printf("# a configuration of 16,383 unknown keys: %d errors reported\n", e.count);
	errors_free(&e);
	config_free(&c);
	unlink(path);
	return ms;
}

/* One GET over a socket pair, read to the end; its wall time in ms. */
static double scrape(struct event_base *base, struct vn_metrics *m, size_t *bytes)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[1 << 16];
	double t0 = now_monotonic();
	int sv[2];
	ssize_t r;

	*bytes = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return -1;
	metrics_adopt(m, sv[0]);
	if (write(sv[1], req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		return -1;
	for (;;) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		r = read(sv[1], buf, sizeof(buf));
		if (r == 0)
			break;
		if (r > 0)
			*bytes += (size_t)r;
		else if (errno != EAGAIN)
			break;
	}
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return (now_monotonic() - t0) * 1e3;
}

int main(void)
{
	static struct vn_core c;
	bool quick = getenv("QUICK") && *getenv("QUICK");
	int guests = quick ? 500 : 2000, scrapes = quick ? 5 : 50;
	struct vn_overrides ov = { .backend = VN_BACKEND_SIM, .log_level = LOG_WARNING };
	char path[] = "/tmp/bench-inputs-XXXXXX";
	struct vn_errors e = { 0 };
	struct event_base *base;
	struct vn_metrics *m;
	struct evbuffer *b;
	double ms, render, copy = 0;
	size_t bytes = 0;
	int fd;
	FILE *f;

	log_init(true, LOG_WARNING, "bench-inputs");
	ms = config_limit_ms();
	printf("BENCH name=inputs.config_limit_ms value=%.1f unit=ms goal=500 dir=max "
	       "desc=loading a configuration of 16,383 unknown keys\n", ms);

	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return 1;
	fprintf(f, "[host]\nnodes = 4\ncpus = 256\nmemory = 4TiB\n[guest.g]\ncount = %d\n"
		"vcpus = 8\nmemory = 1GiB\n", guests);
	fclose(f);
	ov.scenario = path;
	if (config_load(&c.cfg, NULL, &ov, &e) < 0) {
		errors_print(&e, stderr);
		return 1;
	}
	base = event_base_new();
	if (registry_pick(&c) < 0 || core_open(&c, base, VN_OUT_NONE, stdout) < 0)
		return 1;
	unlink(path);
	core_tick(&c);
	core_tick(&c);
	b = evbuffer_new();
	ms = now_monotonic();
	metrics_render(&c, b);
	render = (now_monotonic() - ms) * 1e3;
	printf("# /metrics for %d guests of 8 vCPUs: %zu bytes\n", guests,
	       evbuffer_get_length(b));
	evbuffer_free(b);
	m = metrics_new_unbound(base, &c);
	scrape(base, m, &bytes);	/* renders the tick's copy */
	for (int i = 0; i < scrapes; i++)
		copy += scrape(base, m, &bytes);
	copy /= scrapes;
	printf("# %d scrapes from the copy, %zu bytes each, %llu rendering(s) in all\n",
	       scrapes, bytes, (unsigned long long)metrics_renders(m));
	printf("BENCH name=inputs.metrics_render_ms value=%.1f unit=ms goal=- dir=- "
	       "level=detail desc=rendering /metrics for %d guests of 8 vCPUs\n", render,
	       guests);
	printf("BENCH name=inputs.metrics_copy_ms value=%.2f unit=ms goal=10 dir=max "
	       "desc=a scrape of %d guests served from the tick's copy\n", copy, guests);
	metrics_close(m);
	core_close(&c);
	config_free(&c.cfg);
	event_base_free(base);
	return 0;
}
