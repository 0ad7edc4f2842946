/* Unit tests of the incident report: grouping by department, floor, owner
 * and rule, offline counting, open incidents and their timelines, JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "output.h"
#include "report.h"
#include "report_model.h"

#define T0  (1767000000ULL * USEC_PER_SEC)
#define SEC USEC_PER_SEC

/* Small detector tables: the report reads only the registry. */
static const char conf_text[] =
	"limits: { max_hosts = 16; max_probes = 1024; max_peers = 1024; };\n"
	"inventory = (\n"
	"  { net = \"10.1.1.0/24\"; department = \"finance\"; floor = \"3\"; owner = \"IT "
	"Finance\"; },\n"
	"  { net = \"10.1.1.23\"; name = \"ws-023\"; department = \"finance\"; floor = 3; owner = "
	"\"Alice\"; },\n"
	"  { net = \"10.1.2.0/24\"; department = \"hr\"; floor = 2; owner = \"HR\"; },\n"
	"  { net = \"10.1.3.0/24\"; department = \"it\"; floor = 3; },\n"
	"  { net = \"2001:db8:1::/48\"; department = \"research \\\"lab\\\"\"; floor = \"2\"; }\n"
	");\n";

struct fixture {
	struct conf c;
	struct output out;
	struct engine e;
	unsigned smb, vscan; /* rule indexes */
};

/* A sink that collects the report in memory. */
struct buf {
	char *p;
	size_t len, cap;
	unsigned writes;
};

static void buf_write(void *arg, const char *data, size_t len)
{
	struct buf *b = arg;

	assert_true(len > 0);
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	b->writes++;
}

static char *render(struct fixture *f, enum report_by by, bool json, bool offline)
{
	struct buf b = {0};
	struct report_sink sink = {.write = buf_write, .arg = &b};

	assert_int_equal(report_render(&f->e, by, json ? REPORT_JSON : REPORT_TEXT, offline,
				       T0 + 3600 * SEC, &sink),
			 0);
	assert_non_null(b.p);
	assert_true(b.len > 0 && b.p[b.len - 1] == '\n');
	return b.p;
}

static char *render_fmt(struct fixture *f, enum report_by by, enum report_format fmt, bool offline)
{
	struct buf b = {0};
	struct report_sink sink = {.write = buf_write, .arg = &b};

	assert_int_equal(report_render(&f->e, by, fmt, offline, T0 + 3600 * SEC, &sink), 0);
	assert_non_null(b.p);
	assert_true(b.len > 0 && b.p[b.len - 1] == '\n');
	return b.p;
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct hostrec *
host(struct fixture *f, const char *addr)
{
	struct qaddr a = A(addr);
	struct hostrec *r = hostdb_get(&f->e.hosts, &a);

	assert_non_null(r);
	return r;
}

/* The host is flagged by rule at t (its first probe at probe): the hit,
 * the incident, the detection times, as the engine records them. */
static unsigned flag(struct fixture *f, const char *addr, unsigned rule, usec_t probe, usec_t t,
		     enum level decided)
{
	struct hostrec *r = host(f, addr);
	const char *name = rule == DETECT_RULE_TRW ? DETECT_TRW_NAME : f->c.rules[rule].name;
	struct hit *h = hostdb_add_hit(r, rule, t);
	struct incident *in = incident_join(&f->e.incidents, rule, name, 0, &r->addr, probe, t);

	assert_non_null(h);
	assert_non_null(in);
	h->incident = in->id;
	h->level = (uint8_t)decided;
	if (r->first_detect_us == 0 || probe < r->first_probe_us)
		r->first_probe_us = probe;
	if (r->first_detect_us == 0)
		r->first_detect_us = t;
	r->last_detect_us = t;
	if (decided > r->decided)
		r->decided = (uint8_t)decided;
	return in->id;
}

/* addr was infected by by (a tcp/445 first contact at t). */
static void infected(struct fixture *f, const char *addr, const char *by, usec_t t)
{
	struct hostrec *r = host(f, addr);

	r->infected_by = host(f, by)->id;
	r->infected_proto = PROTO_TCP;
	r->infected_port = 445;
	r->infected_us = t;
}

static void set_state(struct fixture *f, const char *addr, enum host_state s)
{
	host(f, addr)->state = (uint8_t)s;
}

/* The world of every test:
 *   incident 1, smb-propagation: 10.1.1.50 (t+10), 10.1.2.7 (t+15),
 *     10.1.1.23 (t+20, patient zero: earliest probe), 10.9.9.9 (t+30),
 *     10.1.1.60 (t+35); records created out of time order.
 *   incident 2, scan-trw: 10.1.1.50 (t+40, its second rule), 10.1.3.4 (t+45)
 *   incident 3, vertical-scan: 10.1.2.8 released, 10.1.3.5 cleaned: closed
 *   2001:db8:1::5: isolated by an operator, no rule.
 * Who infected whom: 10.1.1.23 -> 10.1.1.50 -> 10.1.2.7, 10.1.1.23 ->
 * 10.1.1.60; 10.9.9.9 by nobody known; 10.1.3.4 by 10.1.2.7, of another
 * incident (no edge in incident 2). */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct conf_diags d;
	char path[] = "/tmp/qd-report-XXXXXX";
	int fd, r;

	assert_non_null(f);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, conf_text, strlen(conf_text)), (ssize_t)strlen(conf_text));
	close(fd);
	r = conf_load(&f->c, path, &d);
	unlink(path);
	for (unsigned i = 0; r < 0 && i < d.n; i++)
		print_message("diag: %s:%d: %s\n", d.d[i].file, d.d[i].line, d.d[i].msg);
	assert_int_equal(r, 0);
	output_init(&f->out, NULL, OUTPUT_TEXT, false);
	assert_int_equal(engine_init(&f->e, &f->c, MODE_OFFLINE, &f->out, NULL, NULL), 0);
	assert_true(conf_rule_find(&f->c, "smb-propagation") >= 0);
	assert_true(conf_rule_find(&f->c, "vertical-scan") >= 0);
	f->smb = (unsigned)conf_rule_find(&f->c, "smb-propagation");
	f->vscan = (unsigned)conf_rule_find(&f->c, "vertical-scan");

	/* Registry order is not time order. */
	host(f, "10.9.9.9");
	host(f, "10.1.1.60");
	host(f, "10.1.1.23");
	host(f, "10.1.2.7");
	host(f, "10.1.1.50");

	assert_int_equal(flag(f, "10.1.1.50", f->smb, T0 + 5 * SEC, T0 + 10 * SEC, LEVEL_ISOLATE),
			 1);
	flag(f, "10.1.2.7", f->smb, T0 + 12 * SEC, T0 + 15 * SEC, LEVEL_ISOLATE);
	flag(f, "10.1.1.23", f->smb, T0 + 1 * SEC, T0 + 20 * SEC, LEVEL_ISOLATE);
	flag(f, "10.9.9.9", f->smb, T0 + 25 * SEC, T0 + 30 * SEC, LEVEL_ISOLATE);
	flag(f, "10.1.1.60", f->smb, T0 + 31 * SEC, T0 + 35 * SEC, LEVEL_ISOLATE);
	assert_int_equal(
		flag(f, "10.1.1.50", DETECT_RULE_TRW, T0 + 36 * SEC, T0 + 40 * SEC, LEVEL_CONTAIN),
		2);
	flag(f, "10.1.3.4", DETECT_RULE_TRW, T0 + 41 * SEC, T0 + 45 * SEC, LEVEL_WATCH);
	assert_int_equal(flag(f, "10.1.2.8", f->vscan, T0 + 46 * SEC, T0 + 50 * SEC, LEVEL_CONTAIN),
			 3);
	flag(f, "10.1.3.5", f->vscan, T0 + 47 * SEC, T0 + 52 * SEC, LEVEL_CONTAIN);
	host(f, "2001:db8:1::5");
	infected(f, "10.1.1.50", "10.1.1.23", T0 + 3 * SEC);
	infected(f, "10.1.2.7", "10.1.1.50", T0 + 11 * SEC);
	infected(f, "10.1.1.60", "10.1.1.23", T0 + 30 * SEC);
	infected(f, "10.1.3.4", "10.1.2.7", T0 + 40 * SEC);

	set_state(f, "10.1.1.50", HOST_ISOLATED);
	set_state(f, "10.1.2.7", HOST_CLEANING);
	set_state(f, "10.1.1.23", HOST_CONTAINED);
	set_state(f, "10.9.9.9", HOST_RELEASED);
	set_state(f, "10.1.1.60", HOST_UNCLEANABLE);
	set_state(f, "10.1.3.4", HOST_WATCHED);
	set_state(f, "10.1.2.8", HOST_RELEASED);
	set_state(f, "10.1.3.5", HOST_CLEANED);
	set_state(f, "2001:db8:1::5", HOST_ISOLATED);
	host(f, "2001:db8:1::5")->level = LEVEL_ISOLATE;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	engine_fini(&f->e);
	conf_fini(&f->c);
	free(f);
	return 0;
}

/* The figures of the text table's row whose first column is name:
 * detected .. released, then the total.  False when there is no such
 * row. */
static bool text_row(const char *text, const char *name, unsigned v[HOST_STATE_COUNT + 1])
{
	size_t nl = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, name, nl) != 0 || p[nl] != ' ')
			continue;
		const char *q = p + nl;
		for (unsigned i = 0; i <= HOST_STATE_COUNT; i++) {
			char *end;

			v[i] = (unsigned)strtoul(q, &end, 10);
			if (end == q)
				return false;
			q = end;
		}
		return *q == '\n';
	}
	return false;
}

static void assert_row(const char *text, const char *name, unsigned det, unsigned wat, unsigned con,
		       unsigned iso, unsigned cln, unsigned cld, unsigned unc, unsigned rel,
		       unsigned total)
{
	unsigned v[HOST_STATE_COUNT + 1];
	unsigned want[HOST_STATE_COUNT + 1] = {det, wat, con, iso, cln, cld, unc, rel, total};

	if (!text_row(text, name, v))
		fail_msg("no row '%s' in:\n%s", name, text);
	for (unsigned i = 0; i <= HOST_STATE_COUNT; i++)
		if (v[i] != want[i])
			fail_msg("row '%s' column %u: %u, want %u in:\n%s", name, i, v[i], want[i],
				 text);
}

static void assert_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("'%s' not in:\n%s", needle, text);
}

/* Writes json to a file and has python3 parse it (skipped without
 * python3). */
static void assert_json_parses(const char *json)
{
	char path[] = "/tmp/qd-report-json-XXXXXX", cmd[256];
	int fd = mkstemp(path);
	int r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	if (system("command -v python3 >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof(cmd),
			 "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' %s", path);
		r = system(cmd);
		if (r != 0)
			fail_msg("invalid JSON:\n%s", json);
	}
	unlink(path);
}

static void test_by_names(void **state)
{
	enum report_by by;

	(void)state;
	for (unsigned i = REPORT_BY_DEPARTMENT; i <= REPORT_BY_RULE; i++) {
		assert_int_equal(report_by_parse(report_by_name((enum report_by)i), &by), 0);
		assert_int_equal(by, i);
	}
	assert_string_equal(report_by_name(REPORT_BY_FLOOR), "floor");
	assert_int_equal(report_by_parse("building", &by), -EINVAL);
	assert_int_equal(report_by_parse("", &by), -EINVAL);
}

static void test_by_department(void **state)
{
	char *t = render(*state, REPORT_BY_DEPARTMENT, false, false);

	/*                     det wat con iso cln cld unc rel tot */
	assert_row(t, "finance", 0, 0, 1, 1, 0, 0, 1, 0, 3);
	assert_row(t, "hr", 0, 0, 0, 0, 1, 0, 0, 1, 2);
	assert_row(t, "it", 0, 1, 0, 0, 0, 1, 0, 0, 2);
	assert_row(t, "research \"lab\"", 0, 0, 0, 1, 0, 0, 0, 0, 1);
	assert_row(t, "(none)", 0, 0, 0, 0, 0, 0, 0, 1, 1); /* 10.9.9.9: no inventory */
	assert_row(t, "TOTAL", 0, 1, 1, 2, 1, 1, 1, 2, 9);
	/* By total, then name: finance, hr, it, (none), research. */
	assert_true(strstr(t, "\nfinance") < strstr(t, "\nhr"));
	assert_true(strstr(t, "\nhr") < strstr(t, "\nit"));
	assert_true(strstr(t, "\nit") < strstr(t, "\n(none)"));
	assert_true(strstr(t, "\n(none)") < strstr(t, "\nresearch"));
	assert_true(strstr(t, "\nresearch") < strstr(t, "\nTOTAL"));
	assert_has(t, "DEPARTMENT");
	assert_null(strstr(t, "Offline"));
	free(t);
}

static void test_by_floor(void **state)
{
	char *t = render(*state, REPORT_BY_FLOOR, false, false);

	/* Floor 3: 10.1.1.50, .60, .23 (its own /32 entry), 10.1.3.4, .5. */
	assert_row(t, "3", 0, 1, 1, 1, 0, 1, 1, 0, 5);
	assert_row(t, "2", 0, 0, 0, 1, 1, 0, 0, 1, 3);
	assert_row(t, "(none)", 0, 0, 0, 0, 0, 0, 0, 1, 1);
	assert_row(t, "TOTAL", 0, 1, 1, 2, 1, 1, 1, 2, 9);
	assert_has(t, "FLOOR");
	free(t);
}

static void test_by_owner(void **state)
{
	char *t = render(*state, REPORT_BY_OWNER, false, false);

	/* The most specific entry wins: 10.1.1.23 is Alice's, not IT
	 * Finance's.  The it and research entries name no owner. */
	assert_row(t, "IT Finance", 0, 0, 0, 1, 0, 0, 1, 0, 2);
	assert_row(t, "Alice", 0, 0, 1, 0, 0, 0, 0, 0, 1);
	assert_row(t, "HR", 0, 0, 0, 0, 1, 0, 0, 1, 2);
	assert_row(t, "(none)", 0, 1, 0, 1, 0, 1, 0, 1, 4);
	assert_true(strstr(t, "\n(none)") < strstr(t, "\nHR"));
	assert_true(strstr(t, "\nHR") < strstr(t, "\nIT Finance"));
	assert_true(strstr(t, "\nIT Finance") < strstr(t, "\nAlice"));
	free(t);
}

static void test_by_rule(void **state)
{
	char *t = render(*state, REPORT_BY_RULE, false, false);

	/* 10.1.1.50 counts under smb-propagation and scan-trw; the
	 * operator's host under (none); TOTAL counts each host once. */
	assert_row(t, "smb-propagation", 0, 0, 1, 1, 1, 0, 1, 1, 5);
	assert_row(t, "scan-trw", 0, 1, 0, 1, 0, 0, 0, 0, 2);
	assert_row(t, "vertical-scan", 0, 0, 0, 0, 0, 1, 0, 1, 2);
	assert_row(t, "(none)", 0, 0, 0, 1, 0, 0, 0, 0, 1);
	assert_row(t, "TOTAL", 0, 1, 1, 2, 1, 1, 1, 2, 9);
	assert_has(t, "RULE");
	free(t);
}

static void test_offline_counts_decided(void **state)
{
	char *t = render(*state, REPORT_BY_DEPARTMENT, false, true);

	/* Decided levels: every smb host isolate; 10.1.3.4 watch; the
	 * vertical-scan hosts contain; the operator's host none. */
	assert_has(t, "Offline");
	assert_row(t, "finance", 0, 0, 0, 3, 0, 0, 0, 0, 3);
	assert_row(t, "hr", 0, 0, 1, 1, 0, 0, 0, 0, 2);
	assert_row(t, "it", 0, 1, 1, 0, 0, 0, 0, 0, 2);
	assert_row(t, "research \"lab\"", 1, 0, 0, 0, 0, 0, 0, 0, 1);
	assert_row(t, "(none)", 0, 0, 0, 1, 0, 0, 0, 0, 1);
	assert_row(t, "TOTAL", 1, 1, 2, 5, 0, 0, 0, 0, 9);
	free(t);

	t = render(*state, REPORT_BY_DEPARTMENT, true, true);
	assert_has(t, "\"offline\":true");
	assert_has(t, "{\"group\":\"finance\",\"detected\":0,\"watched\":0,\"contained\":0,"
		      "\"isolated\":3,\"cleaning\":0,\"cleaned\":0,\"uncleanable\":0,"
		      "\"released\":0,\"total\":3}");
	assert_json_parses(t);
	free(t);
}

static void test_open_incidents_text(void **state)
{
	char *t = render(*state, REPORT_BY_DEPARTMENT, false, false);
	const char *i1 = strstr(t, "INCIDENT 1 "), *i2 = strstr(t, "INCIDENT 2 ");

	assert_has(t, "Open incidents: 2");
	assert_non_null(i1);
	assert_non_null(i2);
	assert_true(i1 < i2);
	/* Incident 3's hosts are released or cleaned. */
	assert_null(strstr(t, "INCIDENT 3"));
	assert_has(i1, "smb-propagation  5 hosts, 4 still open");
	assert_has(i1, "patient zero   10.1.1.23  ws-023, finance");
	assert_has(i1, "first probe    2025-12-29T09:20:01.000000Z");
	assert_has(i1, "first detect   2025-12-29T09:20:10.000000Z");
	assert_has(i1, "latest detect  2025-12-29T09:20:35.000000Z");
	/* The timeline: by detection time, with the running count. */
	{
		const char *a = strstr(i1, "2025-12-29T09:20:10.000000Z      1  10.1.1.50 ");
		const char *b = strstr(i1, "2025-12-29T09:20:15.000000Z      2  10.1.2.7  ");
		const char *c = strstr(i1, "2025-12-29T09:20:20.000000Z      3  10.1.1.23 ");
		const char *d = strstr(i1, "2025-12-29T09:20:30.000000Z      4  10.9.9.9  ");
		const char *e = strstr(i1, "2025-12-29T09:20:35.000000Z      5  10.1.1.60 ");

		if (!a || !b || !c || !d || !e)
			fail_msg("timeline of incident 1 wrong:\n%s", t);
		assert_true(a < b && b < c && c < d && d < e && e < i2);
	}
	assert_has(i2, "scan-trw  2 hosts, 2 still open");
	assert_has(i2, "patient zero   10.1.1.50  finance");
	free(t);
}

static void test_json(void **state)
{
	char *t = render(*state, REPORT_BY_DEPARTMENT, true, false);
	const char *i1, *i2, *p[5];

	assert_json_parses(t);
	assert_has(
		t,
		"{\"by\":\"department\",\"offline\":false,\"ts\":\"2025-12-29T10:20:00.000000Z\"");
	assert_true(t[0] == '{');
	assert_has(t, "{\"group\":\"finance\",\"detected\":0,\"watched\":0,\"contained\":1,"
		      "\"isolated\":1,\"cleaning\":0,\"cleaned\":0,\"uncleanable\":1,"
		      "\"released\":0,\"total\":3}");
	assert_has(t, "{\"group\":\"(none)\",");
	/* Escaped. */
	assert_has(t, "{\"group\":\"research \\\"lab\\\"\",");
	assert_has(t, "\"totals\":{\"detected\":0,\"watched\":1,\"contained\":1,\"isolated\":2,"
		      "\"cleaning\":1,\"cleaned\":1,\"uncleanable\":1,\"released\":2,"
		      "\"total\":9}");
	i1 = strstr(t, "{\"id\":1,");
	i2 = strstr(t, "{\"id\":2,");
	assert_non_null(i1);
	assert_non_null(i2);
	assert_null(strstr(t, "{\"id\":3,"));
	assert_has(i1, "{\"id\":1,\"rule\":\"smb-propagation\",\"patient_zero\":\"10.1.1.23\","
		       "\"patient_zero_name\":\"ws-023\",\"patient_zero_department\":\"finance\","
		       "\"first_ts\":\"2025-12-29T09:20:01.000000Z\","
		       "\"first_detect\":\"2025-12-29T09:20:10.000000Z\","
		       "\"last_detect\":\"2025-12-29T09:20:35.000000Z\",\"hosts\":5,"
		       "\"open_hosts\":4,\"timeline\":[");
	p[0] = strstr(i1, "{\"ts\":\"2025-12-29T09:20:10.000000Z\",\"host\":\"10.1.1.50\","
			  "\"hosts\":1,\"state\":\"isolated\"}");
	p[1] = strstr(i1, "{\"ts\":\"2025-12-29T09:20:15.000000Z\",\"host\":\"10.1.2.7\","
			  "\"hosts\":2,\"state\":\"cleaning\"}");
	p[2] = strstr(i1, "{\"ts\":\"2025-12-29T09:20:20.000000Z\",\"host\":\"10.1.1.23\","
			  "\"hosts\":3,\"state\":\"contained\",\"name\":\"ws-023\"}");
	p[3] = strstr(i1, "{\"ts\":\"2025-12-29T09:20:30.000000Z\",\"host\":\"10.9.9.9\","
			  "\"hosts\":4,\"state\":\"released\"}");
	p[4] = strstr(i1, "{\"ts\":\"2025-12-29T09:20:35.000000Z\",\"host\":\"10.1.1.60\","
			  "\"hosts\":5,\"state\":\"uncleanable\"}");
	for (unsigned i = 0; i < 5; i++)
		if (!p[i] || p[i] > i2 || (i && p[i] < p[i - 1]))
			fail_msg("timeline entry %u wrong in:\n%s", i, t);
	/* Who infected whom, in timeline order; 10.9.9.9 by nobody known. */
	assert_has(i1,
		   "],\"edges\":[{\"from\":\"10.1.1.23\",\"to\":\"10.1.1.50\","
		   "\"proto\":\"tcp\",\"port\":445,\"ts\":\"2025-12-29T09:20:03.000000Z\"},"
		   "{\"from\":\"10.1.1.50\",\"to\":\"10.1.2.7\",\"proto\":\"tcp\",\"port\":445,"
		   "\"ts\":\"2025-12-29T09:20:11.000000Z\"},"
		   "{\"from\":\"10.1.1.23\",\"to\":\"10.1.1.60\",\"proto\":\"tcp\",\"port\":445,"
		   "\"ts\":\"2025-12-29T09:20:30.000000Z\"}]}");
	assert_has(i2, "\"rule\":\"scan-trw\",\"patient_zero\":\"10.1.1.50\","
		       "\"patient_zero_department\":\"finance\",");
	/* 10.1.3.4's infector is not of incident 2. */
	assert_has(i2, "\"edges\":[]}");
	assert_true(t[strlen(t) - 2] == '}');
	free(t);

	t = render(*state, REPORT_BY_RULE, true, false);
	assert_json_parses(t);
	assert_has(t, "\"by\":\"rule\"");
	assert_has(t, "{\"group\":\"scan-trw\",\"detected\":0,\"watched\":1,\"contained\":0,"
		      "\"isolated\":1,");
	free(t);
}

static void test_incident_closes(void **state)
{
	struct fixture *f = *state;
	char *t;

	/* Every host of incident 1 released or cleaned: it is no longer
	 * listed.  Incident 2 (10.1.1.50 is in both) stays open while
	 * 10.1.3.4 is watched. */
	set_state(f, "10.1.1.50", HOST_RELEASED);
	set_state(f, "10.1.2.7", HOST_CLEANED);
	set_state(f, "10.1.1.23", HOST_RELEASED);
	set_state(f, "10.1.1.60", HOST_RELEASED);
	t = render(f, REPORT_BY_DEPARTMENT, false, false);
	assert_has(t, "Open incidents: 1");
	assert_null(strstr(t, "INCIDENT 1 "));
	assert_has(t, "INCIDENT 2 ");
	assert_has(t, "2 hosts, 1 still open");
	free(t);

	set_state(f, "10.1.3.4", HOST_RELEASED);
	t = render(f, REPORT_BY_DEPARTMENT, true, false);
	assert_json_parses(t);
	assert_has(t, "\"incidents\":[]}");
	free(t);
	t = render(f, REPORT_BY_DEPARTMENT, false, false);
	assert_has(t, "Open incidents: 0");
	assert_row(t, "TOTAL", 0, 0, 0, 1, 0, 2, 0, 6, 9);
	free(t);
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	char *t;

	hostdb_clear(&f->e.hosts);
	t = render(f, REPORT_BY_OWNER, false, false);
	assert_row(t, "TOTAL", 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_has(t, "Open incidents: 0");
	free(t);
	t = render(f, REPORT_BY_OWNER, true, false);
	assert_json_parses(t);
	assert_has(t, "\"groups\":[]");
	assert_has(t, "\"incidents\":[]}");
	free(t);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	struct buf b = {0};
	struct report_sink sink = {.write = buf_write, .arg = &b};
	struct report_sink nowrite = {0};

	assert_int_equal(report_render(&f->e, (enum report_by)7, REPORT_TEXT, false, T0, &sink),
			 -EINVAL);
	assert_int_equal(report_render(&f->e, REPORT_BY_RULE, REPORT_TEXT, false, T0, &nowrite),
			 -EINVAL);
	assert_int_equal(b.writes, 0);
}

/* ---- HTML and CSV ---- */

/* What ro_html() or ro_csv_field() make of s. */
static char *escaped(const char *s, bool csv)
{
	struct buf b = {0};
	struct report_sink sink = {.write = buf_write, .arg = &b};
	struct rout *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	o->s = &sink;
	if (csv)
		ro_csv_field(o, s);
	else
		ro_html(o, s);
	ro_flush(o);
	free(o);
	if (!b.p)
		b.p = strdup("");
	return b.p;
}

static void assert_escaped(const char *in, bool csv, const char *want)
{
	char *got = escaped(in, csv);

	if (strcmp(got, want) != 0)
		fail_msg("%s of '%s': '%s', want '%s'", csv ? "csv" : "html", in, got, want);
	free(got);
}

static void test_html_escape(void **state)
{
	(void)state;
	assert_escaped("fin-ws-11", false, "fin-ws-11");
	assert_escaped("<script>alert(\"x\")</script>", false,
		       "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
	assert_escaped("R&D 'lab'", false, "R&amp;D &#39;lab&#39;");
	/* Control characters, C1 controls and bytes that are not UTF-8. */
	assert_escaped("a\x01"
		       "b\x7f\nc",
		       false, "a?b??c");
	assert_escaped("B\xc3\xbcro \xe2\x82\xac \xf0\x9f\x94\x92", false,
		       "B\xc3\xbcro \xe2\x82\xac \xf0\x9f\x94\x92");
	assert_escaped("\xc2\x85", false, "??");
	assert_escaped("\xff\xc0\xaf", false, "???");
	assert_escaped("\xed\xa0\x80", false, "???");	   /* a surrogate */
	assert_escaped("\xe0\x80\xaf", false, "???");	   /* overlong */
	assert_escaped("\xf4\x90\x80\x80", false, "????"); /* past U+10FFFF */
	assert_escaped("x\xe2\x82", false, "x??");	   /* cut short */
	assert_escaped("", false, "");
}

static void test_csv_field(void **state)
{
	(void)state;
	assert_escaped("plain text", true, "plain text");
	assert_escaped("", true, "");
	assert_escaped("a,b", true, "\"a,b\"");
	assert_escaped("say \"hi\"", true, "\"say \"\"hi\"\"\"");
	assert_escaped("two\nlines", true, "\"two\nlines\"");
	assert_escaped("cr\r", true, "\"cr\r\"");
	/* Formula injection: a leading ', and quoted. */
	assert_escaped("=HYPERLINK(\"http://x\")", true, "\"'=HYPERLINK(\"\"http://x\"\")\"");
	assert_escaped("+1", true, "\"'+1\"");
	assert_escaped("-2+3", true, "\"'-2+3\"");
	assert_escaped("@SUM(A1)", true, "\"'@SUM(A1)\"");
	assert_escaped("\tx", true, "\"'\tx\"");
	assert_escaped("a=b", true, "a=b");
	assert_escaped("2001:db8::1", true, "2001:db8::1");
}

/* Has python3-html5lib parse html strictly (skipped without it).  apt
 * installs it for Debian's /usr/bin/python3, which need not be the
 * python3 on PATH. */
static void assert_html_parses(const char *html)
{
	static const char *const pythons[] = {"python3", "/usr/bin/python3"};
	char path[] = "/tmp/qd-report-html-XXXXXX", cmd[512];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, html, strlen(html)), (ssize_t)strlen(html));
	close(fd);
	for (unsigned i = 0; i < ARRAY_SIZE(pythons); i++) {
		snprintf(cmd, sizeof(cmd), "%s -c 'import html5lib' >/dev/null 2>&1", pythons[i]);
		if (system(cmd) != 0)
			continue;
		snprintf(cmd, sizeof(cmd),
			 "%s -c 'import html5lib,sys; "
			 "html5lib.HTMLParser(strict=True).parse(open(sys.argv[1],\"rb\"))' %s",
			 pythons[i], path);
		if (system(cmd) != 0)
			fail_msg("html5lib (strict) refused:\n%s", html);
		break;
	}
	unlink(path);
}

/* The text between needle and the next end, from text. */
static const char *section(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);

	if (!p)
		fail_msg("'%s' not in:\n%s", needle, text);
	return p;
}

static void test_html(void **state)
{
	struct fixture *f = *state;
	struct hostrec *op = host(f, "2001:db8:1::5");
	const char *i1, *i2, *p[5];
	char *t;

	/* An operator's reason is shown for a host no rule flagged. */
	snprintf(op->reason, sizeof(op->reason), "<script>alert(1)</script> & \"x\"");
	t = render_fmt(f, REPORT_BY_DEPARTMENT, REPORT_HTML, false);
	assert_html_parses(t);
	assert_true(strncmp(t, "<!DOCTYPE html>\n", 16) == 0);
	assert_true(strlen(t) > 8 && strcmp(t + strlen(t) - 8, "</html>\n") == 0);
	/* Self-contained and without script. */
	assert_null(strstr(t, "<script"));
	assert_null(strstr(t, "src="));
	assert_null(strstr(t, "href="));
	assert_has(t, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;");
	assert_has(t, "data-group=\"research &quot;lab&quot;\"");
	/* The counts, as in the JSON. */
	assert_has(t, "<tr class=\"group\" data-group=\"finance\" data-detected=\"0\" "
		      "data-watched=\"0\" data-contained=\"1\" data-isolated=\"1\" "
		      "data-cleaning=\"0\" data-cleaned=\"0\" data-uncleanable=\"1\" "
		      "data-released=\"0\" data-total=\"3\">");
	assert_has(t, "<tr class=\"totals\" data-detected=\"0\" data-watched=\"1\" "
		      "data-contained=\"1\" data-isolated=\"2\" data-cleaning=\"1\" "
		      "data-cleaned=\"1\" data-uncleanable=\"1\" data-released=\"2\" "
		      "data-total=\"9\">");
	assert_has(t, "<table id=\"counts\" class=\"counts\" data-by=\"department\"");
	assert_has(t, "class=\"counts\" data-by=\"rule\"");
	assert_has(t, "class=\"counts\" data-by=\"floor\"");
	assert_has(t, "class=\"counts\" data-by=\"owner\"");
	assert_has(t, "<div id=\"certification\" data-cleaning=\"1\" data-cleaned=\"1\" "
		      "data-uncleanable=\"1\" data-total=\"9\">");
	/* Open incidents 1 and 2, not the closed 3; incident 1 drawn as a
	 * tree from patient zero: each host under its infector, children
	 * by first probe, 10.9.9.9 (no known infector) after. */
	assert_has(t, "<div id=\"incidents\" data-open=\"2\">");
	assert_null(strstr(t, "<section class=\"incident\" data-id=\"3\""));
	i1 = section(t, "<section class=\"incident\" data-id=\"1\" data-rule=\"smb-propagation\" "
			"data-patient-zero=\"10.1.1.23\" data-hosts=\"5\" "
			"data-open-hosts=\"4\" data-shown=\"5\" data-edges=\"3\">");
	i2 = section(t, "<section class=\"incident\" data-id=\"2\" data-rule=\"scan-trw\" "
			"data-patient-zero=\"10.1.1.50\"");
	p[0] = strstr(i1, "data-order=\"1\" data-host=\"10.1.1.23\" "
			  "data-probe=\"2025-12-29T09:20:01.000000Z\" "
			  "data-detect=\"2025-12-29T09:20:20.000000Z\" data-state=\"contained\" "
			  "data-patient-zero=\"true\" data-depth=\"0\">");
	p[1] = strstr(i1, "data-order=\"2\" data-host=\"10.1.1.50\"");
	p[2] = strstr(i1, "data-order=\"3\" data-host=\"10.1.2.7\"");
	p[3] = strstr(i1, "data-order=\"4\" data-host=\"10.1.1.60\"");
	p[4] = strstr(i1, "data-order=\"5\" data-host=\"10.9.9.9\"");
	for (unsigned i = 0; i < 5; i++)
		if (!p[i] || p[i] > i2 || (i && p[i] < p[i - 1]))
			fail_msg("spread entry %u wrong in:\n%s", i, t);
	assert_has(p[2], "data-state=\"cleaning\" data-depth=\"2\" "
			 "data-infected-by=\"10.1.1.50\">");
	assert_has(p[3], "data-depth=\"1\" data-infected-by=\"10.1.1.23\">");
	assert_has(p[4], "data-state=\"released\" data-depth=\"0\">");
	/* The edges, drawn from the infector's row (row 3, y 50) to the
	 * host's (row 4, y 68) at the time of the first contact. */
	assert_has(i1, "<path class=\"edge\" data-from=\"10.1.1.23\" data-to=\"10.1.1.50\" "
		       "data-proto=\"tcp\" data-port=\"445\" "
		       "data-ts=\"2025-12-29T09:20:03.000000Z\" d=\"M");
	assert_has(i1, "<path class=\"edge\" data-from=\"10.1.1.50\" data-to=\"10.1.2.7\"");
	assert_has(i1, "<path class=\"edge\" data-from=\"10.1.1.23\" data-to=\"10.1.1.60\"");
	assert_null(strstr(i1, "data-to=\"10.9.9.9\""));
	assert_has(i2, "data-edges=\"0\">");
	/* Blocked now (live: the level in force): only the operator's
	 * host has one in this world. */
	assert_has(t, "<table id=\"actions\" data-blocked=\"1\" data-shown=\"1\">");
	assert_has(t, "<tr class=\"action\" data-host=\"2001:db8:1::5\" "
		      "data-level=\"isolate\">");
	/* Detections: every flagged host once, in the timeline charts. */
	assert_has(t, "<svg id=\"timeline-detections\"");
	assert_has(t, "data-kind=\"detections\" data-total=\"8\"");
	free(t);

	/* Offline: blocked means decided; the blocks chart counts them. */
	t = render_fmt(f, REPORT_BY_RULE, REPORT_HTML, true);
	assert_html_parses(t);
	assert_has(t, "<body data-by=\"rule\" data-offline=\"true\"");
	assert_has(t, "<table id=\"counts\" class=\"counts\" data-by=\"rule\"");
	free(t);
}

static void test_html_empty(void **state)
{
	struct fixture *f = *state;
	char *t;

	hostdb_clear(&f->e.hosts);
	t = render_fmt(f, REPORT_BY_FLOOR, REPORT_HTML, false);
	assert_html_parses(t);
	assert_has(t, "<div id=\"summary\" data-hosts=\"0\" data-blocked=\"0\" "
		      "data-open-incidents=\"0\"");
	assert_has(t, "No open incident.");
	assert_has(t, "No host is blocked.");
	free(t);
	t = render_fmt(f, REPORT_BY_FLOOR, REPORT_CSV, false);
	assert_string_equal(t, "host,state,level,since,expires,rules,mac,name,department,floor,"
			       "owner,group,reason,first_detect,blocked_at,incident,"
			       "patient_zero,infected_by,sources\r\n");
	free(t);
}

/* The page is bounded whatever the registry holds (the control socket
 * caps an answer at 64 MiB): 3000 more hosts of incident 1, all blocked,
 * give a page of fixed lists with "and N more" lines. */
static void test_html_bounded(void **state)
{
	struct fixture *f = *state;
	char a[32], prev[32] = "10.1.1.60", *t;
	size_t len;

	for (unsigned i = 0; i < 3000; i++) {
		snprintf(a, sizeof(a), "10.2.%u.%u", i / 250, i % 250 + 1);
		flag(f, a, f->smb, T0 + 60 * SEC + i * SEC, T0 + 61 * SEC + i * SEC, LEVEL_ISOLATE);
		host(f, a)->level = LEVEL_ISOLATE;
		host(f, a)->state = HOST_ISOLATED;
		/* A chain 3000 deep: each infected by the one before. */
		infected(f, a, prev, T0 + 59 * SEC + i * SEC);
		snprintf(prev, sizeof(prev), "%s", a);
	}
	t = render_fmt(f, REPORT_BY_DEPARTMENT, REPORT_HTML, false);
	len = strlen(t);
	print_message("page of 3009 hosts: %zu bytes\n", len);
	assert_true(len < 512 * 1024);
	assert_html_parses(t);
	/* 3000 + the operator's host blocked; 200 rows shown. */
	assert_has(t, "<table id=\"actions\" data-blocked=\"3001\" data-shown=\"200\">");
	assert_has(t, "and 2801 more (quarantinectl list --wide)");
	/* Incident 1: 3005 hosts, 60 drawn. */
	assert_has(t, "data-hosts=\"3005\" data-open-hosts=\"3004\" data-shown=\"60\" "
		      "data-edges=\"3003\">");
	/* Down the chain from 10.1.1.60 (row 4): row 60 is 56 deep. */
	assert_has(t, "data-order=\"60\" data-host=\"10.2.0.56\"");
	assert_has(t, "data-depth=\"57\" data-infected-by=\"10.2.0.55\">");
	assert_has(t, "and 2945 more hosts (quarantinectl incident 1)");
	/* Timeline bars: at most 48 per chart, every host counted. */
	assert_has(t, "data-kind=\"detections\" data-total=\"3008\"");
	free(t);
}

/* Chains of infectors that loop (a host released and infected again by
 * its own victim) are drawn all the same, each host once: patient zero
 * stays the first root, and the first host of a loop becomes a root. */
static void test_html_tree_loops(void **state)
{
	struct fixture *f = *state;
	const char *i1, *i2;
	char *t;

	infected(f, "10.1.1.23", "10.1.1.60", T0 + 40 * SEC);
	infected(f, "10.9.9.9", "10.1.1.60", T0 + 40 * SEC);
	infected(f, "10.1.1.60", "10.9.9.9", T0 + 41 * SEC);
	t = render_fmt(f, REPORT_BY_DEPARTMENT, REPORT_HTML, false);
	assert_html_parses(t);
	i1 = section(t, "<section class=\"incident\" data-id=\"1\"");
	i2 = section(t, "<section class=\"incident\" data-id=\"2\"");
	/* The tree's edges: not patient zero's, nor the one that closes
	 * the loop (the JSON lists all five). */
	assert_has(i1, "data-edges=\"3\">");
	assert_has(i1, "data-order=\"1\" data-host=\"10.1.1.23\"");
	assert_has(i1, "data-order=\"2\" data-host=\"10.1.1.50\"");
	assert_has(i1, "data-order=\"3\" data-host=\"10.1.2.7\"");
	/* 10.9.9.9 (first probe 25 s) before 10.1.1.60 (31 s): the root. */
	assert_has(i1, "data-order=\"4\" data-host=\"10.9.9.9\"");
	assert_has(i1, "data-order=\"5\" data-host=\"10.1.1.60\"");
	assert_true(strstr(i1, "data-order=\"6\"") == NULL || strstr(i1, "data-order=\"6\"") > i2);
	free(t);
}

/* The CSV row of host, "" when none. */
static char *csv_row_of(const char *csv, const char *host)
{
	size_t hl = strlen(host);

	for (const char *p = csv; *p;) {
		const char *e = strstr(p, "\r\n");

		assert_non_null(e);
		if (strncmp(p, host, hl) == 0 && p[hl] == ',')
			return strndup(p, (size_t)(e - p));
		p = e + 2;
	}
	return strdup("");
}

static void test_csv(void **state)
{
	struct fixture *f = *state;
	struct hostrec *op = host(f, "2001:db8:1::5");
	unsigned rows = 0;
	char *t, *r;

	snprintf(op->reason, sizeof(op->reason), "=cmd|' /C calc'!A0, \"really\"");
	t = render_fmt(f, REPORT_BY_DEPARTMENT, REPORT_CSV, false);
	for (const char *p = t; (p = strstr(p, "\r\n")); p += 2)
		rows++;
	/* The header and one row per host; every line ends CRLF. */
	assert_int_equal(rows, 1 + 9);
	assert_null(strstr(t, "\n\n"));
	r = csv_row_of(t, "10.1.1.50");
	/* Its first incident (smb-propagation) and that one's patient zero. */
	assert_string_equal(r, "10.1.1.50,isolated,none,,,\"smb-propagation scan-trw\",,,"
			       "finance,3,IT Finance,finance,,2025-12-29T09:20:10.000000Z,,1,"
			       "10.1.1.23,10.1.1.23,self");
	free(r);
	/* Its infector named even when of another incident. */
	r = csv_row_of(t, "10.1.3.4");
	assert_true(strlen(r) > 14 && strcmp(r + strlen(r) - 14, ",10.1.2.7,self") == 0);
	free(r);
	r = csv_row_of(t, "2001:db8:1::5");
	assert_string_equal(r, "2001:db8:1::5,isolated,isolate,,never,,,,\"research \"\"lab\"\"\","
			       "2,,\"research \"\"lab\"\"\",\"'=cmd|' /C calc'!A0, "
			       "\"\"really\"\"\",,,,,,");
	free(r);
	free(t);
}

/* A host that several rules flag into one incident (a worm scans as it
 * spreads) is one host of it, listed once. */
static void test_host_once_per_incident(void **state)
{
	struct fixture *f = *state;
	struct hostrec *r = host(f, "10.1.1.60");
	struct hit *h = hostdb_add_hit(r, f->vscan, T0 + 33 * SEC);
	char *t;

	assert_non_null(h);
	h->incident = 1;
	t = render(f, REPORT_BY_DEPARTMENT, true, false);
	assert_has(t, "\"hosts\":5,\"open_hosts\":4,\"timeline\":[");
	/* Listed at its earliest hit of the incident, once. */
	assert_has(t, "{\"ts\":\"2025-12-29T09:20:33.000000Z\",\"host\":\"10.1.1.60\","
		      "\"hosts\":5,");
	assert_null(strstr(t, "\"hosts\":6,"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_names),
		cmocka_unit_test_setup_teardown(test_by_department, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_floor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offline_counts_decided, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_incidents_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incident_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_csv_field),
		cmocka_unit_test_setup_teardown(test_html, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html_tree_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_once_per_incident, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
