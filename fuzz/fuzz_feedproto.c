/* Fuzz target for what the parent takes from its feeds reader: every
 * message type the reader may send (fp_parent_types, feedproto.h),
 * through feedlink_handle() (feedlink.c), the checks of feedproto.c
 * (outside_check() among them) and engine_outside().  The reader parses
 * what IDS logs quote of attackers' traffic, so a compromised one
 * chooses every byte of these.
 *
 * The parent is a real engine (made for every input) under
 * data/sensorproto.conf (protected networks of both families, a
 * never-block address, a critical asset, small tables) with two feeds (a
 * Suricata file, a Zeek socket), a registry small enough to fill, the
 * gateway's own address known, and a feedlink with no process behind it
 * (pid 0, ready).
 *
 * The input is a mode byte (bit 0: alert mode, no enforcer; else enforce
 * mode with a back end that accepts every transaction), then messages:
 *
 *   u16 type, u8 ctl, u8 pad, u32 len (host order), len bytes
 *
 * ctl bit 0 ends a read batch after the message (engine_commit()), bit 1
 * makes it arrive before the reader said ready.  Each message is first
 * held to its type's declaration as ipc_recv() holds it; one that breaks
 * it is refused (counted and skipped).  A protocol error ends nothing
 * here: ready is set again and the next message goes on.
 *
 * Invariants, after each message: feedlink_handle() returns 0 or
 * -EPROTO; the registry holds no more than its capacity; no host above
 * watch is outside the protected networks, never-block, or the gateway's
 * own address;
 * positions are kept only for file feeds, with a head no longer than
 * FOLLOW_HEAD nor the offset.
 *
 * Built with -DFUZZ_SEEDS, main() writes the seed corpus instead
 * (fuzz/corpus/feedproto): see the end of the file. */
#include <errno.h>
#include <string.h>

#include "enforce.h"
#include "feedlink.h"
#include "fuzz.h"
#include "log.h"

#define WALL	    (1767000000ULL * USEC_PER_SEC)
#define FZ_COMMIT   0x01
#define FZ_STARTING 0x02
#define FZ_ALERT    0x01
#define MAX_BLOCKED 64

struct fz_hdr {
	uint16_t type;
	uint8_t ctl;
	uint8_t pad;
	uint32_t len;
};

static struct conf conf;
static FILE *devnull;
static struct qaddr gw_addr;

static struct {
	unsigned handled, refused, protocol_errors;
} last;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf_diags diags;

	(void)argc;
	(void)argv;
	if (conf_load(&conf, FUZZ_DATA_DIR "/sensorproto.conf", &diags) < 0) {
		fprintf(stderr, "fuzz: %s/sensorproto.conf does not load\n", FUZZ_DATA_DIR);
		abort();
	}
	conf.limits.max_blocked = MAX_BLOCKED;
	snprintf(conf.feeds.feed[0].name, sizeof(conf.feeds.feed[0].name), "ids1");
	conf.feeds.feed[0].kind = FEED_SURICATA;
	snprintf(conf.feeds.feed[0].path, sizeof(conf.feeds.feed[0].path), "/var/log/eve.json");
	snprintf(conf.feeds.feed[1].name, sizeof(conf.feeds.feed[1].name), "zeek1");
	conf.feeds.feed[1].kind = FEED_ZEEK;
	snprintf(conf.feeds.feed[1].socket, sizeof(conf.feeds.feed[1].socket), "/run/x.sock");
	conf.feeds.n = 2;
	FUZZ_CHECK(addr_parse("10.66.1.1", &gw_addr) == 0);
	devnull = fopen("/dev/null", "we");
	FUZZ_CHECK(devnull);
	log_set_where(0);
	return 0;
}

static int accept_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	return 0;
}

static bool is_self(void *arg, const struct qaddr *a)
{
	return addr_eq(a, &gw_addr);
}

static void check(struct engine *e, const struct feedlink *l)
{
	FUZZ_CHECK(hostdb_count(&e->hosts) <= hostdb_capacity(&e->hosts));
	for (struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r)) {
		if (r->level <= LEVEL_WATCH || addr_is_mac(&r->id))
			continue;
		FUZZ_CHECK(prefix_list_contains(&conf.networks.protected_, &r->id));
		FUZZ_CHECK(!prefix_list_contains(&conf.networks.never_block, &r->id));
		FUZZ_CHECK(!addr_eq(&r->id, &gw_addr));
	}
	for (unsigned i = 0; i < conf.feeds.n; i++) {
		if (!l->pos[i].have)
			continue;
		FUZZ_CHECK(conf.feeds.feed[i].path[0]);
		FUZZ_CHECK(l->pos[i].pos.hlen <= FOLLOW_HEAD &&
			   l->pos[i].pos.hlen <= l->pos[i].pos.off);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union {
		max_align_t align;
		uint8_t b[IPC_MAX_PAYLOAD + 1];
	} buf;
	static struct engine eng;
	static struct feedlink link;
	struct enforce_backend be = {.commit = accept_commit};
	struct enforcer enf;
	struct output out;
	struct feedlink_params lp;
	enum run_mode mode;

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
	lp.c = &conf;
	feedlink_init(&link, &lp);
	FUZZ_CHECK(engine_init(&eng, &conf, mode, &out, mode == MODE_ENFORCE ? &enf : NULL, NULL) ==
		   0);
	eng.is_self = is_self;
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
			break;
		memcpy(buf.b, data, h.len);
		data += h.len;
		size -= h.len;
		t = ipc_type_find(fp_parent_types, fp_parent_ntypes, h.type);
		if (!t || h.len < t->min_len || h.len > t->max_len || t->fd) {
			last.refused++;
			continue;
		}
		m = (struct ipc_msg){.type = h.type, .data = buf.b, .len = h.len, .fd = -1};
		if (h.ctl & FZ_STARTING)
			link.ready = false;
		r = feedlink_handle(&link, &m, WALL);
		FUZZ_CHECK(r == 0 || r == -EPROTO);
		last.handled++;
		if (r < 0)
			last.protocol_errors++;
		link.ready = true;
		if (h.ctl & FZ_COMMIT)
			engine_commit(&eng);
		check(&eng, &link);
	}
	engine_commit(&eng);
	check(&eng, &link);
	engine_fini(&eng);
	output_close(&out);
	return 0;
}

#ifdef FUZZ_SEEDS
/* ---- the seed corpus: fuzz_feedproto_seeds DIR ----
 *
 * Valid messages of every type, as an honest reader sends them (each
 * checked to pass), and invalid ones (each checked to fail). */
#include "eve.h"
#include "feedmap.h"

static uint8_t seed[1 << 16];
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

static struct fp_detection detection(const char *line)
{
	struct fp_detection m;
	struct feed_alert a;
	char err[200];

	memset(&m, 0, sizeof(m));
	FUZZ_CHECK(eve_parse(line, strlen(line), &a, err, sizeof(err)) == 1);
	FUZZ_CHECK(feed_detection(&conf, &conf.feeds.feed[0], &a, line, strlen(line), &m.d) ==
		   FEED_CONTAIN);
	return m;
}

int main(int argc, char **argv)
{
	static const char trojan[] =
		"{\"timestamp\":\"2026-12-03T14:20:01.123456+0000\",\"event_type\":\"alert\","
		"\"src_ip\":\"203.0.113.9\",\"src_port\":80,\"dest_ip\":\"10.66.1.20\","
		"\"dest_port\":49152,\"proto\":\"TCP\",\"direction\":\"to_client\","
		"\"alert\":{\"signature_id\":2999001,\"signature\":\"ET TROJAN Test\","
		"\"category\":\"A Network Trojan was detected\",\"severity\":1}}";
	static const char scan[] =
		"{\"event_type\":\"alert\",\"src_ip\":\"10.66.1.21\",\"dest_ip\":\"10.66.1.22\","
		"\"alert\":{\"signature\":\"ET SCAN Test\",\"severity\":2}}";
	struct fp_detection d;
	struct fp_position pos;
	struct fp_error e;
	struct fp_stats st;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	seed_dir = argv[1];
	LLVMFuzzerInitialize(&argc, &argv);

	memset(&st, 0, sizeof(st));
	st.n = conf.feeds.n;
	st.feed[0].state = FP_STATE_FOLLOWING;
	st.feed[0].lines = 10;
	memset(&pos, 0, sizeof(pos));
	pos.pos.dev = 2049;
	pos.pos.ino = 1234;
	pos.pos.off = 4096;
	pos.pos.hlen = FOLLOW_HEAD;
	pos.pos.hash = 0x1234;
	memset(&e, 0, sizeof(e));
	e.error = -EBADMSG;
	snprintf(e.text, sizeof(e.text), "a bad line (not eve.json): not JSON");

	for (uint8_t mode = 0; mode < 2; mode++) {
		char name[64];

		s_begin(mode);
		s_msg(FP_READY, FZ_STARTING, NULL, 0);
		s_msg(FP_STATS, 0, &st, sizeof(st));
		d = detection(trojan);
		s_msg(FP_DETECTION, 0, &d, sizeof(d));
		d = detection(scan);
		s_msg(FP_DETECTION, FZ_COMMIT, &d, sizeof(d));
		s_msg(FP_POSITION, 0, &pos, sizeof(pos));
		s_msg(FP_ERROR, 0, &e, sizeof(e));
		snprintf(name, sizeof(name), "valid-%s", mode ? "alert" : "enforce");
		s_end(name, 0, 0);
	}

	/* Each wrong in one way: a protocol error. */
	s_begin(0);
	d = detection(trojan);
	s_msg(FP_DETECTION, FZ_STARTING, &d, sizeof(d)); /* before ready */
	d.feed = 1;					 /* a Zeek feed's, source suricata */
	s_msg(FP_DETECTION, 0, &d, sizeof(d));
	d = detection(trojan);
	d.feed = 7; /* no such feed */
	s_msg(FP_DETECTION, 0, &d, sizeof(d));
	d = detection(trojan);
	snprintf(d.d.origin, sizeof(d.d.origin), "other");
	s_msg(FP_DETECTION, 0, &d, sizeof(d));
	d = detection(trojan);
	d.d.rule[0] = 'x'; /* not ids: */
	s_msg(FP_DETECTION, 0, &d, sizeof(d));
	d = detection(trojan);
	memset(d.d.evidence, 'a', sizeof(d.d.evidence)); /* not terminated */
	s_msg(FP_DETECTION, 0, &d, sizeof(d));
	pos.feed = 1; /* a socket feed has no position */
	s_msg(FP_POSITION, 0, &pos, sizeof(pos));
	pos.feed = 0;
	pos.pos.hlen = FOLLOW_HEAD + 1;
	s_msg(FP_POSITION, 0, &pos, sizeof(pos));
	e.error = 5;
	s_msg(FP_ERROR, 0, &e, sizeof(e));
	st.n = 3;
	s_msg(FP_STATS, 0, &st, sizeof(st));
	s_msg(FP_READY, 0, NULL, 0); /* ready twice */
	s_end("protocol-errors", 0, 11);

	/* Refused by the declarations: a wrong length, an unknown type. */
	s_begin(1);
	s_msg(FP_STATS, 0, &st, sizeof(st) - 1);
	s_msg(99, 0, &st, 8);
	s_msg(FP_START, 0, NULL, 0);
	s_end("refused", 3, 0);
	return 0;
}
#endif
