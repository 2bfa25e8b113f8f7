/*
 * Unit tests: what pressctl reads from backends that others can write
 * to: a backup manifest from the backups bucket (backup/internal.h) and
 * the Docker engine's answers (driver/docker_internal.h). The fuzz
 * targets tests/fuzz/fuzz_backup_manifest.c and fuzz_docker.c drive the
 * same functions with random input; these pin the cases they found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backup/internal.h"
#include "driver/docker_internal.h"

static void
manifest_times_only_in_the_form_pressctl_writes(void **state)
{
	static const char *const bad[] = {
		"2026-13-45T99:00:00Z",		 "206-12-07T00:00:00Z",
		"2026-12-05T02:00:00Z trailing", "2026-12-05T02:00:00",
		"2026-02-30T00:00:00Z",		 "",
	};
	time_t t;

	(void)state;
	assert_int_equal(backup_parse_time("2026-12-05T02:00:00Z", &t), 0);
	assert_int_equal((long long)t, 1796436000LL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (backup_parse_time(bad[i], &t) == 0)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(backup_parse_time(NULL, &t), -1);
}

static void
manifest_sizes_never_overflow_or_go_negative(void **state)
{
	static const char text[] =
		"{\"format\": \"pressctl-backup/1\", \"id\": \"x\", "
		"\"database\": {\"size\": 9223372036854775807}, "
		"\"files\": {\"objects\": [{\"storedSize\": 10}, "
		"{\"storedSize\": -20}, {}]}}";
	struct backup_info in;
	struct err e;
	json_t *m;

	(void)state;
	assert_int_equal(backup_manifest_parse(&m, "k", text, strlen(text), &e),
			 0);
	backup_info_from_manifest(&in, m);
	assert_true(in.bytes == INT64_MAX);
	assert_int_equal(in.objects, 3);
	assert_string_equal(in.env_id, "");
	assert_int_equal((long long)in.time, 0);
	free(in.id);
	free(in.env_id);
	json_decref(in.manifest);
}

static void
manifest_of_another_format_is_refused_by_name(void **state)
{
	static const char text[] = "{\"format\": \"pressctl-backup/2\"}";
	struct err e;
	json_t *m;

	(void)state;
	assert_int_equal(backup_manifest_parse(&m, "acme/prod/1/manifest.json",
					       text, strlen(text), &e),
			 -1);
	assert_null(m);
	assert_non_null(strstr(e.msg, "acme/prod/1/manifest.json"));
	assert_int_equal(backup_manifest_parse(&m, "k", "[1,", 3, &e), -1);
	assert_null(m);
}

static void
docker_listing_keeps_ours_and_asked_names_only(void **state)
{
	static const char body[] =
		"[{\"Id\": \"a\", \"Names\": [\"/p-acme-prod\"], \"State\": "
		"\"running\", \"Created\": 1700000000, \"Labels\": "
		"{\"press.managed\": \"true\", "
		"\"press.platform\": \"local\", \"press.env\": \"acme/prod\"}, "
		"\"Ports\": [{\"PublicPort\": 48600, \"Type\": \"tcp\"}]},"
		" {\"Id\": \"b\", \"Names\": [\"/p-acme-dev\"], "
		"\"Created\": 1600000000, \"Labels\": "
		"{\"press.managed\": \"true\", \"press.platform\": \"other\"},"
		" \"Ports\": [{\"PublicPort\": 70000}, {\"PublicPort\": 48601}]},"
		" {\"Id\": \"c\", \"Names\": [\"/stranger\"]}, 7, null]";
	static const char *const names[] = { "p-acme-dev" };
	/* The oldest of ours: someone else's older container is not. */
	const long long OLDEST = 1700000000;
	long long oldest = 0;
	struct live l;
	struct err e;

	(void)state;
	live_init(&l);
	assert_int_equal(docker_parse_list(&l, body, strlen(body), "local",
					   "net", names, 1, "/sock", &oldest,
					   &e),
			 0);
	assert_int_equal(oldest, OLDEST);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "p-acme-prod");
	assert_string_equal(l.v[0].env_id, "acme/prod");
	assert_int_equal(l.v[0].host_port, 48600);
	assert_true(l.v[0].running);
	/* Someone else's container in our naming scheme: seen, with its
	 * owner, and nothing of its labels taken as ours. */
	assert_string_equal(l.v[1].name, "p-acme-dev");
	assert_string_equal(l.v[1].mark, "other");
	assert_null(l.v[1].env_id);
	assert_int_equal(l.nbusy, 2); /* 70000 is no port */
	live_release(&l);

	live_init(&l);
	assert_int_equal(docker_parse_list(&l, "{}", 2, "local", "net", NULL, 0,
					   "/sock", NULL, &e),
			 -1);
	assert_non_null(strstr(e.msg, "/sock"));
	live_release(&l);
}

static void
docker_events_and_pulls(void **state)
{
	static const char die[] =
		"{\"Type\": \"container\", \"Action\": \"die\", \"Actor\": "
		"{\"Attributes\": {\"press.managed\": \"true\", "
		"\"press.platform\": \"local\"}}}";
	char msg[64];

	(void)state;
	assert_int_equal(docker_event_relevant("local", die, strlen(die)), 1);
	assert_int_equal(docker_event_relevant("other", die, strlen(die)), 0);
	assert_int_equal(docker_event_relevant("local", "{\"Type\"", 7), 1);
	docker_pull_error(msg, sizeof(msg),
			  "{\"status\": \"x\"}\nnot json\n{\"error\": \"no "
			  "such image\"}\n{\"error\": \"second\"}");
	assert_string_equal(msg, "no such image");
	docker_pull_error(msg, sizeof(msg), "");
	assert_string_equal(msg, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			manifest_times_only_in_the_form_pressctl_writes),
		cmocka_unit_test(manifest_sizes_never_overflow_or_go_negative),
		cmocka_unit_test(manifest_of_another_format_is_refused_by_name),
		cmocka_unit_test(
			docker_listing_keeps_ours_and_asked_names_only),
		cmocka_unit_test(docker_events_and_pulls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
