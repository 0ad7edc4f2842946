/* Benchmark of saving and loading the state (issue 11): the SQLite
 * database (statedb.h, incremental) against the text file rewritten
 * whole (state_save(), what the daemon did before), in the same run.
 *
 *     bench_state [DIR] [HOSTS] [ROUNDS]
 *
 * DIR (default /var/tmp: a real disk, fsync included; /dev/shm would
 * leave fsync out) gets a work directory, removed at the end.  HOSTS
 * (default 100,000) blocked hosts with 2 hits and 4 history lines each
 * are registered.  Each round, alternating old and new, changes a batch
 * of 1, 100 and 10,000 hosts (level, reason, a history line) and times:
 *   old:  state_save() of the whole file;
 *   new:  statedb_save_recs() of the batch (what act_apply() persists
 *         before the events), and statedb_save() (the tick: the
 *         fingerprint scan of every record, then the changed ones).
 * Then the load of HOSTS hosts, old and new, the sizes on disk, and a
 * PRAGMA quick_check of the database.  Last, the bulk path: HOSTS new
 * hosts quarantined in batches of 256 (what `quarantinectl quarantine
 * --from` hands act_apply() per transaction) into a fresh database, each
 * batch made durable by its rows or by the host log, alternating (see
 * bulk_once()), the drain of the log and the load of a logged database.
 * Medians over ROUNDS (default 5) rounds, wall clock.
 *
 *     bench_state --bulk [DIR] [HOSTS] [ROUNDS]
 *
 * runs the bulk path alone (to profile it). */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchutil.h"
#include "conf.h"
#include "engine.h"
#include "output.h"
#include "state.h"
#include "statedb.h"

#define T0	   (1767000000ULL * USEC_PER_SEC)
#define MAX_ROUNDS 31
#define NBATCH	   3
static const unsigned batch_sizes[NBATCH] = {1, 100, 10000};

static void die(const char *what, const char *err) __attribute__((noreturn));

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_state: %s: %s\n", what, err);
	exit(1);
}

static void fill(struct engine *e, unsigned n)
{
	char addr[32];

	for (unsigned i = 0; i < n; i++) {
		struct qaddr a;
		struct hostrec *r;

		snprintf(addr, sizeof(addr), "10.%u.%u.%u", 100 + i / 65536, (i / 256) % 256,
			 i % 256);
		if (addr_parse_any(addr, &a) < 0 || !(r = hostdb_get(&e->hosts, &a)))
			die("fill", "no room");
		r->state = HOST_ISOLATED;
		r->level = r->decided = LEVEL_ISOLATE;
		r->changed_us = T0 + i;
		r->expires_us = T0 + 86400 * USEC_PER_SEC + i;
		snprintf(r->reason, sizeof(r->reason), "smb-propagation");
		hostdb_want_port(r, 6, 445, NULL);
		hostdb_add_hit(r, 0, T0 + i)->incident = 1;
		hostdb_add_hit(r, DETECT_RULE_TRW, T0 + i)->level = LEVEL_CONTAIN;
		for (unsigned k = 0; k < 4; k++)
			hostdb_history(r, T0 + i + k, (enum hist_kind)(k % HIST_KIND_COUNT),
				       LEVEL_ISOLATE, -1, "smb-propagation");
		hostdb_settle(&e->hosts, r);
	}
}

/* A batch of n hosts changes, as an operator's bulk command would: a
 * level, a reason and a history line each.  The records in recs. */
static void change(struct engine *e, unsigned n, unsigned round, struct hostrec **recs)
{
	unsigned i = 0;

	for (struct hostrec *r = hostdb_first(&e->hosts); r && i < n;
	     r = hostdb_next(&e->hosts, r)) {
		/* A different slice each round. */
		if ((r->changed_us - T0 + round * 7919) % 10 != 0 && n < 10000)
			continue;
		r->level = r->level == LEVEL_ISOLATE ? LEVEL_CONTAIN : LEVEL_ISOLATE;
		r->changed_us++;
		snprintf(r->reason, sizeof(r->reason), "round %u", round);
		hostdb_history(r, r->changed_us, HIST_ACTION, (enum level)r->level, 0, "bulk");
		recs[i++] = r;
	}
}

/* The bulk path once: n new hosts into a fresh database under base, in
 * batches of BULK_BATCH: log false, each made durable by its rows as
 * act_apply() persists a batch (statedb_save_recs(), before the host
 * log); log true, gathered into the host log (statedb_log_recs()) and
 * made durable every BULK_STEP batches (statedb_log_flush()), as a bulk
 * command does now.  Then, timed apart, the load of that database as a
 * crash would leave it (the log not yet drained), and the drain of the
 * log into rows.  Wall and CPU ns in ret[0] and [1]: until durable;
 * ret[2], [3]: the load; ret[4], [5]: the whole drain; ret[6]: the
 * longest drain of one entry, wall. */
#define BULK_BATCH 256
#define BULK_STEP  8
static void bulk_once(struct conf *c, struct output *out, const char *base, unsigned n, bool log,
		      uint64_t ret[7])
{
	struct hostrec *recs[BULK_BATCH];
	struct actor by = {.name = "root"};
	char dir[PATH_MAX + 32], err[600], cmd[PATH_MAX + 48], addr[32];
	struct statedb *db;
	struct engine e, l;
	uint64_t wall = 0, cpu = 0, t, tc;

	unsigned batches = 0;

	memset(ret, 0, 7 * sizeof(*ret));
	snprintf(dir, sizeof(dir), "%s/qd-bench-bulk-XXXXXX", base);
	if (!mkdtemp(dir))
		die(dir, strerror(errno));
	if (engine_init(&e, c, MODE_ENFORCE, out, NULL, NULL) < 0)
		die("engine", "init");
	if (statedb_open(dir, &db, err, sizeof(err)) < 0)
		die("open", err);
	statedb_attach(db, &e);
	if (statedb_save(db, &e, err, sizeof(err)) < 0)
		die("first save", err);
	for (unsigned i = 0; i < n;) {
		unsigned k = 0;

		for (; k < BULK_BATCH && i < n; k++, i++) {
			struct qaddr a;
			struct hostrec *r;

			snprintf(addr, sizeof(addr), "10.%u.%u.%u", 64 + i / 65536, (i / 256) % 256,
				 i % 256);
			if (addr_parse_any(addr, &a) < 0 || !(r = hostdb_get(&e.hosts, &a)))
				die("bulk", "no room");
			r->state = HOST_ISOLATED;
			r->level = LEVEL_ISOLATE;
			r->changed_us = T0 + i;
			r->expires_us = T0 + 3600 * USEC_PER_SEC + i;
			r->last_ttl_s = 3600;
			r->by_uid = 0;
			r->by = by;
			snprintf(r->reason, sizeof(r->reason), "bulk quarantine");
			hostdb_history_by(r, T0 + i, HIST_ACTION, LEVEL_ISOLATE, 0, &by,
					  "bulk quarantine");
			hostdb_changed(&e.hosts, r);
			recs[k] = r;
		}
		t = bench_now_ns();
		tc = bench_cpu_ns();
		if ((log ? statedb_log_recs : statedb_save_recs)(db, &e, recs, k, err,
								 sizeof(err)) < 0)
			die("bulk save", err);
		if (log && (++batches % BULK_STEP == 0 || i == n) &&
		    statedb_log_flush(db, &e, err, sizeof(err)) < 0)
			die("bulk flush", err);
		wall += bench_now_ns() - t;
		cpu += bench_cpu_ns() - tc;
	}
	ret[0] = wall;
	ret[1] = cpu;
	if (log) {
		struct statedb *db2;

		/* What a start after a crash here reads: the rows of before
		 * and the log. */
		if (engine_init(&l, c, MODE_ENFORCE, out, NULL, NULL) < 0)
			die("engine", "init");
		t = bench_now_ns();
		tc = bench_cpu_ns();
		if (statedb_open(dir, &db2, err, sizeof(err)) < 0)
			die("open", err);
		statedb_attach(db2, &l);
		if (statedb_load(db2, &l, NULL, NULL, err, sizeof(err)) < 0)
			die("load of the log", err);
		ret[2] = bench_now_ns() - t;
		ret[3] = bench_cpu_ns() - tc;
		if (hostdb_count(&l.hosts) != n)
			die("load of the log", "a host missing");
		statedb_detach(db2, &l);
		statedb_close(db2);
		engine_fini(&l);
		for (int r = 1; r == 1;) {
			t = bench_now_ns();
			tc = bench_cpu_ns();
			if ((r = statedb_drain(db, &e, err, sizeof(err))) < 0)
				die("drain", err);
			t = bench_now_ns() - t;
			ret[4] += t;
			ret[5] += bench_cpu_ns() - tc;
			ret[6] = MAX(ret[6], t);
		}
		if (statedb_logged(db))
			die("drain", "the log is not empty");
	}
	statedb_detach(db, &e);
	statedb_close(db);
	engine_fini(&e);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		die("rm", dir);
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* "wall (CPU)" medians of the samples. */
static void show(const char *what, uint64_t v[2][MAX_ROUNDS], unsigned n)
{
	struct bench_summary w, c;

	bench_summarize(v[0], n, &w);
	bench_summarize(v[1], n, &c);
	printf("  %-52s %8.1f ms  (CPU %.1f; wall %.1f-%.1f)\n", what, ms(w.median), ms(c.median),
	       ms(w.min), ms(w.max));
}

int main(int argc, char **argv)
{
	bool bulk_only = argc > 1 && strcmp(argv[1], "--bulk") == 0;
	const char *base;
	unsigned nhosts, rounds;
	uint64_t old_save[2][MAX_ROUNDS], new_recs[NBATCH][2][MAX_ROUNDS],
		new_tick[NBATCH][2][MAX_ROUNDS], scan[2][MAX_ROUNDS], t, tc;
	uint64_t old_load[2][MAX_ROUNDS], new_load[2][MAX_ROUNDS], qc[2][MAX_ROUNDS];
	uint64_t bulk_rows[2][MAX_ROUNDS], bulk_log[2][MAX_ROUNDS], bulk_load[2][MAX_ROUNDS],
		bulk_after[2][MAX_ROUNDS], bulk_step[2][MAX_ROUNDS];
	char dir[PATH_MAX], err[600], path[PATH_MAX + 32], cmd[PATH_MAX + 16], g[32];
	struct conf c;
	struct conf_diags d;
	struct output out;
	struct engine e;
	struct statedb *db;
	struct hostrec **recs;

	if (bulk_only)
		argc--, argv++;
	base = argc > 1 ? argv[1] : "/var/tmp";
	nhosts = argc > 2 ? (unsigned)atoi(argv[2]) : 100000;
	rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 5;
	if (rounds < 1 || rounds > MAX_ROUNDS || nhosts < 10000)
		die("usage", "bench_state [--bulk] [DIR] [HOSTS >= 10000] [ROUNDS 1..31]");
	snprintf(dir, sizeof(dir), "%s/qd-bench-state-XXXXXX", base);
	if (!mkdtemp(dir))
		die(dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/q.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		die(path, strerror(errno));
	/* At least 100,000, as the configuration requires. */
	fprintf(f, "limits: { max_blocked = %u; };\n", nhosts + 16 > 100000 ? nhosts + 16 : 100000);
	fclose(f);
	if (conf_load(&c, path, &d) < 0)
		die("config", "refused");
	output_init(&out, NULL, OUTPUT_TEXT, false);
	if (bulk_only)
		goto bulk;
	if (engine_init(&e, &c, MODE_ENFORCE, &out, NULL, NULL) < 0)
		die("engine", "init");
	recs = calloc(nhosts, sizeof(*recs));
	fill(&e, nhosts);
	if (statedb_open(dir, &db, err, sizeof(err)) < 0)
		die("open", err);
	statedb_attach(db, &e);
	t = bench_now_ns();
	tc = bench_cpu_ns();
	if (statedb_save(db, &e, err, sizeof(err)) < 0)
		die("first save", err);
	printf("%s hosts (2 hits, 4 history lines each), in %s\n",
	       bench_group(nhosts, g, sizeof(g)), dir);
	printf("new: first save of everything (a migration): %.0f ms (CPU %.0f ms)\n",
	       ms(bench_now_ns() - t), ms(bench_cpu_ns() - tc));

	for (unsigned r = 0; r < rounds; r++) {
		/* Old: the whole file after any change. */
		t = bench_now_ns();
		tc = bench_cpu_ns();
		if (state_save(&e, dir, err, sizeof(err)) < 0)
			die("state_save", err);
		old_save[0][r] = bench_now_ns() - t;
		old_save[1][r] = bench_cpu_ns() - tc;
		/* New: nothing changed, the tick's scan alone. */
		t = bench_now_ns();
		tc = bench_cpu_ns();
		if (statedb_save(db, &e, err, sizeof(err)) < 0)
			die("scan", err);
		scan[0][r] = bench_now_ns() - t;
		scan[1][r] = bench_cpu_ns() - tc;
		for (unsigned b = 0; b < NBATCH; b++) {
			unsigned n = batch_sizes[b];

			change(&e, n, r * NBATCH + b, recs);
			t = bench_now_ns();
			tc = bench_cpu_ns();
			if (statedb_save_recs(db, &e, recs, n, err, sizeof(err)) < 0)
				die("save_recs", err);
			new_recs[b][0][r] = bench_now_ns() - t;
			new_recs[b][1][r] = bench_cpu_ns() - tc;
			change(&e, n, r * NBATCH + b + 1000, recs);
			t = bench_now_ns();
			tc = bench_cpu_ns();
			if (statedb_save(db, &e, err, sizeof(err)) < 0)
				die("save", err);
			new_tick[b][0][r] = bench_now_ns() - t;
			new_tick[b][1][r] = bench_cpu_ns() - tc;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	long long old_size = file_size(path);
	statedb_detach(db, &e);
	statedb_close(db); /* checkpointed: the database whole in its file */
	snprintf(path, sizeof(path), "%s/%s", dir, STATEDB_FILE);
	long long new_size = file_size(path);

	/* Loads, alternating. */
	for (unsigned r = 0; r < rounds; r++) {
		struct engine l;
		int k;

		if (engine_init(&l, &c, MODE_ENFORCE, &out, NULL, NULL) < 0)
			die("engine", "init");
		t = bench_now_ns();
		tc = bench_cpu_ns();
		k = state_load(&l, dir, NULL, NULL, err, sizeof(err));
		old_load[0][r] = bench_now_ns() - t;
		old_load[1][r] = bench_cpu_ns() - tc;
		if (k < 0)
			die("state_load", err);
		engine_fini(&l);
		if (engine_init(&l, &c, MODE_ENFORCE, &out, NULL, NULL) < 0)
			die("engine", "init");
		t = bench_now_ns();
		tc = bench_cpu_ns();
		if (statedb_open(dir, &db, err, sizeof(err)) < 0)
			die("open", err);
		statedb_attach(db, &l);
		k = statedb_load(db, &l, NULL, NULL, err, sizeof(err));
		new_load[0][r] = bench_now_ns() - t;
		new_load[1][r] = bench_cpu_ns() - tc;
		if (k < 0)
			die("statedb_load", err);
		if (hostdb_count(&l.hosts) != nhosts)
			die("statedb_load", "a host missing");
		statedb_detach(db, &l);
		statedb_close(db);
		engine_fini(&l);
		/* quick_check, as a start-up before READY would pay it. */
		sqlite3 *q;
		t = bench_now_ns();
		tc = bench_cpu_ns();
		if (sqlite3_open_v2(path, &q, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
		    sqlite3_exec(q, "PRAGMA quick_check", NULL, NULL, NULL) != SQLITE_OK)
			die("quick_check", sqlite3_errmsg(q));
		qc[0][r] = bench_now_ns() - t;
		qc[1][r] = bench_cpu_ns() - tc;
		sqlite3_close(q);
	}

	printf("\nsave after a batch of changes (median of %u, wall clock):\n", rounds);
	show("old, state_save() of the whole file (any batch):", old_save, rounds);
	show("new, tick with nothing changed (the scan alone):", scan, rounds);
	for (unsigned b = 0; b < NBATCH; b++) {
		char what[80];

		snprintf(what, sizeof(what), "new, batch of %s hosts, persist (save_recs):",
			 bench_group(batch_sizes[b], g, sizeof(g)));
		show(what, new_recs[b], rounds);
		snprintf(what, sizeof(what), "new, batch of %s hosts, tick (scan + write):", g);
		show(what, new_tick[b], rounds);
	}
	printf("\nload of %s hosts:\n", bench_group(nhosts, g, sizeof(g)));
	show("old, state_load():", old_load, rounds);
	show("new, statedb_open() + statedb_load():", new_load, rounds);
	show("new, PRAGMA quick_check:", qc, rounds);
	printf("\nsize: old file %.1f MB, database %.1f MB (history of %u rounds included)\n",
	       (double)old_size / 1e6, (double)new_size / 1e6, rounds);

	engine_fini(&e);
	free(recs);
bulk:
	/* Alternating: rows, then the log. */
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t v[7];

		bulk_once(&c, &out, dir, nhosts, false, v);
		bulk_rows[0][r] = v[0];
		bulk_rows[1][r] = v[1];
		bulk_once(&c, &out, dir, nhosts, true, v);
		bulk_log[0][r] = v[0];
		bulk_log[1][r] = v[1];
		bulk_load[0][r] = v[2];
		bulk_load[1][r] = v[3];
		bulk_after[0][r] = v[4];
		bulk_after[1][r] = v[5];
		bulk_step[0][r] = bulk_step[1][r] = v[6];
	}
	printf("\nbulk: %s new hosts in batches of %u (median of %u):\n",
	       bench_group(nhosts, g, sizeof(g)), BULK_BATCH, rounds);
	show("rows, a commit a batch (statedb_save_recs()):", bulk_rows, rounds);
	show("host log, a commit every 8 batches:", bulk_log, rounds);
	show("host log: the drain into rows, every entry:", bulk_after, rounds);
	show("host log: the drain, its longest entry (wall):", bulk_step, rounds);
	show("host log: load before the drain (after a crash):", bulk_load, rounds);
	{
		struct bench_summary a, b;

		bench_summarize(bulk_rows[1], rounds, &a);
		bench_summarize(bulk_log[1], rounds, &b);
		printf("  CPU per host until durable: rows %.2f us, host log %.2f us\n",
		       (double)a.median / 1e3 / nhosts, (double)b.median / 1e3 / nhosts);
	}
	conf_fini(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
