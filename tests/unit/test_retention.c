/* Unit tests: grandfather-father-son retention (backup/retention.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backup/retention.h"

#define DAYS 400

static time_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = mi };

	return timegm(&tm);
}

static void
show(time_t t, char *buf, size_t size)
{
	struct tm tm;

	strftime(buf, size, "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
}

/* keep[] must be 1 exactly for the backups at the times in want[]. */
static void
assert_kept(const struct backup_ref *v, const int *keep, size_t n,
	    const time_t *want, size_t nwant)
{
	size_t kept = 0;
	char a[32];

	for (size_t i = 0; i < n; i++) {
		int wanted = 0;

		for (size_t j = 0; j < nwant; j++)
			wanted |= v[i].time == want[j];
		show(v[i].time, a, sizeof(a));
		if (keep[i] != wanted)
			fail_msg("backup of %s (%s): kept %d, expected %d", a,
				 v[i].good ? "good" : "bad", keep[i], wanted);
		kept += (size_t)keep[i];
	}
	assert_int_equal(kept, nwant);
}

/*
 * The scenario: one backup a day at 02:00 UTC for 400 days, from
 * 2026-01-13 to Tuesday 2027-02-16, with these days failed.
 */
static const int failed[][3] = {
	{ 2026, 3, 15 },  /* older days, outside every window */
	{ 2026, 7, 4 },	  /* (the calendar walk still passes them) */
	{ 2026, 12, 27 }, /* a Sunday */
	{ 2027, 1, 1 },	  /* the first of a month */
	{ 2027, 1, 31 },  /* a Sunday */
	{ 2027, 2, 1 },	  /* a Monday and the first of a month */
	{ 2027, 2, 13 },  /* within the last 7 days */
	{ 2027, 2, 16 },  /* the newest backup */
};

static size_t
scenario(struct backup_ref *v)
{
	for (int d = 0; d < DAYS; d++) {
		struct tm tm;

		v[d].time = utc(2026, 1, 13 + d, 2, 0); /* timegm normalizes */
		v[d].good = 1;
		gmtime_r(&v[d].time, &tm);
		for (size_t f = 0; f < sizeof(failed) / sizeof(failed[0]); f++)
			if (tm.tm_year + 1900 == failed[f][0] &&
			    tm.tm_mon + 1 == failed[f][1] &&
			    tm.tm_mday == failed[f][2])
				v[d].good = 0;
	}
	return DAYS;
}

/*
 * The expectation by another method than retention.c's: walk the
 * calendar backwards a day at a time (struct tm, timegm), name each
 * day's periods with strftime ("%F", ISO "%G-W%V", "%Y-%m"), note the
 * earliest good backup seen under the current name, and keep it when the
 * name changes, for the first `count` names that had one.
 */
struct walk {
	const char *format;
	int count;
	char name[32];
	long first; /* index of the earliest good backup under name, or -1 */
};

static void
walk_close(struct walk *w, int *keep)
{
	if (w->first >= 0 && w->count > 0) {
		keep[w->first] = 1;
		w->count--;
	}
	w->first = -1;
}

static void
expected_by_calendar(const struct retention *r, const struct backup_ref *v,
		     size_t n, int *keep)
{
	struct walk w[3] = { { "%F", r->daily, "", -1 },
			     { "%G-W%V", r->weekly, "", -1 },
			     { "%Y-%m", r->monthly, "", -1 } };
	long newest = -1;
	time_t oldest = 0;
	struct tm day;

	for (size_t i = 0; i < n; i++) {
		keep[i] = 0;
		if (v[i].good && (newest < 0 || v[i].time > v[newest].time))
			newest = (long)i;
		if (i == 0 || v[i].time < oldest)
			oldest = v[i].time;
	}
	if (newest < 0)
		return;
	keep[newest] = 1;
	gmtime_r(&v[newest].time, &day);
	day.tm_hour = day.tm_min = day.tm_sec = 0;
	for (;;) {
		time_t start = timegm(&day), end = start + 86400;

		if (end <= oldest)
			break;
		for (int k = 0; k < 3; k++) {
			char name[32];

			strftime(name, sizeof(name), w[k].format, &day);
			if (strcmp(name, w[k].name) != 0) {
				walk_close(&w[k], keep);
				snprintf(w[k].name, sizeof(w[k].name), "%s",
					 name);
			}
			for (size_t i = 0; i < n; i++)
				if (v[i].good && v[i].time >= start &&
				    v[i].time < end &&
				    (w[k].first < 0 ||
				     v[i].time < v[w[k].first].time))
					w[k].first = (long)i;
		}
		day.tm_mday--;
		timegm(&day); /* normalizes day, fills tm_wday/tm_yday */
	}
	for (int k = 0; k < 3; k++)
		walk_close(&w[k], keep);
}

static void
daily_backups_for_400_days_keep_the_gfs_set(void **state)
{
	static struct backup_ref v[DAYS];
	static int keep[DAYS], want[DAYS];
	const struct retention r = { 7, 4, 3 };
	/* By hand: the newest good backup is Monday 2027-02-15's. */
	const time_t by_hand[] = {
		/* the 7 most recent days with a good backup (not the 13th) */
		utc(2027, 2, 15, 2, 0), utc(2027, 2, 14, 2, 0),
		utc(2027, 2, 12, 2, 0), utc(2027, 2, 11, 2, 0),
		utc(2027, 2, 10, 2, 0), utc(2027, 2, 9, 2, 0),
		utc(2027, 2, 8, 2, 0),
		/* weeks: of Feb 15 and Feb 8 (already kept), of Feb 1 (the
		 * Monday failed: Tuesday's), of Jan 25 (the Sunday failed:
		 * Monday's, as ever) */
		utc(2027, 2, 2, 2, 0), utc(2027, 1, 25, 2, 0),
		/* months: February's (the 1st failed: the 2nd, already
		 * kept), January's (the 1st failed), December's */
		utc(2027, 1, 2, 2, 0), utc(2026, 12, 1, 2, 0)
	};
	size_t n = scenario(v);

	(void)state;
	retention_keep(&r, v, n, keep);
	assert_kept(v, keep, n, by_hand, sizeof(by_hand) / sizeof(by_hand[0]));
	expected_by_calendar(&r, v, n, want);
	assert_memory_equal(keep, want, sizeof(keep));
}

static void
other_counts_agree_with_the_calendar_walk(void **state)
{
	static struct backup_ref v[DAYS];
	static int keep[DAYS], want[DAYS];
	const struct retention rs[] = { { 30, 0, 0 },	 { 0, 10, 0 },
					{ 0, 0, 13 },	 { 1, 1, 1 },
					{ 400, 60, 14 }, { 3, 52, 2 } };
	size_t n = scenario(v);

	(void)state;
	for (size_t k = 0; k < sizeof(rs) / sizeof(rs[0]); k++) {
		retention_keep(&rs[k], v, n, keep);
		expected_by_calendar(&rs[k], v, n, want);
		if (memcmp(keep, want, sizeof(keep)) != 0)
			fail_msg("retention {%d, %d, %d} differs from the "
				 "calendar walk",
				 rs[k].daily, rs[k].weekly, rs[k].monthly);
	}
}

static void
several_backups_a_day_keep_the_first_good_one(void **state)
{
	const struct backup_ref v[] = {
		{ utc(2027, 3, 1, 0, 30), 0 }, { utc(2027, 3, 1, 2, 0), 1 },
		{ utc(2027, 3, 1, 14, 0), 1 }, { utc(2027, 3, 2, 2, 0), 1 },
		{ utc(2027, 3, 2, 3, 0), 1 },  { utc(2027, 3, 2, 23, 59), 0 },
	};
	const time_t want[] = { utc(2027, 3, 1, 2, 0), utc(2027, 3, 2, 2, 0),
				utc(2027, 3, 2, 3, 0) /* the newest good */ };
	const struct retention r = { 2, 0, 0 };
	int keep[6];

	(void)state;
	retention_keep(&r, v, 6, keep);
	assert_kept(v, keep, 6, want, 3);
}

static void
a_period_keeps_its_backup_as_later_ones_arrive(void **state)
{
	static struct backup_ref v[DAYS];
	static int keep[DAYS];
	const size_t feb1 = 384, jan25 = feb1 - 7; /* v[384]: 2027-02-01 */
	size_t n = scenario(v);

	(void)state;
	/* The week of Monday Jan 25 keeps Monday's backup all week. */
	for (size_t upto = jan25 + 1; upto <= feb1; upto++) {
		retention_keep(&(struct retention){ 0, 1, 0 }, v, upto, keep);
		assert_int_equal(keep[jan25], 1);
	}
	/* February keeps the 2nd's (the 1st failed) to the end. */
	for (size_t upto = feb1 + 2; upto <= n; upto++) {
		retention_keep(&(struct retention){ 0, 0, 1 }, v, upto, keep);
		assert_int_equal(keep[feb1 + 1], 1);
	}
}

static void
zero_counts_keep_only_the_newest_good(void **state)
{
	const struct backup_ref v[] = {
		{ utc(2027, 3, 1, 2, 0), 1 },
		{ utc(2027, 3, 2, 2, 0), 1 },
		{ utc(2027, 3, 3, 2, 0), 0 },
	};
	const time_t want[] = { utc(2027, 3, 2, 2, 0) };
	const struct retention r = { 0, 0, 0 };
	int keep[3];

	(void)state;
	retention_keep(&r, v, 3, keep);
	assert_kept(v, keep, 3, want, 1);
}

static void
unordered_input_keeps_the_same_backups(void **state)
{
	static struct backup_ref v[DAYS], shuffled[DAYS];
	static int keep[DAYS], keep_shuffled[DAYS];
	static size_t from[DAYS];
	const struct retention r = { 7, 4, 3 };
	size_t n = scenario(v);
	uint32_t seed = 12345;

	(void)state;
	for (size_t i = 0; i < n; i++)
		from[i] = i;
	for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates, fixed seed */
		size_t j, t;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		t = from[i];
		from[i] = from[j];
		from[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		shuffled[i] = v[from[i]];
	retention_keep(&r, v, n, keep);
	retention_keep(&r, shuffled, n, keep_shuffled);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(keep_shuffled[i], keep[from[i]]);
}

static void
an_iso_week_spans_the_year_boundary(void **state)
{
	/* 2026-12-31 (Thursday) and 2027-01-01 (Friday) are both in ISO
	 * week 2026-W53; 2027-01-04 (Monday) starts 2027-W01. */
	const struct backup_ref v[] = {
		{ utc(2027, 1, 4, 2, 0), 1 },
		{ utc(2027, 1, 1, 2, 0), 1 },
		{ utc(2026, 12, 31, 2, 0), 1 },
		{ utc(2026, 12, 27, 2, 0), 1 }, /* Sunday of 2026-W52 */
	};
	const time_t weeks[] = { utc(2027, 1, 4, 2, 0),
				 utc(2026, 12, 31, 2, 0) };
	const time_t months[] = { utc(2027, 1, 1, 2, 0), utc(2027, 1, 4, 2, 0),
				  utc(2026, 12, 27, 2, 0) };
	int keep[4];

	(void)state;
	retention_keep(&(struct retention){ 0, 2, 0 }, v, 4, keep);
	assert_kept(v, keep, 4, weeks, 2);
	/* By month the same days split the other way. */
	retention_keep(&(struct retention){ 0, 0, 2 }, v, 4, keep);
	assert_kept(v, keep, 4, months, 3);
}

static void
a_month_without_backups_is_not_counted(void **state)
{
	const struct backup_ref v[] = {
		{ utc(2026, 12, 10, 2, 0), 1 }, { utc(2027, 1, 5, 2, 0), 1 },
		{ utc(2027, 1, 20, 2, 0), 1 },	{ utc(2027, 3, 3, 2, 0), 1 },
		{ utc(2027, 4, 2, 2, 0), 0 },	{ utc(2027, 4, 9, 2, 0), 1 },
		{ utc(2027, 4, 10, 2, 0), 1 },
	};
	/* No February: April's, March's and January's first good ones. */
	const time_t want[] = { utc(2027, 4, 9, 2, 0), utc(2027, 3, 3, 2, 0),
				utc(2027, 1, 5, 2, 0),
				utc(2027, 4, 10, 2, 0) /* the newest */ };
	int keep[7];

	(void)state;
	retention_keep(&(struct retention){ 0, 0, 3 }, v, 7, keep);
	assert_kept(v, keep, 7, want, 4);
}

static void
periods_count_from_the_newest_backup_not_the_clock(void **state)
{
	/* A platform that stopped backing up in 2020 keeps its last week. */
	struct backup_ref v[10];
	time_t want[7];
	int keep[10];

	(void)state;
	for (int d = 0; d < 10; d++)
		v[d] = (struct backup_ref){ utc(2020, 5, 1 + d, 2, 0), 1 };
	for (int d = 0; d < 7; d++)
		want[d] = utc(2020, 5, 4 + d, 2, 0);
	retention_keep(&(struct retention){ 7, 0, 0 }, v, 10, keep);
	assert_kept(v, keep, 10, want, 7);
}

static void
all_bad_keeps_nothing(void **state)
{
	const struct backup_ref v[] = {
		{ utc(2027, 3, 1, 2, 0), 0 },
		{ utc(2027, 3, 2, 2, 0), 0 },
	};
	int keep[2] = { 1, 1 };

	(void)state;
	retention_keep(&(struct retention){ 7, 4, 3 }, v, 2, keep);
	assert_kept(v, keep, 2, NULL, 0);
	retention_keep(&(struct retention){ 7, 4, 3 }, NULL, 0, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(daily_backups_for_400_days_keep_the_gfs_set),
		cmocka_unit_test(other_counts_agree_with_the_calendar_walk),
		cmocka_unit_test(several_backups_a_day_keep_the_first_good_one),
		cmocka_unit_test(
			a_period_keeps_its_backup_as_later_ones_arrive),
		cmocka_unit_test(zero_counts_keep_only_the_newest_good),
		cmocka_unit_test(unordered_input_keeps_the_same_backups),
		cmocka_unit_test(an_iso_week_spans_the_year_boundary),
		cmocka_unit_test(a_month_without_backups_is_not_counted),
		cmocka_unit_test(
			periods_count_from_the_newest_backup_not_the_clock),
		cmocka_unit_test(all_bad_keeps_nothing),
	};

	return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}
