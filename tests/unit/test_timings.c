/*
 * test_timings.c - util/timings.c: phases that follow each other add up
 * to the wall time, parts are summed, counted and keep their slowest,
 * and the table --timings prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/timings.h"

/* Spin on the clock for about s seconds (the clock is what is tested). */
static void
spin(double s)
{
	double until = timings_now() + s;

	while (timings_now() < until)
		;
}

static const struct timing *
find(const struct timings *t, const char *phase, const char *part)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].phase, phase) == 0 &&
		    (part ? t->v[i].part && strcmp(t->v[i].part, part) == 0 :
			    !t->v[i].part))
			return &t->v[i];
	return NULL;
}

static void
phases_add_up_to_the_wall_time(void **state)
{
	struct timings t;
	double wall;

	(void)state;
	timings_init(&t);
	spin(0.002);
	timings_phase(&t, "load");
	spin(0.003);
	timings_phase(&t, "observe");
	timings_part(&t, "observe", "docker", 0.010); /* overlapping: */
	timings_part(&t, "observe", "s3", 0.001);     /* not summed in */
	spin(0.001);
	timings_phase(&t, "load"); /* again: summed */
	wall = timings_wall(&t);
	assert_true(find(&t, "load", NULL)->seconds >= 0.003);
	assert_int_equal(find(&t, "load", NULL)->count, 2);
	assert_true(find(&t, "observe", NULL)->seconds >= 0.003);
	/* Contiguous laps: the phases are the wall time up to the last. */
	assert_true(timings_phases_sum(&t) <= wall);
	assert_true(wall - timings_phases_sum(&t) < 0.001);
	timings_release(&t);
	timings_release(NULL);
}

static void
parts_are_summed_counted_and_keep_the_slowest(void **state)
{
	struct timings t;
	const struct timing *p;

	(void)state;
	timings_init(&t);
	timings_part(&t, "apply", "create container", 0.5);
	timings_part(&t, "apply", "create container", 2.0);
	timings_part(&t, "apply", "create container", 1.0);
	timings_part(&t, "apply", "create role", -1); /* a clock step: 0 */
	p = find(&t, "apply", "create container");
	assert_non_null(p);
	assert_int_equal(p->count, 3);
	assert_true(p->seconds > 3.49 && p->seconds < 3.51);
	assert_true(p->max > 1.99 && p->max < 2.01);
	p = find(&t, "apply", "create role");
	assert_int_equal(p->count, 1);
	assert_true(p->seconds == 0 && p->max == 0);
	/* Parts are not phases. */
	assert_true(timings_phases_sum(&t) == 0);
	timings_release(&t);
}

static void
split_gives_the_tail_to_the_second_phase(void **state)
{
	struct timings t;

	(void)state;
	timings_init(&t);
	spin(0.004);
	timings_phase_split(&t, "load", "validate", 0.001);
	assert_true(find(&t, "validate", NULL)->seconds == 0.001);
	assert_true(find(&t, "load", NULL)->seconds >= 0.003 - 1e-9);
	/* More than the lap: clamped, the first phase gets 0. */
	timings_phase_split(&t, "load", "validate", 1e6);
	assert_true(find(&t, "load", NULL)->count == 2);
	assert_true(find(&t, "validate", NULL)->seconds < 0.1);
	timings_release(&t);
}

static void
null_timings_do_nothing(void **state)
{
	(void)state;
	timings_phase(NULL, "load");
	timings_phase_split(NULL, "a", "b", 1);
	timings_part(NULL, "observe", "docker", 1);
	assert_true(timings_wall(NULL) == 0);
	assert_true(timings_phases_sum(NULL) == 0);
}

static void
process_start_is_before_now(void **state)
{
	struct timings t;
	const struct timing *s;

	(void)state;
	timings_init_process(&t);
	/* This test binary started before main: "start" is that time, the
	 * wall time counts from exec, and nothing is left out. */
	s = find(&t, "start", NULL);
	assert_non_null(s);
	assert_true(s->seconds >= 0 && s->seconds < 60);
	assert_true(timings_wall(&t) >= s->seconds);
	assert_true(t.mark >= t.start);
	timings_release(&t);
}

static void
table_has_aligned_phases_parts_other_and_total(void **state)
{
	struct timings t, c;
	struct strbuf out;

	(void)state;
	memset(&t, 0, sizeof(t));
	/* Figures set by hand: the table, not the clock. */
	timings_part(&t, "load", NULL, 0.012);
	timings_part(&t, "observe", NULL, 0.2);
	timings_part(&t, "observe", "postgres", 0.1);
	timings_part(&t, "observe", "docker", 0.2);
	timings_part(&t, "apply", NULL, 1.5);
	timings_part(&t, "apply", "create container", 1.0);
	timings_part(&t, "apply", "create container", 0.25);
	timings_copy(&c, &t);
	strbuf_init(&out, 0);
	timings_render(&c, 2.0, &out);
	assert_string_equal(
		out.buf,
		"timings                    seconds   count   slowest\n"
		"load                         0.012\n"
		"observe                      0.200\n"
		"  postgres                   0.100       1     0.100\n"
		"  docker                     0.200       1     0.200\n"
		"apply                        1.500\n"
		"  create container           1.250       2     1.000\n"
		"other                        0.288\n"
		"total                        2.000\n");
	/* A wall time shorter than the phases: "other" is never negative. */
	strbuf_reset(&out);
	timings_render(&c, 1.0, &out);
	assert_non_null(
		strstr(out.buf, "\nother                        0.000\n"));
	strbuf_release(&out);
	timings_release(&t);
	timings_release(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(phases_add_up_to_the_wall_time),
		cmocka_unit_test(parts_are_summed_counted_and_keep_the_slowest),
		cmocka_unit_test(split_gives_the_tail_to_the_second_phase),
		cmocka_unit_test(null_timings_do_nothing),
		cmocka_unit_test(process_start_is_before_now),
		cmocka_unit_test(
			table_has_aligned_phases_parts_other_and_total),
	};

	return cmocka_run_group_tests_name("timings", tests, NULL, NULL);
}
