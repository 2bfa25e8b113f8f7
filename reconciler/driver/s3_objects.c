/*
 * s3_objects.c - objects in S3 for backups and restores (blob.h), on the
 * S3 driver's connection and signing (s3_internal.h).
 *
 * Uploads of unknown size are multipart: initiate (POST ?uploads), one
 * PUT ?partNumber=N&uploadId=ID per BLOB_PART_SIZE bytes (the last part
 * may be smaller; S3's minimum for the others is 5 MiB), sent by a thread
 * of the upload while the next part fills (see "multipart" below),
 * complete (POST ?uploadId=ID with the parts' ETags). Downloads stream
 * through the request's sink.
 */
#include "blob.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"
#include "s3xml.h"

struct blob {
	struct s3 *c;
};

int
blob_open(struct blob **out, const struct driver_env *env, struct err *e)
{
	void *h = NULL;

	*out = NULL;
	if (driver_s3.open(&h, env, e) < 0)
		return -1;
	*out = xcalloc(1, sizeof(**out));
	(*out)->c = h;
	return 0;
}

void
blob_close(struct blob *b)
{
	if (!b)
		return;
	driver_s3.close(b->c);
	free(b);
}

int
blob_bucket_ensure(struct blob *b, const char *bucket, struct err *e)
{
	return s3_bucket_own(b->c, bucket, e);
}

/* One request without a body to keep; 0 with *status, or -1. */
static int
simple(struct blob *b, struct s3_req *r, struct s3_resp *resp, const char *what,
       struct err *e)
{
	s3_resp_init(resp);
	return s3_send(b->c, r, resp, what, e);
}

int
blob_put(struct blob *b, const char *bucket, const char *key, const void *data,
	 size_t len, struct err *e)
{
	struct s3_req r = { .method = "PUT",
			    .bucket = bucket,
			    .key = key,
			    .body = data,
			    .len = len,
			    .content_type = "application/octet-stream" };
	struct s3_resp resp;
	char what[512];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot store '%s/%s'", bucket, key);
	if (simple(b, &r, &resp, what, e) == 0)
		ret = resp.status == 200 ? 0 : s3_fail(e, what, &resp);
	strbuf_release(&resp.body);
	return ret;
}

int
blob_head(struct blob *b, const char *bucket, const char *key, long long *size,
	  char etag[96], struct err *e)
{
	struct s3_req r = { .method = "HEAD", .bucket = bucket, .key = key };
	struct s3_resp resp;
	char what[512];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot look up '%s/%s'", bucket, key);
	if (simple(b, &r, &resp, what, e) == 0) {
		if (resp.status == 200) {
			*size = resp.length;
			if (etag)
				snprintf(etag, 96, "%s", resp.etag);
			ret = 0;
		} else if (resp.status == 404) {
			ret = 1;
		} else {
			s3_fail(e, what, &resp);
		}
	}
	strbuf_release(&resp.body);
	return ret;
}

int
blob_get(struct blob *b, const char *bucket, const char *key, blob_sink sink,
	 void *arg, struct err *e)
{
	struct err sink_err = { .msg = "" };
	struct s3_req r = { .method = "GET",
			    .bucket = bucket,
			    .key = key,
			    .sink = sink,
			    .sink_arg = arg,
			    .sink_err = &sink_err };
	struct s3_resp resp;
	char what[512];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot read '%s/%s'", bucket, key);
	if (simple(b, &r, &resp, what, e) == 0) {
		if (resp.status == 200)
			ret = 0;
		else if (resp.status == 404)
			ret = 1;
		else
			s3_fail(e, what, &resp);
	} else if (resp.sink_failed && e) {
		*e = sink_err;
	}
	strbuf_release(&resp.body);
	return ret;
}

int
blob_list(struct blob *b, const char *bucket, const char *prefix,
	  int (*each)(void *arg, const char *key, long long size,
		      const char *etag, struct err *e),
	  void *arg, struct err *e)
{
	struct s3xml_objects page;
	struct s3_resp resp;
	char what[512], *token = NULL;
	int ret = -1, r;

	snprintf(what, sizeof(what), "cannot list '%s/%s'", bucket,
		 prefix ? prefix : "");
	s3xml_objects_init(&page);
	s3_resp_init(&resp);
	b->c->list_prefix = prefix;
	for (;;) {
		r = s3_list_page(b->c, bucket, token, 1000, &page, &resp, what,
				 e);
		if (r != 0) {
			ret = r;
			goto out;
		}
		for (size_t i = 0; i < page.n; i++)
			if (each(arg, page.v[i].key, page.v[i].size,
				 page.v[i].etag ? page.v[i].etag : "", e) < 0)
				goto out;
		if (!page.truncated)
			break;
		free(token);
		token = page.next_token;
		page.next_token = NULL;
	}
	ret = 0;
out:
	b->c->list_prefix = NULL;
	free(token);
	s3xml_objects_release(&page);
	strbuf_release(&resp.body);
	return ret;
}

int
blob_delete(struct blob *b, const char *bucket, const char *key, struct err *e)
{
	struct s3_req r = { .method = "DELETE", .bucket = bucket, .key = key };
	struct s3_resp resp;
	char what[512];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot delete '%s/%s'", bucket, key);
	if (simple(b, &r, &resp, what, e) == 0)
		ret = resp.status == 204 || resp.status == 200 ||
				      resp.status == 404 ?
			      0 :
			      s3_fail(e, what, &resp);
	strbuf_release(&resp.body);
	return ret;
}

/* --- multipart ------------------------------------------------------- */

/*
 * Parts are sent by a thread of the upload's own (its own connection,
 * s3_worker_open) while the caller fills the next part: the caller's
 * writes (a pipe from pg_dump) never wait for a PUT unless UPLOAD_BUFS
 * parts are full or in flight. The sender takes the parts in order, one
 * PUT at a time, so part numbers and ETags stay in sequence. Its first
 * error stops it; the caller gets that error from its next write, or
 * from finish. The thread starts with the second part: an object of one
 * part is sent on the caller's connection, as before.
 */
#define UPLOAD_BUFS 3 /* one filling, up to two queued or in flight */

struct part {
	unsigned char *buf;
	size_t len;
};

struct blob_upload {
	struct blob *b;
	char *bucket, *key, *id;
	unsigned char *buf; /* the part being filled, or NULL */
	size_t len;
	unsigned char *bufs[UPLOAD_BUFS]; /* every buffer, for the free */
	size_t nbufs;

	/* Shared with the sender, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct part queue[UPLOAD_BUFS]; /* full parts, oldest first */
	size_t qn;
	unsigned char *spare[UPLOAD_BUFS]; /* sent, to refill */
	size_t nspare;
	int closing;  /* no more parts come: exit once the queue is empty */
	int stopping; /* abort: drop the queue, exit after the PUT in flight */
	int failed;   /* the sender stopped on err */
	struct err err;
	char **etags; /* one per part sent, in order */
	size_t nparts, aparts;
	long long size;

	pthread_t tid;
	int started;	/* tid runs (and mu, cv are set up) */
	struct s3 conn; /* the sender's */
};

/* "uploadId=<escaped>" (and the part number first: the query must be in
 * canonical order). */
static int
upload_query(struct s3 *c, const struct blob_upload *u, struct strbuf *q,
	     size_t part)
{
	strbuf_reset(q);
	if (part)
		strbuf_addf(q, "partNumber=%zu&", part);
	strbuf_addstr(q, "uploadId=");
	return s3_escape(c, q, u->id, 0);
}

/* Stop the sender (dropping what is queued when stop), wait for it. */
static void
sender_join(struct blob_upload *u, int stop)
{
	if (!u->started)
		return;
	pthread_mutex_lock(&u->mu);
	u->closing = 1;
	if (stop)
		u->stopping = 1;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	pthread_join(u->tid, NULL);
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	s3_worker_close(&u->conn);
	u->started = 0;
}

static void
upload_free(struct blob_upload *u)
{
	if (!u)
		return;
	sender_join(u, 1);
	for (size_t i = 0; i < u->nparts; i++)
		free(u->etags[i]);
	free(u->etags);
	free(u->bucket);
	free(u->key);
	free(u->id);
	for (size_t i = 0; i < u->nbufs; i++)
		free(u->bufs[i]);
	free(u);
}

const char *
blob_upload_id(const struct blob_upload *u)
{
	return u->id;
}

int
blob_upload_begin(struct blob *b, const char *bucket, const char *key,
		  struct blob_upload **out, struct err *e)
{
	struct s3_req r = { .method = "POST",
			    .bucket = bucket,
			    .key = key,
			    .query = "uploads=",
			    .body = "",
			    .len = 0,
			    .content_type = "application/octet-stream" };
	struct blob_upload *u;
	struct s3_resp resp;
	char what[512];
	int ret = -1;

	*out = NULL;
	snprintf(what, sizeof(what), "cannot start an upload of '%s/%s'",
		 bucket, key);
	u = xcalloc(1, sizeof(*u));
	u->b = b;
	u->bucket = xstrdup(bucket);
	u->key = xstrdup(key);
	if (simple(b, &r, &resp, what, e) < 0)
		goto out;
	if (resp.status != 200) {
		s3_fail(e, what, &resp);
		goto out;
	}
	if (s3xml_parse_initiate(&u->id, resp.body.buf, resp.body.len, e) < 0) {
		err_wrap(e, "%s", what);
		goto out;
	}
	u->buf = u->bufs[u->nbufs++] = xmalloc(BLOB_PART_SIZE);
	*out = u;
	u = NULL;
	ret = 0;
out:
	upload_free(u);
	strbuf_release(&resp.body);
	return ret;
}

/* PUT buf as part number part on connection c; its ETag (a new string)
 * into *etag. */
static int
send_part(struct s3 *c, const struct blob_upload *u, const unsigned char *buf,
	  size_t len, size_t part, char **etag, struct err *e)
{
	struct s3_req r = { .method = "PUT",
			    .bucket = u->bucket,
			    .key = u->key,
			    .body = (const char *)buf,
			    .len = len,
			    .content_type = "application/octet-stream" };
	struct s3_resp resp;
	struct strbuf q;
	char what[512];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot upload part %zu of '%s/%s'", part,
		 u->bucket, u->key);
	strbuf_init(&q, 0);
	s3_resp_init(&resp);
	if (upload_query(c, u, &q, part) < 0) {
		err_set(e, "%s: upload id too long", what);
		goto out;
	}
	r.query = q.buf;
	if (s3_send(c, &r, &resp, what, e) < 0)
		goto out;
	if (resp.status != 200) {
		s3_fail(e, what, &resp);
		goto out;
	}
	if (!resp.etag[0]) {
		err_set(e, "%s: the answer has no ETag", what);
		goto out;
	}
	*etag = xstrdup(resp.etag);
	ret = 0;
out:
	strbuf_release(&q);
	strbuf_release(&resp.body);
	return ret;
}

/* A part sent: its ETag kept, in order (mu held, or no sender). */
static void
part_sent(struct blob_upload *u, char *etag, size_t len)
{
	xgrow(&u->etags, &u->aparts, u->nparts + 1, sizeof(*u->etags));
	u->etags[u->nparts++] = etag;
	u->size += (long long)len;
}

static void *
sender_main(void *arg)
{
	struct blob_upload *u = arg;
	struct err e = { .msg = "" };

	pthread_mutex_lock(&u->mu);
	for (;;) {
		struct part p;
		char *etag = NULL;
		int rc;

		while (u->qn == 0 && !u->closing)
			pthread_cond_wait(&u->cv, &u->mu);
		if (u->stopping || u->qn == 0)
			break;
		p = u->queue[0];
		pthread_mutex_unlock(&u->mu);
		rc = send_part(&u->conn, u, p.buf, p.len, u->nparts + 1, &etag,
			       &e);
		pthread_mutex_lock(&u->mu);
		u->qn--;
		memmove(u->queue, u->queue + 1, u->qn * sizeof(*u->queue));
		u->spare[u->nspare++] = p.buf;
		if (rc < 0) {
			u->failed = 1;
			u->err = e;
		} else {
			part_sent(u, etag, p.len);
		}
		pthread_cond_broadcast(&u->cv);
		if (rc < 0)
			break;
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

static int
sender_start(struct blob_upload *u, struct err *e)
{
	if (s3_worker_open(&u->conn, u->b->c, e) < 0) {
		s3_worker_close(&u->conn);
		return err_wrap(e, "cannot upload '%s/%s'", u->bucket, u->key);
	}
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	if (pthread_create(&u->tid, NULL, sender_main, u) != 0) {
		pthread_cond_destroy(&u->cv);
		pthread_mutex_destroy(&u->mu);
		s3_worker_close(&u->conn);
		return err_set(e,
			       "cannot upload '%s/%s': cannot start a thread",
			       u->bucket, u->key);
	}
	u->started = 1;
	return 0;
}

/* Hand the part being filled to the sender; u->buf is NULL after. The
 * sender's error, when it stopped on one. */
static int
hand_over(struct blob_upload *u, struct err *e)
{
	int ret = 0;

	if (!u->started && sender_start(u, e) < 0)
		return -1;
	pthread_mutex_lock(&u->mu);
	if (u->failed) {
		if (e)
			*e = u->err;
		ret = -1;
	} else {
		u->queue[u->qn++] = (struct part){ u->buf, u->len };
		u->buf = NULL;
		u->len = 0;
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->mu);
	return ret;
}

/* A buffer to fill: a new one while fewer than UPLOAD_BUFS exist, else
 * the first the sender gives back. */
static int
next_buffer(struct blob_upload *u, struct err *e)
{
	int ret = 0;

	if (u->nbufs < UPLOAD_BUFS) {
		u->buf = u->bufs[u->nbufs++] = xmalloc(BLOB_PART_SIZE);
		return 0;
	}
	pthread_mutex_lock(&u->mu);
	while (u->nspare == 0 && !u->failed)
		pthread_cond_wait(&u->cv, &u->mu);
	if (u->failed) {
		if (e)
			*e = u->err;
		ret = -1;
	} else {
		u->buf = u->spare[--u->nspare];
	}
	pthread_mutex_unlock(&u->mu);
	return ret;
}

int
blob_upload_write(struct blob_upload *u, const void *data, size_t len,
		  struct err *e)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n;

		if (!u->buf && next_buffer(u, e) < 0)
			return -1;
		n = BLOB_PART_SIZE - u->len;
		if (n > len)
			n = len;
		memcpy(u->buf + u->len, p, n);
		u->len += n;
		p += n;
		len -= n;
		if (u->len == BLOB_PART_SIZE && hand_over(u, e) < 0)
			return -1;
	}
	return 0;
}

/* Every part sent: the last one (possibly the only one, possibly empty)
 * handed over, the sender drained and stopped. */
static int
send_all(struct blob_upload *u, struct err *e)
{
	char *etag = NULL;

	if (!u->started) {
		/* One part: on the caller's connection. */
		if (send_part(u->b->c, u, u->buf ? u->buf : (unsigned char *)"",
			      u->len, 1, &etag, e) < 0)
			return -1;
		part_sent(u, etag, u->len);
		u->len = 0;
		return 0;
	}
	if (u->len > 0 && hand_over(u, e) < 0)
		return -1;
	sender_join(u, 0);
	if (u->failed) {
		if (e)
			*e = u->err;
		return -1;
	}
	return 0;
}

/* Append s with the XML special characters escaped. */
static void
xml_text(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			strbuf_addstr(sb, "&amp;");
		else if (*s == '<')
			strbuf_addstr(sb, "&lt;");
		else if (*s == '>')
			strbuf_addstr(sb, "&gt;");
		else if (*s == '"')
			strbuf_addstr(sb, "&quot;");
		else
			strbuf_addch(sb, *s);
	}
}

int
blob_upload_finish(struct blob_upload *u, long long *size, struct err *e)
{
	struct s3_req r = { .method = "POST",
			    .bucket = u->bucket,
			    .key = u->key };
	struct s3xml_error x;
	struct s3_resp resp;
	struct strbuf q, body;
	char what[512];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot complete the upload of '%s/%s'",
		 u->bucket, u->key);
	strbuf_init(&q, 0);
	strbuf_init(&body, 0);
	s3_resp_init(&resp);
	if (send_all(u, e) < 0)
		goto out;
	strbuf_addstr(&body, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < u->nparts; i++) {
		strbuf_addf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>",
			    i + 1);
		xml_text(&body, u->etags[i]);
		strbuf_addstr(&body, "</ETag></Part>");
	}
	strbuf_addstr(&body, "</CompleteMultipartUpload>");
	if (upload_query(u->b->c, u, &q, 0) < 0) {
		err_set(e, "%s: upload id too long", what);
		goto out;
	}
	r.query = q.buf;
	r.body = body.buf;
	r.len = body.len;
	if (s3_send(u->b->c, &r, &resp, what, e) < 0)
		goto out;
	/* S3 may answer 200 and an <Error> document. */
	if (resp.status != 200 ||
	    s3xml_parse_error(&x, resp.body.buf, resp.body.len) == 0) {
		s3_fail(e, what, &resp);
		goto out;
	}
	if (size)
		*size = u->size;
	ret = 0;
out:
	strbuf_release(&q);
	strbuf_release(&body);
	strbuf_release(&resp.body);
	upload_free(u);
	return ret;
}

int
blob_abort_upload(struct blob *b, const char *bucket, const char *key,
		  const char *id, struct err *e)
{
	struct s3_req r = { .method = "DELETE", .bucket = bucket, .key = key };
	struct s3_resp resp;
	struct strbuf q;
	char what[512];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot abort the upload of '%s/%s'",
		 bucket, key);
	strbuf_init(&q, 0);
	s3_resp_init(&resp);
	strbuf_addstr(&q, "uploadId=");
	if (s3_escape(b->c, &q, id, 0) < 0) {
		err_set(e, "%s: upload id too long", what);
		goto out;
	}
	r.query = q.buf;
	if (s3_send(b->c, &r, &resp, what, e) < 0)
		goto out;
	if (resp.status == 204 || resp.status == 200 || resp.status == 404)
		ret = 0; /* NoSuchUpload, NoSuchBucket: nothing to abort */
	else if (resp.status == 405 || resp.status == 501 ||
		 s3_is_code(&resp, "NotImplemented"))
		ret = 1;
	else
		s3_fail(e, what, &resp);
out:
	strbuf_release(&q);
	strbuf_release(&resp.body);
	return ret;
}

int
blob_upload_abort(struct blob_upload *u, char **left, struct err *e)
{
	int ret;

	/* The part in flight ends first: S3 may keep a part whose PUT
	 * completes after the abort. */
	sender_join(u, 1);
	ret = blob_abort_upload(u->b, u->bucket, u->key, u->id, e);

	*left = ret == 1 ? xstrdup(u->id) : NULL; /* the caller records it */
	upload_free(u);
	return ret;
}
