/* bench_nft: how long enforcement takes to be in the kernel.
 *
 *   bench_nft [-r RUNS] [-n NFT] [--sizes 1,10,...] [--spawn N]
 *
 * Runs in a network namespace of its own, made at start with
 * unshare(CLONE_NEWNET): the tables and elements it creates are in that
 * namespace only, and vanish with it when the program exits.  Nothing
 * here sends a packet.
 *
 * Measures, as medians of several runs:
 *   - nft_setup(): the table, sets and chains in one transaction;
 *   - nft_commit() of B isolation elements (and their deletion), one
 *     message per host as enforce_apply() built them before issue 11 (it
 *     now packs up to NFT_OP_MAX_ELEMS hosts' elements in a message), from
 *     the call to the last ACK; for B <= 100 also one message holding all
 *     B elements;
 *   - the baseline `nft -f FILE` adding (deleting) the same elements to a
 *     set of the same type (ipv4_addr, flags timeout, counter) in a table
 *     of its own, timed as a whole process;
 *   - 100 elements one at a time: our 100 transactions vs 100 `nft add
 *     element` processes (what fail2ban-style tools do);
 *   - decision to ACK for one host: the engine in enforce mode sees the
 *     tenth SMB SYN of a worm, decides to isolate it (engine_frame()),
 *     and engine_commit() puts it in the kernel and reads the ACK.
 * Lines starting with "row|" are for bench/run.sh's summary. */
#include <errno.h>
#include <getopt.h>
#include <linux/netfilter.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchutil.h"
#include "conf.h"
#include "engine.h"
#include "enforce.h"
#include "nft.h"
#include "output.h"

#define MAX_RUNS  1000
#define MAX_SIZES 16
/* One message holding more elements than this overruns libnftnl's batch
 * page (see docs/BENCHMARKS.md); it is measured only up to here. */
#define ONE_MSG_MAX 100
#define BASE_TABLE  "qdbench_nft"

struct opts {
	unsigned runs; /* 0: the defaults per size */
	const char *nft;
	unsigned sizes[MAX_SIZES];
	unsigned nsizes;
	unsigned spawn;
	unsigned gap_ms;  /* idle time before each timed commit */
	const char *only; /* NULL: every part; else "decision", "batches" or "single" */
};

static char tmpdir[64];

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_nft: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void addr_of(unsigned i, struct qaddr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->b[0] = 10;
	a->b[1] = (uint8_t)(64 + (i >> 16));
	a->b[2] = (uint8_t)(i >> 8);
	a->b[3] = (uint8_t)i;
}

static unsigned runs_for(const struct opts *o, unsigned size)
{
	if (o->runs)
		return o->runs;
	return size <= 1 ? 201 : size <= 10 ? 101 : size <= 100 ? 51 : size <= 1000 ? 21 : 11;
}

static int count_cb(void *arg, const struct nft_elem *e)
{
	(void)e;
	(*(unsigned *)arg)++;
	return 0;
}

static unsigned count_elems(struct nft *n)
{
	unsigned c = 0;
	int r = nft_list(n, NFT_SET_ISO4, count_cb, &c);

	if (r < 0)
		die("nft_list", r);
	return c;
}

/* Runs `nft -f path`; its wall time in ns. */
static uint64_t nft_file(const struct opts *o, const char *path)
{
	char *argv[] = {(char *)o->nft, (char *)"-f", (char *)path, NULL};
	struct bench_proc bp;
	int r = bench_run(argv, NULL, &bp);

	if (r != 0) {
		fprintf(stderr, "bench_nft: nft -f %s: status %d\n", path, r);
		exit(1);
	}
	return bp.wall_ns;
}

/* Writes "VERB element inet TABLE iso4 { a, b, ... }" for elements [0, n). */
static void write_elems(const char *path, const char *verb, unsigned n)
{
	FILE *f = fopen(path, "we");
	char buf[ADDR_STRLEN];

	if (!f)
		die(path, errno);
	fprintf(f, "%s element inet " BASE_TABLE " iso4 { ", verb);
	for (unsigned i = 0; i < n; i++) {
		struct qaddr a;

		addr_of(i, &a);
		fprintf(f, "%s%s", i ? ", " : "", addr_ntop(&a, buf));
	}
	fprintf(f, " }\n");
	if (fclose(f) != 0)
		die(path, errno);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void cleanup_tmp(void)
{
	static const char *names[] = {"base.nft", "add.nft", "del.nft"};
	char p[128];

	if (!tmpdir[0])
		return;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		tmp_path(p, sizeof(p), names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

/* ---- batches ---- */

/* Elements [0, b), one message per host (enforce_apply() before it packed
 * them). */
struct batch {
	unsigned b;
	struct nft_elem *el;
	struct nft_op *add, *del;
};

static void batch_init(struct batch *bt, unsigned b)
{
	bt->b = b;
	bt->el = calloc(b, sizeof(*bt->el));
	bt->add = calloc(b, sizeof(*bt->add));
	bt->del = calloc(b, sizeof(*bt->del));
	if (!bt->el || !bt->add || !bt->del)
		die("calloc", ENOMEM);
	for (unsigned i = 0; i < b; i++) {
		addr_of(i, &bt->el[i].addr);
		bt->add[i].set = NFT_SET_ISO4;
		bt->add[i].elems = &bt->el[i];
		bt->add[i].nelems = 1;
		bt->del[i] = bt->add[i];
		bt->del[i].del = true;
	}
}

static void batch_fini(struct batch *bt)
{
	free(bt->el);
	free(bt->add);
	free(bt->del);
}

/* Commits ops[0, n) in transactions of at most chunk operations; the time
 * from the first call to the last ACK. */
static uint64_t commit_chunked(struct nft *n, struct nft_op *ops, unsigned nops, unsigned chunk,
			       int *ret)
{
	uint64_t t0 = bench_now_ns();

	*ret = 0;
	for (unsigned i = 0; i < nops && *ret == 0; i += chunk)
		*ret = nft_commit(n, ops + i, nops - i < chunk ? nops - i : chunk);
	return bench_now_ns() - t0;
}

static int sndbuf_before; /* bytes, as getsockopt(SO_SNDBUF) said */

/* The kernel refuses a transaction larger than the socket's send buffer
 * (EMSGSIZE).  nft_open() raises it to 4 MiB since 8cecfd4 (nft, too,
 * sizes it to each batch); should a transaction still be refused, raise it
 * further here to measure the kernel's cost anyway, and say so. */
static void raise_sndbuf(struct nft *n)
{
	int sz = 64 << 20;
	socklen_t len = sizeof(sndbuf_before);

	getsockopt(nft_fd(n), SOL_SOCKET, SO_SNDBUF, &sndbuf_before, &len);
	if (setsockopt(nft_fd(n), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		die("SO_SNDBUFFORCE", errno);
}

static void bench_sizes(const struct opts *o, struct nft *ours, struct nft *base)
{
	static uint64_t va[MAX_RUNS], vd[MAX_RUNS], vq[MAX_RUNS], vm[MAX_RUNS], vn[MAX_RUNS],
		vx[MAX_RUNS];
	char addp[128], delp[128];
	unsigned emsgsize_at = 0;

	tmp_path(addp, sizeof(addp), "add.nft");
	tmp_path(delp, sizeof(delp), "del.nft");
	printf("\n### Batches of isolation elements (iso4): medians of R runs, %u ms idle before "
	       "each\n\n",
	       o->gap_ms);
	printf("| elements | R | nft_commit(), one transaction: add | delete | in transactions "
	       "of %u (ENGINE_QUEUE): add | one message: add | `nft -f`: add | `nft -f`: delete "
	       "| `nft -f` / ours, add |\n",
	       ENGINE_QUEUE);
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned si = 0; si < o->nsizes; si++) {
		unsigned b = o->sizes[si], runs = runs_for(o, b);
		struct bench_summary sa, sd, sq, sm, sn, sx;
		struct batch bt;
		char onemsg[32] = "-", chunked[48] = "= one transaction", note[8] = "";
		int r;

		batch_init(&bt, b);
		/* As nft.c ships: one transaction for all b. */
		r = nft_commit(ours, bt.add, b);
		if (r == -EMSGSIZE) {
			emsgsize_at = emsgsize_at ? emsgsize_at : b;
			raise_sndbuf(ours);
			snprintf(note, sizeof(note), " [1]");
			r = nft_commit(ours, bt.add, b);
		}
		if (r < 0)
			die("nft_commit (add)", r);
		if (count_elems(ours) != b) {
			fprintf(stderr, "bench_nft: %u elements added, %u in the set\n", b,
				count_elems(ours));
			exit(1);
		}
		if ((r = nft_commit(ours, bt.del, b)) < 0)
			die("nft_commit (delete)", r);
		for (unsigned k = 0; k < runs; k++) {
			uint64_t t0;

			bench_sleep_ms(o->gap_ms);
			t0 = bench_now_ns();
			r = nft_commit(ours, bt.add, b);
			va[k] = bench_now_ns() - t0;
			if (r < 0)
				die("nft_commit (add)", r);
			bench_sleep_ms(o->gap_ms);
			t0 = bench_now_ns();
			r = nft_commit(ours, bt.del, b);
			vd[k] = bench_now_ns() - t0;
			if (r < 0)
				die("nft_commit (delete)", r);
			if (b > ENGINE_QUEUE) {
				bench_sleep_ms(o->gap_ms);
				vq[k] = commit_chunked(ours, bt.add, b, ENGINE_QUEUE, &r);
				if (r < 0)
					die("nft_commit (chunks)", r);
				commit_chunked(ours, bt.del, b, ENGINE_QUEUE, &r);
				if (r < 0)
					die("nft_commit (chunks, delete)", r);
			}
			if (b <= ONE_MSG_MAX) {
				struct nft_op one;

				memset(&one, 0, sizeof(one));
				one.set = NFT_SET_ISO4;
				one.elems = bt.el;
				one.nelems = b;
				bench_sleep_ms(o->gap_ms);
				t0 = bench_now_ns();
				r = nft_commit(ours, &one, 1);
				vm[k] = bench_now_ns() - t0;
				if (r < 0)
					die("nft_commit (one message)", r);
				one.del = true;
				if ((r = nft_commit(ours, &one, 1)) < 0)
					die("nft_commit (one message, delete)", r);
			}
		}
		if (count_elems(ours) != 0)
			die("elements left in the set", EEXIST);

		write_elems(addp, "add", b);
		write_elems(delp, "delete", b);
		for (unsigned k = 0; k < runs; k++) {
			vn[k] = nft_file(o, addp);
			if (k == 0 && count_elems(base) != b) {
				fprintf(stderr, "bench_nft: nft -f added %u elements, not %u\n",
					count_elems(base), b);
				exit(1);
			}
			vx[k] = nft_file(o, delp);
		}
		bench_summarize(va, runs, &sa);
		bench_summarize(vd, runs, &sd);
		bench_summarize(vn, runs, &sn);
		bench_summarize(vx, runs, &sx);
		if (b > ENGINE_QUEUE) {
			bench_summarize(vq, runs, &sq);
			snprintf(chunked, sizeof(chunked), "%.3f ms (%u transactions)",
				 ms(sq.median), (b + ENGINE_QUEUE - 1) / ENGINE_QUEUE);
		}
		if (b <= ONE_MSG_MAX) {
			bench_summarize(vm, runs, &sm);
			snprintf(onemsg, sizeof(onemsg), "%.3f ms", ms(sm.median));
		}
		printf("| %u | %u | %.3f ms%s (p90 %.3f) | %.3f ms | %s | %s | %.2f ms (p90 %.2f) "
		       "| "
		       "%.2f ms | %.1fx |\n",
		       b, runs, ms(sa.median), note, ms(sa.p90), ms(sd.median), chunked, onemsg,
		       ms(sn.median), ms(sn.p90), ms(sx.median),
		       (double)sn.median / (double)sa.median);
		printf("row|batch|%u|%.3f|%.3f|%.3f|%.3f|%.2f|%.2f|%s\n", b, ms(sa.median),
		       ms(sd.median), ms(sn.median), ms(sx.median), us(sa.median) / b,
		       us(sn.median) / b, note[0] ? "sndbuf" : "");
		batch_fini(&bt);
	}
	printf("\n(p90: 90th percentile of the R runs.  One message: all the elements in one "
	       "NEWSETELEM message instead of one per host, measured up to %u elements.)\n",
	       ONE_MSG_MAX);
	if (emsgsize_at)
		printf("[1] As built, nft_commit() of %u one-element messages fails with "
		       "EMSGSIZE: the transaction is larger than the netlink socket's send buffer "
		       "(SO_SNDBUF %d bytes); measured after raising it "
		       "with SO_SNDBUFFORCE on nft_fd().\n",
		       emsgsize_at, sndbuf_before);
}

/* ---- one element at a time ---- */

static void bench_single(const struct opts *o, struct nft *ours, struct nft *base)
{
	unsigned n = o->spawn, runs = o->runs ? o->runs : 11;
	uint64_t *vt = calloc(runs, sizeof(uint64_t)), *vo = calloc(runs, sizeof(uint64_t));
	uint64_t *vp = calloc((size_t)runs * n, sizeof(uint64_t));
	uint64_t *vc = calloc((size_t)runs * n, sizeof(uint64_t));
	struct bench_summary st, so, sp, sc;
	char delp[128];

	if (!vt || !vo || !vp || !vc)
		die("calloc", ENOMEM);
	tmp_path(delp, sizeof(delp), "del.nft");
	write_elems(delp, "delete", n);
	for (unsigned k = 0; k < runs; k++) {
		/* n processes, one element each. */
		uint64_t t0 = bench_now_ns();
		for (unsigned i = 0; i < n; i++) {
			char buf[ADDR_STRLEN], elem[ADDR_STRLEN + 8];
			struct bench_proc bp;
			struct qaddr a;
			int r;

			addr_of(i, &a);
			snprintf(elem, sizeof(elem), "{ %s }", addr_ntop(&a, buf));
			char *argv[] = {(char *)o->nft,
					(char *)"add",
					(char *)"element",
					(char *)"inet",
					(char *)BASE_TABLE,
					(char *)"iso4",
					elem,
					NULL};
			r = bench_run(argv, NULL, &bp);
			vp[(size_t)k * n + i] = bp.wall_ns;
			if (r != 0) {
				fprintf(stderr, "bench_nft: nft add element: status %d\n", r);
				exit(1);
			}
		}
		vt[k] = bench_now_ns() - t0;
		if (k == 0 && count_elems(base) != n)
			die("nft add element did not add them all", EIO);
		nft_file(o, delp);

		/* n transactions of ours, one element each. */
		t0 = bench_now_ns();
		for (unsigned i = 0; i < n; i++) {
			struct nft_elem el;
			struct nft_op op;
			uint64_t t1 = bench_now_ns();
			int r;

			memset(&el, 0, sizeof(el));
			memset(&op, 0, sizeof(op));
			addr_of(i, &el.addr);
			op.set = NFT_SET_ISO4;
			op.elems = &el;
			op.nelems = 1;
			r = nft_commit(ours, &op, 1);
			vc[(size_t)k * n + i] = bench_now_ns() - t1;
			if (r < 0)
				die("nft_commit", r);
		}
		vo[k] = bench_now_ns() - t0;
		for (unsigned i = 0; i < n; i++) {
			struct nft_elem el;
			struct nft_op op;

			memset(&el, 0, sizeof(el));
			memset(&op, 0, sizeof(op));
			addr_of(i, &el.addr);
			op.set = NFT_SET_ISO4;
			op.del = true;
			op.elems = &el;
			op.nelems = 1;
			if (nft_commit(ours, &op, 1) < 0)
				die("nft_commit (delete)", EIO);
		}
	}
	bench_summarize(vt, runs, &st);
	bench_summarize(vo, runs, &so);
	bench_summarize(vp, runs * n, &sp);
	bench_summarize(vc, runs * n, &sc);
	printf("\n### %u elements one at a time (R=%u)\n\n", n, runs);
	printf("| | total for %u (median of R) | per element (median of %u) | per element "
	       "min..max |\n|---|---:|---:|---:|\n",
	       n, runs * n);
	printf("| %u x `nft add element inet T iso4 { A }` processes | %.1f ms | %.0f us | "
	       "%.0f..%.0f us |\n",
	       n, ms(st.median), us(sp.median), us(sp.min), us(sp.max));
	printf("| %u x nft_commit() of one element | %.2f ms | %.0f us | %.0f..%.0f us |\n", n,
	       ms(so.median), us(sc.median), us(sc.min), us(sc.max));
	printf("| ratio | %.0fx | %.0fx | |\n", (double)st.median / (double)so.median,
	       (double)sp.median / (double)sc.median);
	printf("row|single|%u|%.2f|%.2f|%.1f|%.1f\n", n, ms(st.median), ms(so.median),
	       us(sp.median), us(sc.median));
	free(vt);
	free(vo);
	free(vp);
	free(vc);
}

/* ---- decision to ACK ---- */

static int be_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	return nft_commit(arg, ops, nops);
}

static int be_list(void *arg, enum nft_set set, int (*cb)(void *cbarg, const struct nft_elem *e),
		   void *cbarg)
{
	return nft_list(arg, set, cb, cbarg);
}

/* A TCP SYN from src to dst:port in an Ethernet frame. */
static void syn_frame(uint8_t *b, const uint8_t src[4], const uint8_t dst[4], uint16_t port)
{
	memset(b, 0, 54);
	b[0] = 0x02;
	b[5] = 0x01;
	b[6] = 0x02;
	b[11] = 0x02;
	b[12] = 0x08;
	b[14] = 0x45;
	b[17] = 40;
	b[20] = 0x40;
	b[22] = 64;
	b[23] = 6;
	memcpy(b + 26, src, 4);
	memcpy(b + 30, dst, 4);
	b[34] = 0xc3; /* source port 50000 */
	b[35] = 0x50;
	b[36] = (uint8_t)(port >> 8);
	b[37] = (uint8_t)port;
	b[46] = 0x50;
	b[47] = 0x02; /* SYN */
	b[48] = 0xfa;
}

/* One run: a fresh engine in enforce mode sees nine SMB SYNs of a worm,
 * then, after idle_ms, the tenth, which crosses smb-propagation's
 * threshold; policy says isolate.  Times engine_frame() of that packet
 * (detection, decision, queue) and engine_commit() (enforce_apply(),
 * nft_commit() to the ACK, events); ve: enforce_apply() by its own clock. */
static void decision_run(const struct conf *c, struct nft *ours, unsigned k, unsigned idle_ms,
			 uint64_t *vf, uint64_t *vc, uint64_t *ve)
{
	struct enforce_backend be = {.commit = be_commit, .list = be_list, .arg = ours};
	uint8_t src[4] = {10, 77, (uint8_t)(k >> 8), (uint8_t)(k & 0xff)};
	usec_t ts = 1768467600ULL * USEC_PER_SEC;
	struct enforcer enf;
	struct output out;
	struct engine eng;
	uint8_t frame[54];
	uint64_t t0, t1, t2;
	int r;

	enforce_init(&enf, &be);
	output_init(&out, NULL, OUTPUT_JSON, false);
	r = engine_init(&eng, c, MODE_ENFORCE, &out, &enf, NULL);
	if (r < 0)
		die("engine_init", r);
	for (unsigned i = 0; i < 9; i++) {
		uint8_t dst[4] = {10, 78, 0, (uint8_t)(1 + i)};
		syn_frame(frame, src, dst, 445);
		engine_frame(&eng, 1, frame, sizeof(frame), sizeof(frame), ts);
		ts += 1000;
	}
	engine_commit(&eng);
	if (eng.st.detections != 0)
		die("detected too early", EINVAL);
	uint8_t dst[4] = {10, 78, 0, 10};
	syn_frame(frame, src, dst, 445);
	bench_sleep_ms(idle_ms);
	t0 = bench_now_ns();
	engine_frame(&eng, 1, frame, sizeof(frame), sizeof(frame), ts);
	t1 = bench_now_ns();
	engine_commit(&eng);
	t2 = bench_now_ns();
	if (eng.st.detections != 1 || eng.st.actions != 1 || eng.st.action_errors) {
		fprintf(stderr,
			"bench_nft: expected one detection and one action, got %llu and %llu (%llu "
			"errors)\n",
			(unsigned long long)eng.st.detections, (unsigned long long)eng.st.actions,
			(unsigned long long)eng.st.action_errors);
		exit(1);
	}
	*vf = t1 - t0;
	*vc = t2 - t1;
	*ve = enf.st.last_us * 1000;
	if (k == 0 && count_elems(ours) != 1)
		die("the host is not in the isolation set", ENOENT);
	/* Take it out again (not timed). */
	{
		struct nft_elem el;
		struct nft_op op;

		memset(&el, 0, sizeof(el));
		memset(&op, 0, sizeof(op));
		addr_set_v4(&el.addr, src);
		op.set = NFT_SET_ISO4;
		op.del = true;
		op.elems = &el;
		op.nelems = 1;
		r = nft_commit(ours, &op, 1);
		if (r < 0)
			die("nft_commit (delete)", r);
	}
	output_close(&out);
	engine_fini(&eng);
}

static void bench_decision(const struct opts *o, struct nft *ours)
{
	static const unsigned idles[] = {0, 10, 100};
	unsigned runs = o->runs ? o->runs : 51;
	uint64_t *vf = calloc(runs, sizeof(uint64_t)), *vc = calloc(runs, sizeof(uint64_t));
	uint64_t *vt = calloc(runs, sizeof(uint64_t)), *ve = calloc(runs, sizeof(uint64_t));
	struct bench_summary sf, sc, stt, se, sh;
	struct conf c;
	int r;

	if (!vf || !vc || !vt || !ve)
		die("calloc", ENOMEM);
	r = conf_init_default(&c);
	if (r < 0)
		die("conf_init_default", r);
	printf("\n### Decision to ACK, one host (R=%u per row)\n\n", runs);
	printf("The tenth SMB SYN of a worm reaches a fresh engine in enforce mode after the "
	       "machine was idle for the time shown; smb-propagation fires and policy says "
	       "isolate.\n\n");
	printf("| idle before the packet | engine_frame(): detection, decision | "
	       "engine_commit(): to the ACK (enforce_apply() alone) | **total, median** | p90 | "
	       "min | max |\n|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned g = 0; g < sizeof(idles) / sizeof(idles[0]); g++) {
		for (unsigned k = 0; k < runs; k++) {
			decision_run(&c, ours, k, idles[g], &vf[k], &vc[k], &ve[k]);
			vt[k] = vf[k] + vc[k];
		}
		bench_summarize(vf, runs, &sf);
		bench_summarize(vc, runs, &sc);
		bench_summarize(vt, runs, &stt);
		bench_summarize(ve, runs, &se);
		printf("| %u ms | %.1f us | %.1f us (%.0f us) | **%.1f us** | %.1f us | %.1f us | "
		       "%.1f us |\n",
		       idles[g], us(sf.median), us(sc.median), us(se.median), us(stt.median),
		       us(stt.p90), us(stt.min), us(stt.max));
		printf("row|decision|%u|%.1f|%.1f|%.1f|%.1f|%.1f\n", idles[g], us(sf.median),
		       us(sc.median), us(stt.median), us(stt.p90), us(stt.max));
	}
	/* For comparison: nft_commit() of one element, back to back with no
	 * pause, when the kernel's and our code paths are hot. */
	for (unsigned k = 0; k < runs; k++) {
		struct nft_elem el;
		struct nft_op op;
		uint64_t t0;

		memset(&el, 0, sizeof(el));
		memset(&op, 0, sizeof(op));
		addr_of(k, &el.addr);
		op.set = NFT_SET_ISO4;
		op.elems = &el;
		op.nelems = 1;
		t0 = bench_now_ns();
		r = nft_commit(ours, &op, 1);
		vf[k] = bench_now_ns() - t0;
		op.del = true;
		if (r < 0 || nft_commit(ours, &op, 1) < 0)
			die("nft_commit", r < 0 ? r : EIO);
	}
	bench_summarize(vf, runs, &sh);
	printf("\nFor comparison, nft_commit() of one element back to back (no pause, every "
	       "path hot): median %.1f us, p90 %.1f us.\n",
	       us(sh.median), us(sh.p90));
	printf("row|hot|%.1f|%.1f\n", us(sh.median), us(sh.p90));
	conf_fini(&c);
	free(vf);
	free(vc);
	free(vt);
	free(ve);
}

static void bench_setup(struct nft *ours)
{
	uint64_t v[21];
	struct bench_summary s;
	char err[256];
	uint64_t first = 0;

	for (unsigned k = 0; k < 21; k++) {
		uint64_t t0 = bench_now_ns();
		int r = nft_setup(ours, NULL, NULL, err, sizeof(err));

		v[k] = bench_now_ns() - t0;
		if (r < 0) {
			fprintf(stderr, "bench_nft: %s\n", err);
			exit(1);
		}
		if (k == 0)
			first = v[0];
	}
	bench_summarize(v + 1, 20, &s);
	printf("\nnft_setup(): creating the table %.2f ms; adopting it again (median of 20) %.2f "
	       "ms\n",
	       ms(first), ms(s.median));
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_nft [-r RUNS] [-n NFT] [--sizes 1,10,100,1000,10000] [--spawn N] "
		   "[--gap-ms MS]\n"
		   "                 [--only decision|batches|single]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"runs", required_argument, NULL, 'r'},	  {"nft", required_argument, NULL, 'n'},
		{"sizes", required_argument, NULL, 's'},  {"spawn", required_argument, NULL, 'p'},
		{"gap-ms", required_argument, NULL, 'g'}, {"only", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	struct opts o = {.nft = "/usr/sbin/nft", .spawn = 100, .gap_ms = 10};
	struct nft_params pours = {.family = NFPROTO_INET,
				   .gateway_services = NFT_GW_DHCP | NFT_GW_DNS};
	struct nft_params pbase = {.family = NFPROTO_INET};
	struct nft *ours, *base;
	char basep[128];
	int ch, r;

	while ((ch = getopt_long(argc, argv, "r:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o.runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o.nft = optarg;
			break;
		case 's': {
			char *s = optarg, *end;
			o.nsizes = 0;
			while (*s && o.nsizes < MAX_SIZES) {
				o.sizes[o.nsizes++] = (unsigned)strtoul(s, &end, 10);
				s = *end == ',' ? end + 1 : end;
				if (end == s && *s)
					break;
			}
			break;
		}
		case 'p':
			o.spawn = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			o.gap_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			o.only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.nsizes == 0) {
		static const unsigned def[] = {1, 10, 100, 1000, 10000};
		memcpy(o.sizes, def, sizeof(def));
		o.nsizes = 5;
	}
	for (unsigned i = 0; i < o.nsizes; i++)
		if (o.sizes[i] == 0 || o.sizes[i] > 1000000) {
			usage(stderr);
			return 2;
		}
	if (o.runs > MAX_RUNS || o.spawn == 0 || access(o.nft, X_OK) < 0) {
		usage(stderr);
		return 2;
	}
	/* Everything from here on happens in a network namespace of our own. */
	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET) (needs root)", errno);
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bench_nft.XXXXXX");
	if (!mkdtemp(tmpdir))
		die("mkdtemp", errno);
	atexit(cleanup_tmp);

	snprintf(pours.table, sizeof(pours.table), "quarantined");
	r = nft_open(&pours, &ours);
	if (r < 0)
		die("nft_open", r);
	bench_setup(ours);

	/* The baseline's table: the same set type, nothing else. */
	tmp_path(basep, sizeof(basep), "base.nft");
	{
		FILE *f = fopen(basep, "we");
		if (!f)
			die(basep, errno);
		fprintf(f, "table inet " BASE_TABLE " {\n\tset iso4 { type ipv4_addr; flags "
			   "timeout; counter; }\n}\n");
		fclose(f);
	}
	nft_file(&o, basep);
	snprintf(pbase.table, sizeof(pbase.table), BASE_TABLE);
	r = nft_open(&pbase, &base);
	if (r < 0)
		die("nft_open", r);

	if (!o.only || strcmp(o.only, "decision") == 0)
		bench_decision(&o, ours);
	if (!o.only || strcmp(o.only, "batches") == 0)
		bench_sizes(&o, ours, base);
	if (!o.only || strcmp(o.only, "single") == 0)
		bench_single(&o, ours, base);

	nft_close(base);
	nft_close(ours);
	return 0;
}
