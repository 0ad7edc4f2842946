/* The live daemon's startup and the parent's poll loop.
 *
 * Startup, in order: the single-instance claims (state directory, table
 * name) and the control socket, before anything is changed; output,
 * nftables table (created or adopted, in one transaction), the kernel's
 * sets read back (adopting what is there), the gateway's own addresses;
 * privileges dropped to CAP_NET_ADMIN and CAP_NET_RAW; then the sensor
 * (sensor.h), which opens the captures and drops everything; only then
 * ready.  The loop: the sensor's reports, the decisions of each read put
 * in force in one transaction; control clients; address and neighbour
 * changes; outside changes of the table (repair.h); a 100 ms timer for
 * TTLs, repairs, sensor restarts and capture retries.  On SIGTERM the
 * table stays. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "evidence.h"
#include "filter.h"
#include "instance.h"
#include "log.h"
#include "privs.h"
#include "state.h"
#include "statedb.h"

#define TICK_MS		100
#define DROP_REPORT_US	(60 * USEC_PER_SEC)
#define SENSOR_START_MS 10000
/* Detections alone (no level changed) are saved at most this often. */
#define SAVE_SOON_US  (2 * USEC_PER_SEC)
#define SAVE_ALERT_US (60 * USEC_PER_SEC)
/* Evidence: packets of the recent past kept for every host (bounded
 * memory: EVIDENCE_RING x snaplen), and packets written after a host is
 * flagged. */
#define EVIDENCE_RING	65536
#define EVIDENCE_FOLLOW 1000
#define MAX_POLLFDS	(8 + CONTROL_MAX_POLLFDS)

usec_t daemon_wall_us(void)
{
	return time_wall_us();
}

usec_t daemon_mono_us(void)
{
	return time_mono_us();
}

/* sd_notify(3)'s protocol: one datagram to $NOTIFY_SOCKET. */
static void notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		log_warn("sd_notify %s", state);
	close(fd);
}

static int be_commit(void *arg, struct nft_op *ops, unsigned n)
{
	return nft_commit(arg, ops, n);
}

static int be_list(void *arg, enum nft_set set, int (*cb)(void *, const struct nft_elem *),
		   void *cbarg)
{
	return nft_list(arg, set, cb, cbarg);
}

static bool is_self(void *arg, const struct qaddr *a)
{
	struct daemon *d = arg;

	return d->nm && netmon_is_self(d->nm, a);
}

static unsigned own_macs(void *arg, const uint8_t (**ret)[MAC_LEN])
{
	struct daemon *d = arg;

	if (!d->neigh) {
		*ret = NULL;
		return 0;
	}
	return neighmon_own_macs(d->neigh, ret);
}

/* A new sensor learns the kernel's neighbour tables whole, at the next
 * tick. */
static void on_sensor_start(void *arg)
{
	struct daemon *d = arg;

	if (d->neigh)
		neighmon_redump(d->neigh);
}

static bool is_own_mac(void *arg, const uint8_t *mac)
{
	struct daemon *d = arg;

	return d->neigh && neighmon_is_own_mac(d->neigh, mac);
}

/* The kernel's neighbour table and bridge FDBs go to identity: what the
 * kernel believes, weighed there (identity.h). */
static void on_neigh(void *arg, const struct neighmon_event *ev)
{
	struct daemon *d = arg;
	usec_t now = daemon_wall_us();
	enum ident_neigh st;

	if (ev->deleted || !ev->has_mac)
		return; /* a deleted entry does not mean the machine left */
	/* What the kernel says goes to the sensor's identity, which
	 * attributes packets, and to the parent's replica at once, for the
	 * parent's own decisions (an operator naming a host by address right
	 * after the start, say); only the sensor's events are alerted. */
	if (ev->kind == NEIGHMON_FDB) {
		/* Learned entries only: the bridge's own and static ones
		 * say nothing about where a machine is. */
		if (ev->state & (NUD_PERMANENT | NUD_NOARP))
			return;
		identity_fdb(d->eng.id, ev->mac, ev->ifindex, now);
		sensorlink_fdb(&d->link, ev->mac, ev->ifindex, now);
		return;
	}
	if (ev->state & NUD_PERMANENT)
		st = IDN_PERMANENT;
	else if (ev->state & NUD_REACHABLE)
		st = IDN_REACHABLE;
	else if (ev->state & (NUD_STALE | NUD_DELAY | NUD_PROBE))
		st = IDN_CLAIM;
	else
		return;
	identity_neigh(d->eng.id, &ev->addr, ev->mac, st, now);
	sensorlink_neigh(&d->link, &ev->addr, ev->mac, st, now);
}

static void error_event(struct daemon *d, const char *msg)
{
	output_error(&d->out, daemon_wall_us(), msg);
}

/* A failed save: the kernel's sets still hold every block (enforcement
 * goes on), the records stay to be written: each batch's persist tries
 * its own, and the tick everything (maybe_save()); alerted once a
 * minute. */
static void save_failed(struct daemon *d, const char *err)
{
	usec_t now = daemon_mono_us();

	d->save_failures++;
	if (now >= d->save_alert_mono) {
		char msg[700];

		snprintf(msg, sizeof(msg), "cannot save state: %s", err);
		log_warnx("%s", msg);
		error_event(d, msg);
		d->save_alert_mono = now + SAVE_ALERT_US;
	}
}

static void save_done(struct daemon *d, usec_t start)
{
	d->saved_mono = daemon_mono_us();
	d->save_cost_us = d->saved_mono - start;
	prom_hist_add(&d->save_hist, d->save_cost_us);
	/* The operator was told that saving failed: say that it works
	 * again, and alert at once if it fails anew. */
	if (d->save_failures) {
		log_info("state saved again in %s/%s after %lu failed attempts", d->state_dir,
			 STATEDB_FILE, (unsigned long)d->save_failures);
		d->save_failures = 0;
		d->save_alert_mono = 0;
	}
}

/* The database, opened again when it could not be (at most once a
 * second).  The records do not know what its rows hold then: its
 * first save replaces them all. */
static bool db_ready(struct daemon *d, char *err, size_t errlen)
{
	usec_t now = daemon_mono_us();
	int r;

	if (d->db)
		return true;
	if (now < d->db_open_mono) {
		set_err(err, errlen, "%s/%s: not open (retried later)", d->state_dir, STATEDB_FILE);
		return false;
	}
	d->db_open_mono = now + USEC_PER_SEC;
	r = statedb_open(d->state_dir, &d->db, err, errlen);
	if (r < 0)
		return false;
	statedb_forget_rows(d->db);
	statedb_attach(d->db, &d->eng);
	return true;
}

/* Saves the whole state (every record that changed); the kernel was
 * changed first (SPEC section 5). */
void daemon_save(struct daemon *d)
{
	char err[600];
	usec_t start = daemon_mono_us();

	if (!d->db && !db_ready(d, err, sizeof(err))) {
		save_failed(d, err);
		return;
	}
	if (statedb_save(d->db, &d->eng, err, sizeof(err)) < 0) {
		save_failed(d, err);
		return;
	}
	/* Where the feeds are, after what their lines did (feedlink.h). */
	if (feedlink_save(&d->feeds, d->db, err, sizeof(err)) < 0) {
		save_failed(d, err);
		return;
	}
	d->eng.dirty = 0;
	save_done(d, start);
}

/* engine.h persist: the records of a batch of kernel changes, durable
 * before its events say what was put in force.  What else the engine
 * changed meanwhile is written within SAVE_SOON_US (maybe_save()).  A
 * bulk command's batches (persist_log) are gathered into the host log,
 * made durable by daemon_persist_flush() before its events. */
static void persist(void *arg, struct hostrec *const *recs, unsigned n)
{
	struct daemon *d = arg;
	char err[600];
	usec_t start = daemon_mono_us();

	if (!d->db && !db_ready(d, err, sizeof(err))) {
		save_failed(d, err);
		return;
	}
	if ((d->persist_log ? statedb_log_recs : statedb_save_recs)(d->db, &d->eng, recs, n, err,
								    sizeof(err)) < 0) {
		save_failed(d, err);
		return;
	}
	if (d->eng.dirty == ENGINE_DIRTY_NOW)
		d->eng.dirty = ENGINE_DIRTY_SOON;
	save_done(d, start);
}

void daemon_persist_flush(struct daemon *d)
{
	char err[600];
	usec_t start = daemon_mono_us();
	int r;

	if (!d->db)
		return; /* persist() failed and alerted: the next save writes them */
	r = statedb_log_flush(d->db, &d->eng, err, sizeof(err));
	if (r < 0) {
		save_failed(d, err);
	} else if (r > 0) {
		save_done(d, start);
		d->logged_mono = d->saved_mono;
	}
}

/* The host log's oldest entry replaced by its hosts' rows: one entry (at
 * most a bulk command's step, 2,048 hosts, 10-30 ms) a tick, so that the
 * loop is never blocked for a whole list's rows; not before the log has
 * been left alone for DRAIN_AFTER_US, so that a bulk command still
 * running does not share its turns with the drain.  A failure is alerted
 * as a failed save, and tried again at the next tick. */
#define DRAIN_AFTER_US (USEC_PER_SEC / 2)

static void drain_log(struct daemon *d, usec_t mono)
{
	char err[600];
	usec_t start = mono;
	int r;

	if (!d->db || !statedb_logged(d->db) || mono < d->logged_mono + DRAIN_AFTER_US)
		return;
	r = statedb_drain(d->db, &d->eng, err, sizeof(err));
	if (r < 0)
		save_failed(d, err);
	else if (r > 0)
		save_done(d, start);
}

/* Batches of kernel changes were saved by persist(); what is left (a
 * reload, detections, bindings) is saved at once when the engine says
 * so, else within SAVE_SOON_US.  A save writes only what changed, so it
 * is never spaced out by its cost. */
static void maybe_save(struct daemon *d, bool tick)
{
	usec_t now = daemon_mono_us();

	/* Failing (disk full): retried at every tick, not at every batch. */
	if (d->save_failures && !tick)
		return;
	if (d->eng.dirty == ENGINE_DIRTY_NOW)
		daemon_save(d);
	else if (tick && d->eng.dirty && now >= d->saved_mono + SAVE_SOON_US)
		daemon_save(d);
}

/* A long-open reader of the database keeps its WAL from being
 * checkpointed: alerted past STATEDB_WAL_ALERT, once a minute.  Old
 * history lines go once an hour (state.history_retention). */
static void db_tick(struct daemon *d, usec_t mono)
{
	int64_t wal;
	char err[600];

	if (!d->db)
		return;
	wal = statedb_wal_size(d->db);
	if (wal > STATEDB_WAL_ALERT && mono >= d->wal_alert_mono) {
		char msg[PATH_MAX + 200];

		snprintf(msg, sizeof(msg),
			 "state database %s/%s-wal is %lld MiB: a reader holds it open and keeps "
			 "it from being checkpointed; close it",
			 d->state_dir, STATEDB_FILE, (long long)(wal >> 20));
		log_warnx("%s", msg);
		error_event(d, msg);
		d->wal_alert_mono = mono + SAVE_ALERT_US;
	}
	if (d->c->state.history_retention_s && mono >= d->prune_mono) {
		usec_t now = daemon_wall_us(),
		       keep = d->c->state.history_retention_s * USEC_PER_SEC;
		int r;

		d->prune_mono = mono + 3600 * USEC_PER_SEC;
		r = statedb_prune_history(d->db, now > keep ? now - keep : 0, err, sizeof(err));
		if (r < 0)
			log_warnx("%s", err);
		else if (r > 0)
			log_info(
				"state database: %d history lines older than the retention deleted",
				r);
	}
}

/* Evidence files whose host is released, cleaned or unknown may go when
 * the disk cap is reached; those of hosts still under suspicion stay. */
static bool evidence_removable(void *arg, const char *name)
{
	struct daemon *d = arg;
	struct hostrec *r;
	struct qaddr a;

	if (evidence_name_host(name, &a) < 0)
		return false;
	r = addr_is_mac(&a) ? hostdb_find(&d->eng.hosts, &a) : hostdb_find_addr(&d->eng.hosts, &a);
	if (!r || strcmp(r->evidence, name) != 0)
		return true;
	/* A host's latest file stays while it is suspect, or under
	 * surveillance after its release. */
	return (r->state == HOST_RELEASED || r->state == HOST_CLEANED) &&
	       r->surveil_until_us <= daemon_wall_us();
}

static void evidence_setup(struct daemon *d)
{
	char dir[PATH_MAX + 16];
	struct evidence_params ep = {
		.dir = dir,
		.max_bytes = (uint64_t)d->c->state.evidence_max_mb << 20,
		/* The ring and the writing are the sensor's; the parent makes
		 * the files and keeps the cap. */
		.ring_packets = 0,
		.snaplen = d->c->capture.snaplen,
		.follow = EVIDENCE_FOLLOW,
		/* The largest file the sensor's ring can make, but no more
		 * than the cap can hold for every file open at once, twice. */
		.file_max = MIN(
			evidence_file_max(EVIDENCE_RING, EVIDENCE_FOLLOW, d->c->capture.snaplen),
			((uint64_t)d->c->state.evidence_max_mb << 20) / (2 * EVIDENCE_MAX_OPEN)),
		.removable = evidence_removable,
		.removable_arg = d,
	};
	int r;

	if (!d->c->state.evidence_max_mb)
		return;
	snprintf(dir, sizeof(dir), "%s/evidence", d->state_dir);
	r = evidence_new(&ep, &d->evidence);
	if (r < 0) {
		/* Evidence is worth having, not worth refusing to protect. */
		log_warnx("evidence in %s: %s; running without", dir, strerror(-r));
		d->evidence = NULL;
	}
	d->link.p.evidence = d->evidence;
}

static void evidence_tick(struct daemon *d)
{
	struct evidence_stats st;

	if (!d->evidence)
		return;
	unsigned deleted = 0;

	evidence_flush(d->evidence);
	if (evidence_enforce_cap(d->evidence, evidence_removable, d, &deleted) == 0 && deleted) {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "evidence cap (%u MiB) reached: deleted the %u oldest files of released "
			 "hosts",
			 d->c->state.evidence_max_mb, deleted);
		log_warnx("%s", msg);
		error_event(d, msg);
	}
	evidence_stats(d->evidence, &st);
	if (st.capped && !d->evidence_capped) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "evidence cap reached (%u MiB): no room without deleting evidence of "
			 "hosts still under suspicion; no new evidence files",
			 d->c->state.evidence_max_mb);
		log_warnx("%s", msg);
		error_event(d, msg);
	}
	d->evidence_capped = st.capped;
	/* Files that could not be written (a full or failing disk) are cut
	 * short or removed: their hosts have less evidence or none, and the
	 * operator must know why.  The sensor writes them and counts its
	 * failures (from zero again after a restart); the parent counts the
	 * files it could not make.  Once a minute at most, with what failed
	 * meanwhile. */
	uint64_t werr = st.write_errors;
	if (d->link.have_stats) {
		uint64_t s = d->link.stats.evidence.write_errors;
		if (s < d->sensor_errors_seen)
			d->sensor_errors_seen = 0; /* a new sensor */
		d->sensor_errors_total += s - d->sensor_errors_seen;
		d->sensor_errors_seen = s;
	}
	werr += d->sensor_errors_total;
	if (werr > d->evidence_errors_told && daemon_mono_us() >= d->evidence_alert_mono) {
		char msg[PATH_MAX + 200];
		snprintf(msg, sizeof(msg),
			 "evidence: %llu %s not be written in full in %s/evidence (disk full "
			 "or failing)",
			 (unsigned long long)(werr - d->evidence_errors_told),
			 werr - d->evidence_errors_told == 1 ? "file could" : "files could",
			 d->state_dir);
		log_warnx("%s", msg);
		error_event(d, msg);
		d->evidence_errors_told = werr;
		d->evidence_alert_mono = daemon_mono_us() + SAVE_ALERT_US;
	}
}

/* Records of the saved state skipped at start: each is alerted, up to
 * LOAD_ALERTS of them; the rest are counted in the summary. */
#define LOAD_ALERTS 32

struct load_alerts {
	struct daemon *d;
	unsigned n;
};

static void on_skipped(void *arg, const char *msg)
{
	struct load_alerts *a = arg;
	char buf[600];

	if (a->n++ >= LOAD_ALERTS)
		return;
	snprintf(buf, sizeof(buf), "saved state: %s", msg);
	log_warnx("%s", buf);
	error_event(a->d, buf);
}

static void state_alert(struct daemon *d, const char *msg)
{
	log_warnx("%s", msg);
	error_event(d, msg);
}

/* A database that is not ours or is damaged is kept aside with its -wal
 * and -shm for a post-mortem, and a new one started: the kernel's sets
 * are read back next and every block found there is adopted (fail
 * closed). */
static void db_set_aside(struct daemon *d, const char *why)
{
	char suffix[32], name[PATH_MAX + 96], msg[PATH_MAX + 900], err[600];
	int r;

	snprintf(suffix, sizeof(suffix), "%llu",
		 (unsigned long long)(daemon_wall_us() / USEC_PER_SEC));
	/* Renamed before the connection closes: closing the last one
	 * would delete the -wal, which belongs to the post-mortem. */
	r = statedb_set_aside(d->state_dir, suffix, name, sizeof(name));
	if (d->db) {
		statedb_detach(d->db, &d->eng);
		statedb_close(d->db);
		d->db = NULL;
	}
	snprintf(msg, sizeof(msg),
		 "state database unusable (%s; %s %s): starting from the kernel's sets", why,
		 r < 0 ? "could not be moved to" : "kept as", name);
	state_alert(d, msg);
	if (statedb_open(d->state_dir, &d->db, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot start a new state database: %s", err);
		state_alert(d, msg);
		return;
	}
	statedb_attach(d->db, &d->eng);
}

/* The saved state into the engine, before the kernel's sets are read
 * back: from the database, or migrated from the text file of earlier
 * versions when the database holds no complete save. */
static void load_state(struct daemon *d)
{
	char err[600], msg[PATH_MAX + 900], path[PATH_MAX + 16];
	struct load_alerts alerts = {.d = d};
	const char *from = STATEDB_FILE;
	int64_t complete = 0;
	bool done = true, aside = false;
	int r;

	/* A database set aside leaves a new, empty one: a text state file
	 * still there (its migration never committed) is migrated into it,
	 * never taken for migrated already at the next start. */
	r = statedb_open(d->state_dir, &d->db, err, sizeof(err));
	if (r == -EBADMSG) {
		db_set_aside(d, err);
		aside = true;
		r = -ENODATA;
	} else if (r < 0) {
		/* Not even a new one (permissions, a full disk): saves alert
		 * and open it again; the kernel's sets hold every block. */
		snprintf(msg, sizeof(msg),
			 "cannot open the state database: %s: starting from the kernel's sets",
			 err);
		state_alert(d, msg);
		return;
	} else {
		statedb_attach(d->db, &d->eng);
		r = statedb_load(d->db, &d->eng, on_skipped, &alerts, err, sizeof(err));
		if (r == -EBADMSG) {
			db_set_aside(d, err);
			aside = true;
			r = -ENODATA;
		}
	}
	if (r == -ENODATA) {
		/* Set aside, and no new one could be made: alerted. */
		if (!d->db)
			return;
		from = STATE_FILE;
		r = statedb_migrate(d->db, &d->eng, d->state_dir, on_skipped, &alerts, &done, err,
				    sizeof(err));
		if (r == -ENOENT) {
			if (!aside)
				log_info("no saved state in %s: first start", d->state_dir);
			return;
		}
		if (r < 0) {
			/* Keep the unusable file for a post-mortem. */
			char bad[PATH_MAX + 64], cur[PATH_MAX + 16];

			snprintf(cur, sizeof(cur), "%s/%s", d->state_dir, STATE_FILE);
			snprintf(bad, sizeof(bad), "%s/%s.bad-%llu", d->state_dir, STATE_FILE,
				 (unsigned long long)(daemon_wall_us() / USEC_PER_SEC));
			rename(cur, bad);
			snprintf(
				msg, sizeof(msg),
				"saved state unusable (%s; kept as %s): starting from the kernel's "
				"sets",
				err, bad);
			state_alert(d, msg);
			return;
		}
		if (done) {
			log_info("state migrated from %s/%s to %s/%s (the file kept as %s)",
				 d->state_dir, STATE_FILE, d->state_dir, STATEDB_FILE,
				 STATEDB_MIGRATED);
		} else if (statedb_meta_get(d->db, "complete", &complete) == 0 && complete == 1) {
			/* Committed, but the file could not be renamed: the
			 * database rules, the next start renames the file. */
			snprintf(msg, sizeof(msg),
				 "state migrated into %s/%s, but the text file stays (%s); it is "
				 "renamed at the next start",
				 d->state_dir, STATEDB_FILE, err);
			state_alert(d, msg);
		} else {
			snprintf(
				msg, sizeof(msg),
				"state file read but not migrated: %s; it stays and is migrated at "
				"the next start",
				err);
			state_alert(d, msg);
		}
	} else if (r < 0) {
		/* Not damaged, but unreadable now (I/O, a full disk that
		 * leaves no room for its -shm): kept where it is.  The next
		 * save opens it again and replaces its rows by what the
		 * registry holds then; its history stays. */
		snprintf(msg, sizeof(msg),
			 "cannot read the state database: %s: starting from the kernel's sets",
			 err);
		state_alert(d, msg);
		statedb_detach(d->db, &d->eng);
		statedb_close(d->db);
		d->db = NULL;
		return;
	} else {
		/* A migration whose commit was durable but whose rename was
		 * not: the database is whole, the file is done with. */
		char to[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/%s", d->state_dir, STATE_FILE);
		snprintf(to, sizeof(to), "%s/%s", d->state_dir, STATEDB_MIGRATED);
		if (access(path, F_OK) == 0) {
			if (rename(path, to) == 0)
				log_info("%s was migrated already: renamed to %s", path, to);
			else
				log_warnx("%s was migrated already, but cannot be renamed to %s: "
					  "%s (the database rules; the file is not read)",
					  path, to, strerror(errno));
		}
	}
	log_info("state loaded from %s/%s: %u hosts", d->state_dir, from,
		 hostdb_count(&d->eng.hosts));
	if (d->eng.hosts.evicted)
		log_warnx("saved state: %llu hosts with nothing in force left the registry to fit "
			  "limits.max_blocked (%u); their history stays in %s/%s",
			  (unsigned long long)d->eng.hosts.evicted, hostdb_capacity(&d->eng.hosts),
			  d->state_dir, STATEDB_FILE);
	if (r > 0) {
		snprintf(
			msg, sizeof(msg),
			"saved state %s/%s: %d bad record%s skipped (%u alerted), the rest loaded; "
			"blocks of skipped hosts still in the kernel are adopted",
			d->state_dir, from, r, r == 1 ? "" : "s", MIN(alerts.n, LOAD_ALERTS));
		state_alert(d, msg);
	}
}

/* The sensor's figures (once a second) for one interface. */
static void cap_check_drops(struct daemon *d, unsigned i, usec_t now)
{
	struct capsrc *s = &d->caps[i];
	struct capture_stats st;
	char msg[160];

	if (!d->link.have_stats || !d->link.stats.iface[i].up)
		return;
	st = d->link.stats.iface[i].st;
	(void)capture_ifdropped(s->name, &st.ifdropped);
	/* A new sensor counts from zero again. */
	if (st.dropped < s->drops_reported)
		s->drops_reported = 0;
	s->st = st;
	/* One alert when the kernel starts dropping, then at most one a
	 * minute with the count since the last. */
	if (st.dropped > s->drops_reported && now >= s->drop_report_at) {
		snprintf(msg, sizeof(msg),
			 "capture on %s: the kernel dropped %llu packets (%llu in all); "
			 "detection may miss probes",
			 s->name, (unsigned long long)(st.dropped - s->drops_reported),
			 (unsigned long long)st.dropped);
		log_warnx("%s", msg);
		error_event(d, msg);
		s->drops_reported = st.dropped;
		s->drop_report_at = now + DROP_REPORT_US;
	}
}

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sigfd < 0)
		return -errno;
	return 0;
}

static int setup_timer(struct daemon *d)
{
	struct itimerspec its = {
		.it_interval = {.tv_nsec = TICK_MS * 1000000L},
		.it_value = {.tv_nsec = TICK_MS * 1000000L},
	};

	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->timerfd < 0)
		return -errno;
	if (timerfd_settime(d->timerfd, 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* Keys whose change needs a restart: what was opened or sized at start.
 * (The capture buffer is not: every reload starts a new sensor, which
 * opens its captures with the new size.) */
static void restart_keys(const struct daemon *d, const struct conf *a, const struct conf *b,
			 char *buf, size_t len)
{
	size_t n = 0;
	bool ifaces = a->capture.ninterfaces != b->capture.ninterfaces;

	for (unsigned i = 0; !ifaces && i < a->capture.ninterfaces; i++)
		ifaces = strcmp(a->capture.interfaces[i], b->capture.interfaces[i]) != 0;
	struct {
		bool changed;
		const char *key;
	} k[] = {
		{ifaces && !d->o->ninterfaces, "capture.interfaces"},
		{a->capture.snaplen != b->capture.snaplen, "capture.snaplen"},
		{a->enforce.mode != b->enforce.mode, "enforce.mode"},
		{a->enforce.family != b->enforce.family, "enforce.family"},
		{strcmp(a->enforce.table, b->enforce.table) != 0, "enforce.table"},
		{a->limits.max_blocked != b->limits.max_blocked, "limits.max_blocked"},
		{strcmp(a->control.socket, b->control.socket) != 0, "control.socket"},
		{strcmp(a->control.group, b->control.group) != 0, "control.group"},
		{strcmp(a->state.dir, b->state.dir) != 0, "state.dir"},
		{a->state.evidence_max_mb != b->state.evidence_max_mb, "state.evidence_max_mb"},
		{a->log.facility != b->log.facility, "log.facility"},
		{strcmp(a->log.events_file, b->log.events_file) != 0, "log.events_file"},
	};

	buf[0] = '\0';
	for (unsigned i = 0; i < ARRAY_SIZE(k) && n < len; i++)
		if (k[i].changed)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", k[i].key);
}

/* Hosts blocked but now on the never-block list are released. */
static unsigned release_never_block(struct daemon *d)
{
	struct act_change ch[64];
	char why[64][96];
	unsigned n = 0, total = 0;
	usec_t now = daemon_wall_us();

	/* The same question as every decision and every restore
	 * (engine_never_reason()): a host or machine that the new
	 * configuration forbids to block (never-block list, narrowed
	 * protected networks, own addresses) is released at once. */
	for (struct hostrec *r = hostdb_first(&d->eng.hosts);; r = hostdb_next(&d->eng.hosts, r)) {
		const char *never =
			r && r->level > LEVEL_WATCH ? engine_never_reason(&d->eng, r) : NULL;

		if (never) {
			memset(&ch[n], 0, sizeof(ch[n]));
			ch[n].rec = r;
			ch[n].level = LEVEL_NONE;
			ch[n].by_uid = -1;
			snprintf(why[n], sizeof(why[n]), "reload: %s", never);
			ch[n].reason = why[n];
			n++;
		}
		if (n && (n == ARRAY_SIZE(ch) || !r)) {
			act_apply(&d->eng, ch, n, now);
			for (unsigned i = 0; i < n; i++)
				act_emit(&d->eng, &ch[i], now);
			total += n;
			n = 0;
		}
		if (!r)
			break;
	}
	return total;
}

/* Outside changes of the table are repaired when due (repair.h). */
static void repair_due(struct daemon *d, usec_t mono)
{
	struct repair_env env = {
		.nft = d->nft,
		.eng = &d->eng,
		.remediation = &d->c->networks.remediation,
		.admin = &d->c->networks.admin,
		.out = &d->out,
		.family = d->c->enforce.family == NFT_FAMILY_BRIDGE ? "bridge" : "inet",
		.table = d->c->enforce.table,
	};

	if (d->mon)
		repair_tick(&d->rep, &env, mono, daemon_wall_us());
}

int daemon_reload(struct daemon *d, char *msg, size_t msglen, struct ctl_out *out)
{
	struct conf_diags diags;
	struct conf *nc = calloc(1, sizeof(*nc));
	char keys[512], err[512], filter[sizeof(d->filter)];
	const char *path = d->o->config;
	unsigned released;
	int r;

	if (!nc) {
		snprintf(msg, msglen, "reload: out of memory");
		return -ENOMEM;
	}
	memset(&diags, 0, sizeof(diags));
	if (!d->o->config_given && access(path, F_OK) < 0 && errno == ENOENT)
		r = conf_init_default(nc);
	else
		r = conf_load(nc, path, &diags);
	if (r < 0) {
		for (unsigned i = 0; i < diags.n; i++) {
			log_warnx("reload: %s:%d: %s", diags.d[i].file, diags.d[i].line,
				  diags.d[i].msg);
			if (out)
				ctl_out_printf(out, "%s:%d: %s\n", diags.d[i].file, diags.d[i].line,
					       diags.d[i].msg);
		}
		snprintf(msg, msglen,
			 "reload refused: %u problem%s in %s; the running "
			 "configuration stays",
			 diags.n, diags.n == 1 ? "" : "s", path);
		goto refuse;
	}
	restart_keys(d, d->c, nc, keys, sizeof(keys));
	if (keys[0]) {
		snprintf(msg, msglen, "reload refused: %s changed; restart quarantined to apply",
			 keys);
		goto refuse_loaded;
	}
	r = filter_build(nc, filter, sizeof(filter));
	if (r < 0) {
		snprintf(msg, msglen, "reload refused: capture filter: %s", strerror(-r));
		goto refuse_loaded;
	}
	/* An operator's reload also ends a hold on repairs of the table
	 * (repair.h), and the table is repaired first: the new networks go
	 * into it. */
	if (repair_resume(&d->rep, daemon_mono_us()))
		repair_due(d, daemon_mono_us());
	/* The kernel first: the remediation and admin sets, and in an
	 * outbreak the groups of the new inventory, atomically. */
	if (d->nft) {
		r = daemon_outbreak_stage(d, nc, err, sizeof(err));
		if (r == 0)
			r = nft_set_networks(d->nft, &nc->networks.remediation, &nc->networks.admin,
					     err, sizeof(err));
		if (r < 0) {
			daemon_outbreak_stage(d, d->c, err + 256, sizeof(err) - 256);
			snprintf(msg, msglen, "reload refused: %.400s", err);
			goto refuse_loaded;
		}
	}
	r = engine_reconfigure(&d->eng, nc);
	if (r < 0) {
		if (d->nft && daemon_outbreak_stage(d, d->c, err, sizeof(err)) == 0)
			nft_set_networks(d->nft, &d->c->networks.remediation, &d->c->networks.admin,
					 err, sizeof(err));
		snprintf(msg, msglen, "reload refused: %s", strerror(-r));
		goto refuse_loaded;
	}
	if (d->conf_owned) {
		conf_fini(d->c);
		free(d->c);
	} else {
		conf_fini(d->c);
	}
	d->c = nc;
	d->conf_owned = true;
	/* The sensor senses with the configuration it was started with: a
	 * new one, with the new configuration and capture filter and the
	 * whole state of the blocks and bindings.  Detection windows and
	 * pending probes start afresh (quarantined(8), PROCESS MODEL). */
	strcpy(d->filter, filter);
	released = release_never_block(d);
	engine_commit(&d->eng);
	r = d->link.p.eng ? sensorlink_restart(&d->link, d->c, d->filter, err, sizeof(err)) : 0;
	if (r < 0) {
		char m2[700];
		snprintf(m2, sizeof(m2), "reload: the new sensor did not start: %s; retrying", err);
		log_warnx("%s", m2);
		error_event(d, m2);
		d->link.restart_at = daemon_mono_us() + USEC_PER_SEC;
	}
	/* The feeds reader too (its feeds and map may have changed); the
	 * positions of the feeds kept go to the new one. */
	r = d->feeds.p.eng ? feedlink_restart(&d->feeds, d->c, err, sizeof(err)) : 0;
	if (r < 0) {
		char m2[700];
		snprintf(m2, sizeof(m2), "reload: the new feeds reader did not start: %s; retrying",
			 err);
		log_warnx("%s", m2);
		error_event(d, m2);
		d->feeds.restart_at = daemon_mono_us() + USEC_PER_SEC;
	}
	snprintf(msg, msglen, "configuration reloaded from %s: %u rules, %u inventory entries%s",
		 nc->path[0] ? nc->path : "built-in defaults", nc->nrules, nc->inventory.n,
		 released ? "; hosts the configuration no longer lets us block released" : "");
	log_info("%s", msg);
	return 0;

refuse_loaded:
	conf_fini(nc);
refuse:
	free(nc);
	log_warnx("%s", msg);
	error_event(d, msg);
	return -EINVAL;
}

static void handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: stopping (the nftables table stays in place)",
				 si.ssi_signo);
			d->quit = true;
			break;
		case SIGHUP: {
			char msg[512];
			daemon_reload(d, msg, sizeof(msg), NULL);
			break;
		}
		default:
			break;
		}
	}
}

static void neigh_read(struct daemon *d)
{
	int r = neighmon_read(d->neigh);

	/* Lost notifications under a flood of neighbours are expected and
	 * repaired by a fresh dump: a line, not an alert storm. */
	if (r < 0 && r != -ENOBUFS)
		log_warnx("neighbour notifications: %s", strerror(-r));
	else if (r == -ENOBUFS)
		d->neigh_lost++;
}

static void on_tick(struct daemon *d)
{
	uint64_t expirations;
	usec_t mono = daemon_mono_us();

	while (read(d->timerfd, &expirations, sizeof(expirations)) > 0)
		;
	engine_tick(&d->eng, daemon_wall_us());
	sensorlink_tick(&d->link, daemon_wall_us(), mono);
	feedlink_tick(&d->feeds, daemon_wall_us(), mono);
	/* A re-dump of the neighbours held back under a flood is due. */
	neigh_read(d);
	evidence_tick(d);
	maybe_save(d, true);
	drain_log(d, mono);
	db_tick(d, mono);
	repair_due(d, mono);
	if (d->eng.resync) {
		int r = act_sync(&d->eng, daemon_wall_us());
		if (r < 0)
			log_warnx("reading the kernel's sets back failed: %s", strerror(-r));
	}
	for (unsigned i = 0; i < d->ncaps; i++)
		cap_check_drops(d, i, mono);
}

static int socket_path(struct daemon *d)
{
	const char *p = d->o->socket ? d->o->socket : d->c->control.socket;
	char dir[sizeof(d->socket_path)];
	char *slash;

	if (strlen(p) >= sizeof(d->socket_path))
		return -ENAMETOOLONG;
	strcpy(d->socket_path, p);
	/* The runtime directory normally comes from systemd; create it when
	 * run by hand. */
	strcpy(dir, p);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* Everything that needed root is open: keep CAP_NET_ADMIN and CAP_NET_RAW
 * only, as our own user. */
static int drop_privileges(struct daemon *d)
{
	const char *dirs[] = {d->state_dir};
	struct privs_result pr;
	char err[512];
	int r = privs_drop(PRIVS_USER, dirs, 1, &pr, err, sizeof(err));

	if (r < 0) {
		log_warnx("dropping privileges failed: %s", err);
		return 1;
	}
	if (pr.no_user)
		log_warnx("user %s does not exist: running as root, but with only CAP_NET_ADMIN "
			  "and CAP_NET_RAW",
			  PRIVS_USER);
	else
		log_info("running as uid %u gid %u with CAP_NET_ADMIN and CAP_NET_RAW only",
			 (unsigned)pr.uid, (unsigned)pr.gid);
	return 0;
}

/* The single-instance check, before anything touches the kernel, the
 * state or the control socket: a second daemon started by mistake must
 * leave the running one's table (its remediation and admin sets above
 * all), saved state and socket as they are.  The state directory is
 * locked, the table's name is claimed in this network namespace (two
 * daemons with different state directories may name one table), and the
 * control socket, which refuses when another daemon answers on it, is
 * opened.  Clients that connect before the loop starts wait in the
 * listen backlog.  Exit status, 0 when every claim holds. */
static int claim(struct daemon *d)
{
	char err[512];
	int r;

	snprintf(d->state_dir, sizeof(d->state_dir), "%s",
		 d->o->state_dir ? d->o->state_dir : d->c->state.dir);
	if (mkdir(d->state_dir, 0750) < 0 && errno != EEXIST) {
		log_warn("state directory %s", d->state_dir);
		return 1;
	}
	r = instance_lock_dir(&d->inst, d->state_dir, err, sizeof(err));
	if (r < 0) {
		log_warnx("%s%s", err, r == -EBUSY ? "; exiting, nothing changed" : "");
		return 1;
	}
	/* Only an enforcing daemon writes the table (enforce.mode needs a
	 * restart to change). */
	if (d->mode == MODE_ENFORCE) {
		r = instance_lock_table(
			&d->inst, d->c->enforce.family == NFT_FAMILY_BRIDGE ? "bridge" : "inet",
			d->c->enforce.table, err, sizeof(err));
		if (r < 0) {
			log_warnx("%s%s", err, r == -EBUSY ? "; exiting, nothing changed" : "");
			return 1;
		}
	}
	r = socket_path(d);
	if (r < 0) {
		log_warnx("control socket %s: %s", d->socket_path, strerror(-r));
		return 1;
	}
	r = control_open(d->socket_path, d->c->control.group, commands_handle, d, &d->ctl, err,
			 sizeof(err));
	if (r < 0) {
		log_warnx("%s", err);
		return 1;
	}
	return 0;
}

static int startup(struct daemon *d)
{
	char err[512];
	int r;

	r = setup_signals(d);
	if (r == 0)
		r = setup_timer(d);
	if (r < 0) {
		log_warnx("signals/timer: %s", strerror(-r));
		return 1;
	}
	r = claim(d);
	if (r != 0)
		return r;
	if (d->c->log.events_file[0]) {
		r = output_open_events_file(&d->out, d->c->log.events_file);
		if (r < 0) {
			log_warnx("events file %s: %s", d->c->log.events_file, strerror(-r));
			return 1;
		}
	}
	if (d->mode == MODE_ENFORCE) {
		struct nft_params np = {
			.family = d->c->enforce.family == NFT_FAMILY_BRIDGE ? NFPROTO_BRIDGE
									    : NFPROTO_INET,
			.gateway_services = NFT_GW_DHCP | NFT_GW_DNS,
		};
		struct enforce_backend be = {.commit = be_commit, .list = be_list};

		snprintf(np.table, sizeof(np.table), "%s", d->c->enforce.table);
		r = nft_open(&np, &d->nft);
		if (r < 0) {
			log_warnx("netlink (nftables): %s%s", strerror(-r),
				  r == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
			return 1;
		}
		/* Outside changes are watched from before the table is set
		 * up: none made after it can be missed. */
		struct nftmon_filter mf = {.family = (uint8_t)np.family,
					   .own_portid = nft_portid(d->nft)};
		snprintf(mf.table, sizeof(mf.table), "%s", np.table);
		repair_init(&d->rep);
		r = nftmon_open(&mf, &d->mon);
		if (r < 0) {
			log_warnx("netlink (nftables notifications): %s", strerror(-r));
			return 1;
		}
		r = nft_setup(d->nft, &d->c->networks.remediation, &d->c->networks.admin, err,
			      sizeof(err));
		if (r < 0) {
			log_warnx("%s", err);
			return 1;
		}
		be.arg = d->nft;
		enforce_init(&d->enf, &be);
	}
	r = engine_init(&d->eng, d->c, d->mode, &d->out, d->mode == MODE_ENFORCE ? &d->enf : NULL,
			&d->link.ops);
	if (r < 0) {
		log_warnx("cannot set up detection: %s", strerror(-r));
		return 1;
	}
	d->eng.is_self = is_self;
	d->eng.self_arg = d;
	/* Records evicted from a full registry or purged keep their
	 * history in the database (statedb.h); the archive file of earlier
	 * versions is no longer written. */
	d->eng.persist = persist;
	d->eng.persist_arg = d;
	load_state(d);
	/* Outbreak mode as it was saved, in the kernel before we say ready
	 * (nft_setup() left the segmentation in force meanwhile). */
	if (d->mode == MODE_ENFORCE || d->mode == MODE_ALERT)
		daemon_outbreak_restore(d);
	/* Where each feed was left (the reader starts after the drop). */
	feedlink_load(&d->feeds, d->db);
	evidence_setup(d);
	r = netmon_open(&d->nm);
	if (r < 0) {
		/* Without it the gateway's own addresses are not protected. */
		log_warnx("rtnetlink (own addresses): %s", strerror(-r));
		return 1;
	}
	/* The gateway's MACs first (its own frames are not a machine's),
	 * then what the kernel knows of its neighbours. */
	identity_set_own(d->eng.id, is_own_mac, d);
	r = neighmon_open(on_neigh, d, &d->neigh);
	if (r < 0) {
		log_warnx("rtnetlink (neighbours, bridge FDB, own MACs): %s", strerror(-r));
		return 1;
	}
	if (d->mode == MODE_ENFORCE) {
		usec_t now = daemon_wall_us();

		r = act_sync(&d->eng, now);
		if (r < 0) {
			log_warnx("reading the nftables table: %s", strerror(-r));
			return 1;
		}
		/* TTLs that ran out while we were down. */
		engine_tick(&d->eng, daemon_wall_us());
		act_announce_restored(&d->eng, now);
	}
	/* What was adopted or restored is saved before we say ready. */
	daemon_save(d);
	/* No connection across the sensor's fork: closed here (which
	 * checkpoints the WAL into the file, so that the state directory
	 * handed to our user holds the database whole) and opened again
	 * once the sensor runs. */
	if (d->db) {
		statedb_detach(d->db, &d->eng);
		statedb_close(d->db);
		d->db = NULL;
	}
	r = filter_build(d->c, d->filter, sizeof(d->filter));
	if (r < 0) {
		log_warnx("capture filter: %s", strerror(-r));
		return 1;
	}
	r = drop_privileges(d);
	if (r != 0)
		return r;
	/* The sensor last, as our own user with CAP_NET_RAW to open the
	 * captures, which it then drops with everything else. */
	d->link.p.sp.c = d->c;
	d->link.p.sp.copts.filter = d->filter;
	r = sensorlink_start(&d->link, SENSOR_START_MS, err, sizeof(err));
	if (r < 0) {
		log_warnx("sensor: %s", err);
		return 1;
	}
	/* The feeds reader, as our own user, drops the rest (feeds.h).  It
	 * says ready on its own time: the files are followed meanwhile. */
	r = feedlink_start(&d->feeds, err, sizeof(err));
	if (r < 0) {
		log_warnx("feeds reader: %s", err);
		return 1;
	}
	/* The records' rows are those of the same file: no rewrite. */
	r = statedb_open(d->state_dir, &d->db, err, sizeof(err));
	if (r < 0) {
		char msg[700];

		snprintf(msg, sizeof(msg), "cannot open the state database again: %s", err);
		state_alert(d, msg);
		d->db = NULL;
	} else {
		statedb_attach(d->db, &d->eng);
	}
	for (unsigned i = 0; i < d->ncaps; i++)
		if (d->link.iface_down[i] && d->link.iface_error[i] != -ENODEV &&
		    d->link.iface_error[i] != -ENETDOWN)
			return 1;
	return 0;
}

static void loop(struct daemon *d)
{
	struct pollfd fds[MAX_POLLFDS];

	while (!d->quit) {
		unsigned n = 0, nctl;
		int sen_i = -1, fee_i = -1, nm_i, nb_i, mon_i = -1, sig_i, tim_i, ctl_i, timeout;

		if (sensorlink_fd(&d->link) >= 0) {
			sen_i = (int)n;
			fds[n++] = (struct pollfd){.fd = sensorlink_fd(&d->link), .events = POLLIN};
		}
		if (feedlink_fd(&d->feeds) >= 0) {
			fee_i = (int)n;
			fds[n++] = (struct pollfd){.fd = feedlink_fd(&d->feeds), .events = POLLIN};
		}
		nm_i = (int)n;
		fds[n++] = (struct pollfd){.fd = netmon_fd(d->nm), .events = POLLIN};
		nb_i = (int)n;
		fds[n++] = (struct pollfd){.fd = neighmon_fd(d->neigh), .events = POLLIN};
		if (d->mon) {
			mon_i = (int)n;
			fds[n++] = (struct pollfd){.fd = nftmon_fd(d->mon), .events = POLLIN};
		}
		sig_i = (int)n;
		fds[n++] = (struct pollfd){.fd = d->sigfd, .events = POLLIN};
		tim_i = (int)n;
		fds[n++] = (struct pollfd){.fd = d->timerfd, .events = POLLIN};
		ctl_i = (int)n;
		nctl = control_pollfds(d->ctl, fds + n, MAX_POLLFDS - n);
		n += nctl;
		timeout = control_timeout_ms(d->ctl, daemon_mono_us());

		if (poll(fds, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			break;
		}
		/* The sensor's reports first: the decisions of this read go
		 * into one transaction right after (sensorlink_read()). */
		if (sen_i >= 0 && (fds[sen_i].revents & (POLLIN | POLLERR | POLLHUP)))
			sensorlink_read(&d->link, daemon_wall_us(), daemon_mono_us());
		if (fee_i >= 0 && (fds[fee_i].revents & (POLLIN | POLLERR | POLLHUP)))
			feedlink_read(&d->feeds, daemon_wall_us(), daemon_mono_us());
		if (fds[nm_i].revents & POLLIN) {
			int r = netmon_read(d->nm);
			if (r < 0)
				log_warnx("address notifications: %s", strerror(-r));
		}
		if (fds[nb_i].revents & POLLIN)
			neigh_read(d);
		if (mon_i >= 0 && (fds[mon_i].revents & POLLIN)) {
			int r = repair_read(&d->rep, d->mon, daemon_mono_us());
			if (r < 0)
				log_warnx("nftables notifications: %s", strerror(-r));
		}
		if (fds[sig_i].revents & POLLIN)
			handle_signals(d);
		if (fds[tim_i].revents & POLLIN)
			on_tick(d);
		control_dispatch(d->ctl, fds + ctl_i, nctl, daemon_mono_us());
		/* Commands may have queued work too. */
		engine_commit(&d->eng);
		/* The blocks of this turn, to the sensor in few messages. */
		sensorlink_flush(&d->link);
		/* Once per batch, after the kernel. */
		maybe_save(d, false);
	}
}

/* Every event, as the daemon's output renders it: kept among the recent
 * ones and handed to the followers of the control socket. */
static void event_tap(void *arg, usec_t ts, const char *text, const char *json)
{
	struct daemon *d = arg;

	/* Out of memory: the event is still in syslog and the events file;
	 * only `quarantinectl events` misses it. */
	(void)evring_add(&d->recent, ts, text, json);
	if (d->ctl)
		control_publish(d->ctl, text, json, daemon_wall_us());
}

int daemon_run(const struct daemon_opts *o, struct conf *c)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int status = 0;

	if (!d) {
		log_warnx("out of memory");
		conf_fini(c);
		return 1;
	}
	d->o = o;
	d->c = c;
	d->sigfd = d->timerfd = -1;
	instance_init(&d->inst);
	d->mode = (o->dry_run || c->enforce.mode == ENFORCE_ALERT) ? MODE_ALERT : MODE_ENFORCE;
	d->start_mono = daemon_mono_us();
	d->start_wall = daemon_wall_us();
	output_init(&d->out, o->foreground ? stdout : NULL, o->format, true);
	if (evring_init(&d->recent, EVRING_MAX_EVENTS, EVRING_MAX_BYTES) < 0) {
		log_warnx("out of memory");
		conf_fini(c);
		free(d);
		return 1;
	}
	output_set_tap(&d->out, event_tap, d);
	if (o->foreground)
		setvbuf(stdout, NULL, _IOLBF, 0);
	if (o->ninterfaces)
		for (unsigned i = 0; i < o->ninterfaces; i++)
			snprintf(d->caps[d->ncaps++].name, IF_NAMESIZE, "%s", o->interfaces[i]);
	else
		for (unsigned i = 0; i < c->capture.ninterfaces; i++)
			snprintf(d->caps[d->ncaps++].name, IF_NAMESIZE, "%s",
				 c->capture.interfaces[i]);
	if (d->ncaps == 0) {
		log_warnx("no capture interface: give -i IF or capture.interfaces");
		conf_fini(c);
		evring_fini(&d->recent);
		free(d);
		return 2;
	}
	{
		struct sensorlink_params lp = {
			.eng = &d->eng,
			.out = &d->out,
			.own_macs = own_macs,
			.own_arg = d,
			.on_start = on_sensor_start,
			.start_arg = d,
		};
		lp.sp.ncaps = d->ncaps;
		for (unsigned i = 0; i < d->ncaps; i++)
			memcpy(lp.sp.ifnames[i], d->caps[i].name, IF_NAMESIZE);
		lp.sp.copts = (struct capture_opts){
			.snaplen = c->capture.snaplen,
			.buffer_mb = c->capture.buffer_mb,
			.promisc = true,
		};
		if (c->state.evidence_max_mb) {
			lp.sp.ring_packets = EVIDENCE_RING;
			lp.sp.snaplen = c->capture.snaplen;
			lp.sp.follow = EVIDENCE_FOLLOW;
		}
		sensorlink_init(&d->link, &lp);
	}
	{
		struct feedlink_params fp = {.eng = &d->eng, .out = &d->out, .c = c};

		feedlink_init(&d->feeds, &fp);
	}

	status = startup(d);
	if (status == 0) {
		log_info("started: %s mode, table %s %s, %u interface(s), control %s",
			 d->mode == MODE_ENFORCE ? "enforce" : "alert (dry run)",
			 c->enforce.family == NFT_FAMILY_BRIDGE ? "bridge" : "inet",
			 c->enforce.table, d->ncaps, d->socket_path);
		notify("READY=1");
		/* Start-up problems went to stderr as well; from now on, syslog
		 * alone unless in the foreground. */
		if (!o->foreground)
			log_set_where(LOG_TO_SYSLOG);
		loop(d);
		notify("STOPPING=1");
		sensorlink_stop(&d->link);
		feedlink_stop(&d->feeds);
		engine_commit(&d->eng);
		daemon_save(d);
	}
	sensorlink_stop(&d->link);
	feedlink_stop(&d->feeds);

	control_close(d->ctl);
	d->ctl = NULL; /* an event from here on goes to no follower */
	/* The configuration is ours to finish: the caller's, or the one a
	 * reload allocated in its place. */
	conf_fini(d->c);
	if (d->conf_owned)
		free(d->c);
	netmon_close(d->nm);
	neighmon_close(d->neigh);
	evidence_free(d->evidence);
	if (d->db) {
		statedb_detach(d->db, &d->eng);
		statedb_close(d->db);
		d->db = NULL;
	}
	engine_fini(&d->eng);
	nftmon_close(d->mon);
	nft_close(d->nft);
	output_close(&d->out);
	evring_fini(&d->recent);
	/* Last: the claims hold until everything else is closed. */
	instance_release(&d->inst);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	free(d);
	return status;
}
