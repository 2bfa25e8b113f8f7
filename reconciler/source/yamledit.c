/*
 * yamledit.c - one edit in one YAML document, every other byte kept
 * (see yamledit.h).
 *
 * The file is parsed with libyaml into a small node tree that keeps, per
 * node, its byte range in the file. libyaml's marks count characters
 * (a CRLF counts two), not bytes, so they are converted through a map of
 * the UTF-8 text. The edit is one splice: [at, at + cut) replaced by new
 * text. The result is parsed again and compared, node by node, with the
 * original tree after the same change has been made to it in memory.
 */
#include "yamledit.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "source.h"
#include "../util/strbuf.h"

#define CKPT_CHARS 256 /* characters between checkpoints of the map */

enum ykind {
	Y_SCALAR,
	Y_SEQ,
	Y_MAP,
	Y_ALIAS,
};

struct ynode {
	enum ykind kind;
	char *value; /* scalar value, or the alias's anchor name */
	size_t len;
	int style; /* scalars: yaml_scalar_style_t; collections: 1 flow */
	char *tag; /* as libyaml resolves it, or NULL */
	char *anchor;
	size_t start, end;   /* bytes; end: after the last character of the
			    * content (a block scalar's line break and
			    * trailing blank lines excluded) */
	unsigned line, col;  /* 1-based, of start */
	struct ynode **kids; /* maps: key, value, key, value... */
	size_t n, alloc;
};

struct ydoc {
	struct ynode *root; /* NULL for an empty document */
};

struct yfile {
	struct ydoc *docs;
	size_t n, alloc;
};

/* Character index -> byte offset. */
struct offmap {
	const char *data;
	size_t len, base; /* base: a byte order mark's length */
	size_t *ckpt;	  /* byte offset of character k * CKPT_CHARS */
	size_t nckpt;
};

/* What went wrong, for messages. */
struct ectx {
	const char *file, *pointer, *verb;
	struct err *e;
};

/* --- messages ---------------------------------------------------------- */

static int fail(const struct ectx *c, const struct ynode *at, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

/* "file:line:col: cannot set '/p': msg" when at is known, else
 * "cannot set '/p' in 'file': msg"; msg alone without a verb (the
 * re-parse of check()). Returns -1. */
static int
fail(const struct ectx *c, const struct ynode *at, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->verb == NULL) /* check(): the caller adds the context */
		return err_set(c->e, "%s", msg);
	if (at != NULL)
		return err_set(c->e, "%s:%u:%u: cannot %s '%s': %s", c->file,
			       at->line, at->col, c->verb, c->pointer, msg);
	return err_set(c->e, "cannot %s '%s' in '%s': %s", c->verb, c->pointer,
		       c->file, msg);
}

/* --- the node tree ------------------------------------------------------ */

static void
node_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n->tag);
	free(n->anchor);
	free(n);
}

static void
yfile_release(struct yfile *f)
{
	for (size_t i = 0; i < f->n; i++)
		node_free(f->docs[i].root);
	free(f->docs);
	memset(f, 0, sizeof(*f));
}

static void
node_add(struct ynode *parent, struct ynode *kid)
{
	xgrow(&parent->kids, &parent->alloc, parent->n + 1,
	      sizeof(*parent->kids));
	parent->kids[parent->n++] = kid;
}

static char *
dup_opt(const yaml_char_t *s)
{
	return s ? xstrdup((const char *)s) : NULL;
}

/* --- character marks to bytes ------------------------------------------- */

static size_t
utf8_width(unsigned char c)
{
	if (c < 0xc0)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

static void
offmap_init(struct offmap *m, const char *data, size_t len)
{
	size_t alloc = 0, chars = 0;

	memset(m, 0, sizeof(*m));
	m->data = data;
	m->len = len;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		m->base = 3; /* libyaml skips it without counting it */
	for (size_t b = m->base; b < len; chars++) {
		if (chars % CKPT_CHARS == 0) {
			xgrow(&m->ckpt, &alloc, m->nckpt + 1, sizeof(*m->ckpt));
			m->ckpt[m->nckpt++] = b;
		}
		b += utf8_width((unsigned char)data[b]);
	}
	if (chars % CKPT_CHARS == 0) { /* the end itself */
		xgrow(&m->ckpt, &alloc, m->nckpt + 1, sizeof(*m->ckpt));
		m->ckpt[m->nckpt++] = len;
	}
}

static size_t
offmap_byte(const struct offmap *m, size_t index)
{
	size_t k = index / CKPT_CHARS, b;

	if (k >= m->nckpt)
		return m->len;
	b = m->ckpt[k];
	for (size_t c = k * CKPT_CHARS; c < index && b < m->len; c++)
		b += utf8_width((unsigned char)m->data[b]);
	return b < m->len ? b : m->len;
}

/*
 * The end of a block scalar's content. libyaml ends it at the start of
 * the line after its trailing blank lines; without the '+' (keep)
 * indicator those lines are not part of the value, so the content ends
 * with its last non-blank line (before its line break). With '+', the
 * blank lines are the value's: only the final line break is excluded.
 */
static size_t
block_scalar_end(const char *d, size_t start, size_t end)
{
	size_t p = start, e = end;
	int keep = 0;

	while (p < end && d[p] != '|' && d[p] != '>')
		p++;
	for (p++; p < end && d[p] != ' ' && d[p] != '\n' && d[p] != '\r' &&
		  d[p] != '#';
	     p++)
		if (d[p] == '+')
			keep = 1;
	if (e <= start || d[e - 1] != '\n')
		return e; /* ends the file without a line break */
	if (keep) {
		e--;
		if (e > start && d[e - 1] == '\r')
			e--;
		return e;
	}
	for (;;) {
		size_t ls, le = e - 1; /* le: the '\n' of the line */

		ls = le;
		while (ls > start && d[ls - 1] != '\n')
			ls--;
		for (p = ls; p < le && (d[p] == ' ' || d[p] == '\r'); p++)
			;
		if (p < le || ls <= start) { /* content: end before EOL */
			if (le > start && d[le - 1] == '\r')
				le--;
			return le;
		}
		e = ls; /* a blank line: drop it */
	}
}

/* --- parsing ------------------------------------------------------------- */

static struct ynode *
node_new(enum ykind kind, const yaml_event_t *ev, const struct offmap *m)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->start = offmap_byte(m, ev->start_mark.index);
	n->end = offmap_byte(m, ev->end_mark.index);
	n->line = (unsigned)ev->start_mark.line + 1;
	n->col = (unsigned)ev->start_mark.column + 1;
	return n;
}

/* Attach n to the open collection (or make it the document's root). */
static void
attach(struct yfile *f, struct ynode **stack, int depth, struct ynode *n)
{
	if (depth > 0)
		node_add(stack[depth - 1], n);
	else
		f->docs[f->n - 1].root = n;
}

/*
 * Parse data into f. Errors are located: "t.yaml:2:1: cannot set '/a':
 * invalid YAML: ...". A file that is not UTF-8 is refused.
 */
static int
parse(struct yfile *f, const char *data, size_t len, const struct ectx *c)
{
	struct ynode *stack[YAMLEDIT_MAX_DEPTH];
	yaml_parser_t parser;
	yaml_event_t ev;
	struct offmap m;
	int depth = 0, done = 0, ret = -1;

	memset(f, 0, sizeof(*f));
	if (len > SOURCE_MAX_FILE_BYTES)
		return fail(c, NULL, "the file is larger than %zu MiB",
			    SOURCE_MAX_FILE_BYTES >> 20);
	offmap_init(&m, data, len);
	if (!yaml_parser_initialize(&parser)) {
		free(m.ckpt);
		return fail(c, NULL, "cannot initialize the YAML parser");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done) {
		struct ynode *n = NULL;

		if (!yaml_parser_parse(&parser, &ev)) {
			const char *p = parser.problem ? parser.problem :
							 "invalid YAML";

			if (parser.error == YAML_READER_ERROR)
				fail(c, NULL, "invalid text: %s at byte %zu", p,
				     parser.problem_offset);
			else if (c->verb == NULL) /* check(): no prefix */
				err_set(c->e, "%zu:%zu: %s%s%s",
					parser.problem_mark.line + 1,
					parser.problem_mark.column + 1, p,
					parser.context ? " " : "",
					parser.context ? parser.context : "");
			else
				err_set(c->e,
					"%s:%zu:%zu: cannot %s '%s': invalid "
					"YAML: %s%s%s",
					c->file, parser.problem_mark.line + 1,
					parser.problem_mark.column + 1, c->verb,
					c->pointer, p,
					parser.context ? " " : "",
					parser.context ? parser.context : "");
			goto out;
		}
		if (parser.encoding != YAML_UTF8_ENCODING &&
		    parser.encoding != YAML_ANY_ENCODING) {
			fail(c, NULL, "the file is not UTF-8");
			yaml_event_delete(&ev);
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = 1; break;
		case YAML_DOCUMENT_START_EVENT:
			xgrow(&f->docs, &f->alloc, f->n + 1, sizeof(*f->docs));
			f->docs[f->n++].root = NULL;
			break;
		case YAML_ALIAS_EVENT:
			n = node_new(Y_ALIAS, &ev, &m);
			n->value = dup_opt(ev.data.alias.anchor);
			n->len = strlen(n->value);
			attach(f, stack, depth, n);
			break;
		case YAML_SCALAR_EVENT:
			n = node_new(Y_SCALAR, &ev, &m);
			n->len = ev.data.scalar.length;
			n->value = xmalloc(n->len + 1);
			memcpy(n->value, ev.data.scalar.value, n->len);
			n->value[n->len] = '\0';
			n->style = (int)ev.data.scalar.style;
			n->tag = dup_opt(ev.data.scalar.tag);
			n->anchor = dup_opt(ev.data.scalar.anchor);
			if (n->style == YAML_LITERAL_SCALAR_STYLE ||
			    n->style == YAML_FOLDED_SCALAR_STYLE)
				n->end = block_scalar_end(data, n->start,
							  n->end);
			attach(f, stack, depth, n);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			int seq = ev.type == YAML_SEQUENCE_START_EVENT;

			if (depth >= YAMLEDIT_MAX_DEPTH) {
				err_set(c->e,
					"%s:%zu:%zu: cannot %s '%s': nested "
					"deeper than %d levels",
					c->file, ev.start_mark.line + 1,
					ev.start_mark.column + 1, c->verb,
					c->pointer, YAMLEDIT_MAX_DEPTH);
				yaml_event_delete(&ev);
				goto out;
			}
			n = node_new(seq ? Y_SEQ : Y_MAP, &ev, &m);
			if (seq) {
				n->style = ev.data.sequence_start.style ==
					   YAML_FLOW_SEQUENCE_STYLE;
				n->tag = dup_opt(ev.data.sequence_start.tag);
				n->anchor = dup_opt(
					ev.data.sequence_start.anchor);
			} else {
				n->style = ev.data.mapping_start.style ==
					   YAML_FLOW_MAPPING_STYLE;
				n->tag = dup_opt(ev.data.mapping_start.tag);
				n->anchor = dup_opt(
					ev.data.mapping_start.anchor);
			}
			attach(f, stack, depth, n);
			stack[depth++] = n;
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			n = stack[--depth];
			if (n->style) /* flow: after the closing bracket */
				n->end = offmap_byte(&m, ev.end_mark.index);
			else if (n->n > 0)
				n->end = n->kids[n->n - 1]->end;
			break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	ret = 0;
out:
	yaml_parser_delete(&parser);
	free(m.ckpt);
	if (ret < 0)
		yfile_release(f);
	return ret;
}

/* --- comparing trees ------------------------------------------------------ */

static int
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Equal as YAML nodes: kind, value, style, tag, anchor, children. The
 * first difference found in b is put in *where. */
static int
node_eq(const struct ynode *a, const struct ynode *b,
	const struct ynode **where)
{
	if (a == NULL || b == NULL) {
		*where = b;
		return a == b;
	}
	if (a->kind != b->kind || a->len != b->len ||
	    (a->len && memcmp(a->value, b->value, a->len) != 0) ||
	    a->style != b->style || !str_eq(a->tag, b->tag) ||
	    !str_eq(a->anchor, b->anchor) || a->n != b->n) {
		*where = b;
		return 0;
	}
	for (size_t i = 0; i < a->n; i++)
		if (!node_eq(a->kids[i], b->kids[i], where))
			return 0;
	return 1;
}

/* --- writing scalars ------------------------------------------------------ */

/* The code point at s (valid UTF-8 of n bytes left), its width in *w;
 * -1 for invalid UTF-8. */
static long
utf8_next(const unsigned char *s, size_t n, size_t *w)
{
	size_t k = utf8_width(s[0]);
	long cp;

	if (s[0] < 0x80) {
		*w = 1;
		return s[0];
	}
	if (s[0] < 0xc2 || s[0] > 0xf4 || k > n)
		return -1;
	cp = s[0] & (0x3f >> (k - 1));
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	*w = k;
	return cp;
}

/* A character a single-quoted scalar cannot hold as it is: controls,
 * DEL, C1 controls (U+0085 is a line break in YAML 1.1), the line and
 * paragraph separators, the byte order mark. */
static int
needs_escape(long cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0xfeff;
}

static int
ascii_ieq(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n && word[i]; i++) {
		char a = s[i], b = word[i];

		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return i == n && word[i] == '\0';
}

/*
 * May s be written plain, read back as this string by every reader?
 * Conservative on purpose: a letter, '/' or '_' first (no number, date,
 * indicator or special float can start so), then letters, digits and
 * "_./@+-", and ':' in block context when not last (older flow parsers
 * stop at any ':'); none of the YAML 1.1 and 1.2 words for booleans and
 * null, in any case.
 */
static int
plain_safe(const char *s, size_t n, int flow)
{
	static const char *const words[] = { "y",    "n",   "yes",  "no",
					     "on",   "off", "true", "false",
					     "null", "~",   NULL };
	char c0;

	if (n == 0)
		return 0;
	c0 = s[0];
	if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') ||
	      c0 == '/' || c0 == '_'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("_./@+-", c) != NULL)
			continue;
		if (c == ':' && !flow && i + 1 < n)
			continue;
		return 0;
	}
	for (const char *const *w = words; *w; w++)
		if (ascii_ieq(s, n, *w))
			return 0;
	return 1;
}

/* Can s go in single quotes (printable, one line, valid UTF-8)?
 * -1: not valid UTF-8. */
static int
single_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	int ok = 1;

	for (size_t i = 0; i < n;) {
		size_t w;
		long cp = utf8_next(u + i, n - i, &w);

		if (cp < 0)
			return -1;
		if (needs_escape(cp))
			ok = 0;
		i += w;
	}
	return ok;
}

static void
put_single(struct strbuf *sb, const char *s, size_t n)
{
	strbuf_addch(sb, '\'');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			strbuf_addch(sb, '\'');
		strbuf_addch(sb, s[i]);
	}
	strbuf_addch(sb, '\'');
}

/* s in double quotes; s is valid UTF-8. */
static void
put_double(struct strbuf *sb, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	strbuf_addch(sb, '"');
	for (size_t i = 0; i < n;) {
		size_t w = 1;
		long cp = utf8_next(u + i, n - i, &w);

		switch (cp) {
		case '"': strbuf_addstr(sb, "\\\""); break;
		case '\\': strbuf_addstr(sb, "\\\\"); break;
		case '\n': strbuf_addstr(sb, "\\n"); break;
		case '\t': strbuf_addstr(sb, "\\t"); break;
		case '\r': strbuf_addstr(sb, "\\r"); break;
		case 0x85: strbuf_addstr(sb, "\\N"); break;
		case 0x2028: strbuf_addstr(sb, "\\L"); break;
		case 0x2029: strbuf_addstr(sb, "\\P"); break;
		case 0xfeff: strbuf_addstr(sb, "\\uFEFF"); break;
		default:
			if (needs_escape(cp))
				strbuf_addf(sb, "\\x%02lX", cp);
			else
				strbuf_add(sb, s + i, w);
		}
		i += w;
	}
	strbuf_addch(sb, '"');
}

/*
 * Append s as a scalar; returns the style written. prefer: the style of
 * the scalar replaced (quoted ones keep their quotes when they can), or
 * 0. -1 for invalid UTF-8.
 */
static int
put_string(struct strbuf *sb, const char *s, size_t n, int flow, int prefer)
{
	int single = single_ok(s, n);

	if (single < 0)
		return -1;
	if (prefer == YAML_DOUBLE_QUOTED_SCALAR_STYLE || !single) {
		put_double(sb, s, n);
		return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	}
	if (prefer != YAML_SINGLE_QUOTED_SCALAR_STYLE &&
	    plain_safe(s, n, flow)) {
		strbuf_add(sb, s, n);
		return YAML_PLAIN_SCALAR_STYLE;
	}
	put_single(sb, s, n);
	return YAML_SINGLE_QUOTED_SCALAR_STYLE;
}

/* The shortest decimal form of v that reads back as v, with a '.' so
 * that every YAML schema takes it for a float ("2.0", "1.0e+300"). */
static void
put_real(struct strbuf *sb, double v)
{
	char buf[64], out[72];
	char *e;
	size_t mant;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	e = strchr(buf, 'e');
	mant = e ? (size_t)(e - buf) : strlen(buf);
	if (memchr(buf, '.', mant) == NULL)
		snprintf(out, sizeof(out), "%.*s.0%s", (int)mant, buf,
			 e ? e : "");
	else
		snprintf(out, sizeof(out), "%s", buf);
	strbuf_addstr(sb, out);
}

/*
 * Append the JSON scalar v; *style receives the style written, *text
 * the value as the parser will report it (a new string). Fails on
 * containers, non-finite numbers, NUL characters and invalid UTF-8.
 */
static int
put_value(struct strbuf *sb, int *style, char **text, size_t *tlen,
	  const json_t *v, int flow, int prefer, const struct ectx *c)
{
	size_t before = sb->len;

	*style = YAML_PLAIN_SCALAR_STYLE;
	switch (json_typeof(v)) {
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);

		if (memchr(s, '\0', n) != NULL)
			return fail(c, NULL,
				    "the value holds a NUL character, which "
				    "YAML cannot carry");
		*style = put_string(sb, s, n, flow, prefer);
		if (*style < 0)
			return fail(c, NULL, "the value is not valid UTF-8");
		*text = xstrndup(s, n);
		*tlen = n;
		return 0;
	}
	case JSON_INTEGER:
		strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: {
		double d = json_real_value(v);

		if (d != d || d - d != 0)
			return fail(c, NULL,
				    "the value is not a finite number");
		put_real(sb, d);
		break;
	}
	case JSON_TRUE: strbuf_addstr(sb, "true"); break;
	case JSON_FALSE: strbuf_addstr(sb, "false"); break;
	case JSON_NULL: strbuf_addstr(sb, "null"); break;
	default:
		return fail(c, NULL,
			    "the value must be a scalar (a string, number, "
			    "boolean or null), not a %s",
			    json_is_object(v) ? "mapping" : "sequence");
	}
	*tlen = sb->len - before;
	*text = xstrndup(sb->buf + before, *tlen);
	return 0;
}

/* --- the path ---------------------------------------------------------- */

struct path {
	char *tok[YAMLEDIT_MAX_DEPTH];
	size_t n;
};

static void
path_release(struct path *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tok[i]);
	p->n = 0;
}

/* Split a JSON pointer into its unescaped tokens. */
static int
path_parse(struct path *p, const char *pointer, const struct ectx *c)
{
	const char *s = pointer;

	p->n = 0;
	if (*s == '\0')
		return fail(c, NULL,
			    "the pointer names the whole document; name a "
			    "value in it (\"/spec/image\")");
	if (*s != '/')
		return fail(c, NULL,
			    "not a JSON pointer (it starts with '/': "
			    "\"/spec/image\")");
	while (*s == '/') {
		struct strbuf sb;

		if (p->n >= YAMLEDIT_MAX_DEPTH) {
			path_release(p);
			return fail(c, NULL, "the pointer is deeper than %d",
				    YAMLEDIT_MAX_DEPTH);
		}
		strbuf_init(&sb, 0);
		for (s++; *s && *s != '/'; s++) {
			if (*s == '~' && (s[1] == '0' || s[1] == '1')) {
				strbuf_addch(&sb, s[1] == '0' ? '~' : '/');
				s++;
			} else if (*s == '~') {
				strbuf_release(&sb);
				path_release(p);
				return fail(c, NULL,
					    "not a JSON pointer ('~' must be "
					    "'~0' or '~1')");
			} else {
				strbuf_addch(&sb, *s);
			}
		}
		p->tok[p->n++] = strbuf_detach(&sb, NULL);
	}
	return 0;
}

/* "/a/b" for the first n tokens, escaped again (a new string). */
static char *
path_prefix(const struct path *p, size_t n)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	for (size_t i = 0; i < n; i++) {
		strbuf_addch(&sb, '/');
		for (const char *t = p->tok[i]; *t; t++) {
			if (*t == '~')
				strbuf_addstr(&sb, "~0");
			else if (*t == '/')
				strbuf_addstr(&sb, "~1");
			else
				strbuf_addch(&sb, *t);
		}
	}
	return strbuf_detach(&sb, NULL);
}

/* --- finding things ---------------------------------------------------- */

static int
is_null_scalar(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->style == YAML_PLAIN_SCALAR_STYLE &&
	       n->tag == NULL &&
	       (n->len == 0 || strcmp(n->value, "~") == 0 ||
		ascii_ieq(n->value, n->len, "null"));
}

/* The value of key in map, or NULL; the first match. */
static struct ynode *
map_get(const struct ynode *map, const char *key)
{
	if (map == NULL || map->kind != Y_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2) {
		const struct ynode *k = map->kids[i];

		if (k->kind == Y_SCALAR && strcmp(k->value, key) == 0 &&
		    strlen(key) == k->len)
			return map->kids[i + 1];
	}
	return NULL;
}

static int
scalar_is(const struct ynode *n, const char *want)
{
	return n != NULL && n->kind == Y_SCALAR && strlen(want) == n->len &&
	       strcmp(n->value, want) == 0;
}

static void
describe_sel(struct strbuf *sb, const struct yamledit_doc *s)
{
	const char *sep = "";

	if (s->index >= 0) {
		strbuf_addf(sb, "index %d", s->index);
		sep = ", ";
	}
	if (s->kind) {
		strbuf_addf(sb, "%skind '%s'", sep, s->kind);
		sep = ", ";
	}
	if (s->name) {
		strbuf_addf(sb, "%sname '%s'", sep, s->name);
		sep = ", ";
	}
	if (s->site)
		strbuf_addf(sb, "%ssite '%s'", sep, s->site);
}

static int
sel_is_empty(const struct yamledit_doc *s)
{
	return s->index < 0 && !s->kind && !s->name && !s->site;
}

/* The one document sel names; *idx its index. */
static int
select_doc(size_t *idx, const struct yfile *f, const struct yamledit_doc *sel,
	   const struct ectx *c)
{
	struct strbuf what, which;
	size_t found = 0, first = 0;
	int ret = -1;

	strbuf_init(&what, 0);
	strbuf_init(&which, 0);
	describe_sel(&what, sel);
	for (size_t i = 0; i < f->n; i++) {
		const struct ynode *r = f->docs[i].root;

		if (sel->index >= 0 && (size_t)sel->index != i)
			continue;
		if (r == NULL || is_null_scalar(r))
			continue;
		if (sel->kind && !scalar_is(map_get(r, "kind"), sel->kind))
			continue;
		if (sel->name &&
		    !scalar_is(map_get(map_get(r, "metadata"), "name"),
			       sel->name))
			continue;
		if (sel->site &&
		    !scalar_is(map_get(map_get(r, "spec"), "site"), sel->site))
			continue;
		if (found++ == 0)
			first = i;
		strbuf_addf(&which, "%s%zu", which.len ? ", " : "", i);
	}
	if (found == 0) {
		if (sel_is_empty(sel))
			fail(c, NULL, "the file has no document to edit");
		else if (sel->index >= 0 && (size_t)sel->index < f->n &&
			 (f->docs[sel->index].root == NULL ||
			  is_null_scalar(f->docs[sel->index].root)))
			fail(c, NULL,
			     "no document matches %s (document %d is empty)",
			     what.buf, sel->index);
		else
			fail(c, NULL,
			     "no document matches %s (the file has %zu "
			     "document%s)",
			     what.buf, f->n, f->n == 1 ? "" : "s");
		goto out;
	}
	if (found > 1) {
		if (sel_is_empty(sel))
			fail(c, NULL,
			     "the file has %zu documents; name the one to "
			     "edit (its kind and name, or its index)",
			     found);
		else
			fail(c, NULL,
			     "%zu documents match %s (documents %s); name "
			     "the document more precisely (its site or "
			     "index)",
			     found, what.buf, which.buf);
		goto out;
	}
	*idx = first;
	ret = 0;
out:
	strbuf_release(&what);
	strbuf_release(&which);
	return ret;
}

/* --- walking the path ------------------------------------------------ */

enum action {
	ACT_REPLACE, /* the scalar `node` */
	ACT_INSERT,  /* tokens from `missing` on, into the mapping `node` */
	ACT_REMOVE,  /* the pair at `keyidx` of the mapping `parent` */
};

struct where {
	enum action act;
	struct ynode *node, *parent;
	size_t keyidx, missing;
	struct ynode *chain[YAMLEDIT_MAX_DEPTH + 1]; /* root .. node */
	size_t nchain;
};

/* An anchor or alias at n (named by the pointer p) is refused: an edit
 * there would change other places of the file, or none. */
static int
check_props(const struct ynode *n, const char *p, const struct ectx *c)
{
	if (n->kind == Y_ALIAS)
		return fail(c, n,
			    "'%s' is an alias ('*%s'); pressctl does not "
			    "edit through aliases: write the value out in "
			    "place",
			    p, n->value);
	if (n->anchor)
		return fail(c, n,
			    "'%s' carries an anchor ('&%s'); pressctl does "
			    "not edit anchored values, whose aliases would "
			    "change too: write the values out in place",
			    p, n->anchor);
	return 0;
}

static int
parse_index(size_t *out, const char *t)
{
	size_t v = 0;

	if (*t == '\0' || (t[0] == '0' && t[1] != '\0'))
		return -1;
	for (; *t; t++) {
		if (*t < '0' || *t > '9' || v > (SIZE_MAX - 9) / 10)
			return -1;
		v = v * 10 + (size_t)(*t - '0');
	}
	*out = v;
	return 0;
}

static const char *
kind_name(const struct ynode *n)
{
	switch (n->kind) {
	case Y_MAP: return "a mapping";
	case Y_SEQ: return "a sequence";
	case Y_ALIAS: return "an alias";
	default: return "a scalar";
	}
}

/* Follow the path from root; for a set, a missing key is an insertion
 * point, for a remove an error. */
static int
walk(struct where *w, struct ynode *root, const struct path *p, int removing,
     const struct ectx *c)
{
	struct ynode *n = root, *parent = NULL;
	size_t keyidx = 0;
	char *pre = NULL;
	int ret = -1;

	memset(w, 0, sizeof(*w));
	w->chain[w->nchain++] = n;
	for (size_t i = 0; i < p->n; i++) {
		const char *tok = p->tok[i];

		free(pre);
		pre = path_prefix(p, i);
		if (check_props(n, i ? pre : "the document", c) < 0)
			goto out;
		if (n->kind == Y_SEQ) {
			size_t idx;

			if (parse_index(&idx, tok) < 0) {
				fail(c, n,
				     "'%s' is a sequence, not a mapping ('%s' "
				     "is not an item number)",
				     pre, tok);
				goto out;
			}
			if (idx >= n->n) {
				fail(c, n,
				     "'%s' has no item %zu (it has %zu); "
				     "items are replaced, never added",
				     pre, idx, n->n);
				goto out;
			}
			if (removing && i + 1 == p->n) {
				fail(c, n,
				     "'%s' is a sequence: its items are not "
				     "removed",
				     pre);
				goto out;
			}
			parent = NULL;
			n = n->kids[idx];
		} else if (n->kind == Y_MAP) {
			struct ynode *found = NULL;

			for (size_t k = 0; k + 1 < n->n; k += 2) {
				const struct ynode *key = n->kids[k];

				if (key->kind != Y_SCALAR)
					continue;
				if (key->style == YAML_PLAIN_SCALAR_STYLE &&
				    strcmp(key->value, "<<") == 0) {
					fail(c, key,
					     "'%s' has a merge key ('<<'); "
					     "pressctl does not edit "
					     "mappings with merged keys",
					     i ? pre : "the document");
					goto out;
				}
				if (key->len != strlen(tok) ||
				    strcmp(key->value, tok) != 0)
					continue;
				if (found) {
					fail(c, key, "duplicate key '%s'", tok);
					goto out;
				}
				found = n->kids[k + 1];
				keyidx = k;
			}
			if (found == NULL) {
				if (removing) {
					fail(c, n, "'%s' has no key '%s'",
					     i ? pre : "the document", tok);
					goto out;
				}
				w->act = ACT_INSERT;
				w->node = n;
				w->missing = i;
				ret = 0;
				goto out;
			}
			parent = n;
			n = found;
		} else if (is_null_scalar(n) && i > 0) {
			fail(c, n,
			     "'%s' is empty (null), not a mapping; write "
			     "'%s: {}' there first",
			     pre, p->tok[i - 1]);
			goto out;
		} else {
			fail(c, n, "'%s' is %s, not a mapping",
			     i ? pre : "the document", kind_name(n));
			goto out;
		}
		w->chain[w->nchain++] = n;
	}
	if (check_props(n, c->pointer, c) < 0)
		goto out;
	if (removing) {
		w->act = ACT_REMOVE;
		w->parent = parent;
		w->keyidx = keyidx;
	} else {
		if (n->kind != Y_SCALAR) {
			fail(c, n,
			     "'%s' is %s, not a scalar; set %s one by one",
			     c->pointer, kind_name(n),
			     n->kind == Y_MAP ? "its keys" : "its items");
			goto out;
		}
		w->act = ACT_REPLACE;
		w->node = n;
	}
	ret = 0;
out:
	free(pre);
	return ret;
}

/* --- building the edit ---------------------------------------------------- */

struct splice {
	size_t at, cut;
	struct strbuf text;
};

/* The start of the line holding byte p. */
static size_t
line_start(const char *d, size_t p)
{
	while (p > 0 && d[p - 1] != '\n')
		p--;
	return p;
}

/* The line ending of the line holding p, else the file's first one,
 * else "\n". */
static const char *
eol_at(const char *d, size_t len, size_t p)
{
	const char *nl = memchr(d + p, '\n', len - p);

	if (nl == NULL)
		nl = memchr(d, '\n', len);
	return nl && nl > d && nl[-1] == '\r' ? "\r\n" : "\n";
}

/* After the line break that ends the line holding p, or len when that
 * line ends the file without one. */
static size_t
after_line(const char *d, size_t len, size_t p)
{
	const char *nl = memchr(d + p, '\n', len - p);

	return nl ? (size_t)(nl - d) + 1 : len;
}

/* The indentation of a block mapping: its first key's column. */
static size_t
map_indent(const struct ynode *m)
{
	return m->n ? m->kids[0]->col - 1 : 0;
}

/* The first indentation step of a block mapping in a block mapping
 * under n, pre-order; 0 if none. */
static size_t
find_step(const struct ynode *n, int depth)
{
	if (n->kind != Y_MAP && n->kind != Y_SEQ)
		return 0;
	for (size_t i = 0; i < n->n && depth < YAMLEDIT_MAX_DEPTH; i++) {
		const struct ynode *k = n->kids[i];
		size_t s;

		if (n->kind == Y_MAP && !n->style && i % 2 == 1 &&
		    k->kind == Y_MAP && !k->style && k->n &&
		    map_indent(k) > map_indent(n))
			return map_indent(k) - map_indent(n);
		if ((s = find_step(k, depth + 1)) > 0)
			return s;
	}
	return 0;
}

/* How far the file indents a nested mapping: as the mapping's own
 * parent does when that is a block mapping, else as the document
 * first does, else 2. */
static size_t
indent_step(const struct where *w, const struct ynode *root)
{
	const struct ynode *m = w->chain[w->nchain - 1];
	size_t s;

	if (w->nchain >= 2) {
		const struct ynode *p = w->chain[w->nchain - 2];

		if (p->kind == Y_MAP && !p->style &&
		    map_indent(m) > map_indent(p))
			return map_indent(m) - map_indent(p);
	}
	s = find_step(root, 0);
	return s ? s : 2;
}

/* The new nodes of an insertion: key and value pairs from token
 * `from`, the last value being the scalar. Appended to m in memory. */
static void
expect_insert(struct ynode *m, const struct path *p, size_t from,
	      const int *keystyle, int flow, char *text, size_t tlen, int style)
{
	for (size_t i = from; i < p->n; i++) {
		struct ynode *k = xcalloc(1, sizeof(*k));
		struct ynode *v = xcalloc(1, sizeof(*v));

		k->kind = Y_SCALAR;
		k->value = xstrdup(p->tok[i]);
		k->len = strlen(k->value);
		k->style = keystyle[i - from];
		node_add(m, k);
		node_add(m, v);
		if (i + 1 == p->n) {
			v->kind = Y_SCALAR;
			v->value = text;
			v->len = tlen;
			v->style = style;
		} else {
			v->kind = Y_MAP;
			v->style = flow;
			m = v;
		}
	}
}

static void
spaces(struct strbuf *sb, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strbuf_addch(sb, ' ');
}

/*
 * The splice that adds the missing keys to w->node, and the same change
 * to the tree (so that the check compares against it).
 */
static int
plan_insert(struct splice *sp, const struct where *w, const struct path *p,
	    const struct ynode *root, const char *d, size_t len,
	    const json_t *value, const struct ectx *c)
{
	struct ynode *m = w->node;
	int flow = m->style, style = 0;
	int keystyle[YAMLEDIT_MAX_DEPTH];
	size_t nkeys = p->n - w->missing, tlen = 0;
	char *text = NULL;

	if (flow) {
		/* ", a: {b: v}" after the last entry, or "a: {b: v}"
		 * right after the '{' of an empty mapping. */
		if (m->n > 0) {
			sp->at = m->kids[m->n - 1]->end;
			strbuf_addstr(&sp->text, ", ");
		} else {
			sp->at = m->start;
			while (sp->at < len && d[sp->at] != '{')
				sp->at++;
			sp->at++;
		}
		for (size_t i = 0; i < nkeys; i++) {
			const char *k = p->tok[w->missing + i];

			keystyle[i] = put_string(&sp->text, k, strlen(k), 1, 0);
			if (keystyle[i] < 0)
				return fail(c, NULL, "the key is not UTF-8");
			strbuf_addstr(&sp->text, ": ");
			if (i + 1 < nkeys)
				strbuf_addch(&sp->text, '{');
		}
		if (put_value(&sp->text, &style, &text, &tlen, value, 1, 0, c) <
		    0)
			return -1;
		for (size_t i = 1; i < nkeys; i++)
			strbuf_addch(&sp->text, '}');
	} else {
		size_t indent = map_indent(m), step = indent_step(w, root);
		const char *eol = eol_at(d, len, m->end);
		int at_eof;

		sp->at = after_line(d, len, m->end);
		at_eof = sp->at == len && (len == 0 || d[len - 1] != '\n');
		if (at_eof)
			strbuf_addstr(&sp->text, eol);
		/* Keys are written as in flow context (no ':' in a plain
		 * key), wherever they go. */
		for (size_t i = 0; i < nkeys; i++) {
			const char *k = p->tok[w->missing + i];

			spaces(&sp->text, indent + i * step);
			keystyle[i] = put_string(&sp->text, k, strlen(k), 1, 0);
			if (keystyle[i] < 0)
				return fail(c, NULL, "the key is not UTF-8");
			strbuf_addch(&sp->text, ':');
			if (i + 1 < nkeys) {
				strbuf_addstr(&sp->text, eol);
				continue;
			}
			strbuf_addch(&sp->text, ' ');
			if (put_value(&sp->text, &style, &text, &tlen, value, 0,
				      0, c) < 0)
				return -1;
			if (!at_eof)
				strbuf_addstr(&sp->text, eol);
		}
	}
	expect_insert(m, p, w->missing, keystyle, flow, text, tlen, style);
	return 0;
}

/* Is n inside a flow collection? (Its nearest collection on the chain.) */
static int
in_flow(const struct where *w)
{
	return w->nchain >= 2 && w->chain[w->nchain - 2]->style;
}

static int
plan_replace(struct splice *sp, const struct where *w, const char *d,
	     const json_t *value, const struct ectx *c)
{
	struct ynode *n = w->node;
	int prefer = n->style, style;
	char *text;
	size_t tlen;

	if (prefer == YAML_LITERAL_SCALAR_STYLE ||
	    prefer == YAML_FOLDED_SCALAR_STYLE || n->tag != NULL)
		prefer = 0;
	sp->at = n->start;
	sp->cut = n->end - n->start;
	if (n->len == 0 && n->start == n->end &&
	    n->style == YAML_PLAIN_SCALAR_STYLE &&
	    (n->start == 0 || d[n->start - 1] == ':'))
		strbuf_addch(&sp->text, ' '); /* "image:" -> "image: x" */
	if (put_value(&sp->text, &style, &text, &tlen, value, in_flow(w),
		      prefer, c) < 0)
		return -1;
	free(n->value);
	n->value = text;
	n->len = tlen;
	n->style = style;
	free(n->tag);
	n->tag = NULL;
	return 0;
}

static int
plan_remove(struct splice *sp, const struct where *w, const char *d, size_t len,
	    const struct ectx *c)
{
	struct ynode *m = w->parent;
	struct ynode *k = m->kids[w->keyidx], *v = m->kids[w->keyidx + 1];
	size_t i = w->keyidx;

	if (m->n == 2)
		return fail(c, k,
			    "'%s' is the only key of its mapping, which "
			    "would become null rather than empty; remove "
			    "the mapping instead",
			    c->pointer);
	if (m->style) {
		if (i > 0) { /* ", key: value" */
			sp->at = m->kids[i - 1]->end;
			sp->cut = v->end - sp->at;
		} else { /* "key: value, " */
			sp->at = k->start;
			sp->cut = m->kids[2]->start - k->start;
		}
	} else {
		size_t ls = line_start(d, k->start), end;

		for (size_t p = ls; p < k->start; p++)
			if (d[p] != ' ')
				return fail(c, k,
					    "the key does not begin its line "
					    "(it shares it with '%c'); edit "
					    "the file by hand",
					    d[p]);
		end = after_line(d, len, v->end);
		if (end == len && (len == 0 || d[len - 1] != '\n') && ls > 0) {
			/* The last line, without a line break: take the
			 * break before it instead. */
			ls--;
			if (ls > 0 && d[ls - 1] == '\r')
				ls--;
		}
		sp->at = ls;
		sp->cut = end - ls;
	}
	node_free(k);
	node_free(v);
	memmove(&m->kids[i], &m->kids[i + 2],
		(m->n - i - 2) * sizeof(*m->kids));
	m->n -= 2;
	return 0;
}

/* --- the whole edit ------------------------------------------------------- */

/* The result parses to the original tree as changed in memory. */
static int
check(const struct yfile *want, const char *out, size_t outlen, size_t doc,
      const struct ectx *c)
{
	struct ectx c2 = *c;
	struct err e2;
	struct yfile got;
	const struct ynode *where = NULL;
	int ret = -1;

	c2.e = &e2;
	c2.verb = NULL;
	if (parse(&got, out, outlen, &c2) < 0)
		return fail(c, NULL,
			    "the edited file would not parse (%s); the file "
			    "is left as it was: edit it by hand",
			    e2.msg);
	if (got.n != want->n) {
		fail(c, NULL,
		     "the edited file would have %zu documents, not %zu; "
		     "the file is left as it was: edit it by hand",
		     got.n, want->n);
		goto out;
	}
	for (size_t i = 0; i < got.n; i++) {
		if (node_eq(want->docs[i].root, got.docs[i].root, &where))
			continue;
		if (where)
			err_set(c->e,
				"%s:%u:%u: cannot %s '%s': the edited file "
				"would read differently here (document %zu%s); "
				"the file is left as it was: edit it by hand",
				c->file, where->line, where->col, c->verb,
				c->pointer, i,
				i == doc ? "" : ", which was not edited");
		else
			fail(c, NULL,
			     "the edited file would read differently "
			     "(document %zu); the file is left as it was: "
			     "edit it by hand",
			     i);
		goto out;
	}
	ret = 0;
out:
	yfile_release(&got);
	return ret;
}

static int
edit(char **out, size_t *outlen, const char *file, const char *data, size_t len,
     const struct yamledit_doc *sel, const char *pointer, const json_t *value,
     struct err *e)
{
	struct ectx c = { file ? file : "-", pointer ? pointer : "",
			  value ? "set" : "remove", e };
	struct yfile f;
	struct path p = { { NULL }, 0 };
	struct splice sp;
	struct where w;
	struct strbuf res;
	size_t doc;
	int ret = -1, parsed = 0;

	*out = NULL;
	*outlen = 0;
	strbuf_init(&sp.text, 0);
	strbuf_init(&res, SOURCE_MAX_FILE_BYTES + 4096);
	sp.at = sp.cut = 0;
	if (path_parse(&p, c.pointer, &c) < 0)
		goto out;
	if (parse(&f, data, len, &c) < 0)
		goto out;
	parsed = 1;
	if (select_doc(&doc, &f, sel, &c) < 0)
		goto out;
	if (walk(&w, f.docs[doc].root, &p, value == NULL, &c) < 0)
		goto out;
	switch (w.act) {
	case ACT_REPLACE:
		if (plan_replace(&sp, &w, data, value, &c) < 0)
			goto out;
		break;
	case ACT_INSERT:
		if (plan_insert(&sp, &w, &p, f.docs[doc].root, data, len, value,
				&c) < 0)
			goto out;
		break;
	case ACT_REMOVE:
		if (plan_remove(&sp, &w, data, len, &c) < 0)
			goto out;
		break;
	}
	if (strbuf_add(&res, data, sp.at) < 0 ||
	    strbuf_add(&res, sp.text.buf, sp.text.len) < 0 ||
	    strbuf_add(&res, data + sp.at + sp.cut, len - sp.at - sp.cut) < 0) {
		fail(&c, NULL, "the edited file would be too large");
		goto out;
	}
	if (check(&f, res.buf, res.len, doc, &c) < 0)
		goto out;
	*out = strbuf_detach(&res, outlen);
	ret = 0;
out:
	if (parsed)
		yfile_release(&f);
	path_release(&p);
	strbuf_release(&sp.text);
	strbuf_release(&res);
	return ret;
}

int
yamledit_set(char **out, size_t *outlen, const char *file, const char *data,
	     size_t len, const struct yamledit_doc *doc, const char *pointer,
	     const json_t *value, struct err *e)
{
	if (value == NULL) {
		*out = NULL;
		*outlen = 0;
		return err_set(e, "cannot set '%s' in '%s': no value given",
			       pointer ? pointer : "", file ? file : "-");
	}
	return edit(out, outlen, file, data, len, doc, pointer, value, e);
}

int
yamledit_remove(char **out, size_t *outlen, const char *file, const char *data,
		size_t len, const struct yamledit_doc *doc, const char *pointer,
		struct err *e)
{
	return edit(out, outlen, file, data, len, doc, pointer, NULL, e);
}
