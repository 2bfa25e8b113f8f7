/*
 * libFuzzer target: a backup manifest (backup/internal.h) as read from
 * the backups bucket, which anyone with write access to it controls:
 * the parse, then the catalog entry `backup list` and retention make of
 * it. Nothing may crash, leak or run away; a refused manifest says why;
 * an accepted one gives an entry with strings and sane counts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/internal.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backup_info *in;
	struct err e;
	json_t *m;
	time_t t;

	if (backup_manifest_parse(&m, "acme/prod/x/manifest.json", data, size,
				  &e) < 0) {
		check(m == NULL && strstr(e.msg, "manifest.json") != NULL);
		return 0;
	}
	check(json_is_object(m));
	in = calloc(1, sizeof(*in));
	check(in != NULL);
	backup_info_from_manifest(in, m);
	check(in->id && in->env_id && in->manifest == m);
	check(in->bytes >= 0);
	if (backup_parse_time(json_string_value(json_object_get(m, "time")),
			      &t) == 0) {
		char back[32];

		check(in->time == t);
		backup_time_text(back, t);
		check(strlen(back) == 20 && back[19] == 'Z');
	}
	backup_infos_free(in, 1);
	return 0;
}
