/* The state's records and their checks, and the text state file of
 * earlier versions: the daemon's state (hosts, levels, states, histories,
 * TTL deadlines, incidents, pause and run-time never-block changes) as it
 * was saved to STATE_DIR/state (SPEC sections 5 and 7).  The daemon now
 * keeps it in SQLite (statedb.h), whose rows go through the same record
 * loader (state_loader_*); it reads this file only to migrate it, and
 * state_save() writes it for the tests, the benchmark and fuzzing seeds.
 *
 * The file is line-oriented text that an operator can read in an outbreak:
 *
 *     quarantined-state 1
 *     meta next_incident=4 paused=0
 *     allow net=10.1.7.0/24
 *     disallow net=10.0.0.53/32
 *     incident id=3 rule=smb-propagation patient_zero=10.1.0.23 ...
 *     host addr=10.1.0.23 state=isolated decided=isolate level=isolate ...
 *     host id=02:00:0a:01:00:17 addr=10.1.0.23 addrs=10.1.0.23,fd00::17 ...
 *     binding addr=10.1.0.23 mac=02:00:0a:01:00:17 state=established ...
 *     hit rule=smb-propagation level=isolate incident=3 first_us=...
 *     hist ts_us=... kind=action level=isolate state=isolated uid=-1 text=...
 *     end records=5 crc32=1c291ca3
 *
 * One record per line: a kind, then key=value fields separated by one
 * space, each value percent-encoded (%20 space, %25 '%', %0A LF and every
 * other byte below 0x20 or 0x7f; other bytes, UTF-8 included, as they
 * are).  `hit` and `hist` lines belong to the `host` line above them.
 * Times are integer microseconds since the epoch, levels, states and
 * history kinds are names, rules are names (their index depends on the
 * config).  The last line counts the records between the first and last
 * lines and holds the CRC-32 (ISO-HDLC, as zlib's crc32()) of every byte
 * before it, so that a truncated or damaged file is refused rather than
 * half read.  Keys this version does not know are ignored (a later
 * version may add some); a record that is still wrong is skipped
 * (state_load()).
 *
 * A machine's host record has id= (its MAC) and addrs= (the addresses its
 * block covers); an address's record has neither.  Bindings trusted at
 * least TENTATIVE are saved (identity.h), so that a restart does not hand
 * the addresses of quiet machines to the first forger.
 *
 * What the kernel holds (hostrec kmac, addrs[].kiso, k[], nk) is not
 * saved: act_sync() reads it back at start and repairs it from the saved
 * levels. */
#ifndef QD_STATE_H
#define QD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define STATE_FILE     "state"
#define STATE_TMP_FILE "state.tmp"
#define STATE_VERSION  2 /* reads 1 too: addresses' records, no machines */

/* Writes e's state to dir/state atomically: dir/state.tmp (mode 0600) is
 * written, synced and renamed over dir/state, then dir is synced, so that
 * after a crash dir/state is either the old file or the new one, whole.
 * Borrows e.  0, or -errno (ENOSPC, EIO, EACCES, EROFS...) with a message
 * in err; on failure the previous dir/state is untouched (a failure to
 * sync dir after the rename leaves the new file in place, maybe not yet
 * durable). */
int state_save(const struct engine *e, const char *dir, char *err, size_t errlen);

/* Told of each record state_load() skips: msg is "FILE:LINE: what was
 * wrong: what was skipped". */
typedef void (*state_skip_fn)(void *arg, const char *msg);

/* Reads dir/state into e, which must be freshly engine_init()ed: empty
 * registry and incidents, no run-time never-block changes.  Restores the
 * hosts in their saved order (hostdb_first/next), their histories, the
 * incidents (incident_find() works on the saved ids), the next incident
 * id, the pause, the run-time allow list and the configured never-block
 * entries removed at run time (those no longer configured are skipped),
 * and e->next_expiry_us from the hosts' TTL deadlines.  A host's hit for a
 * rule no longer configured is dropped; the host stays.
 *
 * Every field is checked as strictly as where it enters the daemon: ids,
 * uids, TTLs and deadlines in range (types.h QD_TTL_MAX_S, incident.h
 * INCIDENT_ID_MAX), levels, states and kinds known by name, addresses
 * that a host can have.  What the CRC proves the writer wrote but is
 * still wrong (a file edited by hand, a broken writer) costs only its
 * record: the line is skipped, with the hit and hist lines of a skipped
 * host, and skipped_fn (may be NULL) is told with arg.  A bad meta record
 * is skipped too: incident ids then follow the saved incidents and
 * automatic actions are not paused.  A skipped blocked host's kernel
 * elements are adopted by act_sync().  A file with more hosts than the
 * registry holds (limits.max_blocked lowered) loads all the same: records
 * with nothing in force make room as at run time (hostdb_get(), evicted
 * and counted in e->hosts.evicted), and a blocked host that finds none is
 * skipped.
 *
 * Returns the number of records skipped (0 or more) on success.
 * -ENOENT: there is no saved state (a first start).  -EBADMSG: the file
 * is truncated, damaged, of another version or not a state file (checked
 * before anything is read in); err says "FILE:LINE: what".  -EINVAL: e is
 * not empty.  -ENOMEM, or -errno from reading.  On any
 * failure nothing is loaded: e is as it was. */
int state_load(struct engine *e, const char *dir, state_skip_fn skipped_fn, void *arg, char *err,
	       size_t errlen);

/* ---- records from elsewhere ----
 *
 * The same records, field checks and skipping rules as state_load(), for
 * a store that holds them otherwise (statedb.h: a database row is a
 * record, its columns the fields, named as the keys above; NULL columns
 * are absent keys).  A host's hit and hist records follow their host's,
 * as in the file. */
struct state_loader;

/* e must be freshly engine_init()ed (-EINVAL otherwise); path names the
 * store in messages (borrowed, must outlive the loader).  0 or -errno
 * with a message in err. */
int state_loader_new(struct engine *e, const char *path, state_skip_fn skipped_fn, void *arg,
		     char *err, size_t errlen, struct state_loader **ret);
/* The store keeps a host's every history line: past HOST_MAX_HIST of
 * them, memory keeps the first HOST_HIST_KEEP and the latest (as
 * hostdb_history()), instead of skipping the record. */
void state_loader_roll_history(struct state_loader *l);
/* One record: kind ("meta", "host", "hit", "hist", "incident", "allow",
 * "disallow", "binding"), n fields (keys and decoded values, borrowed for
 * the call).  where and line name it in messages ("WHERE:LINE: what";
 * where borrowed until the loader is freed).  A wrong record is skipped
 * and reported as by state_load().  0, or -ENOMEM. */
int state_loader_record(struct state_loader *l, const char *where, unsigned line, const char *kind,
			const char *const *keys, const char *const *vals, unsigned n);
/* A record the store could not even turn into fields (msg says why) is
 * skipped and reported; what: "host, with its hit and hist lines," etc. */
void state_loader_bad(struct state_loader *l, const char *where, unsigned line, const char *what,
		      const char *msg);
/* After the last record, as at the end of state_load(): the number of
 * records skipped, or -ENOMEM (err says so). */
int state_loader_finish(struct state_loader *l);
/* Frees l; unless state_loader_finish() succeeded, what was loaded goes
 * again (e as it was).  NULL: nothing. */
void state_loader_free(struct state_loader *l);

/* r's host record and its hit and hist records, as lines of the state
 * file (without its head or end), for a store that keeps whole records
 * as text (statedb.h's host log).  e: the rule names.  The length written
 * into buf (size bytes, not terminated), or -ENOBUFS when they do not
 * fit (STATE_HOST_TEXT_MAX always does). */
#define STATE_HOST_TEXT_MAX (64u << 10)
int state_host_text(const struct engine *e, const struct hostrec *r, char *buf, size_t size);
/* One such line (len bytes, without its LF; text[len], the LF, is
 * overwritten, and the line modified) as a record, as
 * state_loader_record().  0, or -ENOMEM. */
int state_loader_line(struct state_loader *l, const char *where, unsigned line, char *text,
		      size_t len);

/* r's want= field (state.h's format: "tcp/22,udp/53@10.1.2.3"), into buf
 * of size bytes (STATE_WANT_MAX is always enough). */
#define STATE_WANT_MAX 1024
void state_want_text(const struct hostrec *r, char *buf, size_t size);

/* r's infected_by= field ("ID/tcp/445/US"), into buf of size bytes
 * (STATE_INFECTED_MAX is always enough); "" when nobody is known. */
#define STATE_INFECTED_MAX (ADDR_STRLEN + 32)
void state_infected_text(const struct hostrec *r, char *buf, size_t size);

#endif
