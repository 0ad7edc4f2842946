/* Incident grouping and patient zero. */
#include "incident.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostdb.h"

int incidents_init(struct incidents *s, unsigned cap, usec_t window_us)
{
	memset(s, 0, sizeof(*s));
	s->v = calloc(cap, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	s->cap = cap;
	s->next_id = 1;
	s->window_us = window_us;
	return 0;
}

void incidents_fini(struct incidents *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

const struct incident *incident_lookup(const struct incidents *s, unsigned id, unsigned *ret_off)
{
	unsigned lo = 0, hi = s->n;

	if (id == 0 || s->n == 0)
		return NULL;
	/* Ids grow in ring order, with gaps where a saved incident was
	 * skipped at load: a binary search over the ring. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct incident *in = &s->v[(s->head + mid) % s->cap];

		if (in->id == id) {
			if (ret_off)
				*ret_off = mid;
			return in;
		}
		if (in->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct incident *incident_find(struct incidents *s, unsigned id)
{
	return (struct incident *)incident_lookup(s, id, NULL);
}

/* The slot of (rule, port) in the open table, made when absent (the one
 * whose incident is the oldest goes when it is full); NULL for a rule no
 * longer configured. */
static unsigned *open_slot(struct incidents *s, unsigned rule, uint16_t port)
{
	unsigned victim = 0;

	if (rule >= DETECT_NRULES)
		return NULL;
	for (unsigned i = 0; i < s->nopen; i++) {
		if (s->open[i].rule == rule && s->open[i].port == port)
			return &s->open[i].id;
		if (s->open[i].id < s->open[victim].id)
			victim = i;
	}
	if (s->nopen < INCIDENT_OPEN)
		victim = s->nopen++;
	s->open[victim].rule = rule;
	s->open[victim].port = port;
	s->open[victim].id = 0;
	return &s->open[victim].id;
}

struct incident *incident_stay(struct incidents *s, struct incident *in, unsigned rule,
			       const char *rule_name, uint16_t port, usec_t now)
{
	unsigned *slot;
	struct incident *cur;

	if (!in || now > in->last_detect_us + s->window_us)
		return NULL;
	if (now > in->last_detect_us)
		in->last_detect_us = now;
	/* A rule that names what spreads (smb-propagation) names the
	 * incident better than the walk that caught its first host. */
	if (in->port && !port && rule < DETECT_NRULES) {
		in->rule = rule;
		in->port = 0;
		memset(in->rule_name, 0, sizeof(in->rule_name));
		strncpy(in->rule_name, rule_name, sizeof(in->rule_name) - 1);
	}
	/* The next host flagged by this rule joins it too, unless another
	 * incident of that rule is open. */
	slot = open_slot(s, rule, port);
	cur = slot ? incident_find(s, *slot) : NULL;
	if (slot && (!cur || now > cur->last_detect_us + s->window_us))
		*slot = in->id;
	return in;
}

struct incident *incident_follow(struct incidents *s, struct incident *in, bool member, usec_t now)
{
	if (!in)
		return NULL;
	if (!member)
		in->nhosts++;
	if (now > in->last_detect_us)
		in->last_detect_us = now;
	return in;
}

struct incident *incident_join(struct incidents *s, unsigned rule, const char *rule_name,
			       uint16_t port, const struct qaddr *host, usec_t first_probe_us,
			       usec_t now)
{
	unsigned *slot = open_slot(s, rule, port);
	struct incident *in = slot ? incident_find(s, *slot) : NULL;

	if (in && now <= in->last_detect_us + s->window_us) {
		in->nhosts++;
		in->last_detect_us = now;
		if (first_probe_us < in->first_probe_us) {
			in->first_probe_us = first_probe_us;
			in->patient_zero = *host;
		}
		return in;
	}
	/* Ids are never reused nor wrapped (a wrapped id would break the
	 * order of the ring and the saved state): once the last is given,
	 * detections join no new incident. */
	if (s->next_id > INCIDENT_ID_MAX) {
		s->exhausted++;
		return NULL;
	}
	if (s->n == s->cap) {
		s->head = (s->head + 1) % s->cap;
		s->n--;
	}
	in = &s->v[(s->head + s->n) % s->cap];
	s->n++;
	memset(in, 0, sizeof(*in));
	in->id = s->next_id++;
	in->rule = rule;
	in->port = port;
	strncpy(in->rule_name, rule_name, sizeof(in->rule_name) - 1);
	in->patient_zero = *host;
	in->first_probe_us = first_probe_us;
	in->first_detect_us = in->last_detect_us = now;
	in->nhosts = 1;
	if (slot)
		*slot = in->id;
	return in;
}

void incidents_reopen(struct incidents *s)
{
	memset(s->open, 0, sizeof(s->open));
	s->nopen = 0;
	for (unsigned i = 0; i < s->n; i++) {
		const struct incident *in = &s->v[(s->head + i) % s->cap];
		unsigned *slot = open_slot(s, in->rule, in->port);

		if (slot)
			*slot = in->id;
	}
}

void incidents_clear(struct incidents *s)
{
	for (unsigned i = 0; i < s->n; i++)
		memset(&s->v[(s->head + i) % s->cap], 0, sizeof(*s->v));
	memset(s->open, 0, sizeof(s->open));
	s->nopen = 0;
	s->n = 0;
	s->head = 0;
	s->next_id = 1;
}

int incident_restore(struct incidents *s, const struct incident *in)
{
	struct incident *slot;

	if (in->id == 0 || in->id > INCIDENT_ID_MAX || (s->n && in->id < s->next_id))
		return -EINVAL;
	if (s->n == s->cap) {
		s->head = (s->head + 1) % s->cap;
		s->n--;
	}
	slot = &s->v[(s->head + s->n) % s->cap];
	s->n++;
	*slot = *in;
	slot->rule_name[sizeof(slot->rule_name) - 1] = '\0';
	s->next_id = in->id + 1;
	/* The newest incident of a rule and port is the one a detection
	 * may join. */
	{
		unsigned *open = open_slot(s, in->rule, in->port);

		if (open)
			*open = in->id;
	}
	return 0;
}

int incident_link(struct incidents *s, struct incident *in, const char *gateway, unsigned id)
{
	size_t n = gateway ? strlen(gateway) : 0;

	if (!in || id == 0 || n == 0 || n >= INCIDENT_GW_MAX)
		return -EINVAL;
	/* A name is a subject token (syncmsg.h): events print it as it is. */
	for (size_t i = 0; i < n; i++) {
		char c = gateway[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return -EINVAL;
	}
	for (unsigned i = 0; i < in->nlinks; i++)
		if (in->links[i].id == id && strcmp(in->links[i].gateway, gateway) == 0)
			return 0;
	if (in->nlinks == INCIDENT_LINKS) {
		s->links_full++;
		return -ENOSPC;
	}
	memcpy(in->links[in->nlinks].gateway, gateway, n + 1);
	in->links[in->nlinks].id = id;
	in->nlinks++;
	return 1;
}

const char *incident_member_source(const struct hostrec *r, unsigned id, char *buf, size_t len)
{
	const struct hit *h = NULL;
	const char *any = NULL;

	snprintf(buf, len, "self");
	for (unsigned i = 0; r && i < r->nhits && !h; i++)
		if (r->hits[i].incident == id)
			h = &r->hits[i];
	if (!h)
		return buf;
	if (h->source != SOURCE_GATEWAY) {
		snprintf(buf, len, "%s", det_source_name((enum det_source)h->source));
		return buf;
	}
	/* The gateway's name is in the history line of the detection (its
	 * source, then a NUL and the record): the one of the hit's time, or
	 * else the first of a gateway (the line of the hit may have gone,
	 * past HOST_MAX_HIST). */
	for (unsigned i = 0; i < r->nhist; i++) {
		const struct hist *l = &r->hist[i];

		if (l->kind != HIST_DETECT || !l->outside ||
		    strncmp(l->outside, "gateway:", 8) != 0)
			continue;
		if (l->ts == h->first_us) {
			any = l->outside;
			break;
		}
		if (!any)
			any = l->outside;
	}
	snprintf(buf, len, "%s", any ? any : "gateway:?");
	return buf;
}
