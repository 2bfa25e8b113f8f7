/*
 * clock.c - see clock.h.
 */
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PRESS_TEST_HOOKS
/* "2026-12-01T00:00:00Z", fractional seconds and a numeric offset
 * allowed. -1 if malformed. */
static int
parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	char sep;
	long off = 0;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi,
		   &sec, &n) != 7 ||
	    n == 0)
		return -1;
	if (sep != 'T' && sep != 't' && sep != ' ')
		return -1;
	p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		off = (oh * 60L + om) * 60L * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm) - off;
	return 0;
}

#endif

time_t
clock_now(void)
{
#ifdef PRESS_TEST_HOOKS
	const char *v = getenv("PRESSCTL_NOW");
	time_t t;

	if (v && *v && parse_rfc3339(v, &t) == 0)
		return t;
#endif
	return time(NULL);
}
