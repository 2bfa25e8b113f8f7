/*
 * libFuzzer target: the traefik driver's YAML reader on one untrusted
 * file (a file of the file-provider directory may have been edited by
 * anyone). Nothing may crash, leak or run away; whatever it reads is
 * written by the emitter and reads back as the same value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "driver/traefik.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL, *back = NULL;
	struct strbuf sb;
	struct err e;

	if (traefik_yaml_parse((const char *)data, size, &doc, &e) < 0)
		return 0;
	strbuf_init(&sb, 0);
	if (traefik_yaml_emit(doc, &sb, &e) < 0 ||
	    traefik_yaml_parse(sb.buf, sb.len, &back, &e) < 0 ||
	    !json_equal(doc, back))
		abort(); /* what it read does not round-trip */
	json_decref(back);
	json_decref(doc);
	strbuf_release(&sb);
	return 0;
}
