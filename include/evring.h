/* The daemon's recent events, kept in memory so that `quarantinectl
 * events` can show what happened before it was asked (and --since can
 * choose from it): the last EVRING_MAX_EVENTS events, or fewer when their
 * text passes EVRING_MAX_BYTES; the oldest go first.  Each is kept as
 * rendered, in both formats, exactly as the daemon's own output wrote it.
 * Not saved: a restart begins with an empty ring (the registry keeps each
 * host's history across restarts; `quarantinectl show` gives it). */
#ifndef QD_EVRING_H
#define QD_EVRING_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* A day of a large outbreak's events at the rate limits (some thousands),
 * in at most 4 MiB: the bound is on bytes too because one detect line of
 * a host with a long inventory entry can reach 4 KiB. */
#define EVRING_MAX_EVENTS 4096
#define EVRING_MAX_BYTES  (4u << 20)

struct evring_entry {
	usec_t ts;	  /* the event's own time */
	const char *text; /* "TIMESTAMP kind key=value ..." without newline */
	const char *json; /* the JSON object, without newline */
	size_t size;	  /* bytes of both, counted against max_bytes */
};

struct evring {
	struct evring_entry *v; /* cap slots; the oldest at head */
	unsigned cap, head, n;
	size_t bytes, max_bytes;
	uint64_t added, evicted; /* over the ring's life */
};

/* A ring of at most max_events events and max_bytes of their text.
 * 0 or -ENOMEM; -EINVAL for 0 events. */
int evring_init(struct evring *r, unsigned max_events, size_t max_bytes);
void evring_fini(struct evring *r);
/* Keeps a copy of an event (text and json are copied), evicting the
 * oldest to make room.  0, or -ENOMEM / -E2BIG (larger than max_bytes
 * alone) when it is not kept. */
int evring_add(struct evring *r, usec_t ts, const char *text, const char *json);
unsigned evring_count(const struct evring *r);
/* The i-th kept event, 0 the oldest; NULL past the end.  Borrowed until
 * the next evring_add(). */
const struct evring_entry *evring_get(const struct evring *r, unsigned i);

#endif
