/*
 * libFuzzer target: the S3 XML response parsers (driver/s3xml.h) on one
 * untrusted response body. Every parser sees every input (each rejects a
 * foreign root element early). Nothing may crash, leak or run away, and
 * a successful parse must hand back well-formed results.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver/s3xml.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	struct s3xml_buckets b;
	struct s3xml_objects o;
	struct s3xml_uploads u;
	struct s3xml_delete d;
	struct s3xml_error x;
	struct err e;

	s3xml_buckets_init(&b);
	if (s3xml_parse_list_buckets(&b, xml, size, &e) == 0)
		for (size_t i = 0; i < b.n; i++)
			check(b.v[i].name && *b.v[i].name);
	else
		check(memchr(e.msg, '\0', sizeof(e.msg)) != NULL);
	s3xml_buckets_release(&b);

	s3xml_objects_init(&o);
	if (s3xml_parse_list_objects(&o, xml, size, &e) == 0)
		for (size_t i = 0; i < o.n; i++)
			check(o.v[i].key && *o.v[i].key && o.v[i].size >= 0);
	s3xml_objects_release(&o);

	s3xml_uploads_init(&u);
	if (s3xml_parse_list_uploads(&u, xml, size, &e) == 0)
		for (size_t i = 0; i < u.n; i++)
			check(u.v[i].key && u.v[i].upload_id);
	s3xml_uploads_release(&u);

	s3xml_delete_init(&d);
	if (s3xml_parse_delete_result(&d, xml, size, &e) == 0)
		for (size_t i = 0; i < d.n; i++)
			check(d.v[i].key != NULL);
	s3xml_delete_release(&d);

	/* Fields are NUL-terminated, printable ASCII, parsed or not. */
	s3xml_parse_error(&x, xml, size);
	check(memchr(x.code, '\0', sizeof(x.code)) != NULL);
	check(memchr(x.message, '\0', sizeof(x.message)) != NULL);
	for (const char *p = x.message; *p; p++)
		check(*p >= 0x20 && *p < 0x7f);
	return 0;
}
