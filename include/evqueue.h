/* A follower's queue of event lines (quarantinectl events --follow): a
 * bounded buffer, so that a follower that reads slowly, or not at all,
 * costs the daemon a fixed amount of memory and never a wait.  A line
 * that does not fit is dropped and counted; once there is room again the
 * follower is told how many it missed, before the next line:
 *
 *     2026-01-15T09:00:05.000000Z dropped n=42              (text)
 *     {"ts":"2026-01-15T09:00:05.000000Z","event":"dropped","n":42}  (JSON)
 *
 * "Room again" is room for that line and the next event together, or the
 * queue running empty (the follower caught up and no event came).  Pure:
 * no I/O; the caller sends what evqueue_peek() shows and says how much
 * went with evqueue_consume(); time is passed in. */
#ifndef QD_EVQUEUE_H
#define QD_EVQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* 64 KiB: over a hundred events of a busy outbreak (a detect line is some
 * 300 to 600 bytes) on top of what the socket itself holds, and 512 KiB
 * for all CONTROL_MAX_FOLLOWERS together. */
#define EVQUEUE_BYTES (64u << 10)

struct evqueue {
	char *buf; /* cap bytes; pending ones are buf[off, off + len) */
	size_t cap, off, len;
	bool json;		/* the drop line as a JSON object */
	uint64_t dropped;	/* lines dropped since the last drop line was queued */
	uint64_t dropped_total; /* over the queue's life */
};

/* A queue of cap bytes (at least 256, room for a drop line) for a
 * follower of the text (json false) or the JSON format.  0 or -ENOMEM;
 * -EINVAL for a smaller cap. */
int evqueue_init(struct evqueue *q, size_t cap, bool json);
void evqueue_fini(struct evqueue *q);
/* Queues line (len bytes, no newline: one is added).  true when queued,
 * false when dropped for want of room (and counted).  now (wall clock)
 * stamps a drop line queued before it. */
bool evqueue_push(struct evqueue *q, const char *line, size_t len, usec_t now);
/* The bytes waiting to be sent, at *ret (borrowed until the next call
 * that changes q); their number. */
size_t evqueue_peek(const struct evqueue *q, const char **ret);
/* n bytes (at most what evqueue_peek() showed) were sent.  When that
 * empties the queue after drops, the drop line is queued, stamped now. */
void evqueue_consume(struct evqueue *q, size_t n, usec_t now);

#endif
