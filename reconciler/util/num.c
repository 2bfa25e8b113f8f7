/*
 * num.c - see num.h.
 */
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int
num_parse(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
