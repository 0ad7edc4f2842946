/* The incident report (SPEC section 2, `quarantinectl report` and
 * `quarantined -r FILE --report`): how many hosts are in each state per
 * department, floor, owner or rule, and the open incidents with their
 * patient zero and timeline.  Rendered as aligned text, one JSON object,
 * an HTML page or CSV, through a sink, so that the same report goes to the control
 * socket or to stdout. */
#ifndef QD_REPORT_H
#define QD_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "types.h"

enum report_by {
	REPORT_BY_DEPARTMENT = 0,
	REPORT_BY_FLOOR,
	REPORT_BY_OWNER,
	REPORT_BY_RULE,
};

/* "department", "floor", "owner", "rule". */
const char *report_by_name(enum report_by by);
/* 0, or -EINVAL for anything but the four names. */
int report_by_parse(const char *s, enum report_by *ret);

enum report_format {
	REPORT_TEXT = 0,
	REPORT_JSON,
	REPORT_HTML,
	REPORT_CSV,
};

/* "text", "json", "html", "csv". */
const char *report_format_name(enum report_format f);
/* 0, or -EINVAL for anything but the four names. */
int report_format_parse(const char *s, enum report_format *ret);

/* Where the report goes.  write() is called with successive pieces of the
 * report (len > 0, not NUL-terminated); the report ends with a newline.
 * arg is the sink's own. */
struct report_sink {
	void (*write)(void *arg, const char *data, size_t len);
	void *arg;
};

/* Renders the report of e's registry and incidents as of now (the report's
 * time: the wall clock live, the last packet's time offline) to out; e and
 * out are borrowed.
 *
 * Groups: each host counts under the field of its most specific inventory
 * entry, "(none)" when it has none; by rule, under every rule it hit
 * ("(none)" for hosts that hit none: manual or adopted).  The totals count
 * each host once.  offline (`quarantined -r`, where nothing is enforced):
 * hosts count by the level policy decided (watch: watched, contain:
 * contained, isolate: isolated, none: detected) rather than by their state.
 *
 * Incidents: those still in e's ring with at least one host neither
 * released nor cleaned, oldest first, each with its timeline: its hosts in
 * the order the rule flagged them.
 *
 * Allocates, per call, the group table (bounded by the inventory entries or
 * the rules) and the timeline of the open incidents (one entry per host and
 * open incident: bounded by the registry, limits.max_blocked), and frees
 * both.
 *
 * Formats: aligned text; one JSON object; one self-contained HTML page
 * (report_html.c: inline CSS and SVG, no script, its figures also in
 * data-* attributes); CSV, one row per host (report_csv.c).  All four
 * render the same model.  0, or -ENOMEM (nothing written), -EINVAL (bad
 * by or format). */
int report_render(const struct engine *e, enum report_by by, enum report_format fmt, bool offline,
		  usec_t now, const struct report_sink *out);

/* The CSV report a few rows at a time, for the control socket's streamed
 * answers (control.h): a row per host grows with the registry (11.7 MB at
 * 100,000 hosts), too much to render in one turn of the daemon's loop.
 * The same rows as report_render()'s CSV, in the registry's slot order
 * (hostdb_seek()): a host in the registry for the whole walk gets exactly
 * one row, one added or removed meanwhile may or may not.  e is borrowed
 * for the cursor's life; NULL when out of memory. */
struct report_csv_cursor;
struct report_csv_cursor *report_csv_new(const struct engine *e, bool offline, usec_t now);
/* Writes the header first, then the rows of at most max_rows hosts (and
 * looks at a bounded number of registry slots) to out; true while more is
 * to come, false once the last is written. */
bool report_csv_next(struct report_csv_cursor *c, const struct report_sink *out, unsigned max_rows);
void report_csv_free(struct report_csv_cursor *c);

#endif
