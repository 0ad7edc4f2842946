/* Registry of flagged hosts. */
#include "hostdb.h"

#include <string.h>

struct hkey {
	struct qaddr addr;
};

int hostdb_init(struct hostdb *db, uint32_t cap, const struct siphash_key *key)
{
	return table_init(&db->t, cap, sizeof(struct hostrec), sizeof(struct hkey), key);
}

void hostdb_fini(struct hostdb *db)
{
	table_fini(&db->t);
}

struct hostrec *hostdb_find(struct hostdb *db, const struct qaddr *a)
{
	struct hkey k;

	memset(&k, 0, sizeof(k));
	k.addr = *a;
	return table_find(&db->t, &k);
}

struct hostrec *hostdb_get(struct hostdb *db, const struct qaddr *a)
{
	struct hostrec *r = hostdb_find(db, a);
	struct hkey k;

	if (r)
		return r;
	memset(&k, 0, sizeof(k));
	k.addr = *a;
	return table_insert(&db->t, &k);
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
	h->rule = (uint8_t)rule;
	h->first_us = now;
	return h;
}

uint32_t hostdb_count(const struct hostdb *db)
{
	return db->t.used;
}
