/* Fuzz target for what the parent takes from its sensor: every message
 * type the sensor may send (sp_parent_types, sensorproto.h), through
 * sensorlink_handle() (sensorlink.c), the checks of sensorproto.c and
 * what they hand on to (engine_detection(), engine_identity(),
 * identity_import(), the stats and capture failures).  The sensor parses
 * hostile packets, so a compromised one chooses every byte of these.
 *
 * The parent is a real engine (an engine is made for every input) under
 * data/sensorproto.conf, with a registry small enough to fill, the
 * gateway's own MAC and address known, and a sensorlink with no process
 * behind it (pid 0, ready): what the engine tells the sensor goes nowhere.
 *
 * The input is a mode byte (bit 0: alert mode, no enforcer; else enforce
 * mode with a back end that accepts every transaction, so that blocks go
 * through actions.c as in the daemon), then messages:
 *
 *   u16 type, u8 ctl, u8 pad, u32 len (host order), len bytes
 *
 * ctl is the fuzzer's, not the wire's: bit 0 (FZ_COMMIT) ends a read
 * batch after the message (engine_commit(), as sensorlink_read() does
 * after each batch, and after every 512 messages here too); bit 1
 * (FZ_STARTING) makes the message arrive before the sensor said ready.
 * Each message is first held to its type's declaration exactly as
 * ipc_recv() holds it (ipc_type_find(), min_len..max_len): one that
 * breaks it is refused (counted and skipped; the daemon would end the
 * sensor).  A protocol error ends nothing here either: ready is set again
 * and the next message goes on, so that one input tests many.  Times are
 * checked against a fixed wall clock, WALL.
 *
 * Invariants, after each message: sensorlink_handle() returns 0 or
 * -EPROTO; the registry holds no more than its capacity; no host above
 * watch is a never-block or own address, nor has one in the kernel's
 * isolation sets; identity's tables hold no more than their bounds, and
 * its counters add up.
 *
 * Built with -DFUZZ_SEEDS, main() writes the seed corpus instead
 * (fuzz/corpus/sensorproto): see the end of the file. */
#include <errno.h>
#include <string.h>

#include "enforce.h"
#include "fuzz.h"
#include "log.h"
#include "sensorlink.h"

#define WALL	    (1767000000ULL * USEC_PER_SEC)
#define FZ_COMMIT   0x01
#define FZ_STARTING 0x02
#define FZ_ALERT    0x01
#define BATCH	    512 /* sensorlink.c's READ_PER_CALL */
#define MAX_BLOCKED 64

struct fz_hdr {
	uint16_t type;
	uint8_t ctl;
	uint8_t pad;
	uint32_t len;
};

static const uint8_t GW_MAC[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x01};
static struct conf conf;
static FILE *devnull;
static struct qaddr gw_addr;

/* What the last input did (the seed generator checks its seeds with it). */
static struct {
	unsigned handled, refused, protocol_errors;
} last;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf_diags diags;

	if (conf_load(&conf, FUZZ_DATA_DIR "/sensorproto.conf", &diags) < 0) {
		fprintf(stderr, "fuzz: %s/sensorproto.conf does not load\n", FUZZ_DATA_DIR);
		abort();
	}
	/* Below what a file may say: a few dozen reports fill them. */
	conf.limits.max_blocked = MAX_BLOCKED;
	conf.limits.max_machines = 16;
	conf.limits.max_bindings = 64;
	FUZZ_CHECK(addr_parse("10.66.1.1", &gw_addr) == 0);
	devnull = fopen("/dev/null", "we");
	FUZZ_CHECK(devnull);
	/* The alerts of protocol errors, not to the fuzzer's output. */
	log_set_where(0);
	return 0;
}

static int accept_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	return 0;
}

static bool is_own_mac(void *arg, const uint8_t *mac)
{
	return memcmp(mac, GW_MAC, MAC_LEN) == 0;
}

static bool is_self(void *arg, const struct qaddr *a)
{
	return addr_eq(a, &gw_addr);
}

static bool shielded(const struct engine *e, const struct qaddr *a)
{
	return a->family && !addr_is_mac(a) &&
	       (prefix_list_contains(&e->c->networks.never_block, a) || addr_eq(a, &gw_addr));
}

static void check(struct engine *e)
{
	struct ident_stats st;
	uint32_t sum = 0;

	FUZZ_CHECK(hostdb_count(&e->hosts) <= hostdb_capacity(&e->hosts));
	for (struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r)) {
		if (r->level <= LEVEL_WATCH)
			continue;
		/* What is in force: an address's record by its address, a
		 * machine's by its MAC and the addresses in the kernel's
		 * isolation sets. */
		FUZZ_CHECK(!shielded(e, &r->id));
		for (unsigned i = 0; i < r->naddrs; i++)
			FUZZ_CHECK(!r->addrs[i].kiso || !shielded(e, &r->addrs[i].a));
	}
	identity_get_stats(e->id, &st);
	FUZZ_CHECK(st.machines <= st.max_machines && st.bindings <= st.max_bindings);
	for (unsigned i = 0; i < BIND_STATE_COUNT; i++)
		sum += st.by_state[i];
	FUZZ_CHECK(sum == st.bindings && st.by_state[BIND_NONE] == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As ipc's buffer: aligned for any structure, one byte over. */
	static union {
		max_align_t align;
		uint8_t b[IPC_MAX_PAYLOAD + 1];
	} buf;
	static struct engine eng;
	static struct sensorlink link;
	struct enforce_backend be = {.commit = accept_commit};
	struct enforcer enf;
	struct output out;
	struct sensorlink_params lp;
	enum run_mode mode;
	unsigned batch = 0;

	memset(&last, 0, sizeof(last));
	if (size < 1)
		return 0;
	mode = data[0] & FZ_ALERT ? MODE_ALERT : MODE_ENFORCE;
	data++;
	size--;

	output_init(&out, devnull, OUTPUT_JSON, false);
	enforce_init(&enf, &be);
	memset(&lp, 0, sizeof(lp));
	lp.eng = &eng;
	lp.out = &out;
	lp.sp.c = &conf;
	lp.sp.ncaps = conf.capture.ninterfaces;
	for (unsigned i = 0; i < lp.sp.ncaps; i++)
		memcpy(lp.sp.ifnames[i], conf.capture.interfaces[i], IF_NAMESIZE);
	sensorlink_init(&link, &lp);
	FUZZ_CHECK(engine_init(&eng, &conf, mode, &out, mode == MODE_ENFORCE ? &enf : NULL,
			       &link.ops) == 0);
	identity_set_own(eng.id, is_own_mac, NULL);
	eng.is_self = is_self;
	link.pid = 0;
	link.ready = true;

	while (size >= sizeof(struct fz_hdr)) {
		const struct ipc_type *t;
		struct fz_hdr h;
		struct ipc_msg m;
		int r;

		memcpy(&h, data, sizeof(h));
		data += sizeof(h);
		size -= sizeof(h);
		if (h.len > size)
			break; /* truncated: ipc never passes one on */
		memcpy(buf.b, data, h.len);
		data += h.len;
		size -= h.len;
		t = ipc_type_find(sp_parent_types, sp_parent_ntypes, h.type);
		if (!t || h.len < t->min_len || h.len > t->max_len || t->fd) {
			last.refused++;
			continue;
		}
		m = (struct ipc_msg){.type = h.type, .data = buf.b, .len = h.len, .fd = -1};
		if (h.ctl & FZ_STARTING)
			link.ready = false;
		r = sensorlink_handle(&link, &m, WALL);
		FUZZ_CHECK(r == 0 || r == -EPROTO);
		last.handled++;
		if (r < 0) {
			last.protocol_errors++;
			FUZZ_CHECK(link.pid == 0);
		}
		link.ready = true;
		if ((h.ctl & FZ_COMMIT) || ++batch == BATCH) {
			engine_commit(&eng);
			batch = 0;
		}
		check(&eng);
	}
	engine_commit(&eng);
	check(&eng);
	engine_fini(&eng);
	return 0;
}

#ifdef FUZZ_SEEDS
/* ---- the seed corpus: fuzz_sensorproto_seeds DIR ----
 *
 * Valid messages of every type, as an honest sensor would send them at
 * WALL (each is checked to pass: no refusal, no protocol error), and
 * invalid ones (each is checked to fail as it should). */
#include <netinet/in.h>

static uint8_t seed[1 << 20];
static size_t seed_len;
static const char *seed_dir;

static void s_begin(uint8_t mode)
{
	seed[0] = mode;
	seed_len = 1;
}

static void s_msg(uint16_t type, uint8_t ctl, const void *p, size_t len)
{
	struct fz_hdr h = {.type = type, .ctl = ctl, .len = (uint32_t)len};

	FUZZ_CHECK(seed_len + sizeof(h) + len <= sizeof(seed));
	memcpy(seed + seed_len, &h, sizeof(h));
	memcpy(seed + seed_len + sizeof(h), p, len);
	seed_len += sizeof(h) + len;
}

/* Writes a seed that fails an invariant until the bug it found is fixed
 * (then it is an ordinary seed, for s_end()). */
static void s_end_bug(const char *name)
{
	fuzz_write_file(seed_dir, name, seed, seed_len);
	printf("%s: written, not run (a known bug)\n", name);
}

/* Writes the seed, runs it, and checks it did what its name says. */
static void s_end(const char *name, unsigned refused, unsigned errors)
{
	fuzz_write_file(seed_dir, name, seed, seed_len);
	LLVMFuzzerTestOneInput(seed, seed_len);
	if (last.refused != refused || last.protocol_errors != errors) {
		fprintf(stderr, "%s: %u refused, %u protocol errors (not %u, %u)\n", name,
			last.refused, last.protocol_errors, refused, errors);
		abort();
	}
	printf("%s: %u messages\n", name, last.handled + last.refused);
}

static struct qaddr ip(const char *s)
{
	struct qaddr a;

	FUZZ_CHECK(addr_parse(s, &a) == 0);
	return a;
}

static struct qaddr mac(const char *s)
{
	struct qaddr a;
	uint8_t mac[MAC_LEN];

	FUZZ_CHECK(mac_parse(s, mac) == 0);
	addr_set_mac(&a, mac);
	return a;
}

static struct sp_detection det(struct qaddr host, const char *src, unsigned rule, unsigned sev)
{
	struct sp_detection d;

	memset(&d, 0, sizeof(d));
	d.host = host;
	if (src)
		d.addr = ip(src);
	d.rule = rule;
	d.severity = (uint8_t)sev;
	d.proto = 1; /* tcp */
	d.kind = EVIDENCE_DISTINCT_DST;
	d.nports = 2;
	d.ports[0] = 445;
	d.ports[1] = 139;
	d.port_protos[0] = d.port_protos[1] = PROTO_TCP;
	d.fixed_ports = 1;
	d.count = 12;
	d.window_s = 60;
	d.probes = 40;
	d.first_probe_us = (int64_t)(WALL - 30 * USEC_PER_SEC);
	d.ts_us = (int64_t)(WALL - USEC_PER_SEC);
	return d;
}

static struct sp_detection trw(struct qaddr host, const char *src)
{
	struct sp_detection d = det(host, src, DETECT_RULE_TRW, SEV_MEDIUM);

	d.kind = EVIDENCE_DISTINCT_DST;
	d.fixed_ports = 0;
	d.ports[0] = 22;
	d.failures = 9;
	d.successes = 1;
	d.llr = 4.6;
	return d;
}

static struct ident_snap snap;

static void snap_begin(const char *mac)
{
	memset(&snap, 0, sizeof(snap));
	FUZZ_CHECK(mac_parse(mac, snap.mac) == 0);
}

static void snap_add(const char *addr, enum bind_state st)
{
	struct ident_snap_bind *b = &snap.b[snap.nbind++];

	b->addr = ip(addr);
	b->state = (uint8_t)st;
	b->first_us = WALL - 600 * USEC_PER_SEC;
	b->last_us = WALL - USEC_PER_SEC;
}

static void snap_send(uint8_t ctl)
{
	s_msg(SP_MACHINE, ctl, &snap, sp_machine_len(&snap));
}

static struct sp_ident ident(enum ident_event_kind kind, const char *mac, const char *addr)
{
	struct sp_ident m;

	memset(&m, 0, sizeof(m));
	m.kind = (uint8_t)kind;
	m.how = 2; /* arp */
	FUZZ_CHECK(mac_parse(mac, m.mac) == 0);
	if (addr)
		m.addr = ip(addr);
	m.ts = (int64_t)(WALL - USEC_PER_SEC);
	return m;
}

static struct sp_stats stats(void)
{
	struct sp_stats m;

	memset(&m, 0, sizeof(m));
	m.nifaces = conf.capture.ninterfaces;
	for (unsigned i = 0; i < m.nifaces; i++) {
		m.iface[i].up = 1;
		m.iface[i].st.received = 1000;
	}
	m.decode.packets = m.decode.decoded = 1000;
	return m;
}

int main(int argc, char **argv)
{
	struct sp_detection d;
	struct sp_ident id;
	struct sp_stats st;
	struct sp_capfail cf;
	struct sp_evclosed ec;
	char name[64];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	seed_dir = argv[1];
	LLVMFuzzerInitialize(&argc, &argv);

	s_begin(0);
	s_msg(SP_READY, FZ_STARTING, NULL, 0);
	s_end("001-ready", 0, 0);

	/* A machine that holds an address, then detected by a rule. */
	s_begin(0);
	snap_begin("02:00:00:00:00:50");
	snap_add("10.66.1.50", BIND_ESTABLISHED);
	snap_send(0);
	d = det(mac("02:00:00:00:00:50"), "10.66.1.50", 0, SEV_HIGH);
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("002-detection-rule", 0, 0);

	s_begin(0);
	d = trw(ip("10.66.2.7"), "10.66.2.7");
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("003-detection-trw", 0, 0);

	/* Dark space: the addresses it hit, inside the protected networks. */
	s_begin(0);
	d = det(ip("10.66.1.60"), "10.66.1.60", (unsigned)conf_rule_find(&conf, "dark-space"),
		SEV_MEDIUM);
	d.nports = 1;
	d.ports[0] = 6379;
	d.fixed_ports = 0;
	d.count = 8;
	d.ndark = 4;
	for (unsigned i = 0; i < 4; i++)
		d.dark[i] = ip(i % 2 ? "fd66::9:1" : "10.66.192.7");
	d.dark[2].b[3] = 9;
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("006-detection-dark-space", 0, 0);

	/* Brute force against one server: one port of the rule's, the
	 * server as target and as the one destination to contain towards;
	 * an address and a machine (by MAC, towards an IPv6 server). */
	s_begin(0);
	d = det(ip("10.66.1.61"), "10.66.1.61", 0, SEV_HIGH);
	d.kind = EVIDENCE_DISTINCT_DST;
	d.nports = 1;
	d.ports[0] = 22;
	d.peer = d.target = ip("10.66.1.20");
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	snap_begin("02:00:00:00:00:59");
	snap_add("fd66::59", BIND_ESTABLISHED);
	snap_send(0);
	d = det(mac("02:00:00:00:00:59"), "fd66::59", 0, SEV_HIGH);
	d.nports = 1;
	d.ports[0] = 3389;
	d.peer = d.target = ip("fd66::20");
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	/* Brute force against the gateway's own SSH. */
	d = det(ip("10.66.1.62"), "10.66.1.62", 0, SEV_HIGH);
	d.kind = EVIDENCE_CONNECTIONS;
	d.count = 20;
	d.nports = 1;
	d.ports[0] = 22;
	d.peer = d.target = gw_addr;
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("007-detection-peer", 0, 0);

	/* Who probed the host before: a machine, then an address that
	 * cannot be tied to one, on the ports of smb-propagation. */
	s_begin(0);
	snap_begin("02:00:00:00:00:52");
	snap_add("10.66.1.52", BIND_ESTABLISHED);
	snap_send(0);
	d = det(mac("02:00:00:00:00:52"), "10.66.1.52", 0, SEV_HIGH);
	d.nby = 2;
	d.by[0].from = mac("02:00:00:00:00:50");
	d.by[0].proto = PROTO_TCP;
	d.by[0].port = 445;
	d.by[0].first_us = (int64_t)(WALL - 50 * USEC_PER_SEC);
	d.by[1].from = ip("10.66.2.7");
	d.by[1].unverified = 1;
	d.by[1].proto = PROTO_TCP;
	d.by[1].port = 139;
	d.by[1].first_us = (int64_t)(WALL - 40 * USEC_PER_SEC);
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("009-detection-probed-by", 0, 0);

	s_begin(FZ_ALERT);
	d = det(ip("fd66::7"), "fd66::7", 0, SEV_HIGH);
	d.proto = 2; /* udp */
	d.port_protos[0] = d.port_protos[1] = PROTO_UDP;
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("004-detection-alert-mode", 0, 0);

	s_begin(0);
	snap_begin("02:00:00:00:00:51");
	snap_send(0);
	s_end("005-machine-empty", 0, 0);

	s_begin(0);
	snap_begin("02:00:00:00:00:52");
	snap_add("10.66.1.52", BIND_TENTATIVE);
	snap_send(0);
	s_end("006-machine-one", 0, 0);

	/* Every state, both families, the pin, a move from another machine. */
	s_begin(0);
	snap_begin("02:00:00:00:00:53");
	snap_add("10.66.1.60", BIND_ESTABLISHED);
	snap_send(0);
	snap_begin("02:00:00:00:00:0a");
	snap_add("10.66.1.10", BIND_PINNED);
	snap_add("10.66.1.11", BIND_ESTABLISHED);
	snap_add("10.66.1.60", BIND_TENTATIVE);
	snap_add("fd66::11", BIND_CLAIMED);
	snap.b[3].contested = 1;
	snap.b[1].delivered = 1;
	snap.flags = IDM_FORGER;
	snap_send(0);
	d = det(mac("02:00:00:00:00:0a"), "10.66.1.11", 0, SEV_HIGH);
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("007-machine-several", 0, 0);

	/* A machine blocked by MAC, then given the never-block address by
	 * a snapshot: its block is put on the address too (kiso), which
	 * isolates the never-block host.  The regression input of the bug the
	 * target found first: engine_machine_refresh() takes every trusted
	 * address for a blocked machine and queues a refresh that isolates
	 * it, never asking policy_never_listed(). */
	s_begin(0);
	snap_begin("02:00:00:00:00:54");
	snap_add("10.66.1.54", BIND_ESTABLISHED);
	snap_send(0);
	d = det(mac("02:00:00:00:00:54"), "10.66.1.54", 0, SEV_HIGH);
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	snap_add("10.66.1.30", BIND_ESTABLISHED);
	snap_send(0);
	id = ident(IDENT_ESTABLISHED, "02:00:00:00:00:54", "10.66.1.30");
	s_msg(SP_IDENT, FZ_COMMIT, &id, sizeof(id));
	s_end_bug("008-blocked-machine-takes-never-block-address");

	for (unsigned k = IDENT_ESTABLISHED; k <= IDENT_MAC_FLOOD; k++) {
		s_begin(0);
		snap_begin("02:00:00:00:00:55");
		snap_add("10.66.1.55", BIND_ESTABLISHED);
		snap_send(0);
		id = ident((enum ident_event_kind)k, "02:00:00:00:00:55", "10.66.1.55");
		if (k == IDENT_MOVED || k == IDENT_CONFLICT || k == IDENT_SPOOF)
			FUZZ_CHECK(mac_parse("02:00:00:00:00:56", id.other) == 0);
		if (k == IDENT_PORT_FLAP) {
			id.port = 3;
			id.other_port = 4;
			id.how = 5; /* fdb */
		}
		if (k == IDENT_RELAY || k == IDENT_MAC_FLOOD)
			id.count = 40;
		if (k == IDENT_MAC_FLOOD) {
			memset(&id.addr, 0, sizeof(id.addr));
			memset(id.mac, 0, MAC_LEN);
		}
		s_msg(SP_IDENT, FZ_COMMIT, &id, sizeof(id));
		snprintf(name, sizeof(name), "%03u-ident-%s", 10 + k, ident_event_name(k));
		s_end(name, 0, 0);
	}

	s_begin(0);
	st = stats();
	s_msg(SP_STATS, 0, &st, sizeof(st));
	st.out_lost = 3;
	s_msg(SP_STATS, 0, &st, sizeof(st));
	s_end("020-stats", 0, 0);

	s_begin(0);
	memset(&cf, 0, sizeof(cf));
	cf.iface = 1;
	cf.error = -ENODEV;
	snprintf(cf.text, sizeof(cf.text), "eth1: No such device exists\n(SIOCGIFHWADDR)");
	s_msg(SP_CAPFAIL, 0, &cf, sizeof(cf));
	s_end("021-capfail", 0, 0);

	s_begin(0);
	memset(&ec, 0, sizeof(ec));
	ec.host = ip("10.66.1.50");
	ec.file_id = 1234;
	s_msg(SP_EVIDENCE_CLOSED, 0, &ec, sizeof(ec));
	s_end("022-evidence-closed", 0, 0);

	/* An outbreak: more hosts than the registry holds, a never-block
	 * and an own address among them, in read batches. */
	s_begin(0);
	for (unsigned i = 0; i < MAX_BLOCKED + 16; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.66.%u.%u", 3 + i / 200, 1 + i % 200);
		d = det(ip(a), a, 0, SEV_HIGH);
		s_msg(SP_DETECTION, i % 8 == 7 ? FZ_COMMIT : 0, &d, sizeof(d));
	}
	d = det(ip("10.66.1.30"), "10.66.1.30", 0, SEV_HIGH);
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d = det(ip("10.66.1.1"), "10.66.1.1", 0, SEV_HIGH);
	s_msg(SP_DETECTION, FZ_COMMIT, &d, sizeof(d));
	s_end("023-outbreak", 0, 0);

	/* ---- invalid ---- */
	s_begin(0);
	s_msg(99, 0, NULL, 0);
	s_msg(SP_BLOCK, 0, NULL, 0);
	s_msg(SP_DETECTION, 0, &d, sizeof(d) - 1);
	s_msg(SP_READY, 0, &d, 1);
	s_end("900-refused-type-and-length", 4, 0);

	s_begin(0);
	s_msg(SP_READY, 0, NULL, 0);
	d = det(ip("10.66.1.70"), "10.66.1.70", 0, SEV_HIGH);
	s_msg(SP_DETECTION, FZ_STARTING, &d, sizeof(d));
	s_end("901-ready-twice-detection-before-ready", 0, 2);

	s_begin(0);
	d = det(ip("10.66.1.71"), "10.66.1.71", conf.nrules, SEV_LOW);
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d = det(ip("10.66.1.71"), "10.66.1.71", DETECT_RULE_TRW, SEV_HIGH);
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d = det(ip("10.66.1.71"), "10.66.1.71", 0, SEV_HIGH);
	d.ts_us = (int64_t)(WALL + 2 * USEC_PER_SEC);
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d = det(mac("01:00:5e:00:00:01"), NULL, 0, SEV_HIGH);
	d.host.b[7] = 1;
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	s_end("902-detection-bad-rule-severity-time-host", 0, 4);

	/* Dark addresses for a rule without dark space; one outside the
	 * protected networks; too many. */
	s_begin(0);
	d = det(ip("10.66.1.72"), "10.66.1.72", 0, SEV_HIGH);
	d.ndark = 1;
	d.dark[0] = ip("10.66.192.7");
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d = det(ip("10.66.1.72"), "10.66.1.72", (unsigned)conf_rule_find(&conf, "dark-space"),
		SEV_MEDIUM);
	d.ndark = 1;
	d.dark[0] = ip("192.0.2.7");
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d.ndark = DETECT_DARK_MAX + 1;
	d.dark[0] = ip("10.66.192.7");
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	s_end("906-detection-bad-dark", 0, 3);

	/* A destination of the other family than the source, a multicast
	 * one, two ports, not the target, for a port list that is not the
	 * rule's, and a destination that is a MAC.  (The gateway's own
	 * address is a good one: guessing passwords on its own SSH is
	 * contained towards it.) */
	s_begin(0);
	d = det(ip("10.66.1.73"), "10.66.1.73", 0, SEV_HIGH);
	d.nports = 1;
	d.peer = d.target = ip("fd66::20");
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d.peer = d.target = ip("224.0.0.251");
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d.peer = d.target = ip("10.66.1.20");
	d.nports = 2;
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d.nports = 1;
	d.target = ip("10.66.1.21");
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d.target = d.peer;
	d.fixed_ports = 0;
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	d.fixed_ports = 1;
	d.peer = d.target = mac("02:00:00:00:00:20");
	s_msg(SP_DETECTION, 0, &d, sizeof(d));
	s_end("907-detection-bad-peer", 0, 6);

	/* Probe edges the sensor's record cannot make: more than it sends,
	 * a MAC said unverified, the host itself, a port no worm rule
	 * watches, out of time order, after the detection, a source twice,
	 * an unused entry not zero. */
	s_begin(0);
	d = det(ip("10.66.1.74"), "10.66.1.74", 0, SEV_HIGH);
	d.nby = 1;
	d.by[0].from = mac("02:00:00:00:00:50");
	d.by[0].proto = PROTO_TCP;
	d.by[0].port = 445;
	d.by[0].first_us = (int64_t)(WALL - 50 * USEC_PER_SEC);
	{
		struct sp_detection b;

		b = d;
		b.nby = PROBES_BY_MAX + 1;
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
		b = d;
		b.by[0].unverified = 1;
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
		b = d;
		b.by[0].from = b.host;
		b.by[0].unverified = 1;
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
		b = d;
		b.by[0].port = 5432;
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
		b = d;
		b.nby = 2;
		b.by[1] = b.by[0];
		b.by[1].from = mac("02:00:00:00:00:51");
		b.by[1].first_us -= USEC_PER_SEC;
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
		b = d;
		b.by[0].first_us = b.ts_us;
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
		b = d;
		b.nby = 2;
		b.by[1] = b.by[0];
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
		b = d;
		b.by[2].port = 445;
		s_msg(SP_DETECTION, 0, &b, sizeof(b));
	}
	s_end("908-detection-bad-probe-edges", 0, 8);

	s_begin(0);
	snap_begin("02:00:00:00:00:57");
	snap_add("10.66.1.57", BIND_ESTABLISHED);
	s_msg(SP_MACHINE, 0, &snap, sp_machine_len(&snap) + 8);
	snap.b[0].state = 9;
	snap_send(0);
	s_end("903-machine-bad-length-and-state", 0, 2);

	s_begin(0);
	id = ident(IDENT_SPOOF, "01:00:5e:00:00:01", "10.66.1.58");
	s_msg(SP_IDENT, 0, &id, sizeof(id));
	id = ident(IDENT_SPOOF, "02:00:00:00:00:58", "10.66.1.58");
	id.how = 200;
	s_msg(SP_IDENT, 0, &id, sizeof(id));
	s_end("904-ident-bad-mac-and-source", 0, 2);

	s_begin(0);
	st = stats();
	st.nifaces = 3;
	s_msg(SP_STATS, 0, &st, sizeof(st));
	memset(&cf, 0xff, sizeof(cf));
	cf.iface = 0;
	cf.error = -EIO;
	s_msg(SP_CAPFAIL, 0, &cf, sizeof(cf));
	s_end("905-stats-and-capfail-bad", 0, 2);
	return 0;
}
#endif
