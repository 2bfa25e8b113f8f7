/*
 * test_jsonschema.c - the JSON Schema validator: the draft-07 cases of
 * json-schema-test-suite for every keyword it implements, and the error
 * reports (paths, messages, hints) that pressctl's users read.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "manifest/jsonschema.h"
#include "util/strbuf.h"

/* --- the test suite ---------------------------------------------------- */

#define SUITE_DIR "/usr/share/json-schema-test-suite"
#define REMOTE_BASE "http://localhost:1234/"
#define METASCHEMA_URI "http://json-schema.org/draft-07/schema"

/* tests/draft7/<name>.json: one file per implemented keyword. */
static const char *const suite_files[] = {
	"type",
	"properties",
	"patternProperties",
	"additionalProperties",
	"required",
	"propertyNames",
	"minProperties",
	"maxProperties",
	"dependencies",
	"enum",
	"const",
	"pattern",
	"minLength",
	"maxLength",
	"minimum",
	"maximum",
	"exclusiveMinimum",
	"exclusiveMaximum",
	"multipleOf",
	"items",
	"additionalItems",
	"minItems",
	"maxItems",
	"uniqueItems",
	"contains",
	"allOf",
	"anyOf",
	"oneOf",
	"not",
	"if-then-else",
	"ref",
	"refRemote",
	"definitions",
	"boolean_schema",
	"default",
};

/*
 * Cases that cannot pass, each with its reason (see docs/jsonschema.md).
 * Keep this minimal. It is empty: the cases that "$ref" the draft-07
 * metaschema (ref.json "remote ref, containing refs itself",
 * definitions.json) pass because the metaschema is registered from the
 * copy below instead of being fetched over the network.
 */
static const struct exclusion {
	const char *file, *group, *test, *reason;
} exclusions[] = {
	{ NULL, NULL, NULL, NULL }, /* end */
};

/* http://json-schema.org/draft-07/schema, as published. */
static const char draft07_metaschema[] =
	"{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
	"\"$id\":\"http://json-schema.org/draft-07/schema#\","
	"\"title\":\"Core schema meta-schema\","
	"\"definitions\":{\"schemaArray\":{\"type\":\"array\",\"minItems\":1,"
	"\"items\":{\"$ref\":\"#\"}},"
	"\"nonNegativeInteger\":{\"type\":\"integer\",\"minimum\":0},"
	"\"nonNegativeIntegerDefault0\":{\"allOf\":["
	"{\"$ref\":\"#/definitions/nonNegativeInteger\"},"
	"{\"default\":0}]},\"simpleTypes\":{\"enum\":[\"array\",\"boolean\","
	"\"integer\",\"null\",\"number\",\"object\",\"string\"]},"
	"\"stringArray\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
	"\"uniqueItems\":true,\"default\":[]}},\"type\":[\"object\","
	"\"boolean\"],\"properties\":{\"$id\":{\"type\":\"string\","
	"\"format\":\"uri-reference\"},\"$schema\":{\"type\":\"string\","
	"\"format\":\"uri\"},\"$ref\":{\"type\":\"string\","
	"\"format\":\"uri-reference\"},\"$comment\":{\"type\":\"string\"},"
	"\"title\":{\"type\":\"string\"},"
	"\"description\":{\"type\":\"string\"},\"default\":true,"
	"\"readOnly\":{\"type\":\"boolean\",\"default\":false},"
	"\"examples\":{\"type\":\"array\",\"items\":true},"
	"\"multipleOf\":{\"type\":\"number\",\"exclusiveMinimum\":0},"
	"\"maximum\":{\"type\":\"number\"},"
	"\"exclusiveMaximum\":{\"type\":\"number\"},"
	"\"minimum\":{\"type\":\"number\"},"
	"\"exclusiveMinimum\":{\"type\":\"number\"},"
	"\"maxLength\":{\"$ref\":\"#/definitions/nonNegativeInteger\"},"
	"\"minLength\":{\"$ref\":\"#/definitions/nonNegativeIntegerDefault0\"},"
	"\"pattern\":{\"type\":\"string\",\"format\":\"regex\"},"
	"\"additionalItems\":{\"$ref\":\"#\"},"
	"\"items\":{\"anyOf\":[{\"$ref\":\"#\"},"
	"{\"$ref\":\"#/definitions/schemaArray\"}],\"default\":true},"
	"\"maxItems\":{\"$ref\":\"#/definitions/nonNegativeInteger\"},"
	"\"minItems\":{\"$ref\":\"#/definitions/nonNegativeIntegerDefault0\"},"
	"\"uniqueItems\":{\"type\":\"boolean\",\"default\":false},"
	"\"contains\":{\"$ref\":\"#\"},"
	"\"maxProperties\":{\"$ref\":\"#/definitions/nonNegativeInteger\"},"
	"\"minProperties\":"
	"{\"$ref\":\"#/definitions/nonNegativeIntegerDefault0\"},"
	"\"required\":{\"$ref\":\"#/definitions/stringArray\"},"
	"\"additionalProperties\":{\"$ref\":\"#\"},"
	"\"definitions\":{\"type\":\"object\","
	"\"additionalProperties\":{\"$ref\":\"#\"},\"default\":{}},"
	"\"properties\":{\"type\":\"object\","
	"\"additionalProperties\":{\"$ref\":\"#\"},\"default\":{}},"
	"\"patternProperties\":{\"type\":\"object\","
	"\"additionalProperties\":{\"$ref\":\"#\"},"
	"\"propertyNames\":{\"format\":\"regex\"},\"default\":{}},"
	"\"dependencies\":{\"type\":\"object\","
	"\"additionalProperties\":{\"anyOf\":[{\"$ref\":\"#\"},"
	"{\"$ref\":\"#/definitions/stringArray\"}]}},"
	"\"propertyNames\":{\"$ref\":\"#\"},\"const\":true,"
	"\"enum\":{\"type\":\"array\",\"items\":true},"
	"\"type\":{\"anyOf\":[{\"$ref\":\"#/definitions/simpleTypes\"},"
	"{\"type\":\"array\","
	"\"items\":{\"$ref\":\"#/definitions/simpleTypes\"},\"minItems\":1,"
	"\"uniqueItems\":true}]},\"format\":{\"type\":\"string\"},"
	"\"contentMediaType\":{\"type\":\"string\"},"
	"\"contentEncoding\":{\"type\":\"string\"},\"if\":{\"$ref\":\"#\"},"
	"\"then\":{\"$ref\":\"#\"},\"else\":{\"$ref\":\"#\"},"
	"\"allOf\":{\"$ref\":\"#/definitions/schemaArray\"},"
	"\"anyOf\":{\"$ref\":\"#/definitions/schemaArray\"},"
	"\"oneOf\":{\"$ref\":\"#/definitions/schemaArray\"},"
	"\"not\":{\"$ref\":\"#\"}},\"default\":true}";

struct remote {
	char *uri;
	json_t *doc;
};

struct remotes {
	struct remote *v;
	size_t n, alloc;
};

/* Every *.json under dir/rel, as http://localhost:1234/<rel>/<name>. */
static void
load_remotes(struct remotes *r, const char *dir, const char *rel)
{
	struct strbuf path, sub;
	struct dirent *de;
	struct stat st;
	DIR *d;

	strbuf_init(&path, 0);
	strbuf_init(&sub, 0);
	strbuf_addf(&path, "%s/%s", dir, rel);
	d = opendir(path.buf);
	if (d == NULL)
		fail_msg("cannot open '%s'", path.buf);
	while ((de = readdir(d)) != NULL) {
		json_error_t jerr;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, sub.buf);
		if (stat(path.buf, &st) == 0 && S_ISDIR(st.st_mode)) {
			load_remotes(r, dir, sub.buf);
			continue;
		}
		if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (r->n == r->alloc) {
			r->alloc = r->alloc ? r->alloc * 2 : 8;
			r->v = realloc(r->v, r->alloc * sizeof(*r->v));
			assert_non_null(r->v);
		}
		r->v[r->n].doc = json_load_file(path.buf, 0, &jerr);
		if (r->v[r->n].doc == NULL)
			fail_msg("cannot parse '%s': %s", path.buf, jerr.text);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s%s", REMOTE_BASE, sub.buf);
		r->v[r->n++].uri = strbuf_detach(&path, NULL);
	}
	closedir(d);
	strbuf_release(&path);
	strbuf_release(&sub);
}

static void
remotes_release(struct remotes *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].uri);
		json_decref(r->v[i].doc);
	}
	free(r->v);
}

static const struct exclusion *
excluded(const char *file, const char *group, const char *test)
{
	for (const struct exclusion *x = exclusions; x->file; x++)
		if (strcmp(x->file, file) == 0 &&
		    strcmp(x->group, group) == 0 && strcmp(x->test, test) == 0)
			return x;
	return NULL;
}

/* Every error names a location, a keyword and a house-style message. */
static int
errors_well_formed(const struct js_errors *errs, size_t from)
{
	for (size_t i = from; i < errs->n; i++) {
		const struct js_error *err = &errs->v[i];
		size_t len = err->message ? strlen(err->message) : 0;

		if (err->path == NULL ||
		    (err->path[0] && err->path[0] != '/') ||
		    err->keyword == NULL || len == 0 ||
		    err->message[len - 1] == '.' ||
		    (err->message[0] >= 'A' && err->message[0] <= 'Z'))
			return 0;
	}
	return 1;
}

static void
print_errors(const struct js_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		printf("      '%s'%s [%s] %s%s%s\n", errs->v[i].path,
		       errs->v[i].at_key ? " (key)" : "", errs->v[i].keyword,
		       errs->v[i].message, errs->v[i].hint ? " -- " : "",
		       errs->v[i].hint ? errs->v[i].hint : "");
}

/* Run one group (one schema, several instances); returns the failures. */
static size_t
run_group(const char *file, json_t *group, const struct remotes *rem,
	  json_t *meta, size_t *passed, size_t *nexcluded)
{
	const char *gdesc = json_string_value(
		json_object_get(group, "description"));
	json_t *tests = json_object_get(group, "tests"), *test;
	struct jsonschema *s = NULL;
	struct err e;
	size_t i, failed = 0;

	if (jsonschema_compile(&s, json_object_get(group, "schema"), &e) < 0) {
		printf("FAIL %s: %s: compile: %s\n", file, gdesc, e.msg);
		return json_array_size(tests);
	}
	for (i = 0; i < rem->n; i++)
		if (jsonschema_add_resource(s, rem->v[i].uri, rem->v[i].doc,
					    &e) < 0)
			break;
	if (i < rem->n ||
	    jsonschema_add_resource(s, METASCHEMA_URI, meta, &e) < 0) {
		printf("FAIL %s: %s: add resource: %s\n", file, gdesc, e.msg);
		jsonschema_free(s);
		return json_array_size(tests);
	}
	json_array_foreach(tests, i, test) {
		const char *tdesc = json_string_value(
			json_object_get(test, "description"));
		json_t *data = json_object_get(test, "data");
		int valid = json_is_true(json_object_get(test, "valid"));
		struct js_errors errs;
		size_t n, quick;

		if (excluded(file, gdesc, tdesc)) {
			(*nexcluded)++;
			continue;
		}
		js_errors_init(&errs);
		n = jsonschema_validate(s, NULL, data, &errs);
		quick = jsonschema_validate(s, NULL, data, NULL);
		if ((n == 0) == valid && (quick == 0) == valid && n == errs.n &&
		    errors_well_formed(&errs, 0)) {
			(*passed)++;
		} else {
			printf("FAIL %s: %s: %s (expected %s, got %zu errors, quick %zu)\n",
			       file, gdesc, tdesc, valid ? "valid" : "invalid",
			       n, quick);
			print_errors(&errs);
			failed++;
		}
		js_errors_release(&errs);
	}
	jsonschema_free(s);
	return failed;
}

static void
test_suite_draft7_cases_pass(void **state)
{
	const char *root = getenv("JSON_SCHEMA_TEST_SUITE");
	struct remotes rem = { NULL, 0, 0 };
	size_t passed = 0, nexcluded = 0, failed = 0, nx = 0;
	struct strbuf path;
	struct stat st;
	json_error_t jerr;
	json_t *meta;

	(void)state;
	if (root == NULL)
		root = SUITE_DIR;
	strbuf_init(&path, 0);
	strbuf_addf(&path, "%s/tests/draft7", root);
	if (stat(path.buf, &st) < 0 || !S_ISDIR(st.st_mode))
		fail_msg("json-schema-test-suite not found at '%s' "
			 "(install the Debian package json-schema-test-suite, "
			 "see scripts/deps.sh)",
			 path.buf);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/remotes", root);
	load_remotes(&rem, path.buf, "");
	assert_true(rem.n > 0);
	meta = json_loads(draft07_metaschema, 0, &jerr);
	assert_non_null(meta);

	for (size_t f = 0; f < sizeof(suite_files) / sizeof(suite_files[0]);
	     f++) {
		json_t *groups, *group;
		size_t i;

		strbuf_reset(&path);
		strbuf_addf(&path, "%s/tests/draft7/%s.json", root,
			    suite_files[f]);
		groups = json_load_file(path.buf, 0, &jerr);
		if (groups == NULL)
			fail_msg("cannot read '%s': %s", path.buf, jerr.text);
		json_array_foreach(groups, i, group)
			failed += run_group(suite_files[f], group, &rem, meta,
					    &passed, &nexcluded);
		json_decref(groups);
	}
	for (const struct exclusion *x = exclusions; x->file; x++)
		nx++;
	printf("jsonschema suite: %zu cases passed, %zu excluded\n", passed,
	       nexcluded);
	json_decref(meta);
	remotes_release(&rem);
	strbuf_release(&path);
	assert_int_equal(failed, 0);
	/* a stale exclusion (the case passes or is gone) must be removed */
	assert_int_equal(nexcluded, nx);
	assert_true(passed >= 400);
}

/* --- helpers for the behaviour tests ----------------------------------- */

static struct jsonschema *
compile_text(const char *text)
{
	struct jsonschema *s = NULL;
	json_error_t jerr;
	struct err e;
	json_t *j = json_loads(text, 0, &jerr);

	if (j == NULL)
		fail_msg("bad test schema: %s", jerr.text);
	if (jsonschema_compile(&s, j, &e) < 0)
		fail_msg("compile: %s", e.msg);
	json_decref(j); /* the compiled schema holds its own reference */
	return s;
}

static size_t
validate_text(const struct jsonschema *s, const char *at, const char *text,
	      struct js_errors *errs)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	size_t n;

	if (j == NULL)
		fail_msg("bad test instance: %s", jerr.text);
	n = jsonschema_validate(s, at, j, errs);
	json_decref(j);
	return n;
}

/* Compile must fail; returns the message. */
static const char *
compile_error(const char *text, struct err *e)
{
	struct jsonschema *s = NULL;
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	assert_int_equal(jsonschema_compile(&s, j, e), -1);
	assert_null(s);
	json_decref(j);
	return e->msg;
}

static void
assert_error(const struct js_error *err, const char *path, int at_key,
	     const char *keyword, const char *message, const char *hint)
{
	assert_string_equal(err->path, path);
	assert_int_equal(err->at_key, at_key);
	assert_string_equal(err->keyword, keyword);
	assert_string_equal(err->message, message);
	if (hint)
		assert_string_equal(err->hint, hint);
	else
		assert_null(err->hint);
}

static const char site_schema[] =
	"{\"type\": \"object\","
	" \"required\": [\"site\", \"image\"],"
	" \"properties\": {"
	"   \"site\": {\"type\": \"string\","
	"            \"pattern\": \"^[a-z][a-z0-9-]*[a-z0-9]$\","
	"            \"maxLength\": 30},"
	"   \"image\": {\"type\": \"string\", \"minLength\": 1},"
	"   \"replicas\": {\"type\": \"integer\", \"minimum\": 1},"
	"   \"env\": {\"enum\": [\"production\", \"staging\", \"development\","
	"                      \"preview\"]}},"
	" \"additionalProperties\": false}";

/* --- behaviour tests --------------------------------------------------- */

static void
test_unknown_field_points_at_key_with_hint(void **state)
{
	struct jsonschema *s = compile_text(site_schema);
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"site\": \"acme\", \"imgae\": \"x\", \"image\": \"y\", \"zzzzzz\": 1}",
			&errs),
		2);
	assert_error(&errs.v[0], "/imgae", 1, "additionalProperties",
		     "unknown field 'imgae'", "did you mean 'image'?");
	/* nothing close: no hint */
	assert_error(&errs.v[1], "/zzzzzz", 1, "additionalProperties",
		     "unknown field 'zzzzzz'", NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_missing_required_field_points_at_object(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"properties\": {\"spec\": {\"type\": \"object\","
		" \"required\": [\"site\"]}}}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL, "{\"spec\": {}}", &errs), 1);
	assert_error(&errs.v[0], "/spec", 0, "required",
		     "missing required field 'site'", NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_type_mismatch_names_expected_and_actual_type(void **state)
{
	struct jsonschema *s = compile_text(site_schema);
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"site\": \"acme\", \"image\": \"x\", \"replicas\": \"two\"}",
			&errs),
		1);
	assert_error(&errs.v[0], "/replicas", 0, "type",
		     "expected integer, got string", NULL);
	js_errors_release(&errs);
	/* draft-07: 1.0 is an integer, 1.5 is not */
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"site\": \"acme\", \"image\": \"x\", \"replicas\": 1.0}",
			NULL),
		0);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"site\": \"acme\", \"image\": \"x\", \"replicas\": 1.5}",
			&errs),
		1);
	assert_string_equal(errs.v[0].message, "expected integer, got number");
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_enum_mismatch_lists_values_and_suggests(void **state)
{
	struct jsonschema *s = compile_text(site_schema);
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"site\": \"acme\", \"image\": \"x\", \"env\": \"stagign\"}",
			&errs),
		1);
	assert_error(
		&errs.v[0], "/env", 0, "enum",
		"'stagign' is not one of production, staging, development, preview",
		"did you mean 'staging'?");
	js_errors_release(&errs);
	jsonschema_free(s);

	s = compile_text("{\"const\": \"Site\"}");
	assert_int_equal(validate_text(s, NULL, "\"Stie\"", &errs), 1);
	assert_error(&errs.v[0], "", 0, "const", "must be 'Site'",
		     "did you mean 'Site'?");
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_pattern_and_bounds_messages(void **state)
{
	struct jsonschema *s = compile_text(site_schema);
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"site\": \"Acme\", \"image\": \"\", \"replicas\": 0}",
			&errs),
		3);
	assert_error(&errs.v[0], "/site", 0, "pattern",
		     "'Acme' does not match ^[a-z][a-z0-9-]*[a-z0-9]$", NULL);
	assert_error(&errs.v[1], "/image", 0, "minLength",
		     "must be at least 1 character", NULL);
	assert_error(&errs.v[2], "/replicas", 0, "minimum",
		     "must be at least 1", NULL);
	js_errors_release(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"site\": \"abcdefghijklmnopqrstuvwxyz01234\", \"image\": \"x\"}",
			&errs),
		1);
	assert_error(&errs.v[0], "/site", 0, "maxLength",
		     "must be at most 30 characters", NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_pattern_error_uses_short_description_as_hint(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"pattern\": \"^[a-z]+$\","
		" \"description\": \"Lowercase letters only.\"}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL, "\"Acme\"", &errs), 1);
	assert_error(&errs.v[0], "", 0, "pattern",
		     "'Acme' does not match ^[a-z]+$",
		     "lowercase letters only");
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_error_message_replaces_nested_errors(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"properties\": {\"db\": {"
		"  \"errorMessage\": \"db needs a host and a numeric port\","
		"  \"required\": [\"host\"],"
		"  \"properties\": {\"port\": {\"type\": \"integer\"},"
		"                   \"opts\": {\"additionalProperties\": false}}},"
		" \"name\": {\"type\": \"string\"}}}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"db\": {\"port\": \"x\", \"opts\": {\"a\": 1}}, \"name\": 5}",
			&errs),
		2);
	assert_error(&errs.v[0], "/db", 0, "errorMessage",
		     "db needs a host and a numeric port", NULL);
	/* errors elsewhere are untouched */
	assert_error(&errs.v[1], "/name", 0, "type",
		     "expected string, got integer", NULL);
	js_errors_release(&errs);
	assert_int_equal(
		validate_text(s, NULL,
			      "{\"db\": {\"host\": \"h\", \"port\": 5432}}",
			      &errs),
		0);
	jsonschema_free(s);
}

static void
test_pointer_escapes_slash_and_tilde_in_keys(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"additionalProperties\": {"
		"   \"additionalProperties\": {\"type\": \"integer\"}}}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL,
				       "{\"a/b\": {\"c~d\": \"x\", \"ok\": 1}}",
				       &errs),
			 1);
	assert_error(&errs.v[0], "/a~1b/c~0d", 0, "type",
		     "expected integer, got string", NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_items_errors_use_array_indexes(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"properties\": {\"domains\": {\"type\": \"array\","
		" \"items\": {\"type\": \"string\"}, \"maxItems\": 2,"
		" \"uniqueItems\": true}}}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL,
				       "{\"domains\": [\"a\", 7, \"a\"]}",
				       &errs),
			 3);
	assert_error(&errs.v[0], "/domains/1", 0, "type",
		     "expected string, got integer", NULL);
	assert_error(&errs.v[1], "/domains", 0, "maxItems",
		     "must have at most 2 items", NULL);
	assert_error(&errs.v[2], "/domains", 0, "uniqueItems",
		     "must not contain duplicates (items 0 and 2 are equal)",
		     NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_errors_follow_instance_order_once_each(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"type\": \"object\", \"required\": [\"z\"],"
		" \"properties\": {\"a\": {\"type\": \"string\"},"
		"   \"b\": {\"properties\": {\"c\": {\"type\": \"string\"}}}}}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	/* required before properties (schema order); b before a (instance
	 * order); the nested error is not repeated for /b itself */
	assert_int_equal(validate_text(s, NULL, "{\"b\": {\"c\": 1}, \"a\": 2}",
				       &errs),
			 3);
	assert_error(&errs.v[0], "", 0, "required",
		     "missing required field 'z'", NULL);
	assert_string_equal(errs.v[1].path, "/b/c");
	assert_string_equal(errs.v[2].path, "/a");
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_one_of_reports_the_closest_branch(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"oneOf\": ["
		" {\"type\": \"object\", \"required\": [\"kind\", \"site\"],"
		"  \"properties\": {\"kind\": {\"const\": \"Site\"},"
		"                  \"site\": {\"type\": \"string\"}},"
		"  \"additionalProperties\": false},"
		" {\"type\": \"object\", \"required\": [\"kind\", \"env\"],"
		"  \"properties\": {\"kind\": {\"const\": \"Environment\"},"
		"                  \"env\": {\"type\": \"string\"}},"
		"  \"additionalProperties\": false}]}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"kind\": \"Environment\", \"env\": \"x\", \"evn\": 1}",
			&errs),
		1);
	assert_error(&errs.v[0], "/evn", 1, "additionalProperties",
		     "unknown field 'evn'", "did you mean 'env'?");
	js_errors_release(&errs);

	/* no branch is better than another */
	assert_int_equal(validate_text(s, NULL, "{\"kind\": \"Other\"}", &errs),
			 1);
	assert_error(&errs.v[0], "", 0, "oneOf",
		     "does not match any allowed form", NULL);
	js_errors_release(&errs);

	/* none wants this type: one error that names them all */
	assert_int_equal(validate_text(s, NULL, "[1]", &errs), 1);
	assert_error(&errs.v[0], "", 0, "type", "expected object, got array",
		     NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_any_of_types_give_one_type_error(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"definitions\": {\"name\": {\"type\": \"string\"}},"
		" \"anyOf\": [{\"type\": \"null\"},"
		"             {\"$ref\": \"#/definitions/name\"}]}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL, "5", &errs), 1);
	assert_error(&errs.v[0], "", 0, "type",
		     "expected string or null, got integer", NULL);
	js_errors_release(&errs);
	assert_int_equal(validate_text(s, NULL, "null", &errs), 0);
	jsonschema_free(s);
}

static void
test_one_of_with_two_matches_is_an_error(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL, "3", &errs), 1);
	assert_error(&errs.v[0], "", 0, "oneOf",
		     "matches more than one allowed form", NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_property_names_errors_point_at_key(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"propertyNames\": {\"pattern\": \"^[a-z]+$\", \"maxLength\": 3}}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL, "{\"ok\": 1, \"Abcd\": 2}",
				       &errs),
			 2);
	assert_error(&errs.v[0], "/Abcd", 1, "pattern",
		     "field name 'Abcd' does not match ^[a-z]+$", NULL);
	assert_error(&errs.v[1], "/Abcd", 1, "maxLength",
		     "field name 'Abcd' must be at most 3 characters", NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_dependencies_name_both_fields(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"dependencies\": {\"tls\": [\"domain\"]}}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL, "{\"tls\": true}", &errs), 1);
	assert_error(&errs.v[0], "", 0, "dependencies",
		     "field 'tls' requires field 'domain'", NULL);
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_length_counts_code_points_not_bytes(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"minLength\": 2, \"maxLength\": 2}");

	(void)state;
	/* "é" is 2 bytes, "😀" is 4 bytes: each one character */
	assert_int_equal(validate_text(s, NULL, "\"\\u00e9\\u00e9\"", NULL), 0);
	assert_int_equal(validate_text(s, NULL, "\"\\ud83d\\ude00x\"", NULL),
			 0);
	assert_int_equal(validate_text(s, NULL, "\"\\u00e9\"", NULL), 1);
	assert_int_equal(validate_text(s, NULL, "\"abc\"", NULL), 1);
	jsonschema_free(s);
}

static void
test_pattern_follows_ecma_syntax(void **state)
{
	static const struct {
		const char *pattern, *input;
		int match;
	} cases[] = {
		{ "^\\\\d+$", "2024", 1 },
		{ "^\\\\d+$", "20a4", 0 },
		{ "^\\\\D+$", "abc", 1 },
		{ "^\\\\D+$", "a1", 0 },
		{ "^\\\\w+$", "a_Z9", 1 },
		{ "^\\\\w+$", "a-b", 0 },
		{ "\\\\W", "a-b", 1 },
		{ "^\\\\S+\\\\s\\\\S+$", "a b", 1 },
		{ "^\\\\S+$", "a b", 0 },
		{ "^[\\\\d.-]+$", "1.2-3", 1 },
		{ "^[\\\\d.-]+$", "1,2", 0 },
		{ "^[^\\\\d]+$", "abc", 1 },
		{ "^[^\\\\d]+$", "ab1", 0 },
		{ "^[\\\\w-]+$", "a-b_c", 1 },
		{ "^[\\\\s\\\\S]*$", "any\nthing", 1 },
		{ "^[^\\\\W_]+$", "ab9", 1 },
		{ "^[^\\\\W_]+$", "a_b", 0 },
		{ "^[\\\\]\\\\[]$", "]", 1 },
		{ "^[\\\\^a]+$", "^a", 1 },
		{ "^(?:ab)+$", "abab", 1 },
		{ "^a+?$", "aaa", 1 },
		{ "^a{2,3}$", "aaa", 1 },
		{ "^a{2,3}$", "aaaa", 0 },
		{ "a{", "xa{", 1 },
		{ "^\\\\/path\\\\.json$", "/path.json", 1 },
		{ "^\\\\/path\\\\.json$", "/pathxjson", 0 },
		{ "^\\\\x41\\\\u0042$", "AB", 1 },
		{ "^.$", "\n", 0 },
		{ "^\\\\u00e9+$", "\u00e9\u00e9", 1 },
		{ "^[\u00e9a]+$", "a\u00e9", 1 },
		{ "ab", "xxabxx", 1 }, /* unanchored search */
		{ "^a$", "a\n", 0 },   /* "$" only at the very end */
		{ "^.$", "\r", 0 },
		{ "^\\\\v$", "\v", 1 }, /* a vertical tab, no more */
		{ "^\\\\v$", "\n", 0 },
		{ "^[\\\\v]$", "\r", 0 },
		{ "^\\\\\\\\v$", "\\v", 1 }, /* an escaped backslash, then v */
		{ "^\\\\ud83d\\\\ude00$", "\U0001F600",
		  1 }, /* surrogate pair */
		{ "^[\\\\ud83d\\\\ude00-\\\\ud83d\\\\ude4f]$", "\U0001F610",
		  1 },
		{ "^\\\\u{1F600}$", "\U0001F600", 1 },
		{ "^\\\\x{41}$", "A", 0 }, /* \x takes two hex digits */
		{ "^(?=.*\\\\d)[a-z0-9]+$", "abc1", 1 }, /* lookahead */
		{ "^(?=.*\\\\d)[a-z0-9]+$", "abc", 0 },
		{ "^(?!www\\\\.)", "www.acme", 0 },
		{ "(?<=v)\\\\d", "v1", 1 }, /* lookbehind */
		{ "(?<!v)\\\\d", "v1", 0 },
		{ "^(a|b)\\\\1$", "bb", 1 }, /* backreference */
		{ "^(a|b)\\\\1$", "ab", 0 },
		{ "^(?:(a)|b)\\\\1$", "b", 1 }, /* unset group: empty */
		{ "^(?<x>a)\\\\k<x>$", "aa", 1 },
		{ "^\\\\p{L}+$", "h\u00e9", 1 }, /* property escapes */
		{ "^\\\\p{L}+$", "h1", 0 },
		{ "^[\u00e0-\u00ff]+$", "\u00e9\u00ff",
		  1 }, /* non-ASCII range */
		{ "^[\u00e0-\u00ff]+$", "\u00e9z", 0 },
		{ "^\\\\d$", "\u0663", 0 }, /* \d and \w stay ASCII */
		{ "^\\\\w$", "\u00e9", 0 },
		{ "a[]", "a", 0 },    /* matches nothing */
		{ "^[^]$", "\n", 1 }, /* matches any character */
	};
	char schema[256], input[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jsonschema *s;
		json_t *inst;

		snprintf(schema, sizeof(schema), "{\"pattern\": \"%s\"}",
			 cases[i].pattern);
		s = compile_text(schema);
		snprintf(input, sizeof(input), "%s", cases[i].input);
		inst = json_string(input);
		if ((jsonschema_validate(s, NULL, inst, NULL) == 0) !=
		    cases[i].match)
			fail_msg("pattern %s on '%s': expected %s", schema,
				 input, cases[i].match ? "match" : "no match");
		json_decref(inst);
		jsonschema_free(s);
	}
}

/* A pattern that backtracks exponentially gives up with an error. */
static void
test_runaway_pattern_stops_at_the_match_limit(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"properties\": {\"v\": {\"pattern\": \"^(a+)+$\"}},"
		" \"patternProperties\": {\"^(a+)+$\": {}},"
		" \"additionalProperties\": false}");
	char value[64], doc[160];
	struct js_errors errs;
	struct timespec t0, t1;
	double secs;

	(void)state;
	memset(value, 'a', 40);
	value[40] = '!';
	value[41] = '\0';
	snprintf(doc, sizeof(doc), "{\"v\": \"%s\", \"%s\": 1}", value, value);
	js_errors_init(&errs);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(validate_text(s, NULL, doc, &errs), 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_string_equal(errs.v[0].path, "/v");
	assert_string_equal(errs.v[0].keyword, "pattern");
	assert_non_null(strstr(errs.v[0].message,
			       "could not be matched against ^(a+)+$: "));
	assert_non_null(strstr(errs.v[0].message, "limit"));
	assert_int_equal(errs.v[1].at_key, 1);
	assert_string_equal(errs.v[1].keyword, "patternProperties");
	assert_non_null(strstr(errs.v[1].message, "limit"));
	assert_int_equal(validate_text(s, NULL, doc, NULL), 1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 10.0); /* generous: sanitizers run this too */
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_bad_pattern_is_a_compile_error_naming_it(void **state)
{
	struct err e;

	(void)state;
	compile_error("{\"properties\": {\"x\": {\"pattern\": \"^[a-\"}}}", &e);
	assert_non_null(strstr(e.msg, "invalid pattern '^[a-'"));
	assert_non_null(strstr(e.msg, "'#/properties/x/pattern'"));
	assert_non_null(strstr(e.msg, "at offset 4"));
	/* PCRE2's own reason; lookbehind must have a bounded length */
	compile_error("{\"pattern\": \"(?<=a+)b\"}", &e);
	assert_non_null(strstr(e.msg, "'(?<=a+)b'"));
	assert_non_null(strstr(e.msg, "lookbehind"));
	/* the offset counts in the pattern as written */
	compile_error("{\"pattern\": \"\\\\ud83d\\\\ude00\\\\v(\"}", &e);
	assert_non_null(strstr(e.msg, "at offset 15"));
	compile_error("{\"pattern\": \"\\\\ud800\"}", &e);
	assert_non_null(strstr(e.msg, "invalid pattern"));
	compile_error("{\"patternProperties\": {\"(\": {}}}", &e);
	assert_non_null(strstr(e.msg, "invalid pattern '('"));
	compile_error("{\"minLength\": -1}", &e);
	assert_string_equal(
		e.msg,
		"invalid schema at '#': 'minLength' must be a non-negative integer");
	compile_error("{\"type\": \"text\"}", &e);
	assert_string_equal(e.msg,
			    "invalid schema at '#': unknown type 'text'");
}

static void
test_unresolvable_refs(void **state)
{
	struct jsonschema *s;
	struct js_errors errs;
	struct err e;
	json_t *remote;

	(void)state;
	/* into the schema itself: known at compile time */
	compile_error(
		"{\"properties\": {\"a\": {\"$ref\": \"#/definitions/nope\"}}}",
		&e);
	assert_string_equal(
		e.msg,
		"invalid schema at '#/properties/a': cannot resolve reference '#/definitions/nope'");

	/* into another document: may be added later, else an error */
	s = compile_text(
		"{\"$ref\": \"http://example.com/site.json#/definitions/name\"}");
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, NULL, "1", &errs), 1);
	assert_error(
		&errs.v[0], "", 0, "$ref",
		"cannot resolve reference 'http://example.com/site.json#/definitions/name'",
		NULL);
	js_errors_release(&errs);
	remote = json_loads(
		"{\"definitions\": {\"name\": {\"type\": \"string\"}}}", 0,
		NULL);
	assert_int_equal(jsonschema_add_resource(s,
						 "http://example.com/site.json",
						 remote, &e),
			 0);
	json_decref(remote);
	assert_int_equal(validate_text(s, NULL, "\"x\"", NULL), 0);
	assert_int_equal(validate_text(s, NULL, "1", NULL), 1);
	/* the same URI twice is refused */
	remote = json_loads("{}", 0, NULL);
	assert_int_equal(jsonschema_add_resource(s,
						 "http://example.com/site.json",
						 remote, &e),
			 -1);
	json_decref(remote);
	jsonschema_free(s);
}

static void
add_resource_text(struct jsonschema *s, const char *uri, const char *text)
{
	json_t *doc = json_loads(text, 0, NULL);
	struct err e;

	assert_non_null(doc);
	if (jsonschema_add_resource(s, uri, doc, &e) < 0)
		fail_msg("add resource: %s", e.msg);
	json_decref(doc); /* the schema holds its own reference */
}

static void
test_refs_resolve_against_the_nearest_id(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"$id\": \"http://example.com/root/schema.json\","
		" \"properties\": {"
		"   \"a\": {\"$ref\": \"../defs/./name.json\"},"
		"   \"b\": {\"$ref\": \"#plain\"},"
		"   \"c\": {\"$id\": \"sub/\","
		"           \"properties\": {\"d\": {\"$ref\": \"x.json\"}}},"
		"   \"e\": {\"$ref\": \"schema.json#/definitions/p\"}},"
		" \"definitions\": {\"p\": {\"$id\": \"#plain\", \"type\": \"integer\"}}}");
	struct js_errors errs;

	(void)state;
	add_resource_text(s, "http://example.com/defs/name.json",
			  "{\"type\": \"string\"}");
	add_resource_text(s, "http://example.com/root/sub/x.json#",
			  "{\"type\": \"boolean\"}");
	js_errors_init(&errs);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"a\": \"s\", \"b\": 1, \"c\": {\"d\": true}, \"e\": 2}",
			&errs),
		0);
	assert_int_equal(
		validate_text(
			s, NULL,
			"{\"a\": 1, \"b\": \"x\", \"c\": {\"d\": 1}, \"e\": null}",
			&errs),
		4);
	assert_string_equal(errs.v[0].path, "/a");
	assert_string_equal(errs.v[1].path, "/b");
	assert_string_equal(errs.v[2].path, "/c/d");
	assert_string_equal(errs.v[3].path, "/e");
	js_errors_release(&errs);
	jsonschema_free(s);
}

static void
test_ref_cycle_reports_recursion_too_deep(void **state)
{
	struct jsonschema *s;
	struct js_errors errs;
	struct strbuf deep;

	(void)state;
	js_errors_init(&errs);
	s = compile_text("{\"$ref\": \"#\"}");
	assert_int_equal(validate_text(s, NULL, "1", &errs), 1);
	assert_error(&errs.v[0], "", 0, "$ref", "schema recursion too deep",
		     NULL);
	js_errors_release(&errs);
	jsonschema_free(s);

	/* branches that loop must not explode combinatorially (3^256) */
	s = compile_text(
		"{\"definitions\": {\"a\": {\"anyOf\": ["
		" {\"$ref\": \"#/definitions/a\"}, {\"$ref\": \"#/definitions/a\"},"
		" {\"$ref\": \"#/definitions/a\"}]}},"
		" \"$ref\": \"#/definitions/a\"}");
	assert_int_equal(validate_text(s, NULL, "{}", &errs), 1);
	assert_int_equal(validate_text(s, NULL, "{}", NULL), 1);
	js_errors_release(&errs);
	jsonschema_free(s);

	/* a legitimately recursive schema on an instance too deep for it */
	s = compile_text("{\"properties\": {\"a\": {\"$ref\": \"#\"}}}");
	strbuf_init(&deep, 0);
	for (int i = 0; i < 300; i++)
		strbuf_addstr(&deep, "{\"a\": ");
	strbuf_addstr(&deep, "1");
	for (int i = 0; i < 300; i++)
		strbuf_addch(&deep, '}');
	assert_int_equal(validate_text(s, NULL, deep.buf, &errs), 1);
	assert_string_equal(errs.v[0].message, "schema recursion too deep");
	js_errors_release(&errs);
	assert_int_equal(validate_text(s, NULL, "{\"a\": {\"a\": {\"a\": 1}}}",
				       NULL),
			 0);
	strbuf_release(&deep);
	jsonschema_free(s);
}

static void
test_validate_at_a_definition(void **state)
{
	struct jsonschema *s = compile_text(
		"{\"definitions\": {\"Site\": {\"required\": [\"name\"]},"
		"                   \"a/b\": {\"type\": \"string\"}},"
		" \"type\": \"array\"}");
	struct js_errors errs;

	(void)state;
	js_errors_init(&errs);
	assert_int_equal(validate_text(s, "/definitions/Site", "{}", &errs), 1);
	assert_error(&errs.v[0], "", 0, "required",
		     "missing required field 'name'", NULL);
	js_errors_release(&errs);
	assert_int_equal(validate_text(s, "#/definitions/Site", "{\"name\": 1}",
				       NULL),
			 0);
	assert_int_equal(validate_text(s, "/definitions/a~1b", "\"x\"", NULL),
			 0);
	assert_int_equal(validate_text(s, "", "[]", NULL), 0);
	assert_int_equal(validate_text(s, "/definitions/Nope", "{}", &errs), 1);
	assert_string_equal(errs.v[0].message,
			    "no schema at '/definitions/Nope'");
	js_errors_release(&errs);
	jsonschema_free(s);
}

/* A schema of 40 definitions and a manifest-sized instance. */
static struct jsonschema *
big_schema(void)
{
	struct strbuf sb;
	struct jsonschema *s;

	strbuf_init(&sb, 0);
	strbuf_addstr(&sb, "{\"definitions\": {");
	for (int i = 0; i < 40; i++)
		strbuf_addf(
			&sb,
			"%s\"d%d\": {\"type\": \"object\","
			" \"properties\": {\"name\": {\"type\": \"string\","
			" \"pattern\": \"^[a-z][a-z0-9-]*$\", \"maxLength\": 40},"
			" \"count\": {\"type\": \"integer\", \"minimum\": 0},"
			" \"mode\": {\"enum\": [\"a\", \"b\", \"c\"]}},"
			" \"required\": [\"name\"],"
			" \"additionalProperties\": false}",
			i ? "," : "", i);
	strbuf_addstr(&sb,
		      "},"
		      " \"type\": \"object\", \"required\": [\"kind\", \"spec\"],"
		      " \"properties\": {\"kind\": {\"const\": \"Site\"},"
		      " \"metadata\": {\"$ref\": \"#/definitions/d3\"},"
		      " \"spec\": {\"type\": \"object\", \"properties\": {"
		      "   \"db\": {\"$ref\": \"#/definitions/d17\"},"
		      "   \"app\": {\"$ref\": \"#/definitions/d29\"},"
		      "   \"domains\": {\"type\": \"array\", \"items\":"
		      "     {\"type\": \"string\", \"maxLength\": 253}}},"
		      "   \"additionalProperties\": false}},"
		      " \"additionalProperties\": false}");
	s = compile_text(sb.buf);
	strbuf_release(&sb);
	return s;
}

static const char big_instance[] =
	"{\"kind\": \"Site\", \"metadata\": {\"name\": \"acme\", \"count\": 1},"
	" \"spec\": {\"db\": {\"name\": \"acme-db\", \"count\": 2, \"mode\": \"a\"},"
	" \"app\": {\"name\": \"acme-app\", \"mode\": \"b\"},"
	" \"domains\": [\"acme.example\", \"www.acme.example\"]}}";

struct worker {
	const struct jsonschema *s;
	json_t *good, *bad;
	int failures;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 2000; i++) {
		struct js_errors errs;

		js_errors_init(&errs);
		if (jsonschema_validate(w->s, NULL, w->good, &errs) != 0 ||
		    jsonschema_validate(w->s, NULL, w->bad, &errs) != 2 ||
		    strcmp(errs.v[0].path, "/spec/db/naem") != 0 ||
		    strcmp(errs.v[1].path, "/spec/app/count") != 0)
			w->failures++;
		js_errors_release(&errs);
	}
	return NULL;
}

static void
test_concurrent_validations_share_one_schema(void **state)
{
	struct jsonschema *s = big_schema();
	struct worker w[4];
	pthread_t tid[4];
	json_t *good = json_loads(big_instance, 0, NULL);
	json_t *bad = json_loads(
		"{\"kind\": \"Site\", \"spec\": {\"db\": {\"name\": \"x\", \"naem\": 1},"
		" \"app\": {\"name\": \"y\", \"count\": -1}}}",
		0, NULL);

	(void)state;
	assert_non_null(good);
	assert_non_null(bad);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ s, good, bad, 0 };
		assert_int_equal(pthread_create(&tid[i], NULL, worker_run,
						&w[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	json_decref(good);
	json_decref(bad);
	jsonschema_free(s);
}

static void
test_small_object_validates_in_microseconds(void **state)
{
	struct jsonschema *s = big_schema();
	json_t *inst = json_loads(big_instance, 0, NULL);
	struct timespec t0, t1;
	const int rounds = 20000;
	double us;

	(void)state;
	assert_non_null(inst);
	assert_int_equal(jsonschema_validate(s, NULL, inst, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < rounds; i++) {
		struct js_errors errs;

		js_errors_init(&errs);
		if (jsonschema_validate(s, NULL, inst, &errs) != 0)
			fail_msg("valid instance reported invalid");
		js_errors_release(&errs);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	      (double)(t1.tv_nsec - t0.tv_nsec)) /
	     1e3 / rounds;
	printf("jsonschema: %.2f us per validation (20 nodes, 40 definitions)\n",
	       us);
	/* generous: sanitizers and valgrind run this too */
	assert_true(us < 2000.0);
	json_decref(inst);
	jsonschema_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite_draft7_cases_pass),
		cmocka_unit_test(test_unknown_field_points_at_key_with_hint),
		cmocka_unit_test(test_missing_required_field_points_at_object),
		cmocka_unit_test(
			test_type_mismatch_names_expected_and_actual_type),
		cmocka_unit_test(test_enum_mismatch_lists_values_and_suggests),
		cmocka_unit_test(test_pattern_and_bounds_messages),
		cmocka_unit_test(
			test_pattern_error_uses_short_description_as_hint),
		cmocka_unit_test(test_error_message_replaces_nested_errors),
		cmocka_unit_test(test_pointer_escapes_slash_and_tilde_in_keys),
		cmocka_unit_test(test_items_errors_use_array_indexes),
		cmocka_unit_test(test_errors_follow_instance_order_once_each),
		cmocka_unit_test(test_one_of_reports_the_closest_branch),
		cmocka_unit_test(test_any_of_types_give_one_type_error),
		cmocka_unit_test(test_one_of_with_two_matches_is_an_error),
		cmocka_unit_test(test_property_names_errors_point_at_key),
		cmocka_unit_test(test_dependencies_name_both_fields),
		cmocka_unit_test(test_length_counts_code_points_not_bytes),
		cmocka_unit_test(test_pattern_follows_ecma_syntax),
		cmocka_unit_test(test_runaway_pattern_stops_at_the_match_limit),
		cmocka_unit_test(test_bad_pattern_is_a_compile_error_naming_it),
		cmocka_unit_test(test_unresolvable_refs),
		cmocka_unit_test(test_refs_resolve_against_the_nearest_id),
		cmocka_unit_test(test_ref_cycle_reports_recursion_too_deep),
		cmocka_unit_test(test_validate_at_a_definition),
		cmocka_unit_test(test_concurrent_validations_share_one_schema),
		cmocka_unit_test(test_small_object_validates_in_microseconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
