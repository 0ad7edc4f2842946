/* Severity and criticality to a level; never-block; the rate cap. */
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const why_names[] = {
	[WHY_NONE] = "",
	[WHY_OFFLINE] = "offline",
	[WHY_DRY_RUN] = "dry-run",
	[WHY_NEVER_BLOCK] = "never-block",
	[WHY_RATE_LIMIT] = "rate-limit",
	[WHY_PAUSED] = "paused",
	[WHY_ERROR] = "error",
	[WHY_WATCH] = "watch",
};

const char *why_name(enum why w)
{
	return (unsigned)w < ARRAY_SIZE(why_names) ? why_names[w] : "?";
}

int policy_init(struct policy *p, const struct conf *c, enum run_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	p->mode = mode;
	p->allowed.lpm = lpm_new();
	p->conf_removed = calloc(c->networks.never_block.n + 1, sizeof(bool));
	if (!p->allowed.lpm || !p->conf_removed) {
		policy_fini(p);
		return -ENOMEM;
	}
	return 0;
}

void policy_fini(struct policy *p)
{
	lpm_free(p->allowed.lpm);
	free(p->allowed.v);
	free(p->conf_removed);
	p->allowed.lpm = NULL;
	p->allowed.v = NULL;
	p->allowed.n = 0;
	p->conf_removed = NULL;
}

static bool in_conf_never_block(const struct policy *p, const struct qaddr *host)
{
	const struct prefix_list *l = &p->c->networks.never_block;
	uint32_t idx;

	/* The most specific configured prefix decides; a removed one no
	 * longer protects (a shorter one that still covers the host does
	 * not count: disallow is meant to take the host out). */
	if (!l->lpm || !lpm_lookup(l->lpm, host, &idx, NULL))
		return false;
	return !(p->conf_removed && idx < l->n && p->conf_removed[idx]);
}

bool policy_never_listed(const struct policy *p, const struct qaddr *a, bool self)
{
	return self || in_conf_never_block(p, a) || prefix_list_contains(&p->allowed, a);
}

const char *policy_never_reason(const struct policy *p, const struct qaddr *host, bool self)
{
	/* The order is what an operator most needs to hear: an own address
	 * is never blocked whatever the lists say. */
	if (self)
		return POLICY_NEVER_SELF;
	if (in_conf_never_block(p, host) || prefix_list_contains(&p->allowed, host))
		return POLICY_NEVER_LISTED;
	if (!prefix_list_contains(&p->c->networks.protected_, host))
		return POLICY_NEVER_OUTSIDE;
	return NULL;
}

bool policy_never_block(const struct policy *p, const struct qaddr *host, bool self)
{
	return policy_never_reason(p, host, self) != NULL;
}

int policy_reconfigure(struct policy *p, const struct conf *c)
{
	bool *removed = calloc(c->networks.never_block.n + 1, sizeof(bool));

	if (!removed)
		return -ENOMEM;
	free(p->conf_removed);
	p->conf_removed = removed;
	p->c = c;
	return 0;
}

int policy_allow(struct policy *p, const struct qaddr *prefix, unsigned plen)
{
	const struct prefix_list *l = &p->c->networks.never_block;
	struct prefix *v;
	uint32_t idx;
	unsigned got;

	/* Re-allowing a configured prefix that was disallowed restores it. */
	if (l->lpm && lpm_lookup(l->lpm, prefix, &idx, &got) && got == plen && idx < l->n &&
	    addr_eq(&l->v[idx].addr, prefix)) {
		if (!p->conf_removed[idx])
			return -EEXIST;
		p->conf_removed[idx] = false;
		return 0;
	}
	for (unsigned i = 0; i < p->allowed.n; i++)
		if (p->allowed.v[i].plen == plen && addr_eq(&p->allowed.v[i].addr, prefix))
			return -EEXIST;
	v = realloc(p->allowed.v, (p->allowed.n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->allowed.v = v;
	v[p->allowed.n].addr = *prefix;
	v[p->allowed.n].plen = (uint8_t)plen;
	if (lpm_insert(p->allowed.lpm, prefix, plen, p->allowed.n) < 0)
		return -ENOMEM;
	p->allowed.n++;
	return 0;
}

int policy_disallow(struct policy *p, const struct qaddr *prefix, unsigned plen)
{
	const struct prefix_list *l = &p->c->networks.never_block;

	for (unsigned i = 0; i < p->allowed.n; i++) {
		if (p->allowed.v[i].plen != plen || !addr_eq(&p->allowed.v[i].addr, prefix))
			continue;
		lpm_remove(p->allowed.lpm, prefix, plen);
		p->allowed.v[i] = p->allowed.v[--p->allowed.n];
		/* Re-index the trie for the moved entry. */
		if (i < p->allowed.n)
			lpm_insert(p->allowed.lpm, &p->allowed.v[i].addr, p->allowed.v[i].plen, i);
		return 0;
	}
	for (unsigned i = 0; i < l->n; i++)
		if (l->v[i].plen == plen && addr_eq(&l->v[i].addr, prefix) && !p->conf_removed[i]) {
			p->conf_removed[i] = true;
			return 0;
		}
	return -ENOENT;
}

void policy_decide(struct policy *p, enum severity sev, const struct host_facts *f, usec_t now,
		   struct decision *ret)
{
	policy_decide_level(p, sev <= SEV_HIGH ? p->c->policy.level[sev] : LEVEL_ISOLATE, f, now,
			    ret);
}

void policy_decide_level(struct policy *p, enum level lvl, const struct host_facts *f, usec_t now,
			 struct decision *ret)
{
	const struct conf *c = p->c;
	unsigned *count;

	memset(ret, 0, sizeof(*ret));
	if (f->critical && lvl > c->policy.critical_max) {
		lvl = c->policy.critical_max;
		ret->capped = true;
	}
	ret->unverified = f->unverified;
	if (f->unverified && lvl > c->identity.unverified_max) {
		lvl = c->identity.unverified_max;
		ret->capped = true;
	}
	ret->level = lvl;
	if (f->never)
		ret->why = WHY_NEVER_BLOCK;
	else if (p->mode == MODE_OFFLINE)
		ret->why = WHY_OFFLINE;
	else if (p->mode == MODE_ALERT)
		ret->why = WHY_DRY_RUN;
	else if (lvl <= LEVEL_WATCH)
		ret->why = WHY_WATCH;
	else if (p->paused)
		ret->why = WHY_PAUSED;
	if (ret->why != WHY_NONE)
		return;

	/* The cap counts what reaches the kernel, per wall-clock minute. */
	if (now / (60 * USEC_PER_SEC) != p->rate_minute) {
		p->rate_minute = now / (60 * USEC_PER_SEC);
		p->rate_count = p->rate_count_unverified = 0;
	}
	count = f->unverified ? &p->rate_count_unverified : &p->rate_count;
	if (*count >= c->enforce.max_actions_per_minute) {
		ret->why = WHY_RATE_LIMIT;
		p->rate_suppressed++;
		return;
	}
	(*count)++;
}
