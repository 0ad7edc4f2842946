/* Longest-prefix match: a binary trie with one root per family.
 *
 * Nodes live in one array and refer to each other by index, so that the
 * array can grow with realloc() on insert while lookups stay allocation
 * free.  Index 0 is the IPv4 root and index 1 the IPv6 root; neither is ever
 * a child, so a child index of 0 means "no child".  The array is created on
 * the first insert: an empty trie costs one small struct. */
#include "lpm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ROOT_V4 0u
#define ROOT_V6 1u
#define NO_NODE 0u

struct lpm_node {
	uint32_t child[2]; /* NO_NODE when absent */
	uint32_t value;	   /* meaningful only when has_value */
	uint8_t has_value;
};

struct lpm {
	struct lpm_node *nodes;
	uint32_t n;   /* nodes in use, roots included */
	uint32_t cap; /* nodes allocated */
	unsigned count;
};

struct lpm *lpm_new(void)
{
	return calloc(1, sizeof(struct lpm));
}

void lpm_free(struct lpm *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t);
}

static int family_root(const struct qaddr *a, uint32_t *ret_root, unsigned *ret_bits)
{
	if (a->family == AF_INET) {
		*ret_root = ROOT_V4;
		*ret_bits = 32;
	} else if (a->family == AF_INET6) {
		*ret_root = ROOT_V6;
		*ret_bits = 128;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Makes room for one more node.  Node indices are uint32_t; the cap keeps
 * the byte count of the array inside size_t on 32-bit hosts as well. */
static int reserve_one(struct lpm *t)
{
	struct lpm_node *v;
	uint32_t cap;

	if (t->n < t->cap)
		return 0;
	if (t->cap >= UINT32_MAX / 2 || (size_t)t->cap * 2 > SIZE_MAX / sizeof(*v))
		return -ENOMEM;
	cap = t->cap ? t->cap * 2 : 64;
	v = realloc(t->nodes, (size_t)cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->nodes = v;
	t->cap = cap;
	return 0;
}

static int new_node(struct lpm *t, uint32_t *ret_idx)
{
	int r = reserve_one(t);

	if (r < 0)
		return r;
	memset(&t->nodes[t->n], 0, sizeof(t->nodes[0]));
	*ret_idx = t->n++;
	return 0;
}

/* Host bits after plen are ignored: only the first plen bits are walked. */
int lpm_insert(struct lpm *t, const struct qaddr *prefix, unsigned plen, uint32_t value)
{
	uint32_t node, root, next;
	unsigned bits;
	int r;

	if (!t || family_root(prefix, &root, &bits) < 0 || plen > bits)
		return -EINVAL;
	if (t->n == 0) {
		uint32_t i4, i6;

		if ((r = new_node(t, &i4)) < 0 || (r = new_node(t, &i6)) < 0) {
			t->n = 0;
			return r;
		}
	}
	node = root;
	for (unsigned i = 0; i < plen; i++) {
		unsigned bit = addr_bit(prefix, i);

		next = t->nodes[node].child[bit];
		if (next == NO_NODE) {
			/* new_node() may move the array: index again afterwards.
			 * On failure the nodes made so far stay, empty and
			 * harmless. */
			if ((r = new_node(t, &next)) < 0)
				return r;
			t->nodes[node].child[bit] = next;
		}
		node = next;
	}
	if (!t->nodes[node].has_value)
		t->count++;
	t->nodes[node].has_value = 1;
	t->nodes[node].value = value;
	return 0;
}

/* Only clears the value: the nodes stay so that no index ever changes. */
int lpm_remove(struct lpm *t, const struct qaddr *prefix, unsigned plen)
{
	uint32_t node, root;
	unsigned bits;

	if (!t || family_root(prefix, &root, &bits) < 0 || plen > bits)
		return -EINVAL;
	if (t->n == 0)
		return -ENOENT;
	node = root;
	for (unsigned i = 0; i < plen; i++) {
		node = t->nodes[node].child[addr_bit(prefix, i)];
		if (node == NO_NODE)
			return -ENOENT;
	}
	if (!t->nodes[node].has_value)
		return -ENOENT;
	t->nodes[node].has_value = 0;
	t->count--;
	return 0;
}

bool lpm_lookup(const struct lpm *t, const struct qaddr *a, uint32_t *ret_value, unsigned *ret_plen)
{
	uint32_t node, root;
	unsigned bits, best_len = 0;
	const struct lpm_node *best = NULL;

	if (!t || t->n == 0 || family_root(a, &root, &bits) < 0)
		return false;
	node = root;
	if (t->nodes[node].has_value)
		best = &t->nodes[node];
	for (unsigned i = 0; i < bits; i++) {
		node = t->nodes[node].child[addr_bit(a, i)];
		if (node == NO_NODE)
			break;
		if (t->nodes[node].has_value) {
			best = &t->nodes[node];
			best_len = i + 1;
		}
	}
	if (!best)
		return false;
	if (ret_value)
		*ret_value = best->value;
	if (ret_plen)
		*ret_plen = best_len;
	return true;
}

unsigned lpm_count(const struct lpm *t)
{
	return t ? t->count : 0;
}
