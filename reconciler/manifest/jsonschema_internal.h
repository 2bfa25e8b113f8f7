/*
 * jsonschema_internal.h - shared by the files of the JSON Schema validator
 * only; jsonschema.h is its public surface.
 *
 *   jsonschema.c           the keyword table; compiling a schema into
 *                          nodes; jsonschema_compile, _add_resource, _free
 *   jsonschema_uri.c       what a $ref points at: URI references, base
 *                          URIs, the known documents, JSON pointers
 *   jsonschema_regex.c     ECMA-262 patterns, compiled and run by PCRE2
 *   jsonschema_validate.c  jsonschema_validate and its error messages
 *
 * A compiled schema is a graph of struct node, one per subschema, which
 * validation only reads.
 */
#ifndef PRESS_JSONSCHEMA_INTERNAL_H
#define PRESS_JSONSCHEMA_INTERNAL_H

#include <stddef.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "jsonschema.h"
#include "../util/strbuf.h"

#define HINT_DESCRIPTION 160 /* longest description used as a hint */

/* JSON types as a mask, in the order of js_type_names. */
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

extern const char *const js_type_names[T_NTYPES];

/*
 * Validation steps. A node lists its steps in the order the schema stores
 * the keywords; keywords that work together share one step (properties,
 * patternProperties and additionalProperties are one pass over the
 * instance's fields; items and additionalItems; if, then and else).
 */
enum op {
	OP_TYPE,
	OP_ENUM,
	OP_CONST,
	OP_MULTIPLE_OF,
	OP_MAXIMUM,
	OP_EXCLUSIVE_MAXIMUM,
	OP_MINIMUM,
	OP_EXCLUSIVE_MINIMUM,
	OP_MAX_LENGTH,
	OP_MIN_LENGTH,
	OP_PATTERN,
	OP_ITEMS,
	OP_MAX_ITEMS,
	OP_MIN_ITEMS,
	OP_UNIQUE_ITEMS,
	OP_CONTAINS,
	OP_MAX_PROPERTIES,
	OP_MIN_PROPERTIES,
	OP_REQUIRED,
	OP_PROPERTIES,
	OP_DEPENDENCIES,
	OP_PROPERTY_NAMES,
	OP_IF,
	OP_ALL_OF,
	OP_ANY_OF,
	OP_ONE_OF,
	OP_NOT,
	OP_COUNT,
	OP_NONE = OP_COUNT, /* annotations and definitions */
};

struct regex {
	pcre2_code *code; /* NULL until compiled */
	const char *src;  /* borrowed from the schema */
};

/* What every regex of a compiled schema shares (read-only once made). */
struct regex_env {
	pcre2_general_context *gen; /* allocations through xmalloc */
	pcre2_compile_context *compile;
	pcre2_match_context *match; /* with jsonschema_regex.c's limits */
};

struct prop {
	const char *name; /* borrowed from the schema */
	struct node *schema;
};

struct pattern_prop {
	struct regex rx;
	struct node *schema;
};

struct dep {
	const char *name;    /* borrowed from the schema */
	json_t *fields;	     /* array of names, or NULL */
	struct node *schema; /* when fields is NULL */
};

struct node {
	json_t *json;	  /* borrowed from a document */
	const char *base; /* base URI, interned in the jsonschema */
	int boolean;	  /* 1/0: schema true/false; -1: an object */
	unsigned char ops[OP_COUNT];
	unsigned nops;
	const char *error_message, *description;

	char *ref;    /* absolute URI of $ref, or NULL */
	char *ref_at; /* where the $ref is, for messages */
	const struct node *target;

	unsigned types; /* T_* mask of "type" */
	json_t *enum_values, *const_value;
	json_t *multiple_of, *maximum, *exclusive_maximum, *minimum,
		*exclusive_minimum;
	long long max_length, min_length;
	struct regex *pattern;

	struct node *items;	 /* one schema for every item */
	struct node **item_list; /* or one per position */
	size_t nitem_list;
	int items_is_list;
	struct node *additional_items;
	long long max_items, min_items;
	int unique_items;
	struct node *contains;

	long long max_properties, min_properties;
	json_t *required;
	struct prop *props;	 /* sorted by name */
	const char **prop_names; /* in schema order, for hints */
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
	char *uri;    /* absolute, no empty fragment */
	json_t *json; /* borrowed from a document */
	const char *base;
};

struct jsonschema {
	json_t **docs; /* one reference each */
	size_t ndocs, adocs;
	struct resource *res;
	size_t nres, ares;
	char **strs; /* interned base URIs */
	size_t nstrs, astrs;
	struct node **map; /* open addressing, keyed by node->json */
	size_t mapsize;
	struct node **all; /* every node, in creation order */
	size_t nall, aall;
	struct node *root;
	struct regex_env rx;
};

static inline int
js_is_integral(double d)
{
	return d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d;
}

/* --- jsonschema.c ------------------------------------------------------ */

/* The node compiled from the schema value json, or NULL. */
struct node *js_node_of(const struct jsonschema *s, const json_t *json);

/* --- jsonschema_uri.c -------------------------------------------------- */

/* Does s start with a URI scheme ("http:")? */
int js_uri_has_scheme(const char *s);

/*
 * Resolve the URI reference ref against base (RFC 3986 section 5.2,
 * without case or percent normalization). An empty base leaves ref
 * relative. Returns a malloc'd string.
 */
char *js_uri_resolve(const char *base, const char *ref);

/* Intern str (taking ownership); returns the copy the jsonschema keeps. */
const char *js_intern(struct jsonschema *s, char *str);

/* The document or subschema known under the first len bytes of uri. */
const struct resource *js_resource_find(const struct jsonschema *s,
					const char *uri, size_t len);

/* Make json (borrowed) known under uri unless that uri is taken (the
 * first one wins); base is its base URI, interned, or NULL. */
void js_resource_put(struct jsonschema *s, const char *uri, json_t *json,
		     const char *base);

/* Append s as one JSON pointer reference token (~ and / escaped). */
void js_pointer_add_token(struct strbuf *sb, const char *s);

/*
 * Walk the JSON pointer ptr from j (no percent-decoding). With s and base
 * set, *base follows the $id of every schema object stepped into.
 */
json_t *js_pointer_get(json_t *j, const char *ptr, struct jsonschema *s,
		       const char **base);

/*
 * Find what the absolute reference ref points at: *out (borrowed from a
 * document) and the base URI in effect there, *base. Returns 1 when found,
 * 0 when ref is in a document that is not known (yet), -1 when the
 * document is known but the fragment does not resolve.
 */
int js_ref_lookup(struct jsonschema *s, const char *ref, json_t **out,
		  const char **base);

/* --- jsonschema_regex.c ------------------------------------------------ */

/* Make the PCRE2 contexts of a compiled schema; release frees them. */
void js_regex_env_init(struct regex_env *env);
void js_regex_env_release(struct regex_env *env);

/*
 * Compile the ECMA-262 pattern src (borrowed: it must outlive rx). On
 * error, returns -1 and why receives PCRE2's message and the byte offset
 * in src.
 */
int js_regex_compile(struct regex *rx, const struct regex_env *env,
		     const char *src, char *why, size_t whylen);
void js_regex_release(struct regex *rx);

/*
 * Search s (len bytes) for a match of rx. *md is the caller's match block,
 * created on first use (pcre2_match_data_free it); one per thread.
 * Returns 1 for a match, 0 for none, or PCRE2's (negative) error code,
 * such as a limit reached.
 */
int js_regex_match(const struct regex *rx, const struct regex_env *env,
		   pcre2_match_data **md, const char *s, size_t len);

/* The text of js_regex_match's error rc ("match limit exceeded"). */
void js_regex_error(char *buf, size_t len, int rc);

#endif
