/*
 * libFuzzer target: yamledit on one untrusted file. Nothing may crash,
 * leak or run away; an edit that succeeds is idempotent (setting the
 * same value again gives the same bytes) and a set value can be
 * removed again when it was added.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source/yamledit.h"
#include "fuzz.h"

static const char *const pointers[] = {
	"/spec/image",
	"/spec/env/FEATURE_X",
	"/metadata/labels/tier",
	"/spec/command/0",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct yamledit_doc any = { -1, NULL, NULL, NULL };
	const struct yamledit_doc env = { -1, "Environment", NULL, NULL };
	json_t *values[3];
	struct err e;

	values[0] = json_string("frappe/erpnext:v16.0.1");
	values[1] = json_string("yes");
	values[2] = json_integer(3);
	for (size_t i = 0; i < sizeof(pointers) / sizeof(pointers[0]); i++) {
		const json_t *v = values[i % 3];
		const struct yamledit_doc *sel = i % 2 ? &env : &any;
		char *out = NULL, *again = NULL;
		size_t n, m;

		if (yamledit_set(&out, &n, "fuzz.yaml", (const char *)data,
				 size, sel, pointers[i], v, &e) != 0)
			continue;
		if (yamledit_set(&again, &m, "fuzz.yaml", out, n, sel,
				 pointers[i], v, &e) != 0 ||
		    m != n || memcmp(again, out, n) != 0)
			abort(); /* not idempotent */
		free(again);
		again = NULL;
		if (yamledit_remove(&again, &m, "fuzz.yaml", out, n, sel,
				    pointers[i], &e) == 0)
			free(again);
		free(out);
	}
	for (size_t i = 0; i < 3; i++)
		json_decref(values[i]);
	return 0;
}
