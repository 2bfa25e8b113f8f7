/*
 * jsonschema.c - compile a JSON Schema (draft-07) for the validator.
 *
 * jsonschema_compile() turns every subschema into a struct node once:
 * keyword values decoded, regexes compiled (jsonschema_regex.c),
 * properties sorted for lookup, $ref resolved to its target node
 * (jsonschema_uri.c finds it), and the keywords listed in the order the
 * schema stores them so that errors come out in a stable order.
 * Validation (jsonschema_validate.c) only reads the nodes.
 */
#include "jsonschema_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCHEMA_DEPTH 512 /* nesting of a schema document */

const char *const js_type_names[T_NTYPES] = {
	"string", "integer", "number", "boolean", "object", "array", "null",
};

enum kwid {
	K_TYPE,
	K_ENUM,
	K_CONST,
	K_MULTIPLE_OF,
	K_MAXIMUM,
	K_EXCLUSIVE_MAXIMUM,
	K_MINIMUM,
	K_EXCLUSIVE_MINIMUM,
	K_MAX_LENGTH,
	K_MIN_LENGTH,
	K_PATTERN,
	K_ITEMS,
	K_ADDITIONAL_ITEMS,
	K_MAX_ITEMS,
	K_MIN_ITEMS,
	K_UNIQUE_ITEMS,
	K_CONTAINS,
	K_MAX_PROPERTIES,
	K_MIN_PROPERTIES,
	K_REQUIRED,
	K_PROPERTIES,
	K_PATTERN_PROPERTIES,
	K_ADDITIONAL_PROPERTIES,
	K_DEPENDENCIES,
	K_PROPERTY_NAMES,
	K_IF,
	K_THEN,
	K_ELSE,
	K_ALL_OF,
	K_ANY_OF,
	K_ONE_OF,
	K_NOT,
	K_DEFINITIONS,
	K_ERROR_MESSAGE,
	K_DESCRIPTION,
};

static const struct keyword {
	const char *name;
	enum kwid id;
	enum op op;
} keywords[] = {
	{ "type", K_TYPE, OP_TYPE },
	{ "enum", K_ENUM, OP_ENUM },
	{ "const", K_CONST, OP_CONST },
	{ "multipleOf", K_MULTIPLE_OF, OP_MULTIPLE_OF },
	{ "maximum", K_MAXIMUM, OP_MAXIMUM },
	{ "exclusiveMaximum", K_EXCLUSIVE_MAXIMUM, OP_EXCLUSIVE_MAXIMUM },
	{ "minimum", K_MINIMUM, OP_MINIMUM },
	{ "exclusiveMinimum", K_EXCLUSIVE_MINIMUM, OP_EXCLUSIVE_MINIMUM },
	{ "maxLength", K_MAX_LENGTH, OP_MAX_LENGTH },
	{ "minLength", K_MIN_LENGTH, OP_MIN_LENGTH },
	{ "pattern", K_PATTERN, OP_PATTERN },
	{ "items", K_ITEMS, OP_ITEMS },
	{ "additionalItems", K_ADDITIONAL_ITEMS, OP_ITEMS },
	{ "maxItems", K_MAX_ITEMS, OP_MAX_ITEMS },
	{ "minItems", K_MIN_ITEMS, OP_MIN_ITEMS },
	{ "uniqueItems", K_UNIQUE_ITEMS, OP_UNIQUE_ITEMS },
	{ "contains", K_CONTAINS, OP_CONTAINS },
	{ "maxProperties", K_MAX_PROPERTIES, OP_MAX_PROPERTIES },
	{ "minProperties", K_MIN_PROPERTIES, OP_MIN_PROPERTIES },
	{ "required", K_REQUIRED, OP_REQUIRED },
	{ "properties", K_PROPERTIES, OP_PROPERTIES },
	{ "patternProperties", K_PATTERN_PROPERTIES, OP_PROPERTIES },
	{ "additionalProperties", K_ADDITIONAL_PROPERTIES, OP_PROPERTIES },
	{ "dependencies", K_DEPENDENCIES, OP_DEPENDENCIES },
	{ "propertyNames", K_PROPERTY_NAMES, OP_PROPERTY_NAMES },
	{ "if", K_IF, OP_IF },
	{ "then", K_THEN, OP_IF },
	{ "else", K_ELSE, OP_IF },
	{ "allOf", K_ALL_OF, OP_ALL_OF },
	{ "anyOf", K_ANY_OF, OP_ANY_OF },
	{ "oneOf", K_ONE_OF, OP_ONE_OF },
	{ "not", K_NOT, OP_NOT },
	{ "definitions", K_DEFINITIONS, OP_NONE },
	{ "errorMessage", K_ERROR_MESSAGE, OP_NONE },
	{ "description", K_DESCRIPTION, OP_NONE },
};

/* A count keyword: a non-negative integer (2.0 counts as 2). */
static int
get_count(json_t *v, long long *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    js_is_integral(json_real_value(v))) {
		*out = (long long)json_real_value(v);
		return 0;
	}
	return -1;
}

/* --- the node map ------------------------------------------------------ */

static size_t
map_slot(const struct jsonschema *s, const json_t *json)
{
	uint64_t h = (uint64_t)(uintptr_t)json;

	h ^= h >> 29;
	h *= 0x9E3779B97F4A7C15ull;
	h ^= h >> 32;
	return (size_t)h & (s->mapsize - 1);
}

struct node *
js_node_of(const struct jsonschema *s, const json_t *json)
{
	size_t i;

	if (s->mapsize == 0)
		return NULL;
	for (i = map_slot(s, json); s->map[i]; i = (i + 1) & (s->mapsize - 1))
		if (s->map[i]->json == json)
			return s->map[i];
	return NULL;
}

static void
map_insert(struct jsonschema *s, struct node *n)
{
	size_t i;

	i = map_slot(s, n->json);
	while (s->map[i])
		i = (i + 1) & (s->mapsize - 1);
	s->map[i] = n;
}

static struct node *
node_new(struct jsonschema *s, json_t *json, const char *base)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->json = json;
	n->base = base;
	n->boolean = -1;
	n->max_length = n->min_length = -1;
	n->max_items = n->min_items = -1;
	n->max_properties = n->min_properties = -1;
	xgrow(&s->all, &s->aall, s->nall + 1, sizeof(*s->all));
	s->all[s->nall++] = n;
	if ((s->nall) * 2 > s->mapsize) {
		struct node **old = s->map;
		size_t oldsize = s->mapsize;

		s->mapsize = s->mapsize ? s->mapsize * 2 : 64;
		s->map = xcalloc(s->mapsize, sizeof(*s->map));
		for (size_t i = 0; i < oldsize; i++)
			if (old[i])
				map_insert(s, old[i]);
		free(old);
	}
	map_insert(s, n);
	return n;
}

static void
node_free(struct node *n)
{
	free(n->ref);
	free(n->ref_at);
	if (n->pattern) {
		js_regex_release(n->pattern);
		free(n->pattern);
	}
	free(n->item_list);
	free(n->props);
	free(n->prop_names);
	for (size_t i = 0; i < n->npattern_props; i++)
		js_regex_release(&n->pattern_props[i].rx);
	free(n->pattern_props);
	free(n->deps);
	free(n->all_of);
	free(n->any_of);
	free(n->one_of);
	free(n);
}

/* --- compile ----------------------------------------------------------- */

struct compiler {
	struct jsonschema *s;
	struct strbuf ptr; /* "<doc>#<pointer>" being compiled */
	unsigned depth;
	struct err *e;
};

static int compile_node(struct compiler *c, json_t *json, const char *base,
			struct node **out);

static size_t
ptr_push(struct compiler *c, const char *key)
{
	size_t len = c->ptr.len;

	js_pointer_add_token(&c->ptr, key);
	return len;
}

static int
bad_keyword(struct compiler *c, const char *key, const char *what)
{
	return err_set(c->e, "invalid schema at '%s': '%s' %s", c->ptr.buf, key,
		       what);
}

/* Compile the subschema val found at /key (and /sub, when not NULL). */
static int
compile_sub(struct compiler *c, json_t *val, const char *base, const char *key,
	    const char *sub, struct node **out)
{
	size_t len = ptr_push(c, key);
	int rc;

	if (sub)
		js_pointer_add_token(&c->ptr, sub);
	rc = compile_node(c, val, base, out);
	strbuf_setlen(&c->ptr, len);
	return rc;
}

static int
compile_list(struct compiler *c, json_t *val, const char *base, const char *key,
	     size_t min, struct node ***out, size_t *nout)
{
	size_t n = json_array_size(val);

	if (!json_is_array(val) || n < min)
		return bad_keyword(c, key,
				   "must be a non-empty array of schemas");
	*out = xcalloc(n, sizeof(**out));
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		char idx[32];

		snprintf(idx, sizeof(idx), "%zu", i);
		if (compile_sub(c, json_array_get(val, i), base, key, idx,
				&(*out)[i]) < 0)
			return -1;
	}
	return 0;
}

static int
compile_regex(struct compiler *c, struct regex *rx, const char *src,
	      const char *key, const char *sub)
{
	char why[320];
	size_t len = ptr_push(c, key);
	int rc;

	if (sub)
		js_pointer_add_token(&c->ptr, sub);
	rc = js_regex_compile(rx, &c->s->rx, src, why, sizeof(why));
	if (rc < 0)
		err_set(c->e, "invalid pattern '%s' at '%s': %s", src,
			c->ptr.buf, why);
	strbuf_setlen(&c->ptr, len);
	return rc;
}

static int
prop_cmp(const void *a, const void *b)
{
	return strcmp(((const struct prop *)a)->name,
		      ((const struct prop *)b)->name);
}

static int
compile_type(struct compiler *c, struct node *n, json_t *val)
{
	json_t *one = val;
	size_t i = 0, count = json_is_array(val) ? json_array_size(val) : 1;

	if (json_is_array(val) && count == 0)
		return bad_keyword(c, "type", "must not be empty");
	for (; i < count; i++) {
		unsigned t;

		if (json_is_array(val))
			one = json_array_get(val, i);
		if (!json_is_string(one))
			return bad_keyword(
				c, "type",
				"must be a type name or an array of them");
		for (t = 0; t < T_NTYPES; t++)
			if (strcmp(json_string_value(one), js_type_names[t]) ==
			    0)
				break;
		if (t == T_NTYPES)
			return err_set(
				c->e,
				"invalid schema at '%s': unknown type '%s'",
				c->ptr.buf, json_string_value(one));
		n->types |= 1u << t;
	}
	return 0;
}

static int
compile_properties(struct compiler *c, struct node *n, json_t *val,
		   const char *base)
{
	const char *key;
	json_t *sub;
	size_t i = 0;

	if (!json_is_object(val))
		return bad_keyword(c, "properties",
				   "must be an object of schemas");
	n->nprops = json_object_size(val);
	n->props = xcalloc(n->nprops, sizeof(*n->props));
	n->prop_names = xcalloc(n->nprops, sizeof(*n->prop_names));
	json_object_foreach(val, key, sub) {
		n->props[i].name = n->prop_names[i] = key;
		if (compile_sub(c, sub, base, "properties", key,
				&n->props[i].schema) < 0)
			return -1;
		i++;
	}
	qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
	return 0;
}

static int
compile_pattern_properties(struct compiler *c, struct node *n, json_t *val,
			   const char *base)
{
	const char *key;
	json_t *sub;

	if (!json_is_object(val))
		return bad_keyword(c, "patternProperties",
				   "must be an object of schemas");
	n->pattern_props = xcalloc(json_object_size(val),
				   sizeof(*n->pattern_props));
	json_object_foreach(val, key, sub) {
		struct pattern_prop *pp;

		pp = &n->pattern_props[n->npattern_props++];
		if (compile_regex(c, &pp->rx, key, "patternProperties", key) <
			    0 ||
		    compile_sub(c, sub, base, "patternProperties", key,
				&pp->schema) < 0)
			return -1;
	}
	return 0;
}

static int
compile_dependencies(struct compiler *c, struct node *n, json_t *val,
		     const char *base)
{
	const char *key;
	json_t *dep;

	if (!json_is_object(val))
		return bad_keyword(c, "dependencies", "must be an object");
	n->deps = xcalloc(json_object_size(val), sizeof(*n->deps));
	json_object_foreach(val, key, dep) {
		struct dep *d = &n->deps[n->ndeps++];

		d->name = key;
		if (!json_is_array(dep)) {
			if (compile_sub(c, dep, base, "dependencies", key,
					&d->schema) < 0)
				return -1;
			continue;
		}
		for (size_t i = 0; i < json_array_size(dep); i++)
			if (!json_is_string(json_array_get(dep, i)))
				return bad_keyword(
					c, "dependencies",
					"arrays must hold field names");
		d->fields = dep;
	}
	return 0;
}

static int
compile_definitions(struct compiler *c, json_t *val, const char *base)
{
	const char *key;
	json_t *sub;
	struct node *ignored;

	if (!json_is_object(val))
		return bad_keyword(c, "definitions",
				   "must be an object of schemas");
	json_object_foreach(val, key, sub)
		if (compile_sub(c, sub, base, "definitions", key, &ignored) < 0)
			return -1;
	return 0;
}

static int
compile_number(struct compiler *c, const char *key, json_t *val, json_t **out)
{
	if (!json_is_number(val))
		return bad_keyword(c, key, "must be a number");
	*out = val;
	return 0;
}

static int
compile_count(struct compiler *c, const char *key, json_t *val, long long *out)
{
	if (get_count(val, out) < 0)
		return bad_keyword(c, key, "must be a non-negative integer");
	return 0;
}

static int
compile_keyword(struct compiler *c, struct node *n, const struct keyword *kw,
		json_t *val, const char *base)
{
	const char *key = kw->name;

	switch (kw->id) {
	case K_TYPE: return compile_type(c, n, val);
	case K_ENUM:
		if (!json_is_array(val))
			return bad_keyword(c, key, "must be an array");
		n->enum_values = val;
		return 0;
	case K_CONST: n->const_value = val; return 0;
	case K_MULTIPLE_OF:
		if (!json_is_number(val) || json_number_value(val) <= 0)
			return bad_keyword(c, key,
					   "must be a number greater than 0");
		n->multiple_of = val;
		return 0;
	case K_MAXIMUM: return compile_number(c, key, val, &n->maximum);
	case K_EXCLUSIVE_MAXIMUM:
		return compile_number(c, key, val, &n->exclusive_maximum);
	case K_MINIMUM: return compile_number(c, key, val, &n->minimum);
	case K_EXCLUSIVE_MINIMUM:
		return compile_number(c, key, val, &n->exclusive_minimum);
	case K_MAX_LENGTH: return compile_count(c, key, val, &n->max_length);
	case K_MIN_LENGTH: return compile_count(c, key, val, &n->min_length);
	case K_PATTERN:
		if (!json_is_string(val))
			return bad_keyword(c, key, "must be a string");
		n->pattern = xcalloc(1, sizeof(*n->pattern));
		return compile_regex(c, n->pattern, json_string_value(val), key,
				     NULL);
	case K_ITEMS:
		if (json_is_array(val)) {
			n->items_is_list = 1;
			return compile_list(c, val, base, key, 0, &n->item_list,
					    &n->nitem_list);
		}
		return compile_sub(c, val, base, key, NULL, &n->items);
	case K_ADDITIONAL_ITEMS:
		return compile_sub(c, val, base, key, NULL,
				   &n->additional_items);
	case K_MAX_ITEMS: return compile_count(c, key, val, &n->max_items);
	case K_MIN_ITEMS: return compile_count(c, key, val, &n->min_items);
	case K_UNIQUE_ITEMS:
		if (!json_is_boolean(val))
			return bad_keyword(c, key, "must be a boolean");
		n->unique_items = json_is_true(val);
		return 0;
	case K_CONTAINS:
		return compile_sub(c, val, base, key, NULL, &n->contains);
	case K_MAX_PROPERTIES:
		return compile_count(c, key, val, &n->max_properties);
	case K_MIN_PROPERTIES:
		return compile_count(c, key, val, &n->min_properties);
	case K_REQUIRED:
		for (size_t i = 0; i < json_array_size(val); i++)
			if (!json_is_string(json_array_get(val, i)))
				val = NULL;
		if (!json_is_array(val))
			return bad_keyword(c, key,
					   "must be an array of field names");
		n->required = val;
		return 0;
	case K_PROPERTIES: return compile_properties(c, n, val, base);
	case K_PATTERN_PROPERTIES:
		return compile_pattern_properties(c, n, val, base);
	case K_ADDITIONAL_PROPERTIES:
		return compile_sub(c, val, base, key, NULL,
				   &n->additional_properties);
	case K_DEPENDENCIES: return compile_dependencies(c, n, val, base);
	case K_PROPERTY_NAMES:
		return compile_sub(c, val, base, key, NULL, &n->property_names);
	case K_IF: return compile_sub(c, val, base, key, NULL, &n->if_);
	case K_THEN: return compile_sub(c, val, base, key, NULL, &n->then_);
	case K_ELSE: return compile_sub(c, val, base, key, NULL, &n->else_);
	case K_ALL_OF:
		return compile_list(c, val, base, key, 1, &n->all_of,
				    &n->nall_of);
	case K_ANY_OF:
		return compile_list(c, val, base, key, 1, &n->any_of,
				    &n->nany_of);
	case K_ONE_OF:
		return compile_list(c, val, base, key, 1, &n->one_of,
				    &n->none_of);
	case K_NOT: return compile_sub(c, val, base, key, NULL, &n->not_);
	case K_DEFINITIONS: return compile_definitions(c, val, base);
	case K_ERROR_MESSAGE:
		if (json_is_string(val))
			n->error_message = json_string_value(val);
		return 0;
	case K_DESCRIPTION:
		if (json_is_string(val) &&
		    json_string_length(val) <= HINT_DESCRIPTION &&
		    !strchr(json_string_value(val), '\n'))
			n->description = json_string_value(val);
		return 0;
	}
	return 0;
}

static const struct keyword *
keyword_find(const char *name)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

/* A $id: a new base URI and/or a plain-name fragment ("#foo"). */
static const char *
compile_id(struct compiler *c, json_t *json, const char *id, const char *base)
{
	char *abs = js_uri_resolve(base, id);
	size_t hash = strcspn(abs, "#");
	const char *nbase;

	if (abs[hash] && abs[hash + 1])
		js_resource_put(c->s, abs, json, NULL);
	abs[hash] = '\0';
	nbase = js_intern(c->s, abs);
	js_resource_put(c->s, nbase, json, nbase);
	return nbase;
}

static int
compile_node(struct compiler *c, json_t *json, const char *base,
	     struct node **out)
{
	struct node *n;
	const struct keyword *kw;
	const char *key;
	json_t *val, *ref, *id;
	unsigned seen = 0;
	int rc = 0;

	*out = js_node_of(c->s, json);
	if (*out)
		return 0;
	if (!json_is_object(json) && !json_is_boolean(json))
		return err_set(
			c->e,
			"invalid schema at '%s': expected an object or a boolean",
			c->ptr.buf);
	if (c->depth >= MAX_SCHEMA_DEPTH)
		return err_set(c->e,
			       "invalid schema at '%s': nested too deeply",
			       c->ptr.buf);
	ref = json_object_get(json, "$ref");
	id = json_object_get(json, "$id");
	if (json_is_string(id) && ref == NULL)
		base = compile_id(c, json, json_string_value(id), base);
	n = node_new(c->s, json, base);
	*out = n;
	if (json_is_boolean(json)) {
		n->boolean = json_is_true(json);
		return 0;
	}
	if (ref && !json_is_string(ref))
		return bad_keyword(c, "$ref", "must be a string");
	if (ref) {
		n->ref = js_uri_resolve(base, json_string_value(ref));
		n->ref_at = xstrdup(c->ptr.buf);
	}
	c->depth++;
	json_object_foreach(json, key, val) {
		kw = keyword_find(key);
		if (kw == NULL)
			continue;
		/* $ref overrides its siblings (draft-07); definitions are
		 * still compiled so that $refs into them find their nodes. */
		if (ref && kw->id != K_DEFINITIONS &&
		    kw->id != K_ERROR_MESSAGE && kw->id != K_DESCRIPTION)
			continue;
		rc = compile_keyword(c, n, kw, val, base);
		if (rc < 0)
			break;
		if (kw->op != OP_NONE && !(seen & (1u << kw->op))) {
			seen |= 1u << kw->op;
			n->ops[n->nops++] = (unsigned char)kw->op;
		}
	}
	c->depth--;
	return rc;
}

/*
 * Point the $ref of n at its target node. A reference into a document that
 * is not (yet) known stays open for jsonschema_add_resource; one into a
 * known document that does not resolve is an error.
 */
static int
resolve_ref(struct compiler *c, struct node *n)
{
	const char *base = NULL;
	json_t *target;
	struct node *t;
	int rc, found = js_ref_lookup(c->s, n->ref, &target, &base);

	if (found == 0)
		return 0;
	if (found < 0)
		return err_set(
			c->e,
			"invalid schema at '%s': cannot resolve reference '%s'",
			n->ref_at, n->ref);
	strbuf_reset(&c->ptr);
	strbuf_addstr(&c->ptr, n->ref);
	rc = compile_node(c, target, base, &t);
	n->target = t;
	return rc;
}

static int
resolve_refs(struct compiler *c)
{
	/* s->nall grows while targets compile; they are visited too. */
	for (size_t i = 0; i < c->s->nall; i++) {
		struct node *n = c->s->all[i];

		if (n->ref && n->target == NULL && resolve_ref(c, n) < 0)
			return -1;
	}
	return 0;
}

static void
add_doc(struct jsonschema *s, json_t *doc)
{
	xgrow(&s->docs, &s->adocs, s->ndocs + 1, sizeof(*s->docs));
	s->docs[s->ndocs++] = json_incref(doc);
}

static int
compile_doc(struct jsonschema *s, json_t *doc, const char *uri,
	    struct node **out, struct err *e)
{
	struct compiler c = { .s = s, .e = e };
	const char *base = js_intern(s, xstrdup(uri));
	struct node *ignored;
	int rc;

	strbuf_init(&c.ptr, 0);
	strbuf_addstr(&c.ptr, uri);
	strbuf_addch(&c.ptr, '#');
	js_resource_put(s, base, doc, base);
	/* a resource need not be a schema at its root ({"defs": {...}}
	 * reached by "$ref": "doc.json#/defs/x") */
	rc = out || json_is_object(doc) || json_is_boolean(doc) ?
		     compile_node(&c, doc, base, out ? out : &ignored) :
		     0;
	if (rc == 0)
		rc = resolve_refs(&c);
	strbuf_release(&c.ptr);
	return rc;
}

int
jsonschema_compile(struct jsonschema **out, json_t *root, struct err *e)
{
	struct jsonschema *s = xcalloc(1, sizeof(*s));

	*out = NULL;
	js_regex_env_init(&s->rx);
	add_doc(s, root);
	if (compile_doc(s, root, "", &s->root, e) < 0) {
		jsonschema_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
jsonschema_add_resource(struct jsonschema *s, const char *uri, json_t *doc,
			struct err *e)
{
	char *norm = js_uri_resolve("", uri);
	int rc = -1;

	if (norm[0] && norm[strlen(norm) - 1] == '#')
		norm[strlen(norm) - 1] = '\0';
	if (!js_uri_has_scheme(norm) || strchr(norm, '#')) {
		err_set(e,
			"cannot add schema '%s': expected an absolute URI without fragment",
			uri);
		goto out;
	}
	if (js_resource_find(s, norm, strlen(norm))) {
		err_set(e, "cannot add schema '%s': already known", uri);
		goto out;
	}
	add_doc(s, doc);
	rc = compile_doc(s, doc, norm, NULL, e);
	if (rc < 0)
		err_wrap(e, "cannot add schema '%s'", uri);
out:
	free(norm);
	return rc;
}

void
jsonschema_free(struct jsonschema *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nall; i++)
		node_free(s->all[i]);
	free(s->all);
	free(s->map);
	for (size_t i = 0; i < s->nres; i++)
		free(s->res[i].uri);
	free(s->res);
	for (size_t i = 0; i < s->nstrs; i++)
		free(s->strs[i]);
	free(s->strs);
	for (size_t i = 0; i < s->ndocs; i++)
		json_decref(s->docs[i]);
	free(s->docs);
	js_regex_env_release(&s->rx);
	free(s);
}
