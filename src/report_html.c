/* The report as one self-contained HTML page for the control center: the
 * outbreak timeline, the spread of each open incident from its patient
 * zero, the counts by department, floor, owner and rule, certification
 * progress and the open actions.  Inline CSS and SVG only: no script, no
 * external asset, so that it opens offline, from a mail, and prints.
 * Every figure is also in a data-* attribute, which is what the tests
 * compare with the JSON report of the same data.
 *
 * Bounded: the page goes over the control socket, whose replies are capped
 * (64 MiB).  Each list is cut at a fixed count with an "and N more" line
 * (HTML_MAX_*), so the page stays within a few megabytes whatever the
 * registry holds. */
#include "report_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "incident.h"

#define HTML_MAX_GROUP_ROWS 100 /* rows of each counts table */
#define HTML_MAX_INCIDENTS  20	/* open incidents drawn */
#define HTML_MAX_SPREAD	    60	/* hosts drawn per incident */
#define HTML_MAX_ACTIONS    200 /* rows of the open actions */
#define TL_MAX_BUCKETS	    48	/* bars per chart: readable at 860 pixels */
#define TL_SERIES	    8	/* the 7 largest groups and "other" */
#define CERT_SERIES	    3	/* cleaning, cleaned, uncleanable */

/* ---- escaping ---- */

/* Length of the well-formed UTF-8 sequence at c (2 to 4 bytes), 0 when
 * there is none (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF).  C1 controls (U+0080 to U+009F) count as none: HTML parsers
 * reject them as text. */
static size_t utf8_len(const unsigned char *c)
{
	unsigned lo, hi;

	if (c[0] == 0xc2)
		return c[1] >= 0xa0 && c[1] <= 0xbf ? 2 : 0;
	if (c[0] > 0xc2 && c[0] <= 0xdf)
		return (c[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c[0] >= 0xe0 && c[0] <= 0xef) {
		lo = c[0] == 0xe0 ? 0xa0 : 0x80;
		hi = c[0] == 0xed ? 0x9f : 0xbf;
		return c[1] >= lo && c[1] <= hi && (c[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c[0] >= 0xf0 && c[0] <= 0xf4) {
		lo = c[0] == 0xf0 ? 0x90 : 0x80;
		hi = c[0] == 0xf4 ? 0x8f : 0xbf;
		return c[1] >= lo && c[1] <= hi && (c[2] & 0xc0) == 0x80 && (c[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

void ro_html(struct rout *o, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;

	while (*c) {
		size_t n;

		if (*c >= 0x80) {
			n = utf8_len(c);
			ro_write(o, n ? (const char *)c : "?", n ? n : 1);
			c += n ? n : 1;
			continue;
		}
		switch (*c) {
		case '&':
			ro_puts(o, "&amp;");
			break;
		case '<':
			ro_puts(o, "&lt;");
			break;
		case '>':
			ro_puts(o, "&gt;");
			break;
		case '"':
			ro_puts(o, "&quot;");
			break;
		case '\'':
			ro_puts(o, "&#39;");
			break;
		default:
			ro_write(o, *c < 0x20 || *c == 0x7f ? "?" : (const char *)c, 1);
			break;
		}
		c++;
	}
}

/* ' name="value"', the value escaped. */
static void attr(struct rout *o, const char *name, const char *value)
{
	ro_printf(o, " %s=\"", name);
	ro_html(o, value);
	ro_puts(o, "\"");
}

static void attr_ts(struct rout *o, const char *name, usec_t ts)
{
	char b[32];

	attr(o, name, ts ? event_format_ts(ts, b) : "");
}

/* A chart's time label for its step: the date for days, the time to the
 * second for seconds, else "01-15 09:00". */
static const char *axis_ts(usec_t ts, unsigned long long step_s, char b[32])
{
	time_t secs = (time_t)(ts / USEC_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&secs, &tm) || strftime(b, 32,
					      step_s >= 86400 ? "%Y-%m-%d"
					      : step_s < 60   ? "%H:%M:%S"
							      : "%m-%d %H:%M",
					      &tm) == 0)
		strcpy(b, "-");
	return b;
}

/* "2026-01-15 09:00" (UTC), or the date alone. */
static const char *short_ts(usec_t ts, bool date_only, char b[32])
{
	time_t secs = (time_t)(ts / USEC_PER_SEC);
	struct tm tm;

	if (!ts || !gmtime_r(&secs, &tm) ||
	    strftime(b, 32, date_only ? "%Y-%m-%d" : "%Y-%m-%d %H:%M", &tm) == 0)
		strcpy(b, "-");
	return b;
}

/* "3d 4h", "2h 5m", "42s". */
static const char *duration(usec_t us, char b[32])
{
	unsigned long long s = us / USEC_PER_SEC;

	if (s >= 86400 && s % 86400 == 0)
		snprintf(b, 32, "%llud", s / 86400);
	else if (s >= 86400)
		snprintf(b, 32, "%llud %lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600 && s % 3600 == 0)
		snprintf(b, 32, "%lluh", s / 3600);
	else if (s >= 3600)
		snprintf(b, 32, "%lluh %llum", s / 3600, s % 3600 / 60);
	else if (s >= 60 && s % 60 == 0)
		snprintf(b, 32, "%llum", s / 60);
	else if (s >= 60)
		snprintf(b, 32, "%llum %llus", s / 60, s % 60);
	else
		snprintf(b, 32, "%llus", s);
	return b;
}

static const char *const state_colour[HOST_STATE_COUNT] = {
	[HOST_DETECTED] = "#9e9e9e",	[HOST_WATCHED] = "#e2b93b",  [HOST_CONTAINED] = "#f2994a",
	[HOST_ISOLATED] = "#d64545",	[HOST_CLEANING] = "#3aa0d8", [HOST_CLEANED] = "#27ae60",
	[HOST_UNCLEANABLE] = "#6d214f", [HOST_RELEASED] = "#c8c8c8",
};

/* Tableau 10's first colours: told apart by most colour-blind readers. */
static const char *const series_colour[TL_SERIES] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c9c9c",
};

/* ---- what the page is computed from ---- */

/* A host of an open incident, in the order the spread is drawn: a tree
 * of who infected whom (tree_order()). */
struct spread_key {
	const struct tl_entry *t;
	usec_t probe_us;
	unsigned id;
	bool pz;
	long parent;	/* the key of its infector, from the incident's first; -1 */
	unsigned depth; /* in the tree: 0 for a root */
};

struct chart {
	const char *id, *title, *kind;
	unsigned nb, ns;
	unsigned long long step_s, start_s;
	const char *names[TL_SERIES];
	const char *colours[TL_SERIES];
	unsigned v[TL_MAX_BUCKETS][TL_SERIES];
};

struct page {
	const struct report_model *m;
	struct grouping other[4]; /* by each field but m->by */
	const struct grouping *by[4];
	struct spread_key *spread; /* m->t.n */
	const struct hostrec **actions;
	unsigned nactions;
	struct chart ch[3]; /* detections, blocks, certifications */
};

static int spread_cmp(const void *a, const void *b)
{
	const struct spread_key *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->pz != y->pz)
		return x->pz ? -1 : 1;
	if (x->probe_us != y->probe_us)
		return x->probe_us < y->probe_us ? -1 : 1;
	if (x->t->ts != y->t->ts)
		return x->t->ts < y->t->ts ? -1 : 1;
	return memcmp(&report_rec_name(x->t->rec)->b, &report_rec_name(y->t->rec)->b,
		      sizeof(x->t->rec->addr.b));
}

/* Blocked hosts: the strongest level first, then the longest blocked. */
static int action_cmp(const void *a, const void *b)
{
	const struct hostrec *x = *(const struct hostrec *const *)a;
	const struct hostrec *y = *(const struct hostrec *const *)b;

	if (x->level != y->level || x->decided != y->decided) {
		/* offline, level is 0 and decided says it; live, the
		 * reverse holds well enough for an order */
		unsigned lx = MAX(x->level, x->decided), ly = MAX(y->level, y->decided);

		if (lx != ly)
			return lx > ly ? -1 : 1;
	}
	if (x->changed_us != y->changed_us)
		return x->changed_us < y->changed_us ? -1 : 1;
	return memcmp(&x->id, &y->id, sizeof(x->id));
}

/* The keys of one incident k[0..n), in time order with patient zero
 * first, put in the order of a depth-first walk of who infected whom:
 * each host right under the one that infected it (its children in time
 * order), patient zero and the hosts with no known infector in the
 * incident as roots, in time order.  tl_start: the incident's first
 * entry in m->t.  0, or -ENOMEM. */
static int tree_order(const struct report_model *m, struct spread_key *k, size_t n, size_t tl_start)
{
	long *first = NULL, *next = NULL, *pos = NULL, *stack = NULL, *order = NULL;
	struct spread_key *tmp = NULL;
	bool *seen = NULL;
	size_t norder = 0;
	int r = -ENOMEM;

	if (n < 2)
		return 0;
	first = malloc(n * sizeof(*first));
	next = malloc(n * sizeof(*next));
	pos = malloc(n * sizeof(*pos));
	stack = malloc(n * sizeof(*stack));
	order = malloc(n * sizeof(*order));
	seen = calloc(n, sizeof(*seen));
	tmp = malloc(n * sizeof(*tmp));
	if (!first || !next || !pos || !stack || !order || !seen || !tmp)
		goto out;
	/* pos: from the incident's timeline entries to its keys. */
	for (size_t j = 0; j < n; j++)
		pos[(size_t)(k[j].t - m->t.v) - tl_start] = (long)j;
	for (size_t j = 0; j < n; j++) {
		long inf = m->t.infector[k[j].t - m->t.v];

		first[j] = next[j] = -1;
		k[j].parent = inf >= 0 && !k[j].pz ? pos[inf] : -1;
	}
	/* Each host's children, latest first (prepended in time order),
	 * so that the stack pops them earliest first. */
	for (size_t j = 0; j < n; j++) {
		long pj = k[j].parent;

		if (pj < 0)
			continue;
		next[j] = first[pj];
		first[pj] = (long)j;
	}
	/* Roots in time order; a host whose chain of infectors loops (a host
	 * released and infected again by its own victim) is reached from
	 * none: the first of such is a root too.  Each host is pushed once,
	 * when first seen. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t j = 0; j < n; j++) {
			size_t sp = 0;

			if (seen[j] || (pass == 0 && k[j].parent >= 0))
				continue;
			k[j].parent = -1;
			k[j].depth = 0;
			seen[j] = true;
			stack[sp++] = (long)j;
			while (sp) {
				long x = stack[--sp];

				order[norder++] = x;
				for (long y = first[x]; y >= 0; y = next[y]) {
					if (seen[y])
						continue;
					seen[y] = true;
					k[y].depth = k[x].depth + 1;
					stack[sp++] = y;
				}
			}
		}
	for (size_t j = 0; j < norder; j++)
		pos[order[j]] = (long)j;
	for (size_t j = 0; j < norder; j++) {
		tmp[j] = k[order[j]];
		if (tmp[j].parent >= 0)
			tmp[j].parent = pos[tmp[j].parent];
	}
	memcpy(k, tmp, n * sizeof(*k));
	r = 0;
out:
	free(first);
	free(next);
	free(pos);
	free(stack);
	free(order);
	free(seen);
	free(tmp);
	return r;
}

static void page_fini(struct page *p)
{
	for (unsigned i = 0; i < 4; i++)
		if (i != (unsigned)p->m->by)
			report_grouping_fini(&p->other[i]);
	free(p->spread);
	free(p->actions);
}

static int page_init(struct page *p, const struct report_model *m)
{
	const struct engine *e = m->e;
	const struct hostdb *db = &e->hosts;
	unsigned n = 0;
	int r;

	memset(p, 0, sizeof(*p));
	p->m = m;
	for (unsigned i = 0; i < 4; i++) {
		if (i == (unsigned)m->by) {
			p->by[i] = &m->g;
			continue;
		}
		r = report_grouping_build(&p->other[i], e, (enum report_by)i, m->offline);
		if (r < 0)
			goto fail;
		p->by[i] = &p->other[i];
	}
	if (m->t.n) {
		p->spread = calloc(m->t.n, sizeof(*p->spread));
		if (!p->spread) {
			r = -ENOMEM;
			goto fail;
		}
	}
	for (size_t i = 0; i < m->t.n; i++) {
		const struct tl_entry *t = &m->t.v[i];
		const struct incident *in = report_incident(m, t->id);

		p->spread[i] = (struct spread_key){
			.t = t,
			.id = t->id,
			.probe_us = t->rec->first_probe_us ? t->rec->first_probe_us : t->ts,
			.pz = in && addr_eq(&in->patient_zero, &t->rec->addr),
			.parent = -1,
		};
	}
	if (m->t.n)
		qsort(p->spread, m->t.n, sizeof(*p->spread), spread_cmp);
	for (size_t i = 0, k; i < m->t.n; i += k) {
		size_t tl_start = (size_t)(p->spread[i].t - m->t.v);

		/* The keys of an incident are its timeline entries, in
		 * another order: the first of those is where the
		 * infectors' indexes count from. */
		for (k = 0; i + k < m->t.n && p->spread[i + k].id == p->spread[i].id; k++)
			tl_start = MIN(tl_start, (size_t)(p->spread[i + k].t - m->t.v));
		r = tree_order(m, &p->spread[i], k, tl_start);
		if (r < 0)
			goto fail;
	}

	for (const struct hostrec *h = hostdb_first(db); h; h = hostdb_next(db, h))
		n += !h->merged && report_block_level(h, m->offline) != LEVEL_NONE;
	if (n) {
		p->actions = calloc(n, sizeof(*p->actions));
		if (!p->actions) {
			r = -ENOMEM;
			goto fail;
		}
	}
	for (const struct hostrec *h = hostdb_first(db); h; h = hostdb_next(db, h))
		if (!h->merged && report_block_level(h, m->offline) != LEVEL_NONE &&
		    p->nactions < n)
			p->actions[p->nactions++] = h;
	if (p->nactions)
		qsort(p->actions, p->nactions, sizeof(*p->actions), action_cmp);
	return 0;
fail:
	page_fini(p);
	return r;
}

/* ---- the timeline ---- */

/* The series of a host: the position of its group among the largest
 * (m->g is sorted by size), the last series for the rest. */
static unsigned host_series(const struct report_model *m, const struct hostrec *r, unsigned nnamed)
{
	const char *g = report_host_group(m, r);

	for (unsigned i = 0; i < nnamed; i++)
		if (strcmp(m->g.groups[i].name, g) == 0)
			return i;
	return TL_SERIES - 1;
}

static void span_add(usec_t ts, usec_t *lo, usec_t *hi)
{
	if (!ts)
		return;
	if (!*lo || ts < *lo)
		*lo = ts;
	if (ts > *hi)
		*hi = ts;
}

static bool is_mark(const struct hist *h)
{
	return h->kind == HIST_MARK && h->state >= HOST_CLEANING && h->state <= HOST_UNCLEANABLE;
}

/* Buckets from the span: the shortest step of this list that draws it in
 * at most TL_MAX_BUCKETS bars; past that, whole days. */
static void choose_buckets(struct chart *c, usec_t lo, usec_t hi)
{
	static const unsigned steps_s[] = {1,	 5,    10,    30,    60,    300,   900,
					   1800, 3600, 10800, 21600, 43200, 86400, 604800};
	unsigned long long a = lo / USEC_PER_SEC, b = hi / USEC_PER_SEC, step = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(steps_s) && !step; i++)
		if (b / steps_s[i] - a / steps_s[i] + 1 <= TL_MAX_BUCKETS)
			step = steps_s[i];
	if (!step)
		step = ((b - a) / (TL_MAX_BUCKETS - 1) / 86400 + 1) * 86400;
	c->step_s = step;
	c->start_s = a / step * step;
	c->nb = (unsigned)MIN(b / step - a / step + 1, TL_MAX_BUCKETS);
}

static void chart_add(struct chart *c, usec_t ts, unsigned series)
{
	unsigned long long s = ts / USEC_PER_SEC, b;

	if (!ts || s < c->start_s)
		return;
	b = (s - c->start_s) / c->step_s;
	if (b < c->nb && series < c->ns)
		c->v[b][series]++;
}

static void charts_fill(struct page *p)
{
	const struct report_model *m = p->m;
	const struct hostdb *db = &m->e->hosts;
	unsigned nnamed = MIN(m->g.ngroups, TL_SERIES - 1);
	usec_t lo = 0, hi = 0;

	/* Every group its own series when they fit, else the largest and
	 * "other". */
	if (m->g.ngroups == TL_SERIES)
		nnamed = TL_SERIES;
	for (const struct hostrec *r = hostdb_first(db); r; r = hostdb_next(db, r)) {
		if (r->merged)
			continue;
		span_add(r->first_detect_us, &lo, &hi);
		span_add(report_block_ts(r, m->offline), &lo, &hi);
		for (unsigned i = 0; i < r->nhist; i++)
			if (is_mark(&r->hist[i]))
				span_add(r->hist[i].ts, &lo, &hi);
	}
	p->ch[0] = (struct chart){
		.id = "timeline-detections", .title = "Detections", .kind = "detections"};
	p->ch[1] = (struct chart){.id = "timeline-blocks", .title = "Blocks", .kind = "blocks"};
	p->ch[2] = (struct chart){.id = "timeline-certifications",
				  .title = "Certifications (cleaning, cleaned, uncleanable)",
				  .kind = "certifications"};
	for (unsigned k = 0; k < 3; k++) {
		struct chart *c = &p->ch[k];

		if (lo)
			choose_buckets(c, lo, hi);
		if (k < 2) {
			c->ns = nnamed == TL_SERIES ? TL_SERIES : nnamed + 1;
			for (unsigned i = 0; i < nnamed; i++)
				c->names[i] = m->g.groups[i].name;
			if (nnamed < TL_SERIES)
				c->names[nnamed] = "other";
			for (unsigned i = 0; i < c->ns; i++)
				c->colours[i] = series_colour[i < nnamed ? i : TL_SERIES - 1];
		} else {
			c->ns = CERT_SERIES;
			for (unsigned i = 0; i < CERT_SERIES; i++) {
				c->names[i] = host_state_name((enum host_state)(HOST_CLEANING + i));
				c->colours[i] = state_colour[HOST_CLEANING + i];
			}
		}
	}
	if (!lo)
		return;
	for (const struct hostrec *r = hostdb_first(db); r; r = hostdb_next(db, r)) {
		unsigned s;

		if (r->merged)
			continue;
		s = host_series(m, r, nnamed);
		if (s >= p->ch[0].ns)
			s = p->ch[0].ns - 1;
		chart_add(&p->ch[0], r->first_detect_us, s);
		chart_add(&p->ch[1], report_block_ts(r, m->offline), s);
		for (unsigned i = 0; i < r->nhist; i++)
			if (is_mark(&r->hist[i]))
				chart_add(&p->ch[2], r->hist[i].ts,
					  r->hist[i].state - HOST_CLEANING);
	}
}

#define CH_W	  860
#define CH_H	  190
#define CH_LEFT	  44
#define CH_RIGHT  10
#define CH_TOP	  10
#define CH_BOTTOM 34

static void chart_render(struct rout *o, const struct chart *c)
{
	const double plot_w = CH_W - CH_LEFT - CH_RIGHT, plot_h = CH_H - CH_TOP - CH_BOTTOM;
	unsigned long long total = 0, per[TL_SERIES] = {0};
	unsigned max = 0, label_every;
	double bw;
	char b[32];

	for (unsigned i = 0; i < c->nb; i++) {
		unsigned sum = 0;

		for (unsigned s = 0; s < c->ns; s++) {
			sum += c->v[i][s];
			per[s] += c->v[i][s];
		}
		total += sum;
		max = MAX(max, sum);
	}
	ro_printf(o, "<figure><figcaption>%s</figcaption>\n", c->title);
	ro_printf(o,
		  "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
		  "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		  "data-kind=\"%s\" data-total=\"%llu\" data-bucket-s=\"%llu\"",
		  c->id, CH_W, total ? CH_H : 24, CH_W, total ? CH_H : 24, c->kind, total,
		  c->step_s);
	attr_ts(o, "data-start", c->start_s * USEC_PER_SEC);
	ro_printf(o, "><title>%s per %s</title>\n", c->title,
		  duration(c->step_s * USEC_PER_SEC, b));
	if (total == 0) {
		/* One line, not an empty frame. */
		ro_puts(o, "<text x=\"0\" y=\"16\" class=\"empty\">none so far</text></svg>"
			   "</figure>\n");
		return;
	}
	/* Axes, the y axis labelled at 0, the middle and the top. */
	ro_printf(o,
		  "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		  "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
		  CH_LEFT, CH_TOP, CH_LEFT, CH_H - CH_BOTTOM, CH_LEFT, CH_H - CH_BOTTOM,
		  CH_W - CH_RIGHT, CH_H - CH_BOTTOM);
	ro_printf(o, "<text class=\"ylabel\" x=\"%d\" y=\"%d\">0</text>", CH_LEFT - 6,
		  CH_H - CH_BOTTOM + 4);
	ro_printf(o, "<text class=\"ylabel\" x=\"%d\" y=\"%d\">%u</text>\n", CH_LEFT - 6,
		  CH_TOP + 8, max);
	bw = plot_w / c->nb;
	for (unsigned i = 0; i < c->nb; i++) {
		double y = CH_H - CH_BOTTOM;
		usec_t t = (c->start_s + i * c->step_s) * USEC_PER_SEC;

		for (unsigned s = 0; s < c->ns; s++) {
			double h;

			if (!c->v[i][s])
				continue;
			h = plot_h * c->v[i][s] / max;
			y -= h;
			ro_printf(o,
				  "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				  "height=\"%.1f\" fill=\"%s\" data-n=\"%u\"",
				  CH_LEFT + i * bw + 1, y, MAX(bw - 2, 1.0), h, c->colours[s],
				  c->v[i][s]);
			attr_ts(o, "data-bucket", t);
			attr(o, "data-group", c->names[s]);
			ro_puts(o, "><title>");
			ro_html(o, c->names[s]);
			ro_printf(o, ": %u at %s</title></rect>\n", c->v[i][s],
				  axis_ts(t, c->step_s, b));
		}
	}
	/* At most 6 time labels under the axis. */
	label_every = (c->nb + 5) / 6;
	for (unsigned i = 0; i < c->nb; i += label_every)
		ro_printf(o, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\">%s</text>\n",
			  CH_LEFT + i * bw, CH_H - CH_BOTTOM + 16,
			  axis_ts((c->start_s + i * c->step_s) * USEC_PER_SEC, c->step_s, b));
	ro_printf(o, "<text class=\"xlabel\" x=\"%d\" y=\"%d\">UTC, per %s</text>\n", CH_LEFT,
		  CH_H - 4, duration(c->step_s * USEC_PER_SEC, b));
	ro_puts(o, "</svg>\n<ul class=\"legend\">");
	for (unsigned s = 0; s < c->ns; s++) {
		if (!per[s])
			continue;
		ro_printf(o, "<li><span class=\"swatch\" style=\"background:%s\"></span>",
			  c->colours[s]);
		ro_html(o, c->names[s]);
		ro_printf(o, " (%llu)</li>", per[s]);
	}
	ro_puts(o, "</ul></figure>\n");
}

/* ---- the sections ---- */

static const char *const page_css =
	"body{font:14px/1.4 system-ui,sans-serif;color:#222;margin:1.5em auto;max-width:900px;"
	"padding:0 1em}\n"
	"h1{font-size:1.6em;margin:0}h2{border-bottom:2px solid #ddd;margin-top:1.6em}\n"
	".meta{color:#666}.note{color:#666;font-size:.9em}\n"
	"#summary{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}\n"
	".card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}\n"
	".card b{display:block;font-size:2em}\n"
	".card.alert b{color:#d64545}.card.ok b{color:#27ae60}\n"
	"table{border-collapse:collapse;margin:.5em 0;font-size:.92em}\n"
	"th,td{border-bottom:1px solid #e4e4e4;padding:.2em .5em;text-align:left}\n"
	"td.n,th.n{text-align:right}tr.totals td{font-weight:bold;border-top:2px solid #999}\n"
	"figure{margin:.8em 0}figcaption{font-weight:bold}\n"
	"svg text{font:11px system-ui,sans-serif;fill:#333}\n"
	".ylabel{text-anchor:end}.axis{stroke:#999;stroke-width:1}\n"
	".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1.2em;margin:.3em "
	"0}\n"
	".swatch{display:inline-block;width:.9em;height:.9em;margin-right:.3em;"
	"vertical-align:-.1em}\n"
	".lane{stroke:#bbb;stroke-width:2}.pz text{font-weight:bold}\n"
	".edge{stroke:#d64545;stroke-width:1.5;fill:none;stroke-dasharray:4 2}\n"
	"section.incident{break-inside:avoid}\n"
	"@media print{body{max-width:none}h2{break-after:avoid}"
	"figure,table{break-inside:avoid}}\n";

static void summary(struct rout *o, const struct page *p, unsigned nincidents)
{
	const struct group *t = &p->m->g.totals;

	ro_printf(o,
		  "<div id=\"summary\" data-hosts=\"%u\" data-blocked=\"%u\" "
		  "data-open-incidents=\"%u\" data-cleaned=\"%u\" data-uncleanable=\"%u\">\n",
		  t->total, p->nactions, nincidents, t->n[HOST_CLEANED], t->n[HOST_UNCLEANABLE]);
	ro_printf(o, "<div class=\"card\"><b>%u</b>hosts flagged</div>\n", t->total);
	ro_printf(o, "<div class=\"card%s\"><b>%u</b>blocked now</div>\n",
		  p->nactions ? " alert" : "", p->nactions);
	ro_printf(o, "<div class=\"card%s\"><b>%u</b>open incidents</div>\n",
		  nincidents ? " alert" : "", nincidents);
	ro_printf(o, "<div class=\"card ok\"><b>%u</b>certified clean</div>\n", t->n[HOST_CLEANED]);
	ro_puts(o, "</div>\n");
}

static void counts_table(struct rout *o, const struct grouping *g, enum report_by by, bool main)
{
	unsigned shown = MIN(g->ngroups, HTML_MAX_GROUP_ROWS);

	ro_printf(o,
		  "<h3>By %s</h3>\n<table %sclass=\"counts\" data-by=\"%s\" data-groups=\"%u\">\n",
		  report_by_name(by), main ? "id=\"counts\" " : "", report_by_name(by), g->ngroups);
	ro_printf(o, "<thead><tr><th>%s</th>", report_by_name(by));
	for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
		ro_printf(o, "<th class=\"n\">%s</th>", host_state_name((enum host_state)s));
	ro_puts(o, "<th class=\"n\">total</th></tr></thead>\n<tbody>\n");
	for (unsigned i = 0; i <= shown; i++) {
		const struct group *gr = i < shown ? &g->groups[i] : &g->totals;

		ro_printf(o, "<tr class=\"%s\"", i < shown ? "group" : "totals");
		if (i < shown)
			attr(o, "data-group", gr->name);
		for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
			ro_printf(o, " data-%s=\"%u\"", host_state_name((enum host_state)s),
				  gr->n[s]);
		ro_printf(o, " data-total=\"%u\"><td>", gr->total);
		ro_html(o, i < shown ? gr->name : "total");
		ro_puts(o, "</td>");
		for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
			ro_printf(o, "<td class=\"n\">%u</td>", gr->n[s]);
		ro_printf(o, "<td class=\"n\">%u</td></tr>\n", gr->total);
		if (i + 1 == shown && shown < g->ngroups)
			ro_printf(o,
				  "<tr class=\"more\"><td colspan=\"%d\">and %u more groups "
				  "(quarantinectl report --by %s)</td></tr>\n",
				  HOST_STATE_COUNT + 2, g->ngroups - shown, report_by_name(by));
	}
	ro_puts(o, "</tbody></table>\n");
	if (by == REPORT_BY_RULE)
		ro_puts(o, "<p class=\"note\">A host hit by several rules counts under each; the "
			   "total counts it once.</p>\n");
}

static void certification(struct rout *o, const struct page *p)
{
	const struct group *t = &p->m->g.totals;
	unsigned done = t->n[HOST_CLEANED], todo = t->total - t->n[HOST_RELEASED];
	double x = 0;

	ro_printf(o,
		  "<h2>Certification</h2>\n<div id=\"certification\" data-cleaning=\"%u\" "
		  "data-cleaned=\"%u\" data-uncleanable=\"%u\" data-total=\"%u\">\n",
		  t->n[HOST_CLEANING], done, t->n[HOST_UNCLEANABLE], t->total);
	ro_printf(o,
		  "<p><b>%u of %u</b> hosts not released are certified clean; %u being cleaned, "
		  "%u uncleanable.</p>\n",
		  done, todo, t->n[HOST_CLEANING], t->n[HOST_UNCLEANABLE]);
	ro_printf(o,
		  "<svg class=\"progress\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d "
		  "24\" width=\"%d\" height=\"24\" role=\"img\"><title>hosts by state</title>\n",
		  CH_W, CH_W);
	for (unsigned s = 0; s < HOST_STATE_COUNT && t->total; s++) {
		double w = (double)CH_W * t->n[s] / t->total;

		if (!t->n[s])
			continue;
		ro_printf(o,
			  "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"24\" fill=\"%s\" "
			  "data-state=\"%s\" data-n=\"%u\"><title>%s: %u</title></rect>\n",
			  x, w, state_colour[s], host_state_name((enum host_state)s), t->n[s],
			  host_state_name((enum host_state)s), t->n[s]);
		x += w;
	}
	ro_puts(o, "</svg>\n<ul class=\"legend\">");
	for (unsigned s = 0; s < HOST_STATE_COUNT; s++)
		if (t->n[s])
			ro_printf(o,
				  "<li><span class=\"swatch\" style=\"background:%s\"></span>%s "
				  "(%u)</li>",
				  state_colour[s], host_state_name((enum host_state)s), t->n[s]);
	ro_puts(o, "</ul>\n");
	chart_render(o, &p->ch[2]);
	ro_puts(o, "</div>\n");
}

static void host_label(struct rout *o, const struct engine *e, const struct hostrec *r)
{
	const struct inv_entry *v = engine_inventory(e, r);
	char a[ADDR_STRLEN];

	ro_html(o, addr_ntop(report_rec_name(r), a));
	if (v && v->name[0]) {
		ro_puts(o, " ");
		ro_html(o, v->name);
	}
}

#define SP_ROW	 18
#define SP_LEFT	 250
#define SP_RIGHT 20

static void spread(struct rout *o, const struct page *p, const struct incident *in,
		   const struct spread_key *k, size_t n)
{
	const struct report_model *m = p->m;
	const struct inv_entry *pzv = inventory_lookup(&m->e->c->inventory, &in->patient_zero);
	size_t shown = MIN(n, HTML_MAX_SPREAD);
	usec_t t0 = in->first_probe_us, t1 = 0;
	unsigned open = 0, nedges = 0, h = (unsigned)(shown * SP_ROW + 30);
	char a[ADDR_STRLEN], b[32], c[32];
	double span, w = CH_W - SP_LEFT - SP_RIGHT;

	for (size_t i = 0; i < n; i++) {
		open += k[i].t->rec->state != HOST_RELEASED && k[i].t->rec->state != HOST_CLEANED;
		nedges += k[i].parent >= 0;
		if (i < shown) {
			if (!t0 || k[i].probe_us < t0)
				t0 = k[i].probe_us;
			t1 = MAX(t1, MAX(k[i].t->ts, k[i].probe_us));
			/* The first contact of an edge may come before the
			 * infector's first counted probe. */
			if (k[i].parent >= 0) {
				t0 = MIN(t0, k[i].t->rec->infected_us);
				t1 = MAX(t1, k[i].t->rec->infected_us);
			}
		}
	}
	span = t1 > t0 ? (double)(t1 - t0) : 1;

	ro_printf(o, "<section class=\"incident\" data-id=\"%u\"", in->id);
	attr(o, "data-rule", in->rule_name);
	attr(o, "data-patient-zero", addr_ntop(&in->patient_zero, a));
	ro_printf(o,
		  " data-hosts=\"%u\" data-open-hosts=\"%u\" data-shown=\"%zu\" "
		  "data-edges=\"%u\">\n",
		  in->nhosts, open, shown, nedges);
	ro_printf(o, "<h3>Incident %u: ", in->id);
	ro_html(o, in->rule_name);
	ro_printf(o, ", patient zero %s", a);
	if (pzv && (pzv->name[0] || pzv->department[0])) {
		ro_puts(o, " (");
		ro_html(o, pzv->name);
		ro_puts(o, pzv->name[0] && pzv->department[0] ? ", " : "");
		ro_html(o, pzv->department);
		ro_puts(o, ")");
	}
	ro_printf(o,
		  "</h3>\n<p>%u host%s, %u still open; first probe %s, latest detection %s "
		  "(UTC).</p>\n",
		  in->nhosts, in->nhosts == 1 ? "" : "s", open,
		  short_ts(in->first_probe_us, false, b), short_ts(in->last_detect_us, false, c));
	ro_printf(
		o,
		"<svg class=\"spread\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %u\" "
		"width=\"%d\" height=\"%u\" role=\"img\"><title>Incident %u: who infected "
		"whom</title>\n",
		CH_W, h, CH_W, h, in->id);
	/* The edges first, under the hosts: from the infector's lane at the
	 * time of its first contact down to the host's first probe.  An
	 * infector always comes before its host (tree_order()), so a host
	 * drawn has its infector drawn. */
	for (size_t i = 0; i < shown; i++) {
		const struct hostrec *r = k[i].t->rec;
		long pi = k[i].parent;
		double xe, xp;

		if (pi < 0)
			continue;
		xe = SP_LEFT + w * (double)(r->infected_us - t0) / span;
		xp = SP_LEFT + w * (double)(k[i].probe_us - t0) / span;
		ro_puts(o, "<path class=\"edge\"");
		attr(o, "data-from", addr_ntop(report_rec_name(k[pi].t->rec), a));
		attr(o, "data-to", addr_ntop(report_rec_name(r), a));
		ro_printf(o, " data-proto=\"%s\" data-port=\"%u\"",
			  proto_bit_name(r->infected_proto), r->infected_port);
		attr_ts(o, "data-ts", r->infected_us);
		ro_printf(o, " d=\"M%.1f %.1fV%.1fH%.1f\"><title>%s/%u at %s</title></path>\n", xe,
			  14 + (double)pi * SP_ROW, 14 + (double)i * SP_ROW, xp,
			  proto_bit_name(r->infected_proto), r->infected_port,
			  short_ts(r->infected_us, false, b));
	}
	for (size_t i = 0; i < shown; i++) {
		const struct hostrec *r = k[i].t->rec;
		double y = 14 + (double)i * SP_ROW;
		double xp = SP_LEFT + w * (double)(k[i].probe_us - t0) / span;
		double xd = SP_LEFT + w * (double)(MAX(k[i].t->ts, k[i].probe_us) - t0) / span;
		enum host_state st = report_count_state(r, m->offline);

		ro_printf(o, "<g class=\"spread-host%s\" data-order=\"%zu\"", k[i].pz ? " pz" : "",
			  i + 1);
		attr(o, "data-host", addr_ntop(report_rec_name(r), a));
		attr_ts(o, "data-probe", k[i].probe_us);
		attr_ts(o, "data-detect", k[i].t->ts);
		ro_printf(o, " data-state=\"%s\"%s data-depth=\"%u\"", host_state_name(st),
			  k[i].pz ? " data-patient-zero=\"true\"" : "", k[i].depth);
		if (k[i].parent >= 0)
			attr(o, "data-infected-by",
			     addr_ntop(report_rec_name(k[k[i].parent].t->rec), a));
		ro_puts(o, ">");
		/* Indented by depth in the tree, a few levels at most: the
		 * label column is 250 pixels. */
		ro_printf(o, "<text x=\"%u\" y=\"%.1f\">%zu. ", 4 + 10 * MIN(k[i].depth, 6u), y + 4,
			  i + 1);
		host_label(o, m->e, r);
		ro_puts(o, "</text>");
		ro_printf(o,
			  "<line class=\"lane\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>"
			  "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"%s\"/>",
			  xp, y, xd, y, xp, y, k[i].pz ? "#d64545" : "#555", xd - 4, y - 4,
			  state_colour[st]);
		ro_printf(o, "<title>probing from %s, detected %s, now %s</title></g>\n",
			  short_ts(k[i].probe_us, false, b), short_ts(k[i].t->ts, false, c),
			  host_state_name(st));
	}
	ro_printf(o,
		  "<text class=\"xlabel\" x=\"%d\" y=\"%u\">%s</text>"
		  "<text class=\"xlabel\" x=\"%d\" y=\"%u\" text-anchor=\"end\">%s</text>\n",
		  SP_LEFT, h - 4, axis_ts(t0, span < 3600.0 * USEC_PER_SEC ? 1 : 60, b),
		  CH_W - SP_RIGHT, h - 4, axis_ts(t1, span < 3600.0 * USEC_PER_SEC ? 1 : 60, c));
	ro_puts(o, "</svg>\n");
	if (shown < n)
		ro_printf(o,
			  "<p class=\"more\">and %zu more hosts (quarantinectl incident %u)</p>\n",
			  n - shown, in->id);
	ro_puts(o, "</section>\n");
}

static void incidents(struct rout *o, const struct page *p, unsigned nincidents)
{
	const struct timeline *t = &p->m->t;
	unsigned drawn = 0;

	ro_printf(o, "<h2>Spread from patient zero</h2>\n<div id=\"incidents\" data-open=\"%u\">\n",
		  nincidents);
	ro_puts(o, "<p class=\"note\">Each open incident as a tree of who infected whom: "
		   "patient zero first, each host under the host that probed it before it began "
		   "to spread (a line at the time of that first contact; see quarantined(8), "
		   "Incidents), hosts with no known infector in the incident after, by time. "
		   "First probe: dot; detection: square, in the colour of the host's "
		   "state.</p>\n");
	if (!nincidents)
		ro_puts(o, "<p>No open incident.</p>\n");
	for (size_t i = 0, k; i < t->n; i += k) {
		const struct incident *in = report_incident(p->m, t->v[i].id);

		k = report_tl_run(t, i);
		if (!in)
			continue;
		if (drawn == HTML_MAX_INCIDENTS) {
			ro_printf(o,
				  "<p class=\"more\">and %u more open incidents (quarantinectl "
				  "incidents)</p>\n",
				  nincidents - drawn);
			break;
		}
		spread(o, p, in, &p->spread[i], k);
		drawn++;
	}
	ro_puts(o, "</div>\n");
}

static void actions(struct rout *o, const struct page *p)
{
	const struct report_model *m = p->m;
	unsigned shown = MIN(p->nactions, HTML_MAX_ACTIONS);
	char a[ADDR_STRLEN], b[32];

	ro_printf(o,
		  "<h2>Open actions</h2>\n<table id=\"actions\" data-blocked=\"%u\" "
		  "data-shown=\"%u\">\n<thead><tr><th>host</th><th>level</th><th>state</th>"
		  "<th>since (UTC)</th><th>TTL left</th><th>rules</th><th>where</th></tr></thead>"
		  "\n<tbody>\n",
		  p->nactions, shown);
	if (!p->nactions)
		ro_puts(o, "<tr><td colspan=\"7\">No host is blocked.</td></tr>\n");
	for (unsigned i = 0; i < shown; i++) {
		const struct hostrec *r = p->actions[i];
		const struct inv_entry *v = engine_inventory(m->e, r);
		enum level lv = report_block_level(r, m->offline);
		usec_t since = m->offline ? report_block_ts(r, true) : r->changed_us;

		ro_puts(o, "<tr class=\"action\"");
		attr(o, "data-host", addr_ntop(report_rec_name(r), a));
		ro_printf(o, " data-level=\"%s\"><td>", level_name(lv));
		host_label(o, m->e, r);
		ro_printf(o, "</td><td>%s</td><td>%s</td><td>%s</td><td>", level_name(lv),
			  host_state_name(report_count_state(r, m->offline)),
			  short_ts(since, false, b));
		if (!r->expires_us)
			ro_puts(o, m->offline ? "-" : "no TTL");
		else if (r->expires_us > m->now)
			ro_puts(o, duration(r->expires_us - m->now, b));
		else
			ro_puts(o, "expiring");
		ro_puts(o, "</td><td>");
		for (unsigned j = 0; j < MIN(r->nhits, HOSTDB_MAX_HITS); j++) {
			ro_puts(o, j ? ", " : "");
			ro_html(o, report_rule_name(m->e, r->hits[j].rule));
		}
		if (!r->nhits)
			ro_html(o, r->reason[0] ? r->reason : "manual");
		ro_puts(o, "</td><td>");
		if (v) {
			ro_html(o, v->department);
			if (v->floor[0]) {
				ro_puts(o, v->department[0] ? ", floor " : "floor ");
				ro_html(o, v->floor);
			}
			if (v->owner[0]) {
				ro_puts(o, " / ");
				ro_html(o, v->owner);
			}
		}
		ro_puts(o, "</td></tr>\n");
	}
	if (shown < p->nactions)
		ro_printf(o,
			  "<tr class=\"more\"><td colspan=\"7\">and %u more (quarantinectl list "
			  "--wide)</td></tr>\n",
			  p->nactions - shown);
	ro_puts(o, "</tbody></table>\n");
}

int report_render_html(struct rout *o, const struct report_model *m)
{
	struct page *p = calloc(1, sizeof(*p));
	unsigned nincidents = 0;
	char b[32];
	int r;

	if (!p)
		return -ENOMEM;
	r = page_init(p, m);
	if (r < 0) {
		free(p);
		return r;
	}
	charts_fill(p);
	for (size_t i = 0; i < m->t.n; i += report_tl_run(&m->t, i))
		nincidents += report_incident(m, m->t.v[i].id) != NULL;

	ro_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		   "<meta name=\"viewport\" content=\"width=device-width\">\n"
		   "<title>quarantined: outbreak report</title>\n<style>\n");
	ro_puts(o, page_css);
	ro_puts(o, "</style>\n</head>\n");
	ro_printf(o, "<body data-by=\"%s\" data-offline=\"%s\"", report_by_name(m->by),
		  m->offline ? "true" : "false");
	attr_ts(o, "data-ts", m->now);
	ro_printf(o, ">\n<h1>Outbreak report</h1>\n<p class=\"meta\">%s UTC, by %s",
		  short_ts(m->now, false, b), report_by_name(m->by));
	if (m->offline)
		ro_puts(o, "; offline (a capture file): nothing was enforced, hosts count under "
			   "the level policy decided");
	ro_puts(o, ".</p>\n");
	summary(o, p, nincidents);

	ro_printf(o,
		  "<h2>Outbreak timeline</h2>\n<p class=\"note\">Hosts detected and blocked "
		  "per period, by %s%s.</p>\n",
		  report_by_name(m->by),
		  m->by == REPORT_BY_RULE ? " (a host under its first rule)" : "");
	chart_render(o, &p->ch[0]);
	chart_render(o, &p->ch[1]);

	incidents(o, p, nincidents);

	ro_puts(o, "<h2>Hosts by state</h2>\n");
	counts_table(o, p->by[m->by], m->by, true);
	for (unsigned i = 0; i < 4; i++)
		if (i != (unsigned)m->by)
			counts_table(o, p->by[i], (enum report_by)i, false);

	certification(o, p);
	actions(o, p);
	ro_printf(o,
		  "<p class=\"note\">Lists are cut at %d groups, %d incidents of %d hosts and "
		  "%d actions; quarantinectl has the rest.</p>\n</body>\n</html>\n",
		  HTML_MAX_GROUP_ROWS, HTML_MAX_INCIDENTS, HTML_MAX_SPREAD, HTML_MAX_ACTIONS);
	page_fini(p);
	free(p);
	return 0;
}
