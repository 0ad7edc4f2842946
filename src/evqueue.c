/* A follower's bounded queue of event lines, with a count of the lines it
 * had no room for. */
#include "evqueue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

/* The longest drop line: a 27-byte timestamp, a 20-digit count and the
 * JSON punctuation, with room to spare. */
#define DROP_LINE_MAX 128

int evqueue_init(struct evqueue *q, size_t cap, bool json)
{
	memset(q, 0, sizeof(*q));
	if (cap < 2 * DROP_LINE_MAX)
		return -EINVAL;
	q->buf = malloc(cap);
	if (!q->buf)
		return -ENOMEM;
	q->cap = cap;
	q->json = json;
	return 0;
}

void evqueue_fini(struct evqueue *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

/* Makes need bytes free at the tail, moving the pending bytes to the
 * front when that is what it takes.  false when they do not fit at all. */
static bool make_room(struct evqueue *q, size_t need)
{
	if (q->len + need > q->cap)
		return false;
	if (q->off + q->len + need > q->cap) {
		memmove(q->buf, q->buf + q->off, q->len);
		q->off = 0;
	}
	return true;
}

static void append(struct evqueue *q, const char *p, size_t n)
{
	memcpy(q->buf + q->off + q->len, p, n);
	q->len += n;
}

static size_t drop_line(const struct evqueue *q, usec_t now, char *buf, size_t len)
{
	char ts[32];
	int n;

	event_format_ts(now, ts);
	if (q->json)
		n = snprintf(buf, len, "{\"ts\":\"%s\",\"event\":\"dropped\",\"n\":%llu}\n", ts,
			     (unsigned long long)q->dropped);
	else
		n = snprintf(buf, len, "%s dropped n=%llu\n", ts, (unsigned long long)q->dropped);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

bool evqueue_push(struct evqueue *q, const char *line, size_t len, usec_t now)
{
	char drop[DROP_LINE_MAX];
	size_t dlen = 0;

	if (q->dropped)
		dlen = drop_line(q, now, drop, sizeof(drop));
	/* The line does not go in without the note of what came before it
	 * went missing: the follower must not take a gap for a quiet spell. */
	if (len + 1 + dlen > q->cap || !make_room(q, dlen + len + 1)) {
		q->dropped++;
		q->dropped_total++;
		return false;
	}
	if (dlen) {
		append(q, drop, dlen);
		q->dropped = 0;
	}
	append(q, line, len);
	append(q, "\n", 1);
	return true;
}

size_t evqueue_peek(const struct evqueue *q, const char **ret)
{
	*ret = q->buf + q->off;
	return q->len;
}

void evqueue_consume(struct evqueue *q, size_t n, usec_t now)
{
	char drop[DROP_LINE_MAX];
	size_t dlen;

	if (n > q->len)
		n = q->len;
	q->off += n;
	q->len -= n;
	if (q->len)
		return;
	q->off = 0;
	/* Caught up: say what was missed now rather than with the next
	 * event, which may be a long time coming. */
	if (q->dropped && (dlen = drop_line(q, now, drop, sizeof(drop))) > 0) {
		append(q, drop, dlen);
		q->dropped = 0;
	}
}
