// SPDX-License-Identifier: MIT
/*
 * vnumad-worker: the launcher of policy workers.
 *
 * The daemon starts it once, as the worker user (nobody by default) and
 * with no capabilities, before it drops its own privileges; from then on
 * the daemon needs no privilege to start, stop or restart a worker: the
 * launcher forks them. It is also what lets the daemon kill a worker that
 * missed its deadline (the daemon, root without CAP_KILL, may not signal
 * another user's process; the launcher, of the same user, may) and learn
 * how a worker ended (its wait status).
 *
 * On its socket (descriptor 3), from the daemon:
 *   WIRE_SPAWN + 4 descriptors  fork a worker; answer WIRE_SPAWNED pid
 *   WIRE_DESCRIBE + 2           fork a describer (serve.c); WIRE_SPAWNED pid
 *   WIRE_KILL pid               SIGKILL it
 * and to the daemon, WIRE_READY once, WIRE_EXITED pid status for every
 * worker that ends. The launcher exits when the daemon closes the socket,
 * killing its workers; it dies with the daemon (PR_SET_PDEATHSIG), its
 * workers with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve.h"
#include "wire.h"

#define MAX_WORKERS	16	/* alive at once: one, two during a reload */

static pid_t workers[MAX_WORKERS];

static bool mine(pid_t pid)
{
	for (int i = 0; i < MAX_WORKERS; i++)
		if (pid > 0 && workers[i] == pid)
			return true;
	return false;
}

/*
 * Puts the n received descriptors at the numbers of `at` and closes all
 * others.
 */
static void place_fds(const int *fds, const int *at, int n)
{
	int high[WIRE_NR_FDS];

	/* above every target first, so that no dup2 overwrites a source */
	for (int i = 0; i < n; i++) {
		high[i] = fcntl(fds[i], F_DUPFD, 64);
		if (high[i] < 0)
			_exit(WIRE_EXIT_SETUP);
	}
	for (int i = 0; i < n; i++)
		if (dup2(high[i], at[i]) < 0)
			_exit(WIRE_EXIT_SETUP);
	/* dup2 leaves the new descriptors without FD_CLOEXEC; close the rest */
	for (int fd = WIRE_FD_CHAN; fd < 1024; fd++) {
		bool keep = false;

		for (int i = 0; i < n; i++)
			keep |= fd == at[i];
		if (!keep)
			close(fd);
	}
}

/*
 * Forks a worker (WIRE_SPAWN: 4 descriptors) or a describer (WIRE_DESCRIBE:
 * the channel and the plugin) and tells the daemon its pid.
 */
static void spawn(int ctl, int sfd, uint32_t type, const struct wire_spawn *sp,
		  const int *fds)
{
	static const int worker_at[] = { WIRE_FD_CHAN, WIRE_FD_VIEW, WIRE_FD_OUT,
					 WIRE_FD_PLUGIN };
	static const int describer_at[] = { WIRE_FD_CHAN, WIRE_FD_PLUGIN };
	sigset_t none;
	pid_t pid;
	int slot = -1;

	for (int i = 0; i < MAX_WORKERS && slot < 0; i++)
		if (!workers[i])
			slot = i;
	if (slot < 0) {
		wire_send_text(ctl, WIRE_FAILED, EAGAIN, 0, "too many workers alive");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sfd);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGCHLD, SIG_DFL);
		if (type == WIRE_DESCRIBE) {
			place_fds(fds, describer_at, 2);
			describe(sp, getppid());
		}
		place_fds(fds, worker_at, WIRE_NR_FDS);
		serve(sp, getppid());
	}
	if (pid < 0) {
		wire_send_text(ctl, WIRE_FAILED, errno, 0, "fork");
		return;
	}
	workers[slot] = pid;
	wire_send(ctl, WIRE_SPAWNED, 0, pid, 0, NULL, 0, NULL, 0);
}

/* Reaps every worker that ended and tells the daemon how. */
static void reap(int ctl)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_WORKERS; i++)
			if (workers[i] == pid)
				workers[i] = 0;
		wire_send(ctl, WIRE_EXITED, 0, pid, status, NULL, 0, NULL, 0);
	}
}

static int launcher(void)
{
	int ctl = WIRE_FD_CTL, sfd;
	struct wire_hdr h;
	struct wire_spawn sp;
	sigset_t chld;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return WIRE_EXIT_SETUP;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		wire_send_text(ctl, WIRE_FAILED, errno, 0, "signalfd");
		return WIRE_EXIT_SETUP;
	}
	wire_send(ctl, WIRE_READY, 0, getpid(), 0, NULL, 0, NULL, 0);
	for (;;) {
		struct pollfd p[2] = { { .fd = ctl, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };
		int fds[WIRE_NR_FDS], nfds = WIRE_NR_FDS, r;
		size_t len;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			reap(ctl);
		}
		if (!p[0].revents)
			continue;
		r = wire_recv(ctl, &h, &sp, sizeof(sp), &len, fds, &nfds);
		if (r == 0 || (r < 0 && r != -EPROTO && r != -EAGAIN))
			break;	/* the daemon is gone */
		if (r < 0)
			continue;
		if (h.type == WIRE_SPAWN && len == sizeof(sp) && nfds == WIRE_NR_FDS)
			spawn(ctl, sfd, h.type, &sp, fds);
		else if (h.type == WIRE_DESCRIBE && len == sizeof(sp) && nfds == 2)
			spawn(ctl, sfd, h.type, &sp, fds);
		else if (h.type == WIRE_KILL && mine((pid_t)h.a))
			kill((pid_t)h.a, SIGKILL);
		else if (h.type == WIRE_SPAWN || h.type == WIRE_DESCRIBE)
			wire_send_text(ctl, WIRE_FAILED, EPROTO, 0, "malformed spawn request");
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
	for (int i = 0; i < MAX_WORKERS; i++)
		if (workers[i])
			kill(workers[i], SIGKILL);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "launcher") == 0 &&
	    fcntl(WIRE_FD_CTL, F_GETFD) >= 0)
		return launcher();
	fprintf(stderr, "vnumad-worker: runs policy plugins for vnumad, which starts it; "
		"see vnumad-policy(7)\n");
	return 2;
}
