/* The sandbox of a process that parses hostile input; see sandbox.h. */
#include "sandbox.h"

#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "types.h"

/* Far above what a list of a hundred system calls compiles to. */
#define SANDBOX_MAX_INSNS 4096

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif

#ifdef SANDBOX_SANITIZED
/* For a sanitizer's report, from the runtimes' sources: it reads
 * /proc/self/maps, symbolizes and writes to stderr, so that a finding in
 * the sensor is printed rather than turned into a SIGSYS.  LeakSanitizer's
 * check at exit (quarantined -r ends with it) stops the process with a
 * tracer thread (clone, ptrace, wait4, getdents of /proc/self/task,
 * rt_sigprocmask, futex; fcntl for its report).  In normal operation a
 * sanitizer-built sensor makes no call beyond the sensor's own list
 * (measured: bench/sensor-syscalls.sh build-asan). */
static const char *const sanitizer_extra[] = {
	"open",		  "openat",	 "close",	"fstat",	"newfstatat",
	"lseek",	  "mmap",	 "munmap",	"mprotect",	"madvise",
	"readlink",	  "sched_yield", "sigaltstack", "rt_sigaction", "getpid",
	"gettid",	  "prctl",	 "write",	"pread64",	"sched_getaffinity",
	"rt_sigprocmask", "clone",	 "ptrace",	"wait4",	"getppid",
	"getdents64",	  "getdents",	 "futex",	"fcntl",	"exit",
};
#endif

const char *const *sandbox_sanitizer_extra(unsigned *ret_n)
{
#ifdef SANDBOX_SANITIZED
	*ret_n = ARRAY_SIZE(sanitizer_extra);
	return sanitizer_extra;
#else
	*ret_n = 0;
	return NULL;
#endif
}

/* No capability left in any set: the process holds nothing that a
 * system call the filter allows could use. */
static int drop_all_caps(char *err, size_t errlen)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		set_err(err, errlen, "clearing the ambient set: %s", strerror(errno));
		return -errno;
	}
	if (syscall(SYS_capset, &h, d) < 0) {
		set_err(err, errlen, "capset: %s", strerror(errno));
		return -errno;
	}
	/* Check rather than trust. */
	if (syscall(SYS_capget, &h, d) < 0) {
		set_err(err, errlen, "capget: %s", strerror(errno));
		return -errno;
	}
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable) {
			set_err(err, errlen, "capabilities left after dropping them all");
			return -EPERM;
		}
	return 0;
}

/* The compiled filter: compile() writes it while libseccomp's structures
 * exist, load() loads it after they are freed, so that nothing of
 * libseccomp (whose free() may unmap memory) runs under the filter it
 * made. */
static struct sock_filter prog[SANDBOX_MAX_INSNS];
static unsigned short prog_len;

static int compile(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	ssize_t n;
	int fd, r;

	fd = memfd_create("quarantined-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "memfd_create: %s", strerror(errno));
		return -errno;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0) {
		set_err(err, errlen, "compiling the seccomp filter: %s", strerror(-r));
		close(fd);
		return r;
	}
	n = pread(fd, prog, sizeof(prog), 0);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0 || n == 0 || (size_t)n % sizeof(prog[0]) || (size_t)n == sizeof(prog)) {
		set_err(err, errlen, "reading the compiled seccomp filter back: %s",
			r < 0 ? strerror(-r) : "bad length");
		return r < 0 ? r : -EINVAL;
	}
	prog_len = (unsigned short)((size_t)n / sizeof(prog[0]));
	return 0;
}

static int load(char *err, size_t errlen)
{
	struct sock_fprog fprog = {.len = prog_len, .filter = prog};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0) {
		set_err(err, errlen, "loading the seccomp filter: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Adds the rules of cond, each name's conditions together in one rule. */
static int add_conds(scmp_filter_ctx ctx, const struct sandbox_cond *cond, unsigned ncond,
		     char *err, size_t errlen)
{
	for (unsigned i = 0; i < ncond; i++) {
		struct scmp_arg_cmp cmp[6];
		unsigned ncmp = 0;
		int nr, r;

		if (i > 0 && strcmp(cond[i].name, cond[i - 1].name) == 0)
			continue; /* added with the first of its name */
		nr = seccomp_syscall_resolve_name(cond[i].name);
		if (nr == __NR_SCMP_ERROR) {
			set_err(err, errlen, "unknown system call \"%s\"", cond[i].name);
			return -EINVAL;
		}
		for (unsigned j = i; j < ncond && strcmp(cond[j].name, cond[i].name) == 0; j++) {
			if (cond[j].arg > 5 || ncmp == ARRAY_SIZE(cmp)) {
				set_err(err, errlen, "bad condition on %s", cond[i].name);
				return -EINVAL;
			}
			cmp[ncmp++] = SCMP_CMP(cond[j].arg, SCMP_CMP_MASKED_EQ, cond[j].mask,
					       cond[j].value);
		}
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, ncmp, cmp);
		if (r < 0) {
			set_err(err, errlen, "allowing %s: %s", cond[i].name, strerror(-r));
			return r;
		}
	}
	return 0;
}

int sandbox_enter(const char *const *allow, unsigned n, const struct sandbox_cond *cond,
		  unsigned ncond, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

	r = drop_all_caps(err, errlen);
	if (r < 0)
		return r;
	/* Required for an unprivileged process to load a filter, and no
	 * exec may give anything back. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		set_err(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -errno;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		/* libseccomp asks seccomp(2) what the kernel can do first. */
		set_err(err, errlen,
			"seccomp_init failed (under systemd, the unit's SystemCallFilter must "
			"allow seccomp)");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n && r == 0; i++) {
		int nr = seccomp_syscall_resolve_name(allow[i]);

		if (nr == __NR_SCMP_ERROR) {
			set_err(err, errlen, "unknown system call \"%s\"", allow[i]);
			r = -EINVAL;
		} else if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
			set_err(err, errlen, "allowing %s: %s", allow[i], strerror(-r));
		}
	}
	if (r == 0)
		r = add_conds(ctx, cond, ncond, err, errlen);
	/* Compiled while libseccomp's structures exist; loaded after they are
	 * freed (see load()). */
	if (r == 0)
		r = compile(ctx, err, errlen);
	seccomp_release(ctx);
	return r < 0 ? r : load(err, errlen);
}
