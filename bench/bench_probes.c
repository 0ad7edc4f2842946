/* bench_probes: what the record of who probed whom (probes.h) costs.
 *
 *   bench_probes [-k K] FILE...
 *
 * Each capture is loaded into memory, then the whole offline engine
 * (engine_frame() for every packet, engine_flush()) is run K times with
 * the record on and K times with it off (detect_set_contact(NULL): the
 * baseline, the engine as it was before), alternating which goes first,
 * a fresh engine each run (its set-up not timed).  The figure is thread
 * CPU time per packet, median of K: the steadier one on a shared machine.
 *
 * Then the record alone: probes_contact() for first contacts to 1,000,000
 * random destinations from 1,000 sources into a table of 65,536 (the
 * default limits.max_hosts: full, evicting), and probes_by() over a
 * machine's 4 addresses. */
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "conf.h"
#include "detect.h"
#include "engine.h"
#include "output.h"
#include "probes.h"

#define MAX_REPS 101

struct frame {
	usec_t ts;
	uint32_t caplen, wirelen;
	const uint8_t *data;
};

struct trace {
	struct frame *f;
	size_t n, cap;
	int dlt;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		perror("bench_probes");
		exit(1);
	}
	return p;
}

static int load(const char *path, struct trace *t)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p = pcap_open_offline(path, err);

	if (!p) {
		fprintf(stderr, "bench_probes: %s: %s\n", path, err);
		return -1;
	}
	memset(t, 0, sizeof(*t));
	t->dlt = pcap_datalink(p);
	while (pcap_next_ex(p, &h, &d) == 1) {
		uint8_t *copy;

		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 65536;
			t->f = realloc(t->f, t->cap * sizeof(*t->f));
			if (!t->f) {
				perror("bench_probes");
				exit(1);
			}
		}
		copy = xmalloc(h->caplen ? h->caplen : 1);
		memcpy(copy, d, h->caplen);
		t->f[t->n++] = (struct frame){
			.ts = (usec_t)h->ts.tv_sec * USEC_PER_SEC + (usec_t)h->ts.tv_usec,
			.caplen = h->caplen,
			.wirelen = h->len,
			.data = copy,
		};
	}
	pcap_close(p);
	return 0;
}

/* CPU ns per packet of one run of the engine over t; ret_edges: the
 * hosts whose infector it found. */
static double run(const struct trace *t, const struct conf *c, bool record, unsigned *ret_edges,
		  uint64_t *ret_contacts)
{
	struct output out;
	struct engine e;
	uint64_t c0, c1;
	unsigned edges = 0;

	output_init(&out, NULL, OUTPUT_JSON, false);
	if (engine_init(&e, c, MODE_OFFLINE, &out, NULL, NULL) < 0) {
		fprintf(stderr, "bench_probes: engine_init failed\n");
		exit(1);
	}
	if (!record)
		detect_set_contact(e.det, NULL, NULL);
	c0 = bench_cpu_ns();
	for (size_t i = 0; i < t->n; i++)
		engine_frame(&e, t->dlt, t->f[i].data, t->f[i].caplen, t->f[i].wirelen, t->f[i].ts);
	engine_flush(&e);
	c1 = bench_cpu_ns();
	for (struct hostrec *r = hostdb_first(&e.hosts); r; r = hostdb_next(&e.hosts, r))
		edges += r->infected_by.family != 0;
	*ret_edges = edges;
	{
		struct probes_stats st;

		probes_get_stats(e.local.probes, &st);
		*ret_contacts = st.contacts;
	}
	output_close(&out);
	engine_fini(&e);
	return (double)(c1 - c0) / (double)(t->n ? t->n : 1);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* 10.x.y.z from the low 24 bits of r. */
static void addr10(struct qaddr *a, uint64_t r)
{
	const uint8_t b[4] = {10, (uint8_t)(r >> 16), (uint8_t)(r >> 8), (uint8_t)r};

	addr_set_v4(a, b);
}

static void micro(unsigned reps)
{
	const struct siphash_key key = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
	uint64_t v_contact[MAX_REPS], v_by[MAX_REPS];
	struct bench_summary sc, sb;
	const unsigned ncontacts = 1000000, nby = 1000000;

	for (unsigned k = 0; k < reps; k++) {
		struct probes *p = probes_new(65536, &key);
		struct probe_edge e, out[PROBES_BY_MAX];
		struct qaddr dst[4];
		uint64_t s = 88172645463325252ULL + k, c0, sink = 0;

		if (!p) {
			perror("bench_probes");
			exit(1);
		}
		memset(&e, 0, sizeof(e));
		e.proto = PROTO_TCP;
		e.port = 445;
		c0 = bench_cpu_ns();
		for (unsigned i = 0; i < ncontacts; i++) {
			struct qaddr d;
			uint64_t r = rnd(&s);
			uint8_t mac[MAC_LEN] = {
				0x02, 0, 0, 0, (uint8_t)(r % 1000 >> 8), (uint8_t)(r % 1000)};

			addr10(&d, r >> 40);
			addr_set_mac(&e.from, mac);
			e.first_us = (usec_t)i;
			probes_contact(p, &d, &e, (r & 1) != 0);
		}
		v_contact[k] = (bench_cpu_ns() - c0) * 1000 / ncontacts;
		for (unsigned j = 0; j < 4; j++)
			addr10(&dst[j], rnd(&s));
		c0 = bench_cpu_ns();
		for (unsigned i = 0; i < nby; i++) {
			addr10(&dst[i & 3], rnd(&s));
			sink += probes_by(p, dst, 4, NULL, UINT64_MAX, out, PROBES_BY_MAX);
		}
		v_by[k] = (bench_cpu_ns() - c0) * 1000 / nby;
		if (sink == UINT64_MAX)
			printf("?\n");
		probes_free(p);
	}
	bench_summarize(v_contact, reps, &sc);
	bench_summarize(v_by, reps, &sb);
	printf("probes_contact, 1,000,000 random destinations into 65,536 (full, evicting): "
	       "%.1f ns a call (median of %u, spread %.0f %%)\n",
	       sc.median / 1000.0, reps, bench_spread_pct(&sc));
	printf("probes_by over 4 addresses: %.1f ns a call (median of %u, spread %.0f %%)\n",
	       sb.median / 1000.0, reps, bench_spread_pct(&sb));
	printf("memory: %zu bytes a destination; %.1f MiB at limits.max_hosts = 65536\n",
	       probes_entry_size(), 65536.0 * (double)probes_entry_size() / (1024 * 1024));
}

int main(int argc, char **argv)
{
	unsigned reps = 11;
	struct conf c;
	int opt;

	while ((opt = getopt(argc, argv, "k:")) != -1) {
		if (opt == 'k') {
			reps = (unsigned)strtoul(optarg, NULL, 10);
			if (reps < 1 || reps > MAX_REPS) {
				fprintf(stderr, "bench_probes: -k 1..%d\n", MAX_REPS);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: bench_probes [-k K] FILE...\n");
			return 2;
		}
	}
	if (conf_init_default(&c) < 0) {
		fprintf(stderr, "bench_probes: conf_init_default failed\n");
		return 1;
	}
	for (int a = optind; a < argc; a++) {
		struct trace t;
		uint64_t on[MAX_REPS], off[MAX_REPS];
		struct bench_summary son, soff;
		unsigned edges_on = 0, edges_off = 0;
		uint64_t contacts = 0, none = 0;

		if (load(argv[a], &t) < 0)
			return 1;
		for (unsigned k = 0; k < reps; k++) {
			/* Alternating which runs first: a drift of the machine
			 * touches both alike. */
			if (k % 2) {
				off[k] = (uint64_t)(run(&t, &c, false, &edges_off, &none) * 1000);
				on[k] = (uint64_t)(run(&t, &c, true, &edges_on, &contacts) * 1000);
			} else {
				on[k] = (uint64_t)(run(&t, &c, true, &edges_on, &contacts) * 1000);
				off[k] = (uint64_t)(run(&t, &c, false, &edges_off, &none) * 1000);
			}
		}
		bench_summarize(on, reps, &son);
		bench_summarize(off, reps, &soff);
		printf("%s: %zu packets, %llu first contacts recorded (%.1f %% of the packets)\n",
		       argv[a], t.n, (unsigned long long)contacts,
		       100.0 * (double)contacts / (double)(t.n ? t.n : 1));
		printf("  engine, record off (baseline): %.1f ns a packet (spread %.0f %%)\n",
		       soff.median / 1000.0, bench_spread_pct(&soff));
		printf("  engine, record on:             %.1f ns a packet (spread %.0f %%), "
		       "%+.1f %%; hosts with an infector: %u (off: %u)\n",
		       son.median / 1000.0, bench_spread_pct(&son),
		       100.0 * ((double)son.median - (double)soff.median) / (double)soff.median,
		       edges_on, edges_off);
		if (contacts)
			printf("  the difference, a first contact recorded: %.0f ns\n",
			       ((double)son.median - (double)soff.median) / 1000.0 * (double)t.n /
				       (double)contacts);
		for (size_t i = 0; i < t.n; i++)
			free((void *)t.f[i].data);
		free(t.f);
	}
	micro(reps);
	conf_fini(&c);
	return 0;
}
