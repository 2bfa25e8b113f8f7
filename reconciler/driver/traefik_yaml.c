/*
 * traefik_yaml.c - the traefik driver's YAML: JSON values written with
 * libyaml's emitter, and the files read back with libyaml's parser.
 *
 * Only what the driver writes needs to round-trip: objects (keys in
 * sorted order, so the files are the same on every run), arrays,
 * strings, booleans and integers. A string that a YAML reader would
 * take for something else ("true", "443", "", "null") is written
 * double-quoted, so it reads back as a string.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "traefik.h"
#include "../util/num.h"

/* Limits on a file read back (it may have been edited by anyone). */
#define MAX_DEPTH 32
#define MAX_NODES 100000

/* --- emit ------------------------------------------------------------------ */

static int
write_out(void *data, unsigned char *buf, size_t n)
{
	return strbuf_add(data, buf, n) == 0;
}

/* Whether a YAML 1.1 or 1.2 reader could resolve the plain scalar s to
 * something other than a string. */
static int
needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no",
					     "on",   "off",   "y",   "n",
					     "null", "~",     NULL };

	if (!*s || strchr("-+.0123456789", *s))
		return 1;
	for (int i = 0; words[i]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return 1;
	return 0;
}

static int
scalar(yaml_emitter_t *em, const char *s, size_t n, int quoted)
{
	yaml_event_t ev;

	if (n > INT_MAX ||
	    !yaml_scalar_event_initialize(
		    &ev, NULL, NULL, (yaml_char_t *)s, (int)n, !quoted, 1,
		    quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
			     YAML_ANY_SCALAR_STYLE))
		return -1;
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
emit_value(yaml_emitter_t *em, const json_t *v)
{
	yaml_event_t ev;
	char num[32];
	size_t i, n;
	json_t *x;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char **keys;
		const char *k;
		int rc = 0;

		if (!yaml_mapping_start_event_initialize(
			    &ev, NULL, NULL, 1,
			    json_object_size(v) ? YAML_BLOCK_MAPPING_STYLE :
						  YAML_FLOW_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		keys = xcalloc(json_object_size(v) + 1, sizeof(*keys));
		n = 0;
		json_object_foreach((json_t *)v, k, x)
			keys[n++] = k;
		qsort(keys, n, sizeof(*keys), cmp_str);
		for (i = 0; i < n && rc == 0; i++) {
			rc = scalar(em, keys[i], strlen(keys[i]),
				    needs_quotes(keys[i]));
			if (rc == 0)
				rc = emit_value(em,
						json_object_get(v, keys[i]));
		}
		free(keys);
		if (rc < 0 || !yaml_mapping_end_event_initialize(&ev) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	}
	case JSON_ARRAY:
		if (!yaml_sequence_start_event_initialize(
			    &ev, NULL, NULL, 1,
			    json_array_size(v) ? YAML_BLOCK_SEQUENCE_STYLE :
						 YAML_FLOW_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		json_array_foreach((json_t *)v, i, x)
			if (emit_value(em, x) < 0)
				return -1;
		if (!yaml_sequence_end_event_initialize(&ev) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	case JSON_STRING: /* may hold NUL: by its length */
		return scalar(em, json_string_value(v), json_string_length(v),
			      needs_quotes(json_string_value(v)) ||
				      strlen(json_string_value(v)) !=
					      json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%lld",
			 (long long)json_integer_value(v));
		return scalar(em, num, strlen(num), 0);
	case JSON_TRUE: return scalar(em, "true", 4, 0);
	case JSON_FALSE: return scalar(em, "false", 5, 0);
	case JSON_NULL: return scalar(em, "null", 4, 0);
	case JSON_REAL: break;
	}
	return -1;
}

int
traefik_yaml_emit(const json_t *doc, struct strbuf *out, struct err *e)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int ok;

	if (!yaml_emitter_initialize(&em))
		return err_set(e, "cannot write YAML: out of memory");
	yaml_emitter_set_output(&em, write_out, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, -1); /* never fold a long rule */
	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	     yaml_emitter_emit(&em, &ev) &&
	     yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	     yaml_emitter_emit(&em, &ev) && emit_value(&em, doc) == 0 &&
	     yaml_document_end_event_initialize(&ev, 1) &&
	     yaml_emitter_emit(&em, &ev) &&
	     yaml_stream_end_event_initialize(&ev) &&
	     yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
	if (!ok)
		err_set(e, "cannot write YAML: %s",
			em.problem    ? em.problem :
			out->overflow ? "too large" :
					"a value YAML cannot hold");
	yaml_emitter_delete(&em);
	return ok ? 0 : -1;
}

/* --- parse ----------------------------------------------------------------- */

struct reader {
	yaml_parser_t p;
	size_t nodes;
	struct err *e;
};

static json_t *
scalar_json(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	long long v;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, n);
	if (strcmp(s, "true") == 0)
		return json_true();
	if (strcmp(s, "false") == 0)
		return json_false();
	if (n == 0 || strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
		return json_null();
	if (num_parse(s, LLONG_MIN, LLONG_MAX, &v) == 0)
		return json_integer(v);
	return json_stringn(s, n);
}

static int
next(struct reader *r, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&r->p, ev))
		return err_set(r->e, "line %lu: %s",
			       (unsigned long)r->p.problem_mark.line + 1,
			       r->p.problem ? r->p.problem : "not YAML");
	if (++r->nodes > MAX_NODES) {
		yaml_event_delete(ev);
		return err_set(r->e, "more than %d YAML nodes", MAX_NODES);
	}
	return 0;
}

/* The value that starts with event ev (consumed), into *out. */
static int
read_value(struct reader *r, yaml_event_t *ev, int depth, json_t **out)
{
	yaml_event_t k, v;
	json_t *c = NULL, *x;
	int rc = -1;

	*out = NULL;
	if (depth > MAX_DEPTH) {
		yaml_event_delete(ev);
		return err_set(r->e, "nested deeper than %d levels", MAX_DEPTH);
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		unsigned long line = (unsigned long)ev->start_mark.line + 1;

		yaml_event_delete(ev);
		return err_set(r->e,
			       "line %lu: anchors and aliases are not "
			       "used in these files",
			       line);
	}
	case YAML_SCALAR_EVENT:
		*out = scalar_json(ev);
		yaml_event_delete(ev);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
		yaml_event_delete(ev);
		c = json_array();
		for (;;) {
			if (next(r, &v) < 0)
				goto out;
			if (v.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&v);
				break;
			}
			if (read_value(r, &v, depth + 1, &x) < 0)
				goto out;
			json_array_append_new(c, x);
		}
		break;
	case YAML_MAPPING_START_EVENT:
		yaml_event_delete(ev);
		c = json_object();
		for (;;) {
			char *key;

			if (next(r, &k) < 0)
				goto out;
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				break;
			}
			if (k.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&k);
				err_set(r->e, "a key that is not a string");
				goto out;
			}
			key = xstrndup((const char *)k.data.scalar.value,
				       k.data.scalar.length);
			yaml_event_delete(&k);
			if (next(r, &v) < 0 ||
			    read_value(r, &v, depth + 1, &x) < 0) {
				free(key);
				goto out;
			}
			json_object_set_new(c, key, x);
			free(key);
		}
		break;
	default:
		yaml_event_delete(ev);
		return err_set(r->e, "unexpected YAML event");
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	json_decref(c);
	return rc;
}

int
traefik_yaml_parse(const char *text, size_t n, json_t **out, struct err *e)
{
	struct reader r = { .e = e };
	yaml_event_t ev;
	json_t *doc = NULL;
	int rc = -1, docs = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&r.p))
		return err_set(e, "cannot read YAML: out of memory");
	yaml_parser_set_input_string(&r.p, (const unsigned char *)text, n);
	for (;;) {
		if (next(&r, &ev) < 0)
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT ||
		    ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			if (++docs > 1) {
				err_set(e, "more than one YAML document");
				goto out;
			}
			continue;
		}
		if (doc) { /* cannot happen: a document has one root */
			yaml_event_delete(&ev);
			err_set(e, "more than one root node");
			goto out;
		}
		if (read_value(&r, &ev, 0, &doc) < 0)
			goto out;
	}
	*out = doc ? doc : json_null();
	doc = NULL;
	rc = 0;
out:
	json_decref(doc);
	yaml_parser_delete(&r.p);
	return rc;
}
