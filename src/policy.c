/* Severity and criticality to a level; never-block; the rate cap. */
#include "policy.h"

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

void policy_init(struct policy *p, const struct conf *c, enum run_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	p->mode = mode;
}

bool policy_never_block(const struct policy *p, const struct qaddr *host, bool self)
{
	return self || prefix_list_contains(&p->c->networks.never_block, host) ||
	       !prefix_list_contains(&p->c->networks.protected_, host);
}

void policy_decide(struct policy *p, const struct qaddr *host, enum severity sev,
		   const struct inv_entry *inv, bool self, usec_t now, struct decision *ret)
{
	const struct conf *c = p->c;
	enum level lvl = sev <= SEV_HIGH ? c->policy.level[sev] : LEVEL_ISOLATE;

	memset(ret, 0, sizeof(*ret));
	if (inv && inv->critical && lvl > c->policy.critical_max) {
		lvl = c->policy.critical_max;
		ret->capped = true;
	}
	ret->level = lvl;
	if (policy_never_block(p, host, self))
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
		p->rate_count = 0;
	}
	if (p->rate_count >= c->enforce.max_actions_per_minute) {
		ret->why = WHY_RATE_LIMIT;
		p->rate_suppressed++;
		return;
	}
	p->rate_count++;
}
