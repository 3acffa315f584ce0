// SPDX-License-Identifier: MIT
/*
 * The worker's sandbox: resource limits and a seccomp filter, built with
 * libseccomp (which knows every architecture's system-call numbers, checks
 * the architecture of each call, and compiles argument tests to BPF; a
 * hand-written BPF program would have to redo all three, per architecture).
 *
 * A policy is a pure function of the view, so the strict filter allows what
 * the C library needs to run such a function, and nothing that reaches the
 * outside: no open, no socket, no fork or thread, no exec, no kill of anyone
 * but the worker itself, no ptrace, no ioctl (refused with ENOTTY, as on a
 * file that is no terminal, so that stdio's checks go on), no memory that
 * is both writable and executable. The channel to the daemon is the only
 * descriptor that leads anywhere; stdin, stdout and stderr are /dev/null.
 *
 * The loading filter comes first and lets the dynamic loader open and map
 * the plugin and its libraries read-only: the plugin's constructors run
 * under it, without sockets, writes to files or new processes. The strict
 * filter is stacked over it once the plugin is loaded; a call must pass both.
 * A call outside them traps: the SIGSYS handler tells the daemon its number
 * and the worker exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "serve.h"
#include "wire.h"

int sandbox_early(char *why, size_t len)
{
	struct rlimit zero = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &zero) < 0 || setrlimit(RLIMIT_FSIZE, &zero) < 0) {
		snprintf(why, len, "setrlimit: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int sandbox_memory(uint64_t memory, char *why, size_t len)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long pages = 0;
	struct rlimit rl;
	int ok;

	if (!f) {
		snprintf(why, len, "/proc/self/statm: %s", strerror(errno));
		return -1;
	}
	ok = fscanf(f, "%llu", &pages) == 1;
	fclose(f);
	if (!ok) {
		snprintf(why, len, "/proc/self/statm: unreadable");
		return -1;
	}
	/* what is mapped now (the plugin, the C library, a sanitizer's shadow) */
	rl.rlim_cur = rl.rlim_max = (rlim_t)(pages * (uint64_t)sysconf(_SC_PAGESIZE) + memory);
	if (setrlimit(RLIMIT_AS, &rl) < 0) {
		snprintf(why, len, "setrlimit(RLIMIT_AS): %s", strerror(errno));
		return -1;
	}
	/* non-dumpable: no core, and other processes of this user cannot ptrace it */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		snprintf(why, len, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * SIGSYS from the filter: says which call, then exits. Only system calls
 * the filter allows, and async-signal-safe ones.
 */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct wire_hdr h = {
		.magic = WIRE_MAGIC, .type = WIRE_SYSCALL, .a = si->si_syscall,
	};
	ssize_t n;

	(void)sig;
	(void)uc;
	n = write(WIRE_FD_CHAN, &h, sizeof(h));
	(void)n;
	_exit(WIRE_EXIT_SYSCALL);
}

/* Allows a call; a name this libseccomp does not know is no error. */
static int allow(scmp_filter_ctx ctx, const char *name, unsigned n,
		 const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);
}

/* Calls a pure function of the view may make, through the C library. */
static const char *const strict_calls[] = {
	/* the channel, and stdio on /dev/null */
	"read", "write", "readv", "writev", "recvmsg", "sendmsg", "lseek", "fstat",
	/* memory (mmap and mprotect: below, never executable) */
	"brk", "munmap", "mremap", "madvise",
	/* the C library's locks and its time, sleeping (the deadline kills a sleeper) */
	"futex", "sched_yield", "nanosleep", "clock_nanosleep", "clock_gettime",
	"clock_getres", "gettimeofday", "time",
	/* who am I, and signals to itself: raise(), abort() */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"exit", "exit_group",
	/* random numbers, and what qsort and sysconf ask about the machine */
	"getrandom", "sysinfo", "uname", "sched_getaffinity", "getrlimit", "rseq",
};

/* What the dynamic loader needs on top, while the plugin is loaded. */
static const char *const loading_calls[] = {
	"close", "pread64", "newfstatat", "statx", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getcwd", "fcntl",
	/* installing the strict filter over this one */
	"seccomp",
};

int sandbox_filter(enum sandbox_stage stage, char *why, size_t len)
{
	scmp_filter_ctx ctx;
	struct sigaction sa;
	pid_t self = getpid();
	int r = 0;

	/* the handler once, with the first filter: the filters refuse sigaction */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (stage == SANDBOX_LOADING && sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(why, len, "sigaction(SIGSYS): %s", strerror(errno));
		return -1;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		snprintf(why, len, "seccomp_init failed");
		return -1;
	}
	for (size_t i = 0; r == 0 && i < sizeof(strict_calls) / sizeof(*strict_calls); i++)
		r = allow(ctx, strict_calls[i], 0, NULL);
	if (r == 0) {
		/* signals to itself only: raise(), abort(), pthread_kill() */
		struct scmp_arg_cmp me = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self);
		/* getrlimit through prlimit64(0, ..., NULL, old): reading only
		 * (the worker sets its own limits while loading) */
		struct scmp_arg_cmp get[2] = { SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0) };
		/* fstat through fstatat(fd, "", AT_EMPTY_PATH): no path looked up */
		struct scmp_arg_cmp empty = SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
						    AT_EMPTY_PATH);

		r = allow(ctx, "tgkill", 1, &me);
		if (r == 0)
			r = allow(ctx, "prlimit64", stage == SANDBOX_STRICT ? 2 : 0, get);
		if (r == 0 && stage == SANDBOX_STRICT)
			r = allow(ctx, "newfstatat", 1, &empty);
	}
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0);
	if (r == 0 && stage == SANDBOX_STRICT) {
		struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);

		r = allow(ctx, "mmap", 1, &noexec);
		if (r == 0)
			r = allow(ctx, "mprotect", 1, &noexec);
	}
	if (r == 0 && stage == SANDBOX_LOADING) {
		/* read-only opens: no creating, truncating, appending or O_TMPFILE */
		struct scmp_arg_cmp rdonly = SCMP_A2(SCMP_CMP_MASKED_EQ,
			O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE, O_RDONLY);
		/* prctl for the sandbox alone: no_new_privs and the filter */
		struct scmp_arg_cmp nnp = SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS);
		struct scmp_arg_cmp sec = SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP);
		struct scmp_arg_cmp getsec = SCMP_A0(SCMP_CMP_EQ, PR_GET_SECCOMP);
		/* and non-dumpable, never dumpable again */
		struct scmp_arg_cmp nodump[2] = { SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE),
						  SCMP_A1(SCMP_CMP_EQ, 0) };

		for (size_t i = 0; r == 0 && i < sizeof(loading_calls) / sizeof(*loading_calls); i++)
			r = allow(ctx, loading_calls[i], 0, NULL);
		if (r == 0)
			r = allow(ctx, "openat", 1, &rdonly);
		if (r == 0)
			r = allow(ctx, "mmap", 0, NULL);
		if (r == 0)
			r = allow(ctx, "mprotect", 0, NULL);
		if (r == 0)
			r = allow(ctx, "prctl", 1, &nnp);
		if (r == 0)
			r = allow(ctx, "prctl", 1, &sec);
		if (r == 0)
			r = allow(ctx, "prctl", 1, &getsec);
		if (r == 0)
			r = allow(ctx, "prctl", 2, nodump);
	}
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		snprintf(why, len, "seccomp filter (%s stage): %s",
			 stage == SANDBOX_STRICT ? "strict" : "loading", strerror(-r));
		return -1;
	}
	return 0;
}
