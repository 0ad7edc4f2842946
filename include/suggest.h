/* suggest: "did you mean ...?" for a mistyped word (a config key, a
 * command, an option), among the words that exist. */
#ifndef QD_SUGGEST_H
#define QD_SUGGEST_H

#include <stddef.h>

/* The candidate closest to word (edits: insert, delete, substitute, swap
 * two neighbours), if it is close enough to be a typo: at most 2 edits,
 * and fewer than half of word's length.  NULL when none is, or when two
 * are equally close.  cands is NULL-terminated. */
const char *suggest(const char *word, const char *const *cands);

#endif
