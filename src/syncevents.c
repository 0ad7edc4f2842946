/* The events stream's messages and their queue; see syncevents.h. */
#include "syncevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "syncmsg.h"

/* The kinds of event a control center gets: the decisions and what led
 * to them.  Errors, bindings, bulk and outbreak events stay local (the
 * daemon's own log and `events`). */
/* The i-th oldest message of queue q. */
#define AT(q, i) (&(q)->v[((q)->head + (i)) % (q)->cap])

static const char *const kinds[] = {"detect", "action", "release", "mark", "incident"};

bool syncevents_prefix_valid(const char *s)
{
	size_t n = strlen(s);
	bool tok = false;

	if (n == 0 || n >= SEV_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (!tok)
				return false;
			tok = false;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
		tok = true;
	}
	return tok;
}

/* A member's value, or its beginning when it is longer than len - 1
 * bytes: enough to compare with a short word or prefix. */
static int member(const char *j, const char *key, char *out, size_t len)
{
	int k = sync_json_member(j, key, out, len);

	return k == -E2BIG ? 0 : k;
}

int syncevents_select(const char *json, char kind[16])
{
	char ev[16], v[16];
	int k;

	if (*json != '{' || (k = member(json, "event", ev, sizeof(ev))) < 0 || !ev[0])
		return -EINVAL;
	/* An event's name is a word (not a number, not a literal). */
	for (const char *c = ev; *c; c++)
		if (*c < 'a' || *c > 'z')
			return -EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(ev, kinds[i]) != 0)
			continue;
		/* What another gateway decided is in the stream by it. */
		if (member(json, "source", v, sizeof(v)) == 0 && strncmp(v, "gateway:", 8) == 0)
			return 0;
		if (strcmp(ev, "incident") != 0 && member(json, "reason", v, sizeof(v)) == 0 &&
		    strncmp(v, "gateway:", 8) == 0)
			return 0;
		memcpy(kind, ev, strlen(ev) + 1);
		return 1;
	}
	return 0;
}

int syncevents_encode(const char *json, size_t len, const char *gw, char *buf, size_t buflen)
{
	int n;

	if (len < 2 || json[0] != '{' || json[len - 1] != '}' || !sync_gateway_valid(gw))
		return -EINVAL;
	/* {"gateway":"gw", then the members as they were; an empty object
	 * takes no comma. */
	n = snprintf(buf, buflen, "{\"gateway\":\"%s\"%s", gw, len > 2 ? "," : "");
	if (n < 0 || (size_t)n + len - 1 >= buflen)
		return -ENOSPC;
	memcpy(buf + n, json + 1, len - 1);
	buf[(size_t)n + len - 1] = '\0';
	return n + (int)len - 1;
}

int syncevents_msgid(const char *json, size_t len, const char *gw, char *buf, size_t buflen)
{
	/* A fixed key: the id must be the same in every run of every
	 * program that publishes the line, and nobody gains by choosing a
	 * collision (a message of their own gateway, dropped). */
	static const struct siphash_key key = {0x71642d6576656e74ull, 0x73747265616d2d31ull};
	int n;

	if (!sync_gateway_valid(gw))
		return -EINVAL;
	n = snprintf(buf, buflen, "%s-%016llx", gw, (unsigned long long)siphash24(&key, json, len));
	return n < 0 || (size_t)n >= buflen ? -ENOSPC : 0;
}

int syncevents_init(struct syncevents *q, unsigned cap, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap ? cap : SEV_QUEUE_MAX;
	q->max_bytes = max_bytes ? max_bytes : SEV_QUEUE_BYTES;
	q->v = calloc(q->cap, sizeof(*q->v));
	return q->v ? 0 : -ENOMEM;
}

void syncevents_fini(struct syncevents *q)
{
	for (unsigned i = 0; i < q->n; i++)
		free(AT(q, i)->data);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/* Drops the i-th oldest: the oldest in O(1) (a publish), another by
 * moving the newer ones back (only when the queue is full). */
static void drop_at(struct syncevents *q, unsigned i)
{
	q->bytes -= AT(q, i)->len;
	free(AT(q, i)->data);
	if (i == 0) {
		q->head = (q->head + 1) % q->cap;
	} else {
		for (; i + 1 < q->n; i++)
			*AT(q, i) = *AT(q, i + 1);
	}
	q->n--;
}

/* Room for one more message of len bytes: the oldest detection goes
 * first, then the oldest message. */
static void make_room(struct syncevents *q, size_t len)
{
	while (q->n && (q->n == q->cap || q->bytes + len > q->max_bytes)) {
		unsigned i = 0;

		while (i < q->n && !AT(q, i)->detect)
			i++;
		if (i == q->n)
			i = 0;
		q->dropped_detect += AT(q, i)->detect;
		q->dropped++;
		q->untold++;
		drop_at(q, i);
	}
}

int syncevents_push(struct syncevents *q, const char *prefix, const char *gw, const char *json)
{
	size_t len = strlen(json);
	char kind[16];
	struct sev_item it;
	int n, k;

	if ((k = syncevents_select(json, kind)) <= 0) {
		if (k < 0)
			q->refused++;
		return k;
	}
	if (len > SEV_LINE_MAX) {
		q->refused++;
		return -E2BIG;
	}
	memset(&it, 0, sizeof(it));
	n = snprintf(it.subject, sizeof(it.subject), "%s.%s.%s", prefix, gw, kind);
	if (!syncevents_prefix_valid(prefix) || n < 0 || (size_t)n >= sizeof(it.subject) ||
	    syncevents_msgid(json, len, gw, it.msgid, sizeof(it.msgid)) < 0) {
		q->refused++;
		return -EINVAL;
	}
	/* The gateway member: "gateway":"" and a comma, 15 bytes, and a
	 * name. */
	it.data = malloc(len + 16 + SYNC_GATEWAY_MAX);
	if (!it.data)
		return -ENOMEM;
	n = syncevents_encode(json, len, gw, it.data, len + 16 + SYNC_GATEWAY_MAX);
	if (n < 0) {
		free(it.data);
		q->refused++;
		return -EINVAL;
	}
	it.len = (size_t)n;
	it.detect = strcmp(kind, "detect") == 0;
	make_room(q, it.len);
	*AT(q, q->n) = it;
	q->n++;
	q->bytes += it.len;
	q->queued++;
	return 1;
}

const struct sev_item *syncevents_peek(const struct syncevents *q)
{
	return q->n ? AT(q, 0) : NULL;
}

void syncevents_pop(struct syncevents *q)
{
	if (q->n)
		drop_at(q, 0);
}
