/* Repairs of the nftables table after outside changes (see repair.h). */
#include "repair.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "event.h"
#include "log.h"
#include "nft.h"
#include "output.h"

#define MS(x) ((usec_t)(x)*1000)
#define S(x)  ((usec_t)(x)*USEC_PER_SEC)

void repair_init(struct repair *r)
{
	memset(r, 0, sizeof(*r));
	r->hold_us = S(REPAIR_HOLD_MIN_S);
}

void repair_note(struct repair *r, usec_t now)
{
	if (!r->pend.what)
		return;
	if (!r->first_us)
		r->first_us = now;
	r->last_us = now;
}

/* When the pending changes are due, debounce aside from holds. */
static usec_t due(const struct repair *r)
{
	usec_t a = r->last_us + MS(REPAIR_DEBOUNCE_MS), b = r->first_us + MS(REPAIR_MAXWAIT_MS);

	return MIN(a, b);
}

usec_t repair_next(const struct repair *r)
{
	if (!r->first_us)
		return USEC_INFINITY;
	if (r->hold_until)
		return MAX(r->hold_until, due(r));
	return due(r);
}

/* Repairs started within the window before now. */
static unsigned recent(const struct repair *r, usec_t now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nhist; i++)
		if (r->hist[i] + S(REPAIR_WINDOW_S) > now)
			n++;
	return n;
}

enum repair_verdict repair_check(struct repair *r, usec_t now, struct nftmon_change *ret)
{
	if (r->hold_until && now >= r->hold_until) {
		/* The hold is over: a fresh budget. */
		r->hold_ended = r->hold_until;
		r->hold_until = 0;
		r->nhist = r->hnext = 0;
	}
	if (!r->first_us || r->hold_until || now < due(r))
		return REPAIR_WAIT;
	if (recent(r, now) >= REPAIR_BURST) {
		/* Holds that follow each other double, up to the maximum. */
		if (r->st.holds && r->hold_ended && now - r->hold_ended < S(REPAIR_HOLD_RESET_S))
			r->hold_us = MIN(2 * r->hold_us, S(REPAIR_HOLD_MAX_S));
		else
			r->hold_us = S(REPAIR_HOLD_MIN_S);
		r->hold_until = now + r->hold_us;
		r->st.holds++;
		return REPAIR_HOLD;
	}
	*ret = r->pend;
	memset(&r->pend, 0, sizeof(r->pend));
	r->first_us = r->last_us = 0;
	r->hist[r->hnext] = now;
	r->hnext = (r->hnext + 1) % REPAIR_BURST;
	if (r->nhist < REPAIR_BURST)
		r->nhist++;
	r->st.repairs++;
	return REPAIR_RUN;
}

bool repair_resume(struct repair *r, usec_t now)
{
	if (!r->hold_until)
		return false;
	r->hold_ended = now;
	r->hold_until = 0;
	r->nhist = r->hnext = 0;
	/* What happened during the hold is known only in part: check all. */
	r->pend.what |= NFTMON_CHECK;
	r->first_us = r->last_us = now - MS(REPAIR_MAXWAIT_MS);
	return true;
}

/* ---- the daemon's side ---- */

int repair_read(struct repair *r, struct nftmon *m, usec_t mono)
{
	int n = nftmon_read(m, &r->pend);

	if (n > 0)
		repair_note(r, mono);
	return n < 0 ? n : 0;
}

static void alert(const struct repair_env *env, usec_t wall, const char *msg)
{
	log_warnx("%s", msg);
	output_error(env->out, wall, msg);
}

static int count_cb(void *arg, const struct nft_elem *e)
{
	(void)e;
	(*(long *)arg)++;
	return 0;
}

/* Elements in every set: -1 for a set that is not there (or unreadable). */
static void count_sets(struct nft *n, long cnt[NFT_SET_COUNT])
{
	for (int s = 0; s < NFT_SET_COUNT; s++) {
		cnt[s] = 0;
		if (nft_list(n, (enum nft_set)s, count_cb, &cnt[s]) < 0)
			cnt[s] = -1;
	}
}

/* "by nft (pid 1234)", or nothing when the kernel did not say. */
static void who(const struct nftmon_change *c, char *buf, size_t len)
{
	if (c->pid)
		snprintf(buf, len, " by %s (pid %u)", c->comm[0] ? c->comm : "?", c->pid);
	else
		buf[0] = '\0';
}

/* The sets written from the configuration (and outbreak mode's state),
 * not from the registry: rewritten whole by nft_set_networks().  Bits of
 * a uint64_t (nft.h: NFT_SET_COUNT <= 64). */
#define SET_BIT(s)  (UINT64_C(1) << (s))
#define OB_BIT_SETS ((SET_BIT(NFT_OB_BITS) - 1) << NFT_SET_OBB4)
#define NETWORK_SETS                                                             \
	(SET_BIT(NFT_SET_REM4) | SET_BIT(NFT_SET_REM6) | SET_BIT(NFT_SET_ADM4) | \
	 SET_BIT(NFT_SET_ADM6) | SET_BIT(NFT_SET_OBG4) | SET_BIT(NFT_SET_OBG6) | \
	 SET_BIT(NFT_SET_OBE4) | SET_BIT(NFT_SET_OBE6) | SET_BIT(NFT_SET_OBS) |  \
	 SET_BIT(NFT_SET_OBGM) | OB_BIT_SETS | (OB_BIT_SETS << NFT_OB_BITS) |    \
	 (OB_BIT_SETS << (2 * NFT_OB_BITS)))

_Static_assert(NFT_SET_OBB6 == NFT_SET_OBB4 + NFT_OB_BITS &&
		       NFT_SET_OBBM == NFT_SET_OBB6 + NFT_OB_BITS,
	       "the per-bit sets follow each other");

static bool is_network_set(int s)
{
	return (NETWORK_SETS >> s) & 1;
}

/* One repair of what c says changed.  Alerts when something was put back
 * or the repair failed. */
static void run(struct repair *r, const struct repair_env *env, const struct nftmon_change *c,
		usec_t wall)
{
	long before[NFT_SET_COUNT], after[NFT_SET_COUNT];
	char what[256], by[48], err[512], done[640], msg[1400];
	bool structure = c->what & NFTMON_STRUCTURE;
	unsigned missing = 0;
	size_t n = 0;
	int rc = 0;

	nftmon_describe(c, what, sizeof(what));
	who(c, by, sizeof(by));
	count_sets(env->nft, before);
	for (int s = 0; s < NFT_SET_COUNT; s++)
		missing += before[s] < 0;
	err[0] = '\0';
	if (structure)
		rc = nft_setup(env->nft, env->remediation, env->admin, err, sizeof(err));
	else if (c->sets & NETWORK_SETS)
		rc = nft_set_networks(env->nft, env->remediation, env->admin, err, sizeof(err));
	if (rc == 0 && (structure || (c->sets & ~NETWORK_SETS))) {
		rc = act_sync(env->eng, wall);
		if (rc < 0)
			snprintf(err, sizeof(err), "reading the sets back: %s", strerror(-rc));
	}
	if (rc < 0) {
		r->st.failures++;
		snprintf(msg, sizeof(msg),
			 "nftables table %s %s changed from outside%s (%s): repair failed: %s",
			 env->family, env->table, by, what, err);
		alert(env, wall, msg);
		return;
	}
	count_sets(env->nft, after);
	done[0] = '\0';
#define PUT(...)                                                                        \
	do {                                                                            \
		if (n < sizeof(done))                                                   \
			n += (size_t)snprintf(done + n, sizeof(done) - n, __VA_ARGS__); \
	} while (0)
	if (missing == NFT_SET_COUNT)
		PUT("table recreated");
	else if (c->what & NFTMON_CHAINS)
		PUT("chains rewritten");
	for (int s = 0; s < NFT_SET_COUNT && missing < NFT_SET_COUNT; s++)
		if (before[s] < 0)
			PUT("%sset %s recreated", n ? ", " : "", nft_set_name((enum nft_set)s));
	for (int s = 0; s < NFT_SET_COUNT; s++) {
		long was = before[s] < 0 ? 0 : before[s];
		if (after[s] < 0 || after[s] == was)
			continue;
		if (is_network_set(s))
			PUT("%s%s rewritten from the configuration", n ? ", " : "",
			    nft_set_name((enum nft_set)s));
		else if (after[s] > was)
			PUT("%s%s refilled with %ld element%s", n ? ", " : "",
			    nft_set_name((enum nft_set)s), after[s] - was,
			    after[s] - was == 1 ? "" : "s");
	}
#undef PUT
	if (!done[0]) {
		log_info("nftables table %s %s changed from outside%s (%s): checked, nothing to "
			 "repair",
			 env->family, env->table, by, what);
		return;
	}
	r->st.repaired++;
	snprintf(msg, sizeof(msg), "nftables table %s %s changed from outside%s (%s): repaired: %s",
		 env->family, env->table, by, what, done);
	alert(env, wall, msg);
}

void repair_tick(struct repair *r, const struct repair_env *env, usec_t mono, usec_t wall)
{
	struct nftmon_change c;
	char by[48], msg[512];
	usec_t t0;

	switch (repair_check(r, mono, &c)) {
	case REPAIR_WAIT:
		return;
	case REPAIR_HOLD:
		who(&r->pend, by, sizeof(by));
		snprintf(msg, sizeof(msg),
			 "nftables table %s %s keeps being changed from outside (last%s): %u "
			 "repairs "
			 "in %u s; repairs stop for %llu s (a reload resumes them at once)",
			 env->family, env->table, by[0] ? by : " by an unknown process",
			 REPAIR_BURST, REPAIR_WINDOW_S,
			 (unsigned long long)(r->hold_us / USEC_PER_SEC));
		alert(env, wall, msg);
		return;
	case REPAIR_RUN:
		t0 = time_mono_us();
		run(r, env, &c, wall);
		r->st.last_us = time_mono_us() - t0;
		r->st.max_us = MAX(r->st.max_us, r->st.last_us);
		return;
	}
}
