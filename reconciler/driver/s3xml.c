/*
 * s3xml.c - the S3 response parsers (s3xml.h): libexpat with a small,
 * flat driver. No recursion; nesting, text and entry counts are bounded;
 * no DOCTYPE and no entity declarations. Each parser is a callback at
 * the end of every element that looks at the element's path below the
 * root ("Buckets/Bucket/Name") and takes what it needs.
 */
#include "s3xml.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "../util/strbuf.h"

#define XP_NAME 32 /* longer element names are none of ours */

struct xp {
	XML_Parser p;
	const char *root;		      /* the expected root element */
	int depth;			      /* open elements */
	char names[S3XML_MAX_DEPTH][XP_NAME]; /* local names, root first */
	struct strbuf text;		     /* character data of the element */
	int (*end)(struct xp *x, void *ctx); /* at each end tag */
	void *ctx;
	char fail[160]; /* why a handler stopped the parse */
};

void
s3xml_clean(char *dst, size_t n, const char *src, size_t len)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < len && i + 1 < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[i] = '\0';
}

/* Stop the parse with a reason (the first one wins). */
static void
xp_stop(struct xp *x, const char *why)
{
	if (!x->fail[0])
		snprintf(x->fail, sizeof(x->fail), "%s", why);
	XML_StopParser(x->p, XML_FALSE);
}

static const char *
local_name(const char *name)
{
	const char *colon = strrchr(name, ':');

	return colon ? colon + 1 : name;
}

static void XMLCALL
xp_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xp *x = ud;
	const char *local = local_name(name);
	size_t len = strlen(local);

	(void)attrs;
	if (x->fail[0])
		return;
	if (x->depth >= S3XML_MAX_DEPTH) {
		xp_stop(x, "elements nested too deeply");
		return;
	}
	if (x->depth == 0 && strcmp(local, x->root) != 0) {
		char got[XP_NAME], why[128];

		s3xml_clean(got, sizeof(got), local, len);
		snprintf(why, sizeof(why), "root element is <%s>, want <%s>",
			 got, x->root);
		xp_stop(x, why);
		return;
	}
	/* An empty name matches no pattern: element names are never empty. */
	if (len < XP_NAME)
		memcpy(x->names[x->depth], local, len + 1);
	else
		x->names[x->depth][0] = '\0';
	x->depth++;
	strbuf_reset(&x->text);
}

static void XMLCALL
xp_end(void *ud, const XML_Char *name)
{
	struct xp *x = ud;

	(void)name;
	if (x->fail[0])
		return;
	if (x->end(x, x->ctx) < 0) {
		XML_StopParser(x->p, XML_FALSE);
		return;
	}
	x->depth--;
	strbuf_reset(&x->text);
}

static void XMLCALL
xp_text(void *ud, const XML_Char *s, int len)
{
	struct xp *x = ud;

	if (x->fail[0] || len <= 0)
		return;
	if (strbuf_add(&x->text, s, (size_t)len) < 0)
		xp_stop(x, "text node too long");
}

static void XMLCALL
xp_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
	   const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xp_stop(ud, "DOCTYPE not allowed");
}

static void XMLCALL
xp_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
	  int value_len, const XML_Char *base, const XML_Char *sysid,
	  const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	xp_stop(ud, "entity declarations not allowed");
}

/*
 * Whether the element being closed is at path below the root, written
 * "Buckets/Bucket/Name" (the root itself is "").
 */
static int
xp_at(const struct xp *x, const char *path)
{
	int i = 1;

	if (!*path)
		return x->depth == 1;
	for (;;) {
		const char *slash = strchr(path, '/');
		size_t n = slash ? (size_t)(slash - path) : strlen(path);

		if (i >= x->depth || strlen(x->names[i]) != n ||
		    memcmp(x->names[i], path, n) != 0)
			return 0;
		i++;
		if (!slash)
			return i == x->depth;
		path = slash + 1;
	}
}

/* A new string with the text of the element being closed. */
static char *
xp_take(const struct xp *x)
{
	return xstrndup(x->text.buf, x->text.len);
}

static void
xp_replace(char **slot, const struct xp *x)
{
	free(*slot);
	*slot = xp_take(x);
}

static int
xp_parse(const char *root, int (*end)(struct xp *, void *), void *ctx,
	 const char *xml, size_t len, struct err *e)
{
	struct xp x;
	int ret = -1;

	memset(&x, 0, sizeof(x));
	x.root = root;
	x.end = end;
	x.ctx = ctx;
	strbuf_init(&x.text, S3XML_MAX_TEXT);
	if (len > INT_MAX)
		return err_set(e, "XML response too large (%zu bytes)", len);
	x.p = XML_ParserCreate(NULL);
	if (x.p == NULL)
		return err_set(e, "cannot create an XML parser: out of memory");
	XML_SetUserData(x.p, &x);
	XML_SetElementHandler(x.p, xp_start, xp_end);
	XML_SetCharacterDataHandler(x.p, xp_text);
	XML_SetStartDoctypeDeclHandler(x.p, xp_doctype);
	XML_SetEntityDeclHandler(x.p, xp_entity);
	if (XML_Parse(x.p, xml ? xml : "", (int)len, 1) != XML_STATUS_OK ||
	    x.fail[0]) {
		if (x.fail[0])
			err_set(e, "malformed XML response: %s", x.fail);
		else
			err_set(e, "malformed XML response: %s at line %lu",
				XML_ErrorString(XML_GetErrorCode(x.p)),
				(unsigned long)XML_GetCurrentLineNumber(x.p));
		goto out;
	}
	ret = 0;
out:
	XML_ParserFree(x.p);
	strbuf_release(&x.text);
	return ret;
}

static int
xp_full(struct xp *x, size_t n)
{
	if (n < S3XML_MAX_ITEMS)
		return 0;
	snprintf(x->fail, sizeof(x->fail), "more than %d entries",
		 S3XML_MAX_ITEMS);
	return -1;
}

/* --- ListBuckets --- */

struct lb_ctx {
	struct s3xml_buckets *out;
	char *name, *created;
};

static int
lb_end(struct xp *x, void *ctx)
{
	struct lb_ctx *c = ctx;
	struct s3xml_buckets *out = c->out;

	if (xp_at(x, "Buckets/Bucket/Name")) {
		xp_replace(&c->name, x);
	} else if (xp_at(x, "Buckets/Bucket/CreationDate")) {
		xp_replace(&c->created, x);
	} else if (xp_at(x, "Buckets/Bucket")) {
		if (!c->name || !*c->name) {
			snprintf(x->fail, sizeof(x->fail),
				 "<Bucket> without a <Name>");
			return -1;
		}
		if (xp_full(x, out->n) < 0)
			return -1;
		xgrow(&out->v, &out->alloc, out->n + 1, sizeof(*out->v));
		out->v[out->n].name = c->name;
		out->v[out->n].created = c->created;
		out->n++;
		c->name = c->created = NULL;
	} else if (xp_at(x, "ContinuationToken")) {
		xp_replace(&out->next_token, x);
	}
	return 0;
}

void
s3xml_buckets_init(struct s3xml_buckets *b)
{
	memset(b, 0, sizeof(*b));
}

void
s3xml_buckets_release(struct s3xml_buckets *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].name);
		free(b->v[i].created);
	}
	free(b->v);
	free(b->next_token);
	s3xml_buckets_init(b);
}

int
s3xml_parse_list_buckets(struct s3xml_buckets *out, const char *xml, size_t len,
			 struct err *e)
{
	struct lb_ctx c = { .out = out };
	int ret;

	ret = xp_parse("ListAllMyBucketsResult", lb_end, &c, xml, len, e);
	free(c.name);
	free(c.created);
	return ret;
}

/* --- ListObjectsV2 --- */

struct lo_ctx {
	struct s3xml_objects *out;
	char *key, *etag;
	long long size;
};

/* A non-negative decimal integer, nothing else. */
static int
parse_size(const char *s, long long *out)
{
	long long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (LLONG_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

static int
is_true(const struct xp *x)
{
	return strcmp(x->text.buf, "true") == 0;
}

static int
lo_end(struct xp *x, void *ctx)
{
	struct lo_ctx *c = ctx;
	struct s3xml_objects *out = c->out;

	if (xp_at(x, "Contents/Key")) {
		xp_replace(&c->key, x);
	} else if (xp_at(x, "Contents/ETag")) {
		xp_replace(&c->etag, x);
	} else if (xp_at(x, "Contents/Size")) {
		if (parse_size(x->text.buf, &c->size) < 0) {
			snprintf(x->fail, sizeof(x->fail),
				 "<Size> is not a byte count");
			return -1;
		}
	} else if (xp_at(x, "Contents")) {
		if (!c->key || !*c->key) {
			snprintf(x->fail, sizeof(x->fail),
				 "<Contents> without a <Key>");
			return -1;
		}
		if (xp_full(x, out->n) < 0)
			return -1;
		xgrow(&out->v, &out->alloc, out->n + 1, sizeof(*out->v));
		out->v[out->n].key = c->key;
		out->v[out->n].etag = c->etag;
		out->v[out->n].size = c->size;
		out->n++;
		c->key = c->etag = NULL;
		c->size = 0;
	} else if (xp_at(x, "IsTruncated")) {
		out->truncated = is_true(x);
	} else if (xp_at(x, "NextContinuationToken")) {
		xp_replace(&out->next_token, x);
	}
	return 0;
}

void
s3xml_objects_init(struct s3xml_objects *o)
{
	memset(o, 0, sizeof(*o));
}

void
s3xml_objects_release(struct s3xml_objects *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].key);
		free(o->v[i].etag);
	}
	free(o->v);
	free(o->next_token);
	s3xml_objects_init(o);
}

int
s3xml_parse_list_objects(struct s3xml_objects *out, const char *xml, size_t len,
			 struct err *e)
{
	struct lo_ctx c = { .out = out };
	int ret;

	ret = xp_parse("ListBucketResult", lo_end, &c, xml, len, e);
	free(c.key);
	free(c.etag);
	return ret;
}

/* --- ListMultipartUploads --- */

struct lu_ctx {
	struct s3xml_uploads *out;
	char *key, *upload_id;
};

static int
lu_end(struct xp *x, void *ctx)
{
	struct lu_ctx *c = ctx;
	struct s3xml_uploads *out = c->out;

	if (xp_at(x, "Upload/Key")) {
		xp_replace(&c->key, x);
	} else if (xp_at(x, "Upload/UploadId")) {
		xp_replace(&c->upload_id, x);
	} else if (xp_at(x, "Upload")) {
		if (!c->key || !*c->key || !c->upload_id || !*c->upload_id) {
			snprintf(x->fail, sizeof(x->fail),
				 "<Upload> without a <Key> and <UploadId>");
			return -1;
		}
		if (xp_full(x, out->n) < 0)
			return -1;
		xgrow(&out->v, &out->alloc, out->n + 1, sizeof(*out->v));
		out->v[out->n].key = c->key;
		out->v[out->n].upload_id = c->upload_id;
		out->n++;
		c->key = c->upload_id = NULL;
	} else if (xp_at(x, "IsTruncated")) {
		out->truncated = is_true(x);
	} else if (xp_at(x, "NextKeyMarker")) {
		xp_replace(&out->next_key_marker, x);
	} else if (xp_at(x, "NextUploadIdMarker")) {
		xp_replace(&out->next_upload_id_marker, x);
	}
	return 0;
}

void
s3xml_uploads_init(struct s3xml_uploads *u)
{
	memset(u, 0, sizeof(*u));
}

void
s3xml_uploads_release(struct s3xml_uploads *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].key);
		free(u->v[i].upload_id);
	}
	free(u->v);
	free(u->next_key_marker);
	free(u->next_upload_id_marker);
	s3xml_uploads_init(u);
}

int
s3xml_parse_list_uploads(struct s3xml_uploads *out, const char *xml, size_t len,
			 struct err *e)
{
	struct lu_ctx c = { .out = out };
	int ret;

	ret = xp_parse("ListMultipartUploadsResult", lu_end, &c, xml, len, e);
	free(c.key);
	free(c.upload_id);
	return ret;
}

/* --- DeleteObjects result --- */

struct dr_ctx {
	struct s3xml_delete *out;
	char *key, *code, *message;
};

static int
dr_end(struct xp *x, void *ctx)
{
	struct dr_ctx *c = ctx;
	struct s3xml_delete *out = c->out;

	if (xp_at(x, "Error/Key")) {
		xp_replace(&c->key, x);
	} else if (xp_at(x, "Error/Code")) {
		xp_replace(&c->code, x);
	} else if (xp_at(x, "Error/Message")) {
		xp_replace(&c->message, x);
	} else if (xp_at(x, "Error")) {
		if (xp_full(x, out->n) < 0)
			return -1;
		xgrow(&out->v, &out->alloc, out->n + 1, sizeof(*out->v));
		out->v[out->n].key = c->key ? c->key : xstrdup("");
		out->v[out->n].code = c->code;
		out->v[out->n].message = c->message;
		out->n++;
		c->key = c->code = c->message = NULL;
	} else if (xp_at(x, "Deleted")) {
		out->deleted++;
	}
	return 0;
}

void
s3xml_delete_init(struct s3xml_delete *d)
{
	memset(d, 0, sizeof(*d));
}

void
s3xml_delete_release(struct s3xml_delete *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].key);
		free(d->v[i].code);
		free(d->v[i].message);
	}
	free(d->v);
	s3xml_delete_init(d);
}

int
s3xml_parse_delete_result(struct s3xml_delete *out, const char *xml, size_t len,
			  struct err *e)
{
	struct dr_ctx c = { .out = out };
	int ret;

	ret = xp_parse("DeleteResult", dr_end, &c, xml, len, e);
	free(c.key);
	free(c.code);
	free(c.message);
	return ret;
}

/* --- Error --- */

static int
er_end(struct xp *x, void *ctx)
{
	struct s3xml_error *out = ctx;

	if (xp_at(x, "Code"))
		s3xml_clean(out->code, sizeof(out->code), x->text.buf,
			    x->text.len);
	else if (xp_at(x, "Message"))
		s3xml_clean(out->message, sizeof(out->message), x->text.buf,
			    x->text.len);
	return 0;
}

int
s3xml_parse_error(struct s3xml_error *out, const char *xml, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return -1;
	if (xp_parse("Error", er_end, out, xml, len, NULL) < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* --- InitiateMultipartUpload ---------------------------------------- */

static int
iu_end(struct xp *x, void *ctx)
{
	char **id = ctx;

	if (xp_at(x, "UploadId"))
		xp_replace(id, x);
	return 0;
}

int
s3xml_parse_initiate(char **upload_id, const char *xml, size_t len,
		     struct err *e)
{
	*upload_id = NULL;
	if (xp_parse("InitiateMultipartUploadResult", iu_end, upload_id, xml,
		     len, e) < 0) {
		free(*upload_id);
		*upload_id = NULL;
		return -1;
	}
	if (!*upload_id || !**upload_id) {
		free(*upload_id);
		*upload_id = NULL;
		return err_set(e, "the answer has no <UploadId>");
	}
	return 0;
}
