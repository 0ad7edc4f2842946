/* The Prometheus text exposition format 0.0.4 (prom.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "prom.h"

const usec_t prom_bucket_us[PROM_NBUCKETS] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

/* The same bounds as the format's le values, in seconds. */
static const char *const bucket_le[PROM_NBUCKETS] = {
	"5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01",	 "0.025",  "0.05",    "0.1",	"0.25",	 "0.5",	   "1",
};

void prom_hist_add(struct prom_hist *h, usec_t us)
{
	unsigned i = 0;

	while (i < PROM_NBUCKETS && us > prom_bucket_us[i])
		i++;
	h->n[i]++;
	h->count++;
	h->sum_us += us;
}

static void put(const struct prom_sink *s, const char *p, size_t n)
{
	if (n)
		s->write(s->arg, p, n);
}

static void puts_(const struct prom_sink *s, const char *p)
{
	put(s, p, strlen(p));
}

__attribute__((format(printf, 2, 3))) static void putf(const struct prom_sink *s, const char *fmt,
						       ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(s, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* HELP text escapes backslash and line feed; a label value also the
 * double quote.  Everything else, UTF-8 included, goes as it is. */
static void escaped(const struct prom_sink *s, const char *v, bool quote)
{
	const char *run = v;

	for (; *v; v++) {
		const char *esc = NULL;

		if (*v == '\\')
			esc = "\\\\";
		else if (*v == '\n')
			esc = "\\n";
		else if (*v == '"' && quote)
			esc = "\\\"";
		if (!esc)
			continue;
		put(s, run, (size_t)(v - run));
		puts_(s, esc);
		run = v + 1;
	}
	put(s, run, (size_t)(v - run));
}

void prom_family(const struct prom_sink *s, const char *name, enum prom_type type, const char *help)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};

	putf(s, "# HELP %s ", name);
	escaped(s, help, false);
	putf(s, "\n# TYPE %s %s\n", name, types[type]);
}

static void sample_name(const struct prom_sink *s, const char *name, const char *label,
			const char *value)
{
	puts_(s, name);
	if (!label)
		return;
	putf(s, "{%s=\"", label);
	escaped(s, value ? value : "", true);
	puts_(s, "\"}");
}

void prom_u64(const struct prom_sink *s, const char *name, const char *label, const char *value,
	      uint64_t v)
{
	sample_name(s, name, label, value);
	putf(s, " %llu\n", (unsigned long long)v);
}

void prom_seconds(const struct prom_sink *s, const char *name, const char *label, const char *value,
		  usec_t us)
{
	sample_name(s, name, label, value);
	putf(s, " %llu.%06llu\n", (unsigned long long)(us / USEC_PER_SEC),
	     (unsigned long long)(us % USEC_PER_SEC));
}

void prom_histogram(const struct prom_sink *s, const char *name, const char *help,
		    const struct prom_hist *h)
{
	uint64_t cum = 0;

	prom_family(s, name, PROM_HISTOGRAM, help);
	for (unsigned i = 0; i < PROM_NBUCKETS; i++) {
		cum += h->n[i];
		putf(s, "%s_bucket{le=\"%s\"} %llu\n", name, bucket_le[i], (unsigned long long)cum);
	}
	/* The +Inf bucket is the count itself, whatever the buckets say. */
	putf(s, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	putf(s, "%s_sum %llu.%06llu\n", name, (unsigned long long)(h->sum_us / USEC_PER_SEC),
	     (unsigned long long)(h->sum_us % USEC_PER_SEC));
	putf(s, "%s_count %llu\n", name, (unsigned long long)h->count);
}
