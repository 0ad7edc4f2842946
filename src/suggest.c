/* suggest: the optimal string alignment distance (Levenshtein with
 * adjacent transpositions) of a word to each candidate.  Words here are
 * keys and commands, short: longer ones are not compared. */
#include "suggest.h"

#include <stdbool.h>
#include <string.h>

#define WORD_MAX 64

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

static unsigned distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned d[WORD_MAX + 1][WORD_MAX + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	return d[la][lb];
}

const char *suggest(const char *word, const char *const *cands)
{
	size_t lw = strlen(word);
	const char *best = NULL;
	unsigned bestd = ~0u;
	bool tie = false;

	if (lw == 0 || lw > WORD_MAX)
		return NULL;
	for (; *cands; cands++) {
		size_t lc = strlen(*cands);
		unsigned dd;

		if (lc > WORD_MAX)
			continue;
		dd = distance(word, lw, *cands, lc);
		if (dd < bestd) {
			bestd = dd;
			best = *cands;
			tie = false;
		} else if (dd == bestd) {
			tie = true;
		}
	}
	if (!best || bestd == 0 || bestd > 2 || 2 * bestd >= lw || tie)
		return NULL;
	return best;
}
