/*
 * jsonschema.c - JSON Schema draft-07 validation over jansson values.
 *
 * jsonschema_compile() turns every subschema into a struct node once:
 * keyword values decoded, regexes compiled (ECMA-262 patterns, run by
 * PCRE2), properties sorted for lookup, $ref resolved to its target
 * node, and the keywords listed in the order the schema stores them so
 * that errors come out in a stable order. Validation only reads nodes;
 * its own state (instance path, active $refs, depth) lives on the stack,
 * so one compiled schema serves any number of threads.
 */
#include "jsonschema.h"

#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../util/strbuf.h"
#include "../util/suggest.h"

#define MAX_DEPTH 256		/* nested subschema evaluations */
#define MAX_SCHEMA_DEPTH 512	/* nesting of a schema document */
#define VALUE_SHOWN 60		/* bytes of a value shown in a message */
#define LIST_SHOWN 200		/* bytes of an enum list shown */
#define HINT_DESCRIPTION 160	/* longest description used as a hint */

/*
 * Bounds on one regex match, so that a pattern that backtracks badly
 * cannot run away on a hostile value: the match fails with an error.
 */
#define REGEX_MATCH_LIMIT 1000000	/* backtracking steps */
#define REGEX_DEPTH_LIMIT 100000	/* nested backtracking points */
#define REGEX_HEAP_LIMIT 32768		/* KiB of backtracking memory */

/*
 * ECMA-262 semantics where PCRE2 has a switch for them: \uHHHH and \xHH,
 * "[]" and "[^]", "$" only at the end, a backreference to a group that
 * did not take part matches the empty string. \C would split characters.
 */
#define REGEX_OPTIONS (PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS | \
		       PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_UNSET_BACKREF | \
		       PCRE2_NEVER_BACKSLASH_C)

#define PLURAL(n) ((n) == 1 ? "" : "s")

enum {
	T_STRING = 1 << 0,
	T_INTEGER = 1 << 1,
	T_NUMBER = 1 << 2,
	T_BOOLEAN = 1 << 3,
	T_OBJECT = 1 << 4,
	T_ARRAY = 1 << 5,
	T_NULL = 1 << 6,
	T_NTYPES = 7,
};

static const char *const type_names[T_NTYPES] = {
	"string", "integer", "number", "boolean", "object", "array", "null",
};

/*
 * Validation steps. A node lists its steps in the order the schema stores
 * the keywords; keywords that work together share one step (properties,
 * patternProperties and additionalProperties are one pass over the
 * instance's fields; items and additionalItems; if, then and else).
 */
enum op {
	OP_TYPE, OP_ENUM, OP_CONST, OP_MULTIPLE_OF, OP_MAXIMUM,
	OP_EXCLUSIVE_MAXIMUM, OP_MINIMUM, OP_EXCLUSIVE_MINIMUM, OP_MAX_LENGTH,
	OP_MIN_LENGTH, OP_PATTERN, OP_ITEMS, OP_MAX_ITEMS, OP_MIN_ITEMS,
	OP_UNIQUE_ITEMS, OP_CONTAINS, OP_MAX_PROPERTIES, OP_MIN_PROPERTIES,
	OP_REQUIRED, OP_PROPERTIES, OP_DEPENDENCIES, OP_PROPERTY_NAMES, OP_IF,
	OP_ALL_OF, OP_ANY_OF, OP_ONE_OF, OP_NOT,
	OP_COUNT,
	OP_NONE = OP_COUNT,	/* annotations and definitions */
};

enum kwid {
	K_TYPE, K_ENUM, K_CONST, K_MULTIPLE_OF, K_MAXIMUM, K_EXCLUSIVE_MAXIMUM,
	K_MINIMUM, K_EXCLUSIVE_MINIMUM, K_MAX_LENGTH, K_MIN_LENGTH, K_PATTERN,
	K_ITEMS, K_ADDITIONAL_ITEMS, K_MAX_ITEMS, K_MIN_ITEMS, K_UNIQUE_ITEMS,
	K_CONTAINS, K_MAX_PROPERTIES, K_MIN_PROPERTIES, K_REQUIRED,
	K_PROPERTIES, K_PATTERN_PROPERTIES, K_ADDITIONAL_PROPERTIES,
	K_DEPENDENCIES, K_PROPERTY_NAMES, K_IF, K_THEN, K_ELSE, K_ALL_OF,
	K_ANY_OF, K_ONE_OF, K_NOT, K_DEFINITIONS, K_ERROR_MESSAGE,
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

struct regex {
	pcre2_code *code;	/* NULL until compiled */
	const char *src;	/* borrowed from the schema */
};

/* What every regex of a compiled schema shares (read-only once made). */
struct regex_env {
	pcre2_general_context *gen;	/* allocations through xmalloc */
	pcre2_compile_context *compile;
	pcre2_match_context *match;	/* the REGEX_*_LIMITs */
};

struct prop {
	const char *name;	/* borrowed from the schema */
	struct node *schema;
};

struct pattern_prop {
	struct regex rx;
	struct node *schema;
};

struct dep {
	const char *name;	/* borrowed from the schema */
	json_t *fields;		/* array of names, or NULL */
	struct node *schema;	/* when fields is NULL */
};

struct node {
	json_t *json;		/* borrowed from a document */
	const char *base;	/* base URI, interned in the jsonschema */
	int boolean;		/* 1/0: schema true/false; -1: an object */
	unsigned char ops[OP_COUNT];
	unsigned nops;
	const char *error_message, *description;

	char *ref;		/* absolute URI of $ref, or NULL */
	char *ref_at;		/* where the $ref is, for messages */
	const struct node *target;

	unsigned types;		/* T_* mask of "type" */
	json_t *enum_values, *const_value;
	json_t *multiple_of, *maximum, *exclusive_maximum, *minimum,
	       *exclusive_minimum;
	long long max_length, min_length;
	struct regex *pattern;

	struct node *items;	/* one schema for every item */
	struct node **item_list;	/* or one per position */
	size_t nitem_list;
	int items_is_list;
	struct node *additional_items;
	long long max_items, min_items;
	int unique_items;
	struct node *contains;

	long long max_properties, min_properties;
	json_t *required;
	struct prop *props;	/* sorted by name */
	const char **prop_names;	/* in schema order, for hints */
	size_t nprops;
	struct pattern_prop *pattern_props;
	size_t npattern_props;
	struct node *additional_properties;
	struct dep *deps;
	size_t ndeps;
	struct node *property_names;

	struct node *if_, *then_, *else_;
	struct node **all_of, **any_of, **one_of;
	size_t nall_of, nany_of, none_of;
	struct node *not_;
};

struct resource {
	char *uri;		/* absolute, no empty fragment */
	json_t *json;		/* borrowed from a document */
	const char *base;
};

struct jsonschema {
	json_t **docs;		/* one reference each */
	size_t ndocs, adocs;
	struct resource *res;
	size_t nres, ares;
	char **strs;		/* interned base URIs */
	size_t nstrs, astrs;
	struct node **map;	/* open addressing, keyed by node->json */
	size_t mapsize;
	struct node **all;	/* every node, in creation order */
	size_t nall, aall;
	struct node *root;
	struct regex_env rx;
};

/* --- small helpers ----------------------------------------------------- */

static size_t
utf8_len(const char *s, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			count++;
	return count;
}

/* Append s as one JSON pointer reference token (~ and / escaped). */
static void
pointer_add_token(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '/');
	for (; *s; s++) {
		if (*s == '~')
			strbuf_addstr(sb, "~0");
		else if (*s == '/')
			strbuf_addstr(sb, "~1");
		else
			strbuf_addch(sb, *s);
	}
}

static int
is_integral(double d)
{
	return d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d;
}

/* A count keyword: a non-negative integer (2.0 counts as 2). */
static int
get_count(json_t *v, long long *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    is_integral(json_real_value(v))) {
		*out = (long long)json_real_value(v);
		return 0;
	}
	return -1;
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
	default:
		return 1;
	}
}

static unsigned
instance_types(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return T_STRING;
	case JSON_INTEGER:
		return T_INTEGER | T_NUMBER;
	case JSON_REAL:
		return is_integral(json_real_value(v)) ? T_INTEGER | T_NUMBER :
							 T_NUMBER;
	case JSON_TRUE:
	case JSON_FALSE:
		return T_BOOLEAN;
	case JSON_OBJECT:
		return T_OBJECT;
	case JSON_ARRAY:
		return T_ARRAY;
	default:
		return T_NULL;
	}
}

static const char *
instance_type_name(json_t *v)
{
	if (json_is_real(v))
		return "number";
	for (unsigned i = 0; i < T_NTYPES; i++)
		if (instance_types(v) & (1u << i))
			return type_names[i];
	return "null";
}

/* --- URIs -------------------------------------------------------------- */

static int
has_scheme(const char *s)
{
	const char *p = s;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return 0;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	       (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
		p++;
	return *p == ':';
}

/* Length of "scheme://authority" (or "scheme:") at the start of uri. */
static size_t
authority_len(const char *uri)
{
	const char *colon;

	if (!has_scheme(uri))
		return 0;
	colon = strchr(uri, ':');
	if (colon[1] == '/' && colon[2] == '/')
		return (size_t)(colon + 3 - uri) + strcspn(colon + 3, "/?#");
	return (size_t)(colon + 1 - uri);
}

/* Remove "." and ".." segments from the path of sb->buf after offset. */
static void
remove_dot_segments(struct strbuf *sb, size_t from)
{
	size_t end = from + strcspn(sb->buf + from, "?#");
	struct strbuf out;
	const char *p = sb->buf + from, *stop = sb->buf + end;

	strbuf_init(&out, 0);
	strbuf_add(&out, sb->buf, from);
	while (p < stop) {
		const char *seg = p;
		size_t len;

		if (*p == '/')
			p++;
		len = (size_t)(stop - p) < strcspn(p, "/") ?
			      (size_t)(stop - p) : strcspn(p, "/");
		if (len == 1 && p[0] == '.') {
			if (p + len == stop)
				strbuf_addch(&out, '/');
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			size_t keep = out.len;

			while (keep > from && out.buf[keep - 1] != '/')
				keep--;
			if (keep > from)
				keep--;
			strbuf_setlen(&out, keep);
			if (p + len == stop)
				strbuf_addch(&out, '/');
		} else {
			strbuf_add(&out, seg, (size_t)(p - seg) + len);
		}
		p += len;
	}
	strbuf_addstr(&out, stop);
	strbuf_release(sb);
	*sb = out;
}

/*
 * Resolve the URI reference ref against base (RFC 3986 section 5.2, without
 * case or percent normalization). An empty base leaves ref relative.
 * Returns a malloc'd string.
 */
static char *
uri_resolve(const char *base, const char *ref)
{
	struct strbuf sb;
	size_t auth = authority_len(base);
	size_t pathend = strcspn(base, "?#");

	strbuf_init(&sb, 0);
	if (has_scheme(ref)) {
		strbuf_addstr(&sb, ref);
		remove_dot_segments(&sb, authority_len(ref));
	} else if (ref[0] == '#' || ref[0] == '\0') {
		strbuf_add(&sb, base, strcspn(base, "#"));
		strbuf_addstr(&sb, ref);
	} else if (ref[0] == '/' && ref[1] == '/') {
		if (has_scheme(base))
			strbuf_add(&sb, base,
				   (size_t)(strchr(base, ':') - base) + 1);
		strbuf_addstr(&sb, ref);
	} else if (ref[0] == '?') {
		strbuf_add(&sb, base, pathend);
		strbuf_addstr(&sb, ref);
	} else if (ref[0] == '/') {
		strbuf_add(&sb, base, auth);
		strbuf_addstr(&sb, ref);
		remove_dot_segments(&sb, auth);
	} else {
		size_t dir = pathend;

		while (dir > auth && base[dir - 1] != '/')
			dir--;
		strbuf_add(&sb, base, dir);
		if (dir == auth && auth > 0 && base[auth - 1] != ':')
			strbuf_addch(&sb, '/');
		strbuf_addstr(&sb, ref);
		remove_dot_segments(&sb, auth);
	}
	return strbuf_detach(&sb, NULL);
}

/* Percent-decode a URI fragment; NULL when malformed or it decodes a NUL. */
static char *
pct_decode(const char *s)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	for (; *s; s++) {
		unsigned v = 0;

		if (*s != '%') {
			strbuf_addch(&sb, *s);
			continue;
		}
		for (int i = 1; i <= 2; i++) {
			char ch = s[i];

			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else if (ch >= 'A' && ch <= 'F')
				v |= (unsigned)(ch - 'A' + 10);
			else
				v = 0x100;
		}
		if (v == 0 || v > 0xFF) {
			strbuf_release(&sb);
			return NULL;
		}
		strbuf_addch(&sb, (int)v);
		s += 2;
	}
	return strbuf_detach(&sb, NULL);
}

/* --- the jsonschema: strings, resources, node map ---------------------- */

/* Intern str (taking ownership); returns the copy the jsonschema keeps. */
static const char *
intern(struct jsonschema *s, char *str)
{
	for (size_t i = 0; i < s->nstrs; i++) {
		if (strcmp(s->strs[i], str) == 0) {
			free(str);
			return s->strs[i];
		}
	}
	xgrow(&s->strs, &s->astrs, s->nstrs + 1, sizeof(*s->strs));
	s->strs[s->nstrs++] = str;
	return str;
}

static const struct resource *
resource_getn(const struct jsonschema *s, const char *uri, size_t len)
{
	for (size_t i = 0; i < s->nres; i++)
		if (strlen(s->res[i].uri) == len &&
		    memcmp(s->res[i].uri, uri, len) == 0)
			return &s->res[i];
	return NULL;
}

/* Make json known under uri unless that uri is taken (first one wins). */
static void
resource_put(struct jsonschema *s, const char *uri, json_t *json,
	     const char *base)
{
	struct resource *r;

	if (resource_getn(s, uri, strlen(uri)))
		return;
	xgrow(&s->res, &s->ares, s->nres + 1, sizeof(*s->res));
	r = &s->res[s->nres++];
	r->uri = xstrdup(uri);
	r->json = json;
	r->base = base;
}

static size_t
map_slot(const struct jsonschema *s, const json_t *json)
{
	uint64_t h = (uint64_t)(uintptr_t)json;

	h ^= h >> 29;
	h *= 0x9E3779B97F4A7C15ull;
	h ^= h >> 32;
	return (size_t)h & (s->mapsize - 1);
}

static struct node *
map_get(const struct jsonschema *s, const json_t *json)
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

static void regex_release(struct regex *rx);

static void
node_free(struct node *n)
{
	free(n->ref);
	free(n->ref_at);
	if (n->pattern) {
		regex_release(n->pattern);
		free(n->pattern);
	}
	free(n->item_list);
	free(n->props);
	free(n->prop_names);
	for (size_t i = 0; i < n->npattern_props; i++)
		regex_release(&n->pattern_props[i].rx);
	free(n->pattern_props);
	free(n->deps);
	free(n->all_of);
	free(n->any_of);
	free(n->one_of);
	free(n);
}

/*
 * Walk the JSON pointer ptr from j (no percent-decoding). With s and base
 * set, *base follows the $id of every schema object stepped into.
 */
static json_t *
pointer_get(json_t *j, const char *ptr, struct jsonschema *s,
	    const char **base)
{
	char stackbuf[256], *key = stackbuf;
	size_t keyalloc = sizeof(stackbuf);

	if (*ptr && *ptr != '/')
		return NULL;
	while (j && *ptr == '/') {
		size_t len = strcspn(ptr + 1, "/"), k = 0;
		const char *seg = ptr + 1;
		json_t *id;

		if (len + 1 > keyalloc) {
			if (key != stackbuf)
				free(key);
			key = xmalloc(len + 1);
			keyalloc = len + 1;
		}
		for (size_t i = 0; i < len; i++) {
			if (seg[i] == '~' && i + 1 < len &&
			    (seg[i + 1] == '0' || seg[i + 1] == '1'))
				key[k++] = seg[++i] == '0' ? '~' : '/';
			else
				key[k++] = seg[i];
		}
		key[k] = '\0';
		ptr = seg + len;
		if (json_is_object(j)) {
			j = json_object_get(j, key);
		} else if (json_is_array(j)) {
			char *end;
			unsigned long long i = strtoull(key, &end, 10);

			if (k == 0 || *end || key[0] < '0' || key[0] > '9' ||
			    (key[0] == '0' && k > 1) || i >= json_array_size(j))
				j = NULL;
			else
				j = json_array_get(j, (size_t)i);
		} else {
			j = NULL;
		}
		id = json_is_object(j) ? json_object_get(j, "$id") : NULL;
		if (s && json_is_string(id) && !json_object_get(j, "$ref")) {
			char *abs = uri_resolve(*base, json_string_value(id));

			abs[strcspn(abs, "#")] = '\0';
			*base = intern(s, abs);
		}
	}
	if (key != stackbuf)
		free(key);
	return j;
}

/* --- regular expressions: ECMA-262 patterns run by PCRE2 --------------- */

static void *
rx_malloc(PCRE2_SIZE n, void *data)
{
	(void)data;
	return xmalloc(n);
}

static void
rx_free(void *p, void *data)
{
	(void)data;
	free(p);
}

/* PCRE2 allocates through xmalloc, so it never sees a NULL. */
static void
regex_env_init(struct regex_env *env)
{
	env->gen = pcre2_general_context_create(rx_malloc, rx_free, NULL);
	env->compile = pcre2_compile_context_create(env->gen);
	env->match = pcre2_match_context_create(env->gen);
	/* "." stops at \r as well as \n; \u{...} as in ECMA-262's u mode */
	pcre2_set_newline(env->compile, PCRE2_NEWLINE_ANYCRLF);
	pcre2_set_compile_extra_options(env->compile, PCRE2_EXTRA_ALT_BSUX);
	pcre2_set_match_limit(env->match, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(env->match, REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(env->match, REGEX_HEAP_LIMIT);
}

static void
regex_env_release(struct regex_env *env)
{
	pcre2_match_context_free(env->match);
	pcre2_compile_context_free(env->compile);
	pcre2_general_context_free(env->gen);
}

static int
hex4(const char *p, unsigned long *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		unsigned long v;

		if (ch >= '0' && ch <= '9')
			v = (unsigned long)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = (unsigned long)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v = (unsigned long)(ch - 'A' + 10);
		else
			return -1;
		*out = (*out << 4) | v;
	}
	return 0;
}

/*
 * One piece of an ECMA-262 pattern at p, as PCRE2 is to see it, in out
 * (*outlen bytes); returns how many bytes of p it stands for. Two escapes
 * mean something else to PCRE2 and are rewritten: "\v" (PCRE2: any
 * vertical space) and a "\uD83D\uDE00" surrogate pair (refused in UTF
 * mode), which becomes the character itself. Any other escape is kept
 * whole, so "\\v" stays an escaped backslash and a "v".
 */
static size_t
ecma_piece(const char *p, char out[4], size_t *outlen)
{
	unsigned long hi, lo, cp;

	if (p[0] != '\\' || p[1] == '\0') {
		out[0] = p[0];
		*outlen = 1;
		return 1;
	}
	if (p[1] == 'v') {
		memcpy(out, "\\x0b", 4);
		*outlen = 4;
		return 2;
	}
	if (p[1] == 'u' && hex4(p + 2, &hi) == 0 && hi >= 0xD800 &&
	    hi <= 0xDBFF && p[6] == '\\' && p[7] == 'u' &&
	    hex4(p + 8, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
		cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
		out[0] = (char)(0xF0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (char)(0x80 | (cp & 0x3F));
		*outlen = 4;
		return 12;
	}
	out[0] = p[0];
	out[1] = p[1];
	*outlen = 2;
	return 2;
}

static void
ecma_rewrite(struct strbuf *out, const char *src)
{
	const char *p = src;
	char piece[4];
	size_t len;

	while (*p) {
		p += ecma_piece(p, piece, &len);
		strbuf_add(out, piece, len);
	}
}

/* The offset in src of what PCRE2 reported at offset off of its rewrite. */
static size_t
ecma_offset(const char *src, size_t off)
{
	const char *p = src;
	size_t done = 0, len, n;
	char piece[4];

	while (*p) {
		n = ecma_piece(p, piece, &len);
		if (done + len > off)
			return (size_t)(p - src) + (len == n ? off - done : 0);
		done += len;
		p += n;
	}
	return (size_t)(p - src);
}

/*
 * Compile the ECMA-262 pattern src (borrowed: it must outlive rx). On
 * error, why receives PCRE2's message and the byte offset in src.
 */
static int
regex_compile(struct regex *rx, const struct regex_env *env, const char *src,
	      char *why, size_t whylen)
{
	struct strbuf pat;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;

	strbuf_init(&pat, 0);
	ecma_rewrite(&pat, src);
	rx->src = src;
	rx->code = pcre2_compile((PCRE2_SPTR)pat.buf, pat.len, REGEX_OPTIONS,
				 &code, &off, env->compile);
	if (rx->code == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(why, whylen, "%s at offset %zu", (const char *)msg,
			 ecma_offset(src, off));
	}
	strbuf_release(&pat);
	return rx->code ? 0 : -1;
}

static void
regex_release(struct regex *rx)
{
	pcre2_code_free(rx->code);
	rx->code = NULL;
}

/*
 * Search s (len bytes) for a match of rx. *md is the caller's match block,
 * created on first use (pcre2_match_data_free it). Returns 1 for a match,
 * 0 for none, or PCRE2's (negative) error code, such as a limit reached.
 */
static int
regex_match(const struct regex *rx, const struct regex_env *env,
	    pcre2_match_data **md, const char *s, size_t len)
{
	int rc;

	if (*md == NULL)
		*md = pcre2_match_data_create(1, env->gen);
	rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, 0, 0, *md, env->match);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	return rc >= 0 ? 1 : rc;
}


/* --- compile ----------------------------------------------------------- */

struct compiler {
	struct jsonschema *s;
	struct strbuf ptr;	/* "<doc>#<pointer>" being compiled */
	unsigned depth;
	struct err *e;
};

static int compile_node(struct compiler *c, json_t *json, const char *base,
			struct node **out);

static size_t
ptr_push(struct compiler *c, const char *key)
{
	size_t len = c->ptr.len;

	pointer_add_token(&c->ptr, key);
	return len;
}

static int
bad_keyword(struct compiler *c, const char *key, const char *what)
{
	return err_set(c->e, "invalid schema at '%s': '%s' %s", c->ptr.buf,
		       key, what);
}

/* Compile the subschema val found at /key (and /sub, when not NULL). */
static int
compile_sub(struct compiler *c, json_t *val, const char *base, const char *key,
	    const char *sub, struct node **out)
{
	size_t len = ptr_push(c, key);
	int rc;

	if (sub)
		pointer_add_token(&c->ptr, sub);
	rc = compile_node(c, val, base, out);
	strbuf_setlen(&c->ptr, len);
	return rc;
}

static int
compile_list(struct compiler *c, json_t *val, const char *base,
	     const char *key, size_t min, struct node ***out, size_t *nout)
{
	size_t n = json_array_size(val);

	if (!json_is_array(val) || n < min)
		return bad_keyword(c, key, "must be a non-empty array of schemas");
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
		pointer_add_token(&c->ptr, sub);
	rc = regex_compile(rx, &c->s->rx, src, why, sizeof(why));
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
			return bad_keyword(c, "type",
					   "must be a type name or an array of them");
		for (t = 0; t < T_NTYPES; t++)
			if (strcmp(json_string_value(one), type_names[t]) == 0)
				break;
		if (t == T_NTYPES)
			return err_set(c->e,
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
		if (compile_regex(c, &pp->rx, key, "patternProperties",
				  key) < 0 ||
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
				return bad_keyword(c, "dependencies",
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
compile_count(struct compiler *c, const char *key, json_t *val,
	      long long *out)
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
	case K_TYPE:
		return compile_type(c, n, val);
	case K_ENUM:
		if (!json_is_array(val))
			return bad_keyword(c, key, "must be an array");
		n->enum_values = val;
		return 0;
	case K_CONST:
		n->const_value = val;
		return 0;
	case K_MULTIPLE_OF:
		if (!json_is_number(val) || json_number_value(val) <= 0)
			return bad_keyword(c, key,
					   "must be a number greater than 0");
		n->multiple_of = val;
		return 0;
	case K_MAXIMUM:
		return compile_number(c, key, val, &n->maximum);
	case K_EXCLUSIVE_MAXIMUM:
		return compile_number(c, key, val, &n->exclusive_maximum);
	case K_MINIMUM:
		return compile_number(c, key, val, &n->minimum);
	case K_EXCLUSIVE_MINIMUM:
		return compile_number(c, key, val, &n->exclusive_minimum);
	case K_MAX_LENGTH:
		return compile_count(c, key, val, &n->max_length);
	case K_MIN_LENGTH:
		return compile_count(c, key, val, &n->min_length);
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
	case K_MAX_ITEMS:
		return compile_count(c, key, val, &n->max_items);
	case K_MIN_ITEMS:
		return compile_count(c, key, val, &n->min_items);
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
	case K_PROPERTIES:
		return compile_properties(c, n, val, base);
	case K_PATTERN_PROPERTIES:
		return compile_pattern_properties(c, n, val, base);
	case K_ADDITIONAL_PROPERTIES:
		return compile_sub(c, val, base, key, NULL,
				   &n->additional_properties);
	case K_DEPENDENCIES:
		return compile_dependencies(c, n, val, base);
	case K_PROPERTY_NAMES:
		return compile_sub(c, val, base, key, NULL, &n->property_names);
	case K_IF:
		return compile_sub(c, val, base, key, NULL, &n->if_);
	case K_THEN:
		return compile_sub(c, val, base, key, NULL, &n->then_);
	case K_ELSE:
		return compile_sub(c, val, base, key, NULL, &n->else_);
	case K_ALL_OF:
		return compile_list(c, val, base, key, 1, &n->all_of,
				    &n->nall_of);
	case K_ANY_OF:
		return compile_list(c, val, base, key, 1, &n->any_of,
				    &n->nany_of);
	case K_ONE_OF:
		return compile_list(c, val, base, key, 1, &n->one_of,
				    &n->none_of);
	case K_NOT:
		return compile_sub(c, val, base, key, NULL, &n->not_);
	case K_DEFINITIONS:
		return compile_definitions(c, val, base);
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
	char *abs = uri_resolve(base, id);
	size_t hash = strcspn(abs, "#");
	const char *nbase;

	if (abs[hash] && abs[hash + 1])
		resource_put(c->s, abs, json, NULL);
	abs[hash] = '\0';
	nbase = intern(c->s, abs);
	resource_put(c->s, nbase, json, nbase);
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

	*out = map_get(c->s, json);
	if (*out)
		return 0;
	if (!json_is_object(json) && !json_is_boolean(json))
		return err_set(c->e,
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
		n->ref = uri_resolve(base, json_string_value(ref));
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
	const char *hash = strchr(n->ref, '#'), *base;
	size_t doclen = hash ? (size_t)(hash - n->ref) : strlen(n->ref);
	const struct resource *r = resource_getn(c->s, n->ref, doclen);
	char *frag = NULL;
	json_t *target;
	struct node *t;
	int rc = -1;

	if (r == NULL)
		return 0;
	target = r->json;
	base = r->base;
	if (hash && hash[1]) {
		frag = pct_decode(hash + 1);
		if (frag == NULL)
			target = NULL;
		else if (frag[0] == '/')
			target = pointer_get(target, frag, c->s, &base);
		else	/* "#name": a subschema's $id, already compiled */
			r = resource_getn(c->s, n->ref, strlen(n->ref));
		if (frag && frag[0] != '/')
			target = r ? r->json : NULL;
	}
	if (target == NULL) {
		err_set(c->e,
			"invalid schema at '%s': cannot resolve reference '%s'",
			n->ref_at, n->ref);
		goto out;
	}
	strbuf_reset(&c->ptr);
	strbuf_addstr(&c->ptr, n->ref);
	rc = compile_node(c, target, base, &t);
	n->target = t;
out:
	free(frag);
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
	const char *base = intern(s, xstrdup(uri));
	struct node *ignored;
	int rc;

	strbuf_init(&c.ptr, 0);
	strbuf_addstr(&c.ptr, uri);
	strbuf_addch(&c.ptr, '#');
	resource_put(s, base, doc, base);
	/* a resource need not be a schema at its root ({"defs": {...}}
	 * reached by "$ref": "doc.json#/defs/x") */
	rc = out || json_is_object(doc) || json_is_boolean(doc) ?
		     compile_node(&c, doc, base, out ? out : &ignored) : 0;
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
	regex_env_init(&s->rx);
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
	char *norm = uri_resolve("", uri);
	int rc = -1;

	if (norm[0] && norm[strlen(norm) - 1] == '#')
		norm[strlen(norm) - 1] = '\0';
	if (!has_scheme(norm) || strchr(norm, '#')) {
		err_set(e,
			"cannot add schema '%s': expected an absolute URI without fragment",
			uri);
		goto out;
	}
	if (resource_getn(s, norm, strlen(norm))) {
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
	regex_env_release(&s->rx);
	free(s);
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
	const char *key;	/* NULL: an array index */
	size_t idx;
};

/* An active $ref, to catch a cycle that does not consume the instance. */
struct frame {
	const struct frame *up;
	const struct node *n;
	const json_t *inst;
};

struct vctx {
	struct js_errors *errs;	/* NULL: only validity matters */
	const struct frame *refs;
	unsigned depth;
	const struct regex_env *rx;
	pcre2_match_data *md;	/* this validation's, made on first use */
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
			pointer_add_token(&sb, v[i]->key);
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
		strbuf_addstr(sb, type_names[t]);
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

/* The text of a failed match's PCRE2 error ("match limit exceeded"). */
static void
match_error(char *buf, size_t len, int rc)
{
	if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)buf, len) < 0)
		snprintf(buf, len, "error %d", rc);
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
		match_error(why, sizeof(why), rc);
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
			int rc = regex_match(&pp->rx, c->rx, &c->md, key,
					     strlen(key));

			if (rc < 0) {
				char why[128];

				match_error(why, sizeof(why), rc);
				bad += report(c, &s, 1, "patternProperties",
					      NULL, "field name '%s' could not "
					      "be matched against %s: %s", key,
					      pp->rx.src, why);
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
				      pick ? hint : NULL,
				      "unknown field '%s'", key);
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
			bad += report(c, &s, 1, "propertyNames",
				      NULL, "field '%s' is not allowed", key);
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
				return report(c, at, 0, "uniqueItems", NULL,
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
		return 1;	/* every double this large is an integer */
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
		return json_same(inst, n->const_value) ? 0 :
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
		rc = regex_match(n->pattern, c->rx, &c->md,
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
	case OP_COUNT:
		break;
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
		json_t *j = pointer_get(s->root->json, at, NULL, NULL);

		n = j ? map_get(s, j) : NULL;
		if (n == NULL)
			return report(&c, NULL, 0, "$ref", NULL,
				      "no schema at '%s'", at);
	}
	bad = check(&c, n, instance, NULL);
	pcre2_match_data_free(c.md);
	return errs ? errs->n - start : bad;
}
