/*
 * diff.h - desired state against desired state (pull-request review):
 * which declared objects were added, removed or changed, field by field.
 */
#ifndef PRESS_PLAN_DIFF_H
#define PRESS_PLAN_DIFF_H

#include <jansson.h>

#include "../util/strbuf.h"

/*
 * Compare two maps of "Kind/name" -> object (as model_objects() returns;
 * both borrowed). Returns a new object {"changed", "summary": {added,
 * removed, changed}, "objects": [{kind, name, change, fields: [{path,
 * op, old?, new?}]}]}, objects in key order, fields in key order. Arrays
 * are compared whole. Secret references are references in the input, so
 * they appear as references; no value is ever read here.
 */
json_t *diff_objects(json_t *base, json_t *head);

/*
 * The fields that differ between two values (both borrowed; NULL is
 * absent), for a plan's field-level changes: a new array of {path,
 * before, after}, path a JSON Pointer into the values ("" the whole
 * value), before/after null when absent. Objects are walked key by key
 * in key order; arrays and scalars are compared whole, and so is any
 * pair of objects at a path where leaf(path, arg) is true (a secret
 * reference: its name changes, not its members). leaf may be NULL.
 */
json_t *diff_changes(json_t *before, json_t *after,
		     int (*leaf)(const char *path, void *arg), void *arg);

/* A JSON Pointer for people, appended to sb: "/env/A~1B" -> "env.A/B". */
void diff_path_dotted(struct strbuf *sb, const char *pointer);

/* Render a result of diff_objects (with "base"/"head" {ref, revision}
 * members added by the caller) as text or Markdown, appended to sb. */
void diff_render_text(struct strbuf *sb, json_t *result);
void diff_render_markdown(struct strbuf *sb, json_t *result);

#endif
