/* Outbreak mode's groups; see outbreak.h. */
#include "outbreak.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpm.h"
#include "types.h"

/* Bytes of an address of family. */
static unsigned alen(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static int cmp_addr(const struct qaddr *a, const struct qaddr *b, unsigned len)
{
	return memcmp(a->b, b->b, len);
}

/* a + 1; false when it wrapped past the top of the space. */
static bool addr_inc(struct qaddr *a, unsigned len)
{
	for (int i = (int)len - 1; i >= 0; i--)
		if (++a->b[i] != 0)
			return true;
	return false;
}

/* a - 1; false when it wrapped below 0. */
static bool addr_dec(struct qaddr *a, unsigned len)
{
	for (int i = (int)len - 1; i >= 0; i--)
		if (a->b[i]-- != 0)
			return true;
	return false;
}

/* The first and last address of a prefix. */
static void prefix_range(const struct prefix *p, struct qaddr *lo, struct qaddr *hi)
{
	unsigned bits = alen(p->addr.family) * 8;

	*lo = p->addr;
	addr_mask(lo, p->plen);
	*hi = *lo;
	for (unsigned i = p->plen; i < bits; i++)
		hi->b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

struct item {
	struct qaddr lo, hi;
	uint8_t plen;
	unsigned order; /* position in the input: the later of two identical wins */
	uint32_t group;
};

/* Sorted by first address, then the wider network first (it holds the
 * narrower ones that start where it does), then input order. */
static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c = memcmp(a->lo.b, b->lo.b, sizeof(a->lo.b));

	if (c)
		return c;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

struct out {
	struct ob_range *v;
	unsigned n, cap;
	unsigned len;
	int err;
};

/* Appends [lo, hi] of group, merged into the last range when it is the
 * same group and adjacent.  Nothing for group 0 (no group). */
static void emit(struct out *o, const struct qaddr *lo, const struct qaddr *hi, uint32_t group)
{
	if (o->err || group == OUTBREAK_GROUP_INHERIT || cmp_addr(lo, hi, o->len) > 0)
		return;
	if (o->n) {
		struct ob_range *last = &o->v[o->n - 1];
		struct qaddr next = last->hi;

		if (last->group == group && addr_inc(&next, o->len) &&
		    cmp_addr(&next, lo, o->len) == 0) {
			last->hi = *hi;
			return;
		}
	}
	if (o->n == o->cap) {
		unsigned cap = o->cap ? 2 * o->cap : 16;
		struct ob_range *v = realloc(o->v, cap * sizeof(*v));

		if (!v) {
			o->err = -ENOMEM;
			return;
		}
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n].lo = *lo;
	o->v[o->n].hi = *hi;
	o->v[o->n].group = group;
	o->n++;
}

/* Closes the network on top of the stack: what is left of it from
 * *cursor on is its own.  *done once a range ran to the top of the
 * space: nothing can follow. */
static void close_top(struct out *o, const struct item *top, struct qaddr *cursor, bool *done)
{
	struct qaddr next;

	if (*done || cmp_addr(cursor, &top->hi, o->len) > 0)
		return;
	emit(o, cursor, &top->hi, top->group);
	next = top->hi;
	if (!addr_inc(&next, o->len)) {
		*done = true;
		return;
	}
	*cursor = next;
}

int ob_flatten(const struct ob_prefix *in, unsigned n, int family, struct ob_range **ret)
{
	struct item *items = NULL, **stack = NULL;
	struct out o = {.len = alen(family)};
	struct qaddr cursor;
	unsigned ni = 0, depth = 0;
	bool done = false;

	*ret = NULL;
	if (n == 0)
		return 0;
	items = calloc(n, sizeof(*items));
	stack = calloc(n, sizeof(*stack));
	if (!items || !stack) {
		o.err = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if (in[i].net.addr.family != family)
			continue;
		prefix_range(&in[i].net, &items[ni].lo, &items[ni].hi);
		items[ni].plen = in[i].net.plen;
		items[ni].order = i;
		items[ni].group = in[i].group;
		ni++;
	}
	qsort(items, ni, sizeof(*items), item_cmp);
	/* Two identical networks: the later one stands for both. */
	{
		unsigned w = 0;

		for (unsigned i = 0; i < ni; i++) {
			if (w && items[w - 1].plen == items[i].plen &&
			    cmp_addr(&items[w - 1].lo, &items[i].lo, o.len) == 0)
				w--;
			items[w++] = items[i];
		}
		ni = w;
	}
	/* A sweep from the lowest address up.  CIDR networks are nested or
	 * apart, never crossing, so the networks that hold the cursor are a
	 * stack: each gives its group to the stretches that no network
	 * inside it claims.  A network that inherits takes its group from
	 * the one below it on the stack when it is pushed. */
	memset(&cursor, 0, sizeof(cursor));
	cursor.family = (uint8_t)family;
	for (unsigned i = 0; i < ni && !done; i++) {
		struct item *it = &items[i];

		/* Networks that end before this one starts are closed. */
		while (depth && cmp_addr(&stack[depth - 1]->hi, &it->lo, o.len) < 0)
			close_top(&o, stack[--depth], &cursor, &done);
		if (depth) {
			struct qaddr before = it->lo;

			/* The enclosing network's stretch before this one. */
			if (addr_dec(&before, o.len))
				emit(&o, &cursor, &before, stack[depth - 1]->group);
			if (it->group == OUTBREAK_GROUP_INHERIT)
				it->group = stack[depth - 1]->group;
		}
		cursor = it->lo;
		stack[depth++] = it;
	}
	while (depth && !done)
		close_top(&o, stack[--depth], &cursor, &done);
out:
	free(items);
	free(stack);
	if (o.err) {
		free(o.v);
		return o.err;
	}
	*ret = o.v;
	return (int)o.n;
}

int ob_flatten_lists(const struct prefix_list *const *lists, unsigned n, int family,
		     struct ob_range **ret)
{
	unsigned total = 0, k = 0;
	struct ob_prefix *v;
	int r;

	*ret = NULL;
	for (unsigned i = 0; i < n; i++)
		total += lists[i] ? lists[i]->n : 0;
	if (total == 0)
		return 0;
	v = calloc(total, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; lists[i] && j < lists[i]->n; j++)
			v[k++] = (struct ob_prefix){.net = lists[i]->v[j], .group = 1};
	r = ob_flatten(v, total, family, ret);
	free(v);
	return r;
}

/* The name an inventory entry gives its group by by; "" for none. */
static const char *entry_key(const struct inv_entry *e, enum outbreak_by by, char *buf, size_t len)
{
	switch (by) {
	case OUTBREAK_BY_DEPARTMENT:
		return e->department;
	case OUTBREAK_BY_FLOOR:
		if (!e->floor[0])
			return "";
		snprintf(buf, len, "floor %s", e->floor);
		return buf;
	case OUTBREAK_BY_SUBNET:
		if (e->net.plen == addr_bits(&e->net.addr))
			return "";
		{
			char a[ADDR_STRLEN];
			snprintf(buf, len, "%s/%u", addr_ntop(&e->net.addr, a), e->net.plen);
		}
		return buf;
	}
	return "";
}

void ob_groups_fini(struct ob_groups *g)
{
	if (!g)
		return;
	free(g->v4);
	free(g->v6);
	free(g->names);
	memset(g, 0, sizeof(*g));
}

int ob_groups_build(const struct conf *c, enum outbreak_by by, struct ob_groups *g)
{
	const struct inventory *inv = &c->inventory;
	const struct prefix_list *prot = &c->networks.protected_;
	unsigned n = prot->n + inv->n, k = 0;
	struct ob_prefix *v = NULL;
	int r = -ENOMEM;

	memset(g, 0, sizeof(*g));
	g->by = by;
	/* Group ids: 1 "unassigned", then one per distinct name at most. */
	g->names = calloc(inv->n + 2, sizeof(*g->names));
	v = calloc(n ? n : 1, sizeof(*v));
	if (!g->names || !v)
		goto fail;
	snprintf(g->names[OUTBREAK_GROUP_UNASSIGNED], OUTBREAK_GROUP_NAME, "unassigned");
	g->ngroups = 2;
	/* The protected networks first: identical networks of the
	 * inventory come later and win. */
	for (unsigned i = 0; i < prot->n; i++)
		v[k++] = (struct ob_prefix){.net = prot->v[i], .group = OUTBREAK_GROUP_UNASSIGNED};
	for (unsigned i = 0; i < inv->n; i++) {
		const struct inv_entry *e = &inv->v[i];
		char buf[OUTBREAK_GROUP_NAME];
		const char *key;
		uint32_t id = OUTBREAK_GROUP_INHERIT;

		uint32_t pi;
		unsigned pplen;

		if (!e->has_net)
			continue; /* a machine by MAC only: no address to group */
		/* Outside the protected networks nothing is ours to cut off:
		 * only networks that lie inside one of them are grouped. */
		if (!prot->lpm || !lpm_lookup(prot->lpm, &e->net.addr, &pi, &pplen) ||
		    pplen > e->net.plen)
			continue;
		key = entry_key(e, by, buf, sizeof(buf));
		if (key[0]) {
			for (id = 2; id < g->ngroups; id++)
				if (strcmp(g->names[id], key) == 0)
					break;
			if (id == g->ngroups)
				snprintf(g->names[g->ngroups++], OUTBREAK_GROUP_NAME, "%s", key);
		}
		v[k++] = (struct ob_prefix){.net = e->net, .group = id};
	}
	r = ob_flatten(v, k, AF_INET, &g->v4);
	if (r < 0)
		goto fail;
	g->n4 = (unsigned)r;
	r = ob_flatten(v, k, AF_INET6, &g->v6);
	if (r < 0)
		goto fail;
	g->n6 = (unsigned)r;
	free(v);
	return 0;
fail:
	free(v);
	ob_groups_fini(g);
	return r < 0 ? r : -ENOMEM;
}

int ob_groups_macs(const struct conf *c, const struct ob_groups *g, unsigned extra,
		   struct ob_mac **ret)
{
	const struct inventory *inv = &c->inventory;
	struct ob_mac *v = calloc((size_t)inv->n + extra + 1, sizeof(*v));
	unsigned n = 0;

	*ret = NULL;
	if (!v)
		return -ENOMEM;
	for (unsigned i = 0; i < inv->n; i++) {
		const struct inv_entry *e = &inv->v[i];
		char buf[OUTBREAK_GROUP_NAME];
		const char *key;
		uint32_t id = 0;

		if (!e->has_mac)
			continue;
		key = entry_key(e, g->by, buf, sizeof(buf));
		for (unsigned j = 2; key[0] && j < g->ngroups; j++)
			if (strcmp(g->names[j], key) == 0)
				id = j;
		/* A group the address ranges do not know (an entry with a
		 * MAC only): none, rather than an id the names lack. */
		if (!id && e->has_net)
			id = ob_groups_find(g, &e->net.addr);
		if (!id)
			continue;
		memcpy(v[n].mac, e->mac, MAC_LEN);
		v[n].group = id;
		n++;
	}
	*ret = v;
	return (int)n;
}

uint32_t ob_groups_find(const struct ob_groups *g, const struct qaddr *a)
{
	const struct ob_range *v = a->family == AF_INET6 ? g->v6 : g->v4;
	unsigned lo = 0, hi = a->family == AF_INET6 ? g->n6 : g->n4;
	unsigned len = alen(a->family);

	if (a->family != AF_INET && a->family != AF_INET6)
		return 0;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (cmp_addr(&v[mid].hi, a, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < (a->family == AF_INET6 ? g->n6 : g->n4) && cmp_addr(&v[lo].lo, a, len) <= 0
		       ? v[lo].group
		       : 0;
}
