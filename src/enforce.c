/* Enforcement: hosts' levels to set elements, one transaction per batch. */
#include "enforce.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Elements (and operations) one request can need: the MAC and every
 * address isolated, removed and added again (reset_ttl), every port in the
 * kernel removed and every wanted one added.  Counted per request, so that
 * the arrays of a transaction are as large as its hosts need, not as the
 * largest host could (66 operations each, 2 MiB zeroed for 256 hosts). */
static size_t req_bound(const struct hostrec *rec)
{
	return 2 + 2 * (size_t)rec->naddrs + rec->nk + rec->nwant;
}

/* What a delete removes from the view when the kernel says it is gone. */
enum what {
	W_PORT, /* rec->k[index] */
	W_ADDR, /* rec->addrs[index].kiso */
	W_MAC,	/* rec->kmac */
};

struct opinfo {
	unsigned req;
	uint8_t what; /* enum what */
	int index;
};

void enforce_init(struct enforcer *e, const struct enforce_backend *be)
{
	memset(e, 0, sizeof(*e));
	e->be = *be;
}

enum level enforce_effective_level(const struct hostrec *rec, enum level level, bool critical)
{
	/* SPEC section 5: containment blocks the ports the threat spreads
	 * on; where none are known (or too many to list) it means isolation,
	 * except for a critical asset, which is never isolated automatically. */
	if (level == LEVEL_CONTAIN && !critical && (rec->nwant == 0 || rec->want_overflow))
		return LEVEL_ISOLATE;
	return level;
}

static bool has_port(const struct hport *v, unsigned n, const struct hport *p)
{
	for (unsigned i = 0; i < n; i++)
		if (hport_eq(&v[i], p))
			return true;
	return false;
}

static bool proto_is_icmp(uint8_t proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

struct build {
	struct nft_op *ops;
	struct opinfo *info;
	struct nft_elem *elems;
	unsigned nops, nelems;
};

static struct nft_elem *elem_new(struct build *b, const struct qaddr *key)
{
	struct nft_elem *el = &b->elems[b->nelems++];

	memset(el, 0, sizeof(*el));
	el->addr = *key;
	return el;
}

static void op_new(struct build *b, enum nft_set set, bool del, struct nft_elem *first,
		   unsigned count, unsigned req, enum what what, int index)
{
	struct nft_op *op = &b->ops[b->nops];

	memset(op, 0, sizeof(*op));
	op->set = set;
	op->del = del;
	op->elems = first;
	op->nelems = count;
	op->tag = req;
	b->info[b->nops].req = req;
	b->info[b->nops].what = (uint8_t)what;
	b->info[b->nops].index = index;
	b->nops++;
}

static enum nft_set iso_set(const struct qaddr *a)
{
	return a->family == AF_INET6 ? NFT_SET_ISO6 : NFT_SET_ISO4;
}

/* The containment set of a record's id and one of its ports: by MAC for
 * a machine; a port towards one destination in the sets keyed by the
 * destination too (by its family for a machine). */
static enum nft_set con_set(const struct hostrec *rec, const struct hport *p)
{
	const struct qaddr *id = &rec->id, *to = hostrec_port_to(rec, p);
	bool icmp = proto_is_icmp(p->proto);

	if (to) {
		if (addr_is_mac(id))
			return to->family == AF_INET6 ? NFT_SET_CONHM6 : NFT_SET_CONHM4;
		return id->family == AF_INET6 ? NFT_SET_CONH6 : NFT_SET_CONH4;
	}
	if (addr_is_mac(id))
		return icmp ? NFT_SET_CONPM : NFT_SET_CONM;
	if (id->family == AF_INET6)
		return icmp ? NFT_SET_CONP6 : NFT_SET_CON6;
	return icmp ? NFT_SET_CONP4 : NFT_SET_CON4;
}

/* The element's destination: p's, if it has one. */
static void port_dst(struct nft_elem *el, const struct hostrec *rec, const struct hport *p)
{
	const struct qaddr *to = hostrec_port_to(rec, p);

	if (to)
		el->dst = *to;
}

/* Is the MAC element part of isolation for this request? */
static bool wants_mac(const struct enforce_req *req)
{
	return hostrec_is_machine(req->rec) && !req->no_mac && req->level == LEVEL_ISOLATE;
}

/* Appends the operations that bring req's host from its view to its target. */
static void build_req(struct build *b, const struct enforce_req *req, unsigned ri)
{
	const struct hostrec *rec = req->rec;
	const struct qaddr *id = &rec->id;
	bool want_iso = req->level == LEVEL_ISOLATE;
	bool want_con = req->level == LEVEL_CONTAIN;
	bool want_mac = wants_mac(req);
	struct nft_elem *el, *first;
	unsigned count;

	/* Deletes, one element per operation: when one is gone the kernel's
	 * error names exactly that element (pack() puts several hosts' in
	 * one message, and sends them alone again when it is refused). */
	if (rec->kmac && (!want_mac || req->reset_ttl)) {
		el = elem_new(b, id);
		op_new(b, NFT_SET_ISOM, true, el, 1, ri, W_MAC, 0);
	}
	for (unsigned i = 0; i < rec->naddrs; i++) {
		if (!rec->addrs[i].kiso || (want_iso && !req->reset_ttl))
			continue;
		el = elem_new(b, &rec->addrs[i].a);
		op_new(b, iso_set(&rec->addrs[i].a), true, el, 1, ri, W_ADDR, (int)i);
	}
	for (unsigned i = 0; i < rec->nk; i++) {
		const struct hport *p = &rec->k[i];
		if (want_con && !req->reset_ttl && has_port(rec->want, rec->nwant, p))
			continue;
		el = elem_new(b, id);
		el->l4proto = p->proto;
		el->port = p->port;
		port_dst(el, rec, p);
		op_new(b, con_set(rec, p), true, el, 1, ri, W_PORT, (int)i);
	}
	/* Adds, one operation per set (addresses: one per address, they
	 * may be of both families). */
	if (want_mac && (!rec->kmac || req->reset_ttl)) {
		el = elem_new(b, id);
		el->timeout_ms = req->ttl_ms;
		op_new(b, NFT_SET_ISOM, false, el, 1, ri, W_MAC, 0);
	}
	for (unsigned i = 0; want_iso && i < rec->naddrs; i++) {
		if (rec->addrs[i].kiso && !req->reset_ttl)
			continue;
		el = elem_new(b, &rec->addrs[i].a);
		el->timeout_ms = req->ttl_ms;
		op_new(b, iso_set(&rec->addrs[i].a), false, el, 1, ri, W_ADDR, (int)i);
	}
	if (!want_con)
		return;
	/* One operation per set the wanted ports go to, in the order of the
	 * sets. */
	for (unsigned s = 0; s < NFT_SET_COUNT; s++) {
		first = &b->elems[b->nelems];
		count = 0;
		for (unsigned i = 0; i < rec->nwant; i++) {
			const struct hport *p = &rec->want[i];
			if (con_set(rec, p) != (enum nft_set)s)
				continue;
			if (!req->reset_ttl && has_port(rec->k, rec->nk, p))
				continue;
			el = elem_new(b, id);
			el->l4proto = p->proto;
			el->port = p->port;
			port_dst(el, rec, p);
			el->timeout_ms = req->ttl_ms;
			count++;
		}
		if (count)
			op_new(b, (enum nft_set)s, false, first, count, ri, W_PORT, -1);
	}
}

/* The kernel now holds req's target: make the view say so. */
static void commit_view(struct enforce_req *req)
{
	struct hostrec *rec = req->rec;

	rec->kmac = wants_mac(req);
	for (unsigned i = 0; i < rec->naddrs; i++)
		rec->addrs[i].kiso = req->level == LEVEL_ISOLATE;
	rec->nk = 0;
	if (req->level == LEVEL_CONTAIN) {
		memcpy(rec->k, rec->want, rec->nwant * sizeof(rec->want[0]));
		rec->nk = rec->nwant;
	}
	rec->level = (uint8_t)req->level;
}

/* A delete found its element gone: the view forgets it. */
static void drop_view(struct hostrec *rec, const struct opinfo *oi)
{
	switch (oi->what) {
	case W_MAC:
		rec->kmac = 0;
		return;
	case W_ADDR:
		if ((unsigned)oi->index < rec->naddrs)
			rec->addrs[oi->index].kiso = 0;
		return;
	case W_PORT:
		if (oi->index >= 0 && (unsigned)oi->index < rec->nk) {
			rec->k[oi->index] = rec->k[rec->nk - 1];
			rec->nk--;
		}
		return;
	}
}

/* The transaction as sent.  The operations of one element (an address
 * isolated or released, a MAC, a port removed) of hosts that may share a
 * message are packed into one message per set and direction, up to
 * NFT_OP_MAX_ELEMS elements each: per-message work is most of the
 * kernel's cost of a one-element change.  Message m carries the built
 * operations members[first[m]] .. members[first[m] + nmemb[m] - 1]. */
struct pack {
	struct nft_op *ops;
	struct nft_elem *elems;
	unsigned *members, *first, *nmemb;
	unsigned nops, nelems, nmembers;
};

static bool packable(const struct build *b, unsigned i, const bool *alone)
{
	return b->ops[i].nelems == 1 && !alone[b->info[i].req];
}

static void pack_one(struct pack *p, const struct nft_op *src, unsigned i)
{
	p->ops[p->nops] = *src;
	p->first[p->nops] = p->nmembers;
	p->nmemb[p->nops] = 1;
	p->members[p->nmembers++] = i;
	p->nops++;
}

/* Deletes first, then adds: a host's deletes come before its adds as
 * built (reset_ttl deletes an element and adds it again), and across
 * hosts a delete before an add leaves the element that the adding host's
 * view says is there. */
static void pack(struct pack *p, const struct build *b, const bool *alone)
{
	p->nops = p->nelems = p->nmembers = 0;
	for (int del = 1; del >= 0; del--) {
		for (unsigned s = 0; s < NFT_SET_COUNT; s++) {
			struct nft_op *op = NULL;

			for (unsigned i = 0; i < b->nops; i++) {
				const struct nft_op *o = &b->ops[i];

				if (o->set != (enum nft_set)s || o->del != (del == 1) ||
				    !packable(b, i, alone))
					continue;
				if (!op || op->nelems == NFT_OP_MAX_ELEMS) {
					op = &p->ops[p->nops];
					memset(op, 0, sizeof(*op));
					op->set = o->set;
					op->del = o->del;
					op->elems = &p->elems[p->nelems];
					op->tag = o->tag;
					p->first[p->nops] = p->nmembers;
					p->nmemb[p->nops] = 0;
					p->nops++;
				}
				p->elems[p->nelems++] = o->elems[0];
				op->nelems++;
				p->members[p->nmembers++] = i;
				p->nmemb[p->nops - 1]++;
			}
		}
		for (unsigned i = 0; i < b->nops; i++)
			if (b->ops[i].del == (del == 1) && !packable(b, i, alone))
				pack_one(p, &b->ops[i], i);
	}
}

/* The kernel's answers to the messages sent, onto the operations built.
 * A message of one operation passes its error on.  A packed message
 * refused as a whole does not say which element the kernel refused: its
 * hosts are marked to go alone (each operation in a message of its own)
 * from the next round on, so that the next refusal names its host, or
 * the element a delete found gone.  Returns whether any host was so
 * marked. */
static bool unpack_errors(const struct pack *p, struct build *b, bool *alone)
{
	bool marked = false;

	for (unsigned m = 0; m < p->nops; m++) {
		const struct nft_op *op = &p->ops[m];

		if (!op->error)
			continue;
		if (p->nmemb[m] == 1) {
			struct nft_op *o = &b->ops[p->members[p->first[m]]];

			o->error = op->error;
			memcpy(o->msg, op->msg, sizeof(o->msg));
			continue;
		}
		for (unsigned k = 0; k < p->nmemb[m]; k++)
			alone[b->info[p->members[p->first[m] + k]].req] = true;
		marked = true;
	}
	return marked;
}

int enforce_apply(struct enforcer *e, struct enforce_req *reqs, unsigned n)
{
	struct build b;
	struct pack p;
	bool *active, *alone;
	size_t bound = 0;
	unsigned failed = 0;
	usec_t t0 = time_mono_us();
	int r = 0;

	if (n == 0)
		return 0;
	memset(&b, 0, sizeof(b));
	memset(&p, 0, sizeof(p));
	for (unsigned i = 0; i < n; i++)
		bound += req_bound(reqs[i].rec);
	/* Not zeroed: op_new() and elem_new() write what they hand out. */
	active = malloc(n * sizeof(*active));
	alone = malloc(n * sizeof(*alone));
	b.ops = malloc(bound * sizeof(*b.ops));
	b.info = malloc(bound * sizeof(*b.info));
	b.elems = malloc(bound * sizeof(*b.elems));
	p.ops = malloc(bound * sizeof(*p.ops));
	p.elems = malloc(bound * sizeof(*p.elems));
	p.members = malloc(bound * sizeof(*p.members));
	p.first = malloc(bound * sizeof(*p.first));
	p.nmemb = malloc(bound * sizeof(*p.nmemb));
	if (!active || !alone || !b.ops || !b.info || !b.elems || !p.ops || !p.elems ||
	    !p.members || !p.first || !p.nmemb) {
		r = -ENOMEM;
		for (unsigned i = 0; i < n; i++)
			reqs[i].error = -ENOMEM;
		e->st.errors += n;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		reqs[i].error = 0;
		reqs[i].msg[0] = '\0';
		reqs[i].changed = false;
		active[i] = true;
		alone[i] = false;
	}

	/* Each round either commits, retires at least one operation, or
	 * sends at least one host alone that was packed, so there are at
	 * most as many rounds as operations and hosts, plus one. */
	for (unsigned round = 0;; round++) {
		b.nops = b.nelems = 0;
		for (unsigned i = 0; i < n; i++)
			if (active[i])
				build_req(&b, &reqs[i], i);
		if (b.nops == 0) {
			for (unsigned i = 0; i < n; i++)
				if (active[i])
					commit_view(&reqs[i]);
			break;
		}
		pack(&p, &b, alone);
		e->st.transactions++;
		if (round > 0)
			e->st.resends++;
		r = e->be.commit(e->be.arg, p.ops, p.nops);
		if (r == 0) {
			e->st.elements += b.nelems;
			for (unsigned i = 0; i < b.nops; i++)
				reqs[b.info[i].req].changed = true;
			for (unsigned i = 0; i < n; i++)
				if (active[i])
					commit_view(&reqs[i]);
			break;
		}
		if (r != -ECANCELED) {
			/* The exchange failed: the kernel may or may not have
			 * applied it. */
			for (unsigned i = 0; i < n; i++)
				if (active[i]) {
					reqs[i].error = r;
					failed++;
				}
			goto out;
		}
		bool progress = unpack_errors(&p, &b, alone);
		/* Walk backwards so that dropping k[] entries by index (swap
		 * with the last) never disturbs an index still to visit. */
		for (unsigned i = b.nops; i-- > 0;) {
			struct nft_op *op = &b.ops[i];
			struct enforce_req *req = &reqs[b.info[i].req];

			if (!op->error || !active[b.info[i].req])
				continue;
			progress = true;
			if (op->del && op->error == -ENOENT) {
				/* Already gone (a TTL ran out): the target holds. */
				drop_view(req->rec, &b.info[i]);
				continue;
			}
			req->error = op->error;
			memcpy(req->msg, op->msg, sizeof(req->msg));
			active[b.info[i].req] = false;
			failed++;
		}
		if (!progress) {
			/* Refused without naming a message: nothing to retry. */
			for (unsigned i = 0; i < n; i++)
				if (active[i]) {
					reqs[i].error = -EPROTO;
					failed++;
				}
			break;
		}
	}
	r = failed ? -ECANCELED : 0;
out:
	e->st.errors += failed;
	e->st.last_us = time_mono_us() - t0;
	if (e->st.last_us > e->st.max_us)
		e->st.max_us = e->st.last_us;
	prom_hist_add(&e->st.apply, e->st.last_us);
	free(active);
	free(alone);
	free(b.ops);
	free(b.info);
	free(b.elems);
	free(p.ops);
	free(p.elems);
	free(p.members);
	free(p.first);
	free(p.nmemb);
	return r;
}
