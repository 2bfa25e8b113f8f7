/*
 * jsonschema_validate.c - validate a jansson value against a compiled
 * schema, and word the errors (docs/jsonschema.md has the table).
 *
 * Validation only reads the nodes; its own state (instance path, active
 * $refs, depth, a PCRE2 match block) lives on the stack, so one compiled
 * schema serves any number of threads.
 */
#include "jsonschema_internal.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/suggest.h"

#define MAX_DEPTH 256  /* nested subschema evaluations */
#define VALUE_SHOWN 60 /* bytes of a value shown in a message */
#define LIST_SHOWN 200 /* bytes of an enum list shown */

#define PLURAL(n) ((n) == 1 ? "" : "s")

static size_t
utf8_len(const char *s, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			count++;
	return count;
}

static int
num_cmp(json_t *a, json_t *b)
{
	double x, y;

	if (json_is_integer(a) && json_is_integer(b)) {
		long long i = json_integer_value(a), j = json_integer_value(b);

		return i < j ? -1 : i > j;
	}
	x = json_number_value(a);
	y = json_number_value(b);
	return x < y ? -1 : x > y;
}

/* Deep equality where numbers compare by value (1 == 1.0). */
static int
json_same(json_t *a, json_t *b)
{
	const char *key;
	json_t *v;

	if (json_is_number(a) && json_is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b),
			      json_string_length(a)) == 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!json_same(json_array_get(a, i),
				       json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach(a, key, v) {
			json_t *w = json_object_get(b, key);

			if (w == NULL || !json_same(v, w))
				return 0;
		}
		return 1;
	default: return 1;
	}
}

static unsigned
instance_types(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return T_STRING;
	case JSON_INTEGER: return T_INTEGER | T_NUMBER;
	case JSON_REAL:
		return js_is_integral(json_real_value(v)) ?
			       T_INTEGER | T_NUMBER :
			       T_NUMBER;
	case JSON_TRUE:
	case JSON_FALSE: return T_BOOLEAN;
	case JSON_OBJECT: return T_OBJECT;
	case JSON_ARRAY: return T_ARRAY;
	default: return T_NULL;
	}
}

static const char *
instance_type_name(json_t *v)
{
	if (json_is_real(v))
		return "number";
	for (unsigned i = 0; i < T_NTYPES; i++)
		if (instance_types(v) & (1u << i))
			return js_type_names[i];
	return "null";
}

/* --- errors ------------------------------------------------------------ */

void
js_errors_init(struct js_errors *errs)
{
	errs->v = NULL;
	errs->n = errs->alloc = 0;
}

static void
error_release(struct js_error *err)
{
	free(err->path);
	free(err->keyword);
	free(err->message);
	free(err->hint);
}

void
js_errors_release(struct js_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		error_release(&errs->v[i]);
	free(errs->v);
	js_errors_init(errs);
}

static void
errs_truncate(struct js_errors *errs, size_t n)
{
	while (errs->n > n)
		error_release(&errs->v[--errs->n]);
}

/* Drop errs[from, to), keeping the order of the rest. */
static void
errs_drop(struct js_errors *errs, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		error_release(&errs->v[i]);
	memmove(&errs->v[from], &errs->v[to],
		(errs->n - to) * sizeof(*errs->v));
	errs->n -= to - from;
}

/* --- validate ---------------------------------------------------------- */

/* One step of the instance path; the chain lives on the C stack. */
struct seg {
	const struct seg *up;
	const char *key; /* NULL: an array index */
	size_t idx;
};

/* An active $ref, to catch a cycle that does not consume the instance. */
struct frame {
	const struct frame *up;
	const struct node *n;
	const json_t *inst;
};

struct vctx {
	struct js_errors *errs; /* NULL: only validity matters */
	const struct frame *refs;
	unsigned depth;
	const struct regex_env *rx;
	pcre2_match_data *md; /* this validation's, made on first use */
};

static char *
pointer_of(const struct seg *at)
{
	const struct seg *s, **v;
	struct strbuf sb;
	size_t n = 0, i;

	for (s = at; s; s = s->up)
		n++;
	v = xcalloc(n, sizeof(*v));
	for (i = n, s = at; s; s = s->up)
		v[--i] = s;
	strbuf_init(&sb, 0);
	for (i = 0; i < n; i++) {
		if (v[i]->key)
			js_pointer_add_token(&sb, v[i]->key);
		else
			strbuf_addf(&sb, "/%zu", v[i]->idx);
	}
	free(v);
	return strbuf_detach(&sb, NULL);
}

/* Append an error (hint borrowed) unless only validity matters; returns 1. */
static size_t __attribute__((format(printf, 6, 7)))
report(struct vctx *c, const struct seg *at, int at_key, const char *keyword,
       const char *hint, const char *fmt, ...)
{
	struct js_error *err;
	va_list ap;
	int len;

	if (c->errs == NULL)
		return 1;
	xgrow(&c->errs->v, &c->errs->alloc, c->errs->n + 1,
	      sizeof(*c->errs->v));
	err = &c->errs->v[c->errs->n++];
	err->path = pointer_of(at);
	err->at_key = at_key;
	err->keyword = xstrdup(keyword);
	err->hint = hint ? xstrdup(hint) : NULL;
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	err->message = xmalloc(len > 0 ? (size_t)len + 1 : 1);
	err->message[0] = '\0';
	va_start(ap, fmt);
	if (len > 0)
		vsnprintf(err->message, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return 1;
}

/* Add at most max bytes of s, cut at a character boundary, "..." if cut. */
static void
add_clipped(struct strbuf *sb, const char *s, size_t n, size_t max)
{
	size_t cut = n;

	if (n > max) {
		cut = max;
		while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
	}
	strbuf_add(sb, s, cut);
	if (cut < n)
		strbuf_addstr(sb, "...");
}

/* A value for a message: strings quoted (or raw), others as compact JSON. */
static void
add_value(struct strbuf *sb, json_t *v, int quote)
{
	char *dump;

	if (json_is_string(v)) {
		if (quote)
			strbuf_addch(sb, '\'');
		add_clipped(sb, json_string_value(v), json_string_length(v),
			    VALUE_SHOWN);
		if (quote)
			strbuf_addch(sb, '\'');
		return;
	}
	dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (dump)
		add_clipped(sb, dump, strlen(dump), VALUE_SHOWN);
	free(dump);
}

static void
add_types(struct strbuf *sb, unsigned mask)
{
	unsigned count = 0, total = 0;

	if ((mask & T_NUMBER) && (mask & T_INTEGER))
		mask &= ~(unsigned)T_INTEGER;
	for (unsigned t = 0; t < T_NTYPES; t++)
		total += (mask >> t) & 1;
	for (unsigned t = 0; t < T_NTYPES; t++) {
		if (!(mask & (1u << t)))
			continue;
		if (count)
			strbuf_addstr(sb, count + 1 == total ? " or " : ", ");
		strbuf_addstr(sb, js_type_names[t]);
		count++;
	}
}

static void
fmt_number(char *buf, size_t len, json_t *v)
{
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return;
	}
	snprintf(buf, len, "%.15g", json_real_value(v));
	if (strtod(buf, NULL) != json_real_value(v))
		snprintf(buf, len, "%.17g", json_real_value(v));
}

static size_t
report_type(struct vctx *c, const struct seg *at, unsigned mask, json_t *inst)
{
	struct strbuf sb;

	if (c->errs == NULL)
		return 1;
	strbuf_init(&sb, 0);
	add_types(&sb, mask);
	report(c, at, 0, "type", NULL, "expected %s, got %s", sb.buf,
	       instance_type_name(inst));
	strbuf_release(&sb);
	return 1;
}

static size_t
report_false(struct vctx *c, const struct seg *at)
{
	if (at && at->key)
		return report(c, at, 1, "false", NULL,
			      "field '%s' is not allowed", at->key);
	if (at)
		return report(c, at, 0, "false", NULL,
			      "item %zu is not allowed", at->idx);
	return report(c, at, 0, "false", NULL, "value is not allowed");
}

/* "did you mean 'x'?" for a string instance among string values, or NULL. */
static const char *
hint_among(char *buf, size_t len, json_t *inst, json_t *values)
{
	const char **names;
	const char *pick;
	size_t n = 0;

	if (!json_is_string(inst))
		return NULL;
	names = xcalloc(json_array_size(values), sizeof(*names));
	for (size_t i = 0; i < json_array_size(values); i++) {
		json_t *v = json_array_get(values, i);

		if (json_is_string(v))
			names[n++] = json_string_value(v);
	}
	pick = suggest(json_string_value(inst), names, n);
	if (pick)
		snprintf(buf, len, "did you mean '%s'?", pick);
	free(names);
	return pick ? buf : NULL;
}

static size_t
report_enum(struct vctx *c, const struct seg *at, json_t *values, json_t *inst)
{
	struct strbuf sb;
	char hint[160];
	size_t n = json_array_size(values);

	if (c->errs == NULL)
		return 1;
	strbuf_init(&sb, 0);
	add_value(&sb, inst, 1);
	if (n == 1) {
		strbuf_addstr(&sb, " is not ");
		add_value(&sb, json_array_get(values, 0), 1);
	} else {
		strbuf_addstr(&sb, n ? " is not one of " : " is not allowed");
		for (size_t i = 0; i < n; i++) {
			if (sb.len > LIST_SHOWN) {
				strbuf_addstr(&sb, ", ...");
				break;
			}
			if (i)
				strbuf_addstr(&sb, ", ");
			add_value(&sb, json_array_get(values, i), 0);
		}
	}
	report(c, at, 0, "enum", hint_among(hint, sizeof(hint), inst, values),
	       "%s", sb.buf);
	strbuf_release(&sb);
	return 1;
}

static size_t
report_const(struct vctx *c, const struct seg *at, json_t *value, json_t *inst)
{
	struct strbuf sb;
	char hint[160];
	json_t *one;

	if (c->errs == NULL)
		return 1;
	strbuf_init(&sb, 0);
	strbuf_addstr(&sb, "must be ");
	add_value(&sb, value, 1);
	one = json_pack("[O]", value);
	report(c, at, 0, "const", hint_among(hint, sizeof(hint), inst, one),
	       "%s", sb.buf);
	json_decref(one);
	strbuf_release(&sb);
	return 1;
}

/* rc: 0 (no match) or the PCRE2 error that stopped the match. */
static size_t
report_pattern(struct vctx *c, const struct seg *at, const struct node *n,
	       json_t *inst, int rc)
{
	struct strbuf sb;
	char hint[HINT_DESCRIPTION + 8], why[128];
	const char *h = NULL;

	if (c->errs == NULL)
		return 1;
	if (rc < 0) {
		strbuf_init(&sb, 0);
		add_value(&sb, inst, 1);
		js_regex_error(why, sizeof(why), rc);
		report(c, at, 0, "pattern", NULL,
		       "%s could not be matched against %s: %s", sb.buf,
		       n->pattern->src, why);
		strbuf_release(&sb);
		return 1;
	}
	if (n->description) {
		/* "Lowercase letters." -> "lowercase letters" */
		snprintf(hint, sizeof(hint), "%s", n->description);
		if (hint[0] >= 'A' && hint[0] <= 'Z' && hint[1] >= 'a' &&
		    hint[1] <= 'z')
			hint[0] = (char)(hint[0] - 'A' + 'a');
		if (hint[0] && hint[strlen(hint) - 1] == '.')
			hint[strlen(hint) - 1] = '\0';
		h = hint[0] ? hint : NULL;
	}
	strbuf_init(&sb, 0);
	add_value(&sb, inst, 1);
	report(c, at, 0, "pattern", h, "%s does not match %s", sb.buf,
	       n->pattern->src);
	strbuf_release(&sb);
	return 1;
}

static size_t check(struct vctx *c, const struct node *n, json_t *inst,
		    const struct seg *at);

/* Does inst pass n? Never records errors. */
static int
passes(struct vctx *c, const struct node *n, json_t *inst, const struct seg *at)
{
	struct js_errors *saved = c->errs;
	size_t bad;

	c->errs = NULL;
	bad = check(c, n, inst, at);
	c->errs = saved;
	return bad == 0;
}

static const struct node *
find_prop(const struct node *n, const char *key)
{
	size_t lo = 0, hi = n->nprops;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(key, n->props[mid].name);

		if (cmp == 0)
			return n->props[mid].schema;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* properties, patternProperties and additionalProperties, field by field. */
static size_t
check_properties(struct vctx *c, const struct node *n, json_t *inst,
		 const struct seg *at)
{
	const char *key;
	json_t *val;
	size_t bad = 0;
	char hint[160];

	json_object_foreach(inst, key, val) {
		struct seg s = { at, key, 0 };
		const struct node *sub = find_prop(n, key);
		const char *pick;
		int matched = sub != NULL;

		if (sub)
			bad += check(c, sub, val, &s);
		for (size_t i = 0; i < n->npattern_props; i++) {
			const struct pattern_prop *pp = &n->pattern_props[i];
			int rc = js_regex_match(&pp->rx, c->rx, &c->md, key,
						strlen(key));

			if (rc < 0) {
				char why[128];

				js_regex_error(why, sizeof(why), rc);
				bad += report(c, &s, 1, "patternProperties",
					      NULL,
					      "field name '%s' could not "
					      "be matched against %s: %s",
					      key, pp->rx.src, why);
			}
			if (rc == 0)
				continue;
			matched = 1;
			if (rc > 0)
				bad += check(c, pp->schema, val, &s);
		}
		if (matched || n->additional_properties == NULL) {
			/* nothing more to check for this field */
		} else if (n->additional_properties->boolean == 0) {
			pick = NULL;
			if (c->errs)
				pick = suggest(key, n->prop_names, n->nprops);
			if (pick)
				snprintf(hint, sizeof(hint),
					 "did you mean '%s'?", pick);
			bad += report(c, &s, 1, "additionalProperties",
				      pick ? hint : NULL, "unknown field '%s'",
				      key);
		} else {
			bad += check(c, n->additional_properties, val, &s);
		}
		if (bad && c->errs == NULL)
			break;
	}
	return bad;
}

/* propertyNames: the errors are about the key, and say so. */
static size_t
check_property_names(struct vctx *c, const struct node *n, json_t *inst,
		     const struct seg *at)
{
	const char *key;
	json_t *val;
	size_t bad = 0;

	json_object_foreach(inst, key, val) {
		struct seg s = { at, key, 0 };
		size_t start = c->errs ? c->errs->n : 0;
		json_t *name;

		if (n->property_names->boolean == 0) {
			bad += report(c, &s, 1, "propertyNames", NULL,
				      "field '%s' is not allowed", key);
		} else if (n->property_names->boolean < 0) {
			name = json_string(key);
			bad += check(c, n->property_names, name, &s);
			json_decref(name);
		}
		for (size_t i = start; c->errs && i < c->errs->n; i++) {
			struct js_error *err = &c->errs->v[i];
			struct strbuf sb;

			err->at_key = 1;
			if (strncmp(err->message, "field ", 6) == 0)
				continue;
			strbuf_init(&sb, 0);
			strbuf_addstr(&sb, "field name ");
			if (err->message[0] != '\'')
				strbuf_addf(&sb, "'%s' ", key);
			strbuf_addstr(&sb, err->message);
			free(err->message);
			err->message = strbuf_detach(&sb, NULL);
		}
		if (bad && c->errs == NULL)
			break;
	}
	return bad;
}

static size_t
check_items(struct vctx *c, const struct node *n, json_t *inst,
	    const struct seg *at)
{
	size_t size = json_array_size(inst), bad = 0, i;

	if (!n->items_is_list) {
		for (i = 0; n->items && i < size; i++) {
			struct seg s = { at, NULL, i };

			bad += check(c, n->items, json_array_get(inst, i), &s);
			if (bad && c->errs == NULL)
				return bad;
		}
		return bad;
	}
	for (i = 0; i < size; i++) {
		struct seg s = { at, NULL, i };
		const struct node *sub = n->additional_items;

		if (i < n->nitem_list)
			sub = n->item_list[i];

		if (sub == NULL)
			break;
		/* false is one shared node (jansson's true/false are
		 * singletons): test the position, not the node */
		if (i >= n->nitem_list && sub->boolean == 0)
			return bad + report(c, at, 0, "additionalItems", NULL,
					    "must have at most %zu item%s",
					    n->nitem_list,
					    PLURAL(n->nitem_list));
		bad += check(c, sub, json_array_get(inst, i), &s);
		if (bad && c->errs == NULL)
			break;
	}
	return bad;
}

static size_t
check_unique(struct vctx *c, json_t *inst, const struct seg *at)
{
	size_t size = json_array_size(inst);

	for (size_t i = 0; i < size; i++)
		for (size_t j = i + 1; j < size; j++)
			if (json_same(json_array_get(inst, i),
				      json_array_get(inst, j)))
				return report(
					c, at, 0, "uniqueItems", NULL,
					"must not contain duplicates (items %zu and %zu are equal)",
					i, j);
	return 0;
}

static size_t
check_required(struct vctx *c, const struct node *n, json_t *inst,
	       const struct seg *at)
{
	size_t bad = 0;

	for (size_t i = 0; i < json_array_size(n->required); i++) {
		json_t *name_json = json_array_get(n->required, i);
		const char *name = json_string_value(name_json);

		if (json_object_get(inst, name))
			continue;
		bad += report(c, at, 0, "required", NULL,
			      "missing required field '%s'", name);
		if (c->errs == NULL)
			break;
	}
	return bad;
}

static size_t
check_dependencies(struct vctx *c, const struct node *n, json_t *inst,
		   const struct seg *at)
{
	size_t bad = 0;

	for (size_t i = 0; i < n->ndeps && !(bad && c->errs == NULL); i++) {
		const struct dep *d = &n->deps[i];

		if (json_object_get(inst, d->name) == NULL)
			continue;
		if (d->schema) {
			bad += check(c, d->schema, inst, at);
			continue;
		}
		for (size_t j = 0; j < json_array_size(d->fields); j++) {
			json_t *need_json = json_array_get(d->fields, j);
			const char *need = json_string_value(need_json);

			if (json_object_get(inst, need))
				continue;
			bad += report(c, at, 0, "dependencies", NULL,
				      "field '%s' requires field '%s'", d->name,
				      need);
			if (c->errs == NULL)
				break;
		}
	}
	return bad;
}

static int
is_multiple(json_t *x, json_t *m)
{
	double q, r, diff, tol;

	if (json_is_integer(x) && json_is_integer(m))
		return json_integer_value(x) % json_integer_value(m) == 0;
	q = json_number_value(x) / json_number_value(m);
	if (q > DBL_MAX || q < -DBL_MAX)
		return 0;
	if (q >= 9007199254740992.0 || q <= -9007199254740992.0)
		return 1; /* every double this large is an integer */
	r = (double)(long long)(q < 0 ? q - 0.5 : q + 0.5);
	diff = q > r ? q - r : r - q;
	tol = (q < 0 ? -q : q) * 1e-12;
	return diff <= (tol < 1e-6 ? tol : 1e-6);
}

/* Follow $refs to the node that states a "type"; its mask or 0. */
static unsigned
declared_types(const struct node *n)
{
	for (int hops = 0; n && n->ref && hops < 32; hops++)
		n = n->target;
	return n && n->boolean < 0 ? n->types : 0;
}

/*
 * How far a failed branch got: 2 when the instance is not even of its type,
 * 1 when a discriminating check failed (const here or on a direct field,
 * required here), 0 otherwise.
 */
static int
branch_level(const struct js_errors *errs, size_t from, const char *here)
{
	size_t hl = strlen(here);
	int level = 0;

	for (size_t i = from; i < errs->n; i++) {
		const struct js_error *err = &errs->v[i];
		int same = strcmp(err->path, here) == 0;
		int child = !same && strncmp(err->path, here, hl) == 0 &&
			    err->path[hl] == '/' &&
			    !strchr(err->path + hl + 1, '/');

		if (same && strcmp(err->keyword, "type") == 0)
			return 2;
		if ((same && strcmp(err->keyword, "required") == 0) ||
		    ((same || child) && strcmp(err->keyword, "const") == 0))
			level = 1;
	}
	return level;
}

/*
 * No branch of an anyOf/oneOf passed: keep the errors of the branch that
 * got furthest (lowest level, then fewest errors). A tie gives one error
 * for the whole keyword; branches that all want another type give one
 * type error naming every type they accept.
 */
static size_t
explain_no_match(struct vctx *c, struct node *const *v, size_t nv,
		 const char *keyword, json_t *inst, const struct seg *at)
{
	struct js_errors *errs = c->errs;
	size_t start = errs->n, best_count = 0;
	char *here = pointer_of(at);
	unsigned types = 0;
	int best_level = 3, tie = 0, all_type = 1;

	for (size_t i = 0; i < nv; i++) {
		size_t mid = errs->n, count;
		int level;

		check(c, v[i], inst, at);
		count = errs->n - mid;
		level = branch_level(errs, mid, here);
		if (level == 2 && declared_types(v[i]))
			types |= declared_types(v[i]);
		else
			all_type = 0;
		if (level < best_level ||
		    (level == best_level && count < best_count)) {
			errs_drop(errs, start, mid);
			best_level = level;
			best_count = count;
			tie = 0;
		} else {
			tie |= level == best_level && count == best_count;
			errs_truncate(errs, mid);
		}
	}
	free(here);
	all_type = all_type && types && !(instance_types(inst) & types);
	if (all_type || tie || errs->n == start)
		errs_truncate(errs, start);
	if (all_type)
		return report_type(c, at, types, inst);
	if (errs->n == start)
		return report(c, at, 0, keyword, NULL,
			      "does not match any allowed form");
	return errs->n - start;
}

static size_t
check_any_of(struct vctx *c, struct node *const *v, size_t nv, int one,
	     json_t *inst, const struct seg *at)
{
	const char *keyword = one ? "oneOf" : "anyOf";
	size_t npass = 0;

	for (size_t i = 0; i < nv; i++) {
		if (!passes(c, v[i], inst, at))
			continue;
		npass++;
		if (!one || npass > 1)
			break;
	}
	if (npass == 1 || (npass && !one))
		return 0;
	if (npass > 1)
		return report(c, at, 0, keyword, NULL,
			      "matches more than one allowed form");
	if (c->errs == NULL)
		return 1;
	return explain_no_match(c, v, nv, keyword, inst, at);
}

static size_t
check_op(struct vctx *c, const struct node *n, enum op op, json_t *inst,
	 const struct seg *at)
{
	char num[64];
	size_t bad = 0, len;
	int rc;

	switch (op) {
	case OP_TYPE:
		if (instance_types(inst) & n->types)
			return 0;
		return report_type(c, at, n->types, inst);
	case OP_ENUM:
		for (size_t i = 0; i < json_array_size(n->enum_values); i++)
			if (json_same(inst, json_array_get(n->enum_values, i)))
				return 0;
		return report_enum(c, at, n->enum_values, inst);
	case OP_CONST:
		return json_same(inst, n->const_value) ?
			       0 :
			       report_const(c, at, n->const_value, inst);
	case OP_MULTIPLE_OF:
		if (!json_is_number(inst) || is_multiple(inst, n->multiple_of))
			return 0;
		fmt_number(num, sizeof(num), n->multiple_of);
		return report(c, at, 0, "multipleOf", NULL,
			      "must be a multiple of %s", num);
	case OP_MAXIMUM:
		if (!json_is_number(inst) || num_cmp(inst, n->maximum) <= 0)
			return 0;
		fmt_number(num, sizeof(num), n->maximum);
		return report(c, at, 0, "maximum", NULL, "must be at most %s",
			      num);
	case OP_EXCLUSIVE_MAXIMUM:
		if (!json_is_number(inst) ||
		    num_cmp(inst, n->exclusive_maximum) < 0)
			return 0;
		fmt_number(num, sizeof(num), n->exclusive_maximum);
		return report(c, at, 0, "exclusiveMaximum", NULL,
			      "must be less than %s", num);
	case OP_MINIMUM:
		if (!json_is_number(inst) || num_cmp(inst, n->minimum) >= 0)
			return 0;
		fmt_number(num, sizeof(num), n->minimum);
		return report(c, at, 0, "minimum", NULL, "must be at least %s",
			      num);
	case OP_EXCLUSIVE_MINIMUM:
		if (!json_is_number(inst) ||
		    num_cmp(inst, n->exclusive_minimum) > 0)
			return 0;
		fmt_number(num, sizeof(num), n->exclusive_minimum);
		return report(c, at, 0, "exclusiveMinimum", NULL,
			      "must be greater than %s", num);
	case OP_MAX_LENGTH:
	case OP_MIN_LENGTH:
		if (!json_is_string(inst))
			return 0;
		len = utf8_len(json_string_value(inst),
			       json_string_length(inst));
		if (op == OP_MAX_LENGTH && (long long)len > n->max_length)
			return report(c, at, 0, "maxLength", NULL,
				      "must be at most %lld character%s",
				      n->max_length, PLURAL(n->max_length));
		if (op == OP_MIN_LENGTH && (long long)len < n->min_length)
			return report(c, at, 0, "minLength", NULL,
				      "must be at least %lld character%s",
				      n->min_length, PLURAL(n->min_length));
		return 0;
	case OP_PATTERN:
		if (!json_is_string(inst))
			return 0;
		rc = js_regex_match(n->pattern, c->rx, &c->md,
				    json_string_value(inst),
				    json_string_length(inst));
		return rc > 0 ? 0 : report_pattern(c, at, n, inst, rc);
	case OP_ITEMS:
		return json_is_array(inst) ? check_items(c, n, inst, at) : 0;
	case OP_MAX_ITEMS:
		if (!json_is_array(inst) ||
		    (long long)json_array_size(inst) <= n->max_items)
			return 0;
		return report(c, at, 0, "maxItems", NULL,
			      "must have at most %lld item%s", n->max_items,
			      PLURAL(n->max_items));
	case OP_MIN_ITEMS:
		if (!json_is_array(inst) ||
		    (long long)json_array_size(inst) >= n->min_items)
			return 0;
		return report(c, at, 0, "minItems", NULL,
			      "must have at least %lld item%s", n->min_items,
			      PLURAL(n->min_items));
	case OP_UNIQUE_ITEMS:
		if (!json_is_array(inst) || !n->unique_items)
			return 0;
		return check_unique(c, inst, at);
	case OP_CONTAINS:
		if (!json_is_array(inst))
			return 0;
		for (size_t i = 0; i < json_array_size(inst); i++) {
			struct seg s = { at, NULL, i };

			if (passes(c, n->contains, json_array_get(inst, i), &s))
				return 0;
		}
		return report(c, at, 0, "contains", NULL,
			      "must contain at least one matching item");
	case OP_MAX_PROPERTIES:
		if (!json_is_object(inst) ||
		    (long long)json_object_size(inst) <= n->max_properties)
			return 0;
		return report(c, at, 0, "maxProperties", NULL,
			      "must have at most %lld field%s",
			      n->max_properties, PLURAL(n->max_properties));
	case OP_MIN_PROPERTIES:
		if (!json_is_object(inst) ||
		    (long long)json_object_size(inst) >= n->min_properties)
			return 0;
		return report(c, at, 0, "minProperties", NULL,
			      "must have at least %lld field%s",
			      n->min_properties, PLURAL(n->min_properties));
	case OP_REQUIRED:
		if (!json_is_object(inst))
			return 0;
		return check_required(c, n, inst, at);
	case OP_PROPERTIES:
		if (!json_is_object(inst))
			return 0;
		return check_properties(c, n, inst, at);
	case OP_DEPENDENCIES:
		if (!json_is_object(inst))
			return 0;
		return check_dependencies(c, n, inst, at);
	case OP_PROPERTY_NAMES:
		if (!json_is_object(inst))
			return 0;
		return check_property_names(c, n, inst, at);
	case OP_IF:
		if (n->if_ == NULL)
			return 0;
		if (passes(c, n->if_, inst, at))
			return n->then_ ? check(c, n->then_, inst, at) : 0;
		return n->else_ ? check(c, n->else_, inst, at) : 0;
	case OP_ALL_OF:
		for (size_t i = 0; i < n->nall_of; i++) {
			bad += check(c, n->all_of[i], inst, at);
			if (bad && c->errs == NULL)
				break;
		}
		return bad;
	case OP_ANY_OF:
		return check_any_of(c, n->any_of, n->nany_of, 0, inst, at);
	case OP_ONE_OF:
		return check_any_of(c, n->one_of, n->none_of, 1, inst, at);
	case OP_NOT:
		if (!passes(c, n->not_, inst, at))
			return 0;
		return report(c, at, 0, "not", NULL,
			      "matches a disallowed form");
	case OP_COUNT: break;
	}
	return 0;
}

static size_t
check_ref(struct vctx *c, const struct node *n, json_t *inst,
	  const struct seg *at)
{
	struct frame f = { c->refs, n, inst };
	size_t bad;

	if (n->target == NULL)
		return report(c, at, 0, "$ref", NULL,
			      "cannot resolve reference '%s'", n->ref);
	for (const struct frame *g = c->refs; g; g = g->up)
		if (g->n == n && g->inst == inst)
			return report(c, at, 0, "$ref", NULL,
				      "schema recursion too deep");
	c->refs = &f;
	bad = check(c, n->target, inst, at);
	c->refs = f.up;
	return bad;
}

/*
 * Validate inst against n; returns the number of errors recorded (with
 * c->errs NULL: nonzero as soon as one is found, nothing recorded).
 */
static size_t
check(struct vctx *c, const struct node *n, json_t *inst, const struct seg *at)
{
	size_t start = c->errs ? c->errs->n : 0, bad = 0;

	if (n->boolean >= 0)
		return n->boolean ? 0 : report_false(c, at);
	if (c->depth >= MAX_DEPTH)
		return report(c, at, 0, "$ref", NULL,
			      "schema recursion too deep");
	c->depth++;
	if (n->ref) {
		bad = check_ref(c, n, inst, at);
	} else {
		for (unsigned i = 0; i < n->nops; i++) {
			bad += check_op(c, n, (enum op)n->ops[i], inst, at);
			if (bad && c->errs == NULL)
				break;
		}
	}
	c->depth--;
	if (bad && n->error_message && c->errs) {
		errs_truncate(c->errs, start);
		bad = report(c, at, 0, "errorMessage", NULL, "%s",
			     n->error_message);
	}
	return bad;
}

size_t
jsonschema_validate(const struct jsonschema *s, const char *at,
		    json_t *instance, struct js_errors *errs)
{
	struct vctx c = { errs, NULL, 0, &s->rx, NULL };
	const struct node *n = s->root;
	size_t start = errs ? errs->n : 0, bad;

	if (at && at[0] == '#')
		at++;
	if (at && at[0]) {
		json_t *j = js_pointer_get(s->root->json, at, NULL, NULL);

		n = j ? js_node_of(s, j) : NULL;
		if (n == NULL)
			return report(&c, NULL, 0, "$ref", NULL,
				      "no schema at '%s'", at);
	}
	bad = check(&c, n, instance, NULL);
	pcre2_match_data_free(c.md);
	return errs ? errs->n - start : bad;
}
