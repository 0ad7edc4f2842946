/* The messages between the feeds reader (feeds.h) and the parent, on an
 * ipc channel (ipc.h): fixed sizes, every field checked.  The reader
 * parses what an attacker can influence (alerts quote packets and URLs),
 * so the parent treats what it says as hostile: a detection is checked
 * field by field (outside_check()) and must name a configured feed of
 * its kind; stats, errors and positions are checked against the
 * configuration; a message that fails is a protocol error, which ends
 * the reader (the parent starts a new one).  What passes is a request
 * like any other: the engine puts it through its policy.
 *
 * Pure: no I/O.  Structures are memset before they are filled. */
#ifndef QD_FEEDPROTO_H
#define QD_FEEDPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "follow.h"
#include "ipc.h"
#include "outside.h"

enum fp_type {
	/* reader -> parent */
	FP_READY = 1, /* following (the positions given are taken up) */
	FP_DETECTION, /* struct fp_detection */
	FP_POSITION,  /* struct fp_position: where a file feed is, to keep */
	FP_ERROR,     /* struct fp_error: a bad line, a file that cannot be read */
	FP_STATS,     /* struct fp_stats, once a second */
	/* parent -> reader */
	FP_START = 32, /* no payload: the positions were sent, start */
	FP_RESUME,     /* struct fp_position: a saved position, before FP_START */
};

struct fp_detection {
	uint32_t feed; /* index into conf.feeds */
	uint32_t pad;
	struct outside_detection d;
};

struct fp_position {
	uint32_t feed;
	uint32_t pad;
	struct follow_pos pos;
};

#define FP_ERROR_TEXT 256
struct fp_error {
	uint32_t feed;
	int32_t error; /* -errno */
	char text[FP_ERROR_TEXT];
};

enum fp_feed_state {
	FP_STATE_WAITING = 0, /* no file yet, or a socket with no client */
	FP_STATE_FOLLOWING,   /* a file open, or a client connected */
	FP_STATE_ERROR,	      /* cannot be read or listened on */
	FP_STATE_COUNT,
};

struct fp_feed_stats {
	uint8_t state; /* enum fp_feed_state */
	uint8_t pad[3];
	int32_t error; /* -errno with FP_STATE_ERROR */
	uint64_t lines, bytes;
	uint64_t alerts;   /* alerts and notices parsed */
	uint64_t sent;	   /* detections sent up */
	uint64_t ignored;  /* alerts about no inside host, inbound or mapped out */
	uint64_t not_ours; /* of which: no endpoint inside */
	uint64_t inbound;  /* of which: an outside attacker */
	uint64_t other;	   /* valid records that are no alert (flow, dns...) */
	uint64_t errors;   /* bad lines, too long, unreadable */
	uint64_t too_long;
	uint64_t rotations, truncations;
	uint64_t clients; /* socket feeds: connections taken */
	uint64_t lost;	  /* detections lost for want of room on the channel */
};

struct fp_stats {
	uint32_t n; /* the configuration's number of feeds */
	uint32_t pad;
	struct fp_feed_stats feed[CONF_MAX_FEEDS];
};

extern const struct ipc_type fp_parent_types[]; /* what the parent receives */
extern const unsigned fp_parent_ntypes;
extern const struct ipc_type fp_reader_types[]; /* what the reader receives */
extern const unsigned fp_reader_ntypes;

/* Parent side, each 0 or -EPROTO with what is wrong in err. */
/* A detection: its feed configured, its source that feed's kind, its
 * origin that feed's name, and outside_check(). */
int fp_detection_check(const struct fp_detection *m, const struct conf *c, char *err,
		       size_t errlen);
/* A position of a file feed. */
int fp_position_check(const struct fp_position *m, const struct conf *c, char *err, size_t errlen);
/* An error: its feed (or UINT32_MAX: the reader's own), a negative
 * error, a terminated text (anything not printable ASCII becomes '?'). */
int fp_error_check(struct fp_error *m, const struct conf *c, char *err, size_t errlen);
/* The stats: as many feeds as configured, states in range. */
int fp_stats_check(const struct fp_stats *m, const struct conf *c, char *err, size_t errlen);

const char *fp_state_name(enum fp_feed_state s);

#endif
