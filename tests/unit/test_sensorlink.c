/* Unit tests of the parent's end of the sensor (sensorlink.h) against
 * hostile sensors: the child the link forks runs one of the behaviours
 * below in place of sensor_main(), and the tests check what the real
 * parent code did with it, through an engine in enforce mode whose
 * enforcement back end records what would go to the kernel.  No root:
 * the sensor is a forked child on a socketpair. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "engine.h"
#include "sensorlink.h"

#define SEC USEC_PER_SEC

/* A kernel of set elements: what the engine asked to add (the flood's
 * blocks are bounded by the policy's rate cap, far below this). */
#define FAKE_MAX 4096
struct fake {
	struct {
		enum nft_set set;
		struct nft_elem e;
	} el[FAKE_MAX];
	unsigned n;
	unsigned commits;
};

static int find(const struct fake *f, enum nft_set s, const struct nft_elem *e)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->el[i].set == s && addr_eq(&f->el[i].e.addr, &e->addr) &&
		    f->el[i].e.l4proto == e->l4proto && f->el[i].e.port == e->port)
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
				if (f->n == FAKE_MAX)
					return -ENOSPC;
				f->el[f->n].set = ops[i].set;
				f->el[f->n].e = ops[i].elems[j];
				f->n++;
			}
		}
	return 0;
}

static int fake_list(void *arg, enum nft_set set, int (*cb)(void *, const struct nft_elem *),
		     void *cbarg)
{
	struct fake *f = arg;

	for (unsigned i = 0; i < f->n; i++)
		if (f->el[i].set == set)
			cb(cbarg, &f->el[i].e);
	return 0;
}

/* What the hostile sensor does after SP_START (the child reads the mode
 * of the fixture as it was at fork()). */
enum mode {
	GOOD,		   /* READY, one valid detection of 10.1.0.5 */
	GARBAGE,	   /* READY, then random bytes written raw */
	SHORT_DETECTION,   /* READY, a detection one byte short */
	NEVER_BLOCK,	   /* READY, a valid detection of the never-block address */
	SEVERITY_TOO_HIGH, /* above the rule's configured severity */
	NO_RULE,	   /* a rule index out of range */
	FUTURE,		   /* a timestamp an hour ahead */
	NAN_LLR,	   /* a likelihood ratio that is not finite */
	TOO_MANY_PORTS,	   /* nports > DETECT_MAX_PORTS */
	SNAP_LENGTH,	   /* a machine's snapshot whose length disagrees with nbind */
	SNAP_MULTICAST,	   /* a snapshot of a multicast MAC */
	BEFORE_READY,	   /* a detection before READY */
	FLOOD,		   /* READY, FLOOD_N valid detections of distinct addresses */
	EXIT3,		   /* READY, then exits with status 3 */
	SEGV,		   /* READY, then SIGSEGV */
	SNAP_ESTABLISHED,  /* READY, a valid snapshot: MAC_M owns 10.1.0.20, established */
};

#define FLOOD_N 200000

struct fix {
	struct conf c;
	struct output out;
	struct fake k;
	struct enforcer enf;
	struct engine e;
	struct sensorlink l;
	enum mode mode;
	unsigned medium_rule; /* a rule configured at SEV_MEDIUM */
	char *events;
	size_t events_len;
};

/* ---- the hostile sensor (in the child: no cmocka here) ---- */

static int child_wait(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

/* Sends, waiting for room: the parent reads at its own pace. */
static int child_send(struct ipc *c, uint16_t type, const void *data, size_t len)
{
	for (;;) {
		int r = ipc_send(c, type, data, len, -1);

		if (r != -EAGAIN)
			return r;
		if (child_wait(c->fd, POLLOUT) < 0)
			return -ETIMEDOUT;
	}
}

static const uint8_t MAC_M[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x20};

static struct qaddr addr4(uint32_t host_order)
{
	struct qaddr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.b[0] = (uint8_t)(host_order >> 24);
	a.b[1] = (uint8_t)(host_order >> 16);
	a.b[2] = (uint8_t)(host_order >> 8);
	a.b[3] = (uint8_t)host_order;
	return a;
}

/* A detection the parent must accept: the default SMB rule at its
 * configured severity, now. */
static void valid_detection(struct sp_detection *m, struct qaddr host, usec_t now)
{
	memset(m, 0, sizeof(*m));
	m->host = host;
	m->addr = host;
	m->severity = SEV_HIGH;
	m->proto = 1; /* "tcp" */
	m->nports = 1;
	m->port_protos[0] = PROTO_TCP;
	m->ports[0] = 445;
	m->rule = 0; /* smb-propagation */
	m->count = 10;
	m->window_s = 60;
	m->probes = 10;
	m->first_probe_us = (int64_t)(now - 5 * SEC);
	m->ts_us = (int64_t)now;
	m->llr = 0.0;
}

/* Waits for the parent to close the channel (or kill us). */
static int child_linger(struct ipc *c)
{
	struct ipc_msg m;

	for (;;) {
		int r = ipc_recv(c, &m);

		if (r == 1) {
			if (m.fd >= 0)
				close(m.fd);
			continue;
		}
		if (r != -EAGAIN)
			return 0;
		if (child_wait(c->fd, POLLIN) < 0)
			return 0;
	}
}

static int hostile(void *arg, int fd)
{
	const struct fix *x = arg;
	struct ipc c;
	struct ipc_msg m;
	struct sp_detection d;
	usec_t now = time_wall_us();
	int r;

	ipc_init(&c, fd, sp_sensor_types, sp_sensor_ntypes);
	/* The start-up state first, as the real sensor. */
	for (;;) {
		r = ipc_recv(&c, &m);
		if (r == 1 && m.type == SP_START)
			break;
		if (r == 1 && m.fd >= 0)
			close(m.fd);
		if (r != -EAGAIN && r != 1)
			return 10;
		if (child_wait(fd, POLLIN) < 0)
			return 11;
	}
	if (m.fd >= 0)
		close(m.fd);
	valid_detection(&d, addr4(0x0a010005), now); /* 10.1.0.5 */
	if (x->mode == BEFORE_READY) {
		(void)child_send(&c, SP_DETECTION, &d, sizeof(d));
		return child_linger(&c);
	}
	if (child_send(&c, SP_READY, NULL, 0) < 0)
		return 12;
	switch (x->mode) {
	case GOOD:
		break;
	case GARBAGE: {
		uint8_t junk[300];
		uint32_t s = 0x9e3779b9u;

		for (size_t i = 0; i < sizeof(junk); i++) {
			s = s * 1103515245u + 12345u;
			junk[i] = (uint8_t)(s >> 16);
		}
		/* Not a valid header by construction: flags nonzero. */
		junk[2] = 0xff;
		if (write(fd, junk, sizeof(junk)) != (ssize_t)sizeof(junk))
			return 13;
		return child_linger(&c);
	}
	case SHORT_DETECTION:
		(void)child_send(&c, SP_DETECTION, &d, sizeof(d) - 1);
		return child_linger(&c);
	case NEVER_BLOCK:
		d.host = d.addr = addr4(0x0a010063); /* 10.1.0.99 */
		break;
	case SEVERITY_TOO_HIGH:
		d.rule = x->medium_rule;
		d.severity = SEV_HIGH;
		break;
	case NO_RULE:
		d.rule = x->c.nrules;
		break;
	case FUTURE:
		d.ts_us = (int64_t)(now + 3600 * SEC);
		break;
	case NAN_LLR:
		d.llr = NAN;
		break;
	case TOO_MANY_PORTS:
		d.nports = DETECT_MAX_PORTS + 1;
		break;
	case SNAP_LENGTH:
	case SNAP_MULTICAST: {
		static struct ident_snap s;
		static const uint8_t mac[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x10};
		size_t len;

		memset(&s, 0, sizeof(s));
		memcpy(s.mac, mac, MAC_LEN);
		s.nbind = 1;
		s.b[0].addr = addr4(0x0a010010);
		s.b[0].state = BIND_TENTATIVE;
		s.b[0].first_us = s.b[0].last_us = now;
		len = sp_machine_len(&s);
		if (x->mode == SNAP_LENGTH)
			s.nbind = 3; /* says 3, carries 1 */
		else
			s.mac[0] = 0x01; /* the group bit */
		(void)child_send(&c, SP_MACHINE, &s, len);
		return child_linger(&c);
	}
	case SNAP_ESTABLISHED: {
		static struct ident_snap s;

		memset(&s, 0, sizeof(s));
		memcpy(s.mac, MAC_M, MAC_LEN);
		s.nbind = 1;
		s.b[0].addr = addr4(0x0a010014); /* 10.1.0.20 */
		s.b[0].state = BIND_ESTABLISHED;
		s.b[0].first_us = now - 3600 * SEC;
		s.b[0].last_us = now;
		(void)child_send(&c, SP_MACHINE, &s, sp_machine_len(&s));
		return child_linger(&c);
	}
	case FLOOD:
		/* As fast as the channel takes them: 10.16.0.0 and up, one time
		 * for all (a wall-clock minute of the policy's cap). */
		for (uint32_t i = 0; i < FLOOD_N; i++) {
			d.host = d.addr = addr4(0x0a100000u + i + 1);
			if (child_send(&c, SP_DETECTION, &d, sizeof(d)) < 0)
				return 14;
		}
		return child_linger(&c);
	case EXIT3:
		return 3;
	case SEGV:
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
		return 15;
	case BEFORE_READY:
		break;
	}
	if (child_send(&c, SP_DETECTION, &d, sizeof(d)) < 0)
		return 16;
	return child_linger(&c);
}

/* ---- the parent: the real code ---- */

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static int
setup_with(void **state, bool to_null)
{
	struct fix *x = calloc(1, sizeof(*x));
	struct enforce_backend be = {.commit = fake_commit, .list = fake_list};
	struct sensorlink_params lp;
	struct qaddr nb;
	FILE *f;

	assert_non_null(x);
	assert_int_equal(conf_init_default(&x->c), 0);
	x->c.enforce.default_ttl_s = 60;
	/* Detections by address carry no MAC: unverified, which
	 * identity.unverified_max caps; isolate makes one element a block. */
	x->c.identity.unverified_max = LEVEL_ISOLATE;
	x->medium_rule = x->c.nrules;
	for (unsigned i = 0; i < x->c.nrules && x->medium_rule == x->c.nrules; i++)
		if (x->c.rules[i].severity == SEV_MEDIUM)
			x->medium_rule = i;
	assert_true(x->medium_rule < x->c.nrules);
	be.arg = &x->k;
	enforce_init(&x->enf, &be);
	/* The flood's hundreds of thousands of events go nowhere. */
	f = to_null ? fopen("/dev/null", "w") : open_memstream(&x->events, &x->events_len);
	assert_non_null(f);
	output_init(&x->out, f, OUTPUT_JSON, false);

	memset(&lp, 0, sizeof(lp));
	lp.eng = &x->e;
	lp.out = &x->out;
	lp.sp.c = &x->c;
	lp.child = hostile;
	lp.child_arg = x;
	sensorlink_init(&x->l, &lp);
	assert_int_equal(engine_init(&x->e, &x->c, MODE_ENFORCE, &x->out, &x->enf, &x->l.ops), 0);
	nb = A("10.1.0.99");
	assert_int_equal(policy_allow(&x->e.pol, &nb, 32), 0);
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_null(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fix *x = *state;

	sensorlink_stop(&x->l);
	engine_fini(&x->e);
	fclose(x->out.stdout_fp);
	free(x->events);
	conf_fini(&x->c);
	free(x);
	return 0;
}

static void start(struct fix *x, enum mode mode)
{
	char err[512];
	int r;

	x->mode = mode;
	r = sensorlink_start(&x->l, 5000, err, sizeof(err));
	if (r < 0)
		fail_msg("sensorlink_start: %s", err);
	assert_true(x->l.pid > 0);
	assert_true(x->l.ready);
}

/* Drives the link as the daemon's loop does until the sensor is gone
 * or ms have passed with nothing to read. */
static void run(struct fix *x, int ms)
{
	while (sensorlink_fd(&x->l) >= 0) {
		struct pollfd p = {.fd = sensorlink_fd(&x->l), .events = POLLIN};
		int r = poll(&p, 1, ms);

		assert_true(r >= 0);
		if (r == 0)
			return;
		sensorlink_read(&x->l, time_wall_us(), time_mono_us());
	}
}

static unsigned count_events(struct fix *x, const char *needle)
{
	unsigned n = 0;

	fflush(x->out.stdout_fp);
	for (const char *p = x->events; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static bool blocked(struct fix *x, const char *a)
{
	struct qaddr q = A(a);

	for (unsigned i = 0; i < x->k.n; i++)
		if (addr_eq(&x->k.el[i].e.addr, &q))
			return true;
	return false;
}

/* A protocol error: the sensor was killed and reaped, an alert went
 * out, a restart is due, and nothing reached the kernel. */
static void assert_protocol_error(struct fix *x, uint64_t errors)
{
	assert_int_equal(x->l.pid, 0);
	assert_int_equal(sensorlink_fd(&x->l), -1);
	assert_int_equal(x->l.protocol_errors, errors);
	assert_int_equal(x->l.deaths, 0);
	assert_true(x->l.restart_at > time_mono_us());
	assert_int_equal(x->k.n, 0);
	assert_int_equal(count_events(x, "protocol error"), errors);
}

static void test_good_sensor_blocks(void **state)
{
	struct fix *x = *state;
	struct qaddr h = A("10.1.0.5");
	struct hostrec *r;

	start(x, GOOD);
	run(x, 300);
	/* Still running, no complaint, and the engine blocked the host. */
	assert_true(x->l.pid > 0);
	assert_int_equal(x->l.protocol_errors, 0);
	assert_true(blocked(x, "10.1.0.5"));
	assert_int_equal(x->k.n, 1);
	r = hostdb_find(&x->e.hosts, &h);
	assert_non_null(r);
	assert_int_equal(r->level, LEVEL_ISOLATE);
}

static void test_garbage(void **state)
{
	struct fix *x = *state;

	start(x, GARBAGE);
	run(x, 2000);
	assert_protocol_error(x, 1);
}

static void test_short_detection(void **state)
{
	struct fix *x = *state;

	start(x, SHORT_DETECTION);
	run(x, 2000);
	assert_protocol_error(x, 1);
}

static void test_never_block_is_policy(void **state)
{
	struct fix *x = *state;
	struct qaddr h = A("10.1.0.99");
	struct hostrec *r;

	start(x, NEVER_BLOCK);
	run(x, 300);
	assert_true(x->l.pid > 0);
	assert_int_equal(x->l.protocol_errors, 0);
	assert_int_equal(x->k.n, 0);
	/* Taken as a detection and judged by policy. */
	assert_int_equal(count_events(x, "\"why\":\"never-block\""), 1);
	r = hostdb_find(&x->e.hosts, &h);
	if (r)
		assert_true(r->level <= LEVEL_WATCH);
}

static void test_bad_detection_fields(void **state)
{
	static const enum mode bad[] = {SEVERITY_TOO_HIGH, NO_RULE, FUTURE, NAN_LLR,
					TOO_MANY_PORTS};
	struct fix *x = *state;

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		start(x, bad[i]);
		run(x, 2000);
		assert_protocol_error(x, i + 1);
	}
	assert_int_equal(x->e.st.detections, 0);
}

static void test_bad_snapshots(void **state)
{
	struct fix *x = *state;
	uint8_t mac[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x10};

	start(x, SNAP_LENGTH);
	run(x, 2000);
	assert_protocol_error(x, 1);
	start(x, SNAP_MULTICAST);
	run(x, 2000);
	assert_protocol_error(x, 2);
	/* Neither reached the replica. */
	assert_int_equal(identity_machine(x->e.id, mac), 0);
	mac[0] = 0x01;
	assert_int_equal(identity_machine(x->e.id, mac), 0);
}

static void test_report_before_ready(void **state)
{
	struct fix *x = *state;
	char err[512];

	x->mode = BEFORE_READY;
	assert_true(sensorlink_start(&x->l, 5000, err, sizeof(err)) < 0);
	assert_int_equal(x->l.pid, 0);
	assert_int_equal(x->l.protocol_errors, 1);
	assert_int_equal(x->k.n, 0);
	assert_int_equal(x->e.st.detections, 0);
	assert_int_equal(count_events(x, "a detection before it was ready"), 1);
}

static void test_flood(void **state)
{
	struct fix *x = *state;
	usec_t t0 = time_mono_us(), worst = 0;
	uint64_t got = 0, calls = 0, most = 0;

	start(x, FLOOD);
	while (got < FLOOD_N) {
		struct pollfd p = {.fd = sensorlink_fd(&x->l), .events = POLLIN};
		uint64_t before = x->l.ipc.st.received;
		usec_t a, b;

		assert_true(p.fd >= 0);
		assert_int_equal(poll(&p, 1, 5000), 1);
		a = time_mono_us();
		sensorlink_read(&x->l, time_wall_us(), a);
		b = time_mono_us();
		worst = MAX(worst, b - a);
		most = MAX(most, x->l.ipc.st.received - before);
		got += x->l.ipc.st.received - before;
		calls++;
		/* The parent stays responsive: bounded work a call (how
		 * long a call took depends on the machine's load: a figure,
		 * not an assertion). */
		assert_true(x->l.ipc.st.received - before <= 512);
	}
	printf("figure: flood of %u detections: %llu reads, at most %llu messages and %llu us a "
	       "read, %llu ms in all; %u blocks\n",
	       FLOOD_N, (unsigned long long)calls, (unsigned long long)most,
	       (unsigned long long)worst, (unsigned long long)((time_mono_us() - t0) / 1000),
	       x->k.n);
	assert_true(x->l.pid > 0);
	assert_int_equal(x->l.protocol_errors, 0);
	assert_int_equal(x->e.st.detections, FLOOD_N);
	/* The policy's cap on automatic actions (enforce.max_actions_per_minute,
	 * per wall-clock minute of the detections' time): every detection
	 * carried the same time, so one minute's worth. */
	assert_true(x->k.n > 0);
	assert_true(x->k.n <= x->c.enforce.max_actions_per_minute);
	assert_true(x->e.pol.rate_suppressed > 0);
}

static void test_deaths_restart_with_backoff(void **state)
{
	struct fix *x = *state;
	usec_t before, due;

	start(x, EXIT3);
	before = time_mono_us();
	run(x, 2000);
	assert_int_equal(x->l.pid, 0);
	assert_int_equal(x->l.deaths, 1);
	assert_int_equal(x->l.protocol_errors, 0);
	assert_int_equal(count_events(x, "\"error\""), 1);
	assert_int_equal(count_events(x, "ended (status 3)"), 1);
	/* First death: 1 s. */
	assert_true(x->l.restart_at >= before + 1 * SEC);
	assert_true(x->l.restart_at <= time_mono_us() + 1 * SEC);
	due = x->l.restart_at;

	/* Not before it is due... */
	x->mode = SEGV;
	sensorlink_tick(&x->l, time_wall_us(), due - 1);
	assert_int_equal(x->l.pid, 0);
	/* ... then a new one, which dies at once: 2 s. */
	sensorlink_tick(&x->l, time_wall_us(), due);
	assert_true(x->l.pid > 0);
	assert_int_equal(x->l.starts, 2);
	before = time_mono_us();
	run(x, 2000);
	assert_int_equal(x->l.pid, 0);
	assert_int_equal(x->l.deaths, 2);
	assert_int_equal(count_events(x, "died of signal 11"), 1);
	assert_int_equal(count_events(x, "\"error\""), 2);
	assert_true(count_events(x, "sensor") >= 2);
	assert_true(x->l.restart_at >= before + 2 * SEC);
	assert_true(x->l.restart_at <= time_mono_us() + 2 * SEC);
	assert_int_equal(count_events(x, "starts in 2 s"), 1);
	assert_int_equal(x->k.n, 0);
}

/* After two quick deaths, one that ran 10 s (its start moved back) ends:
 * the next starts in 1 s, and the alert says so. */
static void test_alert_says_the_backoff(void **state)
{
	struct fix *x = *state;
	usec_t before;

	start(x, EXIT3);
	run(x, 2000);
	x->l.restart_at = time_mono_us();
	sensorlink_tick(&x->l, time_wall_us(), x->l.restart_at);
	run(x, 2000);
	x->l.restart_at = time_mono_us();
	sensorlink_tick(&x->l, time_wall_us(), x->l.restart_at);
	assert_true(x->l.pid > 0);
	x->l.started_mono -= 11 * SEC;
	before = time_mono_us();
	run(x, 2000);
	assert_int_equal(x->l.deaths, 3);
	assert_true(x->l.restart_at >= before + 1 * SEC);
	assert_true(x->l.restart_at <= time_mono_us() + 1 * SEC);
	fflush(x->out.stdout_fp);
	assert_non_null(strstr(strrchr(x->events, '{'), "starts in 1 s"));
}

/* Sensors that fail to start (a report before READY), one after the
 * other: each retry waits twice as long as the one before. */
static void test_failed_starts_back_off(void **state)
{
	struct fix *x = *state;
	usec_t mono = time_mono_us(), delay[3];

	x->mode = BEFORE_READY;
	x->l.restart_at = 1;
	for (unsigned i = 0; i < ARRAY_SIZE(delay); i++) {
		sensorlink_tick(&x->l, time_wall_us(), mono);
		assert_int_equal(x->l.pid, 0);
		assert_int_equal(x->l.protocol_errors, i + 1);
		assert_true(x->l.restart_at > mono);
		delay[i] = x->l.restart_at - mono;
		mono = x->l.restart_at;
	}
	printf("retries after failed starts: %llu, %llu, %llu ms\n",
	       (unsigned long long)delay[0] / 1000, (unsigned long long)delay[1] / 1000,
	       (unsigned long long)delay[2] / 1000);
	assert_int_equal(x->l.starts, 3);
	assert_true(delay[0] >= 1 * SEC);
	assert_true(delay[1] >= 2 * SEC);
	assert_true(delay[2] >= 4 * SEC);
	assert_int_equal(x->k.n, 0);
}

/* The real sensor (sensor_main(), no capture) started when the parent
 * knows an established binding: the start-up state carries it, and the
 * sensor must still say READY before anything else. */
static void test_real_sensor_restarts_with_bindings(void **state)
{
	struct fix *x = *state;
	struct qaddr a = A("10.1.0.20");
	uint8_t mac[MAC_LEN];
	char err[512];
	int r;

	start(x, SNAP_ESTABLISHED);
	run(x, 300);
	assert_true(x->l.pid > 0);
	assert_int_equal(x->l.protocol_errors, 0);
	assert_int_equal(identity_binding(x->e.id, &a, mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, MAC_M, MAC_LEN);

	sensorlink_stop(&x->l);
	x->l.p.child = NULL;
	x->l.p.sp.ncaps = 0;
	r = sensorlink_start(&x->l, 5000, err, sizeof(err));
	if (r < 0)
		fail_msg("the real sensor did not start: %s (protocol errors %llu)", err,
			 (unsigned long long)x->l.protocol_errors);
	assert_true(x->l.ready);
	run(x, 300);
	assert_true(x->l.pid > 0);
	assert_int_equal(x->l.protocol_errors, 0);
}

/* The blocks of a batch go to the real sensor in messages of up to
 * SP_BLOCK_MAX, which it takes (a message it refused would end it), in
 * order with the other messages. */
static void test_blocks_batched(void **state)
{
	struct fix *x = *state;
	struct detect_block iso = {.level = LEVEL_ISOLATE};
	struct qaddr sv = A("10.1.9.10");
	char err[512], a[32];
	uint64_t sent;
	int r;

	x->l.p.child = NULL;
	x->l.p.sp.ncaps = 0;
	r = sensorlink_start(&x->l, 5000, err, sizeof(err));
	if (r < 0)
		fail_msg("the real sensor did not start: %s", err);
	sent = x->l.ipc.st.sent;
	for (unsigned i = 0; i < 2 * SP_BLOCK_MAX + 10; i++) {
		struct qaddr k;

		snprintf(a, sizeof(a), "10.1.%u.%u", 1 + i / 200, 1 + i % 200);
		addr_parse(a, &k);
		x->l.ops.set_block(x->l.ops.arg, &k, i % 2 ? &iso : NULL, time_wall_us());
	}
	/* Two full messages went at once; the rest waits for the flush. */
	assert_int_equal(x->l.ipc.st.sent - sent, 2);
	assert_int_equal(x->l.npend, 10);
	/* Another message sends them first. */
	x->l.ops.set_surveil(x->l.ops.arg, &sv, time_wall_us() + 60 * SEC);
	assert_int_equal(x->l.npend, 0);
	assert_int_equal(x->l.ipc.st.sent - sent, 4);
	x->l.ops.set_block(x->l.ops.arg, &sv, &iso, time_wall_us());
	sensorlink_flush(&x->l);
	assert_int_equal(x->l.ipc.st.sent - sent, 5);
	run(x, 300);
	assert_true(x->l.pid > 0);
	assert_int_equal(x->l.protocol_errors, 0);
	assert_int_equal(x->l.deaths, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_sensor_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_detection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_block_is_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_detection_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_before_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood, setup_null, teardown),
		cmocka_unit_test_setup_teardown(test_deaths_restart_with_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_says_the_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_starts_back_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_sensor_restarts_with_bindings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blocks_batched, setup, teardown),
	};

	/* A sensor that is gone must not take the test with it. */
	signal(SIGPIPE, SIG_IGN);
	if (getenv("QD_TEST_FILTER"))
		cmocka_set_test_filter(getenv("QD_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
