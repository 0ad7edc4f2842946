/* Bounded hash table with intrusive lists; see table.h. */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static inline struct tab_hdr *ent(const struct table *t, uint32_t i)
{
	return (struct tab_hdr *)(t->slab + (size_t)i * t->esize);
}

static inline uint32_t idx(const struct table *t, const void *e)
{
	return (uint32_t)(((const uint8_t *)e - t->slab) / t->esize);
}

/* Whether two keys of len bytes are equal: eight bytes at a time, then
 * what is left.  memcmp() is a call through a resolver and a loop built
 * for long buffers; a lookup compares 8 to 38 bytes (docs/BENCHMARKS.md,
 * "Fourth step"). */
static inline bool key_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t x, y;

	for (; len >= 8; a += 8, b += 8, len -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; len; a++, b++, len--)
		if (*a != *b)
			return false;
	return true;
}

/* SipHash-1-3 (siphash.h): a bucket is chosen for every lookup, insert
 * and removal, and on the packet path that hash was the largest single
 * cost after the cache misses (docs/BENCHMARKS.md, "Offline detection
 * against the bare read loop"). */
static inline uint32_t bucket(const struct table *t, const void *key)
{
	const struct tab_hint *h = t->expect;

	if (h && t->keylen <= TAB_HINT_KEY && key_eq(h->key, key, t->keylen))
		return h->b;
	return (uint32_t)siphash13(&t->key, key, t->keylen) & t->mask;
}

/* Tables of at least this size are mapped on their own, aligned to 2 MiB
 * and offered to transparent huge pages (MADV_HUGEPAGE: the system's
 * default is "madvise", which leaves other memory alone).  A lookup in
 * a table of tens of MiB misses the TLB as often as the cache, and on a
 * virtual machine each miss walks two levels of page tables: the
 * offline detector spent some 15 % of its time there
 * (docs/BENCHMARKS.md, "Fourth step").  The price is
 * resident memory in 2 MiB steps as a table fills, so small tables
 * (a unit test's, a small installation's) keep 4 KiB pages. */
#define TAB_HUGE     (2u << 20)
#define TAB_HUGE_MIN (8u << 20)

/* size bytes of zeroed memory for a table: huge pages asked for when
 * it is large, calloc() otherwise.  *mapped is the length to munmap(), 0
 * for free(). */
static uint8_t *mem_alloc(size_t size, size_t *mapped)
{
	size_t len, lead;
	uint8_t *m, *at;

	*mapped = 0;
	if (size < TAB_HUGE_MIN)
		return calloc(1, size);
	/* Rounded up to whole huge pages, mapped with one more to align. */
	len = (size + TAB_HUGE - 1) / TAB_HUGE * TAB_HUGE;
	m = mmap(NULL, len + TAB_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	at = (uint8_t *)(((uintptr_t)m + TAB_HUGE - 1) & ~(uintptr_t)(TAB_HUGE - 1));
	lead = (size_t)(at - m);
	if (lead)
		(void)munmap(m, lead);
	if (TAB_HUGE - lead)
		(void)munmap(at + len, TAB_HUGE - lead);
#ifdef MADV_HUGEPAGE
	/* Only advice: where the kernel has no huge pages (disabled, none
	 * free), 4 KiB pages do. */
	(void)madvise(at, len, MADV_HUGEPAGE);
#endif
	*mapped = len;
	return at;
}

static void mem_free(uint8_t *mem, size_t mapped)
{
	if (mapped)
		(void)munmap(mem, mapped);
	else
		free(mem);
}

int table_init(struct table *t, uint32_t cap, size_t esize, size_t keylen,
	       const struct siphash_key *key)
{
	uint32_t nb = 1;
	size_t bsize;

	memset(t, 0, sizeof(*t));
	if (cap == 0 || cap >= TAB_NONE || esize < sizeof(struct tab_hdr) + keylen)
		return -EINVAL;
	/* Round entry size up so entries stay 8-byte aligned. */
	esize = (esize + 7) & ~(size_t)7;
	/* About one bucket per entry keeps chains short; power of two for masking. */
	while (nb < cap && nb < (1u << 31))
		nb <<= 1;
	/* The buckets, then the slab, in one block: a lookup's bucket and
	 * entry both lie in its huge pages. */
	bsize = ((size_t)nb * sizeof(uint32_t) + 63) & ~(size_t)63;
	if ((size_t)cap > (SIZE_MAX - bsize) / esize)
		return -EINVAL;
	t->mem = mem_alloc(bsize + (size_t)cap * esize, &t->mapped);
	if (!t->mem)
		return -ENOMEM;
	t->buckets = (uint32_t *)t->mem;
	t->slab = t->mem + bsize;
	memset(t->buckets, 0xff, (size_t)nb * sizeof(uint32_t));
	t->esize = esize;
	t->keylen = keylen;
	t->cap = cap;
	t->mask = nb - 1;
	t->key = *key;
	for (unsigned l = 0; l < TAB_LISTS; l++)
		t->head[l] = t->tail[l] = TAB_NONE;
	/* Entries never used are handed out in order (t->fresh) and only
	 * freed ones go on the free list, so that the slab's pages are not
	 * touched, and not resident, until the table fills up. */
	t->free_head = TAB_NONE;
	t->fresh = 0;
	return 0;
}

void table_fini(struct table *t)
{
	if (t->mem)
		mem_free(t->mem, t->mapped);
	memset(t, 0, sizeof(*t));
}

void *table_find(const struct table *t, const void *key)
{
	for (uint32_t i = t->buckets[bucket(t, key)]; i != TAB_NONE; i = ent(t, i)->hnext) {
		struct tab_hdr *h = ent(t, i);
		if (key_eq((const uint8_t *)(h + 1), key, t->keylen))
			return h;
	}
	return NULL;
}

void table_hint(struct table *t, const void *key, struct tab_hint *ret)
{
	ret->t = t;
	ret->b = (uint32_t)siphash13(&t->key, key, t->keylen) & t->mask;
	if (t->keylen <= TAB_HINT_KEY)
		memcpy(ret->key, key, t->keylen);
}

/* How far ahead of the entries in use the slab is made resident. */
#define TAB_POPULATE (256 * 1024)

/* The slab's pages are touched for the first time as entries are first
 * handed out, one page fault each; on a virtual machine a fault costs
 * microseconds, and a full table has thousands of pages (a host entry
 * is some 700 bytes).  So the next TAB_POPULATE bytes after byte `at`
 * are made resident by one madvise() (Linux 5.14), which the kernel
 * does without a fault per page.  The slab still grows in memory only
 * as the table fills, a step at a time.  Only a hint: where it fails
 * (an older kernel, no memory now), the faults do it. */
static void populate(struct table *t, size_t at)
{
#ifdef MADV_POPULATE_WRITE
	size_t size = (size_t)t->cap * t->esize, page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t from, to;

	if (at < t->populated)
		return;
	to = (uintptr_t)t->slab + (size - at > TAB_POPULATE ? at + TAB_POPULATE : size);
	from = ((uintptr_t)t->slab + at) & ~(uintptr_t)(page - 1);
	/* Whole pages (the first, partly the previous entry's, at most
	 * made resident: the call writes nothing). */
	to &= ~(uintptr_t)(page - 1);
	if (to > from)
		(void)madvise((void *)from, to - from, MADV_POPULATE_WRITE);
	t->populated = to > (uintptr_t)t->slab + at ? to - (uintptr_t)t->slab : size;
#else
	(void)t;
	(void)at;
#endif
}

bool table_full(const struct table *t)
{
	return t->free_head == TAB_NONE && t->fresh == t->cap;
}

void *table_insert(struct table *t, const void *key)
{
	uint32_t i, b;
	struct tab_hdr *h;

	if (t->free_head != TAB_NONE) {
		i = t->free_head;
		t->free_head = ent(t, i)->hnext;
		h = ent(t, i);
		memset(h, 0, t->esize);
	} else if (t->fresh < t->cap) {
		/* Never used: still as calloc() left it, all zero.  Not
		 * writing it over saves the first touch of each line of it
		 * (a host's entry is some 700 bytes). */
		i = t->fresh++;
		h = ent(t, i);
		populate(t, ((size_t)i + 1) * t->esize);
	} else {
		return NULL;
	}
	memcpy(h + 1, key, t->keylen);
	h->list = TAB_NOLIST;
	h->prev = h->next = TAB_NONE;
	b = bucket(t, key);
	h->hnext = t->buckets[b];
	t->buckets[b] = i;
	t->used++;
	return h;
}

void table_list_unlink(struct table *t, void *e)
{
	struct tab_hdr *h = e;
	unsigned l = h->list;

	if (l == TAB_NOLIST)
		return;
	if (h->prev != TAB_NONE) {
		ent(t, h->prev)->next = h->next;
	} else {
		t->head[l] = h->next;
		t->head_moved = true;
	}
	if (h->next != TAB_NONE)
		ent(t, h->next)->prev = h->prev;
	else
		t->tail[l] = h->prev;
	h->prev = h->next = TAB_NONE;
	h->list = TAB_NOLIST;
	t->count[l]--;
}

void table_list_append(struct table *t, unsigned list, void *e)
{
	struct tab_hdr *h = e;
	uint32_t i = idx(t, e);

	table_list_unlink(t, e);
	h->list = (uint8_t)list;
	h->prev = t->tail[list];
	h->next = TAB_NONE;
	if (t->tail[list] != TAB_NONE) {
		ent(t, t->tail[list])->next = i;
	} else {
		t->head[list] = i;
		t->head_moved = true;
	}
	t->tail[list] = i;
	t->count[list]++;
}

void table_list_touch(struct table *t, unsigned list, void *e)
{
	struct tab_hdr *h = e;

	if (h->list == list && h->next == TAB_NONE)
		return; /* already the tail */
	table_list_append(t, list, e);
}

void *table_list_next(const struct table *t, const void *e)
{
	const struct tab_hdr *h = e;

	return h->next == TAB_NONE ? NULL : ent(t, h->next);
}

uint32_t table_index(const struct table *t, const void *e)
{
	return idx(t, e);
}

void *table_at(const struct table *t, uint32_t i)
{
	return i < t->cap ? ent(t, i) : NULL;
}

void table_remove(struct table *t, void *e)
{
	struct tab_hdr *h = e;
	uint32_t i = idx(t, e);
	uint32_t *pp = &t->buckets[bucket(t, h + 1)];

	table_list_unlink(t, e);
	while (*pp != TAB_NONE && *pp != i)
		pp = &ent(t, *pp)->hnext;
	if (*pp == i)
		*pp = h->hnext;
	h->hnext = t->free_head;
	h->list = TAB_NOLIST;
	t->free_head = i;
	t->used--;
}
