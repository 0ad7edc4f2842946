/* The daemon's state and the hosts' full action history in SQLite:
 * STATE_DIR/state.db (SPEC sections 5 and 7; issue 11).
 *
 * Operators query it with the sqlite3 tool; the versioned views (v1_*)
 * are their stable interface, the tables are ours and may change with
 * the schema version.  Recognised by PRAGMA application_id
 * (STATEDB_APP_ID) and user_version (STATEDB_SCHEMA); anything else is
 * not ours.
 *
 *     meta(key, value)             next_incident, paused, complete
 *     prefixes(kind, net)          run-time allow / disallow
 *     incidents(id, rule, patient_zero, first_probe_us, ...)
 *     hosts(id, key, machine, addr, state, decided, level, ...)
 *     host_addrs(host, i, addr)    a machine's addresses (hosts.id)
 *     hits(host, i, rule, level, incident, first_us)
 *     history(seq, life, host, ts_us, kind, level, state, uid, name,
 *             sudo_user, sudo_uid, text)
 *     bindings(addr, mac, state, first_us, last_us, delivered, prev)
 *     outbreak(id, grouping, since_us, uid, name, sudo_user, sudo_uid,
 *              reason)            one row while outbreak mode is on
 *
 * A host's row holds the fields of the state file's host line (state.h),
 * in columns of the same names (by_name... for the operator's names); its
 * id is new for each life of the record (AUTOINCREMENT): a host evicted
 * or purged loses its row, and one that comes back gets a new id.  The
 * history is append-only and outlives the rows: history.life is the id
 * of the row the line was written for, history.host its key, so that
 * what was done to a host stays queryable after it left the registry
 * (the archive file of evicted records is no longer written).  It is
 * kept for state.history_days (lines older go, once an hour).
 *
 * Saving is incremental.  act_apply() hands the records of each batch of
 * kernel changes to statedb_save_recs() (engine.h persist), which writes
 * them in one transaction, committed with synchronous=FULL before the
 * events that report the batch are emitted; statedb_save() (the daemon's
 * tick, when the engine is dirty) finds every other change by a
 * fingerprint of each record (hostrec.db_fp) and writes only those.
 * Incidents, prefixes and bindings are rewritten when their own
 * fingerprints change.  A host's history lines are appended once
 * (hostrec.db_hist counts those written).
 *
 * The host log, host_log(seq, body), is the write-ahead form of a bulk
 * command's batches (issue 11: 100,000 hosts within 2x `nft -f`): one
 * row per step of the command, whose body holds each host's records as
 * lines of the state file (state_host_text()), after a line "life KEY ID
 * WRITTEN".
 * One insert per step of the command (statedb_log_flush()) instead of a
 * row, addresses, hits and history lines per host under their indices.
 * A logged record names its latest entry (hostrec.db_log), and only the
 * drain of that entry writes its row (statedb_drain(), oldest entry
 * first, one per tick): a row written otherwise would be newer than the
 * entry, which the load replays over it.  So until then its saves go
 * into the log too, and statedb_save() passes it over.  statedb_load()
 * reads the log first and takes each logged host's latest entry instead
 * of its row.  A crash before an entry is drained costs nothing but the
 * drain again; one of its hosts forgotten meanwhile (a spare evicted,
 * purged) comes back from it at a restart before that drain.
 *
 * Loading goes through state.h's record loader: every row is checked as
 * strictly as a line of the state file, and a wrong row is skipped and
 * reported, not trusted.
 *
 * One connection, opened in the privileged parent only, and never used
 * across a fork: the daemon closes it before forking the sensor and
 * opens it again after; a sensor forked again later (after one died)
 * inherits its descriptors and closes them before anything else
 * (sensor.c close_others()), never touching the connection.  WAL with synchronous=FULL, wal_autocheckpoint
 * and journal_size_limit bounded; statedb_wal_size() lets the daemon
 * alert when a long-open reader keeps the WAL from being checkpointed. */
#ifndef QD_STATEDB_H
#define QD_STATEDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "outbreak.h"
#include "state.h"

#define STATEDB_FILE	 "state.db"
#define STATEDB_MIGRATED "state.migrated" /* the text state file, once migrated */
#define STATEDB_APP_ID	 0x51444231	  /* "QDB1" */
#define STATEDB_SCHEMA	 2
/* Pages (4 KiB) of WAL after which a commit checkpoints, and the size the
 * WAL file is truncated to after a checkpoint. */
#define STATEDB_AUTOCHECKPOINT 1000
#define STATEDB_JOURNAL_LIMIT  (64LL << 20)
/* SQLite's page cache for the connection, in KiB: the hot pages of the
 * hosts table and the history's indices at 100,000 hosts (SQLite's
 * default, 2 MiB, makes a batch of 10,000 hosts re-read pages). */
#define STATEDB_CACHE_KIB 16384
/* A WAL larger than this means a reader has held a snapshot open long
 * enough to stop checkpoints: the daemon alerts. */
#define STATEDB_WAL_ALERT (256LL << 20)

struct statedb;

/* Opens (creates, mode 0600) dir/state.db.  0, or: -EBADMSG when the
 * file is not ours (another application_id, a schema version this
 * daemon does not know, not a database, damaged): the caller sets it
 * aside (statedb_set_aside()); -errno otherwise.  A message in err. */
int statedb_open(const char *dir, struct statedb **ret, char *err, size_t errlen);
/* Closes db (NULL: nothing). */
void statedb_close(struct statedb *db);
/* Whether dir/state.db exists. */
bool statedb_exists(const char *dir);

/* Reads the saved state into e (freshly engine_init()ed), as
 * state_load() does.  The number of records skipped, or: -ENODATA when
 * the database holds no complete save (new, or a migration cut short;
 * rows there, of batches saved before a whole save, are replaced by the
 * first save);
 * -EBADMSG when it is damaged (nothing loaded; set it aside); -EINVAL, -ENOMEM.
 * On failure e is as it was. */
int statedb_load(struct statedb *db, struct engine *e, state_skip_fn skipped_fn, void *arg,
		 char *err, size_t errlen);

/* Makes the registry's records in recs (borrowed) durable, with what
 * else is pending (rows of forgotten records, incidents, meta, the
 * never-block changes), in one transaction.  0 or -errno (-ENOSPC for a
 * full disk, -EIO, -EBADMSG for a damaged file) with a message in err;
 * on failure nothing is written and the records stay to be written. */
int statedb_save_recs(struct statedb *db, struct engine *e, struct hostrec *const *recs, unsigned n,
		      char *err, size_t errlen);
/* For a bulk command, whose rows would cost more than the kernel's
 * changes they record: recs are gathered into the next entry of the host
 * log (below), in memory, and made durable by statedb_log_flush(), one
 * transaction for several batches, which the caller runs before any
 * event says what they put in force.  0, or -ENOMEM/-EFBIG (nothing
 * gathered) with a message in err. */
int statedb_log_recs(struct statedb *db, struct engine *e, struct hostrec *const *recs, unsigned n,
		     char *err, size_t errlen);
/* Writes the gathered entry, with what else is pending (as
 * statedb_save_recs()), in one transaction.  1 when written, 0 when
 * nothing was gathered, or -errno as statedb_save_recs(); on failure the
 * entry stays
 * gathered, and its records stay to be written by the next save. */
int statedb_log_flush(struct statedb *db, struct engine *e, char *err, size_t errlen);
/* Whether the host log has entries, or one is gathered. */
bool statedb_logged(const struct statedb *db);
/* Replaces the log's oldest entry by the rows of its hosts (those whose
 * latest entry it is), in one transaction: a bounded step (an entry
 * holds at most a command's step, 2,048 hosts), which the daemon takes
 * once a tick while the log has entries.  1 when an entry was drained,
 * 0 when the log is empty, or -errno with a message in err (the entry
 * stays). */
int statedb_drain(struct statedb *db, struct engine *e, char *err, size_t errlen);
/* The same for every record that changed since it was last written, and
 * the bindings: the whole state durable. */
int statedb_save(struct statedb *db, struct engine *e, char *err, size_t errlen);
/* Deletes history lines older than before_us.  The number deleted, or
 * -errno. */
int statedb_prune_history(struct statedb *db, uint64_t before_us, char *err, size_t errlen);

/* Makes e tell db of records it forgets (hostdb on_remove), so that
 * their rows go at the next save.  Undone by statedb_detach() (before
 * db is closed while e lives on). */
void statedb_attach(struct statedb *db, struct engine *e);
void statedb_detach(struct statedb *db, struct engine *e);

/* The engine's records do not know db's rows (it was opened again after
 * a failure): the next save replaces every row. */
void statedb_forget_rows(struct statedb *db);

/* Renames dir/state.db and its -wal and -shm to state.db.bad-SUFFIX...
 * (those that exist).  0 or -errno; the name given in ret_name. */
int statedb_set_aside(const char *dir, const char *suffix, char *ret_name, size_t size);

/* Migrates dir/state (the text file, state.h) into a database that
 * holds no complete save: the file is read into e (state_load()), the
 * database written whole, then the file renamed to state.migrated.  A
 * crash before the commit leaves the file to migrate again; after it,
 * the database whole (loaded, and the file not migrated twice: the
 * daemon migrates only when statedb_load() says -ENODATA).  The records
 * skipped (0 or more) once the file is loaded, with *ret_done false and
 * a message in err when the database or the rename failed (the file
 * stays, to migrate at the next start; e holds its state all the same);
 * -ENOENT when there is no file, or -errno as state_load() (nothing
 * loaded). */
int statedb_migrate(struct statedb *db, struct engine *e, const char *dir, state_skip_fn skipped_fn,
		    void *arg, bool *ret_done, char *err, size_t errlen);

/* Outbreak mode (outbreak.h): its row written (on) or deleted (off), in
 * a transaction of its own, durable at return; read back at start (off
 * when there is no row).  The table is created when missing: a database
 * of an earlier version gains it.  0 or -errno with a message in err. */
int statedb_outbreak_save(struct statedb *db, const struct outbreak_state *ob, char *err,
			  size_t errlen);
int statedb_outbreak_load(struct statedb *db, struct outbreak_state *ret, char *err, size_t errlen);

/* Size of the WAL file in bytes (0 when none). */
int64_t statedb_wal_size(const struct statedb *db);

/* Values other modules keep in the meta table (the feeds' positions,
 * feedlink.h), under keys of their own: n of them in one transaction.
 * 0 or -errno with err filled. */
int statedb_meta_put(struct statedb *db, const char *const *keys, const int64_t *v, unsigned n,
		     char *err, size_t errlen);
/* One of them.  0; -ENOENT when absent; -EIO. */
int statedb_meta_get(struct statedb *db, const char *key, int64_t *ret);

#endif
