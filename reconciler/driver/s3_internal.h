/*
 * s3_internal.h - what s3.c (buckets, the driver) and s3_objects.c
 * (objects, for backups: driver/blob.h) share: the connection and one
 * signed request. Internal to driver/.
 */
#ifndef PRESS_S3_INTERNAL_H
#define PRESS_S3_INTERNAL_H

#include <stddef.h>

#include <curl/curl.h>

#include "s3xml.h"
#include "../util/err.h"
#include "../util/strbuf.h"

#define S3_MAX_BODY ((size_t)64 << 20) /* one listing page is ~0.5 MiB */
#define MARK_KEY ".press-owner"	       /* a bucket's ownership mark */

struct s3 {
	CURL *curl;
	/* Settings, owned by the handle opened by s3_open and borrowed by
	 * the measuring workers' copies. */
	char *endpoint; /* without a trailing '/' */
	char *region;
	char *sigv4;		       /* "aws:amz:<region>:s3" */
	char *access_key, *secret_key; /* wiped on close */
	long timeout_ms;
	int no_multi_delete;	 /* DeleteObjects not implemented */
	char *platform;		 /* for the ownership mark */
	const char *list_prefix; /* s3_list_page lists only these keys */
	char errbuf[CURL_ERROR_SIZE];
};

struct s3_req {
	const char *method; /* GET, PUT, POST, DELETE */
	const char *bucket; /* NULL: the service (ListBuckets) */
	const char *key;    /* NULL: the bucket itself */
	const char *query;  /* canonical already, or NULL */
	const char *body;   /* PUT/POST body, or NULL */
	size_t len;
	int md5;		  /* send Content-MD5 (DeleteObjects) */
	const char *content_type; /* of body; default application/xml */
	/* GET: a 200 answer's body goes here, in pieces, instead of into
	 * resp->body (bounded memory for objects of any size); -1 from the
	 * sink stops the transfer (its error in *sink_err). */
	int (*sink)(void *arg, const void *data, size_t len, struct err *e);
	void *sink_arg;
	struct err *sink_err;
};

struct s3_resp {
	long status;
	struct strbuf body;
	char etag[96];	  /* the ETag header, quotes kept; "" if none */
	long long length; /* Content-Length, -1 if none */
	int sink_failed;  /* the sink refused: its error is in sink_err */
};

void s3_resp_init(struct s3_resp *r);

/*
 * A second connection on conf's settings, for a worker thread: w gets
 * conf's settings (borrowed: conf must outlive w) and an easy handle of
 * its own, so that the worker's requests run beside those of conf's
 * thread. 0, or -1 with e; s3_worker_close() it in either case.
 */
int s3_worker_open(struct s3 *w, const struct s3 *conf, struct err *e);
void s3_worker_close(struct s3 *w);

/*
 * Send one request; the answer (any status) goes into resp (with
 * r->sink, a 200 answer's body goes to the sink instead). Fails only
 * when no HTTP answer came: "<what>: <curl's message>", transient for
 * connection trouble and timeouts. The timeout (c->timeout_ms) bounds a
 * request as a whole, except one that moves object data (a body, or
 * r->sink): that one only fails when no byte moves for that long, so
 * that an object of any size streams as slowly as its sink takes it.
 */
int s3_send(struct s3 *c, const struct s3_req *r, struct s3_resp *resp,
	    const char *what, struct err *e);

/* Describe a failed answer: "<what>: Code: Message (HTTP n)", transient
 * for 5xx, 429 and the retryable S3 codes. Returns -1. */
int s3_fail(struct err *e, const char *what, const struct s3_resp *r);

/* Whether the answer is an S3 error document with this code. */
int s3_is_code(const struct s3_resp *r, const char *code);

/*
 * A bucket outside any plan (the platform's backups bucket) made this
 * platform's: created if missing, marked when it is unmarked and holds
 * nothing (a create killed before its mark, or another worker's create
 * not marked yet; the mark is written before any data), refused when it
 * carries another mark or holds data without one.
 */
int s3_bucket_own(struct s3 *c, const char *name, struct err *e);

/* Append s percent-encoded (RFC 3986 unreserved kept); with
 * keep_slash, '/' stays as is. 0, or -1 (too long, out of memory). */
int s3_escape(struct s3 *c, struct strbuf *sb, const char *s, int keep_slash);

/* One ListObjectsV2 page (see s3.c), of the keys under c->list_prefix
 * when set. 0 ok, 1 no such bucket, -1 error. */
int s3_list_page(struct s3 *c, const char *bucket, const char *token,
		 int max_keys, struct s3xml_objects *page, struct s3_resp *resp,
		 const char *what, struct err *e);

#endif
