/* Unit tests of the state file: round trips of everything saved, and a
 * damaged, truncated, foreign or oversized file refused with nothing
 * loaded; saving into a full or read-only file system keeps the previous
 * state.  The file system cases need root (a tmpfs in a private mount
 * namespace) and are skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "engine.h"
#include "state.h"

#define T0 (1767000000ULL * USEC_PER_SEC)

/* Set in main(): a private mount namespace where tests may mount tmpfs. */
static bool can_mount;

struct fx {
	struct conf c;
	struct output out;
	char dir[64];
	char mnt[80]; /* a tmpfs mounted here, "" none */
	char err[512];
};

static int rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct conf_diags d;
	char path[128];
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/qd-state-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* Configured never-block entries, so that removing them at run time
	 * (quarantinectl disallow) can be saved. */
	snprintf(path, sizeof(path), "%s/q.conf", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("networks: { never_block = [ \"10.0.0.1\", \"10.0.0.52/31\", \"fd00::53\" ]; };\n",
	      fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(conf_load(&f->c, path, &d), 0);
	unlink(path);
	output_init(&f->out, NULL, OUTPUT_TEXT, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->mnt[0])
		umount2(f->mnt, MNT_DETACH);
	rm_rf(f->dir);
	conf_fini(&f->c);
	free(f);
	return 0;
}

static void eng_init(struct engine *e, const struct conf *c, struct output *out)
{
	assert_int_equal(engine_init(e, c, MODE_ENFORCE, out, NULL, NULL), 0);
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse_any(s, &a), 0);
	return a;
}

static int
rule(const struct conf *c, const char *name)
{
	int i = conf_rule_find(c, name);

	assert_true(i >= 0);
	return i;
}

static bool empty(const struct engine *e)
{
	for (unsigned i = 0; i < e->c->networks.never_block.n; i++)
		if (e->pol.conf_removed[i])
			return false;
	return hostdb_count(&e->hosts) == 0 && hostdb_first(&e->hosts) == NULL &&
	       e->incidents.n == 0 && e->incidents.next_id == 1 && e->pol.allowed.n == 0 &&
	       !e->pol.paused && e->next_expiry_us == USEC_INFINITY;
}

/* ---- a reference CRC-32, bit by bit, independent of state.c's ---- */

static uint32_t crc_ref(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
	}
	return ~crc;
}

/* ---- files ---- */

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*ret_len = (size_t)n;
	return buf;
}

static void spit(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

static void state_path(const char *dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, STATE_FILE);
}

/* Writes a state file of the given records, with a good end line: for the
 * records that are wrong in ways a CRC cannot see. */
static void write_records(const char *dir, const char *header, const char *body)
{
	char path[128], *buf;
	size_t n = strlen(header) + strlen(body), lines = 0;

	buf = malloc(n + 64);
	assert_non_null(buf);
	snprintf(buf, n + 64, "%s%s", header, body);
	for (const char *p = body; *p; p++)
		lines += *p == '\n';
	snprintf(buf + n, 64, "end records=%zu crc32=%08x\n", lines,
		 (unsigned)crc_ref((const uint8_t *)buf, n));
	state_path(dir, path, sizeof(path));
	spit(path, buf, strlen(buf));
	free(buf);
}

/* ---- building a registry ---- */

static const char SPECIAL[] = "caf\xc3\xa9 \"quoted\" 'x'\tTAB\nLF\rCR 100% =eq \xe2\x9c\x93 %41";

static struct hostrec *host(struct engine *e, const char *addr, enum host_state st, enum level lv)
{
	struct qaddr a = A(addr);
	struct hostrec *r = hostdb_get(&e->hosts, &a);

	assert_non_null(r);
	r->state = (uint8_t)st;
	r->level = (uint8_t)lv;
	r->decided = (uint8_t)lv;
	return r;
}

/* Hosts in every state, both families, histories at the cap, every field
 * with a value of its own; incidents that wrapped the ring; a paused
 * engine with run-time never-block changes. */
/* Every record on the list its level puts it on (spare or kept), as the
 * daemon keeps them and as a load puts them; in their order. */
static void settle_all(struct engine *e)
{
	unsigned n = hostdb_count(&e->hosts), i = 0;
	struct hostrec **v = calloc(n + 1, sizeof(*v));

	assert_non_null(v);
	for (struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r))
		v[i++] = r;
	for (i = 0; i < n; i++)
		hostdb_settle(&e->hosts, v[i]);
	free(v);
}

static void fill_rich(struct engine *e)
{
	const struct conf *c = e->c;
	static const char *const v4[] = {"10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4",
					 "10.1.0.5", "10.1.0.6", "10.1.0.7", "10.1.0.8"};
	static const char *const v6[] = {"fd00::1",	    "fd00:1:2:3:4:5:6:7",
					 "fe80::1:2",	    "2001:db8::ff00:42:8329",
					 "::ffff:10.1.0.9", "fd00::a",
					 "fd00::b",	    "fd00::c"};
	static const enum level lv[HOST_STATE_COUNT] = {
		LEVEL_NONE,    LEVEL_WATCH,   LEVEL_CONTAIN, LEVEL_ISOLATE,
		LEVEL_ISOLATE, LEVEL_CONTAIN, LEVEL_ISOLATE, LEVEL_NONE,
	};
	const usec_t win = e->incidents.window_us;
	struct hostrec *r;
	char text[128];

	/* More incidents than the ring holds: the oldest are forgotten and
	 * v[head] is no longer v[0]. */
	for (unsigned i = 0; i < ENGINE_MAX_INCIDENTS + 37; i++) {
		unsigned k = i % 4 == 3 ? DETECT_RULE_TRW : i % 3;
		const char *name = k == DETECT_RULE_TRW ? DETECT_TRW_NAME : c->rules[k].name;
		struct qaddr pz = A(i % 2 ? "10.1.0.1" : "fd00::1");
		struct incident *in = incident_join(
			&e->incidents, k, name, k == DETECT_RULE_TRW ? (uint16_t)(6379 + i % 3) : 0,
			&pz, T0 + i * (win + USEC_PER_SEC), T0 + i * (win + USEC_PER_SEC) + 5);

		in->nhosts = i % 7 + 1;
	}
	assert_true(e->incidents.head != 0);

	for (unsigned s = 0; s < HOST_STATE_COUNT; s++) {
		for (unsigned fam = 0; fam < 2; fam++) {
			r = host(e, fam ? v6[s] : v4[s], (enum host_state)s, lv[s]);
			r->decided = (uint8_t)MIN(lv[s] + 1, LEVEL_ISOLATE);
			r->adopted = (uint8_t)((s + fam) % 2);
			r->first_probe_us = s == 0 ? 0 : T0 + s;
			r->first_detect_us = T0 + 10 + s;
			r->last_detect_us = T0 + 20 + s;
			r->changed_us = T0 + 30 + s;
			r->expires_us = s % 3 ? T0 + 3600 * USEC_PER_SEC + s : 0;
			r->by_uid = s % 2 ? -1 : (long)(1000 + s);
			/* Operators by name: a name alone, a name and a claimed
			 * sudo user, a claim alone (a uid without a name). */
			if (r->by_uid >= 0 && s % 3 != 2)
				snprintf(r->by.name, sizeof(r->by.name), "op%u.x-y_z%s", s,
					 s == 4 ? "$" : "");
			if (r->by_uid >= 0 && s % 3 != 0) {
				snprintf(r->by.sudo_user, sizeof(r->by.sudo_user), "%s",
					 s == 2 ? "abcdefghijklmnopqrstuvwxyz012345" : "alice");
				r->by.sudo_uid = s == 2 ? UINT32_MAX - 1 : 1000;
			}
			r->recurrences = (uint8_t)(s * 30);
			r->last_level = (uint8_t)(s % 4);
			r->last_ttl_s = s * 600ULL;
			r->surveil_until_us = s % 2 ? T0 + 30 + s + 86400 * USEC_PER_SEC : 0;
			r->want_manual = (uint8_t)(s % 3 == 1);
			/* Who infected it: a machine, an address, or none. */
			if (s % 3 != 2) {
				r->infected_by = s % 3 ? A("02:00:00:00:00:0b") : A(v4[0]);
				r->infected_proto = s % 2 ? PROTO_UDP : PROTO_TCP;
				r->infected_port = (uint16_t)(s % 2 ? 1434 : 445 + s * 9000);
				r->infected_us = T0 + s;
			}
			snprintf(r->evidence, sizeof(r->evidence), "%s-20260101T00000%uZ.pcap",
				 fam ? v6[s] : v4[s], s);
			snprintf(r->reason, sizeof(r->reason), "%s #%u", SPECIAL, s);
			if (lv[s] >= LEVEL_CONTAIN) {
				hostdb_want_port(r, 6, 445, NULL);
				hostdb_want_port(r, 17, 1434, NULL);
				hostdb_want_port(r, fam ? 58 : 1, 0, NULL);
				/* Towards one destination, of the host's family. */
				struct qaddr to = A(fam ? "fd00::2:3" : "10.1.2.3");
				hostdb_want_port(r, 6, 22, &to);
			}
			struct hit *h = hostdb_add_hit(r, (unsigned)rule(c, "smb-propagation"),
						       T0 + 10 + s);
			h->level = (uint8_t)lv[s];
			h->incident = e->incidents.next_id - 1 - s;
			h = hostdb_add_hit(r, DETECT_RULE_TRW, T0 + 11 + s);
			h->level = LEVEL_WATCH;
			h->incident = 5; /* forgotten by the ring: kept all the same */
			for (unsigned k = 0; k < 3 + s; k++) {
				struct actor by = {.name = "root", .sudo_uid = 1000 + k};

				if (k % 4 == 2)
					snprintf(by.sudo_user, sizeof(by.sudo_user), "bob%u", k);
				snprintf(text, sizeof(text), "line %u %s", k, k % 2 ? SPECIAL : "");
				r->state = (uint8_t)(k % HOST_STATE_COUNT);
				assert_int_equal(
					hostdb_history_by(r, T0 + 100 + k,
							  (enum hist_kind)(k % HIST_KIND_COUNT),
							  (enum level)(k % 4), k % 2 ? -1 : 0,
							  k % 4 ? &by : NULL, text),
					0);
			}
			r->state = (uint8_t)s;
		}
	}

	/* At every cap: hits, ports, history (past its cap, the oldest went). */
	r = host(e, "10.1.200.200", HOST_CONTAINED, LEVEL_CONTAIN);
	for (unsigned i = 0; i < HOSTDB_MAX_HITS; i++) {
		struct hit *h = hostdb_add_hit(r, i == 0 ? DETECT_RULE_TRW : i, T0 + i);

		h->level = (uint8_t)(i % 4);
		h->incident = INCIDENT_ID_MAX - i; /* the largest id */
		h->first_us = UINT64_MAX - i;
	}
	for (unsigned i = 0; i < HOST_MAX_PORTS + 3; i++)
		hostdb_want_port(r, i % 2 ? 6 : 17, (uint16_t)(65535 - i), NULL);
	assert_true(r->want_overflow);
	for (unsigned k = 0; k < 3 * HOST_MAX_HIST; k++) {
		snprintf(text, sizeof(text), "%u: %s%s", k, SPECIAL, SPECIAL);
		assert_int_equal(hostdb_history(r, T0 + k, HIST_ACTION, LEVEL_CONTAIN,
						k % 3 ? (long)UINT32_MAX - 1 : -1, text),
				 0);
	}
	assert_int_equal(r->nhist, HOST_MAX_HIST);
	/* The largest values a host may have: a uid_t past 32-bit int, the
	 * longest TTL and a deadline that far after its change. */
	r->by_uid = (long)UINT32_MAX - 1;
	r->last_ttl_s = QD_TTL_MAX_S;
	r->changed_us = T0;
	r->expires_us = T0 + QD_TTL_MAX_S * USEC_PER_SEC;
	r->surveil_until_us = T0 + QD_TTL_MAX_S * USEC_PER_SEC;
	r->recurrences = UINT8_MAX;
	/* A full reason cut by snprintf in the middle of a UTF-8 sequence. */
	for (size_t i = 0; i + 1 < sizeof(r->reason); i++)
		r->reason[i] = i % 2 ? '\xa9' : '\xc3';
	r->reason[sizeof(r->reason) - 1] = '\0';
	assert_int_equal(strlen(r->reason), sizeof(r->reason) - 1);
	memset(r->evidence, 'e', sizeof(r->evidence) - 1);

	/* A host with nothing at all: an empty reason, no hits, no history. */
	r = host(e, "192.168.1.1", HOST_DETECTED, LEVEL_NONE);

	/* Machines: one holding addresses of both families (one of them
	 * taken from an address's record, now merged), one with none. */
	{
		struct qaddr m = A("02:00:0a:01:00:18"), a1 = A("10.1.0.24"), a2 = A("fd00::18");
		struct qaddr m2 = A("02:00:0a:01:00:19");
		struct hostrec *old = host(e, "10.1.0.24", HOST_RELEASED, LEVEL_NONE);

		hostdb_addr_del(&e->hosts, old, 0);
		old->merged = 1;
		r = hostdb_get(&e->hosts, &m);
		assert_non_null(r);
		r->state = HOST_ISOLATED;
		r->level = r->decided = LEVEL_ISOLATE;
		r->addr = a1;
		assert_int_equal(hostdb_addr_add(&e->hosts, r, &a1), 0);
		assert_int_equal(hostdb_addr_add(&e->hosts, r, &a2), 0);
		snprintf(r->reason, sizeof(r->reason), "source-forgery");
		r = hostdb_get(&e->hosts, &m2);
		assert_non_null(r);
		r->state = HOST_CONTAINED;
		r->level = r->decided = LEVEL_CONTAIN;
		hostdb_want_port(r, 6, 445, NULL);
	}
	/* Trusted bindings (claimed ones are not saved). */
	{
		static const char *const addrs[] = {"10.1.0.24", "fd00::18", "10.1.0.25"};
		static const enum bind_state st[] = {BIND_ESTABLISHED, BIND_TENTATIVE,
						     BIND_CLAIMED};
		for (unsigned i = 0; i < 3; i++) {
			struct ident_binding b;

			memset(&b, 0, sizeof(b));
			b.addr = A(addrs[i]);
			b.mac[0] = 0x02;
			b.mac[5] = (uint8_t)(0x18 + i);
			if (i == 0)
				b.prev[5] = 0x77, b.prev[0] = 0x02;
			b.state = st[i];
			b.delivered = i == 0;
			b.first_us = T0 + i;
			b.last_us = T0 + 100 + i;
			assert_int_equal(identity_restore(e->id, &b), 0);
		}
	}

	/* Run-time never-block changes and the pause. */
	struct qaddr p = A("10.1.7.0");
	assert_int_equal(policy_allow(&e->pol, &p, 24), 0);
	p = A("fd00:7::");
	assert_int_equal(policy_allow(&e->pol, &p, 64), 0);
	p = A("10.0.0.52");
	assert_int_equal(policy_disallow(&e->pol, &p, 31), 0);
	p = A("fd00::53");
	assert_int_equal(policy_disallow(&e->pol, &p, 128), 0);
	e->pol.paused = true;
	settle_all(e);
}

/* ---- comparing ---- */

static void same_host(const struct hostrec *a, const struct hostrec *b)
{
	assert_memory_equal(&a->addr, &b->addr, sizeof(a->addr));
	assert_memory_equal(&a->id, &b->id, sizeof(a->id));
	assert_int_equal(a->merged, b->merged);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->decided, b->decided);
	assert_int_equal(a->level, b->level);
	assert_int_equal(a->adopted, b->adopted);
	assert_memory_equal(&a->infected_by, &b->infected_by, sizeof(a->infected_by));
	assert_int_equal(a->infected_proto, b->infected_proto);
	assert_int_equal(a->infected_port, b->infected_port);
	assert_true(a->infected_us == b->infected_us);
	assert_int_equal(a->nhits, b->nhits);
	for (unsigned i = 0; i < a->nhits; i++) {
		assert_int_equal(a->hits[i].rule, b->hits[i].rule);
		assert_int_equal(a->hits[i].level, b->hits[i].level);
		assert_int_equal(a->hits[i].incident, b->hits[i].incident);
		assert_true(a->hits[i].first_us == b->hits[i].first_us);
	}
	assert_int_equal(a->nwant, b->nwant);
	for (unsigned i = 0; i < a->nwant; i++) {
		assert_int_equal(a->want[i].proto, b->want[i].proto);
		assert_int_equal(a->want[i].port, b->want[i].port);
		const struct qaddr *ta = hostrec_port_to(a, &a->want[i]);
		const struct qaddr *tb = hostrec_port_to(b, &b->want[i]);
		assert_true(ta ? tb && addr_eq(ta, tb) : !tb);
	}
	assert_int_equal(a->want_overflow, b->want_overflow);
	assert_int_equal(a->want_manual, b->want_manual);
	assert_true(a->first_probe_us == b->first_probe_us);
	assert_true(a->first_detect_us == b->first_detect_us);
	assert_true(a->last_detect_us == b->last_detect_us);
	assert_true(a->changed_us == b->changed_us);
	assert_true(a->expires_us == b->expires_us);
	assert_true(a->by_uid == b->by_uid);
	assert_string_equal(a->by.name, b->by.name);
	assert_string_equal(a->by.sudo_user, b->by.sudo_user);
	assert_int_equal(a->by.sudo_uid, b->by.sudo_uid);
	assert_string_equal(a->reason, b->reason);
	assert_int_equal(a->recurrences, b->recurrences);
	assert_int_equal(a->last_level, b->last_level);
	assert_true(a->last_ttl_s == b->last_ttl_s);
	assert_true(a->surveil_until_us == b->surveil_until_us);
	assert_string_equal(a->evidence, b->evidence);
	assert_int_equal(a->nhist, b->nhist);
	assert_int_equal(a->hist_cap, b->hist_cap);
	for (unsigned i = 0; i < a->nhist; i++) {
		assert_true(a->hist[i].ts == b->hist[i].ts);
		assert_int_equal(a->hist[i].kind, b->hist[i].kind);
		assert_int_equal(a->hist[i].level, b->hist[i].level);
		assert_int_equal(a->hist[i].state, b->hist[i].state);
		assert_int_equal(a->hist[i].uid, b->hist[i].uid);
		assert_string_equal(a->hist[i].by.name, b->hist[i].by.name);
		assert_string_equal(a->hist[i].by.sudo_user, b->hist[i].by.sudo_user);
		assert_int_equal(a->hist[i].by.sudo_uid, b->hist[i].by.sudo_uid);
		assert_memory_equal(a->hist[i].text, b->hist[i].text, sizeof(a->hist[i].text));
	}
	/* The kernel's view is not saved: act_sync() reads it back. */
	assert_int_equal(b->kmac, 0);
	assert_int_equal(b->naddrs, a->naddrs);
	for (unsigned i = 0; i < b->naddrs; i++) {
		assert_memory_equal(&a->addrs[i].a, &b->addrs[i].a, sizeof(a->addrs[i].a));
		assert_int_equal(b->addrs[i].kiso, 0);
	}
	assert_int_equal(b->nk, 0);
}

static void same_incident(const struct incident *a, const struct incident *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->rule, b->rule);
	assert_string_equal(a->rule_name, b->rule_name);
	assert_memory_equal(&a->patient_zero, &b->patient_zero, sizeof(a->patient_zero));
	assert_true(a->first_probe_us == b->first_probe_us);
	assert_true(a->first_detect_us == b->first_detect_us);
	assert_true(a->last_detect_us == b->last_detect_us);
	assert_int_equal(a->nhosts, b->nhosts);
	assert_int_equal(a->port, b->port);
}

/* Everything saved is as it was, in the same order. */
static int collect(void *arg, const struct ident_binding *b)
{
	struct ident_binding *v = arg;
	unsigned i = 0;

	while (v[i].state)
		i++;
	assert_true(i < 7);
	v[i] = *b;
	return 0;
}

static void same_bindings(struct engine *a, struct engine *b)
{
	struct ident_binding va[8], vb[8];
	unsigned i;

	memset(va, 0, sizeof(va));
	memset(vb, 0, sizeof(vb));
	identity_foreach(a->id, BIND_TENTATIVE, collect, va);
	identity_foreach(b->id, BIND_TENTATIVE, collect, vb);
	for (i = 0; va[i].state; i++) {
		assert_memory_equal(&va[i].addr, &vb[i].addr, sizeof(va[i].addr));
		assert_memory_equal(va[i].mac, vb[i].mac, MAC_LEN);
		assert_memory_equal(va[i].prev, vb[i].prev, MAC_LEN);
		assert_int_equal(va[i].state, vb[i].state);
		assert_int_equal(va[i].delivered, vb[i].delivered);
		assert_true(va[i].first_us == vb[i].first_us);
		assert_true(va[i].last_us == vb[i].last_us);
	}
	assert_int_equal(vb[i].state, BIND_NONE);
}

static void same_engine(struct engine *a, struct engine *b)
{
	same_bindings(a, b);
	const struct hostrec *ra = hostdb_first(&a->hosts), *rb = hostdb_first(&b->hosts);
	unsigned n = 0;
	usec_t next = USEC_INFINITY;

	assert_int_equal(hostdb_count(&a->hosts), hostdb_count(&b->hosts));
	for (; ra && rb; ra = hostdb_next(&a->hosts, ra), rb = hostdb_next(&b->hosts, rb), n++) {
		same_host(ra, rb);
		assert_ptr_equal(hostdb_find(&b->hosts, &ra->id), rb);
		if (ra->expires_us && ra->expires_us < next)
			next = ra->expires_us;
	}
	assert_null(ra);
	assert_null(rb);
	assert_int_equal(n, hostdb_count(&a->hosts));
	assert_true(b->next_expiry_us == next);

	assert_int_equal(a->incidents.n, b->incidents.n);
	assert_int_equal(a->incidents.next_id, b->incidents.next_id);
	for (unsigned i = 0; i < a->incidents.n; i++)
		same_incident(&a->incidents.v[(a->incidents.head + i) % a->incidents.cap],
			      &b->incidents.v[(b->incidents.head + i) % b->incidents.cap]);
	/* Which incident each rule and port may join, in any order. */
	assert_int_equal(a->incidents.nopen, b->incidents.nopen);
	for (unsigned i = 0; i < a->incidents.nopen; i++) {
		unsigned j = 0;

		while (j < b->incidents.nopen &&
		       (b->incidents.open[j].rule != a->incidents.open[i].rule ||
			b->incidents.open[j].port != a->incidents.open[i].port))
			j++;
		assert_true(j < b->incidents.nopen);
		assert_int_equal(b->incidents.open[j].id, a->incidents.open[i].id);
	}
	if (a->incidents.n) {
		unsigned oldest = a->incidents.v[a->incidents.head].id;

		for (unsigned id = oldest; id < a->incidents.next_id; id++) {
			struct incident *x = incident_find(&b->incidents, id);

			assert_non_null(x);
			assert_int_equal(x->id, id);
			same_incident(incident_find(&a->incidents, id), x);
		}
		assert_null(incident_find(&b->incidents, oldest - 1));
		assert_null(incident_find(&b->incidents, a->incidents.next_id));
	}

	assert_int_equal(a->pol.paused, b->pol.paused);
	assert_int_equal(a->pol.allowed.n, b->pol.allowed.n);
	for (unsigned i = 0; i < a->pol.allowed.n; i++) {
		assert_memory_equal(&a->pol.allowed.v[i].addr, &b->pol.allowed.v[i].addr,
				    sizeof(struct qaddr));
		assert_int_equal(a->pol.allowed.v[i].plen, b->pol.allowed.v[i].plen);
		assert_true(prefix_list_contains(&b->pol.allowed, &a->pol.allowed.v[i].addr));
	}
	for (unsigned i = 0; i < a->c->networks.never_block.n; i++)
		assert_int_equal(a->pol.conf_removed[i], b->pol.conf_removed[i]);
}

/* ---- round trips ---- */

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	struct engine a, b;
	char path[128];
	struct stat st;

	eng_init(&a, &f->c, &f->out);
	eng_init(&b, &f->c, &f->out);
	fill_rich(&a);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	state_path(f->dir, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATE_TMP_FILE);
	assert_int_equal(access(path, F_OK), -1);

	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	same_engine(&a, &b);
	/* Policy works on what was restored. */
	struct qaddr h = A("10.1.7.9");
	assert_true(policy_never_block(&b.pol, &h, false));
	h = A("10.0.0.53");
	assert_false(policy_never_block(&b.pol, &h, false));
	h = A("10.0.0.1");
	assert_true(policy_never_block(&b.pol, &h, false));

	/* Loaded into a registry that is not empty: refused, untouched. */
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), -EINVAL);
	same_engine(&a, &b);

	/* Saved again from the loaded copy: the same bytes. */
	size_t n1, n2;
	char *s1, *s2;

	state_path(f->dir, path, sizeof(path));
	s1 = slurp(path, &n1);
	assert_int_equal(state_save(&b, f->dir, f->err, sizeof(f->err)), 0);
	s2 = slurp(path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(s1, s2, n1);
	free(s1);
	free(s2);
	engine_fini(&a);
	engine_fini(&b);
}

/* The file is what state.h says: readable lines, encoded values, a CRC-32
 * that zlib (or Python's zlib.crc32) computes the same. */
static void test_format(void **state)
{
	struct fx *f = *state;
	struct engine e;
	char path[128], want[64], *s, *last;
	size_t n;

	eng_init(&e, &f->c, &f->out);
	assert_int_equal(crc_ref((const uint8_t *)"123456789", 9), 0xCBF43926u);
	struct hostrec *r = host(&e, "10.1.0.23", HOST_ISOLATED, LEVEL_ISOLATE);
	snprintf(r->reason, sizeof(r->reason), "a b%%c\td\ne");
	r->changed_us = T0;
	hostdb_want_port(r, 6, 445, NULL);
	hostdb_want_port(r, 1, 0, NULL);
	struct qaddr to = A("10.1.2.3");
	hostdb_want_port(r, 6, 22, &to);
	assert_int_equal(hostdb_history(r, T0, HIST_ACTION, LEVEL_ISOLATE, 1000, "by hand"), 0);
	assert_int_equal(state_save(&e, f->dir, f->err, sizeof(f->err)), 0);
	state_path(f->dir, path, sizeof(path));
	s = slurp(path, &n);
	print_message("%s", s);
	const char *head = "quarantined-state 2\nmeta next_incident=1 paused=0\n"
			   "host addr=10.1.0.23 state=isolated decided=isolate level=isolate "
			   "changed_us=1767000000000000 expires_us=0 by_uid=-1 last_ttl_s=0 ";
	assert_true(strncmp(s, head, strlen(head)) == 0);
	/* Fields at their defaults are left out (host_fields() takes them
	 * back as such): an operator's list of 100,000 hosts writes them
	 * into the log of the database. */
	const char *const absent[] = {"adopted=",	 "first_probe_us=", "first_detect_us=",
				      "last_detect_us=", "recurrences=",    "last_level=",
				      "want_overflow=",	 "evidence=",	    "surveil_until_us="};
	for (unsigned i = 0; i < ARRAY_SIZE(absent); i++)
		assert_null(strstr(s, absent[i]));
	assert_non_null(strstr(s, " want=tcp/445,icmp/0,tcp/22@10.1.2.3 "));
	assert_non_null(strstr(s, " reason=a%20b%25c%09d%0Ae\n"));
	assert_non_null(strstr(s, "\nhist ts_us=1767000000000000 kind=action level=isolate "
				  "state=isolated uid=1000 text=by%20hand\n"));
	last = s + n - 1;
	while (last > s && last[-1] != '\n')
		last--;
	snprintf(want, sizeof(want), "end records=3 crc32=%08x\n",
		 (unsigned)crc_ref((const uint8_t *)s, (size_t)(last - s)));
	assert_string_equal(last, want);
	free(s);
	engine_fini(&e);
}

static void test_empty_registry(void **state)
{
	struct fx *f = *state;
	struct engine a, b;

	eng_init(&a, &f->c, &f->out);
	eng_init(&b, &f->c, &f->out);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	assert_true(empty(&b));
	same_engine(&a, &b);
	engine_fini(&a);
	engine_fini(&b);
}

/* A rule removed from the config drops its hits, not the host or its
 * history; rules that moved in the config get their new index. */
static void test_rule_renamed(void **state)
{
	struct fx *f = *state;
	struct conf c2;
	struct engine a, b;
	struct hostrec *r, *x;
	struct rule tmp;
	struct qaddr pz = A("10.1.0.5");
	int smb = rule(&f->c, "smb-propagation"), rdp = rule(&f->c, "rdp-propagation");

	eng_init(&a, &f->c, &f->out);
	r = host(&a, "10.1.0.5", HOST_ISOLATED, LEVEL_ISOLATE);
	hostdb_add_hit(r, (unsigned)rdp, T0)->incident =
		incident_join(&a.incidents, (unsigned)rdp, "rdp-propagation", 0, &pz, T0, T0)->id;
	hostdb_add_hit(r, (unsigned)smb, T0 + 1)->incident =
		incident_join(&a.incidents, (unsigned)smb, "smb-propagation", 0, &pz, T0, T0 + 1)
			->id;
	assert_int_equal(hostdb_history(r, T0, HIST_DETECT, LEVEL_ISOLATE, -1, "rdp-propagation"),
			 0);
	assert_int_equal(
		hostdb_history(r, T0 + 1, HIST_DETECT, LEVEL_ISOLATE, -1, "smb-propagation"), 0);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);

	assert_int_equal(conf_init_default(&c2), 0);
	snprintf(c2.rules[rdp].name, sizeof(c2.rules[rdp].name), "rdp-renamed");
	/* smb-propagation moves to another index. */
	int rpc = rule(&c2, "rpc-propagation");
	tmp = c2.rules[rpc];
	c2.rules[rpc] = c2.rules[smb];
	c2.rules[smb] = tmp;
	assert_int_not_equal(rule(&c2, "smb-propagation"), smb);
	eng_init(&b, &c2, &f->out);
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	x = hostdb_find(&b.hosts, &r->id);
	assert_non_null(x);
	assert_int_equal(x->nhits, 1);
	assert_int_equal(x->hits[0].rule, rule(&c2, "smb-propagation"));
	assert_int_equal(x->hits[0].incident, 2);
	assert_int_equal(x->nhist, 2);
	assert_string_equal(x->hist[0].text, "rdp-propagation");
	/* The incidents stay, under their names; only a configured rule's
	 * incident can be joined. */
	assert_int_equal(b.incidents.n, 2);
	assert_string_equal(incident_find(&b.incidents, 1)->rule_name, "rdp-propagation");
	assert_true(incident_find(&b.incidents, 1)->rule >= DETECT_NRULES);
	assert_int_equal(incident_find(&b.incidents, 2)->rule, rule(&c2, "smb-propagation"));
	/* A new detection within the window joins incident 2. */
	struct qaddr other = A("10.1.0.6");
	assert_int_equal(incident_join(&b.incidents, (unsigned)rule(&c2, "smb-propagation"),
				       "smb-propagation", 0, &other, T0 + 5, T0 + 6)
				 ->id,
			 2);
	engine_fini(&a);
	engine_fini(&b);
	conf_fini(&c2);
}

/* More hosts than the registry holds: nothing loaded, and it says so. */
static void test_overflow(void **state)
{
	struct fx *f = *state;
	struct conf c2;
	struct engine a, b;
	char addr[32];

	eng_init(&a, &f->c, &f->out);
	for (unsigned i = 0; i < 11; i++) {
		snprintf(addr, sizeof(addr), "10.2.0.%u", i + 1);
		host(&a, addr, HOST_ISOLATED, LEVEL_ISOLATE);
	}
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(conf_init_default(&c2), 0);
	c2.limits.max_blocked = 10;
	eng_init(&b, &c2, &f->out);
	/* One blocked host too many: it alone is skipped. */
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 1);
	assert_non_null(strstr(f->err, ":13: no room: limits.max_blocked (10) hosts are blocked"));
	assert_int_equal(hostdb_count(&b.hosts), 10);
	assert_int_equal(b.hosts.evicted, 0);
	engine_fini(&b);

	/* Released hosts make room for blocked ones, the least recently
	 * useful first, as at run time. */
	hostdb_clear(&a.hosts);
	for (unsigned i = 0; i < 13; i++) {
		struct hostrec *r;

		snprintf(addr, sizeof(addr), "10.2.0.%u", i + 1);
		r = host(&a, addr, i < 5 ? HOST_RELEASED : HOST_ISOLATED,
			 i < 5 ? LEVEL_NONE : LEVEL_ISOLATE);
		hostdb_settle(&a.hosts, r);
	}
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	eng_init(&b, &c2, &f->out);
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(hostdb_count(&b.hosts), 10);
	assert_int_equal(b.hosts.evicted, 3);
	for (unsigned i = 0; i < 13; i++) {
		struct qaddr q;

		snprintf(addr, sizeof(addr), "10.2.0.%u", i + 1);
		q = A(addr);
		if (i < 3)
			assert_null(hostdb_find(&b.hosts, &q));
		else
			assert_non_null(hostdb_find(&b.hosts, &q));
	}
	engine_fini(&b);

	/* Exactly full is fine. */
	hostdb_clear(&a.hosts);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(addr, sizeof(addr), "10.2.0.%u", i + 1);
		host(&a, addr, HOST_ISOLATED, LEVEL_ISOLATE);
	}
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	eng_init(&b, &c2, &f->out);
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(hostdb_count(&b.hosts), 10);
	engine_fini(&a);
	engine_fini(&b);
	conf_fini(&c2);
}

/* ---- damaged files ---- */

/* A small but varied state, its bytes in *ret. */
static char *small_state(struct fx *f, size_t *ret_len)
{
	struct engine a;
	struct hostrec *r;
	struct qaddr pz = A("10.1.0.1");
	char path[128];

	eng_init(&a, &f->c, &f->out);
	incident_join(&a.incidents, 0, f->c.rules[0].name, 0, &pz, T0, T0);
	r = host(&a, "10.1.0.1", HOST_ISOLATED, LEVEL_ISOLATE);
	hostdb_add_hit(r, 0, T0)->incident = 1;
	hostdb_want_port(r, 6, 445, NULL);
	snprintf(r->reason, sizeof(r->reason), "%s", SPECIAL);
	assert_int_equal(hostdb_history(r, T0, HIST_ACTION, LEVEL_ISOLATE, -1, SPECIAL), 0);
	assert_int_equal(hostdb_history(r, T0 + 1, HIST_MARK, LEVEL_ISOLATE, 0, "cleaning"), 0);
	r = host(&a, "fd00::1", HOST_CLEANED, LEVEL_NONE);
	assert_int_equal(hostdb_history(r, T0 + 2, HIST_RELEASE, LEVEL_NONE, 1000, ""), 0);
	pz = A("10.1.9.0");
	assert_int_equal(policy_allow(&a.pol, &pz, 24), 0);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	engine_fini(&a);
	state_path(f->dir, path, sizeof(path));
	return slurp(path, ret_len);
}

/* Expects -EBADMSG with "FILE:LINE: ..." and nothing loaded. */
static void expect_bad(struct fx *f, struct engine *e, const char *what)
{
	char path[128], prefix[160];
	int r = state_load(e, f->dir, NULL, NULL, f->err, sizeof(f->err));

	if (r != -EBADMSG)
		print_message("%s: got %d (%s)\n", what, r, f->err);
	assert_int_equal(r, -EBADMSG);
	state_path(f->dir, path, sizeof(path));
	snprintf(prefix, sizeof(prefix), "%s:", path);
	assert_true(strncmp(f->err, prefix, strlen(prefix)) == 0);
	assert_true(f->err[strlen(prefix)] >= '1' && f->err[strlen(prefix)] <= '9');
	assert_true(empty(e));
}

static void assert_has(const char *msg, const char *want)
{
	if (strstr(msg, want))
		return;
	print_message("'%s' lacks '%s'\n", msg, want);
	fail();
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	struct engine e;
	char path[128];
	size_t n;
	char *s = small_state(f, &n);

	eng_init(&e, &f->c, &f->out);
	state_path(f->dir, path, sizeof(path));
	/* Every cut, the empty file and the missing final LF included. */
	for (size_t cut = 0; cut < n; cut++) {
		spit(path, s, cut);
		expect_bad(f, &e, "truncated");
		if (cut == 0)
			assert_non_null(strstr(f->err, ":1: empty file"));
	}
	print_message("truncated at each of %zu offsets: refused; e.g. %s\n", n, f->err);
	spit(path, s, n);
	assert_int_equal(state_load(&e, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(hostdb_count(&e.hosts), 2);
	free(s);
	engine_fini(&e);
}

static void test_flipped(void **state)
{
	struct fx *f = *state;
	struct engine e;
	char path[128];
	size_t n;
	char *s = small_state(f, &n);

	eng_init(&e, &f->c, &f->out);
	state_path(f->dir, path, sizeof(path));
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			s[i] ^= (char)(1u << bit);
			spit(path, s, n);
			expect_bad(f, &e, "flipped");
			s[i] ^= (char)(1u << bit);
		}
	}
	print_message("each of %zu bits flipped: refused; e.g. %s\n", n * 8, f->err);
	free(s);
	engine_fini(&e);
}

static void test_garbage(void **state)
{
	struct fx *f = *state;
	struct engine e;
	char path[128], *buf, *s;
	size_t n;
	unsigned seed = 12345;

	s = small_state(f, &n);
	eng_init(&e, &f->c, &f->out);
	state_path(f->dir, path, sizeof(path));
	buf = malloc(200000);
	assert_non_null(buf);

	/* Random bytes, with and without LFs and NULs. */
	for (unsigned round = 0; round < 200; round++) {
		size_t len = (size_t)rand_r(&seed) % 5000 + 1;

		for (size_t i = 0; i < len; i++)
			buf[i] = (char)rand_r(&seed);
		spit(path, buf, len);
		expect_bad(f, &e, "random");
	}
	/* The right header, then random bytes. */
	for (unsigned round = 0; round < 200; round++) {
		size_t len = (size_t)rand_r(&seed) % 5000 + 1;

		memcpy(buf, s, 20);
		for (size_t i = 20; i < 20 + len; i++)
			buf[i] = (char)(rand_r(&seed) % 3   ? 'a' + rand_r(&seed) % 26
					: rand_r(&seed) % 4 ? ' '
							    : '\n');
		spit(path, buf, 20 + len);
		expect_bad(f, &e, "header + random");
	}
	/* A good file with garbage after its end record. */
	memcpy(buf, s, n);
	memcpy(buf + n, "host addr=10.9.9.9\n", 19);
	spit(path, buf, n + 19);
	expect_bad(f, &e, "appended");
	assert_non_null(strstr(f->err, "no end record"));
	/* Two good files one after the other. */
	memcpy(buf + n, s, n);
	spit(path, buf, 2 * n);
	expect_bad(f, &e, "concatenated");
	/* One line of 150,000 bytes. */
	memset(buf, 'x', 150000);
	memcpy(buf, s, 20);
	spit(path, buf, 150000);
	expect_bad(f, &e, "long line");
	assert_non_null(strstr(f->err, ":2: line longer"));
	/* Text, but not ours. */
	spit(path, "hello\n", 6);
	expect_bad(f, &e, "text");
	assert_non_null(strstr(f->err, ":1: not a quarantined state file"));
	free(buf);
	free(s);
	engine_fini(&e);
}

static void test_version_missing_empty(void **state)
{
	struct fx *f = *state;
	struct engine e;
	char path[128];

	eng_init(&e, &f->c, &f->out);
	assert_int_equal(state_load(&e, f->dir, NULL, NULL, f->err, sizeof(f->err)), -ENOENT);
	assert_true(empty(&e));

	state_path(f->dir, path, sizeof(path));
	spit(path, "", 0);
	expect_bad(f, &e, "empty");

	write_records(f->dir, "quarantined-state 3\n", "meta next_incident=1 paused=0\n");
	expect_bad(f, &e, "version 3");
	assert_non_null(strstr(f->err, ":1: unsupported version '3' (this daemon reads 1 and 2)"));
	write_records(f->dir, "quarantined-state 10\n", "meta next_incident=1 paused=0\n");
	expect_bad(f, &e, "version 10");

	/* The smallest good file, of either version. */
	write_records(f->dir, "quarantined-state 1\n", "meta next_incident=1 paused=0\n");
	assert_int_equal(state_load(&e, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	assert_true(empty(&e));
	write_records(f->dir, "quarantined-state 2\n", "meta next_incident=1 paused=0\n");
	assert_int_equal(state_load(&e, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	assert_true(empty(&e));
	engine_fini(&e);
}

/* What state_load() said it skipped. */
struct skips {
	char msg[8][512];
	unsigned n;
};

static void on_skip(void *arg, const char *msg)
{
	struct skips *k = arg;

	if (k->n < ARRAY_SIZE(k->msg))
		snprintf(k->msg[k->n], sizeof(k->msg[0]), "%s", msg);
	k->n++;
}

/* Loads body (after a version 2 header) into a fresh *e: expects `skip`
 * records skipped, the first one's message holding want (when not NULL),
 * and the load to succeed.  *e stays loaded for the caller. */
static void load_skipping(struct fx *f, struct engine *e, const char *body, unsigned skip,
			  const char *want)
{
	struct skips k;
	int r;

	memset(&k, 0, sizeof(k));
	engine_fini(e);
	eng_init(e, &f->c, &f->out);
	write_records(f->dir, "quarantined-state 2\n", body);
	r = state_load(e, f->dir, on_skip, &k, f->err, sizeof(f->err));
	if (r != (int)skip || k.n != skip || (want && (!skip || !strstr(k.msg[0], want))))
		print_message("%s: got %d (%u told; first '%s'), want %u ('%s')\n", body, r, k.n,
			      k.n ? k.msg[0] : "", skip, want ? want : "");
	assert_int_equal(r, (int)skip);
	assert_int_equal(k.n, skip);
	if (want) {
		char path[128];

		/* "FILE:LINE: what: what was skipped" */
		state_path(f->dir, path, sizeof(path));
		assert_true(strncmp(k.msg[0], path, strlen(path)) == 0);
		assert_has(k.msg[0], want);
		assert_has(k.msg[0], "skipped");
	}
}

static const char good_host[] =
	"host addr=10.1.0.1 state=isolated decided=isolate level=isolate adopted=0 "
	"first_probe_us=1 first_detect_us=2 last_detect_us=3 changed_us=4 expires_us=5 "
	"by_uid=-1 recurrences=0 last_level=none last_ttl_s=0 want=tcp/445 "
	"want_overflow=0 evidence= reason=x";
static const char other_host[] =
	"host addr=fd00::9 state=detected decided=none level=none adopted=1 "
	"first_probe_us=0 first_detect_us=0 last_detect_us=0 changed_us=0 "
	"expires_us=0 by_uid=0 recurrences=0 last_level=none last_ttl_s=0 "
	"want= want_overflow=0 evidence= reason=";

/* good_host with field `from` replaced by `to`, after a meta line. */
static void host_with(char *body, size_t len, const char *from, const char *to)
{
	const char *p = strstr(good_host, from);

	assert_non_null(p);
	snprintf(body, len, "meta next_incident=1 paused=0\n%.*s%s%s\n%s\n", (int)(p - good_host),
		 good_host, to, p + strlen(from), other_host);
}

/* Records a CRC cannot catch (a file edited by hand, or a broken writer):
 * each is skipped at its line, with a message that names the line and the
 * field, and the rest of the state is loaded. */
static void test_bad_records(void **state)
{
	static const struct {
		const char *body;
		const char *err; /* expected in the message */
	} cases[] = {
		{"meta next_incident=1 paused=0\n"
		 "hist ts_us=1 kind=detect level=none state=detected uid=-1 text=x\n",
		 ":3: hist record without its host"},
		{"meta next_incident=1 paused=0\nbogus a=1\n", ":3: unknown record 'bogus'"},
		{"meta next_incident=1 paused=0\n\n", ":3: empty record"},
		{"meta next_incident=1 paused=0\nallow net=10.1.0.1/16\n",
		 ":3: bad net=10.1.0.1/16"},
		{"meta next_incident=1 paused=0\nend records=1 crc32=00000000\n",
		 ":3: end record before the last line"},
		{"meta next_incident=4 paused=0\n"
		 "incident id=3 rule=x patient_zero=10.1.0.1 first_probe_us=1 first_detect_us=1 "
		 "last_detect_us=1 hosts=1\n"
		 "incident id=1 rule=x patient_zero=10.1.0.1 first_probe_us=1 first_detect_us=1 "
		 "last_detect_us=1 hosts=1\n",
		 ":4: incident id=1 out of order (the last was 3)"},
	};
	/* A bad meta record: skipped, incident ids follow the saved
	 * incidents, not paused. */
	static const struct {
		const char *meta;
		const char *err;
	} metas[] = {
		{"meta next_incident=1 paused=1 \n", ":2: 'meta' record: field without key=value"},
		{"meta next_incident=1  paused=1\n", ":2: 'meta' record: field without key=value"},
		{"meta next_incident=1 paused=2\n", ":2: bad paused=2 (0 to 1)"},
		{"meta next_incident=-1 paused=1\n", ":2: bad next_incident=-1"},
		{"meta next_incident=99999999999999999999 paused=1\n", ":2: bad next_incident="},
		{"meta next_incident=4294967296 paused=1\n",
		 ":2: bad next_incident=4294967296 (0 to 4294967295)"},
		{"meta paused=1\n", ":2: 'meta' record without next_incident="},
		{"meta next_incident=0 paused=1\n", ":2: bad next_incident=0"},
		{"meta next_incident=1 paused=1\n", ":2: bad next_incident=1 (incident 1 exists)"},
		{"", ":1: no meta record"},
	};
	static const struct {
		const char *tail; /* after good_host and other_host */
		const char *err;
	} line_cases[] = {
		{"hist ts_us=1 kind=bogus level=none state=detected uid=-1 text=x\n",
		 ":5: unknown kind=bogus"},
		{"hist ts_us=1 kind=mark level=high state=detected uid=-1 text=x\n",
		 ":5: unknown level level=high"},
		{"hist ts_us=1 kind=mark level=none state=asleep uid=-1 text=x\n",
		 ":5: unknown state state=asleep"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=4294967295 text=x\n",
		 ":5: bad uid=4294967295 (-1, or a uid from 0 to 4294967294)"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=-2 text=x\n",
		 ":5: bad uid=-2"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=-1 text=%G1\n",
		 ":5: 'hist' record: bad percent-encoding in text="},
		{"hist ts_us=1 kind=mark level=none state=detected uid=-1 text=a%00b\n",
		 ":5: 'hist' record: bad percent-encoding in text="},
		{"hist ts_us=1 kind=mark level=none state=detected uid=-1 text=a\tb\n",
		 ":5: 'hist' record: bad percent-encoding in text="},
		{"hist ts_us=1 kind=mark level=none state=detected uid=-1 "
		 "text=0123456789012345678901234567890123456789012345678901234567890\n",
		 ":5: text= too long (61 bytes, at most 59)"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=-1\n",
		 ":5: 'hist' record without text="},
		/* The operator's names: valid, paired, an operator's. */
		{"hist ts_us=1 kind=mark level=none state=detected uid=-1 text=x name=alice\n",
		 ":5: name, sudo_user or sudo_uid without an operator's uid"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x name=a%20b\n",
		 ":5: bad name=a b (a user name)"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x name=-x\n",
		 ":5: bad name=-x (a user name)"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x "
		 "name=abcdefghijklmnopqrstuvwxyz0123456\n",
		 ":5: name= too long (33 bytes, at most 32)"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x sudo_user=bob\n",
		 ":5: sudo_user and sudo_uid go together"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x sudo_uid=1000\n",
		 ":5: sudo_user and sudo_uid go together"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x sudo_user=b%3Bb "
		 "sudo_uid=1\n",
		 ":5: bad sudo_user=b;b (a user name)"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x sudo_user=bob "
		 "sudo_uid=4294967295\n",
		 ":5: bad sudo_uid=4294967295 (0 to 4294967294)"},
		{"hist ts_us=1 kind=mark level=none state=detected uid=0 text=x sudo_user=bob "
		 "sudo_uid=-1\n",
		 ":5: bad sudo_uid=-1"},
		{"hit rule=smb-propagation level=contain incident=1\n",
		 ":5: 'hit' record without first_us="},
		{"hit rule=smb-propagation level=contain incident=4294967295 first_us=1\n",
		 ":5: bad incident=4294967295 (0 to 4294967294)"},
		{"hit rule=smb-propagation level=severe incident=1 first_us=1\n",
		 ":5: unknown level level=severe"},
		{"incident id=1 rule=x patient_zero=10.1.0.1 first_probe_us=1 first_detect_us=1 "
		 "last_detect_us=1 hosts=1\nhist ts_us=1 kind=mark level=none state=detected "
		 "uid=-1 text=x\n",
		 ":6: hist record without its host"},
	};
	/* Host fields: each value just past what is valid.  The host is
	 * skipped with its lines; the other host stays. */
	static const char *const bad_fields[][3] = {
		{"want=tcp/445", "want=tcp/70000", ":3: bad want=tcp/70000"},
		{"want=tcp/445", "want=tcp/445,", ":3: bad want="},
		{"want=tcp/445", "want=tcp445", ":3: bad want="},
		{"want=tcp/445", "want=sctp/1", ":3: bad want="},
		{"want=tcp/445", "want=132/1", ":3: bad want="},
		{"want=tcp/445", "want=icmp/8", ":3: bad want="},
		/* Towards one destination: an address, unicast, of the host's
		 * family (an address's record), on a TCP or UDP port, once. */
		{"want=tcp/445", "want=tcp/22@10.1.2", ":3: bad want=tcp/22@10.1.2"},
		{"want=tcp/445", "want=tcp/22@", ":3: bad want="},
		{"want=tcp/445", "want=tcp/22@02:00:00:00:00:01", ":3: bad want="},
		{"want=tcp/445", "want=tcp/22@fd00::1",
		 ":3: bad want=tcp/22@fd00::1 (a destination"},
		{"want=tcp/445", "want=tcp/22@224.0.0.1", ":3: bad want=tcp/22@224.0.0.1 (a "},
		{"want=tcp/445", "want=tcp/22@0.0.0.0", ":3: bad want=tcp/22@0.0.0.0 (a "},
		{"want=tcp/445", "want=icmp/0@10.1.2.3", ":3: bad want=icmp/0@10.1.2.3 (a "},
		{"want=tcp/445", "want=tcp/0@10.1.2.3", ":3: bad want=tcp/0@10.1.2.3 (a "},
		{"want=tcp/445", "want=tcp/22,tcp/22@10.1.2.3",
		 ":3: bad want=tcp/22,tcp/22@10.1.2.3 (tcp/22 twice)"},
		{"want=tcp/445", "want=tcp/22@10.1.2.3,tcp/22", ":3: bad want="},
		{"want=tcp/445", "want=tcp/22@10.1.2.3,tcp/22@10.1.2.3", ":3: bad want="},
		{"want=tcp/445", "want=tcp/22,tcp/22", ":3: bad want=tcp/22,tcp/22 (tcp/22 twice)"},
		{"want=tcp/445",
		 "want=tcp/1@10.1.2.1,tcp/2@10.1.2.2,tcp/3@10.1.2.3,tcp/4@10.1.2.4,tcp/5@10.1.2.5",
		 "(more than 4 destinations)"},
		{"by_uid=-1", "by_uid=x", ":3: bad by_uid=x"},
		{"by_uid=-1", "by_uid=-2", ":3: bad by_uid=-2"},
		{"by_uid=-1", "by_uid=4294967295", ":3: bad by_uid=4294967295"},
		{"by_uid=-1", "by_uid=9223372036854775807", ":3: bad by_uid="},
		{"state=isolated", "state=Isolated", ":3: unknown state state=Isolated"},
		{"level=isolate", "level=4", ":3: unknown level level=4"},
		{"decided=isolate", "decided=", ":3: unknown level decided="},
		{"last_level=none", "last_level=quarantine", ":3: unknown level last_level="},
		{"addr=10.1.0.1", "addr=10.1.0.256", ":3: bad address addr=10.1.0.256"},
		{"addr=10.1.0.1", "addr=0.0.0.0", ":3: bad addr=0.0.0.0"},
		{"addr=10.1.0.1", "addr=224.0.0.1", ":3: bad addr=224.0.0.1"},
		{"addr=10.1.0.1", "addr=255.255.255.255", ":3: bad addr=255.255.255.255"},
		{"addr=10.1.0.1", "addr=::", ":3: bad addr=::"},
		{"addr=10.1.0.1", "addr=ff02::1", ":3: bad addr=ff02::1"},
		{"addr=10.1.0.1", "addr=02:00:00:00:00:01", ":3: bad addr=02:00:00:00:00:01"},
		{"addr=10.1.0.1", "id=01:00:5e:00:00:01 addrs=10.1.0.1",
		 ":3: bad id=01:00:5e:00:00:01"},
		{"addr=10.1.0.1", "id=00:00:00:00:00:00 addrs=10.1.0.1", ":3: bad id="},
		{"addr=10.1.0.1", "id=02:00:00:00:00:01 addrs=10.1.0.1,224.0.0.1",
		 ":3: bad address in addrs=: 224.0.0.1"},
		{"addr=10.1.0.1", "id=10.1.0.1 addrs=10.1.0.1", ":3: bad id=10.1.0.1"},
		{"last_ttl_s=0", "last_ttl_s=31536001",
		 ":3: bad last_ttl_s=31536001 (0 to 31536000)"},
		{"expires_us=5", "expires_us=31536000000005",
		 ":3: bad expires_us=31536000000005 (at most 31536000 s after changed_us=4"},
		{"expires_us=5", "expires_us=18446744073709551615", ":3: bad expires_us="},
		{"expires_us=5", "expires_us=5 surveil_until_us=31536000000005",
		 ":3: bad surveil_until_us=31536000000005 (at most 31536000 s after "
		 "changed_us=4"},
		{"expires_us=5", "expires_us=5 surveil_until_us=-1", ":3: bad surveil_until_us=-1"},
		{"evidence=", "evidence=..", ":3: bad evidence=.."},
		{"evidence=", "evidence=../state", ":3: bad evidence=../state"},
		{"evidence=", "evidence=/etc/passwd", ":3: bad evidence="},
		{"reason=x", "reason=x merged=2", ":3: bad merged=2"},
		{"reason=x", "reason=x want_manual=2", ":3: bad want_manual=2 (0 to 1)"},
		{"reason=x", "reason=x%", ":3: 'host' record: bad percent-encoding in reason="},
		{"adopted=0", "adopted=2", ":3: bad adopted=2 (0 to 1)"},
		{"by_uid=-1", "by_uid=-1 by_name=root",
		 ":3: by_name, by_sudo_user or by_sudo_uid without an operator's uid"},
		{"by_uid=-1", "by_uid=0 by_name=ro%0Aot", ":3: bad by_name="},
		{"by_uid=-1", "by_uid=0 by_sudo_user=alice",
		 ":3: by_sudo_user and by_sudo_uid go together"},
		{"by_uid=-1", "by_uid=0 by_sudo_user=al%22ice by_sudo_uid=1000",
		 ":3: bad by_sudo_user=al\"ice (a user name)"},
		{"recurrences=0", "recurrences=256", ":3: bad recurrences=256 (0 to 255)"},
		{"reason=x", "reason=x infected_by=10.1.0.9/tcp/445", ":3: bad infected_by="},
		{"reason=x", "reason=x infected_by=10.1.0.9/tcp/445/5/6", ":3: bad infected_by="},
		{"reason=x", "reason=x infected_by=224.0.0.1/tcp/445/5", ":3: bad infected_by="},
		{"reason=x", "reason=x infected_by=10.1.0.9/icmp/445/5",
		 ":3: bad infected_by=10.1.0.9/icmp/445/5 (tcp or udp)"},
		{"reason=x", "reason=x infected_by=10.1.0.9/tcp/0/5", "(a port)"},
		{"reason=x", "reason=x infected_by=10.1.0.9/tcp/65536/5", "(a port)"},
		{"reason=x", "reason=x infected_by=10.1.0.9/tcp/-1/5", "(a port)"},
		{"reason=x", "reason=x infected_by=10.1.0.9/tcp/445/0", "(a time)"},
		{"reason=x", "reason=x infected_by=10.1.0.9/tcp/445/x", "(a time)"},
		{"want=tcp/445",
		 "want=tcp/1,tcp/2,tcp/3,tcp/4,tcp/5,tcp/6,tcp/7,tcp/8,tcp/9,tcp/10,"
		 "tcp/11,tcp/12,tcp/13,tcp/14,tcp/15,tcp/16,tcp/17",
		 ":3: want= lists more than 16 ports"},
	};
	/* ... and the largest valid values, loaded as they are. */
	static const char *const edge_fields[][2] = {
		{"by_uid=-1", "by_uid=4294967294"},
		{"by_uid=-1", "by_uid=0"},
		{"by_uid=-1", "by_uid=0 by_name=root by_sudo_user=alice by_sudo_uid=1000"},
		{"by_uid=-1", "by_uid=1000 by_name=alice"},
		{"by_uid=-1", "by_uid=0 by_sudo_user=m$ by_sudo_uid=4294967294"},
		{"last_ttl_s=0", "last_ttl_s=31536000"},
		{"expires_us=5", "expires_us=31536000000004"},
		{"expires_us=5", "expires_us=0"},
		{"expires_us=5", "expires_us=3"}, /* ran out before the change */
		{"want=tcp/445", "want=tcp/0,udp/65535,icmp/0,icmpv6/0"},
		{"want=tcp/445", "want=tcp/22@10.1.2.3,tcp/22@10.1.2.4,udp/161@10.1.2.3,tcp/80"},
		/* A machine: a destination of either family. */
		{"addr=10.1.0.1 state=isolated decided=isolate level=isolate adopted=0 "
		 "first_probe_us=1 first_detect_us=2 last_detect_us=3 changed_us=4 expires_us=5 "
		 "by_uid=-1 recurrences=0 last_level=none last_ttl_s=0 want=tcp/445",
		 "id=02:00:00:00:00:01 addr=10.1.0.1 addrs=10.1.0.1 state=isolated "
		 "decided=isolate level=isolate adopted=0 first_probe_us=1 first_detect_us=2 "
		 "last_detect_us=3 changed_us=4 expires_us=5 by_uid=-1 recurrences=0 "
		 "last_level=none last_ttl_s=0 want=tcp/22@fd00::2:3,tcp/22@10.1.2.3"},
		{"recurrences=0", "recurrences=255"},
		{"evidence=", "evidence=10.1.0.1-20260101T000000Z.pcap"},
		/* Fields at their defaults left out, as the writer does. */
		{"state=isolated decided=isolate level", "state=isolated level"},
		{"level=isolate adopted=0 first_probe_us=1 first_detect_us=2 last_detect_us=3 "
		 "changed_us=4",
		 "level=isolate changed_us=4"},
		{"by_uid=-1 recurrences=0 last_level=none last_ttl_s=0 want=tcp/445 "
		 "want_overflow=0 "
		 "evidence= reason=x",
		 "by_uid=-1 last_ttl_s=0 reason=x"},
		/* Last: checked after the loop. */
		{"addr=10.1.0.1", "id=02:00:00:00:00:01 addr=10.1.0.1 addrs=10.1.0.1,fe80::1"},
	};
	struct fx *f = *state;
	struct engine e;
	char body[2048];
	struct qaddr a = A("10.1.0.1"), o = A("fd00::9");
	struct hostrec *r;

	eng_init(&e, &f->c, &f->out);
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++)
		load_skipping(f, &e, cases[i].body, 1, cases[i].err);
	/* Gaps in incident ids are allowed (a bad incident was skipped). */
	assert_non_null(incident_find(&e.incidents, 3));
	assert_null(incident_find(&e.incidents, 1));
	assert_int_equal(e.incidents.next_id, 4);

	for (unsigned i = 0; i < ARRAY_SIZE(metas); i++) {
		snprintf(body, sizeof(body),
			 "%s"
			 "incident id=1 rule=x patient_zero=10.1.0.1 first_probe_us=1 "
			 "first_detect_us=1 last_detect_us=1 hosts=1\n%s\n",
			 metas[i].meta, good_host);
		load_skipping(f, &e, body, 1, metas[i].err);
		assert_int_equal(e.incidents.next_id, 2);
		/* Only next_incident= is wrong in the last but one: the
		 * pause stands. */
		assert_int_equal(e.pol.paused, i == ARRAY_SIZE(metas) - 2);
		assert_non_null(hostdb_find(&e.hosts, &a));
	}
	/* A second meta record: the first stands. */
	load_skipping(f, &e, "meta next_incident=5 paused=1\nmeta next_incident=9 paused=0\n", 1,
		      ":3: second meta record");
	assert_int_equal(e.incidents.next_id, 5);
	assert_true(e.pol.paused);

	for (unsigned i = 0; i < ARRAY_SIZE(line_cases); i++) {
		snprintf(body, sizeof(body), "meta next_incident=2 paused=1\n%s\n%s\n%s", good_host,
			 other_host, line_cases[i].tail);
		load_skipping(f, &e, body, 1, line_cases[i].err);
		assert_int_equal(hostdb_count(&e.hosts), 2);
		assert_true(e.pol.paused);
		assert_int_equal(e.incidents.next_id, 2);
	}

	for (unsigned i = 0; i < ARRAY_SIZE(bad_fields); i++) {
		host_with(body, sizeof(body), bad_fields[i][0], bad_fields[i][1]);
		/* Its hit and hist lines go with it, silently. */
		strcat(body, "");
		load_skipping(f, &e, body, 1, bad_fields[i][2]);
		assert_int_equal(hostdb_count(&e.hosts), 1);
		assert_non_null(hostdb_find(&e.hosts, &o));
		assert_null(hostdb_find_addr(&e.hosts, &a));
	}
	for (unsigned i = 0; i < ARRAY_SIZE(edge_fields); i++) {
		host_with(body, sizeof(body), edge_fields[i][0], edge_fields[i][1]);
		load_skipping(f, &e, body, 0, NULL);
		assert_int_equal(hostdb_count(&e.hosts), 2);
		assert_non_null(hostdb_find_addr(&e.hosts, &a));
	}
	r = hostdb_find_addr(&e.hosts, &a);
	assert_int_equal(r->naddrs, 2);

	/* A skipped host's hit and hist lines go with it, and are not
	 * counted again. */
	snprintf(body, sizeof(body),
		 "meta next_incident=1 paused=0\nhost addr=10.1.0.1 state=isolated\n"
		 "hit rule=smb-propagation level=contain incident=1 first_us=1\n"
		 "hist ts_us=1 kind=mark level=none state=detected uid=-1 text=x\n%s\n"
		 "hist ts_us=1 kind=mark level=none state=detected uid=-1 text=y\n",
		 other_host);
	load_skipping(f, &e, body, 1, ":3: 'host' record without level=");
	r = hostdb_find(&e.hosts, &o);
	assert_non_null(r);
	assert_int_equal(r->nhist, 1);
	assert_string_equal(r->hist[0].text, "y");

	/* A host line with a NUL byte: skipped, and its lines with it (not
	 * given to the host above). */
	{
		char raw[2048], path[128];
		size_t n = 0, lines = 0;
		struct skips k;
		const char *parts[] = {"quarantined-state 2\nmeta next_incident=1 paused=0\n",
				       other_host, "\nhost addr=10.1.0.1 state=is", "\0",
				       "olated\nhist ts_us=1 kind=mark level=none state=detected "
				       "uid=-1 text=z\n"};
		const size_t lens[] = {strlen(parts[0]), strlen(parts[1]), strlen(parts[2]), 1,
				       strlen(parts[4])};

		for (unsigned i = 0; i < ARRAY_SIZE(parts); i++) {
			memcpy(raw + n, parts[i], lens[i]);
			n += lens[i];
		}
		for (size_t i = 0; i < n; i++)
			lines += raw[i] == '\n';
		n += (size_t)snprintf(raw + n, sizeof(raw) - n, "end records=%zu crc32=%08x\n",
				      lines - 1, (unsigned)crc_ref((const uint8_t *)raw, n));
		state_path(f->dir, path, sizeof(path));
		spit(path, raw, n);
		engine_fini(&e);
		eng_init(&e, &f->c, &f->out);
		memset(&k, 0, sizeof(k));
		assert_int_equal(state_load(&e, f->dir, on_skip, &k, f->err, sizeof(f->err)), 1);
		assert_has(k.msg[0],
			   ":4: NUL byte in a record: host, with its hit and hist lines,");
		r = hostdb_find(&e.hosts, &o);
		assert_non_null(r);
		assert_int_equal(r->nhist, 0);
		assert_int_equal(hostdb_count(&e.hosts), 1);
	}

	/* The same host twice: the first stands. */
	snprintf(body, sizeof(body), "meta next_incident=1 paused=0\n%s\n%s\n", good_host,
		 good_host);
	load_skipping(f, &e, body, 1, ":4: host 10.1.0.1 appears twice");
	assert_int_equal(hostdb_count(&e.hosts), 1);

	/* Keys this version does not know are ignored, and order is free. */
	snprintf(body, sizeof(body), "meta paused=1 future=%%20x next_incident=7\n%s later=1\n",
		 good_host);
	load_skipping(f, &e, body, 0, NULL);
	assert_int_equal(hostdb_count(&e.hosts), 1);
	assert_int_equal(e.incidents.next_id, 7);
	assert_true(e.pol.paused);
	assert_true(e.next_expiry_us == 5);
	engine_fini(&e);
}

/* Incident ids: the last one is INCIDENT_ID_MAX; after it no incident is
 * opened, and the state, saved and loaded, stays loadable.  A file from
 * a daemon whose id wrapped (next_incident=0, an incident 4294967295)
 * loads too, without them. */
static void test_incident_ids_exhausted(void **state)
{
	struct fx *f = *state;
	struct engine a, b;
	struct qaddr h = A("10.1.0.1");
	struct incident *in;
	char body[1024];

	eng_init(&a, &f->c, &f->out);
	a.incidents.next_id = INCIDENT_ID_MAX;
	in = incident_join(&a.incidents, 0, f->c.rules[0].name, 0, &h, T0, T0);
	assert_non_null(in);
	assert_int_equal(in->id, INCIDENT_ID_MAX);
	assert_int_equal(a.incidents.next_id, (unsigned)INCIDENT_ID_MAX + 1);
	/* The same incident can still be joined; a new one cannot open. */
	assert_ptr_equal(incident_join(&a.incidents, 0, f->c.rules[0].name, 0, &h, T0, T0 + 1), in);
	assert_null(incident_join(&a.incidents, 1, f->c.rules[1].name, 0, &h, T0, T0 + 2));
	assert_int_equal(a.incidents.exhausted, 1);
	assert_int_equal(a.incidents.next_id, (unsigned)INCIDENT_ID_MAX + 1);
	host(&a, "10.1.0.1", HOST_ISOLATED, LEVEL_ISOLATE);
	hostdb_add_hit(hostdb_find(&a.hosts, &h), 0, T0)->incident = INCIDENT_ID_MAX;

	/* Saved and loaded, twice: nothing lost. */
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	for (unsigned round = 0; round < 2; round++) {
		eng_init(&b, &f->c, &f->out);
		assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
		assert_int_equal(b.incidents.next_id, (unsigned)INCIDENT_ID_MAX + 1);
		assert_non_null(incident_find(&b.incidents, INCIDENT_ID_MAX));
		assert_int_equal(hostdb_count(&b.hosts), 1);
		assert_null(incident_join(&b.incidents, 1, f->c.rules[1].name, 0, &h, T0, T0 + 3));
		assert_int_equal(state_save(&b, f->dir, f->err, sizeof(f->err)), 0);
		engine_fini(&b);
	}
	engine_fini(&a);

	/* What the old daemon wrote after its id wrapped. */
	snprintf(body, sizeof(body),
		 "meta next_incident=0 paused=0\n"
		 "incident id=4294967294 rule=x patient_zero=10.1.0.1 first_probe_us=1 "
		 "first_detect_us=1 last_detect_us=1 hosts=1\n"
		 "incident id=4294967295 rule=x patient_zero=10.1.0.1 first_probe_us=1 "
		 "first_detect_us=1 last_detect_us=1 hosts=1\n%s\n"
		 "hit rule=smb-propagation level=isolate incident=4294967294 first_us=1\n",
		 good_host);
	eng_init(&b, &f->c, &f->out);
	load_skipping(f, &b, body, 2, ":2: bad next_incident=0");
	assert_int_equal(b.incidents.next_id, (unsigned)INCIDENT_ID_MAX + 1);
	assert_int_equal(b.incidents.n, 1);
	assert_int_equal(hostdb_count(&b.hosts), 1);
	assert_int_equal(hostdb_find(&b.hosts, &h)->nhits, 1);
	engine_fini(&b);
}

/* ---- saving into a file system that refuses ---- */

static void mount_tmpfs(struct fx *f, const char *opts)
{
	snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->dir);
	assert_int_equal(mkdir(f->mnt, 0700), 0);
	if (mount("none", f->mnt, "tmpfs", 0, opts) < 0) {
		print_message("mount tmpfs: %s\n", strerror(errno));
		f->mnt[0] = '\0';
		fail();
	}
}

/* The previous state is still there, whole, and loads. */
static void check_intact(struct fx *f, const char *dir, struct engine *orig)
{
	struct engine b;
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_TMP_FILE);
	assert_int_equal(access(path, F_OK), -1); /* no leftover */
	eng_init(&b, &f->c, &f->out);
	assert_int_equal(state_load(&b, dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	same_engine(orig, &b);
	engine_fini(&b);
}

static void many_hosts(struct engine *e, unsigned n, unsigned nhist)
{
	char addr[32];

	for (unsigned i = 0; i < n; i++) {
		struct hostrec *r;

		snprintf(addr, sizeof(addr), "10.%u.%u.%u", 100 + i / 65536, (i / 256) % 256,
			 i % 256);
		r = host(e, addr, HOST_ISOLATED, LEVEL_ISOLATE);
		r->changed_us = T0 + i;
		r->expires_us = T0 + 86400 * USEC_PER_SEC + i;
		snprintf(r->reason, sizeof(r->reason), "smb-propagation");
		hostdb_want_port(r, 6, 445, NULL);
		hostdb_want_port(r, 6, 139, NULL);
		hostdb_add_hit(r, 0, T0 + i)->incident = 1;
		hostdb_add_hit(r, DETECT_RULE_TRW, T0 + i)->level = LEVEL_CONTAIN;
		for (unsigned k = 0; k < nhist; k++)
			assert_int_equal(hostdb_history(r, T0 + i + k,
							(enum hist_kind)(k % HIST_KIND_COUNT),
							LEVEL_ISOLATE, -1, "smb-propagation"),
					 0);
	}
}

/* A file refused after its binding records must not leave them in
 * identity: nothing of a refused file is loaded (found by fuzz_state). */
static void test_refused_bindings(void **state)
{
	static const char bindings[] =
		"meta next_incident=1 paused=0\n"
		"binding addr=10.1.0.5 mac=02:00:0a:01:00:05 state=established first_us=1 "
		"last_us=2 delivered=1\n"
		"binding addr=10.1.0.6 mac=02:00:0a:01:00:06 state=tentative first_us=1 "
		"last_us=2 delivered=0\n";
	struct fx *f = *state;
	struct ident_stats is;
	struct engine e;
	char body[512];

	/* Well formed: both are restored. */
	write_records(f->dir, "quarantined-state 2\n", bindings);
	eng_init(&e, &f->c, &f->out);
	assert_int_equal(state_load(&e, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	identity_get_stats(e.id, &is);
	assert_int_equal(is.bindings, 2);
	engine_fini(&e);

	/* A bad record after them costs that record only (state.h): the
	 * bindings are restored. */
	snprintf(body, sizeof(body), "%sbogus a=1\n", bindings);
	write_records(f->dir, "quarantined-state 2\n", body);
	eng_init(&e, &f->c, &f->out);
	assert_int_equal(state_load(&e, f->dir, NULL, NULL, f->err, sizeof(f->err)), 1);
	identity_get_stats(e.id, &is);
	assert_int_equal(is.bindings, 2);
	engine_fini(&e);

	/* A damaged file (its CRC no longer matches a binding line) is
	 * refused whole, and identity is as it was. */
	write_records(f->dir, "quarantined-state 2\n", bindings);
	{
		char path[128], buf[1024];
		FILE *fp;
		size_t n;
		char *at;

		state_path(f->dir, path, sizeof(path));
		fp = fopen(path, "r");
		assert_non_null(fp);
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		at = strstr(buf, "10.1.0.6");
		assert_non_null(at);
		at[7] = '7';
		spit(path, buf, n);
	}
	eng_init(&e, &f->c, &f->out);
	assert_int_equal(state_load(&e, f->dir, NULL, NULL, f->err, sizeof(f->err)), -EBADMSG);
	identity_get_stats(e.id, &is);
	assert_int_equal(is.bindings, 0);
	assert_int_equal(is.machines, 0);
	assert_true(empty(&e));
	engine_fini(&e);
}

static void test_disk_full(void **state)
{
	struct fx *f = *state;
	struct engine small, big;

	if (!can_mount) {
		print_message("needs root (a tmpfs in a private mount namespace): skipped\n");
		skip();
	}
	mount_tmpfs(f, "size=64k,mode=0700");
	eng_init(&small, &f->c, &f->out);
	eng_init(&big, &f->c, &f->out);
	many_hosts(&small, 5, 2);
	assert_int_equal(state_save(&small, f->mnt, f->err, sizeof(f->err)), 0);
	many_hosts(&big, 2000, 8);
	assert_int_equal(state_save(&big, f->mnt, f->err, sizeof(f->err)), -ENOSPC);
	print_message("disk full: %s\n", f->err);
	assert_non_null(strstr(f->err, "No space left on device"));
	check_intact(f, f->mnt, &small);
	/* Space again: the next save goes through. */
	assert_int_equal(umount2(f->mnt, 0), 0);
	assert_int_equal(mount("none", f->mnt, "tmpfs", 0, "size=16m,mode=0700"), 0);
	assert_int_equal(state_save(&big, f->mnt, f->err, sizeof(f->err)), 0);
	check_intact(f, f->mnt, &big);
	engine_fini(&small);
	engine_fini(&big);
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	struct engine a, b;
	const char *dir = f->dir;
	int want;

	eng_init(&a, &f->c, &f->out);
	eng_init(&b, &f->c, &f->out);
	fill_rich(&a);
	many_hosts(&b, 10, 1);
	if (can_mount) {
		mount_tmpfs(f, "size=16m,mode=0700");
		dir = f->mnt;
	} else if (geteuid() == 0) {
		print_message("needs a private mount namespace as root (chmod does not stop "
			      "root): skipped\n");
		engine_fini(&a);
		engine_fini(&b);
		skip();
	}
	assert_int_equal(state_save(&a, dir, f->err, sizeof(f->err)), 0);
	if (can_mount) {
		assert_int_equal(mount("none", f->mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
		want = -EROFS;
	} else {
		assert_int_equal(chmod(dir, 0500), 0);
		want = -EACCES;
	}
	assert_int_equal(state_save(&b, dir, f->err, sizeof(f->err)), want);
	print_message("read-only: %s\n", f->err);
	check_intact(f, dir, &a);
	if (!can_mount)
		assert_int_equal(chmod(dir, 0700), 0);
	engine_fini(&a);
	engine_fini(&b);
}

static void test_leftover_tmp(void **state)
{
	struct fx *f = *state;
	struct engine a;
	char path[160];

	eng_init(&a, &f->c, &f->out);
	fill_rich(&a);
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATE_TMP_FILE);
	spit(path, "garbage from a crash", 20);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	check_intact(f, f->dir, &a);
	/* A missing directory. */
	assert_int_equal(state_save(&a, "/nonexistent/qd", f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "/nonexistent/qd"));
	engine_fini(&a);
}

/* ---- size ---- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_100k_hosts(void **state)
{
	struct fx *f = *state;
	struct engine a, b;
	struct timespec t0;
	double save_ms, load_ms;
	char path[128];
	struct stat st;
	unsigned n = f->c.limits.max_blocked;

	assert_true(n >= 100000);
	n = 100000;
	eng_init(&a, &f->c, &f->out);
	eng_init(&b, &f->c, &f->out);
	many_hosts(&a, n, 4);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	save_ms = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	load_ms = ms_since(&t0);
	state_path(f->dir, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	print_message("%u hosts (2 hits, 4 history lines each), %lld bytes: save %.0f ms "
		      "(fsyncs included), load %.0f ms\n",
		      n, (long long)st.st_size, save_ms, load_ms);
	same_engine(&a, &b);
	/* Generous: sanitizers and slow CI disks. */
	assert_true(save_ms < 10000);
	engine_fini(&a);
	engine_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_renamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_missing_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incident_ids_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_bindings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftover_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_100k_hosts, setup, teardown),
	};

	/* As root, a private mount namespace: the tmpfs mounts below vanish
	 * with the process whatever happens to it. */
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		can_mount = true;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
