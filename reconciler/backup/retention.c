/*
 * retention.c - see retention.h.
 *
 * The good backups are sorted by time; a period's first good backup is
 * the one whose predecessor in that order lies in an earlier period.
 * Walking from the newest, the first `count` such backups are the first
 * of the `count` most recent periods that have one.
 */
#include "retention.h"

#include <stdlib.h>

#include "../util/err.h"

struct good {
	time_t time;
	size_t i; /* index in v */
};

static int
by_time(const void *a, const void *b)
{
	const struct good *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static long long
floor_div(long long a, long long b)
{
	return a / b - (a % b < 0);
}

/* The UTC day of t, counted from 1970-01-01. */
static long long
day_of(time_t t)
{
	return floor_div((long long)t, 86400);
}

/* ISO weeks run from Monday to Sunday, whatever the year: two times are
 * in the same ISO week (of the same ISO year) iff they are in the same
 * Monday-based week. 1969-12-29, day -3, was a Monday. */
static long long
week_of(time_t t)
{
	return floor_div(day_of(t) + 3, 7);
}

/* The calendar month of t as year * 12 + month - 1: the days-to-civil
 * conversion of Howard Hinnant's "chrono-Compatible Low-Level Date
 * Algorithms" (civil_from_days), exact for every time_t and with no
 * failure case, unlike gmtime_r. */
static long long
month_of(time_t t)
{
	long long z = day_of(t) + 719468; /* days from 0000-03-01 */
	long long era = floor_div(z, 146097);
	long long doe = z - era * 146097; /* [0, 146096] */
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153; /* 0 is March */
	long long month = mp < 10 ? mp + 3 : mp - 9;
	long long year = yoe + era * 400 + (month <= 2);

	return year * 12 + month - 1;
}

void
retention_keep(const struct retention *r, const struct backup_ref *v, size_t n,
	       int *keep)
{
	long long (*const period[3])(time_t) = { day_of, week_of, month_of };
	const int count[3] = { r->daily, r->weekly, r->monthly };
	struct good *g;
	size_t ng = 0;

	for (size_t i = 0; i < n; i++) {
		keep[i] = 0;
		ng += v[i].good != 0;
	}
	if (ng == 0)
		return;
	g = xmalloc(ng * sizeof(*g));
	ng = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].good)
			g[ng++] = (struct good){ v[i].time, i };
	qsort(g, ng, sizeof(*g), by_time);

	keep[g[ng - 1].i] = 1; /* the newest good backup */
	for (int p = 0; p < 3; p++) {
		int left = count[p];

		for (size_t j = ng; j-- > 0 && left > 0;) {
			if (j == 0 ||
			    period[p](g[j - 1].time) != period[p](g[j].time)) {
				keep[g[j].i] = 1;
				left--;
			}
		}
	}
	free(g);
}
