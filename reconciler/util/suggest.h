/*
 * suggest.h - "did you mean ...?" for misspelled names.
 */
#ifndef PRESS_SUGGEST_H
#define PRESS_SUGGEST_H

#include <stddef.h>

/*
 * Return the candidate closest to word by edit distance when it is close
 * enough to be a likely typo (distance <= max(1, len/3)), else NULL.
 * Returns a pointer borrowed from candidates.
 */
const char *suggest(const char *word, const char *const *candidates, size_t n);

/* Edit distance (Damerau: adjacent swaps cost 1), capped at 255. */
unsigned suggest_distance(const char *a, const char *b);

#endif
