/* Unit tests: cron expressions (manifest/cron.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "manifest/cron.h"

static void
accepts_common_schedules(void **state)
{
	static const char *const ok[] = {
		"0 2 * * *",	    "*/15 * * * *", "0 0 1 JAN,jul *",
		"30 4 * * MON-FRI", "0 0 * * 7",    "5-55/10 1,13 1-7 * sun",
		"0 */6 * * *",	    "0 3 */2 * *"
	};
	struct cron c;
	char msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(cron_parse(&c, ok[i], msg, sizeof(msg)), 0);
}

static void
sunday_is_0_and_7(void **state)
{
	struct cron c;
	char msg[256];

	(void)state;
	assert_int_equal(cron_parse(&c, "0 0 * * 7", msg, sizeof(msg)), 0);
	assert_int_equal(c.dow, 1);
	assert_int_equal(cron_parse(&c, "0 0 * * 1-3", msg, sizeof(msg)), 0);
	assert_int_equal(c.dow, 0xe);
}

static void
rejects_with_the_field_named(void **state)
{
	static const struct {
		const char *expr, *want;
	} bad[] = {
		{ "61 * * * *", "minute" },
		{ "0 24 * * *", "hour" },
		{ "0 0 0 * *", "day-of-month" },
		{ "0 0 * 13 *", "month" },
		{ "0 0 * * 8", "day-of-week" },
		{ "0 0 * * * *", "too many fields" },
		{ "0 0 * *", "4 fields" },
		{ "*/0 * * * *", "step" },
		{ "0 0 * * FOO", "day-of-week" },
		{ "5-1 * * * *", "range start after end" },
		{ "1,,2 * * * *", "empty" },
	};
	struct cron c;
	char msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cron_parse(&c, bad[i].expr, msg, sizeof(msg)),
				 -1);
		if (!strstr(msg, bad[i].want))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].expr,
				 msg, bad[i].want);
	}
}

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = mi,
			 .tm_sec = s };

	return timegm(&tm);
}

static struct cron
parsed(const char *expr)
{
	struct cron c;
	char msg[256];

	if (cron_parse(&c, expr, msg, sizeof(msg)) < 0)
		fail_msg("'%s': %s", expr, msg);
	return c;
}

static void
a_field_is_unrestricted_only_as_a_star_for_every_value(void **state)
{
	(void)state;
	assert_true(parsed("0 0 * * *").dom_star);
	assert_true(parsed("0 0 */1 * */1").dom_star);
	assert_true(parsed("0 0 * * */1").dow_star);
	assert_true(parsed("0 0 * * *,5").dow_star);
	assert_false(parsed("0 0 */2 * *").dom_star);
	assert_false(parsed("0 0 1-31 * *").dom_star);
	assert_false(parsed("0 0 * * 0-6").dow_star);
	assert_false(parsed("0 0 * * */2").dow_star);
}

static void
a_weekday_range_may_end_on_sunday(void **state)
{
	(void)state;
	assert_int_equal(parsed("0 0 * * fri-sun").dow, 0x61);
	assert_int_equal(parsed("0 0 * * 5-0").dow, 0x61);
	assert_int_equal(parsed("0 0 * * 0-0").dow, 0x01);
	assert_int_equal(parsed("0 0 * * sat-sun/2").dow, 0x40);
}

static void
next_is_strictly_after_and_ignores_seconds(void **state)
{
	struct cron c = parsed("0 2 * * *");

	(void)state;
	assert_int_equal(cron_next(&c, utc(2027, 3, 2, 1, 59, 59)),
			 utc(2027, 3, 2, 2, 0, 0));
	assert_int_equal(cron_next(&c, utc(2027, 3, 2, 2, 0, 0)),
			 utc(2027, 3, 3, 2, 0, 0));
	assert_int_equal(cron_next(&c, utc(2027, 3, 2, 2, 0, 30)),
			 utc(2027, 3, 3, 2, 0, 0));
	c = parsed("*/15 * * * *");
	assert_int_equal(cron_next(&c, utc(2027, 12, 31, 23, 59, 0)),
			 utc(2028, 1, 1, 0, 0, 0));
}

static void
prev_is_at_or_before(void **state)
{
	struct cron c = parsed("0 2 * * *");

	(void)state;
	assert_int_equal(cron_prev(&c, utc(2027, 3, 2, 2, 0, 0)),
			 utc(2027, 3, 2, 2, 0, 0));
	assert_int_equal(cron_prev(&c, utc(2027, 3, 2, 2, 0, 59)),
			 utc(2027, 3, 2, 2, 0, 0));
	assert_int_equal(cron_prev(&c, utc(2027, 3, 2, 1, 59, 59)),
			 utc(2027, 3, 1, 2, 0, 0));
	c = parsed("30 23 * * *");
	assert_int_equal(cron_prev(&c, utc(2028, 1, 1, 0, 10, 0)),
			 utc(2027, 12, 31, 23, 30, 0));
}

static void
both_day_fields_restricted_means_either(void **state)
{
	/* 2027-03-02 is a Tuesday. */
	time_t tue = utc(2027, 3, 2, 12, 0, 0);
	struct cron c = parsed("0 0 13 * fri");

	(void)state;
	assert_int_equal(cron_next(&c, tue), utc(2027, 3, 5, 0, 0, 0));
	assert_int_equal(cron_next(&c, utc(2027, 3, 12, 0, 0, 0)),
			 utc(2027, 3, 13, 0, 0, 0));
	/* "*\/2" is restricted: odd days or Mondays. */
	c = parsed("0 0 */2 * mon");
	assert_int_equal(cron_next(&c, tue), utc(2027, 3, 3, 0, 0, 0));
	/* One unrestricted field leaves the other alone: Mondays. */
	c = parsed("0 0 * * mon");
	assert_int_equal(cron_next(&c, tue), utc(2027, 3, 8, 0, 0, 0));
	c = parsed("0 0 */1 * mon");
	assert_int_equal(cron_next(&c, tue), utc(2027, 3, 8, 0, 0, 0));
	assert_int_equal(cron_prev(&c, tue), utc(2027, 3, 1, 0, 0, 0));
}

static void
leap_days_month_ends_and_sundays(void **state)
{
	time_t t = utc(2027, 6, 15, 12, 0, 30);
	struct cron c = parsed("0 12 29 2 *");

	(void)state;
	assert_int_equal(cron_next(&c, t), utc(2028, 2, 29, 12, 0, 0));
	assert_int_equal(cron_prev(&c, t), utc(2024, 2, 29, 12, 0, 0));
	c = parsed("0 0 1,31 * *");
	assert_int_equal(cron_next(&c, utc(2025, 2, 28, 12, 0, 0)),
			 utc(2025, 3, 1, 0, 0, 0));
	assert_int_equal(cron_prev(&c, utc(2025, 3, 30, 0, 0, 0)),
			 utc(2025, 3, 1, 0, 0, 0));
	assert_int_equal(cron_prev(&c, utc(2025, 2, 28, 0, 0, 0)),
			 utc(2025, 2, 1, 0, 0, 0));
	/* 2027-03-04 is a Thursday. */
	c = parsed("0 0 * * fri-sun");
	assert_int_equal(cron_next(&c, utc(2027, 3, 4, 0, 0, 0)),
			 utc(2027, 3, 5, 0, 0, 0));
	assert_int_equal(cron_next(&c, utc(2027, 3, 6, 0, 0, 0)),
			 utc(2027, 3, 7, 0, 0, 0));
	assert_int_equal(cron_prev(&c, utc(2027, 3, 4, 23, 0, 0)),
			 utc(2027, 2, 28, 0, 0, 0));
}

static void
nothing_within_five_years_is_minus_one(void **state)
{
	struct cron c = parsed("0 0 30 2 *");

	(void)state;
	assert_int_equal(cron_next(&c, utc(2027, 1, 1, 0, 0, 0)), -1);
	assert_int_equal(cron_prev(&c, utc(2027, 1, 1, 0, 0, 0)), -1);
	c = parsed("0 0 31 4,6,9,11 *");
	assert_int_equal(cron_next(&c, utc(2027, 1, 1, 0, 0, 0)), -1);
	/* 2100 is no leap year: 2096-02-29, then 2104-02-29. */
	c = parsed("0 0 29 2 *");
	assert_int_equal(cron_next(&c, utc(2097, 1, 1, 0, 0, 0)), -1);
	assert_int_equal(cron_prev(&c, utc(2097, 1, 1, 0, 0, 0)),
			 utc(2096, 2, 29, 0, 0, 0));
	assert_int_equal(cron_prev(&c, utc(2103, 1, 1, 0, 0, 0)), -1);
	/* A struct cron that cron_parse did not fill never fires. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(cron_next(&c, 0), -1);
	assert_int_equal(cron_prev(&c, 0), -1);
}

/* Between t and cron_next(t) nothing fires: cron_prev one minute before
 * the next firing is at or before t, and cron_prev of a firing is itself. */
static void
next_and_prev_leave_no_firing_between(void **state)
{
	static const char *const exprs[] = {
		"0 2 * * *",	     "*/7 */5 * * *", "0 0 1 */3 *",
		"30 4 1,15 * MON",   "59 23 31 * *",  "0 0 29 2 *",
		"5-10 9-17 * * 1-5", "0 0 */2 * SUN", "0 12 * jan,jul sat-sun",
	};
	time_t t = utc(2026, 11, 30, 7, 13, 42), end = utc(2060, 1, 1, 0, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		struct cron c = parsed(exprs[i]);
		time_t at = t;

		for (int k = 0; k < 300 && at < end; k++) {
			time_t n = cron_next(&c, at);

			if (n <= at || cron_prev(&c, n) != n ||
			    cron_prev(&c, n - 60) > at)
				fail_msg("'%s' after %lld: next %lld", exprs[i],
					 (long long)at, (long long)n);
			at = n + (k % 7) * 37; /* sometimes mid-minute */
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_common_schedules),
		cmocka_unit_test(sunday_is_0_and_7),
		cmocka_unit_test(rejects_with_the_field_named),
		cmocka_unit_test(
			a_field_is_unrestricted_only_as_a_star_for_every_value),
		cmocka_unit_test(a_weekday_range_may_end_on_sunday),
		cmocka_unit_test(next_is_strictly_after_and_ignores_seconds),
		cmocka_unit_test(prev_is_at_or_before),
		cmocka_unit_test(both_day_fields_restricted_means_either),
		cmocka_unit_test(leap_days_month_ends_and_sundays),
		cmocka_unit_test(nothing_within_five_years_is_minus_one),
		cmocka_unit_test(next_and_prev_leave_no_firing_between),
	};

	return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
