/*
 * load.c - YAML (libyaml events) to jansson trees, keeping the position of
 * every node and key for error messages.
 *
 * Untrusted input is bounded: anchors and aliases are refused outright (no
 * billion laughs), nesting depth and document counts are capped, and a
 * file is abandoned at its first structural error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "manifest.h"
#include "../util/strbuf.h"

/* --- position map: JSON pointer -> positions ------------------------- */

struct pm_entry {
	uint32_t off, len; /* the pointer, in pm->names */
	struct pos val, key;
};

struct posmap {
	struct strbuf names;
	struct pm_entry *v;
	size_t n, alloc;
	uint32_t *slots; /* open addressing: index+1 into v, 0 = empty */
	size_t nslots;
};

static uint32_t
pm_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static void
pm_rehash(struct posmap *pm)
{
	size_t ns = pm->nslots ? pm->nslots * 2 : 64;

	free(pm->slots);
	pm->slots = xcalloc(ns, sizeof(*pm->slots));
	pm->nslots = ns;
	for (size_t i = 0; i < pm->n; i++) {
		struct pm_entry *e = &pm->v[i];
		size_t j = pm_hash(pm->names.buf + e->off, e->len) & (ns - 1);

		while (pm->slots[j])
			j = (j + 1) & (ns - 1);
		pm->slots[j] = (uint32_t)i + 1;
	}
}

static struct pm_entry *
pm_find(const struct posmap *pm, const char *p, size_t n)
{
	size_t j;

	if (!pm || !pm->nslots)
		return NULL;
	j = pm_hash(p, n) & (pm->nslots - 1);
	while (pm->slots[j]) {
		struct pm_entry *e = &pm->v[pm->slots[j] - 1];

		if (e->len == n && memcmp(pm->names.buf + e->off, p, n) == 0)
			return e;
		j = (j + 1) & (pm->nslots - 1);
	}
	return NULL;
}

static void
pm_put(struct posmap *pm, const char *p, size_t n, struct pos val,
       struct pos key)
{
	struct pm_entry *e = pm_find(pm, p, n);

	if (e) {
		e->val = val;
		e->key = key;
		return;
	}
	xgrow(&pm->v, &pm->alloc, pm->n + 1, sizeof(*pm->v));
	e = &pm->v[pm->n++];
	e->off = (uint32_t)pm->names.len;
	e->len = (uint32_t)n;
	e->val = val;
	e->key = key;
	strbuf_add(&pm->names, p, n);
	if (pm->n * 2 > pm->nslots)
		pm_rehash(pm);
	else {
		size_t j = pm_hash(p, n) & (pm->nslots - 1);

		while (pm->slots[j])
			j = (j + 1) & (pm->nslots - 1);
		pm->slots[j] = (uint32_t)pm->n;
	}
}

static void
pm_free(struct posmap *pm)
{
	if (!pm)
		return;
	strbuf_release(&pm->names);
	free(pm->v);
	free(pm->slots);
	free(pm);
}

void
doc_pos(const struct doc *doc, const char *pointer, int at_key, struct pos *out)
{
	size_t n = pointer ? strlen(pointer) : 0;

	for (;;) {
		const struct pm_entry *e = pm_find(doc->pm, pointer, n);

		if (e) {
			*out = at_key && e->key.line ? e->key : e->val;
			if (out->line)
				return;
		}
		if (n == 0)
			break;
		while (n > 0 && pointer[n - 1] != '/')
			n--;
		if (n > 0)
			n--; /* drop the '/' too: parent pointer */
		at_key = 1;  /* an ancestor: point at its key */
	}
	*out = doc->pos;
}

void
doc_error(struct diags *d, const struct doc *doc, const char *pointer,
	  int at_key, const char *code, const char *hint, const char *fmt, ...)
{
	char msg[1024];
	struct pos p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	doc_pos(doc, pointer, at_key, &p);
	diags_add(d, DIAG_ERROR, doc->file, p.line, p.col, doc->index, pointer,
		  code, hint, "%s", msg);
}

/* --- the event-driven builder ----------------------------------------- */

struct frame {
	json_t *node;	/* object or array */
	size_t pathlen; /* length of the pointer of node */
	char *key;	/* pending key (objects), owned */
	struct pos keypos;
	size_t index; /* next array index */
};

struct loader {
	const struct source_file *file;
	struct diags *d;
	struct docset *out;
	yaml_parser_t parser;
	struct frame stack[MANIFEST_MAX_DEPTH + 1];
	int depth;
	struct strbuf path;
	struct doc cur;
	int ndocs;
	int failed; /* this file produced at least one error */
};

static struct pos
mark(const yaml_mark_t *m)
{
	struct pos p = { (unsigned)m->line + 1, (unsigned)m->column + 1 };

	return p;
}

static void lerr(struct loader *l, struct pos p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
lerr(struct loader *l, struct pos p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_add(l->d, DIAG_ERROR, l->file->path, p.line, p.col, l->ndocs,
		  NULL, "yaml", NULL, "%s", msg);
	l->failed = 1;
}

/* Append "/token" to the path, escaping '~' and '/' (RFC 6901). */
static void
path_push(struct strbuf *sb, const char *tok)
{
	strbuf_addch(sb, '/');
	for (const char *p = tok; *p; p++) {
		if (*p == '~')
			strbuf_add(sb, "~0", 2);
		else if (*p == '/')
			strbuf_add(sb, "~1", 2);
		else
			strbuf_addch(sb, *p);
	}
}

static int
is_int(const char *s, size_t n, json_int_t *out)
{
	int base = 10;
	const char *p = s;
	char *end;
	long long v;

	if (n == 0)
		return 0;
	if (n > 2 && s[0] == '0' && s[1] == 'o') {
		base = 8;
		p = s + 2;
	} else if (n > 2 && s[0] == '0' && s[1] == 'x') {
		base = 16;
		p = s + 2;
	} else {
		size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;

		if (i == n)
			return 0;
		for (; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return 0;
	}
	if (base != 10) {
		for (const char *q = p; q < s + n; q++) {
			int ok = base == 8 ? (*q >= '0' && *q <= '7') :
					     ((*q >= '0' && *q <= '9') ||
					      (*q >= 'a' && *q <= 'f') ||
					      (*q >= 'A' && *q <= 'F'));
			if (!ok)
				return 0;
		}
	}
	errno = 0;
	v = strtoll(p, &end, base);
	if (errno == ERANGE)
		return -1;
	*out = (json_int_t)v;
	return 1;
}

static int
is_float(const char *s, size_t n)
{
	size_t i = 0, digits = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;

		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, ed++;
		if (!ed)
			return 0;
	}
	return i == n;
}

static int
eq_any(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/* Type a scalar by the YAML 1.2 core schema; returns NULL on error. */
static json_t *
scalar_value(struct loader *l, const yaml_event_t *ev, struct pos p)
{
	static const char *const nulls[] = { "",     "~",    "null",
					     "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const nonfinite[] = {
		".inf",	 ".Inf",  ".INF", "-.inf", "-.Inf", "-.INF", "+.inf",
		"+.Inf", "+.INF", ".nan", ".NaN",  ".NAN",  NULL
	};
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	json_int_t iv;
	int r;

	if (memchr(s, '\0', n)) {
		lerr(l, p, "NUL character in a value is not allowed");
		return NULL;
	}
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    ev->data.scalar.tag)
		return json_stringn(s, n);
	if (eq_any(s, nulls))
		return json_null();
	if (eq_any(s, trues))
		return json_true();
	if (eq_any(s, falses))
		return json_false();
	if ((r = is_int(s, n, &iv)) != 0) {
		if (r < 0) {
			lerr(l, p, "integer '%s' is out of range", s);
			return NULL;
		}
		return json_integer(iv);
	}
	if (is_float(s, n)) {
		double v = strtod(s, NULL);

		if (!isfinite(v)) {
			lerr(l, p, "number '%s' is out of range", s);
			return NULL;
		}
		return json_real(v);
	}
	if (eq_any(s, nonfinite)) {
		lerr(l, p, "'%s': infinite and NaN numbers are not allowed", s);
		return NULL;
	}
	return json_stringn(s, n);
}

/*
 * Check the anchor and tag of a node event. Anchors end the file (they
 * only exist to be aliased); tags other than !!str are reported.
 */
static int
check_props(struct loader *l, const yaml_char_t *anchor, const yaml_char_t *tag,
	    int implicit, struct pos p, int is_scalar)
{
	if (anchor) {
		lerr(l, p,
		     "anchors and aliases are not supported ('&%s'); "
		     "repeat the value instead",
		     (const char *)anchor);
		return -1;
	}
	if (tag && !implicit) {
		const char *t = (const char *)tag;

		if (is_scalar && strcmp(t, YAML_STR_TAG) == 0)
			return 0;
		lerr(l, p, "YAML tag '%s' is not supported; only !!str is", t);
		return 1; /* reported; keep going */
	}
	return 0;
}

/* Attach v (stolen) to the current container, or make it the root. */
static int
attach(struct loader *l, json_t *v, struct pos p)
{
	struct frame *f;
	struct pos nokey = { 0, 0 };

	if (l->depth == 0) {
		l->cur.root = v;
		pm_put(l->cur.pm, "", 0, p, nokey);
		return 0;
	}
	f = &l->stack[l->depth - 1];
	strbuf_setlen(&l->path, f->pathlen);
	if (json_is_object(f->node)) {
		path_push(&l->path, f->key);
		pm_put(l->cur.pm, l->path.buf, l->path.len, p, f->keypos);
		json_object_set_new(f->node, f->key, v);
		free(f->key);
		f->key = NULL;
	} else {
		char idx[32];

		snprintf(idx, sizeof(idx), "%zu", f->index++);
		path_push(&l->path, idx);
		pm_put(l->cur.pm, l->path.buf, l->path.len, p, nokey);
		json_array_append_new(f->node, v);
	}
	return 0;
}

static int
push(struct loader *l, json_t *container, struct pos p)
{
	struct frame *f;
	size_t pathlen;

	if (l->depth >= MANIFEST_MAX_DEPTH) {
		lerr(l, p, "nesting deeper than %d levels", MANIFEST_MAX_DEPTH);
		json_decref(container);
		return -1;
	}
	attach(l, json_incref(container), p);
	json_decref(container);
	pathlen = l->depth == 0 ? 0 : l->path.len;
	f = &l->stack[l->depth++];
	f->node = container;
	f->pathlen = pathlen;
	f->key = NULL;
	f->index = 0;
	return 0;
}

static int
expecting_key(const struct loader *l)
{
	const struct frame *f;

	if (l->depth == 0)
		return 0;
	f = &l->stack[l->depth - 1];
	return json_is_object(f->node) && f->key == NULL;
}

static void
doc_begin(struct loader *l, struct pos p)
{
	memset(&l->cur, 0, sizeof(l->cur));
	l->cur.file = xstrdup(l->file->path);
	l->cur.index = l->ndocs;
	l->cur.pos = p;
	l->cur.pm = xcalloc(1, sizeof(*l->cur.pm));
	strbuf_init(&l->cur.pm->names, 0);
}

static void
doc_discard(struct doc *doc)
{
	json_decref(doc->root);
	pm_free(doc->pm);
	free(doc->file);
	memset(doc, 0, sizeof(*doc));
}

static void
unwind(struct loader *l)
{
	while (l->depth > 0) {
		free(l->stack[l->depth - 1].key);
		l->depth--;
	}
}

static int
doc_end(struct loader *l, size_t *total)
{
	if (l->cur.root == NULL || json_is_null(l->cur.root)) {
		doc_discard(&l->cur); /* an empty document */
		return 0;
	}
	if (++*total > MANIFEST_MAX_DOCS) {
		lerr(l, l->cur.pos, "more than %d documents in the source",
		     MANIFEST_MAX_DOCS);
		doc_discard(&l->cur);
		return -1;
	}
	xgrow(&l->out->v, &l->out->alloc, l->out->n + 1, sizeof(*l->out->v));
	l->out->v[l->out->n++] = l->cur;
	memset(&l->cur, 0, sizeof(l->cur));
	return 0;
}

/* One event; returns 1 at stream end, 0 to go on, -1 to give up. */
static int
step(struct loader *l, yaml_event_t *ev, size_t *total)
{
	struct pos p = mark(&ev->start_mark);
	json_t *v;

	switch (ev->type) {
	case YAML_STREAM_END_EVENT: return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (l->ndocs >= MANIFEST_MAX_DOCS_PER_FILE) {
			lerr(l, p, "more than %d documents in one file",
			     MANIFEST_MAX_DOCS_PER_FILE);
			return -1;
		}
		doc_begin(l, p);
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		if (doc_end(l, total) < 0)
			return -1;
		l->ndocs++;
		return 0;
	case YAML_ALIAS_EVENT:
		lerr(l, p,
		     "anchors and aliases are not supported ('*%s'); "
		     "repeat the value instead",
		     (const char *)ev->data.alias.anchor);
		return -1;
	case YAML_SCALAR_EVENT:
		if (check_props(l, ev->data.scalar.anchor, ev->data.scalar.tag,
				ev->data.scalar.plain_implicit &&
					ev->data.scalar.quoted_implicit,
				p, 1) < 0)
			return -1;
		if (expecting_key(l)) {
			struct frame *f = &l->stack[l->depth - 1];
			const char *k = (const char *)ev->data.scalar.value;

			if (memchr(k, '\0', ev->data.scalar.length)) {
				lerr(l, p, "NUL character in a key");
				return -1;
			}
			/* Reported; the later value replaces the earlier one,
			 * which is harmless since the file has an error. */
			if (json_object_get(f->node, k))
				lerr(l, p, "duplicate key '%s'", k);
			f->key = xstrdup(k);
			f->keypos = p;
			return 0;
		}
		if (ev->data.scalar.length > MANIFEST_MAX_SCALAR_BYTES) {
			lerr(l, p, "value longer than %zu bytes",
			     MANIFEST_MAX_SCALAR_BYTES);
			return -1;
		}
		if ((v = scalar_value(l, ev, p)) == NULL)
			return -1;
		return attach(l, v, p);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		int seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const yaml_char_t *anchor =
			seq ? ev->data.sequence_start.anchor :
			      ev->data.mapping_start.anchor;
		const yaml_char_t *tag = seq ? ev->data.sequence_start.tag :
					       ev->data.mapping_start.tag;
		int implicit = seq ? ev->data.sequence_start.implicit :
				     ev->data.mapping_start.implicit;

		if (check_props(l, anchor, tag, implicit, p, 0) < 0)
			return -1;
		if (expecting_key(l)) {
			lerr(l, p, "a key must be a plain value, not a %s",
			     seq ? "list" : "mapping");
			return -1;
		}
		return push(l, seq ? json_array() : json_object(), p);
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame *f = &l->stack[l->depth - 1];

		free(f->key);
		f->key = NULL;
		l->depth--;
		return 0;
	}
	default: return 0;
	}
}

static void
load_file(struct loader *l, size_t *total)
{
	yaml_event_t ev;
	int r = 0;

	if (!yaml_parser_initialize(&l->parser)) {
		lerr(l, (struct pos){ 0, 0 },
		     "cannot initialize the YAML parser");
		return;
	}
	yaml_parser_set_input_string(&l->parser,
				     (const unsigned char *)l->file->data,
				     l->file->len);
	while (r == 0) {
		if (!yaml_parser_parse(&l->parser, &ev)) {
			struct pos p = mark(&l->parser.problem_mark);
			const char *ctx = l->parser.context;

			if (ctx)
				lerr(l, p, "%s %s", l->parser.problem, ctx);
			else
				lerr(l, p, "%s",
				     l->parser.problem ? l->parser.problem :
							 "invalid YAML");
			break;
		}
		r = step(l, &ev, total);
		yaml_event_delete(&ev);
	}
	unwind(l);
	doc_discard(&l->cur);
	yaml_parser_delete(&l->parser);
}

int
manifest_load(struct docset *out, const struct source *src, struct diags *d)
{
	size_t errors = d->errors, total = out->n;
	struct loader l;

	memset(&l, 0, sizeof(l));
	l.d = d;
	l.out = out;
	strbuf_init(&l.path, 1 << 20);
	for (size_t i = 0; i < src->nfiles; i++) {
		l.file = &src->files[i];
		l.ndocs = 0;
		l.depth = 0;
		l.failed = 0;
		strbuf_reset(&l.path);
		load_file(&l, &total);
		if (total >= MANIFEST_MAX_DOCS)
			break;
	}
	strbuf_release(&l.path);
	return d->errors > errors ? -1 : 0;
}

void
docset_release(struct docset *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		doc_discard(&ds->v[i]);
	free(ds->v);
	memset(ds, 0, sizeof(*ds));
}
