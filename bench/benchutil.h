/* Shared helpers of the benchmark programs: clocks, medians, memory
 * figures and timing a child process.  Not part of the daemon. */
#ifndef QD_BENCHUTIL_H
#define QD_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC, and the calling thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), in nanoseconds.  On a shared machine the CPU
 * time is the steadier figure: it leaves out the time other processes
 * held the CPU. */
uint64_t bench_now_ns(void);
uint64_t bench_cpu_ns(void);

/* Median, 90th percentile, minimum and maximum of n samples (v is sorted
 * in place). */
struct bench_summary {
	uint64_t median, p90, min, max;
	unsigned n;
};
void bench_summarize(uint64_t *v, unsigned n, struct bench_summary *ret);
/* (max - min) / median in percent: how much the samples varied. */
double bench_spread_pct(const struct bench_summary *s);

/* Resident set size now (from /proc/self/statm) and the peak so far
 * (getrusage ru_maxrss), in KiB. */
long bench_rss_kib(void);
long bench_peak_rss_kib(void);

/* What bench_run() measured of a child process. */
struct bench_proc {
	uint64_t wall_ns; /* from just before fork() to the end of wait4() */
	uint64_t cpu_ns;  /* the child's user + system time */
	long maxrss_kib;  /* the child's peak RSS: at least the caller's RSS at the fork */
};

/* Runs argv[0] (a path) with argv, stdin from /dev/null, stdout and stderr
 * to /dev/null (stdout to out_path when not NULL), and waits for it.
 * Returns the exit status (0..255), 256 + the signal that killed it, or
 * -errno when it could not be started. */
int bench_run(char *const argv[], const char *out_path, struct bench_proc *ret);

/* Sleeps ms milliseconds. */
void bench_sleep_ms(unsigned ms);

/* Formats n with thousands separators ("1,234,567") into buf. */
const char *bench_group(uint64_t n, char *buf, size_t len);

#endif
