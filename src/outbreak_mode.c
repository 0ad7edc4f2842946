/* The parent's side of outbreak mode (quarantined(8), OUTBREAK MODE):
 * the groups built from the configuration (outbreak.h) put in the kernel
 * in one transaction (nft_outbreak()), the switch kept in the state
 * database, told to the policy (watch becomes contain), to the sensor
 * (tighter thresholds) and in every event.
 *
 * The kernel first, then the database: a switch the kernel refused
 * changes nothing; one the database could not keep is in force and
 * alerted (a restart would then find it off). */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "log.h"
#include "outbreak.h"
#include "statedb.h"

/* The machines' groups by MAC under construction (bridge family). */
struct macs {
	const struct ob_groups *g;
	struct ob_mac *v;
	unsigned n, cap;
};

/* A trusted IPv4 binding lends its group to its machine's MAC (the
 * duplicates are settled once all are in: ob_macs_settle()). */
static int mac_from_binding(void *arg, const struct ident_binding *b)
{
	struct macs *m = arg;
	uint32_t id;

	if (b->addr.family != AF_INET || b->contested || m->n >= m->cap)
		return 0;
	id = ob_groups_find(m->g, &b->addr);
	if (!id)
		return 0;
	memcpy(m->v[m->n].mac, b->mac, MAC_LEN);
	m->v[m->n].group = id;
	m->n++;
	return 0;
}

struct mac_pos {
	struct ob_mac m;
	unsigned pos;
};

static int mac_pos_cmp(const void *pa, const void *pb)
{
	const struct mac_pos *a = pa, *b = pb;
	int c = memcmp(a->m.mac, b->m.mac, MAC_LEN);

	if (c)
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* One group per MAC: the inventory's (first in m) wins, then a
 * machine's first trusted address (bindings of one machine in two
 * groups are rare, and either is a group it is in).  Sorted, so a
 * million bindings cost n log n.  0 or -ENOMEM. */
static int ob_macs_settle(struct macs *m)
{
	struct mac_pos *t;
	unsigned w = 0;

	if (m->n < 2)
		return 0;
	t = calloc(m->n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < m->n; i++)
		t[i] = (struct mac_pos){.m = m->v[i], .pos = i};
	qsort(t, m->n, sizeof(*t), mac_pos_cmp);
	for (unsigned i = 0; i < m->n; i++)
		if (i == 0 || memcmp(t[i].m.mac, t[i - 1].m.mac, MAC_LEN) != 0)
			m->v[w++] = t[i].m;
	m->n = w;
	free(t);
	return 0;
}

/* Puts st into n's copy of outbreak mode, built from c (and, when
 * apply, into the kernel).  The number of groups in *ret_groups (the
 * "unassigned" one included).  0 or -errno with a message in err. */
static int ob_kernel(struct daemon *d, const struct conf *c, const struct outbreak_state *st,
		     bool apply, unsigned *ret_groups, char *err, size_t errlen)
{
	/* The never-block list as it stands: the configured entries less
	 * those disallowed at run time (policy.conf_removed, which follows
	 * d->c: a reload's new list has none removed), and those allowed. */
	struct prefix_list nb = {0};
	const struct prefix_list *essential[] = {&c->outbreak.essential, &nb, &d->eng.pol.allowed};
	struct nft_outbreak ob = {.on = st->on};
	struct ob_groups g;
	struct ob_range *e4 = NULL, *e6 = NULL;
	struct macs m = {0};
	int r = 0, n4 = 0, n6 = 0;

	memset(&g, 0, sizeof(g));
	*ret_groups = 0;
	if (st->on) {
		const struct prefix_list *cnb = &c->networks.never_block;

		nb.v = calloc(cnb->n ? cnb->n : 1, sizeof(*nb.v));
		if (!nb.v) {
			r = -ENOMEM;
			snprintf(err, errlen, "outbreak mode: %s", strerror(-r));
			goto out;
		}
		for (unsigned i = 0; i < cnb->n; i++)
			if (c != d->c || !d->eng.pol.conf_removed || !d->eng.pol.conf_removed[i])
				nb.v[nb.n++] = cnb->v[i];
		r = ob_groups_build(c, st->by, &g);
		/* Group ids take NFT_OB_BITS bits in the kernel (nft.h). */
		if (r == 0 && g.ngroups > NFT_OB_GROUP_MAX + 1) {
			r = -E2BIG;
			snprintf(err, errlen,
				 "outbreak mode: %u groups by %s: more than the %u the kernel's "
				 "sets can tell apart",
				 g.ngroups - 1, outbreak_by_name(st->by), NFT_OB_GROUP_MAX);
			goto out;
		}
		if (r == 0 &&
		    (n4 = ob_flatten_lists(essential, ARRAY_SIZE(essential), AF_INET, &e4)) < 0)
			r = n4;
		if (r == 0 &&
		    (n6 = ob_flatten_lists(essential, ARRAY_SIZE(essential), AF_INET6, &e6)) < 0)
			r = n6;
		if (r < 0) {
			snprintf(err, errlen, "outbreak mode: building the groups: %s",
				 strerror(-r));
			goto out;
		}
		ob.g4 = g.v4, ob.ng4 = g.n4, ob.g6 = g.v6, ob.ng6 = g.n6;
		ob.ngroups = g.ngroups;
		ob.e4 = e4, ob.ne4 = (unsigned)n4, ob.e6 = e6, ob.ne6 = (unsigned)n6;
		ob.svc = c->outbreak.services, ob.nsvc = c->outbreak.nservices;
		/* On a bridge, the machines' groups by MAC: the inventory's,
		 * then those of the trusted IPv4 bindings (identity.h). */
		if (c->enforce.family == NFT_FAMILY_BRIDGE) {
			struct ident_stats is = {0};
			unsigned trusted;
			int k;

			if (d->eng.id)
				identity_get_stats(d->eng.id, &is);
			trusted = is.by_state[BIND_ESTABLISHED] + is.by_state[BIND_PINNED];
			k = ob_groups_macs(c, &g, trusted, &m.v);

			if (k < 0) {
				r = k;
				snprintf(err, errlen, "outbreak mode: %s", strerror(-r));
				goto out;
			}
			m.g = &g;
			m.n = (unsigned)k;
			m.cap = (unsigned)k + trusted;
			if (d->eng.id)
				identity_foreach(d->eng.id, BIND_ESTABLISHED, mac_from_binding, &m);
			r = ob_macs_settle(&m);
			if (r < 0) {
				snprintf(err, errlen, "outbreak mode: %s", strerror(-r));
				goto out;
			}
			ob.gm = m.v, ob.ngm = m.n;
		}
		/* Group ids 1..ngroups-1: "unassigned" and the inventory's. */
		*ret_groups = g.ngroups - 1;
	}
	if (d->nft)
		r = nft_outbreak(d->nft, &ob, apply, err, errlen);
out:
	free(m.v);
	free(nb.v);
	ob_groups_fini(&g);
	free(e4);
	free(e6);
	return r;
}

/* The engine, the sensor and the events learn what d->ob says. */
static void ob_tell(struct daemon *d)
{
	d->eng.pol.outbreak = d->ob.on;
	d->out.outbreak = &d->ob;
	if (d->eng.sensor.set_outbreak)
		d->eng.sensor.set_outbreak(d->eng.sensor.arg, d->ob.on);
}

int daemon_outbreak_set(struct daemon *d, const struct outbreak_state *want, char *msg,
			size_t msglen)
{
	struct outbreak_state st = *want;
	char err[512], dberr[512], since[32];
	unsigned groups = 0;
	struct event ev;
	int r;

	if (!st.on)
		memset(&st, 0, sizeof(st));
	else if (d->ob.on && d->ob.by == st.by)
		return snprintf(msg, msglen, "outbreak mode is already on (by %s since %s)",
				outbreak_by_name(d->ob.by), event_format_ts(d->ob.since_us, since)),
		       0;
	if (!st.on && !d->ob.on) {
		snprintf(msg, msglen, "outbreak mode is already off");
		return 0;
	}
	r = ob_kernel(d, d->c, &st, true, &groups, err, sizeof(err));
	if (r < 0) {
		snprintf(msg, msglen, "%s", err);
		log_warnx("%s", err);
		return r;
	}
	dberr[0] = '\0';
	if (d->db && statedb_outbreak_save(d->db, &st, dberr, sizeof(dberr)) < 0)
		log_warnx("%s", dberr);
	else if (!d->db)
		snprintf(dberr, sizeof(dberr), "the state database is not open");
	d->ob = st;
	ob_tell(d);
	d->ob_groups = groups;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_OUTBREAK;
	ev.ts = daemon_wall_us();
	ev.state = want->on ? "on" : "off";
	ev.what = outbreak_by_name(want->by);
	ev.count = groups;
	ev.by_uid = want->by_uid;
	ev.by = &want->who;
	ev.reason = want->reason;
	output_event(&d->out, &ev);
	{
		char who[ACTOR_TEXT_MAX];

		log_info("outbreak mode %s by %s%s%s%s", ev.state,
			 actor_text(want->by_uid, &want->who, who, sizeof(who)),
			 want->on ? ", grouped by " : "", want->on ? ev.what : "",
			 d->nft ? "" : " (alert mode: nothing in the kernel)");
	}
	if (dberr[0]) {
		char alert[700];

		snprintf(alert, sizeof(alert),
			 "outbreak mode %s, but not saved (a restart would not keep it): %s",
			 ev.state, dberr);
		output_error(&d->out, daemon_wall_us(), alert);
	}
	if (want->on)
		snprintf(msg, msglen,
			 "outbreak mode on: %u groups by %s cut off from each other%s%s", groups,
			 ev.what, d->nft ? "" : " (alert mode: nothing in the kernel)",
			 dberr[0] ? " (NOT SAVED: see the error event)" : "");
	else
		snprintf(msg, msglen, "outbreak mode off: the normal rules again%s",
			 dberr[0] ? " (NOT SAVED: see the error event)" : "");
	return 0;
}

void daemon_outbreak_restore(struct daemon *d)
{
	struct outbreak_state st;
	char err[512], msg[700], since[32];
	unsigned groups = 0;
	int r;

	d->out.outbreak = &d->ob;
	/* Without the database the kernel keeps what it holds (nft_setup()
	 * left it), and status says off until an operator switches. */
	if (!d->db) {
		log_warnx("outbreak mode: the state database is not open: the kernel's "
			  "segmentation, if any, is left as it is");
		return;
	}
	r = statedb_outbreak_load(d->db, &st, err, sizeof(err));
	if (r < 0) {
		snprintf(msg, sizeof(msg), "outbreak mode not restored: %s", err);
		log_warnx("%s", msg);
		output_error(&d->out, daemon_wall_us(), msg);
		return;
	}
	/* Off as well: a segmentation the state does not know is lifted,
	 * in the same single transaction. */
	r = ob_kernel(d, d->c, &st, true, &groups, err, sizeof(err));
	if (r < 0) {
		snprintf(msg, sizeof(msg), "outbreak mode not restored in the kernel: %s", err);
		log_warnx("%s", msg);
		output_error(&d->out, daemon_wall_us(), msg);
	}
	d->ob = st;
	d->ob_groups = groups;
	ob_tell(d);
	if (st.on)
		log_info("outbreak mode on since %s (restored), %u groups by %s",
			 event_format_ts(st.since_us, since), groups, outbreak_by_name(st.by));
}

int daemon_outbreak_stage(struct daemon *d, const struct conf *c, char *err, size_t errlen)
{
	unsigned groups = 0;
	int r;

	if (!d->ob.on || !d->nft)
		return 0;
	r = ob_kernel(d, c, &d->ob, false, &groups, err, errlen);
	if (r == 0)
		d->ob_groups = groups;
	return r;
}

int daemon_outbreak_refresh(struct daemon *d, char *err, size_t errlen)
{
	int r;

	if (!d->ob.on || !d->nft)
		return 0;
	r = daemon_outbreak_stage(d, d->c, err, errlen);
	if (r == 0)
		r = nft_set_networks(d->nft, &d->c->networks.remediation, &d->c->networks.admin,
				     err, errlen);
	return r;
}
