// SPDX-License-Identifier: MIT
/*
 * Policy plugins in a worker process: a plugin that crashes, hangs or
 * misbehaves costs a tick, never the daemon.
 *
 * A plugin (not a built-in policy) runs in vnumad-worker, a process of the
 * worker user (nobody unless [policy] worker_user says otherwise), with no
 * capabilities, no_new_privs, an address-space limit and a seccomp filter
 * that allows what a pure function of the view needs (rebalancer/worker/).
 * The daemon starts one launcher of that user while it still may switch
 * users (core_open, before privileges are dropped); the launcher forks the
 * workers, kills the one that missed its deadline and reports how each
 * ended, so that restarting needs no privilege.
 *
 * Each tick, the view is packed into a memfd (wire.c) that the worker maps
 * read-only; a TICK message names it, and the ANSWER says how many
 * proposals the worker wrote into a second memfd, sealed against resizing,
 * which the daemon maps read-only and copies out before trusting anything.
 * The daemon waits for the answer at most [policy] deadline of the interval
 * (WORKER_DEADLINE_MAX at most). The wait is synchronous: a tick's stages
 * run in order, and the deadline bounds how long the loop is held.
 *
 * A crash, a missed deadline, a refused system call or a malformed answer
 * costs that tick's proposals; the reason is logged, the worker is killed
 * and started again after 1, 2, 4 ... WORKER_BACKOFF_MAX ticks. After
 * POLICY_MAX_FAILURES failed ticks in a row the built-in default policy
 * advises in its place (nothing is applied) until a worker answers again;
 * status and the metrics say so. A tick that returns an error counts as a
 * failure but keeps its worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "plugin.h"
#include "policies.h"
#include "util.h"
#include "wire.h"
#include "worker.h"

#include "vnumad_paths.h"	/* generated: PREFIX and the directories */

#ifndef VNUMAD_WORKER
#define VNUMAD_WORKER "/usr/local/lib/vnumad/vnumad-worker"
#endif

#define VIEW_MIN	(1u << 20)	/* first size of the view's memfd */
#define LAUNCH_WAIT	5.0		/* seconds for the launcher to answer */
#define REAP_WAIT	0.5		/* seconds to learn how a worker ended */
#define LOGS_PER_TICK	20		/* plugin lines logged per tick, at most */

const char *const worker_lost_names[WORKER_LOST_NR] = {
	[WORKER_OK] = "none",
	[WORKER_LOST_CRASH] = "crash",
	[WORKER_LOST_DEADLINE] = "deadline",
	[WORKER_LOST_MALFORMED] = "malformed",
	[WORKER_LOST_SYSCALL] = "syscall",
	[WORKER_LOST_ERROR] = "error",
	[WORKER_LOST_START] = "start",
};

struct vn_worker {
	char *path;		/* the plugin's file, for messages */
	int plugin;		/* the descriptor the daemon loaded it from */
	char *name;		/* its policy's name, for messages */
	double deadline;	/* seconds a tick may take */
	double start_deadline;	/* seconds for HELLO, init, fini */
	uint64_t memory;	/* address space it may add */
	void *init;		/* the WIRE_INIT payload, kept for restarts */
	size_t init_len;
	pid_t pid;		/* 0: none running */
	int chan;
	int view_fd;		/* the view's memfd, kept across restarts */
	uint8_t *view;
	size_t view_len;
	const struct vnumad_proposal *out;	/* read-only map of the out memfd */
	int cap;
	uint64_t seq;
	/* what the last worker said or did before it ended */
	long refused;		/* system call number, -1 none */
	char failed[WIRE_TEXT_MAX];	/* its WIRE_FAILED text */
	int failed_errno;
	size_t got;		/* payload bytes of the last message expected */
	int logs;		/* lines logged this tick */
	int dropped;		/* lines dropped this tick */
	/* for status and metrics */
	uint64_t restarts;
	uint64_t lost[WORKER_LOST_NR];
	uint64_t retry_tick;
	double tick_seconds;
	char last[512];
};

/* The default policy, advising while the configured one is disabled. */
struct vn_fallback {
	const struct vnumad_policy *desc;
	void *priv;
	struct vnumad_value *values;
	bool inited, broken;
};

/* One launcher per process, shared by every worker it starts. */
static struct {
	pid_t pid;
	int ctl;
	char user[64];		/* the user it runs as */
	struct { pid_t pid; int status; } exits[16];	/* ends not yet claimed */
	int nexits;
} launcher = { .ctl = -1 };

/* A plugin's line in the daemon's log: sanitised, at most LOGS_PER_TICK a tick. */
static void plugin_line(struct vn_worker *w, long level, const char *text)
{
	char clean[WIRE_TEXT_MAX];

	if (w->logs >= LOGS_PER_TICK) {
		w->dropped++;
		return;
	}
	w->logs++;
	if (level < VNUMAD_LOG_ERR || level > VNUMAD_LOG_DEBUG)
		level = VNUMAD_LOG_INFO;
	clean_text(clean, sizeof(clean), text);
	log_at((int)level, "policy: %s", clean);
}

static void end_of_tick_logs(struct vn_worker *w)
{
	if (w->dropped)
		log_warning("policy %s: %d more line%s of its log dropped this tick",
			    w->name, w->dropped, w->dropped == 1 ? "" : "s");
	w->logs = w->dropped = 0;
}

/* Seconds of monotonic time left until `until`, as poll's milliseconds. */
static int ms_left(double until)
{
	double left = until - now_monotonic();

	return left <= 0 ? 0 : (int)ceil(left * 1e3);
}

/* One message from fd before `until`: 1, 0 at its end, -ETIMEDOUT, or an error. */
static int recv_until(int fd, double until, struct wire_hdr *h, void *buf,
		      size_t cap, size_t *len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	for (;;) {
		r = poll(&p, 1, ms_left(until));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		return wire_recv(fd, h, buf, cap, len, NULL, NULL);
	}
}

/* Keeps how a launcher's worker ended, until its owner asks. */
static void note_exit(pid_t pid, int status)
{
	if (launcher.nexits == (int)ARRAY_SIZE(launcher.exits)) {
		memmove(launcher.exits, launcher.exits + 1,
			sizeof(launcher.exits[0]) * (ARRAY_SIZE(launcher.exits) - 1));
		launcher.nexits--;
	}
	launcher.exits[launcher.nexits].pid = pid;
	launcher.exits[launcher.nexits].status = status;
	launcher.nexits++;
}

/*
 * Forgets the launcher: closing its socket makes it kill its workers and
 * exit. It is reaped if it does within a second; vnumad may not signal it.
 */
static void launcher_gone(void)
{
	if (launcher.ctl >= 0)
		close(launcher.ctl);
	launcher.ctl = -1;
	for (int i = 0; launcher.pid > 0 && i < 100; i++) {
		if (waitpid(launcher.pid, NULL, WNOHANG) != 0)
			break;
		usleep(10000);
	}
	launcher.pid = 0;
}

/*
 * Reads the launcher's messages until one of `type` (and pid, when not 0)
 * or `until`; EXITED notes are kept on the way. 1, or a negative errno
 * (-EPIPE: the launcher is gone), with a FAILED's text in why.
 */
static int launcher_wait(uint32_t type, pid_t pid, double until,
			 struct wire_hdr *h, char *why, size_t len)
{
	char text[WIRE_TEXT_MAX];
	size_t n;
	int r;

	for (;;) {
		r = recv_until(launcher.ctl, until, h, text, sizeof(text) - 1, &n);
		if (r == 0 || r == -ECONNRESET || r == -EPIPE) {
			snprintf(why, len, "the policy launcher ended");
			launcher_gone();
			return -EPIPE;
		}
		if (r < 0) {
			snprintf(why, len, "the policy launcher %s", r == -ETIMEDOUT ?
				 "does not answer" : strerror(-r));
			return r;
		}
		text[n] = '\0';
		if (h->type == WIRE_EXITED)
			note_exit((pid_t)h->a, (int)h->b);
		if (h->type == WIRE_FAILED) {
			snprintf(why, len, "%.200s: %s", text, strerror((int)h->a));
			return h->a > 0 ? -(int)h->a : -EIO;
		}
		if (h->type == type && (!pid || h->a == pid))
			return 1;
	}
}

/* vnumad-worker: $VNUMAD_WORKER, beside this program, or where it is installed. */
static const char *worker_program(char *buf, size_t len)
{
	const char *env = getenv("VNUMAD_WORKER");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", buf, len - 16);
	if (n > 0) {
		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash) {
			strcpy(slash + 1, "vnumad-worker");
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return VNUMAD_WORKER;
}

/*
 * The environment of the launcher and its workers: none, but what a
 * sanitizer build needs so that its runtime neither catches the plugin's
 * signals (the daemon reports them) nor looks for leaks at exit.
 */
static char *const worker_env[] = {
#if defined(__SANITIZE_ADDRESS__)
	"ASAN_OPTIONS=detect_leaks=0:handle_segv=0:handle_abort=0:handle_sigbus=0:"
	"handle_sigfpe=0:handle_sigill=0:allow_user_segv_handler=1",
#endif
	NULL,
};

/*
 * The launcher's side of the fork: the worker user, no privileges, socket
 * at WIRE_FD_CTL, nothing else open, then exec. Between fork and exec of a
 * threaded process only async-signal-safe calls; the user switch is done
 * with raw system calls, for this thread alone (the only one in the child).
 */
static void __attribute__((noreturn)) launcher_exec(int sock, int null, const char *path,
						     bool drop, uid_t uid, gid_t gid,
						     int maxfd)
{
	char *const argv[] = { "vnumad-worker", "launcher", NULL };
	const char *step = "dup2";
	int fd = fcntl(sock, F_DUPFD_CLOEXEC, 10);

	if (fd < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    dup2(fd, WIRE_FD_CTL) < 0)
		goto fail;
	step = "close_range";
	if (syscall(SYS_close_range, WIRE_FD_CTL + 1, ~0U, 0) < 0)
		for (int i = WIRE_FD_CTL + 1; i < maxfd; i++)
			close(i);
	if (drop) {
		step = "setgroups";
		if (syscall(SYS_setgroups, 0, NULL) < 0)
			goto fail;
		step = "setresgid";
		if (syscall(SYS_setresgid, gid, gid, gid) < 0)
			goto fail;
		step = "setresuid";
		if (syscall(SYS_setresuid, uid, uid, uid) < 0)
			goto fail;
	}
	step = "no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	step = "exec";
	execve(path, argv, worker_env);
fail:
	wire_send_text(WIRE_FD_CTL, WIRE_FAILED, errno, 0, step);
	_exit(127);
}

/* Starts the launcher as the worker user; 0 or a negative errno with why. */
static int launcher_start(const struct vn_config *cfg, char *why, size_t len)
{
	char prog[PATH_MAX], text[WIRE_TEXT_MAX];
	const char *path = worker_program(prog, sizeof(prog));
	bool drop = geteuid() == 0;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct wire_hdr h;
	int sv[2], null, r;
	long maxfd = sysconf(_SC_OPEN_MAX);
	pid_t pid;

	if (drop) {
		struct passwd *pw = getpwnam(cfg->worker_user);

		if (!pw) {
			snprintf(why, len, "no user '%s' to run the policy worker as "
				 "([policy] worker_user)", cfg->worker_user);
			return -ENOENT;
		}
		if (pw->pw_uid == 0) {
			snprintf(why, len, "[policy] worker_user '%s' is root: the worker "
				 "must run unprivileged", cfg->worker_user);
			return -EPERM;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (access(path, X_OK) < 0) {
		snprintf(why, len, "%.512s: %s (the policy worker program)", path,
			 strerror(errno));
		return -ENOENT;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, len, "socketpair: %s", strerror(errno));
		return -errno;
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0) {
		r = -errno;
		snprintf(why, len, "/dev/null: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	pid = fork();
	if (pid == 0)
		launcher_exec(sv[1], null, path, drop, uid, gid,
			      maxfd > 0 && maxfd < 65536 ? (int)maxfd : 65536);
	r = pid < 0 ? -errno : 0;
	close(sv[1]);
	close(null);
	if (r < 0) {
		snprintf(why, len, "fork: %s", strerror(-r));
		close(sv[0]);
		return r;
	}
	launcher.ctl = sv[0];
	launcher.pid = pid;
	if (drop)
		snprintf(launcher.user, sizeof(launcher.user), "user %.50s", cfg->worker_user);
	else
		snprintf(launcher.user, sizeof(launcher.user), "vnumad's user (uid %u)",
			 (unsigned)uid);
	r = launcher_wait(WIRE_READY, 0, now_monotonic() + LAUNCH_WAIT, &h, text,
			  sizeof(text));
	if (r < 0) {
		snprintf(why, len, "cannot start %.512s%s%.64s: %.256s%s", path,
			 drop ? " as user " : "", drop ? cfg->worker_user : "", text,
			 drop && r == -EPERM ? " (switching users needs CAP_SETUID and "
			 "CAP_SETGID: vnumad has them at start-up only, when its unit's "
			 "CapabilityBoundingSet allows them)" : "");
		if (launcher.pid)
			kill(launcher.pid, SIGKILL);
		launcher_gone();
		return r;
	}
	log_debug("policy launcher %s started (pid %d, uid %u)", path, (int)pid,
		  (unsigned)uid);
	return 0;
}

void worker_shutdown(void)
{
	launcher_gone();
}

/* How the last worker ended, in words, from what it said and its status. */
static void describe_end(struct vn_worker *w, pid_t pid, char *buf, size_t len)
{
	int status = -1;
	char *name;

	for (int i = 0; i < launcher.nexits; i++)
		if (launcher.exits[i].pid == pid) {
			status = launcher.exits[i].status;
			launcher.exits[i] = launcher.exits[--launcher.nexits];
			break;
		}
	if (w->refused >= 0) {
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)w->refused);
		snprintf(buf, len, "its worker (pid %d) called %s (system call %ld), which "
			 "a policy may not", (int)pid, name ? name : "an unknown call",
			 w->refused);
		free(name);
	} else if (w->failed[0]) {
		snprintf(buf, len, "its worker (pid %d) could not go on: %.400s", (int)pid,
			 w->failed);
	} else if (status >= 0 && WIFSIGNALED(status)) {
		snprintf(buf, len, "its worker (pid %d) was killed by signal %d (%s)",
			 (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else if (status >= 0 && WIFEXITED(status)) {
		snprintf(buf, len, "its worker (pid %d) exited with status %d",
			 (int)pid, WEXITSTATUS(status));
	} else {
		snprintf(buf, len, "its worker (pid %d) ended", (int)pid);
	}
}

/* Waits a little for the launcher's word on how pid ended. */
static void await_exit(pid_t pid)
{
	struct wire_hdr h;
	char why[256];
	double until = now_monotonic() + REAP_WAIT;

	for (int i = 0; i < launcher.nexits; i++)
		if (launcher.exits[i].pid == pid)
			return;
	if (launcher.ctl >= 0)
		launcher_wait(WIRE_EXITED, pid, until, &h, why, sizeof(why));
}

/* Kills the running worker and forgets it; `why` gets how it ended. */
static void worker_kill(struct vn_worker *w, char *why, size_t len)
{
	pid_t pid = w->pid;

	snprintf(why, len, "no worker");
	if (!pid)
		return;
	if (launcher.ctl >= 0)
		wire_send(launcher.ctl, WIRE_KILL, 0, pid, 0, NULL, 0, NULL, 0);
	close(w->chan);
	w->chan = -1;
	if (w->out)
		munmap((void *)w->out, sizeof(*w->out) * (size_t)w->cap);
	w->out = NULL;
	w->pid = 0;
	await_exit(pid);
	describe_end(w, pid, why, len);
}

/*
 * Waits for one message of `type` from the worker (seq too, when not 0),
 * logging its lines on the way. Returns WORKER_OK, or why it did not come.
 */
static int expect(struct vn_worker *w, uint32_t type, uint64_t seq, double until,
		  struct wire_hdr *h, char *text, size_t tlen, char *why, size_t len)
{
	size_t n;
	int r;

	for (;;) {
		r = recv_until(w->chan, until, h, text, tlen - 1, &n);
		if (r == -ETIMEDOUT) {
			snprintf(why, len, "no answer within its deadline of %s",
				 fmt_duration(text, tlen, type == WIRE_ANSWER ?
					      w->deadline : w->start_deadline));
			return WORKER_LOST_DEADLINE;
		}
		if (r <= 0 && r != -EPROTO)
			return WORKER_LOST_CRASH;	/* closed: it ended */
		if (r == -EPROTO) {
			snprintf(why, len, "its worker sent a malformed message");
			return WORKER_LOST_MALFORMED;
		}
		text[n] = '\0';
		switch (h->type) {
		case WIRE_LOG:
			plugin_line(w, (long)h->a, text);
			continue;
		case WIRE_SYSCALL:
			w->refused = (long)h->a;
			continue;
		case WIRE_FAILED:
			snprintf(w->failed, sizeof(w->failed), "%s", text);
			w->failed_errno = (int)h->a;
			continue;
		}
		if (h->type == type && (!seq || h->seq == seq)) {
			w->got = n;
			return WORKER_OK;
		}
		snprintf(why, len, "its worker sent message %u where %u was due",
			 h->type, type);
		return WORKER_LOST_MALFORMED;
	}
}

/*
 * After a failed exchange: kills the worker and puts in why what explains
 * the failure best (how it ended, when it ended by itself). Returns the
 * failure, a refused system call once the worker said so.
 */
static int worker_fail(struct vn_worker *w, int lost, char *why, size_t len)
{
	char end[512];
	pid_t pid = w->pid;

	if (!pid)
		return lost;
	worker_kill(w, end, sizeof(end));
	if (w->refused >= 0)
		lost = WORKER_LOST_SYSCALL;
	if (lost == WORKER_LOST_CRASH || lost == WORKER_LOST_SYSCALL)
		snprintf(why, len, "%s", end);
	else
		snprintf(why + strlen(why), len - strlen(why), "; its worker (pid %d) "
			 "was killed", (int)pid);
	return lost;
}

/* A sealed memfd of n bytes: neither side can shrink it under the other. */
static int sealed_memfd(const char *name, size_t n)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)n) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Grows the view's memfd to hold n bytes; 0 or -errno. */
static int view_grow(struct vn_worker *w, size_t n)
{
	size_t want = MAX((size_t)VIEW_MIN, w->view_len);
	void *m;

	while (want < n)
		want *= 2;
	if (w->view_fd < 0) {
		w->view_fd = memfd_create("vnumad-view", MFD_CLOEXEC);
		if (w->view_fd < 0)
			return -errno;
	}
	if (ftruncate(w->view_fd, (off_t)want) < 0)
		return -errno;
	m = w->view ? mremap(w->view, w->view_len, want, MREMAP_MAYMOVE) :
		      mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, w->view_fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	w->view = m;
	w->view_len = want;
	return 0;
}

/*
 * Forks a worker through the launcher, waits for its HELLO, sends init.
 * Returns WORKER_OK; else why (and how the worker ended) is in why.
 */
static int worker_spawn(struct vn_worker *w, const struct vn_config *cfg,
			int *init_ret, char *why, size_t len)
{
	struct wire_spawn sp = { .memory = w->memory, .out_cap = (uint32_t)w->cap };
	char path[64], text[WIRE_TEXT_MAX];
	int view_ro = -1, out = -1, sv[2] = { -1, -1 }, fds[WIRE_NR_FDS];
	struct wire_hdr h;
	double until;
	int r, lost;
	void *m;

	*init_ret = 0;
	w->refused = -1;
	w->failed[0] = '\0';
	if (launcher.ctl < 0 && cfg && launcher_start(cfg, why, len) < 0)
		return WORKER_LOST_START;
	if (launcher.ctl < 0) {
		snprintf(why, len, "the policy launcher is gone and cannot be started "
			 "again without privileges: restart vnumad");
		return WORKER_LOST_START;
	}
	if (!w->view && view_grow(w, VIEW_MIN) < 0) {
		snprintf(why, len, "view memfd: %s", strerror(errno));
		return WORKER_LOST_START;
	}
	lost = WORKER_LOST_START;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", w->view_fd);
	view_ro = open(path, O_RDONLY | O_CLOEXEC);
	out = sealed_memfd("vnumad-proposals", sizeof(*w->out) * (size_t)w->cap);
	if (view_ro < 0 || out < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, len, "worker descriptors: %s", strerror(errno));
		goto out;
	}
	m = mmap(NULL, sizeof(*w->out) * (size_t)w->cap, PROT_READ, MAP_SHARED, out, 0);
	if (m == MAP_FAILED) {
		snprintf(why, len, "proposal memfd: %s", strerror(errno));
		goto out;
	}
	w->out = m;
	fds[0] = sv[1];
	fds[1] = view_ro;
	fds[2] = out;
	/* the file the daemon checked and loaded, never opened again by name */
	fds[3] = w->plugin;
	r = wire_send(launcher.ctl, WIRE_SPAWN, 0, 0, 0, &sp, sizeof(sp), fds, WIRE_NR_FDS);
	if (r == 0)
		r = launcher_wait(WIRE_SPAWNED, 0, now_monotonic() + LAUNCH_WAIT, &h,
				  why, len);
	else
		snprintf(why, len, "the policy launcher: %s", strerror(-r));
	if (r < 0) {
		munmap(m, sizeof(*w->out) * (size_t)w->cap);
		w->out = NULL;
		goto out;
	}
	w->pid = (pid_t)h.a;
	w->chan = sv[0];
	sv[0] = -1;
	until = now_monotonic() + w->start_deadline;
	lost = expect(w, WIRE_HELLO, 0, until, &h, text, sizeof(text), why, len);
	if (lost == WORKER_OK && strcmp(text, w->name) != 0) {
		snprintf(why, len, "its worker loaded policy '%.64s', not %s", text, w->name);
		lost = WORKER_LOST_MALFORMED;
	}
	if (lost == WORKER_OK) {
		r = wire_send(w->chan, WIRE_INIT, 0, 0, 0, w->init, w->init_len, NULL, 0);
		lost = r < 0 ? WORKER_LOST_CRASH :
			expect(w, WIRE_INIT_DONE, 0, until, &h, text, sizeof(text), why, len);
		if (lost == WORKER_OK)
			*init_ret = (int)h.a;
	}
	if (lost != WORKER_OK)
		lost = worker_fail(w, lost, why, len);
out:
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	if (view_ro >= 0)
		close(view_ro);
	if (out >= 0)
		close(out);
	return lost;
}

/* The WIRE_INIT payload of cfg's option values. */
static void build_init(struct vn_worker *w, const struct vn_config *cfg)
{
	int n = cfg->nr_policy_values;
	size_t fixed = sizeof(struct wire_init) + sizeof(struct wire_value) * (size_t)n;
	size_t total = fixed;
	struct wire_init *wi;
	uint8_t *p;

	for (int i = 0; i < n; i++)
		if (cfg->policy_values[i].str)
			total += strlen(cfg->policy_values[i].str) + 1;
	wi = xcalloc(1, total);
	wi->seed = cfg->policy_seed;
	wi->nr_values = (uint32_t)n;
	p = (uint8_t *)wi + fixed;
	for (int i = 0; i < n; i++) {
		const struct vnumad_value *v = &cfg->policy_values[i];

		wi->v[i].num = v->num;
		wi->v[i].boolean = v->boolean;
		if (v->str) {
			size_t l = strlen(v->str) + 1;

			memcpy(p, v->str, l);
			wi->v[i].str = (uint32_t)(p - (uint8_t *)wi);
			p += l;
		}
	}
	w->init = wi;
	w->init_len = total;
}

static void worker_free(struct vn_worker *w)
{
	if (w->view)
		munmap(w->view, w->view_len);
	if (w->view_fd >= 0)
		close(w->view_fd);
	if (w->plugin >= 0)
		close(w->plugin);
	free(w->init);
	free(w->path);
	free(w->name);
	free(w);
}

int worker_describe(const struct vn_config *cfg, int plugin, void **desc, size_t *len,
		    char *why, size_t wlen)
{
	struct wire_spawn sp = { .memory = (uint64_t)cfg->worker_memory };
	char name[] = "(being described)";
	struct vn_worker w = { .name = name, .chan = -1, .view_fd = -1, .plugin = -1,
			       .refused = -1 };
	bool mine = launcher.ctl < 0;
	int sv[2], fds[2], r, lost;
	struct wire_hdr h;
	uint8_t *buf;

	*desc = NULL;
	*len = 0;
	w.deadline = MIN(cfg->worker_deadline * cfg->interval, WORKER_DEADLINE_MAX);
	w.start_deadline = MIN(MAX(1.0, w.deadline), WORKER_DEADLINE_MAX);
	if (mine && launcher_start(cfg, why, wlen) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, wlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	fds[0] = sv[1];
	fds[1] = plugin;
	r = wire_send(launcher.ctl, WIRE_DESCRIBE, 0, 0, 0, &sp, sizeof(sp), fds, 2);
	close(sv[1]);
	if (r == 0)
		r = launcher_wait(WIRE_SPAWNED, 0, now_monotonic() + LAUNCH_WAIT, &h,
				  why, wlen);
	else
		snprintf(why, wlen, "the policy launcher: %s", strerror(-r));
	if (r < 0) {
		close(sv[0]);
		goto fail;
	}
	w.pid = (pid_t)h.a;
	w.chan = sv[0];
	buf = xmalloc(WIRE_MSG_MAX + 1);
	lost = expect(&w, WIRE_DESCRIPTION, 0, now_monotonic() + w.start_deadline, &h,
		      (char *)buf, WIRE_MSG_MAX + 1, why, wlen);
	if (lost == WORKER_LOST_DEADLINE) {
		snprintf(why, wlen, "no description from its worker within %s",
			 fmt_duration((char *)buf, 64, w.start_deadline));
		lost = worker_fail(&w, lost, why, wlen);
	} else if (lost != WORKER_OK) {
		lost = worker_fail(&w, lost, why, wlen);
		/* what the describer said before it gave up, when it did */
		if (w.failed[0] && lost == WORKER_LOST_CRASH)
			clean_text(why, wlen, w.failed);
	} else {
		worker_kill(&w, why, wlen);
	}
	end_of_tick_logs(&w);
	if (mine)
		launcher_gone();
	if (lost != WORKER_OK) {
		free(buf);
		return -1;
	}
	*desc = buf;
	*len = w.got;
	return 0;
fail:
	if (mine)
		launcher_gone();
	return -1;
}

int worker_open(struct vn_policy_rt *rt, const struct vn_config *cfg)
{
	struct vn_worker *w = xcalloc(1, sizeof(*w));
	char why[1024];
	int lost, r;

	w->path = xstrdup(cfg->policy_path);
	w->name = xstrdup(rt->desc->name);
	w->deadline = MIN(cfg->worker_deadline * cfg->interval, WORKER_DEADLINE_MAX);
	w->start_deadline = MIN(MAX(1.0, w->deadline), WORKER_DEADLINE_MAX);
	w->memory = cfg->worker_memory;
	w->cap = rt->cap;
	w->chan = -1;
	w->view_fd = -1;
	w->refused = -1;
	w->plugin = fcntl(plugin_fd(cfg->policy_handle), F_DUPFD_CLOEXEC, 3);
	if (w->plugin < 0) {
		r = -errno;
		log_warnx("policy %s: %s: %s", w->name, w->path, strerror(errno));
		worker_free(w);
		return r;
	}
	if (8 * (uint64_t)cfg->nr_policy_values + 4096 > WIRE_MSG_MAX / 2) {
		log_warnx("policy %s: too many options for its worker", w->name);
		worker_free(w);
		return -E2BIG;
	}
	build_init(w, cfg);
	if (w->init_len > WIRE_MSG_MAX - sizeof(struct wire_hdr)) {
		log_warnx("policy %s: its option values are too long for its worker", w->name);
		worker_free(w);
		return -E2BIG;
	}
	lost = worker_spawn(w, cfg, &r, why, sizeof(why));
	end_of_tick_logs(w);
	if (lost != WORKER_OK) {
		log_warnx("policy %s: %s", w->name, why);
		worker_free(w);
		return -ECHILD;
	}
	if (r < 0) {
		/* fini runs after a failed init, as in process */
		log_warnx("policy %s: init failed: %s", w->name, strerror(-r));
		rt->worker = w;
		worker_close(rt, VNUMAD_EXIT_INIT_FAILED, r, "its init failed");
		return r;
	}
	rt->worker = w;
	log_info("policy %s runs in worker pid %d as %s, deadline %s", w->name,
		 (int)w->pid, launcher.user, fmt_duration(why, sizeof(why), w->deadline));
	return 0;
}

void worker_close(struct vn_policy_rt *rt, enum vnumad_exit_kind kind, int error,
		  const char *reason)
{
	struct vn_worker *w = rt->worker;
	struct wire_hdr h;
	char text[WIRE_TEXT_MAX], why[512];
	union {
		struct wire_fini f;
		char buf[sizeof(struct wire_fini) + WIRE_TEXT_MAX];
	} fin;
	size_t n = strnlen(reason ? reason : "", WIRE_TEXT_MAX - 1);

	if (!w)
		return;
	fin.f.kind = kind;
	fin.f.error = error;
	memcpy(fin.f.reason, reason ? reason : "", n);
	fin.f.reason[n] = '\0';
	if (w->pid && wire_send(w->chan, WIRE_FINI, 0, 0, 0, &fin,
				sizeof(fin.f) + n + 1, NULL, 0) == 0 &&
	    expect(w, WIRE_FINI_DONE, 0, now_monotonic() + w->start_deadline, &h,
		   text, sizeof(text), why, sizeof(why)) != WORKER_OK)
		log_warnx("policy %s: fini: %s", w->name, why);
	end_of_tick_logs(w);
	worker_kill(w, why, sizeof(why));
	worker_free(w);
	rt->worker = NULL;
}

/* One tick through the worker; WORKER_OK with out filled, or why not. */
static int exchange(struct vn_worker *w, const struct vnumad_view *v,
		    struct vnumad_out *out, char *why, size_t len)
{
	char text[WIRE_TEXT_MAX];
	struct wire_hdr h;
	uint64_t seq = ++w->seq;
	size_t need = wire_view_pack(w->view, w->view_len, v, seq);
	int lost;

	if (need > w->view_len) {
		int r = view_grow(w, need);

		if (r < 0) {
			snprintf(why, len, "cannot grow the view to %zu bytes: %s", need,
				 strerror(-r));
			return WORKER_LOST_START;
		}
		wire_view_pack(w->view, w->view_len, v, seq);
	}
	if (wire_send(w->chan, WIRE_TICK, seq, (int64_t)w->view_len, 0, NULL, 0,
		      NULL, 0) < 0)
		lost = WORKER_LOST_CRASH;
	else
		lost = expect(w, WIRE_ANSWER, seq, now_monotonic() + w->deadline, &h,
			      text, sizeof(text), why, len);
	if (lost != WORKER_OK)
		return lost;
	if (h.b < 0 || h.b > w->cap) {
		snprintf(why, len, "returned %lld proposals in a buffer of %d",
			 (long long)h.b, w->cap);
		return WORKER_LOST_MALFORMED;
	}
	/* a copy first: the worker may still write into its buffer */
	memcpy(out->buf, w->out, sizeof(*out->buf) * (size_t)h.b);
	out->len = (int)h.b;
	if (h.a < 0) {
		out->len = 0;
		snprintf(why, len, "%s", strerror(h.a < -4095 ? EIO : (int)-h.a));
		return WORKER_LOST_ERROR;
	}
	return WORKER_OK;
}

int worker_stage(struct vn_core *c, const struct vnumad_view *v,
		 struct vnumad_out *out)
{
	struct vn_policy_rt *rt = &c->policy;
	struct vn_worker *w = rt->worker;
	uint64_t tick = c->host.tick;
	char why[1024], after[128] = "";
	double t0 = now_monotonic();
	int lost = WORKER_OK, r;

	out->len = 0;
	/* backing off after a failure: the worker is not asked this tick */
	if (tick < w->retry_tick)
		return rt->disabled ? worker_fallback(c, v, out) : -1;
	if (!w->pid) {
		lost = worker_spawn(w, &c->cfg, &r, why, sizeof(why));
		if (lost == WORKER_OK && r < 0) {
			char end[512];

			worker_kill(w, end, sizeof(end));
			snprintf(why, sizeof(why), "init failed: %s", strerror(-r));
			lost = WORKER_LOST_START;
		}
		if (lost == WORKER_OK) {
			w->restarts++;
			log_info("policy %s: worker restarted (pid %d)", w->name, (int)w->pid);
		}
	}
	if (lost == WORKER_OK)
		lost = exchange(w, v, out, why, sizeof(why));
	w->tick_seconds = now_monotonic() - t0;
	if (lost == WORKER_OK) {
		end_of_tick_logs(w);
		if (rt->disabled)
			log_info("policy %s answers again: its proposals are used again",
				 w->name);
		rt->disabled = false;
		rt->failures = 0;
		return 0;
	}
	out->len = 0;
	if (lost != WORKER_LOST_ERROR && lost != WORKER_LOST_START)
		lost = worker_fail(w, lost, why, sizeof(why));
	end_of_tick_logs(w);
	w->lost[lost]++;
	rt->failures++;
	/* 1, 2, 4 ... WORKER_BACKOFF_MAX ticks: a broken plugin costs little */
	w->retry_tick = tick + MIN(1ull << MIN(rt->failures - 1, 30), WORKER_BACKOFF_MAX);
	snprintf(after, sizeof(after), "; %s at tick %llu", w->pid ? "asked again" :
		 "a new worker", (unsigned long long)w->retry_tick);
	snprintf(w->last, sizeof(w->last), "tick %llu: %.480s", (unsigned long long)tick,
		 why);
	log_warnx("policy %s: tick failed: %s (%d in a row)%s", w->name, why,
		  rt->failures, after);
	if (rt->failures >= POLICY_MAX_FAILURES && !rt->disabled) {
		rt->disabled = true;
		log_warnx("policy %s disabled after %d failed ticks; the built-in default "
			  "(%s) advises in its place, nothing is applied, until the policy "
			  "answers again", w->name, rt->failures, VN_DEFAULT_POLICY);
	}
	return rt->disabled ? worker_fallback(c, v, out) : -1;
}

int worker_fallback(struct vn_core *c, const struct vnumad_view *v,
		    struct vnumad_out *out)
{
	struct vn_policy_rt *rt = &c->policy;
	const struct vnumad_policy *d = policy_builtin(VN_DEFAULT_POLICY);
	struct vn_fallback *fb = rt->fallback;
	int r;

	out->len = 0;
	if (!d || d == rt->desc)
		return -1;	/* the default itself failed: nothing to advise with */
	if (!fb) {
		struct vnumad_init_args args = {
			.size = sizeof(args), .seed = rt->seed, .log = plugin_log,
		};
		int n = 0;

		fb = rt->fallback = xcalloc(1, sizeof(*fb));
		fb->desc = d;
		for (const struct vnumad_option *o = d->options; o && o->name; o++)
			n++;
		fb->values = xcalloc((size_t)n + 1, sizeof(*fb->values));
		for (int i = 0; i < n; i++) {
			const char *why;

			config_option_value(&d->options[i], d->options[i].def,
					    &fb->values[i], &why);
		}
		args.values = fb->values;
		r = d->init ? d->init(&fb->priv, &args) : 0;
		fb->inited = true;
		if (r < 0) {
			log_warnx("policy %s: init of the fallback failed: %s", d->name,
				  strerror(-r));
			fb->broken = true;
		}
	}
	if (fb->broken)
		return -1;
	r = d->tick(fb->priv, v, out);
	if (r < 0 || out->len < 0 || out->len > out->cap) {
		out->len = 0;
		return -1;
	}
	return 0;
}

void worker_fallback_close(struct vn_policy_rt *rt)
{
	struct vn_fallback *fb = rt->fallback;

	if (!fb)
		return;
	if (fb->inited && fb->desc->fini)
		fb->desc->fini(fb->priv);
	free(fb->values);
	free(fb);
	rt->fallback = NULL;
}

void worker_info(const struct vn_policy_rt *rt, struct worker_info *i)
{
	const struct vn_worker *w = rt->worker;
	const struct vnumad_policy *d = policy_builtin(VN_DEFAULT_POLICY);

	memset(i, 0, sizeof(*i));
	i->last = "";
	if (rt->disabled && d && d != rt->desc)
		i->fallback = d->name;
	if (!w)
		return;
	i->isolated = true;
	i->pid = w->pid;
	i->restarts = w->restarts;
	memcpy(i->lost, w->lost, sizeof(i->lost));
	i->retry_tick = w->pid ? 0 : w->retry_tick;
	i->tick_seconds = w->tick_seconds;
	i->last = w->last;
}
