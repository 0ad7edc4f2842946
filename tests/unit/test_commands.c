/* Unit tests of the control commands (commands.c) as the daemon runs
 * them: commands_handle() on a daemon whose engine enforces through a
 * recording back end, so that what reaches the "kernel" can be checked.
 * The numbers a request carries (TTLs, incident ids) are validated whole
 * before anything changes. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon.h"
#include "report.h"
#include "state.h"
#include "statedb.h"

/* The elements put in the kernel, as a list of adds and deletes. */
struct fake {
	struct {
		enum nft_set set;
		struct nft_elem e;
	} el[64];
	unsigned n;
	unsigned commits;
};

static int find(const struct fake *f, enum nft_set s, const struct nft_elem *e)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->el[i].set == s && addr_eq(&f->el[i].e.addr, &e->addr) &&
		    addr_eq(&f->el[i].e.dst, &e->dst) && f->el[i].e.l4proto == e->l4proto &&
		    f->el[i].e.port == e->port)
			return (int)i;
	return -1;
}

static int fake_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	struct fake *f = arg;

	f->commits++;
	for (unsigned i = 0; i < nops; i++)
		for (unsigned j = 0; j < ops[i].nelems; j++) {
			int k = find(f, ops[i].set, &ops[i].elems[j]);

			if (ops[i].del) {
				if (k >= 0)
					f->el[k] = f->el[--f->n];
			} else if (k < 0) {
				assert_true(f->n < ARRAY_SIZE(f->el));
				f->el[f->n].set = ops[i].set;
				f->el[f->n].e = ops[i].elems[j];
				f->n++;
			} else {
				f->el[k].e = ops[i].elems[j];
			}
		}
	return 0;
}

struct fix {
	struct conf c;
	struct fake k;
	struct daemon d;
	char *events;
	size_t events_len;
	char body[4096];
	char msg[CTL_VALUE_MAX];
	unsigned steps; /* calls the last command() took */
	char *full;	/* the last command()'s whole answer, or NULL */
};

/* The inventory the list tests read: names longer than any column. */
static const char inventory_text[] =
	"inventory = (\n"
	"  { net = \"10.2.0.0/24\"; department = \"Finance and Controlling Department\";\n"
	"    floor = \"3\"; owner = \"Jean-Baptiste Emmanuel Zorg\"; },\n"
	"  { net = \"10.3.0.0/24\"; department = \"finance\"; floor = \"12\"; },\n"
	"  { net = \"10.4.0.0/24\"; owner = \"Lab\"; }\n"
	");\n";

static int setup_with(void **state, const char *extra)
{
	static const char base[] = "networks: { protected = [ \"10.0.0.0/8\", \"fd00::/8\" ]; };\n"
				   "enforce: { default_ttl = \"1h\"; };\n";
	char text[4096];
	struct enforce_backend be = {.commit = fake_commit};
	struct fix *x = calloc(1, sizeof(*x));
	struct conf_diags diags;
	char path[] = "/tmp/qd-commands-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_non_null(x);
	assert_true(fd >= 0);
	snprintf(text, sizeof(text), "%s%s", base, extra);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(conf_load(&x->c, path, &diags), 0);
	unlink(path);
	/* The hosts here are judged by address (no MACs are seen). */
	x->c.identity.unverified_max = LEVEL_ISOLATE;
	be.arg = &x->k;
	enforce_init(&x->d.enf, &be);
	f = open_memstream(&x->events, &x->events_len);
	assert_non_null(f);
	output_init(&x->d.out, f, OUTPUT_JSON, false);
	x->d.c = &x->c;
	assert_int_equal(engine_init(&x->d.eng, &x->c, MODE_ENFORCE, &x->d.out, &x->d.enf, NULL),
			 0);
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, "");
}

static int setup_inventory(void **state)
{
	return setup_with(state, inventory_text);
}

static int teardown(void **state)
{
	struct fix *x = *state;

	engine_fini(&x->d.eng);
	fclose(x->d.out.stdout_fp);
	free(x->events);
	free(x->full);
	conf_fini(&x->c);
	free(x);
	return 0;
}

static void out_sink(void *arg, const char *data, size_t len)
{
	ctl_out_write(arg, data, len);
}

/* Runs one request header (without its LF) with body; returns the status
 * and leaves the message in x->msg. */
static int command(struct fix *x, const char *header, const char *body)
{
	size_t cap = strlen(header) + (body ? strlen(body) : 0) + 2;
	char *buf = malloc(cap);
	struct ctl_request req;
	struct ctl_peer peer = {.uid = 0, .privileged = true};
	struct ctl_out out = {0};
	char err[256];
	int n, status;

	assert_non_null(buf);
	n = snprintf(buf, cap, "%s\n%s", header, body ? body : "");
	assert_true(n > 0 && (size_t)n < cap);
	if (ctl_request_parse(buf, (size_t)n, &req, err, sizeof(err)) < 0)
		fail_msg("request '%s': %s", header, err);
	/* A long command takes several calls, as control.c makes them. */
	x->steps = 0;
	do {
		out.more = false;
		status = commands_handle(&x->d, &req, &peer, &out, x->msg, sizeof(x->msg));
		x->steps++;
	} while (out.more);
	/* A streamed answer (list) whole, as the control socket sends it. */
	while (out.stream.next && out.stream.next(out.stream.state, &out, CONTROL_STREAM_CHUNK))
		;
	ctl_stream_free(&out.stream);
	snprintf(x->body, sizeof(x->body), "%s", out.buf ? out.buf : "");
	free(x->full);
	x->full = out.buf; /* the whole answer, x->body its beginning */
	free(buf);
	return status;
}

static struct hostrec *host(struct fix *x, const char *s)
{
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return hostdb_find(&x->d.eng.hosts, &a);
}

/* What the daemon must refuse as a TTL, in the protocol's own field. */
static const char *const bad_ttls[] = {
	"-1",			/* strtoull made this 2^64-1 */
	"18446744073709551615", /* 2^64-1 itself */
	"99999999999999999999", /* past 2^64 */
	"366d",
	"31536001", /* a second past the maximum */
	"1y",	    /* no such unit */
	"",
	"+5",
	" 5",
	"5 ",
	"0x10",
	"12h30m",
};

static void test_quarantine_bad_ttl_changes_nothing(void **state)
{
	struct fix *x = *state;
	char hdr[256];

	for (unsigned i = 0; i < ARRAY_SIZE(bad_ttls); i++) {
		char want[128];

		snprintf(hdr, sizeof(hdr), "cmd=quarantine\thost=10.1.0.5\tttl=%s", bad_ttls[i]);
		assert_int_equal(command(x, hdr, NULL), 2);
		snprintf(want, sizeof(want), "invalid ttl '%s': ttl must be between 0 and 365d",
			 bad_ttls[i]);
		assert_string_equal(x->msg, want);
		/* Nothing changed: no record, nothing in the kernel, no event. */
		assert_null(host(x, "10.1.0.5"));
		assert_int_equal(x->k.n, 0);
		assert_int_equal(x->k.commits, 0);
		fflush(x->d.out.stdout_fp);
		assert_int_equal(x->events_len, 0);
	}
}

static void test_quarantine_bad_ttl_keeps_block(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;
	usec_t expires;

	/* A host blocked for 12 h: a later refused quarantine leaves its
	 * block and deadline alone. */
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.6\tttl=43200", NULL), 0);
	r = host(x, "10.1.0.6");
	assert_non_null(r);
	expires = r->expires_us;
	assert_int_equal(x->k.n, 1);
	assert_int_equal(x->k.el[0].e.timeout_ms, 43200ull * 1000);
	for (unsigned i = 0; i < ARRAY_SIZE(bad_ttls); i++) {
		char hdr[256];

		snprintf(hdr, sizeof(hdr), "cmd=quarantine\thost=10.1.0.6\tlevel=isolate\tttl=%s",
			 bad_ttls[i]);
		assert_int_equal(command(x, hdr, NULL), 2);
		assert_int_equal(r->expires_us, expires);
		assert_int_equal(x->k.n, 1);
		assert_int_equal(x->k.el[0].e.timeout_ms, 43200ull * 1000);
		assert_int_equal(x->k.commits, 1);
	}
}

static void test_quarantine_good_ttls(void **state)
{
	struct fix *x = *state;
	static const struct {
		const char *ttl;
		uint64_t secs;
	} good[] = {
		{"43200", 43200},	{"12h", 43200}, {"31536000", QD_TTL_MAX_S},
		{"365d", QD_TTL_MAX_S}, {"0", 0}, /* until released */
	};

	for (unsigned i = 0; i < ARRAY_SIZE(good); i++) {
		char hdr[128], a[32];
		struct hostrec *r;
		usec_t now = daemon_wall_us();

		snprintf(a, sizeof(a), "10.1.1.%u", i + 1);
		snprintf(hdr, sizeof(hdr), "cmd=quarantine\thost=%s\tttl=%s", a, good[i].ttl);
		if (command(x, hdr, NULL) != 0)
			fail_msg("ttl=%s: %s", good[i].ttl, x->msg);
		r = host(x, a);
		assert_non_null(r);
		assert_int_equal(r->level, LEVEL_ISOLATE);
		assert_int_equal(x->k.el[x->k.n - 1].e.timeout_ms, good[i].secs * 1000);
		if (good[i].secs) {
			assert_true(r->expires_us >= now + good[i].secs * USEC_PER_SEC);
			assert_true(r->expires_us <=
				    daemon_wall_us() + good[i].secs * USEC_PER_SEC);
		} else {
			assert_int_equal(r->expires_us, 0);
		}
	}
	/* Without a ttl: enforce.default_ttl. */
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.2.1", NULL), 0);
	assert_int_equal(x->k.el[x->k.n - 1].e.timeout_ms, 3600 * 1000);
}

static void test_bulk_bad_ttl_changes_nothing(void **state)
{
	struct fix *x = *state;

	for (unsigned i = 0; i < ARRAY_SIZE(bad_ttls); i++) {
		char hdr[256];

		snprintf(hdr, sizeof(hdr), "cmd=quarantine\tfrom=1\tttl=%s", bad_ttls[i]);
		assert_int_equal(command(x, hdr, "10.1.0.7\n10.1.0.8\n"), 2);
		assert_non_null(strstr(x->msg, "ttl must be between 0 and 365d"));
		assert_null(host(x, "10.1.0.7"));
		assert_null(host(x, "10.1.0.8"));
		assert_int_equal(x->k.n, 0);
		assert_int_equal(x->k.commits, 0);
	}
	assert_int_equal(command(x, "cmd=quarantine\tfrom=1\tttl=12h", "10.1.0.7\n10.1.0.8\n"), 0);
	assert_int_equal(x->k.n, 2);
	assert_int_equal(x->k.el[0].e.timeout_ms, 43200 * 1000);
	assert_int_equal(x->k.el[1].e.timeout_ms, 43200 * 1000);
}

/* A bulk import never lowers a host's level unless --force, and keeps
 * the time a block has left unless --ttl. */
static void test_bulk_never_lowers(void **state)
{
	struct fix *x = *state;
	struct hostrec *a, *b;
	usec_t deadline;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.3.1\tttl=2h", NULL), 0);
	assert_int_equal(
		command(x,
			"cmd=quarantine\thost=10.1.3.2\tlevel=contain\tproto=tcp\tports=445"
			"\tttl=2h",
			NULL),
		0);
	a = host(x, "10.1.3.1");
	b = host(x, "10.1.3.2");
	deadline = b->expires_us;
	assert_int_equal(command(x, "cmd=quarantine\tfrom=1\tlevel=contain",
				 "10.1.3.1\n10.1.3.2\n10.1.3.3\n"),
			 0);
	assert_non_null(strstr(x->msg, "1 kept at a higher level (--force lowers them)"));
	assert_int_equal(a->level, LEVEL_ISOLATE);
	/* Already contained: in place, its deadline unchanged. */
	assert_int_equal(b->level, LEVEL_CONTAIN);
	assert_true(b->expires_us >= deadline && b->expires_us <= deadline + USEC_PER_SEC);
	assert_int_equal(host(x, "10.1.3.3")->level, LEVEL_ISOLATE); /* no known ports */
	assert_int_equal(command(x, "cmd=quarantine\tfrom=1\tlevel=watch\tforce=1", "10.1.3.1\n"),
			 0);
	assert_int_equal(a->level, LEVEL_WATCH);
}

/* count_events: how many times what occurs in the events written so far. */
static unsigned count_events(struct fix *x, const char *what)
{
	unsigned n = 0;

	fflush(x->d.out.stdout_fp);
	for (const char *p = x->events; p && (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* A list given with --from has one bulk event, with its counts; each host
 * changed has its history line, and no event of its own. */
static void test_bulk_one_event(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.4.1\tttl=2h", NULL), 0);
	assert_int_equal(count_events(x, "\"event\":\"action\""), 1);
	assert_int_equal(command(x, "cmd=quarantine\tfrom=1\tlevel=contain\tttl=1h\treason=av",
				 "10.1.4.1\n10.1.4.2\n10.1.4.3\n8.8.8.8\n10.1.4.4\n"),
			 1);
	assert_int_equal(count_events(x, "\"event\":\"action\""), 1);
	assert_int_equal(count_events(x, "\"event\":\"bulk\""), 1);
	assert_non_null(strstr(x->events,
			       "\"event\":\"bulk\",\"command\":\"quarantine\","
			       "\"level\":\"contain\",\"ttl_s\":3600,\"count\":3,"
			       "\"unchanged\":0,\"kept_higher\":1,\"refused\":1,\"failed\":0,"
			       "\"by\":\"0\""));
	assert_non_null(strstr(x->events, "\"reason\":\"av\"}"));
	r = host(x, "10.1.4.3");
	assert_non_null(r);
	assert_int_equal(r->level, LEVEL_ISOLATE); /* no known ports */
	assert_true(r->nhist > 0);
	assert_int_equal(r->hist[r->nhist - 1].kind, HIST_ACTION);
	assert_string_equal(r->hist[r->nhist - 1].text, "av");
	/* A release from a list too: one event, no level. */
	assert_int_equal(command(x, "cmd=release\tfrom=1", "10.1.4.2\n10.1.4.3\n10.1.4.9\n"), 0);
	assert_int_equal(count_events(x, "\"event\":\"release\""), 0);
	assert_int_equal(count_events(x, "\"event\":\"bulk\""), 2);
	assert_non_null(strstr(x->events, "\"command\":\"release\",\"count\":2,\"unchanged\":1,"));
	assert_int_equal(r->level, LEVEL_NONE);
	assert_int_equal(r->hist[r->nhist - 1].kind, HIST_RELEASE);
}

/* A long list is applied in steps, between which the daemon's loop turns
 * (control.c calls again while out.more): the answer and the counts are
 * those of one call, JSON included. */
static void test_bulk_in_steps(void **state)
{
	struct fix *x = *state;
	enum { N = 20000 };
	char *list = malloc(N * 9 + 32);
	size_t len = 0;
	unsigned lines = 0, commas = 0;

	assert_non_null(list);
	len += (size_t)sprintf(list + len, "10.1.5.1\n");
	for (unsigned i = 0; i < N - 2; i++)
		len += (size_t)sprintf(list + len, "8.8.8.8\n");
	len += (size_t)sprintf(list + len, "10.1.5.2\n");
	assert_int_equal(command(x, "cmd=quarantine\tfrom=1\tjson=1", list), 1);
	assert_int_equal(x->steps, 2);
	assert_int_equal(host(x, "10.1.5.1")->level, LEVEL_ISOLATE);
	assert_int_equal(host(x, "10.1.5.2")->level, LEVEL_ISOLATE);
	assert_non_null(x->full);
	assert_ptr_equal(strstr(x->full, "{\"refused\":[{\"line\":2,\"text\":\"8.8.8.8\","),
			 x->full);
	for (const char *p = x->full; (p = strstr(p, "{\"line\":")); p++)
		lines++;
	for (const char *p = x->full; (p = strstr(p, "},{")); p++)
		commas++;
	assert_int_equal(lines, N - 2);
	assert_int_equal(commas, N - 3);
	assert_non_null(strstr(x->full, "}],\"applied\":2,\"unchanged\":0,\"kept_higher\":0,"
					"\"failed\":0}\n"));
	assert_int_equal(count_events(x, "\"event\":\"bulk\""), 1);
	assert_non_null(strstr(x->events, "\"count\":2,\"unchanged\":0,\"kept_higher\":0,"
					  "\"refused\":19998,\"failed\":0"));
	free(list);
}

/* show gives the ports a containment blocks, an isolated host's too. */
static void test_show_ports(void **state)
{
	struct fix *x = *state;

	assert_int_equal(
		command(x,
			"cmd=quarantine\thost=10.1.4.1\tlevel=contain\tproto=tcp\tports=445,"
			"139",
			NULL),
		0);
	assert_int_equal(command(x, "cmd=escalate\thost=10.1.4.1", NULL), 0);
	assert_int_equal(command(x, "cmd=show\thost=10.1.4.1", NULL), 0);
	assert_non_null(
		strstr(x->body, "\nports:       tcp/445,tcp/139 (isolated on all ports)\n"));
	assert_int_equal(command(x, "cmd=show\thost=10.1.4.1\tjson=1", NULL), 0);
	assert_non_null(strstr(x->body, "\"ports\":\"tcp/445,tcp/139\""));
}

/* show names who infected a host, by its address, text and JSON; null
 * when nobody is known. */
static void test_show_infected_by(void **state)
{
	struct fix *x = *state;
	struct hostrec *a, *b;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.4.1", NULL), 0);
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.4.2", NULL), 0);
	a = host(x, "10.1.4.1");
	b = host(x, "10.1.4.2");
	b->infected_by = a->id;
	b->infected_proto = PROTO_TCP;
	b->infected_port = 445;
	b->infected_us = 1767000000ULL * USEC_PER_SEC;
	assert_int_equal(command(x, "cmd=show\thost=10.1.4.2", NULL), 0);
	assert_non_null(strstr(x->body, "\ninfected by: 10.1.4.1 (tcp/445 at "));
	assert_int_equal(command(x, "cmd=show\thost=10.1.4.2\tjson=1", NULL), 0);
	assert_non_null(strstr(x->body, "\"infected_by\":{\"host\":\"10.1.4.1\",\"proto\":\"tcp\","
					"\"port\":445,\"ts\":\""));
	assert_int_equal(command(x, "cmd=show\thost=10.1.4.1\tjson=1", NULL), 0);
	assert_non_null(strstr(x->body, "\"infected_by\":null"));
	assert_int_equal(command(x, "cmd=show\thost=10.1.4.1", NULL), 0);
	assert_null(strstr(x->body, "infected by:"));
}

static unsigned in_set(const struct fake *f, enum nft_set s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n; i++)
		n += f->el[i].set == s;
	return n;
}

/* quarantine --level contain --proto P --ports N --to ADDR: contained
 * towards that destination only; show and its JSON name it; the same
 * port towards everyone takes its place. */
static void test_contain_to(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	assert_int_equal(command(x,
				 "cmd=quarantine\thost=10.1.5.1\tlevel=contain\tproto=tcp\tports=22"
				 "\tto=10.1.2.3",
				 NULL),
			 0);
	r = host(x, "10.1.5.1");
	assert_non_null(r);
	assert_int_equal(r->level, LEVEL_CONTAIN);
	assert_int_equal(in_set(&x->k, NFT_SET_CONH4), 1);
	assert_int_equal(in_set(&x->k, NFT_SET_CON4), 0);
	assert_int_equal(x->k.el[0].e.port, 22);
	assert_int_equal(x->k.el[0].e.dst.b[3], 3);
	assert_int_equal(command(x, "cmd=show\thost=10.1.5.1", NULL), 0);
	assert_non_null(strstr(x->body, "\ncontained:   tcp/22 to 10.1.2.3\n"));
	assert_non_null(strstr(x->body, "\nports:       tcp/22 to 10.1.2.3\n"));
	assert_int_equal(command(x, "cmd=show\thost=10.1.5.1\tjson=1", NULL), 0);
	assert_non_null(strstr(x->body, "\"contained_ports\":\"\","
					"\"contained_ports_to\":[{\"proto\":\"tcp\",\"port\":22,"
					"\"to\":\"10.1.2.3\"}]"));
	assert_non_null(strstr(x->body, "\"ports\":\"\",\"ports_to\":[{\"proto\":\"tcp\","
					"\"port\":22,\"to\":\"10.1.2.3\"}]"));
	/* An IPv6 host towards an IPv6 server. */
	assert_int_equal(
		command(x,
			"cmd=quarantine\thost=fd00::5\tlevel=contain\tproto=udp\tports=161,162"
			"\tto=fd00::2:3",
			NULL),
		0);
	assert_int_equal(in_set(&x->k, NFT_SET_CONH6), 2);
	/* The same port towards everyone: the narrower element goes. */
	assert_int_equal(
		command(x, "cmd=quarantine\thost=10.1.5.1\tlevel=contain\tproto=tcp\tports=22",
			NULL),
		0);
	assert_int_equal(in_set(&x->k, NFT_SET_CONH4), 0);
	assert_int_equal(in_set(&x->k, NFT_SET_CON4), 1);
	assert_int_equal(command(x, "cmd=show\thost=10.1.5.1\tjson=1", NULL), 0);
	assert_null(strstr(x->body, "ports_to"));
	/* Release takes every element. */
	assert_int_equal(command(x, "cmd=release\thost=fd00::5", NULL), 0);
	assert_int_equal(in_set(&x->k, NFT_SET_CONH6), 0);
}

/* --to is checked whole before anything changes: an address, unicast,
 * of the host's family, with --proto and --ports, at contain. */
static void test_contain_to_refused(void **state)
{
	static const struct {
		const char *req, *msg;
	} bad[] = {
		{"host=10.1.5.2\tlevel=contain\tproto=tcp\tports=22\tto=10.1.2",
		 "--to takes one unicast IPv4 or IPv6 address, not '10.1.2'"},
		{"host=10.1.5.2\tlevel=contain\tproto=tcp\tports=22\tto=224.0.0.1",
		 "--to takes one unicast"},
		{"host=10.1.5.2\tlevel=contain\tproto=tcp\tports=22\tto=02:00:00:00:00:01",
		 "--to takes one unicast"},
		{"host=10.1.5.2\tlevel=contain\tproto=tcp\tports=22\tto=fd00::1",
		 "--to fd00::1 is not of the family of 10.1.5.2"},
		{"host=10.1.5.2\tlevel=contain\tto=10.1.2.3", "--to needs --proto and --ports"},
		{"host=10.1.5.2\tlevel=isolate\tproto=tcp\tports=22\tto=10.1.2.3",
		 "--to goes with --level contain, not isolate"},
		{"host=10.1.5.2\tproto=tcp\tports=22\tto=10.1.2.3",
		 "--to goes with --level contain, not isolate"},
		{"host=10.1.5.2\tlevel=watch\tproto=tcp\tports=22\tto=10.1.2.3",
		 "--to goes with --level contain, not watch"},
	};
	struct fix *x = *state;
	char req[256];

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(req, sizeof(req), "cmd=quarantine\t%s", bad[i].req);
		assert_int_equal(command(x, req, NULL), 2);
		if (!strstr(x->msg, bad[i].msg))
			fail_msg("%s: '%s', not '%s'", bad[i].req, x->msg, bad[i].msg);
		/* No record left behind, nothing in the kernel. */
		assert_null(host(x, "10.1.5.2"));
		assert_int_equal(x->k.n, 0);
	}
}

/* Escalation keeps the time left; a deadline already passed (the timer
 * has not released the host yet) is one second, never "until released". */
static void test_escalate_past_deadline(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.9\tlevel=watch\tttl=60", NULL), 0);
	r = host(x, "10.1.0.9");
	assert_non_null(r);
	assert_int_equal(r->level, LEVEL_WATCH);
	r->expires_us = daemon_wall_us() - 5 * USEC_PER_SEC;
	assert_int_equal(command(x, "cmd=escalate\thost=10.1.0.9", NULL), 0);
	assert_int_equal(r->level, LEVEL_ISOLATE);
	assert_int_equal(x->k.n, 1);
	assert_int_equal(x->k.el[0].e.timeout_ms, 1000);
	assert_int_not_equal(r->expires_us, 0);
}

/* An incident id is read whole: 2^32 + 1 is not incident 1. */
static void test_release_incident_id_strict(void **state)
{
	struct fix *x = *state;
	static const char *const bad[] = {
		"4294967297", "-4294967295", "18446744073709551617", "0", "-1", "+1", "1x", ""};
	struct hostrec *r;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.10", NULL), 0);
	r = host(x, "10.1.0.10");
	assert_non_null(r);
	assert_non_null(hostdb_add_hit(r, 0, daemon_wall_us()));
	r->hits[0].incident = 1;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		char hdr[128];

		snprintf(hdr, sizeof(hdr), "cmd=release\tincident=%s", bad[i]);
		assert_int_equal(command(x, hdr, NULL), 2);
		assert_int_equal(r->level, LEVEL_ISOLATE);
	}
	assert_int_equal(command(x, "cmd=release\tincident=1", NULL), 0);
	assert_int_equal(r->level, LEVEL_NONE);
}

/* A bulk release keeps uncleanable hosts isolated unless asked, says so,
 * and an incident id that names nothing is an error, not "0 released". */
static void test_bulk_release_keeps_uncleanable(void **state)
{
	struct fix *x = *state;
	struct hostrec *a, *b;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.10", NULL), 0);
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.11", NULL), 0);
	assert_int_equal(command(x, "cmd=mark\thost=10.1.0.11\tstate=uncleanable", NULL), 0);
	a = host(x, "10.1.0.10");
	b = host(x, "10.1.0.11");
	assert_non_null(hostdb_add_hit(a, 0, daemon_wall_us()));
	a->hits[0].incident = 4;
	assert_non_null(hostdb_add_hit(b, 0, daemon_wall_us()));
	b->hits[0].incident = 4;

	assert_int_equal(command(x, "cmd=release\tincident=9", NULL), 1);
	assert_string_equal(x->msg, "no incident 9");
	assert_int_equal(command(x, "cmd=release\tincident=4", NULL), 0);
	assert_non_null(strstr(x->msg, "released 1 hosts; 1 uncleanable kept isolated"));
	assert_int_equal(a->level, LEVEL_NONE);
	assert_int_equal(b->level, LEVEL_ISOLATE);
	assert_int_equal(b->state, HOST_UNCLEANABLE);
	/* Known from the records: nothing left to release, no error. */
	assert_int_equal(command(x, "cmd=release\tall=1", NULL), 0);
	assert_int_equal(b->level, LEVEL_ISOLATE);
	assert_int_equal(command(x, "cmd=release\tincident=4\tinclude_uncleanable=1", NULL), 0);
	assert_string_equal(x->msg, "released 1 hosts");
	assert_int_equal(b->level, LEVEL_NONE);
	assert_int_equal(command(x, "cmd=release\tincident=4", NULL), 0);
	assert_string_equal(x->msg, "released 0 hosts");
}

/* A new level without --ttl keeps the time a block has left (and a
 * block without limit stays so, though enforce.default_ttl is 1h here);
 * --ttl restarts the clock. */
static void test_level_change_keeps_ttl(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;
	usec_t deadline;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.2.1\tttl=2h", NULL), 0);
	r = host(x, "10.1.2.1");
	deadline = r->expires_us;
	assert_true(deadline > daemon_wall_us() + 7100 * USEC_PER_SEC);
	assert_int_equal(
		command(x, "cmd=quarantine\thost=10.1.2.1\tlevel=contain\tproto=tcp\tports=445",
			NULL),
		0);
	assert_int_equal(r->level, LEVEL_CONTAIN);
	/* The same deadline, to the second act_ttl_left() rounds up to. */
	assert_true(r->expires_us >= deadline && r->expires_us <= deadline + USEC_PER_SEC);
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.2.1", NULL), 0);
	assert_int_equal(r->level, LEVEL_ISOLATE);
	assert_true(r->expires_us >= deadline && r->expires_us <= deadline + USEC_PER_SEC);
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.2.1\tttl=30m", NULL), 0);
	assert_true(r->expires_us <= daemon_wall_us() + 1800 * USEC_PER_SEC);

	/* Without limit, it stays so; a host not blocked gets the default. */
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.2.2\tttl=0", NULL), 0);
	r = host(x, "10.1.2.2");
	assert_int_equal(
		command(x, "cmd=quarantine\thost=10.1.2.2\tlevel=contain\tproto=tcp\tports=445",
			NULL),
		0);
	assert_int_equal(r->level, LEVEL_CONTAIN);
	assert_true(r->expires_us == 0);
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.2.3", NULL), 0);
	r = host(x, "10.1.2.3");
	assert_true(r->expires_us > daemon_wall_us() + 3500 * USEC_PER_SEC);
}

static void test_ttl_parse(void **state)
{
	uint64_t v = 4711;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(bad_ttls); i++) {
		assert_true(ttl_parse(bad_ttls[i], &v) < 0);
		assert_int_equal(v, 4711); /* untouched */
	}
	assert_int_equal(ttl_parse("366d", &v), -ERANGE);
	assert_int_equal(ttl_parse("31536001", &v), -ERANGE);
	assert_int_equal(ttl_parse("18446744073709551615", &v), -ERANGE);
	assert_int_equal(ttl_parse("99999999999999999999", &v), -ERANGE);
	assert_int_equal(ttl_parse("-1", &v), -EINVAL);
	assert_int_equal(ttl_parse("1y", &v), -EINVAL);
	assert_int_equal(ttl_parse("", &v), -EINVAL);
	assert_int_equal(ttl_parse("12h", &v), 0);
	assert_int_equal(v, 43200);
	assert_int_equal(ttl_parse("365d", &v), 0);
	assert_int_equal(v, QD_TTL_MAX_S);
	assert_int_equal(ttl_parse("525600m", &v), 0);
	assert_int_equal(v, QD_TTL_MAX_S);
	assert_int_equal(ttl_parse("0", &v), 0);
	assert_int_equal(v, 0);
}

/* events: the recent events kept, in the format asked for, those since a
 * time when given; --follow marks the answer for the control socket to
 * keep the connection. */
static void test_events(void **state)
{
	struct fix *x = *state;
	static char buf[512];
	struct ctl_request req;
	struct ctl_peer peer = {.uid = 0, .privileged = true};
	struct ctl_out out = {0};
	char err[256];
	int n;

	assert_int_equal(evring_init(&x->d.recent, 16, 1 << 20), 0);
	assert_int_equal(evring_add(&x->d.recent, 1000, "T1 detect host=10.1.0.1", "{\"n\":1}"), 0);
	assert_int_equal(evring_add(&x->d.recent, 3000, "T3 action host=10.1.0.1", "{\"n\":3}"), 0);
	/* A capture clock a little behind the daemon's: kept in the order
	 * of emission, chosen by its own time. */
	assert_int_equal(evring_add(&x->d.recent, 2000, "T2 detect host=10.1.0.2", "{\"n\":2}"), 0);

	assert_int_equal(command(x, "cmd=events", NULL), 0);
	assert_string_equal(x->body, "T1 detect host=10.1.0.1\nT3 action host=10.1.0.1\n"
				     "T2 detect host=10.1.0.2\n");
	assert_string_equal(x->msg, "");
	assert_int_equal(command(x, "cmd=events\tsince=1970-01-01T00:00:00.002Z\tjson=1", NULL), 0);
	assert_string_equal(x->body, "{\"n\":3}\n{\"n\":2}\n");
	assert_int_equal(command(x, "cmd=events\tsince=1970-01-01T00:00:00.003001Z", NULL), 0);
	assert_string_equal(x->body, "");
	/* An hour ago: after every kept event (their times are in 1970). */
	assert_int_equal(command(x, "cmd=events\tsince=1h", NULL), 0);
	assert_string_equal(x->body, "");
	assert_int_equal(command(x, "cmd=events\tsince=-5", NULL), 2);
	assert_int_equal(command(x, "cmd=events\tsince=99999999999999999999999", NULL), 2);

	n = snprintf(buf, sizeof(buf),
		     "cmd=events\tfollow=1\tjson=1\tsince=1970-01-01T00:00:00.003Z\n");
	assert_int_equal(ctl_request_parse(buf, (size_t)n, &req, err, sizeof(err)), 0);
	assert_int_equal(commands_handle(&x->d, &req, &peer, &out, x->msg, sizeof(x->msg)), 0);
	assert_true(out.follow);
	assert_true(out.follow_json);
	assert_string_equal(out.buf, "{\"n\":3}\n");
	free(out.buf);
	/* Following without since: from now on only. */
	memset(&out, 0, sizeof(out));
	n = snprintf(buf, sizeof(buf), "cmd=events\tfollow=1\n");
	assert_int_equal(ctl_request_parse(buf, (size_t)n, &req, err, sizeof(err)), 0);
	assert_int_equal(commands_handle(&x->d, &req, &peer, &out, x->msg, sizeof(x->msg)), 0);
	assert_true(out.follow);
	assert_false(out.follow_json);
	assert_int_equal(out.len, 0);
	free(out.buf);
	evring_fini(&x->d.recent);
}

/* ---- list: the narrow table, --wide, filters ---- */

static unsigned rule_index(const struct fix *x, const char *name)
{
	for (unsigned i = 0; i < x->c.nrules; i++)
		if (strcmp(x->c.rules[i].name, name) == 0)
			return i;
	fail_msg("no rule %s", name);
	return 0;
}

/* The line of body that starts with prefix, copied to buf; NULL when
 * none does. */
static const char *line_of(const char *body, const char *prefix, char *buf, size_t len)
{
	for (const char *p = body; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			snprintf(buf, len, "%.*s", (int)n, p);
			return buf;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static unsigned count_lines(const char *body)
{
	unsigned n = 0;

	for (const char *p = body; *p; p++)
		n += *p == '\n';
	return n;
}

/* Hosts of every kind the table meets: long inventory names, two rules,
 * a long IPv6 address, a released host, a block without TTL. */
static void list_hosts(struct fix *x)
{
	struct hostrec *r;
	usec_t now = daemon_wall_us();

	assert_int_equal(command(x, "cmd=quarantine\thost=10.2.0.5", NULL), 0);
	r = host(x, "10.2.0.5");
	hostdb_add_hit(r, rule_index(x, "smb-propagation"), now);
	hostdb_add_hit(r, rule_index(x, "rdp-propagation"), now);
	r->last_detect_us = now;
	assert_int_equal(command(x, "cmd=quarantine\thost=10.3.0.7\tlevel=watch\tttl=0", NULL), 0);
	r = host(x, "10.3.0.7");
	hostdb_add_hit(r, rule_index(x, "rdp-propagation"), now);
	assert_int_equal(command(x, "cmd=quarantine\thost=fd00::1234:5678:9abc:def0", NULL), 0);
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.9", NULL), 0);
	assert_int_equal(command(x, "cmd=release\thost=10.1.0.9", NULL), 0);
	assert_int_equal(command(x, "cmd=quarantine\thost=10.4.0.2\tlevel=watch", NULL), 0);
}

static void test_list_fits_80(void **state)
{
	struct fix *x = *state;
	char l[512];

	list_hosts(x);
	assert_int_equal(command(x, "cmd=list", NULL), 0);
	/* Every line fits 80 columns (79: no wrap by the terminal). */
	for (const char *p = x->body; *p;) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		if (nl - p > 79)
			fail_msg("line of %d characters: %.*s", (int)(nl - p), (int)(nl - p), p);
		p = nl + 1;
	}
	assert_non_null(line_of(x->body, "HOST            STATE       LEVEL   SINCE (UTC) RULE", l,
				sizeof(l)));
	/* Long names are cut with a mark; the first rule and a count of
	 * the others. */
	assert_non_null(line_of(x->body, "10.2.0.5 ", l, sizeof(l)));
	assert_non_null(strstr(l, " isolated    isolate "));
	assert_non_null(strstr(l, " smb-propaga~+1 Finance and Con~"));
	assert_int_equal(strlen(l), 79);
	/* A part the inventory lacks is "-", and the ones after all are
	 * left out. */
	assert_non_null(line_of(x->body, "10.3.0.7 ", l, sizeof(l)));
	assert_non_null(strstr(l, " rdp-propagati~ finance/12"));
	assert_string_equal(l + strlen(l) - 11, " finance/12");
	assert_non_null(line_of(x->body, "10.4.0.2 ", l, sizeof(l)));
	assert_string_equal(l + strlen(l) - 8, " -/-/Lab");
	/* Nothing: "-", never "never". */
	assert_non_null(line_of(x->body, "10.1.0.9 ", l, sizeof(l)));
	assert_non_null(strstr(l, " released    none "));
	assert_string_equal(l + strlen(l) - 16, "-              -");
	assert_null(strstr(x->body, "never"));
	/* The IPv6 address whole on a line of its own, its row after. */
	assert_non_null(strstr(x->body, "fd00::1234:5678:9abc:def0\n                isolated "));
	assert_int_equal(count_lines(x->body), 1 + 5 + 1);
}

static void test_list_wide(void **state)
{
	struct fix *x = *state;
	char l[512];

	list_hosts(x);
	assert_int_equal(command(x, "cmd=list\twide=1", NULL), 0);
	assert_int_equal(count_lines(x->body), 1 + 5);
	assert_non_null(line_of(x->body, "HOST ", l, sizeof(l)));
	assert_non_null(strstr(l, " EXPIRES "));
	assert_non_null(line_of(x->body, "10.2.0.5 ", l, sizeof(l)));
	assert_non_null(strstr(l, " smb-propagation,rdp-propagation "));
	assert_non_null(strstr(l, "Finance and Controlling Department floor 3 / "
				  "Jean-Baptiste Emmanuel Zorg"));
	/* A released host expires nowhere; a block without TTL never. */
	assert_non_null(line_of(x->body, "10.1.0.9 ", l, sizeof(l)));
	assert_null(strstr(l, "never"));
	assert_non_null(strstr(l, " none     "));
	assert_true(strcmp(l + strlen(l) - 1, "-") == 0);
	assert_non_null(line_of(x->body, "10.3.0.7 ", l, sizeof(l)));
	assert_non_null(strstr(l, " never "));
	assert_non_null(line_of(x->body, "fd00::1234:5678:9abc:def0 ", l, sizeof(l)));
	/* WHERE with what the entry gives, nothing dangling. */
	assert_non_null(line_of(x->body, "10.4.0.2 ", l, sizeof(l)));
	assert_string_equal(l + strlen(l) - 4, " Lab");
	assert_null(strstr(l, "/ Lab"));
}

/* ts as ISO 8601 UTC to the second, as quarantinectl sends --since. */
static const char *ts_fmt(usec_t ts, char buf[32])
{
	time_t t = (time_t)(ts / USEC_PER_SEC);
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	assert_true(strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
	return buf;
}

/* The hosts a filtered list shows, in text: their addresses in order. */
static const char *listed(struct fix *x, const char *filter)
{
	static char out[512];
	char hdr[256];
	size_t n = 0;
	bool first = true;

	snprintf(hdr, sizeof(hdr), "cmd=list\twide=1%s%s", filter[0] ? "\t" : "", filter);
	assert_int_equal(command(x, hdr, NULL), 0);
	out[0] = '\0';
	for (const char *p = x->body; *p;) {
		const char *nl = strchr(p, '\n');
		size_t w = strcspn(p, " ");

		if (!first)
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%.*s", n ? " " : "",
					      (int)w, p);
		first = false;
		p = nl + 1;
	}
	return out;
}

static void test_list_filters(void **state)
{
	struct fix *x = *state;
	char hdr[256], ts[32];

	list_hosts(x);
	assert_string_equal(listed(x, ""),
			    "10.2.0.5 10.3.0.7 fd00::1234:5678:9abc:def0 10.1.0.9 10.4.0.2");
	assert_string_equal(listed(x, "rule=rdp-propagation"), "10.2.0.5 10.3.0.7");
	assert_string_equal(listed(x, "rule=smb-propagation"), "10.2.0.5");
	assert_string_equal(listed(x, "rule=scan-trw"), "");
	/* Inventory fields: whole and without regard to case. */
	assert_string_equal(listed(x, "department=FINANCE"), "10.3.0.7");
	assert_string_equal(listed(x, "department=finance and controlling department"), "10.2.0.5");
	assert_string_equal(listed(x, "department=fin"), "");
	assert_string_equal(listed(x, "floor=3"), "10.2.0.5");
	assert_string_equal(listed(x, "floor=12\tdepartment=finance"), "10.3.0.7");
	assert_string_equal(listed(x, "floor=3\tdepartment=finance"), "");
	/* Combined with the others. */
	assert_string_equal(listed(x, "rule=rdp-propagation\tlevel=watch"), "10.3.0.7");
	assert_string_equal(listed(x, "state=released"), "10.1.0.9");
	/* Since: changed, or flagged, at or after the time. */
	host(x, "10.1.0.9")->changed_us -= 3 * 3600 * USEC_PER_SEC;
	host(x, "10.4.0.2")->changed_us -= 3 * 3600 * USEC_PER_SEC;
	host(x, "10.2.0.5")->changed_us -= 3 * 3600 * USEC_PER_SEC; /* but flagged now */
	assert_string_equal(listed(x, "since=2h"), "10.2.0.5 10.3.0.7 fd00::1234:5678:9abc:def0");
	assert_string_equal(listed(x, "since=4h"),
			    "10.2.0.5 10.3.0.7 fd00::1234:5678:9abc:def0 10.1.0.9 10.4.0.2");
	snprintf(hdr, sizeof(hdr), "since=%s", ts_fmt(daemon_wall_us() - 7200 * USEC_PER_SEC, ts));
	assert_string_equal(listed(x, hdr), "10.2.0.5 10.3.0.7 fd00::1234:5678:9abc:def0");
	snprintf(hdr, sizeof(hdr), "since=%s\tdepartment=Finance", ts);
	assert_string_equal(listed(x, hdr), "10.3.0.7");
	/* JSON keeps its shape, filtered alike. */
	assert_int_equal(command(x, "cmd=list\tjson=1\trule=smb-propagation", NULL), 0);
	assert_true(strncmp(x->body, "[{\"host\":\"10.2.0.5\",\"state\":\"isolated\"", 38) == 0);
	assert_non_null(strstr(x->body, "\"department\":\"Finance and Controlling Department\""));
	assert_null(strstr(x->body, "10.3.0.7"));
	assert_int_equal(command(x, "cmd=list\tjson=1\tfloor=99", NULL), 0);
	assert_string_equal(x->body, "[]\n");
}

/* list streams: a cursor over the registry's slots.  Between its chunks
 * hosts are removed, added and changed (a block moves a record to another
 * list); every host there for the whole stream is listed exactly once,
 * the others at most once, and the JSON stays one array. */
static void test_list_stream(void **state)
{
	enum { N = 600, GONE = 100, NEW = 100 };
	struct fix *x = *state;
	static char hdr[] = "cmd=list\tjson=1\n";
	struct ctl_request req;
	struct ctl_peer peer = {.uid = 0, .privileged = true};
	struct ctl_out out = {0};
	struct hostdb *db = &x->d.eng.hosts;
	char err[256], a[64], cmd[128];
	unsigned chunks = 0;
	bool more;

	for (unsigned k = 0; k < N; k++) {
		struct qaddr q;

		snprintf(a, sizeof(a), "10.5.%u.%u", k / 200, k % 200 + 1);
		assert_int_equal(addr_parse(a, &q), 0);
		assert_non_null(hostdb_get(db, &q));
	}
	assert_int_equal(ctl_request_parse(hdr, sizeof(hdr) - 1, &req, err, sizeof(err)), 0);
	assert_int_equal(commands_handle(&x->d, &req, &peer, &out, x->msg, sizeof(x->msg)), 0);
	assert_non_null(out.stream.next);
	do {
		more = out.stream.next(out.stream.state, &out, 2048);
		if (++chunks != 2)
			continue;
		/* After the second chunk: the last GONE hosts go, NEW come,
		 * and ten of the first ones are blocked. */
		for (unsigned k = N - GONE; k < N; k++) {
			snprintf(a, sizeof(a), "10.5.%u.%u", k / 200, k % 200 + 1);
			hostdb_remove(db, host(x, a));
		}
		for (unsigned k = N; k < N + NEW; k++) {
			struct qaddr q;

			snprintf(a, sizeof(a), "10.5.%u.%u", k / 200, k % 200 + 1);
			assert_int_equal(addr_parse(a, &q), 0);
			assert_non_null(hostdb_get(db, &q));
		}
		for (unsigned k = 0; k < 10; k++) {
			snprintf(cmd, sizeof(cmd), "cmd=quarantine\thost=10.5.0.%u", k + 1);
			assert_int_equal(command(x, cmd, NULL), 0);
		}
	} while (more);
	ctl_stream_free(&out.stream);
	/* Many chunks, never the whole at once. */
	assert_true(chunks > 10);
	assert_int_equal(out.buf[0], '[');
	assert_string_equal(out.buf + out.len - 2, "]\n");
	assert_null(strstr(out.buf, ",,"));
	assert_null(strstr(out.buf, "[,"));
	assert_null(strstr(out.buf, ",]"));
	for (unsigned k = 0; k < N + NEW; k++) {
		/* Objects by their "host" (the address is in addresses
		 * too). */
		char *p = out.buf;
		unsigned objs = 0;

		snprintf(a, sizeof(a), "\"host\":\"10.5.%u.%u\"", k / 200, k % 200 + 1);
		while ((p = strstr(p, a))) {
			objs++;
			p += strlen(a);
		}
		if (k < N - GONE && objs != 1)
			fail_msg("10.5.%u.%u listed %u times", k / 200, k % 200 + 1, objs);
		if (k >= N - GONE && objs > 1)
			fail_msg("10.5.%u.%u (added or removed) listed %u times", k / 200,
				 k % 200 + 1, objs);
	}
	free(out.buf);
}

/* report --format csv streams, a row per call here: the same file as
 * report_render() writes whole. */
static void test_report_csv_stream(void **state)
{
	struct fix *x = *state;
	static char hdr[] = "cmd=report\tformat=csv\n";
	struct ctl_request req;
	struct ctl_peer peer = {.uid = 0, .privileged = true};
	struct ctl_out out = {0}, whole = {0};
	struct report_sink sink = {.write = out_sink, .arg = &whole};
	char err[256];
	unsigned chunks = 0;

	list_hosts(x);
	assert_int_equal(ctl_request_parse(hdr, sizeof(hdr) - 1, &req, err, sizeof(err)), 0);
	assert_int_equal(commands_handle(&x->d, &req, &peer, &out, x->msg, sizeof(x->msg)), 0);
	assert_non_null(out.stream.next);
	while (out.stream.next(out.stream.state, &out, 1))
		chunks++;
	ctl_stream_free(&out.stream);
	/* Five hosts: the header with the first row, then a row a call. */
	assert_true(chunks >= 4);
	assert_int_equal(report_render(&x->d.eng, REPORT_BY_DEPARTMENT, REPORT_CSV, false,
				       daemon_wall_us(), &sink),
			 0);
	assert_non_null(out.buf);
	assert_non_null(whole.buf);
	assert_string_equal(out.buf, whole.buf);
	free(out.buf);
	free(whole.buf);
}

static void test_list_filter_errors(void **state)
{
	struct fix *x = *state;

	assert_int_equal(command(x, "cmd=list\trule=smb-propagaton", NULL), 2);
	assert_string_equal(x->msg,
			    "unknown rule 'smb-propagaton' (did you mean 'smb-propagation'?)");
	assert_int_equal(command(x, "cmd=list\trule=scan-trv", NULL), 2);
	assert_string_equal(x->msg, "unknown rule 'scan-trv' (did you mean 'scan-trw'?)");
	assert_int_equal(command(x, "cmd=list\trule=nothing-like-it", NULL), 2);
	assert_string_equal(x->msg, "unknown rule 'nothing-like-it'");
	assert_int_equal(command(x, "cmd=list\tsince=yesterday", NULL), 2);
	assert_non_null(strstr(x->msg, "invalid time 'yesterday'"));
	assert_int_equal(command(x, "cmd=list\tstate=infected", NULL), 2);
	assert_string_equal(x->body, "");
}

/* ---- purge ---- */

/* A record of address s in state st at level lv, changed age_s ago. */
static struct hostrec *aged(struct fix *x, const char *s, enum host_state st, enum level lv,
			    uint64_t age_s)
{
	struct qaddr a;
	struct hostrec *r;

	assert_int_equal(addr_parse(s, &a), 0);
	r = engine_record(&x->d.eng, &a, true, daemon_wall_us());
	assert_non_null(r);
	r->state = (uint8_t)st;
	r->level = (uint8_t)lv;
	r->changed_us = daemon_wall_us() - age_s * USEC_PER_SEC;
	hostdb_history(r, r->changed_us, HIST_RELEASE, LEVEL_NONE, -1, "aged");
	return r;
}

#define DAY (86400ull)

/* Which records a purge may take: only released or cleaned ones with
 * nothing in force, past the period, out of surveillance. */
static void aged_hosts(struct fix *x)
{
	aged(x, "10.5.0.1", HOST_RELEASED, LEVEL_NONE, 40 * DAY); /* purged */
	aged(x, "10.5.0.2", HOST_RELEASED, LEVEL_NONE, 10 * DAY); /* too recent */
	aged(x, "10.5.0.3", HOST_ISOLATED, LEVEL_ISOLATE, 40 * DAY);
	aged(x, "10.5.0.4", HOST_CLEANED, LEVEL_NONE, 40 * DAY); /* purged */
	aged(x, "10.5.0.5", HOST_UNCLEANABLE, LEVEL_ISOLATE, 40 * DAY);
	aged(x, "10.5.0.6", HOST_CLEANING, LEVEL_NONE, 40 * DAY);
	aged(x, "10.5.0.7", HOST_RELEASED, LEVEL_NONE, 40 * DAY)->surveil_until_us =
		daemon_wall_us() + DAY * USEC_PER_SEC;
	aged(x, "10.5.0.8", HOST_DETECTED, LEVEL_NONE, 40 * DAY); /* still a case */
	aged(x, "10.5.0.9", HOST_RELEASED, LEVEL_NONE, 40 * DAY)->last_detect_us =
		daemon_wall_us() - DAY * USEC_PER_SEC;		     /* flagged again yesterday */
	aged(x, "10.5.0.10", HOST_CLEANED, LEVEL_CONTAIN, 40 * DAY); /* cleaned, still held */
	aged(x, "10.5.0.11", HOST_RELEASED, LEVEL_NONE, 40 * DAY)->busy = 1;
}

static void test_purge_selection(void **state)
{
	struct fix *x = *state;
	const char *kept[] = {"10.5.0.2", "10.5.0.3", "10.5.0.5",  "10.5.0.6", "10.5.0.7",
			      "10.5.0.8", "10.5.0.9", "10.5.0.10", "10.5.0.11"};
	char *ev;

	aged_hosts(x);
	assert_int_equal(engine_purge(&x->d.eng, 30 * DAY, daemon_wall_us(), 0, NULL), 2);
	assert_null(host(x, "10.5.0.1"));
	assert_null(host(x, "10.5.0.4"));
	for (unsigned i = 0; i < ARRAY_SIZE(kept); i++)
		if (!host(x, kept[i]))
			fail_msg("%s was purged", kept[i]);
	/* The address index forgot them too. */
	{
		struct qaddr a;

		assert_int_equal(addr_parse("10.5.0.1", &a), 0);
		assert_null(hostdb_find_addr(&x->d.eng.hosts, &a));
	}
	/* One event for the run, with the count and who asked. */
	fflush(x->d.out.stdout_fp);
	ev = strstr(x->events, "\"event\":\"purge\"");
	assert_non_null(ev);
	assert_non_null(strstr(ev, "\"count\":2,\"older_than_s\":2592000,\"by\":\"0\""));
	assert_null(strstr(ev + 1, "\"event\":\"purge\""));
	/* Everything left is kept by a second run. */
	assert_int_equal(engine_purge(&x->d.eng, 30 * DAY, daemon_wall_us(), 0, NULL), 0);
	/* With no period at all, the recent release and the one flagged
	 * yesterday go too, but still nothing that is in force, in
	 * certification, watched over or queued. */
	assert_int_equal(engine_purge(&x->d.eng, 0, daemon_wall_us(), 0, NULL), 2);
	assert_null(host(x, "10.5.0.2"));
	assert_null(host(x, "10.5.0.9"));
	assert_int_equal(hostdb_count(&x->d.eng.hosts), 7);
}

/* One integer from the state database in dir. */
static long long db_count(const char *dir, const char *sql)
{
	char path[PATH_MAX + 16];
	sqlite3 *db;
	sqlite3_stmt *q;
	long long v = -1;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void test_purge_command(void **state)
{
	struct fix *x = *state;
	char dir[] = "/tmp/qd-purge-XXXXXX", path[PATH_MAX + 32];

	assert_non_null(mkdtemp(dir));
	snprintf(x->d.state_dir, sizeof(x->d.state_dir), "%s", dir);
	aged_hosts(x);
	daemon_save(&x->d);
	assert_non_null(x->d.db);
	assert_int_equal(command(x, "cmd=purge", NULL), 2);
	assert_string_equal(x->msg, "purge needs --older-than DURATION");
	assert_int_equal(command(x, "cmd=purge\tolder_than=3651d", NULL), 2);
	assert_int_equal(command(x, "cmd=purge\tolder_than=-1", NULL), 2);
	assert_int_equal(hostdb_count(&x->d.eng.hosts), 11);
	assert_int_equal(command(x, "cmd=purge\tolder_than=2592000", NULL), 0);
	assert_string_equal(x->msg, "purged 2 released hosts unchanged for 30d (their history "
				    "stays in the state database); 1 more kept while under "
				    "surveillance");
	assert_int_equal(command(x, "cmd=purge\tolder_than=30d\tjson=1", NULL), 0);
	assert_string_equal(x->body,
			    "{\"purged\":0,\"under_surveillance\":1,\"older_than_s\":2592000}\n");
	host(x, "10.5.0.7")->surveil_until_us = 0;
	assert_int_equal(command(x, "cmd=purge\tolder_than=720h", NULL), 0);
	assert_string_equal(x->msg, "purged 1 released host unchanged for 30d (their history "
				    "stays in the state database)");
	/* Saved at once: their rows are gone, the others' are there, and
	 * their history is still there. */
	assert_int_equal(db_count(dir, "SELECT count(*) FROM hosts WHERE key IN ('10.5.0.1',"
				       " '10.5.0.4', '10.5.0.7')"),
			 0);
	assert_int_equal(db_count(dir, "SELECT count(*) FROM hosts WHERE key = '10.5.0.2'"), 1);
	assert_int_equal(db_count(dir, "SELECT count(*) FROM hosts"), 8);
	assert_int_equal(db_count(dir, "SELECT count(*) FROM v1_history WHERE host = '10.5.0.1'"),
			 db_count(dir, "SELECT count(*) FROM history WHERE life NOT IN"
				       " (SELECT id FROM hosts) AND host = '10.5.0.1'"));
	statedb_detach(x->d.db, &x->d.eng);
	statedb_close(x->d.db);
	x->d.db = NULL;
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* state.purge_released: the tick purges, at most once a minute. */
static void test_purge_automatic(void **state)
{
	struct fix *x = *state;
	usec_t now = daemon_wall_us();

	assert_int_equal(x->c.state.purge_released_s, 30 * DAY);
	aged_hosts(x);
	engine_tick(&x->d.eng, now);
	assert_null(host(x, "10.5.0.1"));
	assert_null(host(x, "10.5.0.4"));
	assert_non_null(host(x, "10.5.0.2"));
	/* Released 30 days ago less a minute: due one minute later, not
	 * at the next tick. */
	aged(x, "10.5.1.1", HOST_RELEASED, LEVEL_NONE, 30 * DAY - 30);
	engine_tick(&x->d.eng, now + 40 * USEC_PER_SEC);
	assert_non_null(host(x, "10.5.1.1"));
	engine_tick(&x->d.eng, now + 61 * USEC_PER_SEC);
	assert_null(host(x, "10.5.1.1"));
	fflush(x->d.out.stdout_fp);
	assert_non_null(strstr(x->events, "\"count\":2,\"older_than_s\":2592000,\"by\":\"auto\""));
	assert_non_null(strstr(x->events, "\"count\":1,\"older_than_s\":2592000,\"by\":\"auto\""));
}

static int setup_purge(void **state)
{
	return setup_with(state, "state: { purge_released = \"30d\"; };\n");
}

/* The value of the series `series` (name and labels, whole) in a metrics
 * text; -1 when it is not there. */
static long long metric(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		if (!strchr(p, '\n'))
			break;
	}
	return -1;
}

/* `quarantinectl metrics`: the whole text (the caller frees). */
static char *metrics(struct fix *x)
{
	static char hdr[] = "cmd=metrics\n";
	struct ctl_request req;
	struct ctl_peer peer = {.uid = 0, .privileged = true};
	struct ctl_out out = {0};
	char err[256];

	assert_int_equal(ctl_request_parse(hdr, sizeof(hdr) - 1, &req, err, sizeof(err)), 0);
	assert_int_equal(commands_handle(&x->d, &req, &peer, &out, x->msg, sizeof(x->msg)), 0);
	assert_non_null(out.buf);
	assert_false(out.truncated);
	return out.buf;
}

static void detection(struct fix *x, const char *host, unsigned rule, usec_t ts)
{
	struct detection d;

	memset(&d, 0, sizeof(d));
	assert_int_equal(addr_parse(host, &d.host), 0);
	d.addr = d.host;
	d.rule = rule;
	d.rule_name = rule == DETECT_RULE_TRW ? DETECT_TRW_NAME : x->d.c->rules[rule].name;
	d.severity = SEV_LOW;
	d.proto = "tcp";
	d.first_probe_us = d.ts_us = ts;
	engine_detection(&x->d.eng, &d);
	engine_commit(&x->d.eng);
}

static void test_metrics(void **state)
{
	struct fix *x = *state;
	char series[128], name0[CONF_NAME_MAX], name1[CONF_NAME_MAX], name2[CONF_NAME_MAX];
	usec_t now = daemon_wall_us();
	struct rule tmp;
	struct conf c2;
	char *t;

	x->d.mode = MODE_ENFORCE; /* as the daemon's (the fixture sets the engine's only) */
	/* A host isolated by an operator: one host isolated, one action at
	 * isolate, the kernel's elements and the transactions as the back
	 * end saw them. */
	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.5\tlevel=isolate", NULL), 0);
	t = metrics(x);
	assert_int_equal(metric(t, "quarantined_hosts{state=\"isolated\"}"), 1);
	assert_int_equal(metric(t, "quarantined_hosts{state=\"contained\"}"), 0);
	assert_int_equal(metric(t, "quarantined_actions_total{level=\"isolate\"}"), 1);
	assert_int_equal(metric(t, "quarantined_actions_total{level=\"none\"}"), 0);
	assert_int_equal(metric(t, "quarantined_kernel_elements"), x->k.n);
	assert_int_equal(metric(t, "quarantined_nft_commit_duration_seconds_count"), x->k.commits);
	assert_int_equal(metric(t, "quarantined_nft_commit_duration_seconds_bucket{le=\"+Inf\"}"),
			 x->k.commits);
	assert_int_equal(metric(t, "quarantined_mode{mode=\"enforce\"}"), 1);
	assert_int_equal(metric(t, "quarantined_mode{mode=\"alert\"}"), 0);
	assert_int_equal(metric(t, "quarantined_paused"), 0);
	/* Every family is there before its first event; nothing of
	 * OpenMetrics. */
	assert_int_equal(metric(t, "quarantined_rate_limited_total"), 0);
	assert_int_equal(metric(t, "quarantined_state_save_duration_seconds_count"), 0);
	assert_null(strstr(t, "# EOF"));
	assert_null(strstr(t, "_created"));
	free(t);

	/* Detections counted by rule, the walk (scan-trw) too. */
	snprintf(name0, sizeof(name0), "%s", x->c.rules[0].name);
	snprintf(name1, sizeof(name1), "%s", x->c.rules[1].name);
	snprintf(name2, sizeof(name2), "%s", x->c.rules[2].name);
	detection(x, "10.1.0.7", 0, now);
	detection(x, "10.1.0.8", 0, now + 1);
	detection(x, "10.1.0.9", 1, now + 2);
	detection(x, "10.1.0.9", 2, now + 3);
	detection(x, "10.1.0.10", DETECT_RULE_TRW, now + 4);
	t = metrics(x);
	snprintf(series, sizeof(series), "quarantined_detections_total{rule=\"%s\"}", name0);
	assert_int_equal(metric(t, series), 2);
	snprintf(series, sizeof(series), "quarantined_detections_total{rule=\"%s\"}", name1);
	assert_int_equal(metric(t, series), 1);
	assert_int_equal(metric(t, "quarantined_detections_total{rule=\"scan-trw\"}"), 1);
	free(t);

	/* A reload that swaps the first two rules and renames the third:
	 * each count follows its rule's name; the renamed rule starts
	 * afresh and the old name is gone. */
	assert_int_equal(conf_init_default(&c2), 0);
	tmp = c2.rules[0];
	c2.rules[0] = c2.rules[1];
	c2.rules[1] = tmp;
	snprintf(c2.rules[2].name, sizeof(c2.rules[2].name), "renamed");
	assert_int_equal(engine_reconfigure(&x->d.eng, &c2), 0);
	x->d.c = &c2;
	t = metrics(x);
	snprintf(series, sizeof(series), "quarantined_detections_total{rule=\"%s\"}", name0);
	assert_int_equal(metric(t, series), 2);
	snprintf(series, sizeof(series), "quarantined_detections_total{rule=\"%s\"}", name1);
	assert_int_equal(metric(t, series), 1);
	snprintf(series, sizeof(series), "quarantined_detections_total{rule=\"%s\"}", name2);
	assert_int_equal(metric(t, series), -1);
	assert_int_equal(metric(t, "quarantined_detections_total{rule=\"renamed\"}"), 0);
	assert_int_equal(metric(t, "quarantined_detections_total{rule=\"scan-trw\"}"), 1);
	free(t);
	assert_int_equal(engine_reconfigure(&x->d.eng, &x->c), 0);
	x->d.c = &x->c;
	conf_fini(&c2);
}

/* --json: every command that answers with a sentence answers with an
 * object that says it, with what it did; a refusal has no body (the
 * client renders the status line as an error object), and metrics has no
 * JSON form. */
static void test_json_sentences(void **state)
{
	struct fix *x = *state;
	static const struct {
		const char *header;
		const char *want; /* members the answer has */
	} ok[] = {
		{"cmd=quarantine\thost=10.1.0.5\tlevel=contain\tproto=tcp\tports=445\tjson=1",
		 "\"host\":\"10.1.0.5\",\"level\":\"contain\",\"changed\":true}"},
		{"cmd=escalate\thost=10.1.0.5\tjson=1", "\"level\":\"isolate\",\"changed\":true}"},
		{"cmd=deescalate\thost=10.1.0.5\tjson=1",
		 "\"level\":\"contain\",\"changed\":true}"},
		{"cmd=escalate\thost=10.1.0.5\tjson=1", "\"level\":\"isolate\",\"changed\":true}"},
		{"cmd=mark\thost=10.1.0.5\tstate=cleaning\tjson=1",
		 "\"host\":\"10.1.0.5\",\"state\":\"cleaning\",\"level\":\"isolate\""},
		{"cmd=release\thost=10.1.0.5\tjson=1", "\"level\":\"none\",\"changed\":true}"},
		{"cmd=release\thost=10.1.0.5\tjson=1", "\"level\":\"none\",\"changed\":false}"},
		{"cmd=quarantine\thost=10.1.0.6\tjson=1", "\"host\":\"10.1.0.6\""},
		{"cmd=release\tall=1\tjson=1", "\"released\":1,\"uncleanable_kept\":0}"},
		{"cmd=pause\tjson=1", "\"paused\":true}"},
		{"cmd=resume\tjson=1", "\"paused\":false}"},
		{"cmd=allow\thost=10.1.9.0/24\tjson=1",
		 "\"host\":\"10.1.9.0/24\",\"never_block\":true,\"changed\":true,\"released\":0}"},
		{"cmd=allow\thost=10.1.9.0/24\tjson=1", "\"never_block\":true,\"changed\":false}"},
		{"cmd=disallow\thost=10.1.9.0/24\tjson=1",
		 "\"never_block\":false,\"changed\":true}"},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(ok); i++) {
		size_t n;

		if (command(x, ok[i].header, NULL) != 0)
			fail_msg("%s: status not 0: %s", ok[i].header, x->msg);
		n = strlen(x->body);
		if (strncmp(x->body, "{\"ok\":true,\"message\":\"", 22) != 0 || n < 2 ||
		    x->body[n - 1] != '\n' || x->body[n - 2] != '}' || !strstr(x->body, ok[i].want))
			fail_msg("%s: answer %s, want %s", ok[i].header, x->body, ok[i].want);
		/* The message is the sentence the text answer gives. */
		assert_non_null(strstr(x->body, x->msg));
		/* One line. */
		assert_ptr_equal(strchr(x->body, '\n'), x->body + n - 1);
	}
	/* Refusals and usage errors: the status line only. */
	assert_int_equal(command(x, "cmd=deescalate\thost=10.1.0.6\tjson=1", NULL), 1);
	assert_string_equal(x->body, "");
	assert_string_equal(x->msg, "10.1.0.6 is not blocked");
	assert_int_equal(command(x, "cmd=disallow\thost=10.1.9.0/24\tjson=1", NULL), 1);
	assert_string_equal(x->body, "");
	assert_int_equal(command(x, "cmd=show\thost=no-such-name\tjson=1", NULL), 2);
	assert_string_equal(x->body, "");
	assert_int_equal(command(x, "cmd=metrics\tjson=1", NULL), 2);
	assert_string_equal(x->body, "");
	assert_non_null(strstr(x->msg, "metrics has no JSON form"));
	/* Without --json the sentence alone, as before. */
	assert_int_equal(command(x, "cmd=pause", NULL), 0);
	assert_string_equal(x->body, "");
	assert_string_equal(x->msg, "automatic actions paused (detection and alerts go on)");
	assert_int_equal(command(x, "cmd=metrics", NULL), 0);
	assert_non_null(strstr(x->body, "# TYPE "));
}

/* Operators by name: the user name of the peer's uid (root, uid 0 here)
 * and the invoking user the client claims under sudo, recorded with the
 * host, in its history and in the event, and shown by show and list; a
 * malformed claim is refused before anything changes. */
static void test_operator_names(void **state)
{
	struct fix *x = *state;
	struct hostrec *r;

	assert_int_equal(command(x, "cmd=quarantine\thost=10.1.0.7\tsudo_user=alice", NULL), 2);
	assert_string_equal(x->msg,
			    "invalid sudo_user/sudo_uid (want both: a user name and a uid)");
	assert_int_equal(
		command(x, "cmd=quarantine\thost=10.1.0.7\tsudo_user=al%20ice\tsudo_uid=1", NULL),
		2);
	assert_null(host(x, "10.1.0.7"));

	assert_int_equal(
		command(x, "cmd=quarantine\thost=10.1.0.7\tsudo_user=alice\tsudo_uid=1000", NULL),
		0);
	r = host(x, "10.1.0.7");
	assert_non_null(r);
	assert_int_equal(r->by_uid, 0);
	assert_string_equal(r->by.name, "root");
	assert_string_equal(r->by.sudo_user, "alice");
	assert_int_equal(r->by.sudo_uid, 1000);
	assert_string_equal(r->hist[r->nhist - 1].by.sudo_user, "alice");
	fflush(x->d.out.stdout_fp);
	assert_non_null(strstr(x->events, "\"by\":\"0\",\"by_name\":\"root\",\"by_claimed\":{"
					  "\"sudo_user\":\"alice\",\"sudo_uid\":1000}"));

	assert_int_equal(command(x, "cmd=show\thost=10.1.0.7", NULL), 0);
	assert_non_null(strstr(x->body, " by root (uid 0, sudo from alice, claimed) (manual"));
	assert_non_null(
		strstr(x->body, " root (uid 0, sudo from alice, claimed) manual quarantine"));
	assert_int_equal(command(x, "cmd=show\thost=10.1.0.7\tjson=1", NULL), 0);
	assert_non_null(strstr(x->body, ",\"by\":\"0\",\"by_name\":\"root\",\"by_claimed\":{"
					"\"sudo_user\":\"alice\",\"sudo_uid\":1000},\"reason\""));
	assert_non_null(strstr(x->body, "\"kind\":\"action\",\"level\":\"isolate\",\"state\":"
					"\"isolated\",\"by\":\"0\",\"by_name\":\"root\""));
	assert_int_equal(command(x, "cmd=list\tjson=1", NULL), 0);
	assert_non_null(strstr(x->body, "\"by_name\":\"root\",\"by_claimed\":{"));

	/* The next operator without a claim: the claim goes with the old
	 * author, the history keeps it. */
	assert_int_equal(command(x, "cmd=mark\thost=10.1.0.7\tstate=cleaning", NULL), 0);
	assert_string_equal(r->by.name, "root");
	assert_string_equal(r->by.sudo_user, "");
	assert_string_equal(r->hist[r->nhist - 1].by.sudo_user, "");
	assert_string_equal(r->hist[r->nhist - 2].by.sudo_user, "alice");
	/* A claim of the peer's own uid (root) says nothing. */
	assert_int_equal(command(x, "cmd=release\thost=10.1.0.7\tsudo_user=root\tsudo_uid=0", NULL),
			 0);
	assert_string_equal(r->by.sudo_user, "");
	/* A purge is an operator's too. */
	assert_int_equal(
		command(x, "cmd=purge\tolder_than=30d\tsudo_user=alice\tsudo_uid=1000", NULL), 0);
	fflush(x->d.out.stdout_fp);
	assert_non_null(strstr(x->events,
			       "\"event\":\"purge\",\"count\":0,\"older_than_s\":"
			       "2592000,\"by\":\"0\",\"by_name\":\"root\",\"by_claimed\":{"
			       "\"sudo_user\":\"alice\",\"sudo_uid\":1000}}"));
}

/* allowlist: each never-block entry with where it comes from, the run-time
 * ones included until disallowed, and the protected networks. */
static void test_allowlist(void **state)
{
	struct fix *x = *state;

	assert_int_equal(command(x, "cmd=allowlist", NULL), 0);
	assert_null(strstr(x->body, "10.1.9.0/24"));
	assert_non_null(strstr(x->body, "Nothing outside networks.protected is blocked either: "
					"10.0.0.0/8 fd00::/8\n"));
	assert_int_equal(command(x, "cmd=allow\thost=10.1.9.0/24", NULL), 0);
	assert_int_equal(command(x, "cmd=allow\thost=fd00::7", NULL), 0);
	assert_int_equal(command(x, "cmd=allowlist", NULL), 0);
	assert_non_null(strstr(x->body, "10.1.9.0/24"));
	assert_non_null(strstr(x->body, "fd00::7/128"));
	assert_non_null(strstr(x->body, "allow (until the next reload)\n"));
	assert_int_equal(command(x, "cmd=allowlist\tjson=1", NULL), 0);
	assert_string_equal(
		x->body,
		"{\"never_block\":[{\"net\":\"10.1.9.0/24\",\"origin\":\"allow (until "
		"the next reload)\"},{\"net\":\"fd00::7/128\",\"origin\":\"allow "
		"(until the next reload)\"}],\"protected\":[\"10.0.0.0/8\",\"fd00::/8\"]}\n");
	assert_int_equal(command(x, "cmd=disallow\thost=10.1.9.0/24", NULL), 0);
	assert_int_equal(command(x, "cmd=allowlist", NULL), 0);
	assert_null(strstr(x->body, "10.1.9.0/24"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_parse),
		cmocka_unit_test_setup_teardown(test_quarantine_bad_ttl_changes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_bad_ttl_keeps_block, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_good_ttls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_change_keeps_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_bad_ttl_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_never_lowers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_one_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_in_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_infected_by, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowlist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contain_to, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contain_to_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escalate_past_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_incident_id_strict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_release_keeps_uncleanable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_fits_80, setup_inventory, teardown),
		cmocka_unit_test_setup_teardown(test_list_wide, setup_inventory, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup_inventory, teardown),
		cmocka_unit_test_setup_teardown(test_list_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_csv_stream, setup_inventory, teardown),
		cmocka_unit_test_setup_teardown(test_list_filter_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_selection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_automatic, setup_purge, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_sentences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operator_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
