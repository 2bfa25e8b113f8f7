/* Unit tests: cron expressions (manifest/cron.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
	};

	return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
