/* The parent's end of the feeds reader (feeds.h): starting it after the
 * parent's privileges are dropped, giving it the positions kept in the
 * state database, taking its detections to the engine after checking
 * every field (feedproto.h, outside_check()), its errors to error events
 * (rate-limited) and its figures to status, keeping its positions, and
 * starting a new one when it dies (a backoff of 1 s, doubling up to 60 s
 * for a reader that dies within 10 s of its start).  Without feeds in
 * the configuration there is no reader. */
#ifndef QD_FEEDLINK_H
#define QD_FEEDLINK_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"
#include "engine.h"
#include "feedproto.h"
#include "follow.h"
#include "ipc.h"
#include "output.h"

struct statedb;

/* Error events a second from the reader; more are counted and the count
 * goes with the next one. */
#define FEEDLINK_ERRORS_SEC 5

struct feedlink_params {
	struct engine *eng; /* borrowed: where detections go */
	struct output *out; /* alerts and error events */
	const struct conf *c;
	/* What the child runs in place of feeds_main() (the tests' hostile
	 * readers); NULL: feeds_main().  Its return is the exit status. */
	int (*child)(void *arg, int fd);
	void *child_arg;
};

/* A file feed's position, by the feed's name and path (a feed renamed or
 * pointed elsewhere starts afresh). */
struct feedlink_pos {
	char name[CONF_NAME_MAX];
	char path[PATH_MAX];
	struct follow_pos pos;
	bool have;
	bool dirty; /* not in the database yet */
};

/* What became of the detections of a feed (engine_outside_ex()). */
struct feedlink_counts {
	uint64_t taken, duplicate, refused, over_budget, invalid;
};

struct feedlink {
	struct feedlink_params p;
	struct ipc ipc;
	pid_t pid; /* 0: none running */
	bool ready;
	usec_t restart_at; /* monotonic; 0: nothing scheduled */
	usec_t backoff_us;
	usec_t started_mono;
	uint64_t starts, deaths, protocol_errors;
	struct fp_stats stats; /* the latest */
	bool have_stats;
	uint64_t lost_told[CONF_MAX_FEEDS]; /* the running reader's losses alerted */
	struct feedlink_counts counts[CONF_MAX_FEEDS];
	struct feedlink_pos pos[CONF_MAX_FEEDS]; /* indexed as p.c->feeds */
	/* Error events: at most FEEDLINK_ERRORS_SEC a second. */
	usec_t err_sec;
	unsigned err_n;
	uint64_t err_untold;
};

/* Sets up the link (no reader yet); p is copied. */
void feedlink_init(struct feedlink *l, const struct feedlink_params *p);
/* Whether there is anything to read (feeds configured). */
bool feedlink_wanted(const struct feedlink *l);
/* The positions kept in db (meta "feed.NAME.*"), for the next start. */
void feedlink_load(struct feedlink *l, struct statedb *db);
/* The positions that moved, into db.  0 or -errno with err filled. */
int feedlink_save(struct feedlink *l, struct statedb *db, char *err, size_t errlen);
/* Starts a reader (nothing without feeds); it says ready on its own
 * time.  0, or -errno with err filled. */
int feedlink_start(struct feedlink *l, char *err, size_t errlen);
/* Kills and reaps the reader. */
void feedlink_stop(struct feedlink *l);
/* The configuration changed (reload): a new reader with c, the
 * positions of the feeds it keeps (same name and path) kept. */
int feedlink_restart(struct feedlink *l, const struct conf *c, char *err, size_t errlen);
/* For poll(): the channel (-1: no reader). */
int feedlink_fd(const struct feedlink *l);
/* Reads what the reader sent (a bounded number a call). */
void feedlink_read(struct feedlink *l, usec_t wall, usec_t mono);
/* One message, as ipc_recv() passed it: checked and handled.  0, or
 * -EPROTO: the reader was ended (alerted).  For the fuzzer and tests. */
int feedlink_handle(struct feedlink *l, const struct ipc_msg *m, usec_t wall);
/* The timer: a due restart. */
void feedlink_tick(struct feedlink *l, usec_t wall, usec_t mono);
/* "running", "starting", "restarting" or "off" (no feeds). */
const char *feedlink_state(const struct feedlink *l);

#endif
