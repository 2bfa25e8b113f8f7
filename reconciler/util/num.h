/*
 * num.h - integers from text, checked: "4x", "", " 4" and out-of-range
 * values are errors, never 4 or 0 (atoi is banned: util/banned.h).
 */
#ifndef PRESS_NUM_H
#define PRESS_NUM_H

/* s, a whole decimal integer (optional sign), within [min, max], into
 * *out. 0 ok; -1 otherwise (*out untouched). */
int num_parse(const char *s, long long min, long long max, long long *out);

#endif
