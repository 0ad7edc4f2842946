/* The state in SQLite; see statedb.h for the schema and the contract.
 *
 * Every write goes through statements prepared once at open.  A save is
 * one transaction (BEGIN IMMEDIATE ... COMMIT): rows of forgotten
 * records deleted, changed records rewritten (their row, addresses and
 * hits) with their new history lines appended, then incidents, meta,
 * prefixes and bindings when their fingerprints say they changed.  What
 * a record's db_* fields should become is staged and set only once
 * COMMIT returned: a failed save (disk full) leaves every record to be
 * written again by the next one. */
#include "statedb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "incident.h"
#include "types.h"

/* The views that schema 2 changed (columns added at the end: v1_hosts
 * its sources, v1_hits a hit's, v1_history a line's and its evidence). */
#define VIEW_HOSTS                                                                            \
	"CREATE VIEW v1_hosts AS SELECT h.id AS life, h.key AS host,"                         \
	" CASE WHEN h.machine THEN h.key END AS mac, h.addr AS addr,"                         \
	" (SELECT group_concat(a.addr, ',') FROM host_addrs a WHERE a.host = h.id) AS addrs," \
	" h.state, h.level, h.decided, h.adopted,"                                            \
	" datetime(h.first_detect_us / 1000000, 'unixepoch') AS first_detect,"                \
	" datetime(h.last_detect_us / 1000000, 'unixepoch') AS last_detect,"                  \
	" datetime(h.changed_us / 1000000, 'unixepoch') AS changed,"                          \
	" CASE WHEN h.expires_us THEN datetime(h.expires_us / 1000000, 'unixepoch') END"      \
	" AS expires,"                                                                        \
	" CASE WHEN h.by_uid >= 0 THEN h.by_uid END AS by_uid, h.by_name, h.by_sudo_user,"    \
	" h.reason, NULLIF(h.evidence, '') AS evidence, h.recurrences,"                       \
	" NULLIF(h.want, '') AS ports,"                                                       \
	" substr(h.infected_by, 1, instr(h.infected_by, '/') - 1) AS infected_by,"            \
	" h.first_detect_us, h.last_detect_us, h.changed_us, h.expires_us,"                   \
	" (SELECT group_concat(s, ',') FROM (SELECT DISTINCT COALESCE(t.source, 'self') AS s" \
	"  FROM hits t WHERE t.host = h.id ORDER BY s)) AS sources FROM hosts h;"

#define VIEW_HITS                                                            \
	"CREATE VIEW v1_hits AS SELECT h.key AS host, t.rule, t.level,"      \
	" NULLIF(t.incident, 0) AS incident,"                                \
	" datetime(t.first_us / 1000000, 'unixepoch') AS first, t.first_us," \
	" COALESCE(t.source, 'self') AS source"                              \
	" FROM hits t JOIN hosts h ON h.id = t.host;"
#define VIEW_HISTORY                                                                           \
	"CREATE VIEW v1_history AS SELECT seq, life, host,"                                    \
	" datetime(ts_us / 1000000, 'unixepoch') AS time, ts_us, kind, level, state,"          \
	" CASE WHEN uid >= 0 THEN uid END AS uid, name AS by_name, sudo_user AS by_sudo_user," \
	" text, CASE WHEN kind = 'detect' THEN COALESCE(source, 'self') END AS source,"        \
	" evidence FROM history;"

static const char schema_sql[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"
	"CREATE TABLE prefixes(kind TEXT NOT NULL, net TEXT NOT NULL,"
	" PRIMARY KEY(kind, net)) STRICT;"
	"CREATE TABLE incidents(id INTEGER PRIMARY KEY, rule TEXT NOT NULL,"
	" patient_zero TEXT NOT NULL, first_probe_us INTEGER NOT NULL,"
	" first_detect_us INTEGER NOT NULL, last_detect_us INTEGER NOT NULL,"
	" hosts INTEGER NOT NULL, port INTEGER) STRICT;"
	"CREATE TABLE hosts(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
	" machine INTEGER NOT NULL, addr TEXT, merged INTEGER, state TEXT NOT NULL,"
	" decided TEXT NOT NULL, level TEXT NOT NULL, adopted INTEGER NOT NULL,"
	" first_probe_us INTEGER NOT NULL, first_detect_us INTEGER NOT NULL,"
	" last_detect_us INTEGER NOT NULL, changed_us INTEGER NOT NULL,"
	" expires_us INTEGER NOT NULL, by_uid INTEGER NOT NULL, by_name TEXT,"
	" by_sudo_user TEXT, by_sudo_uid INTEGER, recurrences INTEGER NOT NULL,"
	" last_level TEXT NOT NULL, last_ttl_s INTEGER NOT NULL, surveil_until_us INTEGER,"
	" want TEXT NOT NULL, want_overflow INTEGER NOT NULL, evidence TEXT NOT NULL,"
	" reason TEXT NOT NULL, want_manual INTEGER, infected_by TEXT) STRICT;"
	"CREATE TABLE host_addrs(host INTEGER NOT NULL, i INTEGER NOT NULL, addr TEXT NOT NULL,"
	" PRIMARY KEY(host, i)) STRICT, WITHOUT ROWID;"
	"CREATE INDEX host_addrs_addr ON host_addrs(addr);"
	"CREATE TABLE hits(host INTEGER NOT NULL, i INTEGER NOT NULL, rule TEXT NOT NULL,"
	" level TEXT NOT NULL, incident INTEGER NOT NULL, first_us INTEGER NOT NULL,"
	" source TEXT, PRIMARY KEY(host, i)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE history(seq INTEGER PRIMARY KEY AUTOINCREMENT, life INTEGER NOT NULL,"
	" host TEXT NOT NULL, ts_us INTEGER NOT NULL, kind TEXT NOT NULL, level TEXT NOT NULL,"
	" state TEXT NOT NULL, uid INTEGER NOT NULL, name TEXT, sudo_user TEXT,"
	" sudo_uid INTEGER, text TEXT NOT NULL, source TEXT, evidence TEXT) STRICT;"
	"CREATE INDEX history_life ON history(life, seq);"
	"CREATE INDEX history_host ON history(host, ts_us);"
	"CREATE INDEX history_ts ON history(ts_us);"
	"CREATE TABLE bindings(addr TEXT PRIMARY KEY, mac TEXT NOT NULL, state TEXT NOT NULL,"
	" first_us INTEGER NOT NULL, last_us INTEGER NOT NULL, delivered INTEGER NOT NULL,"
	" prev TEXT) STRICT;"
	/* The operators' interface: columns only ever added, never
	 * renamed or given another meaning, within v1. */
	VIEW_HOSTS VIEW_HITS VIEW_HISTORY
	"CREATE VIEW v1_incidents AS SELECT id, rule, patient_zero, NULLIF(port, 0) AS port,"
	" hosts, datetime(first_probe_us / 1000000, 'unixepoch') AS first_probe,"
	" datetime(first_detect_us / 1000000, 'unixepoch') AS first_detect,"
	" datetime(last_detect_us / 1000000, 'unixepoch') AS last_detect,"
	" first_probe_us, first_detect_us, last_detect_us FROM incidents;";

/* Outbreak mode's row (statedb_outbreak_save()): added to databases of
 * an earlier version as they are opened, so no new schema version. */
static const char outbreak_sql[] =
	"CREATE TABLE IF NOT EXISTS outbreak(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" grouping TEXT NOT NULL, since_us INTEGER NOT NULL, uid INTEGER NOT NULL, name TEXT,"
	" sudo_user TEXT, sudo_uid INTEGER, reason TEXT NOT NULL) STRICT;";

/* Schema 2 (detections from outside, outside.h): the source of each hit
 * and history line (NULL: our own), and a history line's evidence (the
 * original alert); the views gain them as columns at their end.  A
 * version-1 database is brought to it in place, in one transaction
 * (migrate_1_2()). */
static const char migrate_1_2_sql[] = "ALTER TABLE hits ADD COLUMN source TEXT;"
				      "ALTER TABLE history ADD COLUMN source TEXT;"
				      "ALTER TABLE history ADD COLUMN evidence TEXT;"
				      "DROP VIEW v1_hosts;"
				      "DROP VIEW v1_hits;"
				      "DROP VIEW v1_history;" VIEW_HOSTS VIEW_HITS VIEW_HISTORY;

/* The host columns, in the order the statements bind them (from ?1). */
#define HOST_COLS "key, machine, " HOST_COLS_UPD
#define HOST_COLS_UPD                                                                        \
	"addr, merged, state, decided, level, adopted, first_probe_us,"                      \
	" first_detect_us, last_detect_us, changed_us, expires_us, by_uid, by_name,"         \
	" by_sudo_user, by_sudo_uid, recurrences, last_level, last_ttl_s, surveil_until_us," \
	" want, want_overflow, evidence, reason, want_manual, infected_by"

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INS_HOST,
	ST_UPD_HOST,
	ST_DEL_HOST,
	ST_DEL_ADDRS,
	ST_INS_ADDR,
	ST_DEL_HITS,
	ST_INS_HIT,
	ST_INS_HIST,
	ST_SET_META,
	ST_DEL_PREFIXES,
	ST_INS_PREFIX,
	ST_DEL_INCIDENTS,
	ST_INS_INCIDENT,
	ST_DEL_BINDINGS,
	ST_INS_BINDING,
	ST_INS_LOG,
	ST_DEL_LOG,
	ST_FIRST_LOG,
	ST_DEL_LOG_SEQ,
	ST_COUNT,
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INS_HOST] = "INSERT INTO hosts(" HOST_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
			" ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,"
			" ?23, ?24, ?25, ?26, ?27)",
	/* key and machine (?1, ?2) never change for a row: left out, so
	 * that the key's index is not touched. */
	[ST_UPD_HOST] = "UPDATE hosts SET (" HOST_COLS_UPD ") = (?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
			" ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24,"
			" ?25, ?26, ?27) WHERE id = ?28",
	[ST_DEL_HOST] = "DELETE FROM hosts WHERE id = ?1",
	[ST_DEL_ADDRS] = "DELETE FROM host_addrs WHERE host = ?1",
	[ST_INS_ADDR] = "INSERT INTO host_addrs(host, i, addr) VALUES(?1, ?2, ?3)",
	[ST_DEL_HITS] = "DELETE FROM hits WHERE host = ?1",
	[ST_INS_HIT] = "INSERT INTO hits(host, i, rule, level, incident, first_us, source)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_INS_HIST] = "INSERT INTO history(life, host, ts_us, kind, level, state, uid, name,"
			" sudo_user, sudo_uid, text, source, evidence) VALUES(?1, ?2, ?3, ?4, ?5,"
			" ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_SET_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
	[ST_DEL_PREFIXES] = "DELETE FROM prefixes",
	[ST_INS_PREFIX] = "INSERT OR IGNORE INTO prefixes(kind, net) VALUES(?1, ?2)",
	[ST_DEL_INCIDENTS] = "DELETE FROM incidents",
	[ST_INS_INCIDENT] = "INSERT INTO incidents(id, rule, patient_zero, first_probe_us,"
			    " first_detect_us, last_detect_us, hosts, port)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_DEL_BINDINGS] = "DELETE FROM bindings",
	[ST_INS_BINDING] = "INSERT OR REPLACE INTO bindings(addr, mac, state, first_us, last_us,"
			   " delivered, prev) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_INS_LOG] = "INSERT INTO host_log(seq, body) VALUES(?1, ?2)",
	[ST_DEL_LOG] = "DELETE FROM host_log",
	[ST_FIRST_LOG] = "SELECT seq, body FROM host_log ORDER BY seq LIMIT 1",
	[ST_DEL_LOG_SEQ] = "DELETE FROM host_log WHERE seq = ?1",
};

/* The host log (statedb.h): made at open, so that a database of schema
 * 1 made before it gets it too; a daemon that does not know it ignores
 * it. */
static const char host_log_sql[] =
	"CREATE TABLE IF NOT EXISTS host_log(seq INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT";

/* What a record's db_* fields become once the transaction commits. */
struct staged {
	struct hostrec *r;
	uint64_t id, fp, fp_sub;
	uint16_t hist;
};

struct statedb {
	sqlite3 *db;
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	char wal[PATH_MAX + 32];
	sqlite3_stmt *st[ST_COUNT];
	/* Rows of records forgotten since the last commit (hosts.id). */
	uint64_t *gone;
	unsigned ngone, gonecap;
	/* A forgotten record could not be noted (no memory): the next save
	 * rewrites every row. */
	bool gone_lost;
	struct staged *stage;
	unsigned nstage, stagecap;
	/* Fingerprints of what was last committed; have_*: there is one. */
	uint64_t fp_meta, fp_incidents, fp_bindings;
	bool have_meta, have_incidents, have_bindings;
	bool complete; /* meta complete=1 is in the file */
	/* host_log has entries, to be drained into rows (statedb_drain()). */
	bool logged;
	/* The body of the entry being gathered: logpend bytes of logcap,
	 * written by the next statedb_log_flush() or save, as entry logseq
	 * (hostrec.db_log of the records gathered). */
	char *logbuf;
	size_t logpend, logcap;
	uint32_t logseq;
	/* Names for the loader's messages. */
	char w_meta[PATH_MAX + 32], w_prefixes[PATH_MAX + 32], w_incidents[PATH_MAX + 32],
		w_hosts[PATH_MAX + 32], w_bindings[PATH_MAX + 32], w_log[PATH_MAX + 32];
};

/* ---- errors ---- */

static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_TOOBIG:
		return -EFBIG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return -EBADMSG;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/* Sets err from the connection's last error; returns -errno for rc. */
static int sql_fail(struct statedb *s, int rc, const char *what, char *err, size_t errlen)
{
	int k = sql_errno(rc) ? sql_errno(rc) : -EIO;

	/* SQLite's words, and the system's for what the daemon alerts on
	 * ("database or disk is full (No space left on device)"). */
	set_err(err, errlen, "%s: %s: %s (%s)", s->path, what,
		s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), strerror(-k));
	return k;
}

/* ---- fingerprints ---- */

/* A fast 64-bit hash of a record's saved fields: unequal fingerprints
 * mean a change to write; equal ones (a collision, 2^-64) a change left
 * to the next. */
static uint64_t fp_mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n >= 8) {
		uint64_t v;

		memcpy(&v, b, 8);
		h = (h ^ v) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
		b += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = 0;

		memcpy(&v, b, n);
		h = (h ^ v ^ (uint64_t)n << 56) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
	}
	return h;
}

static uint64_t fp_u64(uint64_t h, uint64_t v)
{
	return fp_mix(h, &v, sizeof(v));
}

static uint64_t fp_str(uint64_t h, const char *s, size_t max)
{
	return fp_mix(h, s, strnlen(s, max)) ^ 0x5bd1e995u;
}

static uint64_t fp_addr(uint64_t h, const struct qaddr *a)
{
	h = fp_u64(h, a->family);
	return fp_mix(h, a->b, sizeof(a->b));
}

static uint64_t fp_actor(uint64_t h, const struct actor *a)
{
	h = fp_str(h, a->name, sizeof(a->name));
	h = fp_str(h, a->sudo_user, sizeof(a->sudo_user));
	return fp_u64(h, a->sudo_uid);
}

/* The fields of the host's own row. */
static uint64_t host_fp(const struct hostrec *r)
{
	uint64_t h = 0x243F6A8885A308D3ull;

	h = fp_addr(h, &r->id);
	h = fp_addr(h, &r->addr);
	h = fp_u64(h, (uint64_t)r->merged << 8 | (uint64_t)r->state << 16 |
			      (uint64_t)r->decided << 24 | (uint64_t)r->level << 32 |
			      (uint64_t)r->adopted << 40 | (uint64_t)r->recurrences << 48 |
			      (uint64_t)r->last_level << 56);
	h = fp_u64(h, r->first_probe_us);
	h = fp_u64(h, r->first_detect_us);
	h = fp_u64(h, r->last_detect_us);
	h = fp_u64(h, r->changed_us);
	h = fp_u64(h, r->expires_us);
	h = fp_u64(h, (uint64_t)r->by_uid);
	h = fp_actor(h, &r->by);
	h = fp_u64(h, r->last_ttl_s);
	h = fp_u64(h, r->surveil_until_us);
	h = fp_u64(h, (uint64_t)r->nwant | (uint64_t)r->want_overflow << 8 |
			      (uint64_t)r->want_manual << 16 | (uint64_t)r->infected_proto << 24 |
			      (uint64_t)r->infected_port << 32);
	h = fp_addr(h, &r->infected_by);
	h = fp_u64(h, r->infected_us);
	for (unsigned i = 0; i < r->nwant && i < HOST_MAX_PORTS; i++) {
		const struct qaddr *to = hostrec_port_to(r, &r->want[i]);

		h = fp_u64(h, (uint64_t)r->want[i].proto << 16 | r->want[i].port);
		if (to)
			h = fp_addr(h, to);
	}
	h = fp_str(h, r->evidence, sizeof(r->evidence));
	return fp_str(h, r->reason, sizeof(r->reason));
}

/* Its addresses and hits (rows of their own, rewritten only when these
 * changed: most changes leave them). */
static uint64_t host_sub_fp(const struct hostrec *r)
{
	uint64_t h = fp_u64(0x452821E638D01377ull, (uint64_t)r->naddrs | (uint64_t)r->nhits << 8);

	for (unsigned i = 0; i < r->naddrs; i++)
		h = fp_addr(h, &r->addrs[i].a);
	for (unsigned i = 0; i < r->nhits && i < HOSTDB_MAX_HITS; i++) {
		/* The rule takes 16 bits (outside rules index past 255). */
		h = fp_u64(h, (uint64_t)r->hits[i].rule | (uint64_t)r->hits[i].level << 16 |
				      (uint64_t)r->hits[i].source << 24 |
				      (uint64_t)r->hits[i].incident << 32);
		h = fp_u64(h, r->hits[i].first_us);
	}
	return h;
}

static uint64_t incidents_fp(const struct incidents *is)
{
	uint64_t h = fp_u64(0x13198A2E03707344ull, is->n);

	for (unsigned i = 0; i < is->n; i++) {
		const struct incident *in = &is->v[(is->head + i) % is->cap];

		h = fp_u64(h, (uint64_t)in->id << 32 | in->nhosts);
		h = fp_u64(h, in->port);
		h = fp_str(h, in->rule_name, sizeof(in->rule_name));
		h = fp_addr(h, &in->patient_zero);
		h = fp_u64(h, in->first_probe_us);
		h = fp_u64(h, in->first_detect_us);
		h = fp_u64(h, in->last_detect_us);
	}
	return h;
}

static uint64_t meta_fp(const struct engine *e)
{
	const struct prefix_list *nb = &e->c->networks.never_block;
	uint64_t h =
		fp_u64(0xA4093822299F31D0ull, (uint64_t)e->incidents.next_id << 1 | e->pol.paused);

	h = fp_u64(h, e->sync_rev);

	for (unsigned i = 0; i < e->pol.allowed.n; i++) {
		h = fp_addr(h, &e->pol.allowed.v[i].addr);
		h = fp_u64(h, e->pol.allowed.v[i].plen);
	}
	h = fp_u64(h, 0xff);
	for (unsigned i = 0; e->pol.conf_removed && i < nb->n; i++)
		if (e->pol.conf_removed[i]) {
			h = fp_addr(h, &nb->v[i].addr);
			h = fp_u64(h, nb->v[i].plen);
		}
	return h;
}

/* Bindings' last_us counts in whole minutes: a binding seen again
 * seconds later is not worth rewriting the table for (a restart then
 * restores it up to a minute older). */
#define BIND_FP_US (60 * USEC_PER_SEC)

static int bind_fp_cb(void *arg, const struct ident_binding *b)
{
	uint64_t *h = arg;

	if (b->state == BIND_PINNED)
		return 0;
	*h = fp_addr(*h, &b->addr);
	*h = fp_mix(*h, b->mac, MAC_LEN);
	*h = fp_mix(*h, b->prev, MAC_LEN);
	*h = fp_u64(*h, (uint64_t)b->state << 1 | b->delivered);
	*h = fp_u64(*h, b->first_us);
	*h = fp_u64(*h, b->last_us / BIND_FP_US);
	return 0;
}

static uint64_t bindings_fp(const struct engine *e)
{
	uint64_t h = 0x082EFA98EC4E6C89ull;

	if (e->id)
		identity_foreach(e->id, BIND_TENTATIVE, bind_fp_cb, &h);
	return h;
}

/* ---- opening ---- */

static int exec_sql(struct statedb *s, const char *sql, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_fail(s, rc, what, err, errlen);
}

/* One integer from a query of one row. */
static int query_int(struct statedb *s, const char *sql, int64_t *ret, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			*ret = sqlite3_column_int64(q, 0);
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK) {
		int k = sql_fail(s, rc, sql, err, errlen);

		sqlite3_finalize(q);
		return k;
	}
	sqlite3_finalize(q);
	return 0;
}

bool statedb_exists(const char *dir)
{
	char path[PATH_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, STATEDB_FILE);
	return lstat(path, &st) == 0;
}

/* Schema 1 to 2, in one transaction: columns added, nothing lost. */
static int migrate_1_2(struct statedb *s, char *err, size_t errlen)
{
	int k;

	if ((k = exec_sql(s, "BEGIN IMMEDIATE", "begin", err, errlen)) < 0)
		return k;
	if ((k = exec_sql(s, migrate_1_2_sql, "migrating the schema from version 1", err, errlen)) <
		    0 ||
	    (k = exec_sql(s, "PRAGMA user_version = 2", "marking the schema", err, errlen)) < 0 ||
	    (k = exec_sql(s, "COMMIT", "commit", err, errlen)) < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return k;
	}
	return 0;
}

/* A new database gets its schema and marks; ours is checked. */
static int check_schema(struct statedb *s, char *err, size_t errlen)
{
	int64_t app = 0, ver = 0, nobj = 0;
	char sql[128];
	int k;

	if ((k = query_int(s, "PRAGMA application_id", &app, err, errlen)) < 0 ||
	    (k = query_int(s, "PRAGMA user_version", &ver, err, errlen)) < 0 ||
	    (k = query_int(s, "SELECT count(*) FROM sqlite_schema", &nobj, err, errlen)) < 0)
		return k;
	if (app == 0 && ver == 0 && nobj == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
			 STATEDB_APP_ID, STATEDB_SCHEMA);
		if ((k = exec_sql(s, "BEGIN IMMEDIATE", "begin", err, errlen)) < 0)
			return k;
		if ((k = exec_sql(s, schema_sql, "creating the schema", err, errlen)) < 0 ||
		    (k = exec_sql(s, sql, "marking the schema", err, errlen)) < 0 ||
		    (k = exec_sql(s, "COMMIT", "commit", err, errlen)) < 0) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return k;
		}
		return 0;
	}
	if (app != STATEDB_APP_ID) {
		set_err(err, errlen, "%s: not a quarantined database (application_id %#llx)",
			s->path, (unsigned long long)app);
		return -EBADMSG;
	}
	if (ver == 1 && (k = migrate_1_2(s, err, errlen)) < 0)
		return k;
	if (ver == 1)
		ver = 2;
	if (ver != STATEDB_SCHEMA) {
		set_err(err, errlen, "%s: schema version %lld (this daemon knows %d)", s->path,
			(long long)ver, STATEDB_SCHEMA);
		return -EBADMSG;
	}
	return 0;
}

/* The host log as the file holds it: entries are numbered on from the
 * last one. */
static int log_open(struct statedb *s, char *err, size_t errlen)
{
	int64_t last = 0, n = 0;
	int k;

	if ((k = query_int(s, "SELECT coalesce(max(seq), 0) FROM host_log", &last, err, errlen)) <
		    0 ||
	    (k = query_int(s, "SELECT count(*) FROM host_log", &n, err, errlen)) < 0)
		return k;
	if (last < 0 || last >= UINT32_MAX) {
		set_err(err, errlen, "%s: host_log seq %lld out of range", s->path,
			(long long)last);
		return -EBADMSG;
	}
	s->logseq = (uint32_t)last + 1;
	s->logged = n > 0;
	return 0;
}

int statedb_open(const char *dir, struct statedb **ret, char *err, size_t errlen)
{
	struct statedb *s = calloc(1, sizeof(*s));
	char sql[160];
	int fd, rc, k;

	if (!s) {
		set_err(err, errlen, "%s/%s: %s", dir, STATEDB_FILE, strerror(ENOMEM));
		return -ENOMEM;
	}
	/* "" would be the root directory's state.db. */
	if (!dir[0]) {
		set_err(err, errlen, "no state directory");
		free(s);
		return -EINVAL;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->path, sizeof(s->path), "%s/%s", dir, STATEDB_FILE);
	snprintf(s->wal, sizeof(s->wal), "%s-wal", s->path);
	snprintf(s->w_meta, sizeof(s->w_meta), "%s meta", s->path);
	snprintf(s->w_prefixes, sizeof(s->w_prefixes), "%s prefixes row", s->path);
	snprintf(s->w_incidents, sizeof(s->w_incidents), "%s incidents id", s->path);
	snprintf(s->w_hosts, sizeof(s->w_hosts), "%s hosts id", s->path);
	snprintf(s->w_bindings, sizeof(s->w_bindings), "%s bindings row", s->path);
	snprintf(s->w_log, sizeof(s->w_log), "%s host_log line", s->path);
	/* Made here, 0600, so that SQLite's own creation (0644 less the
	 * umask) never applies; its -wal and -shm take the database's
	 * mode. */
	fd = open(s->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		k = -errno;
		set_err(err, errlen, "%s: %s", s->path, strerror(-k));
		free(s);
		return k;
	}
	close(fd);
	rc = sqlite3_open_v2(s->path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		k = sql_fail(s, rc, "open", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* A reader (an operator's sqlite3) holds the lock only briefly in
	 * WAL mode; a writer holding it longer makes this save fail, to be
	 * retried, rather than stall the daemon. */
	sqlite3_busy_timeout(s->db, 200);
	if ((k = check_schema(s, err, errlen)) < 0)
		goto fail;
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		 " PRAGMA wal_autocheckpoint = %d; PRAGMA journal_size_limit = %lld;"
		 " PRAGMA cache_size = %d;",
		 STATEDB_AUTOCHECKPOINT, (long long)STATEDB_JOURNAL_LIMIT, -STATEDB_CACHE_KIB);
	if ((k = exec_sql(s, sql, "setting WAL mode", err, errlen)) < 0 ||
	    (k = exec_sql(s, host_log_sql, "creating the host log", err, errlen)) < 0)
		goto fail;
	if ((k = exec_sql(s, outbreak_sql, "creating the outbreak table", err, errlen)) < 0)
		goto fail;
	for (unsigned i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->st[i], NULL);
		if (rc != SQLITE_OK) {
			k = sql_fail(s, rc, stmt_sql[i], err, errlen);
			goto fail;
		}
	}
	if ((k = log_open(s, err, errlen)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	/* A file that is not ours or is damaged is set aside by the caller
	 * with its -wal: closing must not delete it. */
	if (k == -EBADMSG && s->db) {
		int keep = 1;

		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &keep);
	}
	statedb_close(s);
	return k;
}

void statedb_close(struct statedb *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s->gone);
	free(s->stage);
	free(s->logbuf);
	free(s);
}

int statedb_set_aside(const char *dir, const char *suffix, char *ret_name, size_t size)
{
	static const char *const ext[] = {"", "-wal", "-shm"};
	char from[PATH_MAX + 32], to[PATH_MAX + 96];
	int r = 0;

	for (unsigned i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s/%s%s", dir, STATEDB_FILE, ext[i]);
		snprintf(to, sizeof(to), "%s/%s.bad-%s%s", dir, STATEDB_FILE, suffix, ext[i]);
		if (rename(from, to) < 0 && errno != ENOENT && !r)
			r = -errno;
		if (i == 0)
			snprintf(ret_name, size, "%s", to);
	}
	return r;
}

/* ---- forgotten records ---- */

static void on_remove(void *arg, const struct hostrec *r)
{
	struct statedb *s = arg;

	if (!r->db_id)
		return;
	if (s->ngone == s->gonecap) {
		unsigned cap = s->gonecap ? s->gonecap * 2 : 256;
		uint64_t *v = realloc(s->gone, cap * sizeof(*v));

		if (!v) {
			s->gone_lost = true;
			return;
		}
		s->gone = v;
		s->gonecap = cap;
	}
	s->gone[s->ngone++] = r->db_id;
}

void statedb_forget_rows(struct statedb *s)
{
	s->gone_lost = true;
}

void statedb_attach(struct statedb *s, struct engine *e)
{
	e->hosts.on_remove = on_remove;
	e->hosts.remove_arg = s;
}

void statedb_detach(struct statedb *s, struct engine *e)
{
	if (e->hosts.remove_arg == s) {
		e->hosts.on_remove = NULL;
		e->hosts.remove_arg = NULL;
	}
}

/* ---- writing ---- */

static int step(struct statedb *s, enum stmt i)
{
	int rc = sqlite3_step(s->st[i]);

	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void bind_text(sqlite3_stmt *q, int col, const char *v, size_t max)
{
	sqlite3_bind_text(q, col, v, (int)strnlen(v, max), SQLITE_TRANSIENT);
}

static void bind_addr(sqlite3_stmt *q, int col, const struct qaddr *a)
{
	char b[ADDR_STRLEN];

	sqlite3_bind_text(q, col, addr_ntop(a, b), -1, SQLITE_TRANSIENT);
}

static void bind_host(sqlite3_stmt *q, const struct hostrec *r)
{
	char want[STATE_WANT_MAX];
	bool machine = hostrec_is_machine(r);

	bind_addr(q, 1, &r->id);
	sqlite3_bind_int(q, 2, machine);
	if (machine ? r->addr.family != 0 : true)
		bind_addr(q, 3, machine ? &r->addr : &r->id);
	if (!machine && r->merged)
		sqlite3_bind_int(q, 4, 1);
	sqlite3_bind_text(q, 5, host_state_name((enum host_state)r->state), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, level_name((enum level)r->decided), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, level_name((enum level)r->level), -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, r->adopted);
	sqlite3_bind_int64(q, 9, (sqlite3_int64)r->first_probe_us);
	sqlite3_bind_int64(q, 10, (sqlite3_int64)r->first_detect_us);
	sqlite3_bind_int64(q, 11, (sqlite3_int64)r->last_detect_us);
	sqlite3_bind_int64(q, 12, (sqlite3_int64)r->changed_us);
	sqlite3_bind_int64(q, 13, (sqlite3_int64)r->expires_us);
	sqlite3_bind_int64(q, 14, r->by_uid);
	if (r->by_uid >= 0 && r->by.name[0])
		bind_text(q, 15, r->by.name, sizeof(r->by.name));
	if (r->by_uid >= 0 && r->by.sudo_user[0]) {
		bind_text(q, 16, r->by.sudo_user, sizeof(r->by.sudo_user));
		sqlite3_bind_int64(q, 17, r->by.sudo_uid);
	}
	sqlite3_bind_int(q, 18, r->recurrences);
	sqlite3_bind_text(q, 19, level_name((enum level)r->last_level), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 20, (sqlite3_int64)r->last_ttl_s);
	if (r->surveil_until_us)
		sqlite3_bind_int64(q, 21, (sqlite3_int64)r->surveil_until_us);
	state_want_text(r, want, sizeof(want));
	sqlite3_bind_text(q, 22, want, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(q, 23, r->want_overflow);
	bind_text(q, 24, r->evidence, sizeof(r->evidence));
	bind_text(q, 25, r->reason, sizeof(r->reason));
	if (r->want_manual)
		sqlite3_bind_int(q, 26, 1);
	if (r->infected_by.family) {
		char v[STATE_INFECTED_MAX];

		state_infected_text(r, v, sizeof(v));
		sqlite3_bind_text(q, 27, v, -1, SQLITE_TRANSIENT);
	}
}

static int stage(struct statedb *s, struct hostrec *r, uint64_t id, uint64_t fp, uint64_t fp_sub,
		 uint16_t hist)
{
	if (s->nstage == s->stagecap) {
		unsigned cap = s->stagecap ? s->stagecap * 2 : 256;
		struct staged *v = realloc(s->stage, cap * sizeof(*v));

		if (!v)
			return SQLITE_NOMEM;
		s->stage = v;
		s->stagecap = cap;
	}
	s->stage[s->nstage++] =
		(struct staged){.r = r, .id = id, .fp = fp, .fp_sub = fp_sub, .hist = hist};
	return SQLITE_OK;
}

/* Writes r's row (when its fingerprint changed or it has none) and its
 * new history lines; staged even when nothing changed with always (its
 * db_log is cleared once this commits).  A SQLite result code. */
static int write_host(struct statedb *s, const struct engine *e, struct hostrec *r, bool always)
{
	uint64_t fp = host_fp(r), fp_sub = host_sub_fp(r), id = r->db_id;
	unsigned from = MIN(r->db_hist, r->nhist);
	bool fresh = !id;
	char key[ADDR_STRLEN];
	sqlite3_stmt *q;
	int rc;

	if (id && fp == r->db_fp && fp_sub == r->db_fp_sub && from == r->nhist)
		return always ? stage(s, r, id, fp, fp_sub, r->nhist) : SQLITE_OK;
	if (!id || fp != r->db_fp) {
		q = s->st[id ? ST_UPD_HOST : ST_INS_HOST];
		bind_host(q, r);
		if (id)
			sqlite3_bind_int64(q, 28, (sqlite3_int64)id);
		if ((rc = step(s, id ? ST_UPD_HOST : ST_INS_HOST)) != SQLITE_OK)
			return rc;
		if (!id)
			id = (uint64_t)sqlite3_last_insert_rowid(s->db);
		else if (sqlite3_changes(s->db) != 1)
			return SQLITE_CORRUPT; /* our row is gone: not ours to fix */
	}
	if (fresh || fp_sub != r->db_fp_sub) {
		/* A new row has none to delete (its id was never used). */
		sqlite3_bind_int64(s->st[ST_DEL_ADDRS], 1, (sqlite3_int64)id);
		if (!fresh && (rc = step(s, ST_DEL_ADDRS)) != SQLITE_OK)
			return rc;
		sqlite3_clear_bindings(s->st[ST_DEL_ADDRS]);
		for (unsigned i = 0; hostrec_is_machine(r) && i < r->naddrs; i++) {
			q = s->st[ST_INS_ADDR];
			sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
			sqlite3_bind_int(q, 2, (int)i);
			bind_addr(q, 3, &r->addrs[i].a);
			if ((rc = step(s, ST_INS_ADDR)) != SQLITE_OK)
				return rc;
		}
		sqlite3_bind_int64(s->st[ST_DEL_HITS], 1, (sqlite3_int64)id);
		if (!fresh && (rc = step(s, ST_DEL_HITS)) != SQLITE_OK)
			return rc;
		sqlite3_clear_bindings(s->st[ST_DEL_HITS]);
		for (unsigned i = 0; i < r->nhits && i < HOSTDB_MAX_HITS; i++) {
			const char *name = engine_rule_name(e, r->hits[i].rule);

			if (!name)
				continue;
			q = s->st[ST_INS_HIT];
			sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
			sqlite3_bind_int(q, 2, (int)i);
			sqlite3_bind_text(q, 3, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(q, 4, level_name((enum level)r->hits[i].level), -1,
					  SQLITE_STATIC);
			sqlite3_bind_int64(q, 5, r->hits[i].incident);
			sqlite3_bind_int64(q, 6, (sqlite3_int64)r->hits[i].first_us);
			if (r->hits[i].source != SOURCE_SELF)
				sqlite3_bind_text(
					q, 7, det_source_name((enum det_source)r->hits[i].source),
					-1, SQLITE_STATIC);
			if ((rc = step(s, ST_INS_HIT)) != SQLITE_OK)
				return rc;
		}
	}
	addr_ntop(&r->id, key);
	for (unsigned i = from; i < r->nhist; i++) {
		const struct hist *h = &r->hist[i];

		q = s->st[ST_INS_HIST];
		sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
		sqlite3_bind_text(q, 2, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)h->ts);
		sqlite3_bind_text(q, 4, hist_kind_name((enum hist_kind)h->kind), -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, level_name((enum level)h->level), -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, host_state_name((enum host_state)h->state), -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(q, 7, h->uid);
		if (h->uid >= 0 && h->by.name[0])
			bind_text(q, 8, h->by.name, sizeof(h->by.name));
		if (h->uid >= 0 && h->by.sudo_user[0]) {
			bind_text(q, 9, h->by.sudo_user, sizeof(h->by.sudo_user));
			sqlite3_bind_int64(q, 10, h->by.sudo_uid);
		}
		bind_text(q, 11, h->text, sizeof(h->text));
		if (h->outside) {
			sqlite3_bind_text(q, 12, hist_source(h), -1, SQLITE_TRANSIENT);
			if (hist_evidence(h))
				sqlite3_bind_text(q, 13, hist_evidence(h), -1, SQLITE_TRANSIENT);
		}
		if ((rc = step(s, ST_INS_HIST)) != SQLITE_OK)
			return rc;
	}
	return stage(s, r, id, fp, fp_sub, r->nhist);
}

static int write_prefix(struct statedb *s, const char *kind, const struct prefix *p)
{
	char b[ADDR_STRLEN], net[ADDR_STRLEN + 8];

	snprintf(net, sizeof(net), "%s/%u", addr_ntop(&p->addr, b), (unsigned)p->plen);
	sqlite3_bind_text(s->st[ST_INS_PREFIX], 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->st[ST_INS_PREFIX], 2, net, -1, SQLITE_TRANSIENT);
	return step(s, ST_INS_PREFIX);
}

static int set_meta(struct statedb *s, const char *key, int64_t v)
{
	sqlite3_bind_text(s->st[ST_SET_META], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->st[ST_SET_META], 2, v);
	return step(s, ST_SET_META);
}

static int write_meta(struct statedb *s, const struct engine *e)
{
	const struct prefix_list *nb = &e->c->networks.never_block;
	int rc;

	if ((rc = set_meta(s, "next_incident", e->incidents.next_id)) != SQLITE_OK ||
	    (rc = set_meta(s, "paused", e->pol.paused)) != SQLITE_OK ||
	    (rc = set_meta(s, "sync_rev", (int64_t)e->sync_rev)) != SQLITE_OK ||
	    (rc = step(s, ST_DEL_PREFIXES)) != SQLITE_OK)
		return rc;
	for (unsigned i = 0; i < e->pol.allowed.n; i++)
		if ((rc = write_prefix(s, "allow", &e->pol.allowed.v[i])) != SQLITE_OK)
			return rc;
	for (unsigned i = 0; e->pol.conf_removed && i < nb->n; i++)
		if (e->pol.conf_removed[i] &&
		    (rc = write_prefix(s, "disallow", &nb->v[i])) != SQLITE_OK)
			return rc;
	return SQLITE_OK;
}

static int write_incidents(struct statedb *s, const struct incidents *is)
{
	int rc = step(s, ST_DEL_INCIDENTS);

	for (unsigned i = 0; rc == SQLITE_OK && i < is->n; i++) {
		const struct incident *in = &is->v[(is->head + i) % is->cap];
		sqlite3_stmt *q = s->st[ST_INS_INCIDENT];

		sqlite3_bind_int64(q, 1, in->id);
		bind_text(q, 2, in->rule_name, sizeof(in->rule_name));
		bind_addr(q, 3, &in->patient_zero);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)in->first_probe_us);
		sqlite3_bind_int64(q, 5, (sqlite3_int64)in->first_detect_us);
		sqlite3_bind_int64(q, 6, (sqlite3_int64)in->last_detect_us);
		sqlite3_bind_int64(q, 7, in->nhosts);
		if (in->port)
			sqlite3_bind_int(q, 8, in->port);
		rc = step(s, ST_INS_INCIDENT);
	}
	return rc;
}

struct bind_writer {
	struct statedb *s;
	int rc;
};

static int write_binding(void *arg, const struct ident_binding *b)
{
	struct bind_writer *w = arg;
	sqlite3_stmt *q = w->s->st[ST_INS_BINDING];
	static const uint8_t zero[MAC_LEN];
	char mb[MAC_STRLEN];

	if (b->state == BIND_PINNED || w->rc != SQLITE_OK)
		return 0; /* pins come from the configuration */
	bind_addr(q, 1, &b->addr);
	sqlite3_bind_text(q, 2, mac_ntop(b->mac, mb), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, bind_state_name(b->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)b->first_us);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)b->last_us);
	sqlite3_bind_int(q, 6, b->delivered);
	if (memcmp(b->prev, zero, MAC_LEN) != 0)
		sqlite3_bind_text(q, 7, mac_ntop(b->prev, mb), -1, SQLITE_TRANSIENT);
	w->rc = step(w->s, ST_INS_BINDING);
	return 0;
}

/* Parses a log entry's line "life KEY ID WRITTEN", of len bytes (without
 * its LF; the body goes on after it, so nothing here may look for its
 * end: sscanf() would, and cost the rest of the body's length per line).
 * With ret_life NULL, the key alone.  Whether it is one. */
static bool life_line(const char *p, size_t len, char key[ADDR_STRLEN], uint64_t *ret_life,
		      unsigned *ret_written)
{
	const char *end = p + len, *k;
	uint64_t v[2] = {0, 0};

	if (len < 6 || memcmp(p, "life ", 5) != 0)
		return false;
	for (k = p += 5; p < end && *p != ' '; p++)
		;
	if (p == k || (size_t)(p - k) >= ADDR_STRLEN)
		return false;
	memcpy(key, k, (size_t)(p - k));
	key[p - k] = '\0';
	if (!ret_life)
		return true;
	for (unsigned i = 0; i < 2; i++) {
		const char *d;

		if (p == end || *p++ != ' ')
			return false;
		for (d = p; p < end && *p >= '0' && *p <= '9' && p - d < 19; p++)
			v[i] = v[i] * 10 + (uint64_t)(*p - '0');
		if (p == d)
			return false;
	}
	if (p != end || v[1] > UINT16_MAX)
		return false;
	*ret_life = v[0];
	*ret_written = (unsigned)v[1];
	return true;
}

/* Appends to the body of the entry being gathered, for each of recs, a
 * line "life KEY ID WRITTEN" (its key, the id of its row and how many of
 * its history lines are in the history table, when it was logged), then
 * its records as lines of the state file; each record's db_log names the
 * entry.  A SQLite result code; on failure the body is as it was. */
static int log_body(struct statedb *s, const struct engine *e, struct hostrec *const *recs,
		    unsigned n)
{
	size_t len = s->logpend;

	for (unsigned i = 0; i < n; i++) {
		const struct hostrec *r = recs[i];
		size_t need = len + ADDR_STRLEN + 64 + STATE_HOST_TEXT_MAX;
		char key[ADDR_STRLEN];
		int k;

		if (need > s->logcap) {
			size_t cap = MAX(need, s->logcap * 2);
			char *b = realloc(s->logbuf, cap);

			if (!b)
				return SQLITE_NOMEM;
			s->logbuf = b;
			s->logcap = cap;
		}
		len += (size_t)snprintf(s->logbuf + len, ADDR_STRLEN + 64, "life %s %llu %u\n",
					addr_ntop(&r->id, key), (unsigned long long)r->db_id,
					(unsigned)MIN(r->db_hist, r->nhist));
		k = state_host_text(e, r, s->logbuf + len, STATE_HOST_TEXT_MAX);
		if (k < 0)
			return SQLITE_TOOBIG;
		len += (size_t)k;
	}
	if (len > INT_MAX)
		return SQLITE_TOOBIG;
	s->logpend = len;
	for (unsigned i = 0; i < n; i++)
		recs[i]->db_log = s->logseq;
	return SQLITE_OK;
}

/* The transaction: recs (all: every record) and what else changed.
 * Once a record's state is in the log (db_log: an entry written or the
 * one being gathered), only the drain of that entry writes its row: a
 * row written otherwise would be newer than the entry, which the load
 * replays over it.  So with log every one of recs, and otherwise those
 * the log holds, go into the entry being gathered, and a whole save
 * writes every record but those; what was gathered goes into the log in
 * the same transaction.  A rewrite (gone_lost) empties the log and
 * writes every row. */
static int save(struct statedb *s, struct engine *e, struct hostrec *const *recs, unsigned n,
		bool all, bool log, char *err, size_t errlen)
{
	uint64_t fm = meta_fp(e), fi = incidents_fp(&e->incidents), fb = 0;
	bool rewrite = s->gone_lost, logged = false;
	unsigned ngone = s->ngone;
	const char *what = "begin";
	int rc;

	/* Rows of forgotten records were not noted: every row is rewritten,
	 * which is a whole save (and empties the log). */
	if (rewrite && !all) {
		log = false;
		all = true;
	}
	if (all)
		fb = bindings_fp(e);
	s->nstage = 0;
	rc = step(s, ST_BEGIN);
	if (rc != SQLITE_OK)
		goto fail;
	what = "deleting the rows of forgotten hosts";
	if (rewrite) {
		/* Rows of forgotten records were not noted: every row goes and
		 * every record is written anew (their history stays), and so
		 * does the log.  Until that commits, gone_lost stays set and a
		 * retry does the same. */
		rc = sqlite3_exec(s->db,
				  "DELETE FROM hosts; DELETE FROM host_addrs; DELETE FROM hits;"
				  " DELETE FROM host_log",
				  NULL, NULL, NULL);
		for (struct hostrec *r = hostdb_first(&e->hosts); r;
		     r = hostdb_next(&e->hosts, r)) {
			r->db_id = r->db_fp = r->db_fp_sub = 0;
			/* The new rows' lives have no history yet: what memory
			 * holds is written again under them (lines already in
			 * the table under the old lives stay there too). */
			r->db_hist = 0;
			r->db_log = 0;
		}
		s->logpend = 0;
	}
	for (unsigned i = 0; rc == SQLITE_OK && i < ngone; i++) {
		sqlite3_int64 id = (sqlite3_int64)s->gone[i];

		sqlite3_bind_int64(s->st[ST_DEL_HOST], 1, id);
		sqlite3_bind_int64(s->st[ST_DEL_ADDRS], 1, id);
		sqlite3_bind_int64(s->st[ST_DEL_HITS], 1, id);
		rc = step(s, ST_DEL_HOST);
		if (rc == SQLITE_OK)
			rc = step(s, ST_DEL_ADDRS);
		if (rc == SQLITE_OK)
			rc = step(s, ST_DEL_HITS);
	}
	what = "writing hosts";
	if (all) {
		for (struct hostrec *r = hostdb_first(&e->hosts); rc == SQLITE_OK && r;
		     r = hostdb_next(&e->hosts, r))
			if (!r->db_log)
				rc = write_host(s, e, r, false);
	} else {
		for (unsigned i = 0; rc == SQLITE_OK && i < n; i++)
			if (log || recs[i]->db_log)
				rc = log_body(s, e, &recs[i], 1);
			else
				rc = write_host(s, e, recs[i], false);
	}
	what = "writing the host log";
	if (rc == SQLITE_OK && s->logpend) {
		sqlite3_bind_int64(s->st[ST_INS_LOG], 1, s->logseq);
		sqlite3_bind_text(s->st[ST_INS_LOG], 2, s->logbuf, (int)s->logpend, SQLITE_STATIC);
		rc = step(s, ST_INS_LOG);
		logged = true;
	}
	what = "writing meta and prefixes";
	if (rc == SQLITE_OK && (!s->have_meta || fm != s->fp_meta))
		rc = write_meta(s, e);
	what = "writing incidents";
	if (rc == SQLITE_OK && (!s->have_incidents || fi != s->fp_incidents))
		rc = write_incidents(s, &e->incidents);
	what = "writing bindings";
	if (rc == SQLITE_OK && all && (!s->have_bindings || fb != s->fp_bindings)) {
		struct bind_writer w = {.s = s, .rc = step(s, ST_DEL_BINDINGS)};

		if (w.rc == SQLITE_OK && e->id)
			identity_foreach(e->id, BIND_TENTATIVE, write_binding, &w);
		rc = w.rc;
	}
	/* The database holds a whole state from the first full save on:
	 * before that (a migration cut short), the text file still rules. */
	what = "marking the save complete";
	if (rc == SQLITE_OK && all && !s->complete)
		rc = set_meta(s, "complete", 1);
	what = "commit";
	if (rc == SQLITE_OK)
		rc = step(s, ST_COMMIT);
	if (rc != SQLITE_OK)
		goto fail;
	/* Durable: what the records say is now what the rows say. */
	for (unsigned i = 0; i < s->nstage; i++) {
		s->stage[i].r->db_id = s->stage[i].id;
		s->stage[i].r->db_fp = s->stage[i].fp;
		s->stage[i].r->db_fp_sub = s->stage[i].fp_sub;
		s->stage[i].r->db_hist = s->stage[i].hist;
		s->stage[i].r->db_log = 0;
	}
	s->nstage = 0;
	if (ngone) {
		memmove(s->gone, s->gone + ngone, (s->ngone - ngone) * sizeof(*s->gone));
		s->ngone -= ngone;
	}
	if (rewrite) {
		s->gone_lost = false;
		s->logged = false;
	}
	/* What was gathered is in the log now. */
	if (logged) {
		s->logged = true;
		s->logseq++;
		s->logpend = 0;
	}
	s->fp_meta = fm;
	s->fp_incidents = fi;
	s->have_meta = s->have_incidents = true;
	if (all) {
		s->fp_bindings = fb;
		s->have_bindings = true;
		s->complete = true;
	}
	return 0;
fail : {
	int k = sql_fail(s, rc, what, err, errlen);

	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->nstage = 0;
	/* What was gathered, this time's records too, stays gathered for
	 * the next save (their db_log names its entry). */
	return k;
}
}

int statedb_save_recs(struct statedb *s, struct engine *e, struct hostrec *const *recs, unsigned n,
		      char *err, size_t errlen)
{
	return save(s, e, recs, n, false, false, err, errlen);
}

int statedb_log_recs(struct statedb *s, struct engine *e, struct hostrec *const *recs, unsigned n,
		     char *err, size_t errlen)
{
	int rc = log_body(s, e, recs, n);

	if (rc != SQLITE_OK) {
		set_err(err, errlen, "%s: gathering the host log: %s", s->path, sqlite3_errstr(rc));
		return sql_errno(rc) ? sql_errno(rc) : -EIO;
	}
	return 0;
}

int statedb_log_flush(struct statedb *s, struct engine *e, char *err, size_t errlen)
{
	int k;

	if (!s->logpend)
		return 0;
	k = save(s, e, NULL, 0, false, true, err, errlen);
	return k < 0 ? k : 1;
}

bool statedb_logged(const struct statedb *s)
{
	return s->logged || s->logpend;
}

int statedb_drain(struct statedb *s, struct engine *e, char *err, size_t errlen)
{
	sqlite3_stmt *q = s->st[ST_FIRST_LOG];
	const char *what = "begin";
	char *body = NULL;
	uint32_t seq = 0;
	int rc;

	if (!s->logged)
		return 0;
	s->nstage = 0;
	rc = step(s, ST_BEGIN);
	if (rc != SQLITE_OK)
		goto fail;
	what = "reading the host log";
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 1);
		size_t n = (size_t)sqlite3_column_bytes(q, 1);

		seq = (uint32_t)sqlite3_column_int64(q, 0);
		body = v ? malloc(n + 1) : NULL;
		if (body) {
			memcpy(body, v, n);
			body[n] = '\0';
		}
		rc = body ? SQLITE_OK : SQLITE_NOMEM;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_reset(q);
	what = "writing hosts";
	/* The hosts whose latest entry this is get their rows; a host
	 * logged again later waits for that entry, one forgotten since has
	 * none. */
	for (char *p = body; rc == SQLITE_OK && p && *p;) {
		char *nl = strchr(p, '\n'), key[ADDR_STRLEN];
		struct hostrec *r = NULL;
		struct qaddr a;

		if (life_line(p, nl ? (size_t)(nl - p) : strlen(p), key, NULL, NULL) &&
		    addr_parse_any(key, &a) == 0)
			r = hostdb_find(&e->hosts, &a);
		if (r && r->db_log == seq)
			rc = write_host(s, e, r, true);
		p = nl ? nl + 1 : NULL;
	}
	what = "deleting the entry";
	if (rc == SQLITE_OK && body) {
		sqlite3_bind_int64(s->st[ST_DEL_LOG_SEQ], 1, seq);
		rc = step(s, ST_DEL_LOG_SEQ);
	}
	what = "commit";
	if (rc == SQLITE_OK)
		rc = step(s, ST_COMMIT);
	if (rc != SQLITE_OK)
		goto fail;
	for (unsigned i = 0; i < s->nstage; i++) {
		s->stage[i].r->db_id = s->stage[i].id;
		s->stage[i].r->db_fp = s->stage[i].fp;
		s->stage[i].r->db_fp_sub = s->stage[i].fp_sub;
		s->stage[i].r->db_hist = s->stage[i].hist;
		s->stage[i].r->db_log = 0;
	}
	s->nstage = 0;
	if (!body)
		s->logged = false;
	free(body);
	return body ? 1 : 0;
fail : {
	int k = sql_fail(s, rc, what, err, errlen);

	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->nstage = 0;
	free(body);
	return k;
}
}

int statedb_save(struct statedb *s, struct engine *e, char *err, size_t errlen)
{
	return save(s, e, NULL, 0, true, false, err, errlen);
}

int statedb_prune_history(struct statedb *s, uint64_t before_us, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "DELETE FROM history WHERE ts_us < ?1", -1, &q, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)MIN(before_us, (uint64_t)INT64_MAX));
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return sql_fail(s, rc, "pruning the history", err, errlen);
	return sqlite3_changes(s->db);
}

int64_t statedb_wal_size(const struct statedb *s)
{
	struct stat st;

	return stat(s->wal, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* ---- reading ---- */

/* Integer columns that hold signed values (uids, -1 for the daemon);
 * every other one holds a u64 (times, counts) that SQLite stores as
 * int64: one past INT64_MAX reads back negative. */
static bool signed_col(const char *name)
{
	return strcmp(name, "by_uid") == 0 || strcmp(name, "uid") == 0;
}

/* v in decimal, '-' before it with neg, at the end of buf (24 bytes);
 * returns where it starts. */
static const char *dec(char buf[24], uint64_t v, bool neg)
{
	char *p = buf + 23;

	*p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--p = '-';
	return p;
}

/* Feeds the current row of q to the loader as one record: every column
 * from first on, named as the state's keys, NULL ones left out.  A text
 * with a NUL byte in it is no field of ours: the record is skipped. */
static int feed(struct state_loader *l, sqlite3_stmt *q, int first, const char *where,
		unsigned line, const char *kind, const char *what)
{
	const char *keys[48], *vals[48];
	char num[48][24];
	unsigned n = 0;
	int ncol = sqlite3_column_count(q);

	for (int i = first; i < ncol && n < 48; i++) {
		int type = sqlite3_column_type(q, i);
		const char *v;

		if (type == SQLITE_NULL)
			continue;
		if (type == SQLITE_INTEGER) {
			/* Written here rather than by SQLite's conversion to
			 * text (a third of the load's time at 100,000 hosts).
			 * A negative value of a u64 column is one past
			 * INT64_MAX, stored as its bit pattern. */
			int64_t x = sqlite3_column_int64(q, i);
			bool neg = x < 0 && signed_col(sqlite3_column_name(q, i));

			keys[n] = sqlite3_column_name(q, i);
			vals[n] = dec(num[n], neg ? (uint64_t)0 - (uint64_t)x : (uint64_t)x, neg);
			n++;
			continue;
		}
		v = (const char *)sqlite3_column_text(q, i);
		if (!v)
			return -ENOMEM;
		if ((int)strlen(v) != sqlite3_column_bytes(q, i)) {
			char msg[96];

			snprintf(msg, sizeof(msg), "NUL byte in %s", sqlite3_column_name(q, i));
			state_loader_bad(l, where, line, what, msg);
			return 1;
		}
		keys[n] = sqlite3_column_name(q, i);
		vals[n] = v;
		n++;
	}
	return state_loader_record(l, where, line, kind, keys, vals, n);
}

/* A cursor over rows ordered by a host's id (hits by host, history by
 * life), stepped along with the hosts: a merge, one query each instead
 * of two per host. */
struct lines {
	sqlite3_stmt *q;
	int rc;	    /* of the last step: SQLITE_ROW while there are rows */
	int64_t id; /* the current row's host id */
};

static void lines_step(struct lines *c)
{
	c->rc = sqlite3_step(c->q);
	c->id = c->rc == SQLITE_ROW ? sqlite3_column_int64(c->q, 0) : INT64_MAX;
}

/* Feeds the rows of host id (feed false: skips them), and those of ids
 * before it (rows of no host) are passed over.  0, -ENOMEM, or -errno
 * for a read error. */
static int lines_for(struct lines *c, struct state_loader *l, int64_t id, bool fed,
		     const char *where, const char *kind)
{
	int k = 0;

	while (c->rc == SQLITE_ROW && c->id < id)
		lines_step(c);
	while (k >= 0 && c->rc == SQLITE_ROW && c->id == id) {
		if (fed)
			k = feed(l, c->q, 1, where, (unsigned)id, kind, kind);
		lines_step(c);
	}
	if (k < 0)
		return k;
	if (c->rc != SQLITE_ROW && c->rc != SQLITE_DONE)
		return sql_errno(c->rc) ? sql_errno(c->rc) : -EIO;
	return 0;
}

/* A host's latest entry in host_log, replayed over its row. */
struct logged_host {
	char key[ADDR_STRLEN];
	uint32_t seq;	  /* of its entry */
	unsigned order;	  /* of the entry in the log: the latest wins */
	uint64_t life;	  /* its row's id when it was logged (0: none) */
	unsigned written; /* of its history lines, in the history table then */
	int64_t row;	  /* the id of its row now (0: none) */
	char *text;	  /* its state-file lines, in one of bodies */
	size_t len;
};

struct reader {
	struct statedb *s;
	struct engine *e;
	struct state_loader *l;
	struct lines hits, hist;
	struct logged_host *log; /* sorted by key, one a key */
	size_t nlog;
	char **bodies; /* the log's entries, copied */
	size_t nbodies;
};

static int logged_cmp(const void *a, const void *b)
{
	const struct logged_host *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static struct logged_host *logged_find(struct reader *rd, const char *key)
{
	struct logged_host k;

	if (!rd->nlog || strlen(key) >= sizeof(k.key))
		return NULL;
	snprintf(k.key, sizeof(k.key), "%s", key);
	k.order = 0;
	/* One entry a key: compare on the key alone. */
	for (size_t lo = 0, hi = rd->nlog; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, rd->log[mid].key);

		if (!c)
			return &rd->log[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Reads host_log into rd->log: each host's latest entry.  A body that
 * does not start with a "life" line is reported and its lines up to the
 * first one skipped.  0, -ENOMEM, or -errno for a read error. */
static int read_log(struct reader *rd)
{
	struct statedb *s = rd->s;
	sqlite3_stmt *q = NULL;
	size_t cap = 0, bcap = 0;
	unsigned order = 0;
	int rc = sqlite3_prepare_v2(s->db, "SELECT body, seq FROM host_log ORDER BY seq", -1, &q,
				    NULL);
	int k = 0;

	if (rc != SQLITE_OK)
		goto out;
	while (k == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);
		size_t n = (size_t)sqlite3_column_bytes(q, 0);
		char *body, *p, *end;

		if (!v || rd->nbodies == bcap) {
			char **b =
				v ? realloc(rd->bodies, (bcap ? bcap * 2 : 16) * sizeof(*b)) : NULL;

			if (!b) {
				k = -ENOMEM;
				break;
			}
			rd->bodies = b;
			bcap = bcap ? bcap * 2 : 16;
		}
		/* One byte more: the loader writes over each line's LF. */
		if (!(body = malloc(n + 1))) {
			k = -ENOMEM;
			break;
		}
		memcpy(body, v, n);
		body[n] = '\0';
		rd->bodies[rd->nbodies++] = body;
		for (p = body, end = body + n; p < end;) {
			char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
			struct logged_host h = {.order = order++,
						.seq = (uint32_t)sqlite3_column_int64(q, 1)};
			uint64_t life;
			char key[ADDR_STRLEN];

			if (!life_line(p, (size_t)(le - p), key, &life, &h.written)) {
				state_loader_bad(rd->l, s->w_log, order, "log entry",
						 "a host's lines without their life line");
				p = le + (nl != NULL);
				continue;
			}
			snprintf(h.key, sizeof(h.key), "%s", key);
			h.life = life;
			p = le + (nl != NULL);
			h.text = p;
			/* Its lines run to the next life line. */
			while (p < end && strncmp(p, "life ", 5) != 0) {
				nl = memchr(p, '\n', (size_t)(end - p));
				p = nl ? nl + 1 : end;
			}
			h.len = (size_t)(p - h.text);
			if (rd->nlog == cap) {
				size_t c2 = cap ? cap * 2 : 256;
				struct logged_host *v2 = realloc(rd->log, c2 * sizeof(*v2));

				if (!v2) {
					k = -ENOMEM;
					break;
				}
				rd->log = v2;
				cap = c2;
			}
			rd->log[rd->nlog++] = h;
		}
	}
	if (k == 0 && rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(q);
	if (k < 0)
		return k;
	/* The latest entry of each host.  With none, rd->log is NULL, which
	 * qsort() may not be given, even for no elements. */
	if (rd->nlog > 1)
		qsort(rd->log, rd->nlog, sizeof(*rd->log), logged_cmp);
	size_t w = 0;
	for (size_t i = 0; i < rd->nlog; i++) {
		if (w && strcmp(rd->log[w - 1].key, rd->log[i].key) == 0)
			w--;
		rd->log[w++] = rd->log[i];
	}
	rd->nlog = w;
	return 0;
out:
	sqlite3_finalize(q);
	return sql_errno(rc) ? sql_errno(rc) : -EIO;
}

/* Feeds the logged hosts' lines to the loader, after the rows. */
static int replay_log(struct reader *rd)
{
	unsigned line = 0;
	int k = 0;

	for (size_t i = 0; k >= 0 && i < rd->nlog; i++) {
		char *p = rd->log[i].text, *end = p + rd->log[i].len;

		while (k >= 0 && p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;

			k = state_loader_line(rd->l, rd->s->w_log, ++line, p, (size_t)(le - p));
			p = le + 1;
		}
	}
	return k;
}

/* After the load: a logged host's record knows its entry (whose drain
 * replaces its row), its row, and how much of its history is in the
 * table; the row of one that was skipped goes. */
static void settle_log(struct reader *rd)
{
	for (size_t i = 0; i < rd->nlog; i++) {
		const struct logged_host *h = &rd->log[i];
		struct hostrec *r = NULL;
		struct qaddr key;

		if (addr_parse_any(h->key, &key) == 0)
			r = hostdb_find(&rd->e->hosts, &key);
		if (!r) {
			struct hostrec gone = {.db_id = (uint64_t)h->row};

			on_remove(rd->s, &gone);
			continue;
		}
		r->db_id = (uint64_t)h->row;
		r->db_fp = r->db_fp_sub = 0;
		r->db_log = h->seq;
		r->db_hist = h->row && h->life == (uint64_t)h->row
				     ? (uint16_t)MIN(h->written, r->nhist)
				     : 0;
	}
}

/* Runs sql, feeding each row as a record of kind; for hosts (ordered by
 * id), their hit and hist records after each. */
static int read_rows(struct reader *rd, const char *sql, const char *kind, const char *where,
		     bool host)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(rd->s->db, sql, -1, &q, NULL), k = 0;
	unsigned row = 0;

	if (rc != SQLITE_OK)
		goto out;
	while (k >= 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);
		struct hostrec *r;
		struct qaddr key;

		row++;
		if (!host) {
			k = feed(rd->l, q, 0, where, row, kind, kind);
			continue;
		}
		/* A host the log holds is read from there: its row, hits and
		 * history lines are older. */
		if (sqlite3_column_type(q, 1) == SQLITE_TEXT) {
			struct logged_host *h =
				logged_find(rd, (const char *)sqlite3_column_text(q, 1));

			if (h) {
				h->row = id;
				k = lines_for(&rd->hits, rd->l, id, false, where, "hit");
				if (k >= 0)
					k = lines_for(&rd->hist, rd->l, id, false, where, "hist");
				continue;
			}
		}
		k = feed(rd->l, q, 2, where, (unsigned)id, "host",
			 "host, with its hit and hist lines,");
		if (k < 0)
			break;
		r = NULL;
		if (sqlite3_column_type(q, 1) == SQLITE_TEXT &&
		    addr_parse_any((const char *)sqlite3_column_text(q, 1), &key) == 0)
			r = hostdb_find(&rd->e->hosts, &key);
		if (r && !r->db_id) {
			r->db_id = (uint64_t)id;
		} else {
			/* Skipped: its row goes at the next save (its history
			 * stays), and a record the kernel's elements make for
			 * the host gets a new one. */
			struct hostrec gone = {.db_id = (uint64_t)id};

			on_remove(rd->s, &gone);
			r = NULL;
		}
		k = lines_for(&rd->hits, rd->l, id, r != NULL, where, "hit");
		if (k >= 0)
			k = lines_for(&rd->hist, rd->l, id, r != NULL, where, "hist");
	}
	if (k >= 0 && rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(q);
	return k < 0 ? k : 0;
out:
	sqlite3_finalize(q);
	return sql_errno(rc) ? sql_errno(rc) : -EIO;
}

/* The registry keeps its records least recently useful first (the
 * spare ones are evicted in that order); the hosts were read in the
 * order of their rows. */
static int lru_cmp(const void *a, const void *b)
{
	const struct hostrec *x = *(const struct hostrec *const *)a,
			     *y = *(const struct hostrec *const *)b;
	usec_t tx = MAX(x->changed_us, x->last_detect_us),
	       ty = MAX(y->changed_us, y->last_detect_us);

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->db_id < y->db_id ? -1 : x->db_id > y->db_id;
}

static int settle_lru(struct engine *e)
{
	unsigned n = hostdb_count(&e->hosts), i = 0;
	struct hostrec **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (struct hostrec *r = hostdb_first(&e->hosts); r && i < n; r = hostdb_next(&e->hosts, r))
		v[i++] = r;
	qsort(v, i, sizeof(*v), lru_cmp);
	for (unsigned k = 0; k < i; k++)
		hostdb_settle(&e->hosts, v[k]);
	free(v);
	return 0;
}

static const char hosts_sql[] =
	"SELECT h.id, h.key,"
	" CASE WHEN h.machine THEN h.key END AS id,"
	" CASE WHEN h.machine THEN h.addr ELSE h.key END AS addr,"
	" CASE WHEN h.machine THEN (SELECT group_concat(addr, ',') FROM"
	"  (SELECT addr FROM host_addrs WHERE host = h.id ORDER BY i)) END AS addrs,"
	" merged, state, decided, level, adopted, first_probe_us, first_detect_us,"
	" last_detect_us, changed_us, expires_us, by_uid, by_name, by_sudo_user, by_sudo_uid,"
	" recurrences, last_level, last_ttl_s, surveil_until_us, want, want_overflow, evidence,"
	" reason, want_manual, infected_by FROM hosts h ORDER BY h.id";

int statedb_load(struct statedb *s, struct engine *e, state_skip_fn skipped_fn, void *arg,
		 char *err, size_t errlen)
{
	struct reader rd = {.s = s, .e = e};
	int64_t complete = 0;
	int k, rc;

	k = query_int(s, "SELECT count(*) FROM meta WHERE key = 'complete' AND value = 1",
		      &complete, err, errlen);
	if (k < 0)
		return k;
	if (!complete) {
		/* Rows there (batches written while the first whole save kept
		 * failing, then a crash) are not the state, and their keys
		 * would refuse the records of the migration or of the kernel:
		 * the first save replaces them all (their history stays). */
		s->gone_lost = true;
		set_err(err, errlen, "%s: no complete save", s->path);
		return -ENODATA;
	}
	k = state_loader_new(e, s->path, skipped_fn, arg, err, errlen, &rd.l);
	if (k < 0)
		return k;
	state_loader_roll_history(rd.l);
	rc = sqlite3_prepare_v2(s->db,
				"SELECT host, rule, level, incident, first_us, source FROM hits"
				" ORDER BY host, i",
				-1, &rd.hits.q, NULL);
	/* Every line of each host's life, oldest first: the loader keeps
	 * what memory holds (state_loader_roll_history()).  Lines of hosts
	 * gone are not read. */
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
			s->db,
			"SELECT life, ts_us, kind, level, state, uid, name, sudo_user,"
			" sudo_uid, text, source, evidence FROM history"
			" WHERE life IN (SELECT id FROM hosts) ORDER BY life, seq",
			-1, &rd.hist.q, NULL);
	if (rc == SQLITE_OK) {
		lines_step(&rd.hits);
		lines_step(&rd.hist);
	}
	if (rc != SQLITE_OK) {
		k = sql_fail(s, rc, "preparing the load", err, errlen);
		goto out;
	}
	statedb_attach(s, e);
	if ((k = read_log(&rd)) < 0) {
		if (k != -ENOMEM)
			set_err(err, errlen, "%s: host_log: %s", s->path, sqlite3_errmsg(s->db));
		else
			set_err(err, errlen, "%s: %s: nothing loaded", s->path, strerror(-k));
		goto out;
	}
	if ((k = read_rows(&rd,
			   "SELECT (SELECT value FROM meta WHERE key = 'next_incident')"
			   " AS next_incident, (SELECT value FROM meta WHERE key = 'paused')"
			   " AS paused",
			   "meta", s->w_meta, false)) < 0 ||
	    (k = read_rows(&rd, "SELECT net FROM prefixes WHERE kind = 'allow' ORDER BY rowid",
			   "allow", s->w_prefixes, false)) < 0 ||
	    (k = read_rows(&rd, "SELECT net FROM prefixes WHERE kind = 'disallow' ORDER BY rowid",
			   "disallow", s->w_prefixes, false)) < 0 ||
	    (k = read_rows(&rd,
			   "SELECT id, rule, patient_zero, first_probe_us, first_detect_us,"
			   " last_detect_us, hosts, port FROM incidents ORDER BY id",
			   "incident", s->w_incidents, false)) < 0 ||
	    (k = read_rows(&rd, hosts_sql, "host", s->w_hosts, true)) < 0 ||
	    (k = replay_log(&rd)) < 0 ||
	    (k = read_rows(&rd,
			   "SELECT addr, mac, state, first_us, last_us, delivered, prev"
			   " FROM bindings ORDER BY rowid",
			   "binding", s->w_bindings, false)) < 0) {
		if (k == -EBADMSG || k == -EIO)
			set_err(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto out;
	}
	if (settle_lru(e) < 0) {
		k = -ENOMEM;
		set_err(err, errlen, "%s: %s: nothing loaded", s->path, strerror(-k));
		goto out;
	}
	k = state_loader_finish(rd.l);
	if (k < 0)
		goto out;
	/* The bus revision last applied (quarantine-sync(8)); none before
	 * the sync program first applied one. */
	{
		int64_t rev = 0;
		int q = query_int(
			s, "SELECT coalesce((SELECT value FROM meta WHERE key = 'sync_rev'), 0)",
			&rev, err, errlen);

		if (q < 0) {
			k = q;
			goto out;
		}
		e->sync_rev = rev > 0 ? (uint64_t)rev : 0;
	}
	/* What was read is what the rows say. */
	for (struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r)) {
		r->db_fp = host_fp(r);
		r->db_fp_sub = host_sub_fp(r);
		r->db_hist = r->nhist;
	}
	settle_log(&rd);
out:
	if (k < 0) {
		/* Undone: what was loaded goes, and with it what it noted. */
		state_loader_free(rd.l);
		rd.l = NULL;
		s->ngone = 0;
		s->gone_lost = false;
	}
	state_loader_free(rd.l);
	sqlite3_finalize(rd.hits.q);
	sqlite3_finalize(rd.hist.q);
	for (size_t i = 0; i < rd.nbodies; i++)
		free(rd.bodies[i]);
	free(rd.bodies);
	free(rd.log);
	return k;
}

int statedb_migrate(struct statedb *s, struct engine *e, const char *dir, state_skip_fn skipped_fn,
		    void *arg, bool *ret_done, char *err, size_t errlen)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 32];
	int k, loaded, dfd;

	*ret_done = false;
	k = state_load(e, dir, skipped_fn, arg, err, errlen);
	if (k < 0)
		return k;
	loaded = k;
	/* Every record has no row yet (db_id 0): written whole. */
	statedb_attach(s, e);
	k = statedb_save(s, e, err, errlen);
	if (k < 0)
		return loaded;
	/* The database is whole and durable: the file is kept, renamed, so
	 * that a start after a crash here loads the database and finds no
	 * file to migrate again. */
	snprintf(from, sizeof(from), "%s/%s", dir, STATE_FILE);
	snprintf(to, sizeof(to), "%s/%s", dir, STATEDB_MIGRATED);
	if (rename(from, to) < 0) {
		set_err(err, errlen, "migrated, but %s: rename to %s: %s", from, to,
			strerror(errno));
		return loaded;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	*ret_done = true;
	return loaded;
}

/* ---- outbreak mode ---- */

int statedb_outbreak_save(struct statedb *s, const struct outbreak_state *ob, char *err,
			  size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE; DELETE FROM outbreak;", NULL, NULL, NULL);

	if (rc == SQLITE_OK && ob->on) {
		rc = sqlite3_prepare_v2(s->db,
					"INSERT INTO outbreak(id, grouping, since_us, uid, name,"
					" sudo_user, sudo_uid, reason)"
					" VALUES(1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
					-1, &q, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(q, 1, outbreak_by_name(ob->by), -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, (sqlite3_int64)ob->since_us);
			sqlite3_bind_int64(q, 3, ob->by_uid);
			if (ob->who.name[0])
				sqlite3_bind_text(q, 4, ob->who.name, -1, SQLITE_STATIC);
			if (ob->who.sudo_user[0]) {
				sqlite3_bind_text(q, 5, ob->who.sudo_user, -1, SQLITE_STATIC);
				sqlite3_bind_int64(q, 6, ob->who.sudo_uid);
			}
			sqlite3_bind_text(q, 7, ob->reason, -1, SQLITE_STATIC);
			rc = sqlite3_step(q);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		sqlite3_finalize(q);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int k = sql_fail(s, rc, "saving outbreak mode", err, errlen);

		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return k;
	}
	return 0;
}

/* Copies column i (text or NULL) into buf. */
static void col_text(sqlite3_stmt *q, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

int statedb_outbreak_load(struct statedb *s, struct outbreak_state *ret, char *err, size_t errlen)
{
	struct outbreak_state ob;
	sqlite3_stmt *q = NULL;
	char by[16];
	int rc = sqlite3_prepare_v2(
		s->db,
		"SELECT grouping, since_us, uid, name, sudo_user, sudo_uid, reason"
		" FROM outbreak WHERE id = 1",
		-1, &q, NULL);

	memset(&ob, 0, sizeof(ob));
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			ob.on = true;
			col_text(q, 0, by, sizeof(by));
			ob.since_us = (usec_t)sqlite3_column_int64(q, 1);
			ob.by_uid = (long)sqlite3_column_int64(q, 2);
			col_text(q, 3, ob.who.name, sizeof(ob.who.name));
			col_text(q, 4, ob.who.sudo_user, sizeof(ob.who.sudo_user));
			ob.who.sudo_uid = (uint32_t)sqlite3_column_int64(q, 5);
			col_text(q, 6, ob.reason, sizeof(ob.reason));
			/* Checked as strictly as any other row: names as the
			 * actor module records them, a known grouping. */
			if (outbreak_by_parse(by, &ob.by) < 0 ||
			    (ob.who.name[0] && !actor_name_valid(ob.who.name)) ||
			    (ob.who.sudo_user[0] && !actor_name_valid(ob.who.sudo_user)) ||
			    ob.by_uid < 0) {
				sqlite3_finalize(q);
				set_err(err, errlen, "%s: outbreak row: not valid", s->path);
				return -EBADMSG;
			}
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_OK)
		return sql_fail(s, rc, "reading outbreak mode", err, errlen);
	*ret = ob;
	return 0;
}

/* ---- values of other modules in meta (the feeds' positions) ---- */

int statedb_meta_put(struct statedb *s, const char *const *keys, const int64_t *v, unsigned n,
		     char *err, size_t errlen)
{
	int rc = step(s, ST_BEGIN);

	for (unsigned i = 0; rc == SQLITE_OK && i < n; i++)
		rc = set_meta(s, keys[i], v[i]);
	if (rc == SQLITE_OK)
		rc = step(s, ST_COMMIT);
	if (rc != SQLITE_OK) {
		int k = sql_fail(s, rc, "writing meta", err, errlen);

		(void)step(s, ST_ROLLBACK);
		return k;
	}
	return 0;
}

int statedb_meta_get(struct statedb *s, const char *key, int64_t *ret)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &q, NULL);
	int r = -EIO;

	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			*ret = sqlite3_column_int64(q, 0);
			r = 0;
		} else if (rc == SQLITE_DONE) {
			r = -ENOENT;
		}
	}
	sqlite3_finalize(q);
	return r;
}
