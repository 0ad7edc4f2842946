/* The recent events: a ring of rendered lines, bounded in count and in
 * bytes. */
#include "evring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int evring_init(struct evring *r, unsigned max_events, size_t max_bytes)
{
	memset(r, 0, sizeof(*r));
	if (max_events == 0)
		return -EINVAL;
	r->v = calloc(max_events, sizeof(*r->v));
	if (!r->v)
		return -ENOMEM;
	r->cap = max_events;
	r->max_bytes = max_bytes;
	return 0;
}

static void drop_oldest(struct evring *r)
{
	struct evring_entry *e = &r->v[r->head];

	r->bytes -= e->size;
	/* text and json share one allocation, text first. */
	free((char *)e->text);
	memset(e, 0, sizeof(*e));
	r->head = (r->head + 1) % r->cap;
	r->n--;
	r->evicted++;
}

void evring_fini(struct evring *r)
{
	while (r->n)
		drop_oldest(r);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

int evring_add(struct evring *r, usec_t ts, const char *text, const char *json)
{
	size_t tl = strlen(text), jl = strlen(json);
	size_t size = tl + 1 + jl + 1;
	struct evring_entry *e;
	char *p;

	if (size > r->max_bytes)
		return -E2BIG;
	p = malloc(size);
	if (!p)
		return -ENOMEM;
	memcpy(p, text, tl + 1);
	memcpy(p + tl + 1, json, jl + 1);
	while (r->n && (r->n == r->cap || r->bytes + size > r->max_bytes))
		drop_oldest(r);
	e = &r->v[(r->head + r->n) % r->cap];
	e->ts = ts;
	e->text = p;
	e->json = p + tl + 1;
	e->size = size;
	r->n++;
	r->bytes += size;
	r->added++;
	return 0;
}

unsigned evring_count(const struct evring *r)
{
	return r->n;
}

const struct evring_entry *evring_get(const struct evring *r, unsigned i)
{
	if (i >= r->n)
		return NULL;
	return &r->v[(r->head + i) % r->cap];
}
