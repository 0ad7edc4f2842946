/* The live daemon's parent process: one poll loop over the sensor's
 * reports (sensorlink.h), the control socket, address and neighbour
 * changes, outside changes of the table, signals and a timer;
 * enforcement through nftables. */
#ifndef QD_DAEMON_H
#define QD_DAEMON_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>

#include "cmdsync.h"
#include "capture.h"
#include "conf.h"
#include "control.h"
#include "engine.h"
#include "evring.h"
#include "enforce.h"
#include "feedlink.h"
#include "instance.h"
#include "neighmon.h"
#include "netmon.h"
#include "nft.h"
#include "nftmon.h"
#include "outbreak.h"
#include "output.h"
#include "prom.h"
#include "repair.h"
#include "sensorlink.h"

struct daemon_opts {
	const char *interfaces[CONF_MAX_IFACES]; /* -i, overriding capture.interfaces */
	unsigned ninterfaces;
	bool dry_run;
	const char *socket;    /* -S, overriding control.socket */
	const char *state_dir; /* -D, overriding state.dir */
	enum output_format format;
	bool foreground;
	const char *config; /* the file to read again on reload */
	bool config_given;  /* -c: the file must exist */
};

/* A capture interface; the sensor has its handle (sensor.h). */
struct capsrc {
	char name[IF_NAMESIZE];
	struct capture_stats st; /* as the sensor last reported */
	uint64_t drops_reported;
	usec_t drop_report_at; /* monotonic; no drop alert before this */
};

struct daemon {
	const struct daemon_opts *o;
	struct conf *c;
	enum run_mode mode;
	struct output out;
	struct evring recent; /* the recent events, for quarantinectl events */
	struct engine eng;
	struct nft *nft;
	struct nftmon *mon; /* outside changes of the table (enforce mode) */
	struct repair rep;  /* and their repair */
	struct enforcer enf;
	struct control *ctl;
	struct instance inst; /* the state-dir lock and the table's name */
	struct netmon *nm;
	struct neighmon *neigh; /* the kernel's neighbours and bridge FDBs, for identity */
	uint64_t neigh_lost;	/* neighbour notifications lost (re-dumped) */
	struct capsrc caps[CONF_MAX_IFACES];
	unsigned ncaps;
	struct sensorlink link; /* the sensor process: captures and detection */
	struct feedlink feeds;	/* the feeds reader process: IDS alerts (feeds.h) */
	int sigfd, timerfd;
	char filter[2048];
	char socket_path[108];
	char state_dir[PATH_MAX];
	struct evidence *evidence;
	usec_t saved_mono;	     /* last successful save (monotonic) */
	usec_t save_cost_us;	     /* how long it took */
	struct prom_hist save_hist;  /* how long each successful save took */
	usec_t save_alert_mono;	     /* no alert about a failed save before this */
	unsigned long save_failures; /* failed saves since the last good one */
	/* A bulk command is applying its batches: persist() gathers them
	 * into the database's host log (statedb_log_recs()), which the
	 * command makes durable with daemon_persist_flush() before it emits
	 * an event or hands the loop back; their rows come when the tick
	 * drains the log (statedb_drain()). */
	bool persist_log;
	usec_t logged_mono; /* the last entry of the host log was written */
	/* The state database (statedb.h); NULL while it cannot be opened
	 * (then opened again at the next save).  Closed over the sensor's
	 * fork. */
	struct statedb *db;
	usec_t db_open_mono;	       /* no new attempt to open it before this */
	usec_t wal_alert_mono;	       /* no alert about the WAL's size before this */
	usec_t prune_mono;	       /* next pruning of old history lines */
	bool evidence_capped;	       /* alerted about the evidence cap */
	uint64_t evidence_errors_told; /* evidence write errors alerted so far */
	uint64_t sensor_errors_seen;   /* the running sensor's count, as last reported */
	uint64_t sensor_errors_total;  /* every sensor's */
	usec_t evidence_alert_mono;    /* no alert about them before this */
	usec_t start_mono, start_wall;
	bool quit;
	bool conf_owned; /* c was allocated by a reload (else it is the caller's) */
	/* Outbreak mode (outbreak_mode.c): the switch, and its groups
	 * (the "unassigned" one included). */
	struct outbreak_state ob;
	unsigned ob_groups;
	struct sync_report sync; /* what the sync program last said (cmdsync.h) */
};

/* Runs the daemon until SIGTERM/SIGINT.  Takes c (its contents are
 * finished by daemon_run, which may replace it on reload; the struct itself
 * stays the caller's).  Returns the exit status. */
int daemon_run(const struct daemon_opts *o, struct conf *c);

/* The control protocol handler (commands.c). */
int commands_handle(void *arg, const struct ctl_request *req, const struct ctl_peer *peer,
		    struct ctl_out *out, char *msg, size_t msglen);

/* The daemon's figures in the Prometheus text format (metrics.c, for
 * `quarantinectl metrics`; prom.h): every family, whole, through s. */
void metrics_render(struct daemon *d, const struct prom_sink *s);

/* Reads the configuration again (SIGHUP, quarantinectl reload).  It is
 * checked in full before it replaces the running one; on any error the
 * running one stays and the problems are in msg (and, one per line, in out
 * when not NULL).  0 or -errno. */
int daemon_reload(struct daemon *d, char *msg, size_t msglen, struct ctl_out *out);

/* Saves the state now (a certification must not wait for the loop). */
void daemon_save(struct daemon *d);
/* Makes the batches a bulk command gathered (persist_log) durable: one
 * transaction; a failure is alerted as a failed save. */
void daemon_persist_flush(struct daemon *d);

/* Outbreak mode (outbreak_mode.c).  Switches it as want says (on: by,
 * since_us, the operator and the reason; off), the kernel first, then
 * the state database, an event and a syslog line.  0 (an answer in msg,
 * also when it was already so), or -errno (refused, nothing changed).
 * Switching on again with another grouping regroups. */
int daemon_outbreak_set(struct daemon *d, const struct outbreak_state *want, char *msg,
			size_t msglen);
/* At start, once the state database is open: the saved switch back in
 * the kernel (or the kernel's segmentation lifted when it is off), in
 * one transaction. */
void daemon_outbreak_restore(struct daemon *d);
/* Reload: the groups of configuration c staged, to go into the kernel
 * with the next nft_set_networks() (one transaction).  0 or -errno. */
int daemon_outbreak_stage(struct daemon *d, const struct conf *c, char *err, size_t errlen);
/* The never-block list changed at run time (allow, disallow): in an
 * outbreak, the essential servers again, in one transaction.  0 or
 * -errno. */
int daemon_outbreak_refresh(struct daemon *d, char *err, size_t errlen);

usec_t daemon_wall_us(void);
usec_t daemon_mono_us(void);

#endif
