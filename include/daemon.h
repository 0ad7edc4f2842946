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
#include "instance.h"
#include "neighmon.h"
#include "netmon.h"
#include "nft.h"
#include "nftmon.h"
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
	bool conf_owned;	 /* c was allocated by a reload (else it is the caller's) */
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

usec_t daemon_wall_us(void);
usec_t daemon_mono_us(void);

#endif
