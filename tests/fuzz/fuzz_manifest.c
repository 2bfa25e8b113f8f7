/*
 * libFuzzer target: the loader and validator on one untrusted file.
 * Anything may come in; nothing may crash, leak or run away.
 */
#include <stddef.h>
#include <stdint.h>

#include "manifest/manifest.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;

	source_init(&src);
	diags_init(&d);
	if (source_add(&src, "fuzz.yaml", data, size, &e) == 0)
		manifest_read(&m, NULL, &src, &d);
	model_free(m);
	diags_release(&d);
	source_release(&src);
	return 0;
}
