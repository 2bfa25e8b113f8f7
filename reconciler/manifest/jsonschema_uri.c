/*
 * jsonschema_uri.c - what a $ref points at: URI references resolved
 * against base URIs (RFC 3986), the documents and subschemas known by
 * URI, and JSON pointers walked through them.
 */
#include "jsonschema_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../util/url.h"

int
js_uri_has_scheme(const char *s)
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

	if (!js_uri_has_scheme(uri))
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
			      (size_t)(stop - p) :
			      strcspn(p, "/");
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

char *
js_uri_resolve(const char *base, const char *ref)
{
	struct strbuf sb;
	size_t auth = authority_len(base);
	size_t pathend = strcspn(base, "?#");

	strbuf_init(&sb, 0);
	if (js_uri_has_scheme(ref)) {
		strbuf_addstr(&sb, ref);
		remove_dot_segments(&sb, authority_len(ref));
	} else if (ref[0] == '#' || ref[0] == '\0') {
		strbuf_add(&sb, base, strcspn(base, "#"));
		strbuf_addstr(&sb, ref);
	} else if (ref[0] == '/' && ref[1] == '/') {
		if (js_uri_has_scheme(base))
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
	return url_unescape(s, strlen(s), 1);
}

const char *
js_intern(struct jsonschema *s, char *str)
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

const struct resource *
js_resource_find(const struct jsonschema *s, const char *uri, size_t len)
{
	for (size_t i = 0; i < s->nres; i++)
		if (strlen(s->res[i].uri) == len &&
		    memcmp(s->res[i].uri, uri, len) == 0)
			return &s->res[i];
	return NULL;
}

void
js_resource_put(struct jsonschema *s, const char *uri, json_t *json,
		const char *base)
{
	struct resource *r;

	if (js_resource_find(s, uri, strlen(uri)))
		return;
	xgrow(&s->res, &s->ares, s->nres + 1, sizeof(*s->res));
	r = &s->res[s->nres++];
	r->uri = xstrdup(uri);
	r->json = json;
	r->base = base;
}

void
js_pointer_add_token(struct strbuf *sb, const char *s)
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

json_t *
js_pointer_get(json_t *j, const char *ptr, struct jsonschema *s,
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
			char *abs = js_uri_resolve(*base,
						   json_string_value(id));

			abs[strcspn(abs, "#")] = '\0';
			*base = js_intern(s, abs);
		}
	}
	if (key != stackbuf)
		free(key);
	return j;
}

int
js_ref_lookup(struct jsonschema *s, const char *ref, json_t **out,
	      const char **base)
{
	const char *hash = strchr(ref, '#');
	size_t doclen = hash ? (size_t)(hash - ref) : strlen(ref);
	const struct resource *r = js_resource_find(s, ref, doclen);
	char *frag;

	*out = NULL;
	if (r == NULL)
		return 0;
	*out = r->json;
	*base = r->base;
	if (hash == NULL || hash[1] == '\0')
		return 1;
	frag = pct_decode(hash + 1);
	if (frag == NULL) {
		*out = NULL;
	} else if (frag[0] == '/') {
		*out = js_pointer_get(r->json, frag, s, base);
	} else { /* "#name": a subschema's $id, already known */
		r = js_resource_find(s, ref, strlen(ref));
		*out = r ? r->json : NULL;
	}
	free(frag);
	return *out ? 1 : -1;
}
