// SPDX-License-Identifier: MIT
/*
 * connhold: the hostile client of the tests. Opens connections to a Unix
 * socket or a TCP port and holds them, as a client that never reads, a
 * client that sends a request and goes away, or one that sends a request
 * a byte at a time would.
 *
 *   connhold [-n N] [-w TEXT] [-t MS] [-T SECONDS] [-c] ADDRESS
 *
 *   ADDRESS   a path (a Unix socket) or HOST:PORT (TCP)
 *   -n N      connections to open (default 1); it stops at the first that
 *             fails and says how many it opened
 *   -w TEXT   written on each connection once open (\r, \n and \\ escapes)
 *   -t MS     write TEXT one byte every MS milliseconds instead, and the
 *             last byte again and again once it is all out
 *   -T S      hold for S seconds at most (default 10)
 *   -c        close each connection right after writing TEXT, unread
 *
 * Prints "connected K" once the connections are open, then, when every one
 * has been closed by the peer or the time is up, "closed K after S s",
 * K the connections the peer closed and S when the last of them was. Exits
 * 0, or 1 when not even one connection opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* \r, \n, \\ in s, in place. */
static size_t unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			*o++ = *p == 'r' ? '\r' : *p == 'n' ? '\n' : *p;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return (size_t)(o - s);
}

/* Connects without blocking more than a second (a full backlog). */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t el = sizeof(err);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* a Unix socket's full backlog says EAGAIN: try again for a second */
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (connect(fd, sa, len) == 0)
			return 0;
		if (errno != EAGAIN)
			break;
		nanosleep(&ts, NULL);
	}
	if (errno != EINPROGRESS)
		return -1;
	if (poll(&p, 1, 1000) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
		return -1;
	return 0;
}

static int dial(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	int fd;

	if (addr[0] == '/' || addr[0] == '.' || !colon) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(addr) >= sizeof(sa.sun_path))
			return -1;
		memcpy(sa.sun_path, addr, strlen(addr));
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && connect_within(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	{
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		char host[256];

		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
			return -1;
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd >= 0 && connect_within(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
		return fd;
	}
}

int main(int argc, char **argv)
{
	static int fd[MAX_CONN];
	static size_t sent[MAX_CONN];
	static bool gone[MAX_CONN];
	char *text = NULL;
	size_t len = 0;
	int n = 1, ms = 0, opt, open_n = 0, closed = 0;
	double hold = 10, t0, last = 0;
	bool close_now = false;

	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "n:w:t:T:c")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'w': text = optarg; len = unescape(text); break;
		case 't': ms = atoi(optarg); break;
		case 'T': hold = atof(optarg); break;
		case 'c': close_now = true; break;
		default:
			fprintf(stderr, "usage: connhold [-n N] [-w TEXT] [-t MS] [-T S] [-c] ADDRESS\n");
			return 2;
		}
	}
	if (optind + 1 != argc || n < 1 || n > MAX_CONN)
		return 2;
	for (int i = 0; i < n; i++) {
		fd[i] = dial(argv[optind]);
		if (fd[i] < 0)
			break;
		open_n++;
		if (text && !ms) {
			if (write(fd[i], text, len) == (ssize_t)len)
				sent[i] = len;
		}
		if (close_now) {
			close(fd[i]);
			fd[i] = -1;
			gone[i] = true;
		}
	}
	printf("connected %d\n", open_n);
	fflush(stdout);
	if (!open_n)
		return 1;
	t0 = now();
	while (now() - t0 < hold && closed + (close_now ? open_n : 0) < open_n) {
		struct pollfd p[MAX_CONN];
		int np = 0;

		for (int i = 0; i < open_n; i++) {
			if (gone[i])
				continue;
			p[np].fd = fd[i];
			p[np].events = POLLIN;
			np++;
		}
		poll(p, np, ms ? ms : 100);
		for (int k = 0; k < np; k++) {
			int i;
			char buf[4096];
			ssize_t r;

			for (i = 0; fd[i] != p[k].fd; i++)
				;
			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(fd[i], buf, sizeof(buf));
			if (r > 0)
				continue;	/* a reply: read and dropped */
			close(fd[i]);
			gone[i] = true;
			closed++;
			last = now() - t0;
		}
		/* one more byte on every connection still open */
		for (int i = 0; ms && text && len && i < open_n; i++) {
			if (gone[i])
				continue;
			if (write(fd[i], text + (sent[i] < len ? sent[i] : len - 1), 1) == 1 &&
			    sent[i] < len)
				sent[i]++;
		}
	}
	printf("closed %d after %.1f s\n", closed, last);
	return 0;
}
