/* The report as CSV for spreadsheets: one row per host of the registry,
 * with the columns of `quarantinectl list --wide` (WHERE split into its
 * inventory fields), the group the report counts it under, and its first
 * incident with that incident's patient zero.  RFC 4180: CRLF line ends,
 * a header row, fields quoted when they must be. */
#include "report_model.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "incident.h"

void ro_csv_field(struct rout *o, const char *s)
{
	/* A spreadsheet evaluates a cell that starts with one of these as a
	 * formula (OWASP "CSV injection"); names, owners and reasons come
	 * from operators and inventories, not from us. */
	bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	bool quote = formula || strpbrk(s, ",\"\r\n") != NULL;

	if (quote)
		ro_write(o, "\"", 1);
	if (formula)
		ro_write(o, "'", 1);
	for (const char *c = s; *c; c++) {
		if (*c == '"')
			ro_write(o, "\"\"", 2);
		else
			ro_write(o, c, 1);
	}
	if (quote)
		ro_write(o, "\"", 1);
}

static void csv_ts(struct rout *o, usec_t ts)
{
	char b[32];

	if (ts)
		ro_csv_field(o, event_format_ts(ts, b));
}

static const char *const columns[] = {
	"host",	    "state",	    "level",	   "since",	   "expires",
	"rules",    "mac",	    "name",	   "department",   "floor",
	"owner",    "group",	    "reason",	   "first_detect", "blocked_at",
	"incident", "patient_zero", "infected_by", "sources",
};

static void csv_row(struct rout *o, const struct report_model *m, const struct hostrec *r)
{
	const struct inv_entry *v = engine_inventory(m->e, r);
	const struct incident *in = r->nhits ? report_incident(m, r->hits[0].incident) : NULL;
	enum level lv = report_block_level(r, m->offline);
	char a[ADDR_STRLEN], mb[MAC_STRLEN], b[32];

	ro_csv_field(o, addr_ntop(report_rec_name(r), a));
	ro_puts(o, ",");
	ro_csv_field(o, host_state_name(report_count_state(r, m->offline)));
	ro_puts(o, ",");
	ro_csv_field(o, level_name(lv));
	ro_puts(o, ",");
	csv_ts(o, r->changed_us);
	ro_puts(o, ",");
	/* As in list --wide: no block, nothing expires; a block without a
	 * TTL never does.  Offline nothing was put in force to expire. */
	if (lv != LEVEL_NONE && !m->offline)
		ro_csv_field(o, r->expires_us ? event_format_ts(r->expires_us, b) : "never");
	ro_puts(o, ",");
	/* The rules, space-separated: one field that a filter can match.
	 * An outside rule's name is its tool's ("av:W32/Worm, \"X\""):
	 * the field is quoted as RFC 4180 says, the leading quote always
	 * (a spreadsheet reads one field however many rules). */
	if (r->nhits) {
		char rules[HOSTDB_MAX_HITS * (OUTSIDE_RULE_MAX + 1)];
		size_t n = 0;

		for (unsigned i = 0; i < MIN(r->nhits, HOSTDB_MAX_HITS) && n < sizeof(rules); i++)
			n += (size_t)snprintf(rules + n, sizeof(rules) - n, "%s%s", i ? " " : "",
					      report_rule_name(m->e, r->hits[i].rule));
		ro_puts(o, "\"");
		/* Not a formula either (ro_csv_field()): another gateway's
		 * rule names are its own. */
		if (strchr("=+-@", rules[0]) && rules[0])
			ro_puts(o, "'");
		for (const char *c = rules; *c; c++)
			ro_write(o, *c == '"' ? "\"\"" : c, *c == '"' ? 2 : 1);
		ro_puts(o, "\"");
	}
	ro_puts(o, ",");
	if (hostrec_is_machine(r))
		ro_csv_field(o, mac_ntop(r->id.b, mb));
	ro_puts(o, ",");
	ro_csv_field(o, v ? v->name : "");
	ro_puts(o, ",");
	ro_csv_field(o, v ? v->department : "");
	ro_puts(o, ",");
	ro_csv_field(o, v ? v->floor : "");
	ro_puts(o, ",");
	ro_csv_field(o, v ? v->owner : "");
	ro_puts(o, ",");
	ro_csv_field(o, report_host_group(m, r));
	ro_puts(o, ",");
	ro_csv_field(o, r->reason);
	ro_puts(o, ",");
	csv_ts(o, r->first_detect_us);
	ro_puts(o, ",");
	csv_ts(o, report_block_ts(r, m->offline));
	ro_puts(o, ",");
	if (in) {
		ro_printf(o, "%u,", in->id);
		ro_csv_field(o, addr_ntop(&in->patient_zero, a));
	} else {
		ro_puts(o, ",");
	}
	ro_puts(o, ",");
	/* Who infected it (quarantined(8), Incidents), by its name. */
	if (r->infected_by.family) {
		struct qaddr by;

		engine_infected_name(m->e, r, &by);
		ro_csv_field(o, addr_ntop(&by, a));
	}
	/* Where its detections came from (a column added last: scripts that
	 * read the columns by position keep working). */
	{
		char src[96];

		report_sources(r, src, sizeof(src));
		ro_puts(o, ",");
		ro_csv_field(o, src);
	}
	ro_puts(o, "\r\n");
}

static void csv_header(struct rout *o)
{
	for (unsigned i = 0; i < ARRAY_SIZE(columns); i++) {
		if (i)
			ro_puts(o, ",");
		ro_puts(o, columns[i]);
	}
	ro_puts(o, "\r\n");
}

/* Slots of the registry looked at per call of report_csv_next() at most,
 * so that few rows to write still means bounded work. */
#define CSV_SLOTS_PER_CALL 16384

/* In slot order, as the streamed form: the file is the same either way. */
void report_render_csv(struct rout *o, const struct report_model *m)
{
	const struct hostdb *db = &m->e->hosts;
	const struct hostrec *r;
	uint32_t pos = 0;

	csv_header(o);
	while ((r = hostdb_seek(db, &pos, UINT32_MAX)))
		if (!r->merged)
			csv_row(o, m, r);
}

struct report_csv_cursor {
	struct report_model m; /* e, offline and now: all a row needs */
	bool header_done;
	uint32_t pos; /* the next registry slot */
	struct rout o;
};

struct report_csv_cursor *report_csv_new(const struct engine *e, bool offline, usec_t now)
{
	struct report_csv_cursor *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->m.e = e;
	c->m.offline = offline;
	c->m.now = now;
	return c;
}

bool report_csv_next(struct report_csv_cursor *c, const struct report_sink *out, unsigned max_rows)
{
	const struct hostdb *db = &c->m.e->hosts;
	uint32_t budget = CSV_SLOTS_PER_CALL;
	bool more = true;

	c->o.s = out;
	if (!c->header_done) {
		csv_header(&c->o);
		c->header_done = true;
	}
	for (unsigned rows = 0; rows < max_rows && budget > 0;) {
		uint32_t before = c->pos;
		const struct hostrec *r = hostdb_seek(db, &c->pos, budget);

		budget -= MIN(budget, c->pos - before);
		if (!r) {
			more = !hostdb_seek_done(db, c->pos);
			break;
		}
		if (!r->merged) {
			csv_row(&c->o, &c->m, r);
			rows++;
		}
	}
	ro_flush(&c->o);
	return more;
}

void report_csv_free(struct report_csv_cursor *c)
{
	free(c);
}
