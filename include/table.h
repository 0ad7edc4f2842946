/* A bounded hash table of fixed-size entries with intrusive ordered lists.
 *
 * All memory is allocated once by table_init(); insert and remove never
 * allocate.  Each entry starts with a struct tab_hdr followed by the key
 * (keylen bytes, compared with memcmp, so keys must have no padding holes
 * with garbage: zero them before filling).  Entries can sit on one of
 * TAB_LISTS doubly-linked lists, which the caller keeps in time order (an
 * LRU list, a deadline FIFO), so that eviction and expiry are O(1).
 * Buckets are chosen by a keyed SipHash (1-3) of the key. */
#ifndef QD_TABLE_H
#define QD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#define TAB_NONE UINT32_MAX

struct tab_hint;
#define TAB_LISTS 2

struct tab_hdr {
	uint32_t hnext;	     /* next entry in the hash chain */
	uint32_t prev, next; /* neighbours on the entry's list */
	uint8_t list;	     /* which list, or TAB_NOLIST */
	uint8_t pad[3];
};
#define TAB_NOLIST 0xff

struct table {
	uint8_t *mem;  /* the buckets, then the slab */
	size_t mapped; /* mem's own mapping (huge pages), 0: calloc() */
	uint8_t *slab;
	size_t esize;
	size_t keylen;
	uint32_t cap, used;
	uint32_t *buckets;
	uint32_t mask;
	uint32_t free_head; /* entries freed by table_remove() */
	uint32_t fresh;	    /* entries [fresh, cap) were never used */
	size_t populated;   /* slab bytes made resident ahead (table_insert()) */
	uint32_t head[TAB_LISTS], tail[TAB_LISTS];
	uint32_t count[TAB_LISTS];
	/* Set whenever a list gets a new head (an entry appended to an empty
	 * list, or the head unlinked); only the caller clears it.  A caller
	 * that keeps its lists in deadline order learns from it that the
	 * earliest deadline it noted may have moved (detect_advance()). */
	bool head_moved;
	struct siphash_key key;
	const struct tab_hint *expect; /* table_expect() */
};

/* esize includes the header; the key starts right after it. 0 or -ENOMEM. */
int table_init(struct table *t, uint32_t cap, size_t esize, size_t keylen,
	       const struct siphash_key *key);
void table_fini(struct table *t);

void *table_find(const struct table *t, const void *key);

/* ---- looking up a few packets ahead ----
 *
 * A lookup waits twice on memory: for the bucket, then for the entry it
 * names.  A caller that knows the keys of lookups to come (the offline
 * reader has the next frames in its buffer) notes them as hints, asks
 * for every hint's bucket, then for every bucket's first entry, and
 * then does the lookups, whose loads have overlapped meanwhile.  Hints
 * only move memory into the cache: a wrong or stale one costs time,
 * never a result. */
#define TAB_HINT_KEY 40 /* the longest key a hint keeps (a probe's is 38 bytes) */
struct tab_hint {
	struct table *t;
	uint32_t b;		   /* the key's bucket */
	uint8_t key[TAB_HINT_KEY]; /* its first t->keylen bytes, when that fits */
};

/* A hint for a lookup of key in t to come. */
void table_hint(struct table *t, const void *key, struct tab_hint *ret);
/* While h is t's expected lookup (NULL: none), a lookup, insertion or
 * removal of h's key takes h's bucket instead of hashing the key again:
 * the same bucket, the hash done once.  h must stay readable until the
 * expectation is ended. */
static inline void table_expect(struct table *t, const struct tab_hint *h)
{
	t->expect = h;
}
/* First step: the bucket's word into the cache. */
static inline void table_prefetch_bucket(const struct tab_hint *h)
{
	__builtin_prefetch(&h->t->buckets[h->b]);
}
/* Second step, once the bucket is (probably) in: the first entry of its
 * chain, from its header to its key's end and the bytes after it (a
 * lookup's memcmp, then the fields the caller reads first). */
static inline void table_prefetch_entry(const struct tab_hint *h)
{
	const struct table *t = h->t;
	uint32_t i = t->buckets[h->b];
	const uint8_t *e;

	if (i == TAB_NONE)
		return;
	e = t->slab + (size_t)i * t->esize;
	__builtin_prefetch(e);
	__builtin_prefetch(e + sizeof(struct tab_hdr) + t->keylen + 8);
}
/* Third step, once the entry is (probably) in: the headers of its
 * neighbours on its list, which moving it to the list's tail rewrites
 * (table_list_touch()). */
static inline void table_prefetch_links(const struct tab_hint *h)
{
	const struct table *t = h->t;
	uint32_t i = t->buckets[h->b];
	const struct tab_hdr *e;

	if (i == TAB_NONE)
		return;
	e = (const struct tab_hdr *)(t->slab + (size_t)i * t->esize);
	if (e->list == TAB_NOLIST)
		return;
	if (e->prev != TAB_NONE)
		__builtin_prefetch(t->slab + (size_t)e->prev * t->esize, 1);
	if (e->next != TAB_NONE)
		__builtin_prefetch(t->slab + (size_t)e->next * t->esize, 1);
}
/* Inserts an entry with key (must not be present): zeroes the entry, copies
 * the key, puts it on no list.  NULL when the table is full. */
void *table_insert(struct table *t, const void *key);
/* Unlinks e from its list and the hash and frees it. */
void table_remove(struct table *t, void *e);
bool table_full(const struct table *t);

void table_list_append(struct table *t, unsigned list, void *e);
void table_list_unlink(struct table *t, void *e);
/* Moves e to the tail of list (appending it when on no or another list). */
void table_list_touch(struct table *t, unsigned list, void *e);
/* Inline: the timers look at the heads of their lists for every packet
 * (detect_advance()), mostly to find nothing due. */
static inline void *table_list_head(const struct table *t, unsigned list)
{
	return t->head[list] == TAB_NONE ? NULL : t->slab + (size_t)t->head[list] * t->esize;
}
/* The entry after e on its list, or NULL. */
void *table_list_next(const struct table *t, const void *e);

/* An entry's index in the slab (stable for its life), and back; for
 * links between entries of different tables or chains of one table. */
uint32_t table_index(const struct table *t, const void *e);
void *table_at(const struct table *t, uint32_t i);
static inline void *table_key(void *e)
{
	return (uint8_t *)e + sizeof(struct tab_hdr);
}

#endif
