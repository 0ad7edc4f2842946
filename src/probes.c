/* Probe edges; see probes.h for the bounds and why. */
#include "probes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define L_PROBATION 0
#define L_MAIN	    1

struct pdst {
	struct tab_hdr h;
	struct qaddr key; /* the destination */
	uint8_t n;	  /* slots in use, sorted by first contact */
	uint8_t pad[6];
	struct probe_edge e[PROBES_PER_DST];
};

struct probes {
	struct table t;
	struct probes_stats st;
};

struct probes *probes_new(uint32_t max_dsts, const struct siphash_key *key)
{
	struct probes *p;
	int r;

	if (max_dsts == 0) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	r = table_init(&p->t, max_dsts, sizeof(struct pdst), sizeof(struct qaddr), key);
	if (r < 0) {
		free(p);
		errno = -r;
		return NULL;
	}
	p->st.max_dsts = max_dsts;
	return p;
}

void probes_free(struct probes *p)
{
	if (!p)
		return;
	table_fini(&p->t);
	free(p);
}

static struct pdst *dst_find(const struct probes *p, const struct qaddr *a)
{
	struct qaddr k;

	memset(&k, 0, sizeof(k));
	k.family = a->family;
	memcpy(k.b, a->b, sizeof(k.b));
	return table_find(&p->t, &k);
}

/* Off probation; the main list keeps below 7/8 of the table, its oldest
 * going back, so that new destinations still find room. */
static void promote(struct probes *p, struct pdst *d)
{
	if (d->h.list == L_MAIN) {
		table_list_touch(&p->t, L_MAIN, d);
		return;
	}
	if (p->t.count[L_MAIN] >= p->t.cap - p->t.cap / 8 && p->t.count[L_MAIN] > 0)
		table_list_append(&p->t, L_PROBATION, table_list_head(&p->t, L_MAIN));
	table_list_append(&p->t, L_MAIN, d);
}

/* The slot a new edge takes in a full entry, or -1 when it is refused.
 * Slots are in first-contact order. */
static int victim(const struct pdst *d, const struct probe_edge *e)
{
	/* A machine displaces the latest unverified source. */
	if (!e->unverified)
		for (int i = PROBES_PER_DST - 1; i >= 0; i--)
			if (d->e[i].unverified)
				return i;
	/* Else the oldest of those that rotate, if it is no stronger. */
	if (e->unverified && !d->e[PROBES_STICKY].unverified)
		return -1;
	return PROBES_STICKY;
}

void probes_contact(struct probes *p, const struct qaddr *dst, const struct probe_edge *e,
		    bool dst_known)
{
	struct pdst *d;
	unsigned at;
	int v;

	p->st.contacts++;
	d = dst_find(p, dst);
	if (!d) {
		struct qaddr k;

		if (table_full(&p->t)) {
			struct pdst *old = table_list_head(&p->t, L_PROBATION);

			if (!old)
				old = table_list_head(&p->t, L_MAIN);
			table_remove(&p->t, old);
			p->st.evicted++;
		}
		memset(&k, 0, sizeof(k));
		k.family = dst->family;
		memcpy(k.b, dst->b, sizeof(k.b));
		d = table_insert(&p->t, &k);
		if (!d)
			return;
		table_list_append(&p->t, L_PROBATION, d);
	}
	if (dst_known)
		promote(p, d);
	for (unsigned i = 0; i < d->n; i++)
		if (addr_eq(&d->e[i].from, &e->from))
			return;
	if (d->n < PROBES_PER_DST) {
		at = d->n++;
	} else {
		v = victim(d, e);
		if (v < 0) {
			p->st.refused++;
			return;
		}
		p->st.replaced++;
		/* Close the gap, keeping first-contact order. */
		memmove(&d->e[v], &d->e[v + 1], (size_t)(PROBES_PER_DST - 1 - v) * sizeof(d->e[0]));
		at = PROBES_PER_DST - 1;
	}
	/* Contacts come in time order, but for the few that a source's clock
	 * or a merged capture puts earlier. */
	while (at > 0 && d->e[at - 1].first_us > e->first_us) {
		d->e[at] = d->e[at - 1];
		at--;
	}
	d->e[at] = *e;
	p->st.recorded++;
}

void probes_in_use(struct probes *p, const struct qaddr *a)
{
	struct pdst *d = dst_find(p, a);

	if (d && d->h.list != L_MAIN)
		promote(p, d);
}

unsigned probes_by(const struct probes *p, const struct qaddr *dsts, unsigned ndst,
		   const struct qaddr *self, usec_t before_us, struct probe_edge *ret, unsigned max)
{
	unsigned n = 0;

	for (unsigned k = 0; k < ndst; k++) {
		const struct pdst *d = dst_find(p, &dsts[k]);

		if (!d)
			continue;
		for (unsigned i = 0; i < d->n; i++) {
			const struct probe_edge *e = &d->e[i];
			unsigned j;

			if (e->first_us >= before_us ||
			    e->first_us + PROBES_MAX_AGE_US < before_us ||
			    (self && addr_eq(&e->from, self)))
				continue;
			for (j = 0; j < n; j++)
				if (addr_eq(&ret[j].from, &e->from))
					break;
			if (j < n) {
				if (e->first_us >= ret[j].first_us)
					continue;
				/* An earlier contact to another of the host's
				 * addresses: it takes the source's place. */
				memmove(&ret[j], &ret[j + 1], (n - j - 1) * sizeof(ret[0]));
				n--;
			}
			/* Insert in time order; past max, the latest goes. */
			j = n;
			while (j > 0 && ret[j - 1].first_us > e->first_us)
				j--;
			if (j >= max)
				continue;
			if (n == max)
				n--;
			memmove(&ret[j + 1], &ret[j], (n - j) * sizeof(ret[0]));
			ret[j] = *e;
			n++;
		}
	}
	return n;
}

void probes_get_stats(const struct probes *p, struct probes_stats *ret)
{
	*ret = p->st;
	ret->dsts = p->t.used;
}

size_t probes_entry_size(void)
{
	return (sizeof(struct pdst) + 7) & ~(size_t)7;
}
