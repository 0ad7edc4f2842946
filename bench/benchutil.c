/* Shared helpers of the benchmark programs; see benchutil.h. */
#include "benchutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_summarize(uint64_t *v, unsigned n, struct bench_summary *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	ret->n = n;
	ret->min = v[0];
	ret->max = v[n - 1];
	ret->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	ret->p90 = v[(n * 9 + 9) / 10 - 1];
}

double bench_spread_pct(const struct bench_summary *s)
{
	return s->median ? 100.0 * (double)(s->max - s->min) / (double)s->median : 0;
}

long bench_rss_kib(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

long bench_peak_rss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u;
}

int bench_run(char *const argv[], const char *out_path, struct bench_proc *ret)
{
	struct rusage ru;
	uint64_t t0;
	pid_t pid;
	int status;

	memset(ret, 0, sizeof(*ret));
	/* fork(), not posix_spawn(): a vfork()ed child shares the parent's
	 * memory until the exec and inherits its peak RSS, which would then be
	 * reported as the child's.  A forked child starts from the parent's
	 * current RSS, so the callers spawn while they are small. */
	t0 = bench_now_ns();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = open(out_path ? out_path : "/dev/null",
			       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int err = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return -errno;
	ret->wall_ns = bench_now_ns() - t0;
	ret->cpu_ns = tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
	ret->maxrss_kib = ru.ru_maxrss;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 256 + WTERMSIG(status);
}

void bench_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

const char *bench_group(uint64_t n, char *buf, size_t len)
{
	char digits[32];
	size_t nd, o = 0;

	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
	nd = strlen(digits);
	for (size_t i = 0; i < nd && o + 2 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}
