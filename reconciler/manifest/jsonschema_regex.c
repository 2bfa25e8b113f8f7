/*
 * jsonschema_regex.c - the ECMA-262 patterns of "pattern" and
 * "patternProperties", compiled once and run by PCRE2 (docs/jsonschema.md
 * says where the two still differ).
 */
#include "jsonschema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Bounds on one regex match, so that a pattern that backtracks badly
 * cannot run away on a hostile value: the match fails with an error.
 */
#define REGEX_MATCH_LIMIT 1000000 /* backtracking steps */
#define REGEX_DEPTH_LIMIT 100000  /* nested backtracking points */
#define REGEX_HEAP_LIMIT 32768	  /* KiB of backtracking memory */

/*
 * ECMA-262 semantics where PCRE2 has a switch for them: \uHHHH and \xHH,
 * "[]" and "[^]", "$" only at the end, a backreference to a group that
 * did not take part matches the empty string. \C would split characters.
 */
#define REGEX_OPTIONS                                           \
	(PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS | \
	 PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_UNSET_BACKREF |     \
	 PCRE2_NEVER_BACKSLASH_C)

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
void
js_regex_env_init(struct regex_env *env)
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

void
js_regex_env_release(struct regex_env *env)
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

int
js_regex_compile(struct regex *rx, const struct regex_env *env, const char *src,
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

void
js_regex_release(struct regex *rx)
{
	pcre2_code_free(rx->code);
	rx->code = NULL;
}

int
js_regex_match(const struct regex *rx, const struct regex_env *env,
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

void
js_regex_error(char *buf, size_t len, int rc)
{
	if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)buf, len) < 0)
		snprintf(buf, len, "error %d", rc);
}
