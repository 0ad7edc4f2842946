/* Unit tests of the state database: a round trip of every field (the
 * state file's rich registry), incremental saves (only what changed,
 * history appended once, rows of forgotten hosts deleted, history kept),
 * a damaged file, a foreign application_id, a newer schema, a row edited
 * by hand skipped and reported, the migration from a text state file
 * written by state_save() (and one cut short), and a full disk (needs
 * root: a tmpfs in a private mount namespace; skipped otherwise), and
 * the host log of bulk commands (written, replayed, replaced by rows).
 *
 * The state file's tests are included whole for their registry builder
 * and comparisons, so that a field added to the state is checked in both
 * stores; their main() is renamed and not run here. */
#define main test_state_main
int test_state_main(void);
#include "test_state.c"
#undef main

#include <sqlite3.h>

#include "statedb.h"

static struct statedb *db_open(struct fx *f, const char *dir)
{
	struct statedb *db = NULL;

	if (statedb_open(dir, &db, f->err, sizeof(f->err)) < 0)
		print_message("%s\n", f->err);
	assert_non_null(db);
	return db;
}

/* The same registry, hosts compared by key (a load puts them least
 * recently useful first, not in the order they were made). */
static void same_engine_by_key(struct engine *a, struct engine *b)
{
	usec_t next = USEC_INFINITY;

	same_bindings(a, b);
	assert_int_equal(hostdb_count(&a->hosts), hostdb_count(&b->hosts));
	for (const struct hostrec *ra = hostdb_first(&a->hosts); ra;
	     ra = hostdb_next(&a->hosts, ra)) {
		struct hostrec *rb = hostdb_find(&b->hosts, &ra->id);

		assert_non_null(rb);
		same_host(ra, rb);
		if (ra->expires_us && ra->expires_us < next)
			next = ra->expires_us;
	}
	assert_true(b->next_expiry_us == next);
	assert_int_equal(a->incidents.n, b->incidents.n);
	assert_int_equal(a->incidents.next_id, b->incidents.next_id);
	for (unsigned i = 0; i < a->incidents.n; i++)
		same_incident(&a->incidents.v[(a->incidents.head + i) % a->incidents.cap],
			      &b->incidents.v[(b->incidents.head + i) % b->incidents.cap]);
	assert_int_equal(a->pol.paused, b->pol.paused);
	assert_int_equal(a->pol.allowed.n, b->pol.allowed.n);
	for (unsigned i = 0; i < a->pol.allowed.n; i++)
		assert_true(prefix_list_contains(&b->pol.allowed, &a->pol.allowed.v[i].addr));
	for (unsigned i = 0; i < a->c->networks.never_block.n; i++)
		assert_int_equal(a->pol.conf_removed[i], b->pol.conf_removed[i]);
}

static int64_t sql_int(const char *dir, const char *sql)
{
	char path[160];
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, STATEDB_FILE);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *dir, const char *sql)
{
	char path[160];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/%s", dir, STATEDB_FILE);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* Outbreak mode's row: on and back, off (no row), a database of an
 * earlier version gains the table, a row edited by hand refused. */
static void test_db_outbreak(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct outbreak_state ob, got;

	memset(&got, 0xff, sizeof(got));
	assert_int_equal(statedb_outbreak_load(db, &got, f->err, sizeof(f->err)), 0);
	assert_false(got.on);
	memset(&ob, 0, sizeof(ob));
	ob.on = true;
	ob.by = OUTBREAK_BY_SUBNET;
	ob.since_us = 1767225600123456ULL;
	ob.by_uid = 0;
	snprintf(ob.who.name, sizeof(ob.who.name), "root");
	snprintf(ob.who.sudo_user, sizeof(ob.who.sudo_user), "alice");
	ob.who.sudo_uid = 1000;
	snprintf(ob.reason, sizeof(ob.reason), "ticket \"4711\"");
	assert_int_equal(statedb_outbreak_save(db, &ob, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM outbreak"), 1);
	statedb_close(db);
	db = db_open(f, f->dir);
	assert_int_equal(statedb_outbreak_load(db, &got, f->err, sizeof(f->err)), 0);
	assert_memory_equal(&got, &ob, sizeof(ob));
	/* Off: no row. */
	memset(&ob, 0, sizeof(ob));
	assert_int_equal(statedb_outbreak_save(db, &ob, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM outbreak"), 0);
	assert_int_equal(statedb_outbreak_load(db, &got, f->err, sizeof(f->err)), 0);
	assert_false(got.on);
	statedb_close(db);
	/* An earlier version's database has no such table: opened, it has. */
	sql_exec(f->dir, "DROP TABLE outbreak");
	db = db_open(f, f->dir);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM outbreak"), 0);
	/* A grouping that is none of ours, a name that is not one. */
	sql_exec(f->dir, "INSERT INTO outbreak VALUES(1, 'building', 1, 0, NULL, NULL, NULL, '')");
	assert_int_equal(statedb_outbreak_load(db, &got, f->err, sizeof(f->err)), -EBADMSG);
	sql_exec(f->dir, "UPDATE outbreak SET grouping = 'floor', name = 'a b'");
	assert_int_equal(statedb_outbreak_load(db, &got, f->err, sizeof(f->err)), -EBADMSG);
	statedb_close(db);
}

static void print_skip(void *arg, const char *msg)
{
	(void)arg;
	print_message("skipped: %s\n", msg);
}

/* Saved, closed, opened and loaded into a new engine: the same. */
static void reload_same(struct fx *f, struct engine *a)
{
	struct statedb *db = db_open(f, f->dir);
	struct engine b;

	eng_init(&b, &f->c, &f->out);
	statedb_attach(db, &b);
	assert_int_equal(statedb_load(db, &b, print_skip, NULL, f->err, sizeof(f->err)), 0);
	same_engine_by_key(a, &b);
	statedb_detach(db, &b);
	statedb_close(db);
	engine_fini(&b);
}

static void test_db_round_trip(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a, b;
	char path[160];
	struct stat st;

	eng_init(&a, &f->c, &f->out);
	fill_rich(&a);
	/* Nothing saved yet: no complete save to load. */
	eng_init(&b, &f->c, &f->out);
	assert_int_equal(statedb_load(db, &b, NULL, NULL, f->err, sizeof(f->err)), -ENODATA);
	assert_true(empty(&b));
	engine_fini(&b);

	statedb_attach(db, &a);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATEDB_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sql_int(f->dir, "PRAGMA application_id"), STATEDB_APP_ID);
	assert_int_equal(sql_int(f->dir, "PRAGMA user_version"), STATEDB_SCHEMA);
	assert_int_equal(sql_int(f->dir, "PRAGMA journal_mode = WAL") >= 0, 1);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), hostdb_count(&a.hosts));
	/* The views answer. */
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_hosts"), hostdb_count(&a.hosts));
	assert_true(sql_int(f->dir, "SELECT count(*) FROM v1_history") > 0);
	assert_true(sql_int(f->dir, "SELECT count(*) FROM v1_incidents") > 0);
	assert_true(sql_int(f->dir, "SELECT count(*) FROM v1_hits") > 0);
	reload_same(f, &a);

	/* Saved again with nothing changed: nothing written. */
	int64_t hist = sql_int(f->dir, "SELECT count(*) FROM history");
	int64_t changes = sql_int(f->dir, "SELECT max(seq) FROM history");
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), hist);
	assert_int_equal(sql_int(f->dir, "SELECT max(seq) FROM history"), changes);
	statedb_detach(db, &a);
	statedb_close(db);
	engine_fini(&a);
}

/* Only what changed is written; history lines once; rows of forgotten
 * hosts go, their history stays. */
static void test_db_incremental(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a;
	struct hostrec *r, *gone;
	struct qaddr k;

	eng_init(&a, &f->c, &f->out);
	statedb_attach(db, &a);
	many_hosts(&a, 50, 3);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), 150);
	int64_t id9 = sql_int(f->dir, "SELECT id FROM hosts WHERE key = '10.100.0.9'");
	assert_true(id9 > 0);

	/* One host changes through the batch path, one field by hand. */
	k = A("10.100.0.7");
	r = hostdb_find(&a.hosts, &k);
	r->level = LEVEL_CONTAIN;
	r->state = HOST_CONTAINED;
	assert_int_equal(hostdb_history(r, T0 + 999, HIST_ACTION, LEVEL_CONTAIN, 1000, "by hand"),
			 0);
	assert_int_equal(statedb_save_recs(db, &a, &r, 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), 151);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE level = 'contain' AND"
					 " key = '10.100.0.7'"),
			 1);
	k = A("10.100.0.8");
	r = hostdb_find(&a.hosts, &k);
	snprintf(r->reason, sizeof(r->reason), "changed without a history line");
	/* A host forgotten (purged): its row goes at the next save. */
	k = A("10.100.0.9");
	gone = hostdb_find(&a.hosts, &k);
	hostdb_remove(&a.hosts, gone);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), 151);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE reason ="
					 " 'changed without a history line'"),
			 1);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), 49);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hits WHERE host NOT IN"
					 " (SELECT id FROM hosts)"),
			 0);
	/* Its history stays, queryable by address. */
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_history WHERE host ="
					 " '10.100.0.9'"),
			 3);
	/* It comes back: a new life, its old history not its own. */
	r = host(&a, "10.100.0.9", HOST_ISOLATED, LEVEL_ISOLATE);
	assert_int_equal(hostdb_history(r, T0 + 5000, HIST_ACTION, LEVEL_ISOLATE, -1, "again"), 0);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_true(sql_int(f->dir, "SELECT id FROM hosts WHERE key = '10.100.0.9'") > id9);
	reload_same(f, &a);

	/* History past the cap in memory: every line in the database, the
	 * first and the latest in memory after a load. */
	k = A("10.100.0.1");
	r = hostdb_find(&a.hosts, &k);
	for (unsigned i = 0; i < 2 * HOST_MAX_HIST; i++) {
		assert_int_equal(
			hostdb_history(r, T0 + 10000 + i, HIST_DETECT, LEVEL_WATCH, -1, "flood"),
			0);
		if (i % 7 == 0)
			assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	}
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history WHERE host ="
					 " '10.100.0.1'"),
			 3 + 2 * HOST_MAX_HIST);
	reload_same(f, &a);

	/* Opened again after a failure, the records no longer know the
	 * rows: every row is replaced, and a load finds the same. */
	int64_t nrows = sql_int(f->dir, "SELECT count(*) FROM hosts");
	statedb_forget_rows(db);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), nrows);
	reload_same(f, &a);

	/* Retention: old lines go, the rest stays. */
	char q[160];
	snprintf(q, sizeof(q), "SELECT count(*) FROM history WHERE ts_us < %llu",
		 (unsigned long long)(T0 + 10000));
	int64_t old = sql_int(f->dir, q);
	assert_true(old >= 152);
	assert_int_equal(statedb_prune_history(db, T0 + 10000, f->err, sizeof(f->err)), old);
	assert_int_equal(sql_int(f->dir, q), 0);
	/* Every flood line, and those memory held again after the rows
	 * were replaced: the latest 60 and the first (one of its first 4). */
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history WHERE text = 'flood'"),
			 2 * HOST_MAX_HIST + (HOST_MAX_HIST - HOST_HIST_KEEP) + 1);
	statedb_detach(db, &a);
	statedb_close(db);
	engine_fini(&a);
}

/* A damaged or foreign file is refused (to be set aside), with its -wal
 * and -shm; nothing is loaded from it. */
static void test_db_damaged_foreign(void **state)
{
	struct fx *f = *state;
	struct statedb *db = NULL;
	struct engine a;
	char path[160], name[256];
	FILE *fp;

	/* Garbage where the database should be. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATEDB_FILE);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (unsigned i = 0; i < 1000; i++)
		fputs("this is not a database at all, ", fp);
	fclose(fp);
	assert_int_equal(statedb_open(f->dir, &db, f->err, sizeof(f->err)), -EBADMSG);
	assert_null(db);
	print_message("garbage: %s\n", f->err);
	snprintf(path, sizeof(path), "%s/%s-wal", f->dir, STATEDB_FILE);
	fp = fopen(path, "w");
	fclose(fp);
	assert_int_equal(statedb_set_aside(f->dir, "123", name, sizeof(name)), 0);
	assert_non_null(strstr(name, "state.db.bad-123"));
	assert_int_equal(access(name, F_OK), 0);
	snprintf(path, sizeof(path), "%s/%s.bad-123-wal", f->dir, STATEDB_FILE);
	assert_int_equal(access(path, F_OK), 0);
	assert_false(statedb_exists(f->dir));

	/* Another application's database. */
	sqlite3 *other;
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATEDB_FILE);
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other,
				      "PRAGMA application_id = 42; CREATE TABLE t(x);"
				      " INSERT INTO t VALUES(1);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(statedb_open(f->dir, &db, f->err, sizeof(f->err)), -EBADMSG);
	assert_non_null(strstr(f->err, "not a quarantined database"));
	assert_int_equal(statedb_set_aside(f->dir, "124", name, sizeof(name)), 0);

	/* Ours, of a schema version from the future. */
	db = db_open(f, f->dir);
	statedb_close(db);
	sql_exec(f->dir, "PRAGMA user_version = 99");
	assert_int_equal(statedb_open(f->dir, &db, f->err, sizeof(f->err)), -EBADMSG);
	assert_non_null(strstr(f->err, "schema version 99"));
	assert_int_equal(statedb_set_aside(f->dir, "125", name, sizeof(name)), 0);

	/* A good save whose pages are then damaged: the load fails whole. */
	db = db_open(f, f->dir);
	eng_init(&a, &f->c, &f->out);
	statedb_attach(db, &a);
	many_hosts(&a, 3000, 4);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	statedb_detach(db, &a);
	statedb_close(db); /* checkpointed: everything in the file */
	engine_fini(&a);
	int fd = open(path, O_WRONLY);
	struct stat st;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	char junk[4096];
	memset(junk, 0xa5, sizeof(junk));
	for (off_t off = 8192; off + (off_t)sizeof(junk) < st.st_size; off += 3 * 4096)
		assert_int_equal(pwrite(fd, junk, sizeof(junk), off), (ssize_t)sizeof(junk));
	close(fd);
	eng_init(&a, &f->c, &f->out);
	int r = statedb_open(f->dir, &db, f->err, sizeof(f->err));
	if (r == 0) {
		statedb_attach(db, &a);
		r = statedb_load(db, &a, NULL, NULL, f->err, sizeof(f->err));
		statedb_detach(db, &a);
		statedb_close(db);
	}
	print_message("damaged pages: %d %s\n", r, f->err);
	assert_int_equal(r, -EBADMSG);
	assert_true(empty(&a));
	engine_fini(&a);
}

struct dbskips {
	unsigned n;
	char last[512];
};

static void count_skip(void *arg, const char *msg)
{
	struct dbskips *s = arg;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", msg);
}

/* A row edited into something wrong is skipped and reported, as a bad
 * line of the state file; the rest loads, and the next save deletes the
 * row (its history stays). */
static void test_db_bad_rows(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a, b;
	struct dbskips sk = {0};

	eng_init(&a, &f->c, &f->out);
	statedb_attach(db, &a);
	many_hosts(&a, 20, 2);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	statedb_detach(db, &a);
	statedb_close(db);
	sql_exec(f->dir,
		 "UPDATE hosts SET level = 'obliterate' WHERE key = '10.100.0.3';"
		 " UPDATE hosts SET expires_us = 1 << 62 WHERE key = '10.100.0.4';"
		 " UPDATE history SET kind = 'nonsense' WHERE host = '10.100.0.5';"
		 " UPDATE hosts SET reason = 'a' || char(0) || 'b' WHERE key = '10.100.0.6';"
		 " UPDATE incidents SET id = 0;"
		 " INSERT INTO hosts(key, machine, addr, state, decided, level, adopted,"
		 "  first_probe_us, first_detect_us, last_detect_us, changed_us, expires_us,"
		 "  by_uid, recurrences, last_level, last_ttl_s, want, want_overflow,"
		 "  evidence, reason) VALUES('224.0.0.1', 0, '224.0.0.1', 'isolated',"
		 "  'isolate', 'isolate', 0, 0, 0, 0, 0, 0, -1, 0, 'none', 0, '', 0, '', '')");
	db = db_open(f, f->dir);
	eng_init(&b, &f->c, &f->out);
	statedb_attach(db, &b);
	int r = statedb_load(db, &b, count_skip, &sk, f->err, sizeof(f->err));
	print_message("%d skipped, the last: %s\n", r, sk.last);
	/* Three hosts, one history line (its host's other lines stay), the
	 * multicast host; no incident rows to break. */
	assert_int_equal(r, 6);
	assert_int_equal(sk.n, 6);
	assert_int_equal(hostdb_count(&b.hosts), 17);
	assert_non_null(strstr(sk.last, "state.db"));
	assert_int_equal(statedb_save(db, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), 17);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history WHERE host ="
					 " '10.100.0.3'"),
			 2);
	statedb_detach(db, &b);
	statedb_close(db);
	engine_fini(&a);
	engine_fini(&b);
}

/* A text state file written by state_save() is migrated whole, and
 * renamed; one cut short before its commit is migrated again. */
static void test_db_migrate(void **state)
{
	struct fx *f = *state;
	struct statedb *db;
	struct engine a, b, c;
	char path[160];
	bool done = false;

	eng_init(&a, &f->c, &f->out);
	fill_rich(&a);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);

	/* Cut short: the database was made (schema, no complete save),
	 * the file is still there. */
	db = db_open(f, f->dir);
	statedb_close(db);
	db = db_open(f, f->dir);
	eng_init(&b, &f->c, &f->out);
	assert_int_equal(statedb_load(db, &b, NULL, NULL, f->err, sizeof(f->err)), -ENODATA);
	assert_int_equal(statedb_migrate(db, &b, f->dir, NULL, NULL, &done, f->err, sizeof(f->err)),
			 0);
	assert_true(done);
	same_engine(&a, &b);
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATE_FILE);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATEDB_MIGRATED);
	assert_int_equal(access(path, F_OK), 0);
	statedb_detach(db, &b);
	statedb_close(db);

	/* The next start loads the database: the same again. */
	db = db_open(f, f->dir);
	eng_init(&c, &f->c, &f->out);
	statedb_attach(db, &c);
	assert_int_equal(statedb_load(db, &c, NULL, NULL, f->err, sizeof(f->err)), 0);
	same_engine_by_key(&a, &c);
	/* Nothing left to migrate. */
	statedb_detach(db, &c);
	engine_fini(&c);
	eng_init(&c, &f->c, &f->out);
	assert_int_equal(statedb_migrate(db, &c, f->dir, NULL, NULL, &done, f->err, sizeof(f->err)),
			 -ENOENT);
	statedb_close(db);
	engine_fini(&a);
	engine_fini(&b);
	engine_fini(&c);
}

/* Rows of a save cut short before the first complete one (a batch
 * written while the migration's or the start's whole save failed, then
 * a crash): the next start finds no complete save, and neither the
 * migration of the text file nor a first start's save may then trip
 * over those rows' keys. */
static void test_db_incomplete_rows(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a, b;
	struct hostrec *recs[2];
	struct qaddr k;
	char path[160];
	bool done = false;

	eng_init(&a, &f->c, &f->out);
	many_hosts(&a, 50, 3);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	statedb_attach(db, &a);
	k = A("10.100.0.7");
	recs[0] = hostdb_find(&a.hosts, &k);
	k = A("10.100.0.8");
	recs[1] = hostdb_find(&a.hosts, &k);
	assert_int_equal(statedb_save_recs(db, &a, recs, 2, f->err, sizeof(f->err)), 0);
	statedb_detach(db, &a);
	statedb_close(db);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), 2);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM meta WHERE key = 'complete'"), 0);

	/* Migrated all the same: the rows replaced, every host there. */
	db = db_open(f, f->dir);
	eng_init(&b, &f->c, &f->out);
	statedb_attach(db, &b);
	assert_int_equal(statedb_load(db, &b, NULL, NULL, f->err, sizeof(f->err)), -ENODATA);
	assert_int_equal(statedb_migrate(db, &b, f->dir, NULL, NULL, &done, f->err, sizeof(f->err)),
			 0);
	if (!done)
		print_message("%s\n", f->err);
	assert_true(done);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), 50);
	assert_int_equal(sql_int(f->dir, "SELECT value FROM meta WHERE key = 'complete'"), 1);
	statedb_detach(db, &b);
	statedb_close(db);
	engine_fini(&b);

	/* A first start (no text file) over such rows: its save succeeds. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATEDB_FILE);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/%s-wal", f->dir, STATEDB_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s-shm", f->dir, STATEDB_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATEDB_MIGRATED);
	assert_int_equal(unlink(path), 0);
	db = db_open(f, f->dir);
	statedb_attach(db, &a);
	for (struct hostrec *r = hostdb_first(&a.hosts); r; r = hostdb_next(&a.hosts, r))
		r->db_id = r->db_fp = r->db_fp_sub = r->db_hist = 0;
	assert_int_equal(statedb_save_recs(db, &a, recs, 2, f->err, sizeof(f->err)), 0);
	statedb_detach(db, &a);
	statedb_close(db);
	db = db_open(f, f->dir);
	eng_init(&b, &f->c, &f->out);
	statedb_attach(db, &b);
	assert_int_equal(statedb_load(db, &b, NULL, NULL, f->err, sizeof(f->err)), -ENODATA);
	assert_int_equal(statedb_migrate(db, &b, f->dir, NULL, NULL, &done, f->err, sizeof(f->err)),
			 -ENOENT);
	/* What the kernel gives back at start (adopted): the same keys. */
	many_hosts(&b, 50, 1);
	if (statedb_save(db, &b, f->err, sizeof(f->err)) < 0)
		fail_msg("%s", f->err);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), 50);
	assert_int_equal(sql_int(f->dir, "SELECT value FROM meta WHERE key = 'complete'"), 1);
	statedb_detach(db, &b);
	statedb_close(db);
	engine_fini(&a);
	engine_fini(&b);
}

/* Detections from outside: two sources on one host, the evidence with
 * quotes and non-ASCII text; saved, the views say the source and the
 * evidence; loaded into another engine, the rule names (interned again),
 * sources and evidence are the same. */
static void outside_fill(struct engine *e)
{
	struct outside_detection o;

	memset(&o, 0, sizeof(o));
	o.source = SOURCE_ANTIVIRUS;
	o.severity = SEV_HIGH;
	o.level = LEVEL_CONTAIN;
	o.host = A("10.1.0.77");
	snprintf(o.origin, sizeof(o.origin), "sophos");
	snprintf(o.rule, sizeof(o.rule), "av:Troj/Agent-Ä");
	snprintf(o.evidence, sizeof(o.evidence), "PC-77;10.1.0.77;\"Troj/Agent-Ä\";2026-12-03");
	/* Taken, or refused by a pause the rich registry holds: recorded
	 * either way. */
	assert_true(engine_outside_ex(e, &o, NULL) <= OUTSIDE_REFUSED);
	o.source = SOURCE_SURICATA;
	snprintf(o.rule, sizeof(o.rule), "ids:ET WORM Something");
	snprintf(o.evidence, sizeof(o.evidence), "{\"alert\":{\"signature\":\"ET WORM\"}}");
	/* Taken, or refused by a pause the rich registry holds: recorded
	 * either way. */
	assert_true(engine_outside_ex(e, &o, NULL) <= OUTSIDE_REFUSED);
}

static void same_outside(struct engine *a, struct engine *b)
{
	struct qaddr h = A("10.1.0.77");
	struct hostrec *ra = hostdb_find_addr(&a->hosts, &h), *rb = hostdb_find_addr(&b->hosts, &h);

	assert_non_null(ra);
	assert_non_null(rb);
	assert_int_equal(ra->nhits, 2);
	assert_int_equal(rb->nhits, ra->nhits);
	for (unsigned i = 0; i < ra->nhits; i++) {
		assert_string_equal(engine_rule_name(a, ra->hits[i].rule),
				    engine_rule_name(b, rb->hits[i].rule));
		assert_int_equal(ra->hits[i].source, rb->hits[i].source);
	}
	assert_int_equal(rb->nhist, ra->nhist);
	for (unsigned i = 0; i < ra->nhist; i++) {
		assert_string_equal(hist_source(&ra->hist[i]), hist_source(&rb->hist[i]));
		if (hist_evidence(&ra->hist[i]))
			assert_string_equal(hist_evidence(&ra->hist[i]),
					    hist_evidence(&rb->hist[i]));
		else
			assert_null(hist_evidence(&rb->hist[i]));
	}
}

static void test_db_outside(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a, b;

	eng_init(&a, &f->c, &f->out);
	outside_fill(&a);
	statedb_attach(db, &a);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_hits WHERE source = 'antivirus'"
					 " AND rule = 'av:Troj/Agent-Ä'"),
			 1);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_hits WHERE source = 'suricata'"),
			 1);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_history WHERE kind = 'detect'"
					 " AND source = 'antivirus' AND evidence ="
					 " 'PC-77;10.1.0.77;\"Troj/Agent-Ä\";2026-12-03'"),
			 1);
	statedb_detach(db, &a);
	eng_init(&b, &f->c, &f->out);
	statedb_attach(db, &b);
	assert_int_equal(statedb_load(db, &b, print_skip, NULL, f->err, sizeof(f->err)), 0);
	same_outside(&a, &b);
	statedb_detach(db, &b);
	statedb_close(db);
	engine_fini(&a);
	engine_fini(&b);
}

/* The state file (state.c, which migration reads) keeps them too. */
static void test_file_outside(void **state)
{
	struct fx *f = *state;
	struct engine a, b;

	eng_init(&a, &f->c, &f->out);
	eng_init(&b, &f->c, &f->out);
	outside_fill(&a);
	assert_int_equal(state_save(&a, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(state_load(&b, f->dir, NULL, NULL, f->err, sizeof(f->err)), 0);
	same_outside(&a, &b);
	engine_fini(&a);
	engine_fini(&b);
}

/* A database of schema 1 (before detections from outside) is brought to
 * schema 2 in place when opened: every row stays, the views gain their
 * columns (our own detections' source "self"), and it loads. */
static void test_db_schema_1(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a, b;
	int64_t hosts, hist, hits;

	eng_init(&a, &f->c, &f->out);
	fill_rich(&a);
	statedb_attach(db, &a);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	statedb_detach(db, &a);
	statedb_close(db);
	hosts = sql_int(f->dir, "SELECT count(*) FROM hosts");
	hist = sql_int(f->dir, "SELECT count(*) FROM history");
	hits = sql_int(f->dir, "SELECT count(*) FROM hits");
	/* Back to exactly what schema 1 was: its columns and views. */
	sql_exec(f->dir,
		 "BEGIN; DROP VIEW v1_hosts; DROP VIEW v1_hits; DROP VIEW v1_history;"
		 "ALTER TABLE hits DROP COLUMN source; ALTER TABLE history DROP COLUMN source;"
		 "ALTER TABLE history DROP COLUMN evidence;"
		 "CREATE VIEW v1_hits AS SELECT h.key AS host, t.rule, t.level,"
		 " NULLIF(t.incident, 0) AS incident,"
		 " datetime(t.first_us / 1000000, 'unixepoch') AS first, t.first_us"
		 " FROM hits t JOIN hosts h ON h.id = t.host;"
		 "CREATE VIEW v1_history AS SELECT seq, life, host,"
		 " datetime(ts_us / 1000000, 'unixepoch') AS time, ts_us, kind, level, state,"
		 " CASE WHEN uid >= 0 THEN uid END AS uid, name AS by_name,"
		 " sudo_user AS by_sudo_user, text FROM history;"
		 "CREATE VIEW v1_hosts AS SELECT h.id AS life, h.key AS host,"
		 " CASE WHEN h.machine THEN h.key END AS mac, h.addr AS addr,"
		 " (SELECT group_concat(a.addr, ',') FROM host_addrs a WHERE a.host = h.id) AS "
		 "addrs,"
		 " h.state, h.level, h.decided, h.adopted,"
		 " datetime(h.first_detect_us / 1000000, 'unixepoch') AS first_detect,"
		 " datetime(h.last_detect_us / 1000000, 'unixepoch') AS last_detect,"
		 " datetime(h.changed_us / 1000000, 'unixepoch') AS changed,"
		 " CASE WHEN h.expires_us THEN datetime(h.expires_us / 1000000, 'unixepoch') END"
		 " AS expires,"
		 " CASE WHEN h.by_uid >= 0 THEN h.by_uid END AS by_uid, h.by_name, h.by_sudo_user,"
		 " h.reason, NULLIF(h.evidence, '') AS evidence, h.recurrences,"
		 " NULLIF(h.want, '') AS ports,"
		 " substr(h.infected_by, 1, instr(h.infected_by, '/') - 1) AS infected_by,"
		 " h.first_detect_us, h.last_detect_us, h.changed_us, h.expires_us FROM hosts h;"
		 "PRAGMA user_version = 1; COMMIT;");
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM pragma_table_info('history')"
					 " WHERE name = 'source'"),
			 0);
	db = db_open(f, f->dir);
	assert_int_equal(sql_int(f->dir, "PRAGMA user_version"), 2);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), hosts);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), hist);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hits"), hits);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_hits WHERE source = 'self'"),
			 hits);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_hosts WHERE sources = 'self'"),
			 sql_int(f->dir, "SELECT count(DISTINCT host) FROM hits"));
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM v1_history WHERE kind = 'detect'"
					 " AND source = 'self'"),
			 sql_int(f->dir, "SELECT count(*) FROM history WHERE kind = 'detect'"));
	eng_init(&b, &f->c, &f->out);
	statedb_attach(db, &b);
	assert_int_equal(statedb_load(db, &b, print_skip, NULL, f->err, sizeof(f->err)), 0);
	same_engine_by_key(&a, &b);
	/* And it takes detections from outside from now on. */
	outside_fill(&b);
	assert_int_equal(statedb_save(db, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(
		sql_int(f->dir, "SELECT count(*) FROM v1_history WHERE source = 'suricata'"), 1);
	statedb_detach(db, &b);
	statedb_close(db);
	engine_fini(&a);
	engine_fini(&b);
}

/* A full disk: the save fails whole, what was durable stays, the
 * records stay to be written, and the next save (room again) writes
 * them. */
static void test_db_disk_full(void **state)
{
	struct fx *f = *state;
	struct statedb *db;
	struct engine a;

	if (!can_mount) {
		print_message("needs root (a tmpfs in a private mount namespace): skipped\n");
		skip();
	}
	mount_tmpfs(f, "size=512k,mode=0700");
	db = db_open(f, f->mnt);
	eng_init(&a, &f->c, &f->out);
	statedb_attach(db, &a);
	many_hosts(&a, 5, 2);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	many_hosts(&a, 4000, 8);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), -ENOSPC);
	print_message("disk full: %s\n", f->err);
	assert_int_equal(sql_int(f->mnt, "SELECT count(*) FROM hosts"), 5);
	/* Room again (the mount grows): the same records go through. */
	assert_int_equal(mount("none", f->mnt, "tmpfs", MS_REMOUNT, "size=64m"), 0);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->mnt, "SELECT count(*) FROM hosts"), 4000);
	/* The first five hosts were made twice over: two lines more. */
	assert_int_equal(sql_int(f->mnt, "SELECT count(*) FROM history"), 4000 * 8 + 5 * 2);
	statedb_detach(db, &a);
	statedb_close(db);
	engine_fini(&a);
}

/* A reader that holds a snapshot keeps the WAL from being checkpointed
 * back: it grows while the reader stays (statedb_wal_size() sees it,
 * the daemon alerts past STATEDB_WAL_ALERT), and stops growing once the
 * reader is gone. */
static void test_db_wal_reader(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a;
	sqlite3 *rd;
	char path[160];
	int64_t w0, w1, w2 = 0;

	eng_init(&a, &f->c, &f->out);
	statedb_attach(db, &a);
	many_hosts(&a, 3000, 1);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	snprintf(path, sizeof(path), "%s/%s", f->dir, STATEDB_FILE);
	assert_int_equal(sqlite3_open_v2(path, &rd, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(rd, "BEGIN; SELECT count(*) FROM hosts", NULL, NULL, NULL),
			 SQLITE_OK);
	w0 = statedb_wal_size(db);
	for (unsigned round = 0; round < 12; round++) {
		for (struct hostrec *r = hostdb_first(&a.hosts); r; r = hostdb_next(&a.hosts, r))
			snprintf(r->reason, sizeof(r->reason), "round %u of a long read", round);
		assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	}
	w1 = statedb_wal_size(db);
	print_message("WAL: %lld bytes, %lld with a reader holding its snapshot\n", (long long)w0,
		      (long long)w1);
	assert_true(w1 > w0 + STATEDB_AUTOCHECKPOINT * 4096LL);
	sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(rd);
	/* Without it, a checkpoint completes and the WAL is written from
	 * its start again: the file keeps its size (truncated only past
	 * STATEDB_JOURNAL_LIMIT) but no longer grows. */
	for (unsigned round = 0; round < 24; round++) {
		for (struct hostrec *r = hostdb_first(&a.hosts); r; r = hostdb_next(&a.hosts, r))
			snprintf(r->reason, sizeof(r->reason), "round %u, no reader", round);
		assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
		if (round == 11)
			w2 = statedb_wal_size(db);
	}
	int64_t w3 = statedb_wal_size(db);
	print_message("WAL: %lld, then %lld bytes once the reader is gone\n", (long long)w2,
		      (long long)w3);
	assert_true(w3 - w2 < (w1 - w0) / 2);
	statedb_detach(db, &a);
	statedb_close(db);
	engine_fini(&a);
}

/* Changes every record of a (or those of 10.100/16 only, fresh ones
 * from many_hosts()) as a bulk command would: a level, a reason and a
 * history line each.  The records in recs (room for all); their count. */
static unsigned bulk_change(struct engine *a, struct hostrec **recs, bool fresh_only,
			    unsigned round)
{
	struct qaddr net = A("10.100.0.0");
	unsigned n = 0;

	for (struct hostrec *r = hostdb_first(&a->hosts); r; r = hostdb_next(&a->hosts, r)) {
		bool fresh = r->id.family == AF_INET && memcmp(r->id.b, net.b, 2) == 0;

		if (fresh_only && !fresh)
			continue;
		r->level = round % 2 ? LEVEL_ISOLATE : LEVEL_CONTAIN;
		r->changed_us = T0 + 50000 + round;
		snprintf(r->reason, sizeof(r->reason), "bulk %u %s", round, SPECIAL);
		assert_int_equal(hostdb_history(r, T0 + 50000 + round, HIST_ACTION,
						(enum level)r->level, 0, "bulk"),
				 0);
		recs[n++] = r;
	}
	return n;
}

/* Drains the whole log; the number of entries drained. */
static unsigned drain_all(struct fx *f, struct statedb *db, struct engine *e)
{
	unsigned n = 0;
	int r;

	while ((r = statedb_drain(db, e, f->err, sizeof(f->err))) == 1)
		n++;
	assert_int_equal(r, 0);
	assert_false(statedb_logged(db));
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 0);
	return n;
}

/* The host log: a bulk command's batches gathered, then written as one
 * entry instead of their rows; a load before the entries are drained (a
 * crash) replays them over the rows, each host's latest entry; a whole
 * save passes the logged hosts over; the drain writes their rows, each
 * history line once, entry by entry; after a restart, the restarted
 * daemon's drain does the same. */
static void test_db_host_log(void **state)
{
	struct fx *f = *state;
	struct statedb *db = db_open(f, f->dir);
	struct engine a, b;
	struct hostrec *recs[256], *r;
	unsigned n, lines = 0;
	struct qaddr k;

	eng_init(&a, &f->c, &f->out);
	fill_rich(&a);
	statedb_attach(db, &a);
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_false(statedb_logged(db));
	assert_int_equal(statedb_drain(db, &a, f->err, sizeof(f->err)), 0);
	int64_t hosts0 = sql_int(f->dir, "SELECT count(*) FROM hosts");
	int64_t hist0 = sql_int(f->dir, "SELECT count(*) FROM history");

	/* Every host changes, 40 new ones come: two entries. */
	many_hosts(&a, 40, 2);
	n = bulk_change(&a, recs, false, 1);
	assert_true(n < 256);
	lines += n;
	assert_int_equal(statedb_log_recs(db, &a, recs, n / 3, f->err, sizeof(f->err)), 0);
	/* Gathered, not written. */
	assert_true(statedb_logged(db));
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 0);
	assert_int_equal(statedb_log_recs(db, &a, recs + n / 3, n / 3, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_log_flush(db, &a, f->err, sizeof(f->err)), 1);
	assert_int_equal(statedb_log_flush(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_log_recs(db, &a, recs + 2 * (n / 3), n - 2 * (n / 3), f->err,
					  sizeof(f->err)),
			 0);
	assert_int_equal(statedb_log_flush(db, &a, f->err, sizeof(f->err)), 1);
	assert_true(statedb_logged(db));
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 2);
	/* No row written: neither the new hosts' nor a history line. */
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), hosts0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), hist0);
	/* One of them again, through the batch path: logged too (a third
	 * entry, its latest), not written to its row. */
	k = A("10.1.0.3");
	r = hostdb_find(&a.hosts, &k);
	r->level = LEVEL_NONE;
	snprintf(r->reason, sizeof(r->reason), "released after the bulk");
	assert_int_equal(hostdb_history(r, T0 + 60000, HIST_RELEASE, LEVEL_NONE, 0, "released"), 0);
	lines++;
	assert_int_equal(statedb_save_recs(db, &a, &r, 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 3);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE key = '10.1.0.3' AND"
					 " reason = 'released after the bulk'"),
			 0);
	/* A whole save passes the logged hosts over. */
	assert_int_equal(statedb_save(db, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), hosts0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), hist0);

	/* A crash here: the rows and the log load as what memory holds. */
	reload_same(f, &a);
	/* And after the first entry's drain (10.1.0.3 waits for the third). */
	assert_int_equal(statedb_drain(db, &a, f->err, sizeof(f->err)), 1);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 2);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE key = '10.1.0.3' AND"
					 " reason = 'released after the bulk'"),
			 0);
	reload_same(f, &a);

	/* Drained: rows for every logged host, each history line once. */
	assert_int_equal(drain_all(f, db, &a), 2);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), hosts0 + 40);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"), hist0 + 40 * 2 + lines);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE key = '10.1.0.3' AND"
					 " reason = 'released after the bulk'"),
			 1);
	reload_same(f, &a);

	/* Logged again, then the daemon dies before the drain: the
	 * restarted one loads the log and drains it; the lines already in
	 * the table are not written twice. */
	n = bulk_change(&a, recs, false, 2);
	assert_int_equal(statedb_log_recs(db, &a, recs, n, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_log_flush(db, &a, f->err, sizeof(f->err)), 1);
	statedb_detach(db, &a);
	statedb_close(db);
	db = db_open(f, f->dir);
	assert_true(statedb_logged(db));
	eng_init(&b, &f->c, &f->out);
	statedb_attach(db, &b);
	assert_int_equal(statedb_load(db, &b, print_skip, NULL, f->err, sizeof(f->err)), 0);
	same_engine_by_key(&a, &b);
	/* Numbered on: a new entry after a restart comes after the old. */
	k = A("10.1.0.5");
	r = hostdb_find(&b.hosts, &k);
	snprintf(r->reason, sizeof(r->reason), "after the restart");
	assert_int_equal(statedb_save_recs(db, &b, &r, 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 2);
	assert_int_equal(statedb_save(db, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(drain_all(f, db, &b), 2);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), hosts0 + 40);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM history"),
			 hist0 + 40 * 2 + lines + n);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE key = '10.1.0.5' AND"
					 " reason = 'after the restart'"),
			 1);
	reload_same(f, &b);

	/* Gathered, then a batch of one of them saved: both in one entry,
	 * the host's row untouched; gathered, then a whole save: written
	 * as an entry, not as rows. */
	n = bulk_change(&b, recs, true, 4);
	assert_int_equal(statedb_log_recs(db, &b, recs, n, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_save_recs(db, &b, recs, 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 1);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE reason LIKE 'bulk 4%'"),
			 0);
	reload_same(f, &b);
	n = bulk_change(&b, recs, true, 5);
	assert_int_equal(statedb_log_recs(db, &b, recs, n, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_save(db, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_log_flush(db, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 2);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE reason LIKE 'bulk 5%'"),
			 0);
	reload_same(f, &b);
	assert_int_equal(drain_all(f, db, &b), 2);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE reason LIKE 'bulk 5%'"),
			 40);
	reload_same(f, &b);

	/* A logged host forgotten before the drain: the drain passes it
	 * over, its row goes with the next save. */
	n = bulk_change(&b, recs, true, 6);
	assert_int_equal(n, 40);
	assert_int_equal(statedb_log_recs(db, &b, recs, n, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_log_flush(db, &b, f->err, sizeof(f->err)), 1);
	k = A("10.100.0.7");
	hostdb_remove(&b.hosts, hostdb_find(&b.hosts, &k));
	assert_int_equal(drain_all(f, db, &b), 1);
	assert_int_equal(statedb_save(db, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts"), hosts0 + 39);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE key = '10.100.0.7'"), 0);
	reload_same(f, &b);

	/* A rewrite (the rows no longer known) empties the log. */
	n = bulk_change(&b, recs, true, 7);
	assert_int_equal(statedb_log_recs(db, &b, recs, n, f->err, sizeof(f->err)), 0);
	assert_int_equal(statedb_log_flush(db, &b, f->err, sizeof(f->err)), 1);
	statedb_forget_rows(db);
	assert_int_equal(statedb_save(db, &b, f->err, sizeof(f->err)), 0);
	assert_false(statedb_logged(db));
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM host_log"), 0);
	assert_int_equal(sql_int(f->dir, "SELECT count(*) FROM hosts WHERE reason LIKE 'bulk 7%'"),
			 39);
	reload_same(f, &b);
	statedb_detach(db, &b);
	statedb_close(db);
	engine_fini(&b);
	engine_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_db_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_outbreak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_damaged_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_bad_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_incomplete_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_schema_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_wal_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_host_log, setup, teardown),
	};

	(void)test_state_main;
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		can_mount = true;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
