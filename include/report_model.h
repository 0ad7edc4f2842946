/* The report's model, shared by the modules that render it (report.c:
 * text and JSON; report_html.c; report_csv.c) and by nothing else: the
 * report is computed once (report_render()) and rendered one of four
 * ways, so that every format shows the same figures. */
#ifndef QD_REPORT_MODEL_H
#define QD_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "report.h"
#include "types.h"

/* ---- output: a buffer in front of the sink ---- */

struct rout {
	const struct report_sink *s;
	size_t len;
	char buf[1024];
};

void ro_flush(struct rout *o);
void ro_write(struct rout *o, const char *p, size_t n);
void ro_puts(struct rout *o, const char *s);
/* For short, bounded pieces (numbers, fixed words, a tag with its
 * figures): a piece longer than 511 bytes would be cut short.  Text from
 * outside goes through ro_puts(), ro_html() or ro_csv_field(). */
__attribute__((format(printf, 2, 3))) void ro_printf(struct rout *o, const char *fmt, ...);

/* s as HTML text or attribute value: & < > " ' as references, control
 * characters and bytes that are not well-formed UTF-8 as '?', so that an
 * inventory name, an owner or a reason can never be markup. */
void ro_html(struct rout *o, const char *s);
/* s as one CSV field (RFC 4180): quoted when it holds a comma, a quote,
 * CR or LF, quotes doubled; a field starting with = + - @, TAB or CR gets
 * a leading ' so that a spreadsheet does not take it as a formula. */
void ro_csv_field(struct rout *o, const char *s);

/* ---- the model ---- */

struct group {
	const char *name; /* borrowed from the conf, or a constant */
	unsigned n[HOST_STATE_COUNT];
	unsigned total;
};

struct grouping {
	unsigned nslots;
	unsigned *map;	      /* slot -> group */
	struct group *groups; /* ngroups, sorted for display (most hosts first) */
	unsigned ngroups;
	struct group totals; /* every host once */
};

/* One host of an open incident: when the incident's rule flagged it. */
struct tl_entry {
	usec_t ts;
	unsigned id;
	const struct hostrec *rec;
};

/* The hosts of every open incident, by incident and then time. */
struct timeline {
	struct tl_entry *v;
	/* Who infected v[i]: its infector's index counted from the first
	 * entry of v[i]'s incident (report_tl_run()), a host of the same
	 * incident (report_infectors()), or -1. */
	long *infector;
	size_t n;
};

struct report_model {
	const struct engine *e; /* borrowed */
	enum report_by by;
	bool offline;
	usec_t now;
	struct grouping g;
	struct timeline t;
};

/* Groups every host of e by by, as the report does; g is the caller's,
 * freed with report_grouping_fini().  0, or -ENOMEM. */
int report_grouping_build(struct grouping *g, const struct engine *e, enum report_by by,
			  bool offline);
void report_grouping_fini(struct grouping *g);

/* The state a host counts under: offline, the level policy decided. */
enum host_state report_count_state(const struct hostrec *r, bool offline);
/* The level a host is blocked at now: in force live, decided offline. */
enum level report_block_level(const struct hostrec *r, bool offline);
/* When the host was first blocked (live: its first action with a level;
 * offline: its first detection that decided one); 0 when never or when
 * its capped history lost it. */
usec_t report_block_ts(const struct hostrec *r, bool offline);
/* The address (or a machine's MAC) a report names the host by. */
const struct qaddr *report_rec_name(const struct hostrec *r);
/* Count of the timeline entries of the incident starting at t->v[i]. */
size_t report_tl_run(const struct timeline *t, size_t i);
/* The incident of that id still in the ring; NULL when it left. */
const struct incident *report_incident(const struct report_model *m, unsigned id);
/* The group a host counts under (by department, floor or owner: its
 * inventory entry's field; by rule, its first rule's), "(none)" when it
 * has none. */
const char *report_host_group(const struct report_model *m, const struct hostrec *r);
/* The name of a rule index: the current config's, an outside rule's
 * (outside.h), "(unknown)" when a reload removed it. */
const char *report_rule_name(const struct engine *e, unsigned rule);
/* The sources of r's detections, each once, space-separated ("self
 * antivirus"); "" when none. */
void report_sources(const struct hostrec *r, char *buf, size_t len);

/* Who infected whom among one incident's hosts recs[0..n): ret[i] is the
 * index j of the host recs[i]->infected_by names, or -1 when it names
 * none of them (nobody known, or a host outside the incident): the
 * edges of the incident's spread.  0, or -ENOMEM. */
int report_infectors(const struct hostrec *const *recs, size_t n, long *ret);

/* The renderers (report_html.c, report_csv.c); both write whole
 * documents.  The HTML one allocates what it sorts and the groupings by
 * the other fields first: 0, or -ENOMEM with nothing written. */
int report_render_html(struct rout *o, const struct report_model *m);
void report_render_csv(struct rout *o, const struct report_model *m);

#endif
