/* The engine ties the pieces together for one run: decoded packets go
 * through machine identity (who sent it) to the detector; each detection
 * goes through policy, the host registry and incident grouping; what is
 * to be enforced is queued and put in the kernel in one transaction per
 * burst of packets (engine_commit()); then the events come out, saying
 * whether the kernel acknowledged. */
#ifndef QD_ENGINE_H
#define QD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "decode.h"
#include "detect.h"
#include "enforce.h"
#include "hostdb.h"
#include "identity.h"
#include "incident.h"
#include "outside.h"
#include "output.h"
#include "policy.h"
#include "sense.h"

#define ENGINE_MAX_INCIDENTS 16384
/* Detections queued for one transaction; a fuller queue is committed at
 * once (bounds the memory and the latency of one burst). */
#define ENGINE_QUEUE 256

/* A hit whose rule is no longer in the configuration (after a reload). */
#define ENGINE_RULE_GONE 0xfe

#define ENGINE_DIRTY_SOON 1
#define ENGINE_DIRTY_NOW  2

/* The budget of detections from outside, per source (a token bucket):
 * so many a second, with a burst.  An IDS that alerts on every packet of
 * a flood, or a hostile feed, is cut off here, counted, and told in one
 * error event a second; an antivirus import, an operator's command, may
 * bring a console's whole export at once. */
#define ENGINE_OUTSIDE_RATE	50
#define ENGINE_OUTSIDE_BURST	500
#define ENGINE_OUTSIDE_AV_RATE	500
#define ENGINE_OUTSIDE_AV_BURST 20000
/* How far the outside tool's clock may be ahead of ours, and how old a
 * detection may say it is, for its time to be taken as the host's first
 * probe (outside_detection.ts_us); beyond, the time it reached us is. */
#define ENGINE_OUTSIDE_SKEW_S	 60
#define ENGINE_OUTSIDE_MAX_AGE_S 86400

/* Binding events (identity alerts) a minute; more are counted and the
 * count goes with the next one. */
#define ENGINE_BINDING_EVENTS 120

/* What the engine tells the sensing side (sense.h) about its decisions:
 * the same process's (offline, tests), or the sensor process's, to which
 * the daemon sends each call as a message (sensor.h). */
struct engine_sensor {
	/* From at_us on, key (a MAC or an address) is blocked as b says;
	 * NULL: nothing is in force for it (detect_set_block()). */
	void (*set_block)(void *arg, const struct qaddr *key, const struct detect_block *b,
			  usec_t at_us);
	/* host was released: its next detection starts afresh
	 * (detect_forget()), and its evidence file ends. */
	void (*forget)(void *arg, const struct qaddr *host);
	/* key is under surveillance until until_us (detect_set_surveil()). */
	void (*set_surveil)(void *arg, const struct qaddr *key, usec_t until_us);
	/* A machine blocked or released (identity_set_frozen()). */
	void (*set_frozen)(void *arg, const uint8_t mac[MAC_LEN], bool frozen);
	/* Starts the evidence file of host (a MAC or an address) flagged at
	 * now, named after label; its name into name.  0 or -errno (no
	 * evidence kept, the cap reached, the disk full). */
	int (*evidence_start)(void *arg, const struct qaddr *host, const struct qaddr *label,
			      usec_t now, char *name, size_t len);
	/* Outbreak mode on or off: the rules' thresholds times
	 * outbreak.factor while on (detect_set_outbreak()).  NULL: none. */
	void (*set_outbreak)(void *arg, bool on);
	void *arg;
};

struct engine_stats {
	uint64_t detections;
	/* Detections by rule index (conf.rules, then DETECT_RULE_TRW): a
	 * reload carries each rule's count over by name, and drops those of
	 * rules no longer configured (engine_reconfigure()). */
	uint64_t by_rule[DETECT_RULE_TRW + 1];
	uint64_t detections_suppressed; /* same host, rule and level as before */
	uint64_t registry_full;
	uint64_t actions; /* level changes put in force */
	/* The same by the level put in force (LEVEL_NONE: a release). */
	uint64_t actions_by_level[LEVEL_ISOLATE + 1];
	uint64_t action_errors;
	/* Detections by source (enum det_source; SOURCE_SELF: our own). */
	uint64_t by_source[SOURCE_COUNT];
	/* Detections from outside over their source's budget, dropped. */
	uint64_t outside_dropped[SOURCE_COUNT];
	uint64_t outside_invalid; /* refused by outside_check() */
};

/* One source's budget (ENGINE_OUTSIDE_RATE): tokens left, when they
 * were last counted, and the drops not told yet. */
struct outside_budget {
	uint32_t tokens;
	usec_t at_us;
	uint64_t untold;
	uint64_t told_s; /* the second of the last error event */
};

/* What became of one detection from outside (engine_outside_ex()). */
enum outside_fate {
	OUTSIDE_TAKEN = 0,   /* through policy: queued, watched or alerted */
	OUTSIDE_DUPLICATE,   /* the same host and rule as before: suppressed */
	OUTSIDE_REFUSED,     /* policy will not act on it: why says why */
	OUTSIDE_OVER_BUDGET, /* its source's budget is spent: dropped */
	OUTSIDE_INVALID,     /* outside_check() refused it */
	OUTSIDE_FULL,	     /* the registry is full of blocked hosts */
};

struct pending {
	struct detection det;
	struct hostrec *rec; /* whose: the registry's record of det.host */
	struct decision dec;
	const struct inv_entry *inv;
	unsigned incident;   /* 0: none */
	bool announce;	     /* emit the incident event after the detect */
	unsigned recurrence; /* >0: the host was released and is back */
	uint64_t ttl_s;	     /* TTL of the block this asks for */
	/* A detection from outside: its fields (engine.oq's copy while
	 * queued); NULL for our own. */
	const struct outside_detection *o;
};

struct engine {
	const struct conf *c;
	enum run_mode mode;
	struct output *out;
	/* Machine identity: the sensing side's own (in-process), or the
	 * parent's replica, which the sensor's snapshots keep up to date
	 * (identity_import()); the bindings saved in the state are its. */
	struct identity *id;
	/* In-process sensing (offline, tests): the sense and its detector;
	 * det is NULL when a sensor process senses. */
	struct sense local;
	struct detect *det;
	struct engine_sensor sensor;
	usec_t now; /* the latest time a detection or tick brought */
	struct policy pol;
	struct hostdb hosts;
	struct incidents incidents;
	struct enforcer *enf; /* NULL: nothing is enforced (offline, alert mode) */
	bool (*is_self)(void *arg, const struct qaddr *a);
	void *self_arg;
	struct pending q[ENGINE_QUEUE];
	unsigned nq;
	/* The detections from outside of q (same index), heap. */
	struct outside_detection *oq;
	/* The names of outside rules (outside.h): kept over reloads. */
	struct outside_rules orules;
	struct outside_budget budget[SOURCE_COUNT];
	/* Blocked machines whose addresses changed: their blocks are put in
	 * force again at the next commit. */
	struct hostrec *refresh[ENGINE_QUEUE];
	unsigned nrefresh;
	/* Binding events: at most ENGINE_BINDING_EVENTS a minute. */
	usec_t bind_minute;
	unsigned bind_count, bind_suppressed;
	usec_t next_expiry_us; /* earliest TTL deadline, USEC_INFINITY: none */
	usec_t next_purge_us;  /* next automatic purge (state.purge_released) */
	bool resync;	       /* a transaction was lost in transit: read the kernel back */
	/* What the saved state lacks: ENGINE_DIRTY_SOON (detections: saved
	 * within seconds) or ENGINE_DIRTY_NOW (levels, certifications: saved
	 * right after the batch that put them in the kernel). */
	uint8_t dirty;
	struct evidence *evidence; /* NULL: no evidence kept */
	/* Makes the records of a batch of kernel changes durable (statedb.h)
	 * before the events that report them are emitted: act_apply() calls
	 * it once per batch, with the records it changed (borrowed for the
	 * call).  NULL: nothing is saved there (offline, tests). */
	void (*persist)(void *arg, struct hostrec *const *recs, unsigned n);
	void *persist_arg;
	struct engine_stats st;
	/* The revision of the bus (quarantine-sync(8)) whose decision was
	 * applied last: saved in the meta table in the same transaction as
	 * the change it caused, read back by the sync program at start. */
	uint64_t sync_rev;
};

/* c and out (and enf when not NULL) are borrowed and must outlive the
 * engine.  remote NULL: the engine senses frames itself (engine_frame());
 * else a sensor process does, and the engine's calls to it go through
 * remote (copied), and its detections and identity events come back
 * through engine_detection() and engine_identity().  0 or -errno. */
int engine_init(struct engine *e, const struct conf *c, enum run_mode mode, struct output *out,
		struct enforcer *enf, const struct engine_sensor *remote);
void engine_fini(struct engine *e);
/* Decodes and processes one captured frame (in-process sensing only). */
void engine_frame(struct engine *e, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		  usec_t ts);
/* n frames in a row, to the same effect as engine_frame() for each
 * (sense_frames()). */
void engine_frames(struct engine *e, const struct capture_packet *f, unsigned n);
/* A detection of the sensing side: through policy, the registry and the
 * incidents, queued for the next commit.  d's rule_name and proto must
 * point at the engine's configuration or static text. */
void engine_detection(struct engine *e, const struct detection *d);
/* A detection from outside (outside.h), checked by outside_check():
 * through the same policy, registry and incidents as engine_detection(),
 * with its source, rule and evidence recorded, queued for the next
 * commit.  Bounded per source (a flood of alerts is counted and told, not
 * queued without end). */
void engine_outside(struct engine *e, const struct outside_detection *o);
/* engine_outside(), saying what became of it: its fate, and for
 * OUTSIDE_REFUSED a static text (NULL: none wanted). */
enum outside_fate engine_outside_ex(struct engine *e, const struct outside_detection *o,
				    const char **ret_why);
/* The name of rule index rule: a configured rule's, the walk's, an
 * outside rule's, or NULL when none has it (gone with a reload). */
const char *engine_rule_name(const struct engine *e, unsigned rule);
/* The index of rule name, interning an outside rule's name ("ids:",
 * "av:", or any name the configuration lacks, from another gateway) when
 * intern is set; -1 when none. */
int engine_rule_index(struct engine *e, const char *name, bool intern);
/* An identity event of the sensing side: a binding event (rate-limited),
 * and the machine records it concerns brought up to date from e->id. */
void engine_identity(struct engine *e, const struct ident_event *iev);
/* The decoder's figures: the in-process sense's (a sensor reports its
 * own). */
const struct decode_stats *engine_decode_stats(const struct engine *e);
/* Puts the queued decisions in force and emits their events.  The daemon
 * calls it after every burst of packets. */
void engine_commit(struct engine *e);
/* Switches to configuration c (reload), keeping the host registry, the
 * incidents and (in-process, when the rules allow it, see
 * detect_reconfigure()) the detector's tables; a sensor process is the
 * caller's to restart.  Rule references are carried over by name.  c is
 * borrowed.  0 or -errno (then nothing changed). */
int engine_reconfigure(struct engine *e, const struct conf *c);

/* ---- hosts and machines (engine.c) ---- */

/* The record a detection or a command about id (a MAC or an address)
 * concerns: a machine's record for a MAC (made when create), the record
 * holding an address, else the address's own (made when create).  A
 * machine's addresses are brought up to date.  NULL: none (or the
 * registry is full). */
struct hostrec *engine_record(struct engine *e, const struct qaddr *id, bool create, usec_t now);
/* The name of the host that infected rec (rec->infected_by, which must be
 * set): its record's address when it has one, else its id. */
void engine_infected_name(const struct engine *e, const struct hostrec *rec, struct qaddr *ret);
/* A machine record's addresses from identity: its trusted ones join it
 * (a blocked machine's new addresses are blocked at the next commit);
 * while blocked it keeps the ones it holds (fail closed). */
void engine_machine_refresh(struct engine *e, struct hostrec *rec, usec_t now);
/* Machine record rec takes address a (an operator named it, or identity
 * trusts it): from an address's record or another machine's record that
 * is not blocked.  0; -EEXIST when a blocked record holds it; -ENOSPC. */
int engine_hold_address(struct engine *e, struct hostrec *rec, const struct qaddr *a, usec_t now);
/* The addresses of machine record rec: those identity gives it (at least
 * TENTATIVE) and those its record holds; at most max. */
unsigned engine_machine_addresses(const struct engine *e, const struct hostrec *rec,
				  struct qaddr *v, unsigned max);
/* Facts for policy about rec; unverified: the detection could not be tied
 * to rec's machine. */
void engine_host_facts(struct engine *e, const struct hostrec *rec, bool unverified,
		       struct host_facts *ret);
/* Why rec may never be blocked (a static text for events and history),
 * or NULL when it may be: policy_never_reason() for an address's record;
 * for a machine, one of the gateway's own MACs, a router or relay, or a
 * machine holding a never-block or own address.  Every decision asks
 * this (engine_host_facts()), and so does a restore (act_sync()). */
const char *engine_never_reason(struct engine *e, const struct hostrec *rec);
/* The inventory entry of rec: its MAC's, else its address's. */
const struct inv_entry *engine_inventory(const struct engine *e, const struct hostrec *rec);
/* Fills an event's host, mac and inventory from rec. */
void engine_event_host(const struct engine *e, const struct hostrec *rec, struct event *ev);
/* A machine that may be isolated by address only (a critical asset). */
bool engine_no_mac(const struct engine *e, const struct hostrec *rec);

/* Runs timers up to now: probe timeouts and windows (in-process), TTL
 * expiry, and once a minute the purge of released hosts older than
 * state.purge_released (when set). */
void engine_tick(struct engine *e, usec_t now);
/* Purges the records hostrec_purgeable() allows with before_us = now -
 * older_than_s: each leaves the registry (its history stays in the state
 * database, statedb.h).  One purge event (by by_uid, -1 automatic, with the
 * operator's names by, borrowed, NULL none) says how many; an automatic
 * run that purged nothing says nothing.  Not during an iteration of the
 * registry.  Returns the count. */
unsigned engine_purge(struct engine *e, uint64_t older_than_s, usec_t now, long by_uid,
		      const struct actor *by);
/* The engine's clock: the detector's (in-process), else the latest time a
 * detection or a tick brought. */
usec_t engine_now(const struct engine *e);
/* End of an offline capture: flush pending timeouts and windows. */
void engine_flush(struct engine *e);

/* ---- host actions (actions.c) ---- */

/* One change of a host's level, by detection, operator or timer. */
struct act_change {
	struct hostrec *rec;
	enum level level; /* what is asked for */
	uint64_t ttl_s;	  /* 0: until released */
	bool reset_ttl;
	long by_uid; /* -1: automatic */
	/* by_uid's names (borrowed); NULL: those the host has when by_uid
	 * is its author already, else none. */
	const struct actor *by;
	const char *reason;
	bool critical;	  /* the asset may not be isolated automatically */
	bool keep_author; /* a block put in force again: author and reason stay */
	bool set_state;	  /* end in `state` instead of the level's own */
	enum host_state state;
	/* Filled by act_apply(): */
	enum level effective; /* what went into the kernel */
	bool changed;	      /* the host's level, TTL or author changed */
	int error;
	char msg[96];
};

/* Puts every change in force (one transaction) and updates each host's
 * state, TTL deadline, author and reason; then, when any changed, hands
 * the records to e->persist (one database transaction), so that the
 * callers' act_emit() report only what is durable.  With no enforcer
 * (offline, alert mode) nothing changes and every change gets -EPERM.
 * Returns 0 or the first error. */
int act_apply(struct engine *e, struct act_change *ch, unsigned n, usec_t now);
/* The time left of rec's block, in whole seconds rounded up, for a change
 * that keeps it: 0 when it has no deadline (until released), at least 1
 * when the deadline has passed, at most QD_TTL_MAX_S. */
uint64_t act_ttl_left(const struct hostrec *rec, usec_t now);
/* Emits the action (or release) event of an applied change. */
void act_emit(struct engine *e, const struct act_change *ch, usec_t now);
/* Tells the detector what the kernel holds for rec, from now on
 * (detect_set_block()): its MAC's or address's block, and its isolated
 * addresses; the probes these blocks drop are no evidence against it. */
void act_tell_detector(struct engine *e, const struct hostrec *rec, usec_t now);
/* Releases hosts whose TTL has run out by now. */
void act_expire(struct engine *e, usec_t now);
/* Reads the kernel's sets back: adopts elements the registry lacks (with an
 * alert), drops from the registry's view what the kernel no longer has, and
 * puts back what is missing.  0 or -errno. */
int act_sync(struct engine *e, usec_t now);
/* At start-up, after act_sync(): one action event for each host whose
 * level (watch included) was restored from the saved state, naming it,
 * its level, what it was for and the time left, so that the operator
 * after a restart sees who is still blocked.  Hosts adopted from the
 * kernel or released by policy in that sync had their own event.
 * Returns how many. */
unsigned act_announce_restored(struct engine *e, usec_t now);

#endif
