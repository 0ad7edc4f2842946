/* The Prometheus text exposition format, version 0.0.4: what
 * `quarantinectl metrics` answers, for node_exporter's textfile collector
 * or any scraper.  Only the types 0.0.4 has (counter, gauge, histogram):
 * the textfile collector refuses OpenMetrics-only ones (info, stateset,
 * `# EOF`, `_created`).
 *
 * A family is its `# HELP` and `# TYPE` lines, written once, then its
 * samples; the caller writes each family whole before the next, as the
 * format requires.  Names are ours (static text, [a-zA-Z_:][a-zA-Z0-9_:]*)
 * and carry their unit: `_seconds`, `_total` for counters.  Label values
 * come from the configuration and the system (rule and interface names)
 * and are escaped here.
 *
 * Also the latency histogram the daemon keeps for nftables transactions
 * and state saves: fixed buckets, counted as they happen (no allocation,
 * no sorting), rendered cumulative. */
#ifndef QD_PROM_H
#define QD_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Upper bounds of the buckets, 50 us to 1 s, about three per decade: a
 * transaction of a few elements takes a few hundred microseconds, a
 * large batch or a busy kernel tens of milliseconds, and a save of a
 * large registry up to a second; anything slower is in +Inf alone. */
#define PROM_NBUCKETS 14
extern const usec_t prom_bucket_us[PROM_NBUCKETS];

struct prom_hist {
	uint64_t n[PROM_NBUCKETS + 1]; /* per bucket, not cumulative; last: above 1 s */
	uint64_t count;
	usec_t sum_us;
};

/* Counts one observation of us microseconds. */
void prom_hist_add(struct prom_hist *h, usec_t us);

/* Where the text goes: write() gets successive pieces (len > 0, not
 * NUL-terminated); arg is the sink's own. */
struct prom_sink {
	void (*write)(void *arg, const char *data, size_t len);
	void *arg;
};

enum prom_type {
	PROM_COUNTER = 0,
	PROM_GAUGE,
	PROM_HISTOGRAM,
};

/* A family's `# HELP` (help escaped) and `# TYPE` lines. */
void prom_family(const struct prom_sink *s, const char *name, enum prom_type type,
		 const char *help);
/* One sample `name{label="value"} v`; label NULL: no label.  value is
 * escaped (backslash, double quote, line feed). */
void prom_u64(const struct prom_sink *s, const char *name, const char *label, const char *value,
	      uint64_t v);
/* The same with a value in seconds, from microseconds (six decimals:
 * exact). */
void prom_seconds(const struct prom_sink *s, const char *name, const char *label, const char *value,
		  usec_t us);
/* A whole histogram family in seconds: HELP, TYPE, name_bucket{le=...}
 * cumulative up to le="+Inf", name_sum and name_count. */
void prom_histogram(const struct prom_sink *s, const char *name, const char *help,
		    const struct prom_hist *h);

#endif
