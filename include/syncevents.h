/* The events stream (quarantine-sync(8), CONTROL CENTER): the sync
 * program publishes its gateway's detections, actions, releases, marks
 * and incidents to a JetStream stream that a control center consumes.
 *
 * Each message is the daemon's own JSON event, as `events --follow
 * --json` gives it, with one member added in front: "gateway":"NAME".
 * Its subject is PREFIX.GATEWAY.EVENT (qd.events.gw-a.detect), so that
 * the server's permissions keep each gateway to its own subjects, and its
 * Nats-Msg-Id is GATEWAY-HASH, a hash of the event line: a message
 * published again (its acknowledgement was lost, the bus came back) is
 * the same message, and the server drops it within its duplicate window.
 *
 * What the bus decided (a detection of source gateway:NAME, a release or
 * an action whose reason names gateway:NAME) is the other gateway's, and
 * is in the stream by that gateway: it is not published again.  An
 * incident is this gateway's own view (its members, its patient zero, its
 * links to the other gateways' incidents) and is always published.
 *
 * While the bus is away the messages wait in a bounded queue, in memory:
 * at most SEV_QUEUE_MAX messages and SEV_QUEUE_BYTES bytes.  Past either,
 * the oldest detection goes first (its action, and the incident it joined,
 * say more), then the oldest message of any kind; every drop is counted,
 * and the caller tells them.  Decisions have their own durable outbox:
 * the stream is for people, the bucket is for enforcement.
 *
 * Pure: no I/O, no NATS (the caller publishes). */
#ifndef QD_SYNCEVENTS_H
#define QD_SYNCEVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sized for a gateway cut off for a while during an outbreak: a few
 * thousand events are an outbreak's detections and actions at the
 * policy's rate cap for minutes, and an event line is under 2 KiB. */
#define SEV_QUEUE_MAX	4096
#define SEV_QUEUE_BYTES (8u * 1024 * 1024)
/* The longest event line taken (the sync program reads lines of at most
 * 64 KiB; the daemon's are far shorter). */
#define SEV_LINE_MAX 65536
/* A subject prefix: dot-separated tokens of [A-Za-z0-9_-]. */
#define SEV_PREFIX_MAX 64
/* PREFIX "." GATEWAY "." EVENT */
#define SEV_SUBJECT_MAX (SEV_PREFIX_MAX + 1 + 33 + 1 + 16)
/* GATEWAY "-" 16 hex digits */
#define SEV_MSGID_MAX (33 + 1 + 16 + 1)

struct sev_item {
	char *data; /* the message (heap, owned by the queue), len bytes, no LF */
	size_t len;
	bool detect; /* dropped first */
	char subject[SEV_SUBJECT_MAX];
	char msgid[SEV_MSGID_MAX];
};

struct syncevents {
	struct sev_item *v; /* a ring of cap; v[head] is the oldest */
	unsigned cap, n, head;
	size_t bytes, max_bytes;
	uint64_t queued;	 /* taken into the queue */
	uint64_t dropped;	 /* dropped when full (detections first) */
	uint64_t dropped_detect; /* of which detections */
	uint64_t untold;	 /* dropped since the caller last told it */
	uint64_t refused;	 /* unreadable or too long: not queued */
};

/* Whether s is a subject prefix (SEV_PREFIX_MAX). */
bool syncevents_prefix_valid(const char *s);

/* Whether json (one event line, NUL-terminated) goes to the stream: 1,
 * with its event name in kind (16 bytes); 0 when it is not for the stream
 * (another kind of event, or the bus's own decision); -EINVAL when it
 * cannot be read. */
int syncevents_select(const char *json, char kind[16]);

/* The message of event line json (len bytes) for gateway gw: the line
 * with "gateway":"gw" added as its first member, into buf (NUL-
 * terminated).  Its length, or -EINVAL (not an object, gw invalid) or
 * -ENOSPC. */
int syncevents_encode(const char *json, size_t len, const char *gw, char *buf, size_t buflen);

/* The Nats-Msg-Id of event line json (len bytes) of gateway gw into buf
 * (SEV_MSGID_MAX): the same for the same line, whenever it is made. */
int syncevents_msgid(const char *json, size_t len, const char *gw, char *buf, size_t buflen);

/* cap messages, max_bytes bytes at most (0: the defaults).  0 or -ENOMEM. */
int syncevents_init(struct syncevents *q, unsigned cap, size_t max_bytes);
void syncevents_fini(struct syncevents *q);
/* Event line json (NUL-terminated, no LF) of gateway gw, queued for
 * subject prefix: 1 queued, 0 not for the stream (syncevents_select()),
 * or -EINVAL (unreadable, counted in refused), -E2BIG (too long,
 * refused), -ENOMEM.  When the queue is full the oldest detection, else
 * the oldest message, is dropped to make room (counted). */
int syncevents_push(struct syncevents *q, const char *prefix, const char *gw, const char *json);
/* The oldest message waiting (borrowed until the next call), or NULL. */
const struct sev_item *syncevents_peek(const struct syncevents *q);
/* Drops the oldest message (it was published). */
void syncevents_pop(struct syncevents *q);

#endif
