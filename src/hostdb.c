/* Registry of flagged and acted-on hosts. */
#include "hostdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outside.h"

/* Records that may go when the registry is full (nothing in force, not
 * in certification), least recently flagged first; and those that stay. */
#define L_SPARE 0
#define L_KEPT	1
/* Spare records passed over (queued for the next commit) when making
 * room. */
#define EVICT_TRIES 64

struct hkey {
	struct qaddr addr;
};

/* The address index: one entry per address a record holds. */
struct xent {
	struct tab_hdr h;
	struct hkey k;
	uint32_t rec; /* the record's slab index */
};

static const char *const state_names[HOST_STATE_COUNT] = {
	[HOST_DETECTED] = "detected",	    [HOST_WATCHED] = "watched",
	[HOST_CONTAINED] = "contained",	    [HOST_ISOLATED] = "isolated",
	[HOST_CLEANING] = "cleaning",	    [HOST_CLEANED] = "cleaned",
	[HOST_UNCLEANABLE] = "uncleanable", [HOST_RELEASED] = "released",
};

const char *host_state_name(enum host_state s)
{
	return (unsigned)s < HOST_STATE_COUNT ? state_names[s] : "?";
}

enum host_state host_state_for_level(enum level l)
{
	switch (l) {
	case LEVEL_WATCH:
		return HOST_WATCHED;
	case LEVEL_CONTAIN:
		return HOST_CONTAINED;
	case LEVEL_ISOLATE:
		return HOST_ISOLATED;
	default:
		return HOST_RELEASED;
	}
}

int host_state_parse(const char *s, enum host_state *ret)
{
	for (unsigned i = 0; i < HOST_STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum host_state)i;
			return 0;
		}
	return -EINVAL;
}

int hostdb_init(struct hostdb *db, uint32_t cap, const struct siphash_key *key)
{
	int r;

	memset(db, 0, sizeof(*db));
	r = table_init(&db->t, cap, sizeof(struct hostrec), sizeof(struct hkey), key);

	/* Most records hold one or two addresses; the index's pages are
	 * only touched as it fills. */
	if (r == 0)
		r = table_init(&db->ix, cap * 2u + 1024, sizeof(struct xent), sizeof(struct hkey),
			       key);
	if (r == 0) {
		db->pend = calloc(cap ? cap : 1, sizeof(*db->pend));
		if (!db->pend) {
			table_fini(&db->ix);
			r = -ENOMEM;
		}
	}
	if (r < 0)
		table_fini(&db->t);
	return r;
}

static struct xent *ix_find(const struct hostdb *db, const struct qaddr *a)
{
	struct hkey k;

	memset(&k, 0, sizeof(k));
	k.addr = *a;
	return table_find(&db->ix, &k);
}

static const char *const hist_names[HIST_KIND_COUNT] = {
	[HIST_DETECT] = "detect", [HIST_ACTION] = "action", [HIST_RELEASE] = "release",
	[HIST_MARK] = "mark",	  [HIST_ADOPT] = "adopt",   [HIST_ERROR] = "error",
};

const char *hist_kind_name(enum hist_kind k)
{
	return (unsigned)k < HIST_KIND_COUNT ? hist_names[k] : "?";
}

int hist_kind_parse(const char *s, enum hist_kind *ret)
{
	for (unsigned i = 0; i < HIST_KIND_COUNT; i++)
		if (strcmp(s, hist_names[i]) == 0) {
			*ret = (enum hist_kind)i;
			return 0;
		}
	return -EINVAL;
}

void hostdb_remove(struct hostdb *db, struct hostrec *r)
{
	if (db->on_remove)
		db->on_remove(db->remove_arg, r);
	for (unsigned i = 0; i < r->naddrs; i++) {
		struct xent *x = ix_find(db, &r->addrs[i].a);

		if (x && x->rec == table_index(&db->t, r))
			table_remove(&db->ix, x);
	}
	for (unsigned i = 0; i < r->nhist; i++)
		hist_fini(&r->hist[i]);
	free(r->hist);
	table_remove(&db->t, r);
}

void hostdb_clear(struct hostdb *db)
{
	struct hostrec *r;

	while ((r = hostdb_first(db)))
		hostdb_remove(db, r);
}

void hostdb_fini(struct hostdb *db)
{
	if (db->t.slab)
		hostdb_clear(db);
	table_fini(&db->t);
	table_fini(&db->ix);
	free(db->pend);
	db->pend = NULL;
}

int hostdb_hist_set_outside(struct hist *h, const char *source, const char *evidence)
{
	size_t ls = strlen(source), le = evidence ? strlen(evidence) : 0;
	char *p = malloc(ls + le + 2);

	if (!p)
		return -ENOMEM;
	memcpy(p, source, ls + 1);
	memcpy(p + ls + 1, le ? evidence : "", le + 1);
	free(h->outside);
	h->outside = p;
	return 0;
}

const char *hist_source(const struct hist *h)
{
	return h->outside ? h->outside : "self";
}

const char *hist_evidence(const struct hist *h)
{
	const char *e;

	if (!h->outside)
		return NULL;
	e = h->outside + strlen(h->outside) + 1;
	return *e ? e : NULL;
}

void hist_fini(struct hist *h)
{
	free(h->outside);
	h->outside = NULL;
}

int hostdb_history(struct hostrec *r, usec_t ts, enum hist_kind kind, enum level level, long uid,
		   const char *text)
{
	return hostdb_history_by(r, ts, kind, level, uid, NULL, text);
}

int hostdb_hist_grow(struct hostrec *r)
{
	uint16_t cap = r->hist_cap ? (uint16_t)MIN(r->hist_cap * 2, HOST_MAX_HIST) : 2;
	struct hist *h = realloc(r->hist, cap * sizeof(*h));

	if (!h)
		return -ENOMEM;
	r->hist = h;
	r->hist_cap = cap;
	return 0;
}

int hostdb_history_by(struct hostrec *r, usec_t ts, enum hist_kind kind, enum level level, long uid,
		      const struct actor *by, const char *text)
{
	struct hist *h;

	if (r->nhist == r->hist_cap) {
		if (r->hist_cap == HOST_MAX_HIST) {
			/* Keep the first lines; drop the oldest of the rest. */
			hist_fini(&r->hist[HOST_HIST_KEEP]);
			memmove(&r->hist[HOST_HIST_KEEP], &r->hist[HOST_HIST_KEEP + 1],
				(HOST_MAX_HIST - HOST_HIST_KEEP - 1) * sizeof(*h));
			r->nhist--;
			/* The line dropped was written already: one fewer of
			 * those left.  One not written yet (more lines than
			 * the cap between two saves) is lost to the
			 * database too. */
			if (r->db_hist > HOST_HIST_KEEP)
				r->db_hist--;
		} else if (hostdb_hist_grow(r) < 0) {
			return -ENOMEM;
		}
	}
	h = &r->hist[r->nhist++];
	memset(h, 0, sizeof(*h));
	h->ts = ts;
	h->kind = (uint8_t)kind;
	h->level = (uint8_t)level;
	h->state = r->state;
	h->uid = uid;
	/* Cut at a character boundary: a rule name from outside (outside.h)
	 * is longer than a line's text, and what is kept stays UTF-8. */
	if (text) {
		size_t k = outside_utf8_cut(text, strlen(text), sizeof(h->text) - 1);

		memcpy(h->text, text, k);
		h->text[k] = '\0';
	}
	if (by && uid >= 0)
		h->by = *by;
	return 0;
}

struct hostrec *hostdb_find(struct hostdb *db, const struct qaddr *id)
{
	struct hkey k;

	memset(&k, 0, sizeof(k));
	k.addr = *id;
	return table_find(&db->t, &k);
}

struct hostrec *hostdb_find_addr(struct hostdb *db, const struct qaddr *a)
{
	struct xent *x = ix_find(db, a);

	return x ? table_at(&db->t, x->rec) : hostdb_find(db, a);
}

int hostrec_addr_index(const struct hostrec *r, const struct qaddr *a)
{
	for (unsigned i = 0; i < r->naddrs; i++)
		if (addr_eq(&r->addrs[i].a, a))
			return (int)i;
	return -1;
}

int hostdb_addr_add(struct hostdb *db, struct hostrec *r, const struct qaddr *a)
{
	struct xent *x = ix_find(db, a);
	struct hkey k;

	if (x)
		return x->rec == table_index(&db->t, r) ? 0 : -EEXIST;
	if (r->naddrs == HOST_MAX_ADDRS || table_full(&db->ix))
		return -ENOSPC;
	memset(&k, 0, sizeof(k));
	k.addr = *a;
	x = table_insert(&db->ix, &k);
	if (!x)
		return -ENOSPC;
	x->rec = table_index(&db->t, r);
	memset(&r->addrs[r->naddrs], 0, sizeof(r->addrs[0]));
	r->addrs[r->naddrs++].a = *a;
	return 0;
}

void hostdb_addr_del(struct hostdb *db, struct hostrec *r, unsigned i)
{
	struct xent *x;

	if (i >= r->naddrs)
		return;
	x = ix_find(db, &r->addrs[i].a);
	if (x && x->rec == table_index(&db->t, r))
		table_remove(&db->ix, x);
	r->addrs[i] = r->addrs[--r->naddrs];
}

bool hostrec_isolated(const struct hostrec *r)
{
	if (r->kmac)
		return true;
	for (unsigned i = 0; i < r->naddrs; i++)
		if (r->addrs[i].kiso)
			return true;
	return false;
}

static bool keeps(const struct hostrec *r)
{
	return r->level > LEVEL_WATCH || r->kmac || r->nk || hostrec_isolated(r) ||
	       r->state == HOST_CLEANING || r->state == HOST_UNCLEANABLE;
}

bool hostrec_purgeable(const struct hostrec *r, usec_t before_us, usec_t now_us)
{
	/* What eviction would take (nothing in force) and, of that, only
	 * the end of a case: released, or certified clean.  A host that was
	 * flagged but never acted on (detected, watched) is still a case. */
	if (keeps(r) || r->level != LEVEL_NONE || r->busy)
		return false;
	if (r->state != HOST_RELEASED && r->state != HOST_CLEANED)
		return false;
	if (r->surveil_until_us > now_us)
		return false;
	return MAX(r->changed_us, r->last_detect_us) < before_us;
}

void hostdb_settle(struct hostdb *db, struct hostrec *r)
{
	r->unsettled = 0;
	table_list_touch(&db->t, keeps(r) ? L_KEPT : L_SPARE, r);
}

void hostdb_changed(struct hostdb *db, struct hostrec *r)
{
	if (r->unsettled)
		return;
	r->unsettled = 1;
	if (db->npend < db->t.cap)
		db->pend[db->npend++] = table_index(&db->t, r);
	else
		db->pend_overflow = true;
}

/* Moves every changed record to its list.  An index may be stale (its
 * record evicted or removed, the slot maybe reused): only a record in use
 * and still marked moves. */
static void settle_pending(struct hostdb *db)
{
	if (db->pend_overflow) {
		/* By slot, not by list: moving a record does not upset it. */
		for (uint32_t i = 0; i < db->t.fresh; i++) {
			struct hostrec *r = table_at(&db->t, i);

			if (r->h.list != TAB_NOLIST && r->unsettled)
				hostdb_settle(db, r);
		}
		db->pend_overflow = false;
	} else {
		for (uint32_t i = 0; i < db->npend; i++) {
			struct hostrec *r = table_at(&db->t, db->pend[i]);

			if (r && r->h.list != TAB_NOLIST && r->unsettled)
				hostdb_settle(db, r);
		}
	}
	db->npend = 0;
}

static void evict(struct hostdb *db, struct hostrec *r)
{
	hostdb_remove(db, r);
	db->evicted++;
}

/* Room for one more record: the spare record least recently useful goes
 * (a flood of one-shot sources must not lock out the next real worm, nor
 * may released hosts fill the registry for good); what is blocked or in
 * certification never does. */
static bool evict_spare(struct hostdb *db)
{
	/* Records that changed level since they were put on their list
	 * (hostdb_changed()) are moved first: released ones become spare. */
	settle_pending(db);
	/* A record whose level changed without hostdb_changed() and is
	 * found on the wrong list here is moved now. */
	for (unsigned i = 0; i < EVICT_TRIES; i++) {
		struct hostrec *r = table_list_head(&db->t, L_SPARE);

		if (!r)
			break;
		if (keeps(r)) {
			table_list_append(&db->t, L_KEPT, r);
			continue;
		}
		if (r->busy) {
			table_list_touch(&db->t, L_SPARE, r);
			continue;
		}
		evict(db, r);
		return true;
	}
	for (unsigned i = 0; i < EVICT_TRIES; i++) {
		struct hostrec *r = table_list_head(&db->t, L_KEPT);

		if (!r)
			return false;
		if (keeps(r) || r->busy) {
			table_list_touch(&db->t, L_KEPT, r);
			continue;
		}
		evict(db, r);
		return true;
	}
	return false;
}

struct hostrec *hostdb_get(struct hostdb *db, const struct qaddr *id)
{
	struct hostrec *r = hostdb_find(db, id);
	struct hkey k;

	if (r)
		return r;
	if (table_full(&db->t) && !evict_spare(db))
		return NULL;
	memset(&k, 0, sizeof(k));
	k.addr = *id;
	r = table_insert(&db->t, &k);
	if (!r)
		return NULL;
	r->by_uid = -1;
	r->id = *id;
	if (!addr_is_mac(id)) {
		r->addr = *id;
		/* Held unless a machine's record holds it already. */
		(void)hostdb_addr_add(db, r, id);
	}
	table_list_append(&db->t, L_SPARE, r);
	return r;
}

struct hit *hostdb_hit(struct hostrec *r, unsigned rule)
{
	for (unsigned i = 0; i < r->nhits; i++)
		if (r->hits[i].rule == rule)
			return &r->hits[i];
	return NULL;
}

struct hit *hostdb_add_hit(struct hostrec *r, unsigned rule, usec_t now)
{
	struct hit *h;

	if (r->nhits < HOSTDB_MAX_HITS)
		h = &r->hits[r->nhits++];
	else
		h = &r->hits[HOSTDB_MAX_HITS - 1];
	memset(h, 0, sizeof(*h));
	h->rule = (uint16_t)rule;
	h->first_us = now;
	return h;
}

uint32_t hostdb_count(const struct hostdb *db)
{
	return db->t.used;
}

uint32_t hostdb_capacity(const struct hostdb *db)
{
	return db->t.cap;
}

struct hostrec *hostdb_first(const struct hostdb *db)
{
	struct hostrec *r = table_list_head(&db->t, L_SPARE);

	return r ? r : table_list_head(&db->t, L_KEPT);
}

struct hostrec *hostdb_next(const struct hostdb *db, const struct hostrec *r)
{
	struct hostrec *n = table_list_next(&db->t, r);

	if (n || r->h.list == L_KEPT)
		return n;
	return table_list_head(&db->t, L_KEPT);
}

struct hostrec *hostdb_seek(const struct hostdb *db, uint32_t *pos, uint32_t max_slots)
{
	/* Slots at or past fresh were never used. */
	uint32_t end = db->t.fresh;

	for (uint32_t n = 0; *pos < end && n < max_slots; n++) {
		struct hostrec *r = table_at(&db->t, (*pos)++);

		/* A free slot is on no list; a live record always is. */
		if (r->h.list != TAB_NOLIST)
			return r;
	}
	return NULL;
}

bool hostdb_seek_done(const struct hostdb *db, uint32_t pos)
{
	return pos >= db->t.fresh;
}

/* Whether want[] or k[] names destination index i. */
static bool dest_used(const struct hostrec *r, unsigned i)
{
	for (unsigned k = 0; k < r->nwant; k++)
		if (r->want[k].to == i)
			return true;
	for (unsigned k = 0; k < r->nk; k++)
		if (r->k[k].to == i)
			return true;
	return false;
}

int hostrec_dest(struct hostrec *r, const struct qaddr *to)
{
	int free_slot = -1;

	if (!to || !to->family)
		return 0;
	for (unsigned i = 0; i < HOST_MAX_DESTS; i++) {
		if (r->dests[i].family && addr_eq(&r->dests[i], to))
			return (int)i + 1;
		if (free_slot < 0 && (!r->dests[i].family || !dest_used(r, i + 1)))
			free_slot = (int)i;
	}
	if (free_slot < 0)
		return -ENOSPC;
	r->dests[free_slot] = *to;
	return free_slot + 1;
}

void hostdb_want_port(struct hostrec *r, uint8_t proto, uint16_t port, const struct qaddr *to)
{
	struct hport p = {.proto = proto, .port = port};
	unsigned n = 0;
	int d;

	for (unsigned i = 0; i < r->nwant; i++) {
		const struct hport *w = &r->want[i];

		if (w->proto != proto || w->port != port)
			continue;
		/* Already there, or already blocked towards everyone. */
		if (!w->to || (to && to->family && addr_eq(hostrec_port_to(r, w), to)))
			return;
	}
	d = hostrec_dest(r, to);
	if (d < 0) {
		r->want_overflow = 1;
		return;
	}
	p.to = (uint8_t)d;
	/* Towards everyone: the same port towards single destinations is
	 * part of it now. */
	if (!p.to) {
		for (unsigned i = 0; i < r->nwant; i++)
			if (r->want[i].proto != proto || r->want[i].port != port)
				r->want[n++] = r->want[i];
		r->nwant = (uint8_t)n;
	}
	if (r->nwant < HOST_MAX_PORTS)
		r->want[r->nwant++] = p;
	else
		r->want_overflow = 1;
}
