/*
 * jsonschema.c - JSON Schema draft-07 validation over jansson values.
 *
 * jsonschema_compile() turns every subschema into a struct node once:
 * keyword values decoded, regexes compiled (ECMA-262 syntax translated to
 * POSIX ERE), properties sorted for lookup, $ref resolved to its target
 * node, and the keywords listed in the order the schema stores them so
 * that errors come out in a stable order. Validation only reads nodes;
 * its own state (instance path, active $refs, depth) lives on the stack,
 * so one compiled schema serves any number of threads.
 */
#include "jsonschema.h"

#include <float.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/strbuf.h"
#include "../util/suggest.h"

#define MAX_DEPTH 256		/* nested subschema evaluations */
#define MAX_SCHEMA_DEPTH 512	/* nesting of a schema document */
#define VALUE_SHOWN 60		/* bytes of a value shown in a message */
#define LIST_SHOWN 200		/* bytes of an enum list shown */
#define HINT_DESCRIPTION 160	/* longest description used as a hint */

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
	regex_t re;
	const char *src;	/* borrowed from the schema */
	int compiled;
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

/* Decode one UTF-8 sequence at s; returns its length (1 for a stray byte). */
static size_t
utf8_get(const char *s, unsigned long *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len, i;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if ((u[0] & 0xE0) == 0xC0) {
		len = 2;
		*cp = u[0] & 0x1F;
	} else if ((u[0] & 0xF0) == 0xE0) {
		len = 3;
		*cp = u[0] & 0x0F;
	} else if ((u[0] & 0xF8) == 0xF0) {
		len = 4;
		*cp = u[0] & 0x07;
	} else {
		*cp = u[0];
		return 1;
	}
	for (i = 1; i < len; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			*cp = u[0];
			return 1;
		}
		*cp = (*cp << 6) | (u[i] & 0x3F);
	}
	return len;
}

static void
utf8_put(struct strbuf *sb, unsigned long cp)
{
	if (cp < 0x80) {
		strbuf_addch(sb, (int)cp);
	} else if (cp < 0x800) {
		strbuf_addch(sb, (int)(0xC0 | (cp >> 6)));
		strbuf_addch(sb, (int)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		strbuf_addch(sb, (int)(0xE0 | (cp >> 12)));
		strbuf_addch(sb, (int)(0x80 | ((cp >> 6) & 0x3F)));
		strbuf_addch(sb, (int)(0x80 | (cp & 0x3F)));
	} else {
		strbuf_addch(sb, (int)(0xF0 | (cp >> 18)));
		strbuf_addch(sb, (int)(0x80 | ((cp >> 12) & 0x3F)));
		strbuf_addch(sb, (int)(0x80 | ((cp >> 6) & 0x3F)));
		strbuf_addch(sb, (int)(0x80 | (cp & 0x3F)));
	}
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

static void
regex_release(struct regex *rx)
{
	if (rx->compiled)
		regfree(&rx->re);
	rx->compiled = 0;
}

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

/* --- ECMA-262 regular expressions as POSIX ERE ------------------------- */

/* A bracket expression: ASCII members, all of non-ASCII, literal extras. */
struct cset {
	unsigned char bits[16];
	int nonascii;
	struct strbuf extra;	/* non-ASCII members, UTF-8 */
};

static int
cset_has(const struct cset *cs, unsigned long ch)
{
	return ch < 128 && ((cs->bits[ch >> 3] >> (ch & 7)) & 1);
}

static void
cset_add(struct cset *cs, unsigned long ch)
{
	if (ch < 128)
		cs->bits[ch >> 3] |= (unsigned char)(1u << (ch & 7));
	else
		utf8_put(&cs->extra, ch);
}

static int
class_member(int cls, unsigned ch)
{
	switch (cls) {
	case 'd':
		return ch >= '0' && ch <= '9';
	case 'w':
		return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
		       (ch >= 'a' && ch <= 'z') || ch == '_';
	default:
		return ch == ' ' || (ch >= '\t' && ch <= '\r');
	}
}

/* \d \w \s (ASCII) and their negations \D \W \S (which add non-ASCII). */
static void
cset_add_class(struct cset *cs, int cls)
{
	int neg = cls >= 'A' && cls <= 'Z';
	int lower = neg ? cls - 'A' + 'a' : cls;

	for (unsigned ch = 1; ch < 128; ch++)
		if (class_member(lower, ch) != neg)
			cset_add(cs, ch);
	if (neg)
		cs->nonascii = 1;
}

static int
bracket_special(unsigned ch)
{
	return ch == ']' || ch == '^' || ch == '-';
}

/*
 * The inside of a POSIX bracket for the ASCII members of cs (or for their
 * complement): ']' first, '^' never first, '-' last, runs as ranges.
 */
static void
emit_members(struct strbuf *out, const struct cset *cs, int complement,
	     int with_extra)
{
	size_t start = out->len;
	int caret = cset_has(cs, '^') != complement;
	int dash = cset_has(cs, '-') != complement;
	unsigned ch, end;

	if (cset_has(cs, ']') != complement)
		strbuf_addch(out, ']');
	for (ch = 1; ch < 128; ch = end + 1) {
		end = ch;
		if (cset_has(cs, ch) == complement || bracket_special(ch))
			continue;
		while (end + 1 < 128 && cset_has(cs, end + 1) != complement &&
		       !bracket_special(end + 1))
			end++;
		if (end - ch >= 2) {
			strbuf_addch(out, (int)ch);
			strbuf_addch(out, '-');
			strbuf_addch(out, (int)end);
		} else {
			for (unsigned k = ch; k <= end; k++)
				strbuf_addch(out, (int)k);
		}
	}
	if (with_extra)
		strbuf_add(out, cs->extra.buf, cs->extra.len);
	if (caret && dash && out->len == start) {
		strbuf_addstr(out, "-^");
		return;
	}
	if (caret)
		strbuf_addch(out, '^');
	if (dash)
		strbuf_addch(out, '-');
}

/* Emit cs (negated: its complement) as ERE; -1 if it matches nothing. */
static int
emit_cset(struct strbuf *out, const struct cset *cs, int negated)
{
	unsigned members = 0;

	for (unsigned ch = 1; ch < 128; ch++)
		members += (unsigned)cset_has(cs, ch);
	if (!negated && !cs->nonascii) {
		if (members == 0 && cs->extra.len == 0)
			return -1;
		if (members == 1 && cset_has(cs, '^') && cs->extra.len == 0) {
			strbuf_addstr(out, "\\^");
			return 0;
		}
		strbuf_addch(out, '[');
		emit_members(out, cs, 0, 1);
	} else if (!negated) {
		if (members == 127) {
			strbuf_addch(out, '.');
			return 0;
		}
		strbuf_addstr(out, "[^");
		emit_members(out, cs, 1, 0);
	} else if (!cs->nonascii) {
		if (members == 0 && cs->extra.len == 0) {
			strbuf_addch(out, '.');
			return 0;
		}
		strbuf_addstr(out, "[^");
		emit_members(out, cs, 0, 1);
	} else {
		if (members == 127)
			return -1;
		if (members == 126 && !cset_has(cs, '^')) {
			strbuf_addstr(out, "\\^");
			return 0;
		}
		strbuf_addch(out, '[');
		emit_members(out, cs, 1, 0);
	}
	strbuf_addch(out, ']');
	return 0;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
hexn(const char *p, int n, unsigned long *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		int v = hexval(p[i]);

		if (v < 0)
			return -1;
		*out = (*out << 4) | (unsigned long)v;
	}
	return 0;
}

/*
 * Decode the character escape after a backslash at *pp (which points past
 * the backslash) and advance past it. Class escapes are the caller's.
 */
static int
escape_char(const char **pp, unsigned long *cp, const char **why)
{
	const char *p = *pp;

	switch (*p) {
	case 'n':
		*cp = '\n';
		p++;
		break;
	case 'r':
		*cp = '\r';
		p++;
		break;
	case 't':
		*cp = '\t';
		p++;
		break;
	case 'f':
		*cp = '\f';
		p++;
		break;
	case 'v':
		*cp = '\v';
		p++;
		break;
	case '0':
		if (p[1] >= '0' && p[1] <= '9') {
			*why = "octal escapes are not supported";
			return -1;
		}
		*cp = 0;
		p++;
		break;
	case 'x':
		if (hexn(p + 1, 2, cp) == 0)
			p += 3;
		else
			*cp = *p++;
		break;
	case 'u':
		if (hexn(p + 1, 4, cp) < 0) {
			*cp = *p++;
			break;
		}
		p += 5;
		if (*cp >= 0xD800 && *cp <= 0xDBFF) {
			unsigned long lo;

			if (p[0] != '\\' || p[1] != 'u' ||
			    hexn(p + 2, 4, &lo) < 0 || lo < 0xDC00 ||
			    lo > 0xDFFF) {
				*why = "lone surrogate in \\u escape";
				return -1;
			}
			*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
			p += 6;
		} else if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
			*why = "lone surrogate in \\u escape";
			return -1;
		}
		break;
	case 'c':
		if ((p[1] >= 'a' && p[1] <= 'z') ||
		    (p[1] >= 'A' && p[1] <= 'Z')) {
			*cp = (unsigned long)(p[1] & 31);
			p += 2;
		} else {
			*cp = *p++;
		}
		break;
	case 'k':
	case 'p':
	case 'P':
		*why = "named backreferences and property escapes are not supported";
		return -1;
	default:
		if (*p >= '1' && *p <= '9') {
			*why = "backreferences are not supported";
			return -1;
		}
		p += utf8_get(p, cp);
		break;
	}
	*pp = p;
	return 0;
}

static int
is_quantifier(char ch)
{
	return ch == '*' || ch == '+' || ch == '?' || ch == '{';
}

/* One character outside brackets; a multibyte one is grouped so that a
 * following quantifier applies to all of it in a single-byte locale. */
static int
emit_literal(struct strbuf *out, unsigned long cp, char next, const char **why)
{
	if (cp == 0) {
		*why = "NUL characters are not supported";
		return -1;
	}
	if (cp < 0x80) {
		if (strchr(".[\\()*+?{}|^$", (int)cp))
			strbuf_addch(out, '\\');
		strbuf_addch(out, (int)cp);
		return 0;
	}
	if (is_quantifier(next))
		strbuf_addch(out, '(');
	utf8_put(out, cp);
	if (is_quantifier(next))
		strbuf_addch(out, ')');
	return 0;
}

/* One member of a bracket: a character (*cp) or a class escape (*cls). */
static int
class_atom(const char **pp, unsigned long *cp, int *cls, const char **why)
{
	const char *p = *pp;

	*cls = 0;
	if (*p != '\\') {
		*pp = p + utf8_get(p, cp);
		return 0;
	}
	p++;
	if (*p && strchr("dDwWsS", *p)) {
		*cls = *p;
		*pp = p + 1;
		return 0;
	}
	if (*p == 'b') {
		*cp = '\b';
		*pp = p + 1;
		return 0;
	}
	if (*p == '\0') {
		*why = "trailing backslash";
		return -1;
	}
	if (escape_char(&p, cp, why) < 0)
		return -1;
	*pp = p;
	return 0;
}

static int
ere_class(struct strbuf *out, const char **pp, const char **why)
{
	const char *p = *pp + 1;
	struct cset cs;
	int negated = 0, rc = -1;

	memset(&cs, 0, sizeof(cs));
	strbuf_init(&cs.extra, 0);
	if (*p == '^') {
		negated = 1;
		p++;
	}
	while (*p && *p != ']') {
		unsigned long lo, hi;
		int cls, cls2;
		const char *r;

		if (class_atom(&p, &lo, &cls, why) < 0)
			goto out;
		if (cls) {
			cset_add_class(&cs, cls);
			continue;
		}
		if (p[0] != '-' || p[1] == '\0' || p[1] == ']') {
			cset_add(&cs, lo);
			continue;
		}
		r = p + 1;
		if (class_atom(&r, &hi, &cls2, why) < 0)
			goto out;
		p = r;
		if (cls2) {	/* [a-\d]: the '-' is a literal */
			cset_add(&cs, lo);
			cset_add(&cs, '-');
			cset_add_class(&cs, cls2);
			continue;
		}
		if (hi < lo) {
			*why = "character class range out of order";
			goto out;
		}
		if (hi >= 0x80 && hi != lo) {
			*why = "non-ASCII ranges are not supported";
			goto out;
		}
		for (unsigned long ch = lo; ch <= hi; ch++)
			cset_add(&cs, ch);
	}
	if (*p != ']') {
		*why = "unterminated character class";
		goto out;
	}
	if (emit_cset(out, &cs, negated) < 0) {
		*why = "an empty character class is not supported";
		goto out;
	}
	*pp = p + 1;
	rc = 0;
out:
	strbuf_release(&cs.extra);
	return rc;
}

static int
ere_escape(struct strbuf *out, const char **pp, const char **why)
{
	const char *p = *pp + 1;
	unsigned long cp;

	if (*p && strchr("dDwWsS", *p)) {
		struct cset cs;

		memset(&cs, 0, sizeof(cs));
		strbuf_init(&cs.extra, 0);
		cset_add_class(&cs, *p);
		emit_cset(out, &cs, 0);
		strbuf_release(&cs.extra);
		*pp = p + 1;
		return 0;
	}
	if (*p == 'b' || *p == 'B') {	/* word boundary: GNU extension */
		strbuf_addch(out, '\\');
		strbuf_addch(out, *p);
		*pp = p + 1;
		return 0;
	}
	if (*p == '\0') {
		*why = "trailing backslash";
		return -1;
	}
	if (escape_char(&p, &cp, why) < 0)
		return -1;
	*pp = p;
	return emit_literal(out, cp, *p, why);
}

/* "{n}", "{n,}" or "{n,m}" at p: its length, else 0 (a literal '{'). */
static size_t
quantifier_len(const char *p)
{
	size_t i = 1;

	if (p[i] < '0' || p[i] > '9')
		return 0;
	while (p[i] >= '0' && p[i] <= '9')
		i++;
	if (p[i] == ',')
		for (i++; p[i] >= '0' && p[i] <= '9'; i++)
			;
	return p[i] == '}' ? i + 1 : 0;
}

/*
 * Translate the ECMA-262 pattern src to POSIX ERE. What ERE cannot say
 * (lookaround, backreferences, ...) fails with the reason in *why.
 * Laziness is dropped: it does not change whether a search matches.
 */
static int
ecma_to_ere(struct strbuf *out, const char *src, const char **why)
{
	const char *p = src;
	unsigned long cp;
	size_t n;

	while (*p) {
		switch (*p) {
		case '\\':
			if (ere_escape(out, &p, why) < 0)
				return -1;
			break;
		case '[':
			if (ere_class(out, &p, why) < 0)
				return -1;
			break;
		case '(':
			if (p[1] != '?') {
				p++;
			} else if (p[2] == ':') {
				p += 3;
			} else if (p[2] == '<' && p[3] != '=' && p[3] != '!' &&
				   strchr(p, '>')) {
				p = strchr(p, '>') + 1;
			} else {
				*why = "lookaround is not supported";
				return -1;
			}
			strbuf_addch(out, '(');
			break;
		case '.':
			strbuf_addstr(out, "[^\n\r]");
			p++;
			break;
		case '*':
		case '+':
		case '?':
			strbuf_addch(out, *p++);
			if (*p == '?')
				p++;
			break;
		case '{':
			n = quantifier_len(p);
			if (n == 0) {
				strbuf_addstr(out, "\\{");
				p++;
				break;
			}
			strbuf_add(out, p, n);
			p += n;
			if (*p == '?')
				p++;
			break;
		case '}':
			strbuf_addstr(out, "\\}");
			p++;
			break;
		default:
			if ((unsigned char)*p < 0x80) {
				strbuf_addch(out, *p++);
				break;
			}
			p += utf8_get(p, &cp);
			if (emit_literal(out, cp, *p, why) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

static int
regex_matches(const struct regex *rx, const char *s)
{
	return regexec(&rx->re, s, 0, NULL, 0) == 0;
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
	struct strbuf ere;
	const char *why = NULL;
	char msg[256];
	size_t len = ptr_push(c, key);
	int rc = -1, ret;

	if (sub)
		pointer_add_token(&c->ptr, sub);
	strbuf_init(&ere, 0);
	if (ecma_to_ere(&ere, src, &why) < 0) {
		err_set(c->e, "invalid pattern '%s' at '%s': %s", src,
			c->ptr.buf, why);
		goto out;
	}
	ret = regcomp(&rx->re, ere.buf, REG_EXTENDED | REG_NOSUB);
	if (ret != 0) {
		regerror(ret, &rx->re, msg, sizeof(msg));
		if (msg[0] >= 'A' && msg[0] <= 'Z' && msg[1] >= 'a' &&
		    msg[1] <= 'z')
			msg[0] = (char)(msg[0] - 'A' + 'a');
		err_set(c->e, "invalid pattern '%s' at '%s': %s", src,
			c->ptr.buf, msg);
		goto out;
	}
	rx->src = src;
	rx->compiled = 1;
	rc = 0;
out:
	strbuf_release(&ere);
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

static size_t
report_pattern(struct vctx *c, const struct seg *at, const struct node *n,
	       json_t *inst)
{
	struct strbuf sb;
	char hint[HINT_DESCRIPTION + 8];
	const char *h = NULL;

	if (c->errs == NULL)
		return 1;
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
			if (!regex_matches(&n->pattern_props[i].rx, key))
				continue;
			matched = 1;
			bad += check(c, n->pattern_props[i].schema, val, &s);
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
		if (!json_is_string(inst) ||
		    regex_matches(n->pattern, json_string_value(inst)))
			return 0;
		return report_pattern(c, at, n, inst);
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
	struct vctx c = { errs, NULL, 0 };
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
	return errs ? errs->n - start : bad;
}
