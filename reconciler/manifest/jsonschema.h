/*
 * jsonschema.h - a JSON Schema (draft-07) validator over jansson values.
 *
 * It implements the keywords pressctl's own schemas in schema/ use (and
 * passes the draft7 cases of Debian's json-schema-test-suite for them).
 * Errors carry the JSON pointer of the failing instance location, so the
 * manifest loader can map them back to file:line:col.
 *
 * Extension: a subschema with a string "errorMessage" (the convention of
 * ajv-errors and vscode's JSON language service) that fails reports that
 * one message at its instance location instead of its individual errors.
 */
#ifndef PRESS_JSONSCHEMA_H
#define PRESS_JSONSCHEMA_H

#include <stddef.h>

#include <jansson.h>

#include "../util/err.h"

struct js_error {
	char *path;    /* JSON pointer of the instance location; "" = root */
	int at_key;    /* 1: about the key of that location (unknown field) */
	char *keyword; /* the failing keyword: "type", "required", ... */
	char *message; /* lowercase, no trailing period, names the field */
	char *hint;    /* "did you mean 'image'?" or NULL */
};

struct js_errors {
	struct js_error *v;
	size_t n, alloc;
};

struct jsonschema;

/*
 * Compile root (borrowed: a reference is taken with json_incref and
 * dropped by jsonschema_free) into a validator: regexes compiled once,
 * local $ref and $id resolved. Fails on a malformed schema.
 */
int jsonschema_compile(struct jsonschema **out, json_t *root, struct err *e);

/*
 * Make another schema document known under uri, for $ref to it
 * (the test suite's remotes). Borrows doc like jsonschema_compile.
 */
int jsonschema_add_resource(struct jsonschema *s, const char *uri, json_t *doc,
			    struct err *e);

void jsonschema_free(struct jsonschema *s);

/*
 * Validate instance (borrowed) against the schema at the JSON pointer
 * fragment `at` of the root ("" or NULL = the root itself; "/definitions/
 * Site" = that subschema). Appends one entry per error to errs. Returns
 * the number of errors appended (0 = valid). Thread-safe for concurrent
 * validations with one compiled schema.
 */
size_t jsonschema_validate(const struct jsonschema *s, const char *at,
			   json_t *instance, struct js_errors *errs);

void js_errors_init(struct js_errors *errs);
void js_errors_release(struct js_errors *errs);

#endif
