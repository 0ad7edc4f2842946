/* The incident report: hosts per group and state, and the open incidents
 * with their timelines.  Everything is computed first (so that a failed
 * allocation writes nothing), then rendered through the sink. */
#include "report.h"
#include "report_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define NONE_NAME    "(none)"
#define UNKNOWN_NAME "(unknown)"
#define OUTSIDE_NAME "(from outside)"
/* Widest group name the text table pads to; longer names push the row. */
#define MAX_NAME_COL 40

static const char *const by_names[] = {
	[REPORT_BY_DEPARTMENT] = "department",
	[REPORT_BY_FLOOR] = "floor",
	[REPORT_BY_OWNER] = "owner",
	[REPORT_BY_RULE] = "rule",
};

const char *report_by_name(enum report_by by)
{
	return (unsigned)by < ARRAY_SIZE(by_names) ? by_names[by] : "?";
}

static const char *const format_names[] = {
	[REPORT_TEXT] = "text",
	[REPORT_JSON] = "json",
	[REPORT_HTML] = "html",
	[REPORT_CSV] = "csv",
};

const char *report_format_name(enum report_format f)
{
	return (unsigned)f < ARRAY_SIZE(format_names) ? format_names[f] : "?";
}

int report_format_parse(const char *s, enum report_format *ret)
{
	for (unsigned i = 0; i < ARRAY_SIZE(format_names); i++)
		if (strcmp(s, format_names[i]) == 0) {
			*ret = (enum report_format)i;
			return 0;
		}
	return -EINVAL;
}

int report_by_parse(const char *s, enum report_by *ret)
{
	for (unsigned i = 0; i < ARRAY_SIZE(by_names); i++)
		if (strcmp(s, by_names[i]) == 0) {
			*ret = (enum report_by)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- output: a buffer in front of the sink ---- */

void ro_flush(struct rout *o)
{
	if (o->len)
		o->s->write(o->s->arg, o->buf, o->len);
	o->len = 0;
}

void ro_write(struct rout *o, const char *p, size_t n)
{
	while (n) {
		size_t k;

		if (o->len == sizeof(o->buf))
			ro_flush(o);
		k = MIN(n, sizeof(o->buf) - o->len);
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
	}
}

void ro_puts(struct rout *o, const char *s)
{
	ro_write(o, s, strlen(s));
}

void ro_printf(struct rout *o, const char *fmt, ...)
{
	/* The longest piece is an HTML tag with its figures (report_html.c:
	 * about 240 bytes with 10-digit counts); twice that for room. */
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		ro_write(o, tmp, MIN((size_t)n, sizeof(tmp) - 1));
}

/* Columns a string takes in a UTF-8 terminal (one per code point). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if ((*c & 0xc0) != 0x80)
			w++;
	return w;
}

static void ro_spaces(struct rout *o, size_t n)
{
	static const char sp[] = "                                ";

	while (n) {
		size_t k = MIN(n, sizeof(sp) - 1);

		ro_write(o, sp, k);
		n -= k;
	}
}

/* A string for a terminal: control characters (from a config file or an
 * operator) become '?', so a report cannot move the cursor. */
static void ro_text(struct rout *o, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char ch = *c < 0x20 || *c == 0x7f ? '?' : (char)*c;

		ro_write(o, &ch, 1);
	}
}

/* s, left-aligned in width columns. */
static void ro_left(struct rout *o, const char *s, size_t width)
{
	size_t w = text_width(s);

	ro_text(o, s);
	if (w < width)
		ro_spaces(o, width - w);
}

static void ro_json_str(struct rout *o, const char *s)
{
	ro_write(o, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			char esc[2] = {'\\', (char)*c};

			ro_write(o, esc, 2);
		} else if (*c < 0x20) {
			ro_printf(o, "\\u%04x", *c);
		} else {
			ro_write(o, (const char *)c, 1);
		}
	}
	ro_write(o, "\"", 1);
}

/* ,"key":"value" (or "key":"value" first in an object). */
static void ro_json_kv(struct rout *o, bool comma, const char *key, const char *value)
{
	ro_printf(o, "%s\"%s\":", comma ? "," : "", key);
	ro_json_str(o, value);
}

/* A timestamp; 0 (never) is null. */
static void ro_json_ts(struct rout *o, bool comma, const char *key, usec_t ts)
{
	char b[32];

	if (!ts) {
		ro_printf(o, "%s\"%s\":null", comma ? "," : "", key);
		return;
	}
	ro_json_kv(o, comma, key, event_format_ts(ts, b));
}

static const char *ts_text(usec_t ts, char buf[32])
{
	if (!ts) {
		strcpy(buf, "-");
		return buf;
	}
	return event_format_ts(ts, buf);
}

/* ---- what a host counts as ---- */

/* A host as a report names it: its address, or a machine's MAC. */
const struct qaddr *report_rec_name(const struct hostrec *r)
{
	return r->addr.family ? &r->addr : &r->id;
}

/* Offline nothing is enforced, so the level policy decided says what
 * would have been done. */
enum host_state report_count_state(const struct hostrec *r, bool offline)
{
	if (offline)
		return r->decided == LEVEL_NONE ? HOST_DETECTED
						: host_state_for_level((enum level)r->decided);
	return r->state < HOST_STATE_COUNT ? (enum host_state)r->state : HOST_DETECTED;
}

/* Released and cleaned hosts are done with; any other keeps its incidents
 * open. */
static bool host_open(const struct hostrec *r)
{
	return r->state != HOST_RELEASED && r->state != HOST_CLEANED;
}

enum level report_block_level(const struct hostrec *r, bool offline)
{
	unsigned l = offline ? r->decided : r->level;

	return l <= LEVEL_ISOLATE ? (enum level)l : LEVEL_NONE;
}

usec_t report_block_ts(const struct hostrec *r, bool offline)
{
	enum hist_kind k = offline ? HIST_DETECT : HIST_ACTION;

	for (unsigned i = 0; i < r->nhist; i++)
		if (r->hist[i].kind == k && r->hist[i].level != LEVEL_NONE)
			return r->hist[i].ts;
	return 0;
}

const struct incident *report_incident(const struct report_model *m, unsigned id)
{
	return incident_lookup(&m->e->incidents, id, NULL);
}

static const char *inv_field(const struct inv_entry *v, enum report_by by)
{
	const char *s;

	switch (by) {
	case REPORT_BY_DEPARTMENT:
		s = v->department;
		break;
	case REPORT_BY_FLOOR:
		s = v->floor;
		break;
	case REPORT_BY_OWNER:
		s = v->owner;
		break;
	default:
		s = "";
		break;
	}
	return s[0] ? s : NONE_NAME;
}

/* Rule slots: one per detect rule index, then one for indexes the current
 * config does not know (a reload removed the rule), then "(none)" for
 * hosts that hit no rule (operator's or adopted). */
#define RULE_SLOT_UNKNOWN DETECT_NRULES
#define RULE_SLOT_NONE	  (DETECT_NRULES + 1)
#define RULE_SLOT_OUTSIDE (DETECT_NRULES + 2)
#define RULE_SLOTS	  (DETECT_NRULES + 3)

static unsigned rule_slot(const struct conf *c, unsigned rule)
{
	if (rule == DETECT_RULE_TRW || rule < c->nrules)
		return rule;
	/* Detections from outside (outside.h) have rules of their tools'
	 * naming, as many as the registry holds: one group for them all. */
	return outside_rule_index(rule) ? RULE_SLOT_OUTSIDE : RULE_SLOT_UNKNOWN;
}

static const char *rule_slot_name(const struct conf *c, unsigned slot)
{
	if (slot == DETECT_RULE_TRW)
		return DETECT_TRW_NAME;
	if (slot < c->nrules)
		return c->rules[slot].name;
	if (slot == RULE_SLOT_OUTSIDE)
		return OUTSIDE_NAME;
	return slot == RULE_SLOT_NONE ? NONE_NAME : UNKNOWN_NAME;
}

const char *report_rule_name(const struct engine *e, unsigned rule)
{
	const char *n = engine_rule_name(e, rule);

	/* A rule of the configuration or from outside by its own name; one
	 * a reload removed, unknown. */
	return n && (rule == DETECT_RULE_TRW || rule < e->c->nrules || outside_rule_index(rule))
		       ? n
		       : UNKNOWN_NAME;
}

void report_sources(const struct hostrec *r, char *buf, size_t len)
{
	size_t n = 0;
	unsigned seen = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < MIN(r->nhits, HOSTDB_MAX_HITS) && n < len; i++) {
		unsigned bit = 1u << (r->hits[i].source % SOURCE_COUNT);

		if (seen & bit)
			continue;
		seen |= bit;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "",
				      det_source_name((enum det_source)r->hits[i].source));
	}
}

const char *report_host_group(const struct report_model *m, const struct hostrec *r)
{
	const struct inv_entry *v;

	if (m->by == REPORT_BY_RULE)
		return r->nhits ? rule_slot_name(m->e->c, rule_slot(m->e->c, r->hits[0].rule))
				: NONE_NAME;
	v = engine_inventory(m->e, r);
	return v ? inv_field(v, m->by) : NONE_NAME;
}

/* ---- grouping ---- */

struct slotkey {
	const char *name;
	unsigned slot;
};

static int slotkey_cmp(const void *a, const void *b)
{
	const struct slotkey *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int group_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->name, y->name);
}

void report_grouping_fini(struct grouping *g)
{
	free(g->map);
	free(g->groups);
	memset(g, 0, sizeof(*g));
}

/* Slots are what a host is looked up by (an inventory entry, or a rule
 * index); slots with the same name form one group. */
static int grouping_init(struct grouping *g, const struct conf *c, enum report_by by)
{
	const struct inventory *inv = &c->inventory;
	struct slotkey *keys;

	memset(g, 0, sizeof(*g));
	g->nslots = by == REPORT_BY_RULE ? RULE_SLOTS : inv->n + 1;
	keys = calloc(g->nslots, sizeof(*keys));
	g->map = calloc(g->nslots, sizeof(*g->map));
	g->groups = calloc(g->nslots, sizeof(*g->groups));
	if (!keys || !g->map || !g->groups) {
		free(keys);
		report_grouping_fini(g);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < g->nslots; i++) {
		keys[i].slot = i;
		if (by == REPORT_BY_RULE)
			keys[i].name = rule_slot_name(c, i);
		else
			keys[i].name = i < inv->n ? inv_field(&inv->v[i], by) : NONE_NAME;
	}
	qsort(keys, g->nslots, sizeof(*keys), slotkey_cmp);
	for (unsigned i = 0; i < g->nslots; i++) {
		if (i == 0 || strcmp(keys[i].name, keys[i - 1].name) != 0)
			g->groups[g->ngroups++].name = keys[i].name;
		g->map[keys[i].slot] = g->ngroups - 1;
	}
	free(keys);
	return 0;
}

static void group_add(struct group *gr, enum host_state s)
{
	gr->n[s]++;
	gr->total++;
}

static void grouping_count(struct grouping *g, const struct engine *e, enum report_by by,
			   bool offline)
{
	const struct conf *c = e->c;
	const struct inventory *inv = &c->inventory;

	for (const struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r)) {
		enum host_state s = report_count_state(r, offline);

		if (r->merged)
			continue; /* counted with the machine that took its address */
		group_add(&g->totals, s);
		if (by != REPORT_BY_RULE) {
			const struct inv_entry *v = engine_inventory(e, r);
			unsigned slot = v && v >= inv->v && v < inv->v + inv->n
						? (unsigned)(v - inv->v)
						: inv->n;

			group_add(&g->groups[g->map[slot]], s);
			continue;
		}
		/* Under every rule hit, once per group even if two rule
		 * indexes share a name. */
		unsigned seen[HOSTDB_MAX_HITS], nseen = 0;
		unsigned nhits = MIN(r->nhits, HOSTDB_MAX_HITS);

		for (unsigned i = 0; i < nhits; i++) {
			unsigned grp = g->map[rule_slot(c, r->hits[i].rule)];
			bool dup = false;

			for (unsigned j = 0; j < nseen; j++)
				dup = dup || seen[j] == grp;
			if (dup)
				continue;
			seen[nseen++] = grp;
			group_add(&g->groups[grp], s);
		}
		if (nseen == 0)
			group_add(&g->groups[g->map[RULE_SLOT_NONE]], s);
	}
	qsort(g->groups, g->ngroups, sizeof(*g->groups), group_cmp);
	/* Groups nobody counts under are not shown (they sort last). */
	while (g->ngroups && g->groups[g->ngroups - 1].total == 0)
		g->ngroups--;
}

int report_grouping_build(struct grouping *g, const struct engine *e, enum report_by by,
			  bool offline)
{
	int r = grouping_init(g, e->c, by);

	if (r < 0)
		return r;
	grouping_count(g, e, by, offline);
	return 0;
}

/* ---- open incidents ---- */

static const struct incident *ring_find(const struct incidents *s, unsigned id, unsigned *ret_off)
{
	return incident_lookup(s, id, ret_off);
}

static int tl_cmp(const void *a, const void *b)
{
	const struct tl_entry *x = a, *y = b;
	int r;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	r = memcmp(&x->rec->addr, &y->rec->addr, sizeof(x->rec->addr));
	return r;
}

#define BIT_TEST(m, i) (((m)[(i) / 64] >> ((i) % 64)) & 1)
#define BIT_SET(m, i)  ((m)[(i) / 64] |= 1ULL << ((i) % 64))

/* Whether hit i of r is the first of r's hits in its incident: a host
 * that several rules flag (a worm scans as it spreads) can join one
 * incident by each, and is one host of it all the same.  *ret_ts: the
 * earliest of those hits' times. */
static bool first_hit_in_incident(const struct hostrec *r, unsigned i, usec_t *ret_ts)
{
	usec_t ts = r->hits[i].first_us;

	for (unsigned j = 0; j < MIN(r->nhits, HOSTDB_MAX_HITS); j++) {
		if (r->hits[j].incident != r->hits[i].incident)
			continue;
		if (j < i)
			return false;
		if (r->hits[j].first_us && (!ts || r->hits[j].first_us < ts))
			ts = r->hits[j].first_us;
	}
	*ret_ts = ts;
	return true;
}

/* Who infected whom inside each incident of t (t->infector). */
static int timeline_edges(struct timeline *t)
{
	const struct hostrec **recs;
	int r = 0;

	if (t->n == 0)
		return 0;
	t->infector = calloc(t->n, sizeof(*t->infector));
	recs = calloc(t->n, sizeof(*recs));
	if (!t->infector || !recs) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0, k; i < t->n; i += k) {
		k = report_tl_run(t, i);
		for (size_t j = 0; j < k; j++)
			recs[j] = t->v[i + j].rec;
		r = report_infectors(recs, k, &t->infector[i]);
		if (r < 0)
			goto out;
	}
out:
	free(recs);
	return r;
}

/* The hosts of every open incident (each once), by incident and time. */
static int timeline_build(struct timeline *t, const struct engine *e)
{
	const struct incidents *s = &e->incidents;
	uint64_t *open;
	size_t n = 0;
	unsigned off;
	usec_t ts;

	memset(t, 0, sizeof(*t));
	if (s->n == 0)
		return 0;
	open = calloc((s->n + 63) / 64, sizeof(*open));
	if (!open)
		return -ENOMEM;
	/* First which incidents are open, then their hosts. */
	for (const struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r))
		for (unsigned i = 0; i < MIN(r->nhits, HOSTDB_MAX_HITS); i++)
			if (first_hit_in_incident(r, i, &ts) &&
			    ring_find(s, r->hits[i].incident, &off)) {
				if (host_open(r))
					BIT_SET(open, off);
				n++;
			}
	if (n) {
		t->v = calloc(n, sizeof(*t->v));
		if (!t->v) {
			free(open);
			return -ENOMEM;
		}
	}
	for (const struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r))
		for (unsigned i = 0; i < MIN(r->nhits, HOSTDB_MAX_HITS); i++)
			if (first_hit_in_incident(r, i, &ts) &&
			    ring_find(s, r->hits[i].incident, &off) && BIT_TEST(open, off) &&
			    t->n < n)
				t->v[t->n++] = (struct tl_entry){
					.ts = ts,
					.id = r->hits[i].incident,
					.rec = r,
				};
	free(open);
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), tl_cmp);
	return timeline_edges(t);
}

struct rec_at {
	const struct hostrec *r;
	size_t i;
};

static int rec_at_cmp(const void *a, const void *b)
{
	const struct rec_at *x = a, *y = b;

	return memcmp(&x->r->id, &y->r->id, sizeof(x->r->id));
}

static int id_rec_at_cmp(const void *key, const void *b)
{
	const struct rec_at *y = b;

	return memcmp(key, &y->r->id, sizeof(y->r->id));
}

int report_infectors(const struct hostrec *const *recs, size_t n, long *ret)
{
	struct rec_at *by_id;

	if (n == 0)
		return 0;
	by_id = malloc(n * sizeof(*by_id));
	if (!by_id)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		by_id[i] = (struct rec_at){.r = recs[i], .i = i};
	qsort(by_id, n, sizeof(*by_id), rec_at_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct rec_at *f = NULL;

		if (recs[i]->infected_by.family)
			f = bsearch(&recs[i]->infected_by, by_id, n, sizeof(*by_id), id_rec_at_cmp);
		ret[i] = f && f->i != i ? (long)f->i : -1;
	}
	free(by_id);
	return 0;
}

/* The entries of the incident starting at v[i]: their count. */
size_t report_tl_run(const struct timeline *t, size_t i)
{
	size_t j = i;

	while (j < t->n && t->v[j].id == t->v[i].id)
		j++;
	return j - i;
}

static unsigned tl_open_hosts(const struct tl_entry *v, size_t n)
{
	unsigned k = 0;

	for (size_t i = 0; i < n; i++)
		k += host_open(v[i].rec);
	return k;
}

/* "name, department" from the inventory, "" when unknown. */
static const char *where(const struct inv_entry *v, char *buf, size_t len)
{
	buf[0] = '\0';
	if (v)
		snprintf(buf, len, "%s%s%s", v->name, v->name[0] && v->department[0] ? ", " : "",
			 v->department);
	return buf;
}

/* ---- text ---- */

static const char *const col_names[HOST_STATE_COUNT] = {
	[HOST_DETECTED] = "DETECTED",	    [HOST_WATCHED] = "WATCHED",
	[HOST_CONTAINED] = "CONTAINED",	    [HOST_ISOLATED] = "ISOLATED",
	[HOST_CLEANING] = "CLEANING",	    [HOST_CLEANED] = "CLEANED",
	[HOST_UNCLEANABLE] = "UNCLEANABLE", [HOST_RELEASED] = "RELEASED",
};

static size_t digits(unsigned v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static void text_row(struct rout *o, const struct group *gr, const char *name, size_t name_w,
		     const size_t *col_w, size_t total_w)
{
	ro_left(o, name, name_w);
	for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
		ro_printf(o, "  %*u", (int)col_w[s], gr->n[s]);
	ro_printf(o, "  %*u\n", (int)total_w, gr->total);
}

static void text_groups(struct rout *o, const struct grouping *g, enum report_by by)
{
	static const char *const heads[] = {
		[REPORT_BY_DEPARTMENT] = "DEPARTMENT",
		[REPORT_BY_FLOOR] = "FLOOR",
		[REPORT_BY_OWNER] = "OWNER",
		[REPORT_BY_RULE] = "RULE",
	};
	size_t name_w = MAX(strlen(heads[by]), strlen("TOTAL")), col_w[HOST_STATE_COUNT], total_w;

	for (unsigned i = 0; i < g->ngroups; i++)
		name_w = MAX(name_w, MIN(text_width(g->groups[i].name), MAX_NAME_COL));
	/* The totals are the widest figures of each column. */
	for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
		col_w[s] = MAX(strlen(col_names[s]), digits(g->totals.n[s]));
	total_w = MAX(strlen("TOTAL"), digits(g->totals.total));

	ro_left(o, heads[by], name_w);
	for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
		ro_printf(o, "  %*s", (int)col_w[s], col_names[s]);
	ro_printf(o, "  %*s\n", (int)total_w, "TOTAL");
	for (unsigned i = 0; i < g->ngroups; i++)
		text_row(o, &g->groups[i], g->groups[i].name, name_w, col_w, total_w);
	text_row(o, &g->totals, "TOTAL", name_w, col_w, total_w);
	if (by == REPORT_BY_RULE)
		ro_puts(o,
			"(a host hit by several rules counts under each; TOTAL counts it once)\n");
}

static void text_incident(struct rout *o, const struct engine *e, const struct incident *in,
			  const struct tl_entry *v, size_t n, bool offline)
{
	const struct inventory *inv = &e->c->inventory;
	char a[ADDR_STRLEN], t[32], w[160];
	size_t host_w = strlen("HOST");
	unsigned open = tl_open_hosts(v, n);

	ro_printf(o, "\nINCIDENT %u  ", in->id);
	ro_text(o, in->rule_name);
	ro_printf(o, "  %u host%s, %u still open\n", in->nhosts, in->nhosts == 1 ? "" : "s", open);
	ro_printf(o, "  patient zero   %s", addr_ntop(&in->patient_zero, a));
	where(inventory_lookup(inv, &in->patient_zero), w, sizeof(w));
	if (w[0]) {
		ro_puts(o, "  ");
		ro_text(o, w);
	}
	ro_printf(o, "\n  first probe    %s\n", ts_text(in->first_probe_us, t));
	ro_printf(o, "  first detect   %s\n", ts_text(in->first_detect_us, t));
	ro_printf(o, "  latest detect  %s\n", ts_text(in->last_detect_us, t));

	for (size_t i = 0; i < n; i++)
		host_w = MAX(host_w, strlen(addr_ntop(report_rec_name(v[i].rec), a)));
	ro_printf(o, "  %-27s  %5s  ", "TIME", "HOSTS");
	ro_left(o, "HOST", host_w);
	ro_printf(o, "  %-11s  %s\n", "STATE", "WHERE");
	for (size_t i = 0; i < n; i++) {
		const struct hostrec *r = v[i].rec;

		ro_printf(o, "  %-27s  %5zu  ", ts_text(v[i].ts, t), i + 1);
		ro_left(o, addr_ntop(report_rec_name(r), a), host_w);
		where(engine_inventory(e, r), w, sizeof(w));
		ro_puts(o, "  ");
		ro_left(o, host_state_name(report_count_state(r, offline)), w[0] ? 11 : 0);
		if (w[0]) {
			ro_puts(o, "  ");
			ro_text(o, w);
		}
		ro_puts(o, "\n");
	}
}

static void render_text(struct rout *o, const struct engine *e, enum report_by by, bool offline,
			usec_t now, const struct grouping *g, const struct timeline *t)
{
	char ts[32];
	unsigned nopen = 0;

	ro_printf(o, "Report by %s at %s%s\n", report_by_name(by), ts_text(now, ts),
		  offline ? " (offline)" : "");
	if (offline)
		ro_puts(o, "Offline: nothing was enforced; hosts count under the level policy "
			   "decided.\n");
	ro_puts(o, "\n");
	text_groups(o, g, by);

	for (size_t i = 0; i < t->n; i += report_tl_run(t, i))
		nopen++;
	ro_printf(o, "\nOpen incidents: %u\n", nopen);
	for (size_t i = 0, k; i < t->n; i += k) {
		const struct incident *in = ring_find(&e->incidents, t->v[i].id, NULL);

		k = report_tl_run(t, i);
		if (in)
			text_incident(o, e, in, &t->v[i], k, offline);
	}
}

/* ---- JSON ---- */

static void json_counts(struct rout *o, bool comma, const struct group *gr)
{
	for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
		ro_printf(o, "%s\"%s\":%u", comma || s ? "," : "",
			  host_state_name((enum host_state)s), gr->n[s]);
	ro_printf(o, ",\"total\":%u", gr->total);
}

static void json_incident(struct rout *o, const struct engine *e, const struct incident *in,
			  const struct tl_entry *v, const long *infector, size_t n, bool offline)
{
	const struct inventory *inv = &e->c->inventory;
	const struct inv_entry *pz = inventory_lookup(inv, &in->patient_zero);
	char a[ADDR_STRLEN];

	ro_printf(o, "{\"id\":%u", in->id);
	ro_json_kv(o, true, "rule", in->rule_name);
	ro_json_kv(o, true, "patient_zero", addr_ntop(&in->patient_zero, a));
	if (pz && pz->name[0])
		ro_json_kv(o, true, "patient_zero_name", pz->name);
	if (pz && pz->department[0])
		ro_json_kv(o, true, "patient_zero_department", pz->department);
	ro_json_ts(o, true, "first_ts", in->first_probe_us);
	ro_json_ts(o, true, "first_detect", in->first_detect_us);
	ro_json_ts(o, true, "last_detect", in->last_detect_us);
	ro_printf(o, ",\"hosts\":%u,\"open_hosts\":%u,\"timeline\":[", in->nhosts,
		  tl_open_hosts(v, n));
	for (size_t i = 0; i < n; i++) {
		const struct hostrec *r = v[i].rec;
		const struct inv_entry *hv = engine_inventory(e, r);

		ro_puts(o, i ? ",{" : "{");
		ro_json_ts(o, false, "ts", v[i].ts);
		ro_json_kv(o, true, "host", addr_ntop(report_rec_name(r), a));
		ro_printf(o, ",\"hosts\":%zu", i + 1);
		ro_json_kv(o, true, "state", host_state_name(report_count_state(r, offline)));
		if (hv && hv->name[0])
			ro_json_kv(o, true, "name", hv->name);
		for (unsigned h = 0; h < MIN(r->nhits, HOSTDB_MAX_HITS); h++)
			/* Our own are the rule; one from outside says so. */
			if (r->hits[h].incident == in->id) {
				if (r->hits[h].source != SOURCE_SELF)
					ro_json_kv(o, true, "source",
						   det_source_name(
							   (enum det_source)r->hits[h].source));
				break;
			}
		ro_puts(o, "}");
	}
	/* Who probed whom (quarantined(8), Incidents): an edge to each
	 * host from the member that infected it, in timeline order. */
	ro_puts(o, "],\"edges\":[");
	for (size_t i = 0, first = 1; i < n; i++) {
		const struct hostrec *r = v[i].rec;
		char b[ADDR_STRLEN];

		if (infector[i] < 0)
			continue;
		ro_puts(o, first ? "{" : ",{");
		first = 0;
		ro_json_kv(o, false, "from", addr_ntop(report_rec_name(v[infector[i]].rec), a));
		ro_json_kv(o, true, "to", addr_ntop(report_rec_name(r), b));
		ro_json_kv(o, true, "proto", proto_bit_name(r->infected_proto));
		ro_printf(o, ",\"port\":%u", r->infected_port);
		ro_json_ts(o, true, "ts", r->infected_us);
		ro_puts(o, "}");
	}
	ro_puts(o, "]}");
}

static void render_json(struct rout *o, const struct engine *e, enum report_by by, bool offline,
			usec_t now, const struct grouping *g, const struct timeline *t)
{
	bool first = true;

	ro_puts(o, "{");
	ro_json_kv(o, false, "by", report_by_name(by));
	ro_printf(o, ",\"offline\":%s", offline ? "true" : "false");
	ro_json_ts(o, true, "ts", now);
	ro_puts(o, ",\"groups\":[");
	for (unsigned i = 0; i < g->ngroups; i++) {
		ro_puts(o, i ? ",{" : "{");
		ro_json_kv(o, false, "group", g->groups[i].name);
		json_counts(o, true, &g->groups[i]);
		ro_puts(o, "}");
	}
	ro_puts(o, "],\"totals\":{");
	json_counts(o, false, &g->totals);
	/* Hosts by where their detections came from (a host flagged by two
	 * sources counts under each). */
	{
		uint64_t by_source[SOURCE_COUNT] = {0};

		for (const struct hostrec *r = hostdb_first(&e->hosts); r;
		     r = hostdb_next(&e->hosts, r)) {
			unsigned seen = 0;

			for (unsigned h = 0; h < MIN(r->nhits, HOSTDB_MAX_HITS); h++)
				seen |= 1u << (r->hits[h].source % SOURCE_COUNT);
			for (unsigned k = 0; k < SOURCE_COUNT; k++)
				by_source[k] += (seen >> k) & 1;
		}
		ro_puts(o, "},\"sources\":{");
		for (unsigned k = 0; k < SOURCE_COUNT; k++)
			ro_printf(o, "%s\"%s\":%llu", k ? "," : "",
				  det_source_name((enum det_source)k),
				  (unsigned long long)by_source[k]);
	}
	ro_puts(o, "},\"incidents\":[");
	for (size_t i = 0, k; i < t->n; i += k) {
		const struct incident *in = ring_find(&e->incidents, t->v[i].id, NULL);

		k = report_tl_run(t, i);
		if (!in)
			continue;
		if (!first)
			ro_puts(o, ",");
		first = false;
		json_incident(o, e, in, &t->v[i], &t->infector[i], k, offline);
	}
	ro_puts(o, "]}\n");
}

int report_render(const struct engine *e, enum report_by by, enum report_format fmt, bool offline,
		  usec_t now, const struct report_sink *out)
{
	struct report_model m = {.e = e, .by = by, .offline = offline, .now = now};
	struct rout *o = NULL;
	int r;

	if ((unsigned)by >= ARRAY_SIZE(by_names) || (unsigned)fmt >= ARRAY_SIZE(format_names) ||
	    !out || !out->write)
		return -EINVAL;
	r = grouping_init(&m.g, e->c, by);
	if (r < 0)
		return r;
	r = timeline_build(&m.t, e);
	if (r < 0)
		goto out_groups;
	/* The output buffer is on the heap: the daemon's stack stays small. */
	o = calloc(1, sizeof(*o));
	if (!o) {
		r = -ENOMEM;
		goto out;
	}
	o->s = out;
	grouping_count(&m.g, e, by, offline);
	switch (fmt) {
	case REPORT_JSON:
		render_json(o, e, by, offline, now, &m.g, &m.t);
		break;
	case REPORT_HTML:
		/* It allocates what it sorts before it writes anything. */
		r = report_render_html(o, &m);
		if (r < 0)
			goto out;
		break;
	case REPORT_CSV:
		report_render_csv(o, &m);
		break;
	default:
		render_text(o, e, by, offline, now, &m.g, &m.t);
		break;
	}
	ro_flush(o);
	r = 0;
out:
	free(o);
	free(m.t.v);
	free(m.t.infector);
out_groups:
	report_grouping_fini(&m.g);
	return r;
}
