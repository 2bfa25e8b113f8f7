/*
 * s3.c - the S3 driver: buckets (LIVE_BUCKET) on MinIO, AWS or s3rver.
 *
 * HTTP is libcurl: one easy handle per open() handle, reused so the
 * connection stays alive, signed by curl itself (CURLOPT_AWS_SIGV4) with
 * the payload hash passed in x-amz-content-sha256 (S3 wants the header;
 * curl >= 7.87 signs the value it finds there). URLs are path-style,
 * <endpoint>/<bucket>[/<key>], keys percent-encoded except '/', and sent
 * as-is (no dot-segment squashing: "a/../b" is a key, not a path).
 * Query strings are written already canonical (sorted, encoded, "k=" for
 * flags), so the signature is right whether or not curl re-sorts them.
 *
 * The XML answers are parsed by s3xml.c (libexpat; no recursion, bounded
 * nesting, text and entry counts, no DOCTYPE), declared in s3xml.h.
 *
 * Observe costs one ListBuckets call, plus ListObjectsV2 pages for the
 * buckets whose size a plan needs, at most S3_MAX_WORKERS at a time.
 */
#include "driver.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "http.h"
#include "s3_internal.h"
#include "s3xml.h"
#include "../manifest/manifest.h"
#include "../util/hash.h"
#include "../util/num.h"
#include "../util/secret.h"
#include "../util/strbuf.h"
#include "../util/testhook.h"

#if LIBCURL_VERSION_NUM < 0x075700
#error "the S3 driver needs libcurl >= 7.87 (CURLOPT_AWS_SIGV4 that signs x-amz-content-sha256)"
#endif

#define S3_DEFAULT_TIMEOUT_MS 30000
#define S3_MAX_WORKERS 4	       /* concurrent bucket measurements */
#define S3_MAX_PAGES 1000000	       /* a server that never ends a listing */
#define S3_PURGE_ROUNDS 3	       /* list+delete again if writes raced */

/* ------------------------------------------------------------------ */
/* HTTP                                                               */
/* ------------------------------------------------------------------ */

/* Set up c->curl, a new easy handle with the connection settings:
 * proxies from the environment apply (an S3 endpoint may sit behind
 * one), the request is signed, the path sent as it is. */
static int
conn_handle(struct s3 *c, struct err *e)
{
	struct http_opts o = { .errbuf = c->errbuf,
			       .connect_ms = c->timeout_ms,
			       .timeout_ms = c->timeout_ms };
	CURL *h = http_handle(&o);

	c->curl = h;
	if (h == NULL)
		return err_set(e, "s3: cannot create a curl handle");
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_collect);
	return 0;
}

int
s3_worker_open(struct s3 *w, const struct s3 *conf, struct err *e)
{
	/* Settings only (borrowed): the caller's thread keeps using the
	 * rest of conf, its handle and error buffer. */
	memset(w, 0, sizeof(*w));
	w->endpoint = conf->endpoint;
	w->region = conf->region;
	w->sigv4 = conf->sigv4;
	w->access_key = conf->access_key;
	w->secret_key = conf->secret_key;
	w->timeout_ms = conf->timeout_ms;
	w->no_multi_delete = conf->no_multi_delete;
	w->platform = conf->platform;
	return conn_handle(w, e);
}

void
s3_worker_close(struct s3 *w)
{
	curl_easy_cleanup(w->curl);
	w->curl = NULL;
}

/* Append s percent-encoded (RFC 3986 unreserved kept); with keep_slash,
 * '/' stays as is (object keys are paths in the URL). */
int
s3_escape(struct s3 *c, struct strbuf *sb, const char *s, int keep_slash)
{
	size_t len = strlen(s);
	char *esc;
	int ret = 0;

	if (len > INT_MAX)
		return -1;
	esc = curl_easy_escape(c->curl, s, (int)len);
	if (esc == NULL)
		return -1;
	for (const char *p = esc; *p && ret == 0; p++) {
		if (keep_slash && p[0] == '%' && p[1] == '2' &&
		    (p[2] == 'F' || p[2] == 'f')) {
			ret = strbuf_addch(sb, '/');
			p += 2;
		} else {
			ret = strbuf_addch(sb, *p);
		}
	}
	curl_free(esc);
	return ret;
}

static int
build_url(struct s3 *c, struct strbuf *url, const struct s3_req *r)
{
	if (strbuf_addstr(url, c->endpoint) < 0 || strbuf_addch(url, '/') < 0)
		return -1;
	if (r->bucket && s3_escape(c, url, r->bucket, 0) < 0)
		return -1;
	if (r->bucket && r->key &&
	    (strbuf_addch(url, '/') < 0 || s3_escape(c, url, r->key, 1) < 0))
		return -1;
	if (r->query &&
	    (strbuf_addch(url, '?') < 0 || strbuf_addstr(url, r->query) < 0))
		return -1;
	return 0;
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *line, int *oom)
{
	struct curl_slist *l = curl_slist_append(list, line);

	if (l == NULL) {
		*oom = 1;
		return list;
	}
	return l;
}

struct send_state {
	struct s3 *c;
	const struct s3_req *r;
	struct s3_resp *resp;
};

/* The body: to the request's sink when it has one and the answer is a
 * 200, else into resp->body (an error document, a listing). */
static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct send_state *st = arg;
	long status = 0;

	curl_easy_getinfo(st->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (st->r->sink && status == 200) {
		if (st->r->sink(st->r->sink_arg, data, size * n,
				st->r->sink_err) < 0) {
			st->resp->sink_failed = 1;
			return 0; /* curl fails with CURLE_WRITE_ERROR */
		}
		return size * n;
	}
	return http_collect(data, size, n, &st->resp->body);
}

/* The two headers pressctl reads: ETag and Content-Length. curl's
 * header lines are not NUL-terminated: copied first. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct s3_resp *resp = arg;
	size_t len = size * n;
	char line[256];
	const char *v;
	long long num;

	snprintf(line, sizeof(line), "%.*s",
		 (int)(len < sizeof(line) - 1 ? len : sizeof(line) - 1), data);
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "etag:", 5) == 0) {
		v = line + 5 + strspn(line + 5, " \t");
		snprintf(resp->etag, sizeof(resp->etag), "%s", v);
	} else if (strncasecmp(line, "content-length:", 15) == 0) {
		v = line + 15 + strspn(line + 15, " \t");
		if (num_parse(v, 0, LLONG_MAX, &num) == 0)
			resp->length = num;
	}
	return len;
}

int
s3_send(struct s3 *c, const struct s3_req *r, struct s3_resp *resp,
	const char *what, struct err *e)
{
	struct curl_slist *hdr = NULL;
	struct strbuf url;
	struct send_state st;
	char sha[SHA256_HEX_LEN + 1], line[160];
	const char *body = r->body ? r->body : "";
	/* Object data (a body sent, an answer streamed to a sink) moves as
	 * fast as both ends allow: a dump streamed into pg_restore takes as
	 * long as the restore, an object of gigabytes as long as the link
	 * needs. So such a transfer is bounded by stalls (no byte for the
	 * timeout), never as a whole; the other requests are. */
	int data = r->sink != NULL || r->len > 0;
	CURLcode rc;
	int oom = 0, ret = -1;

	strbuf_init(&url, 0);
	strbuf_reset(&resp->body);
	resp->body.overflow = 0;
	resp->status = 0;
	resp->etag[0] = '\0';
	resp->length = -1;
	resp->sink_failed = 0;
	if (build_url(c, &url, r) < 0) {
		err_set(e, "%s: cannot build the request URL", what);
		goto out;
	}

	/* The payload hash: curl signs this value (never the body itself). */
	hash_sha256_hex(sha, body, r->len);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", sha);
	hdr = add_header(hdr, line, &oom);
	if (r->md5) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		char b64[64];

		if (EVP_Digest(body, r->len, md, &mdlen, EVP_md5(), NULL) &&
		    mdlen == 16) {
			EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
			snprintf(line, sizeof(line), "Content-MD5: %s", b64);
			hdr = add_header(hdr, line, &oom);
		}
	}
	if (r->body) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 r->content_type ? r->content_type : "application/xml");
		hdr = add_header(hdr, line, &oom);
	}
	hdr = add_header(hdr, "Expect:", &oom); /* no 100-continue wait */
	if (oom) {
		err_set(e, "%s: out of memory", what);
		goto out;
	}

	curl_easy_setopt(c->curl, CURLOPT_URL, url.buf);
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L); /* reset the method */
	if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
		/* Also an empty PUT: S3 wants Content-Length: 0. */
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->len);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(r->method, "GET") == 0 ? NULL :
								 r->method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
	st.c = c;
	st.r = r;
	st.resp = resp;
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, resp);
	if (data) {
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 0L);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME,
				 (c->timeout_ms + 999) / 1000);
	}
	c->errbuf[0] = '\0';

	rc = curl_easy_perform(c->curl);
	if (data) {
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 0L);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 0L);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(c->curl, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, NULL);
	if (rc == CURLE_WRITE_ERROR && resp->sink_failed) {
		if (e && r->sink_err && e != r->sink_err)
			*e = *r->sink_err;
		goto out;
	}
	if (rc != CURLE_OK) {
		const char *m = http_message(c->errbuf, rc);

		if (rc == CURLE_WRITE_ERROR && resp->body.overflow)
			err_set(e, "%s: the response is larger than %zu MiB",
				what, S3_MAX_BODY >> 20);
		else if (http_transient(rc))
			err_transient(e, "%s: %s (is the S3 endpoint up?)",
				      what, m);
		else
			err_set(e, "%s: %s", what, m);
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	ret = 0;
out:
	curl_slist_free_all(hdr);
	strbuf_release(&url);
	return ret;
}

void
s3_resp_init(struct s3_resp *r)
{
	r->status = 0;
	strbuf_init(&r->body, S3_MAX_BODY);
}

/* The S3 error code of a response ("" when it has none). */
static void
resp_code(const struct s3_resp *r, struct s3xml_error *x)
{
	s3xml_parse_error(x, r->body.buf, r->body.len);
}

static int
code_transient(const char *code)
{
	return strcmp(code, "SlowDown") == 0 ||
	       strcmp(code, "InternalError") == 0 ||
	       strcmp(code, "ServiceUnavailable") == 0 ||
	       strcmp(code, "RequestTimeout") == 0;
}

/*
 * Describe a failed answer: "<what>: Code: Message (HTTP n)", transient
 * for 5xx, 429 and the retryable S3 codes. Returns -1.
 */
int
s3_fail(struct err *e, const char *what, const struct s3_resp *r)
{
	struct s3xml_error x;
	const char *hint = "";
	int transient;

	resp_code(r, &x);
	transient = r->status >= 500 || r->status == 429 ||
		    code_transient(x.code);
	if (strcmp(x.code, "InvalidAccessKeyId") == 0 ||
	    strcmp(x.code, "SignatureDoesNotMatch") == 0)
		hint = "; check the platform's s3 accessKey and secretKey";
	else if (r->status == 301 || strcmp(x.code, "PermanentRedirect") == 0 ||
		 strcmp(x.code, "AuthorizationHeaderMalformed") == 0)
		hint = "; check the platform's s3 endpoint and region";
	if (!x.code[0]) {
		if (transient)
			return err_transient(e, "%s: HTTP %ld", what,
					     r->status);
		return err_set(e, "%s: HTTP %ld%s", what, r->status, hint);
	}
	if (transient)
		return err_transient(e, "%s: %s: %s (HTTP %ld)", what, x.code,
				     x.message, r->status);
	return err_set(e, "%s: %s: %s (HTTP %ld)%s", what, x.code, x.message,
		       r->status, hint);
}

int
s3_is_code(const struct s3_resp *r, const char *code)
{
	struct s3xml_error x;

	resp_code(r, &x);
	return strcmp(x.code, code) == 0;
}

/* ------------------------------------------------------------------ */
/* S3 calls                                                           */
/* ------------------------------------------------------------------ */

/* All buckets of the account (ListBuckets; paginated only if the server
 * says so). */
static int
list_buckets(struct s3 *c, struct s3xml_buckets *out, struct err *e)
{
	static const char what[] = "cannot list buckets";
	struct s3_resp resp;
	struct strbuf query;
	char *token = NULL;
	int ret = -1;

	s3_resp_init(&resp);
	strbuf_init(&query, 0);
	for (long page = 0;; page++) {
		struct s3_req r = { .method = "GET" };

		if (page >= S3_MAX_PAGES) {
			err_set(e, "%s: the listing does not end", what);
			goto out;
		}
		strbuf_reset(&query);
		if (token) {
			if (strbuf_addstr(&query, "continuation-token=") < 0 ||
			    s3_escape(c, &query, token, 0) < 0) {
				err_set(e, "%s: continuation token too long",
					what);
				goto out;
			}
			r.query = query.buf;
		}
		if (s3_send(c, &r, &resp, what, e) < 0)
			goto out;
		if (resp.status != 200) {
			s3_fail(e, what, &resp);
			goto out;
		}
		free(token);
		token = NULL;
		if (s3xml_parse_list_buckets(out, resp.body.buf, resp.body.len,
					     e) < 0) {
			err_wrap(e, "%s", what);
			goto out;
		}
		token = out->next_token;
		out->next_token = NULL;
		if (!token || !*token)
			break;
	}
	ret = 0;
out:
	free(token);
	strbuf_release(&query);
	strbuf_release(&resp.body);
	return ret;
}

/*
 * One ListObjectsV2 page (at most max_keys) of bucket after token (NULL:
 * the first) into page (released first). 0 ok, 1 the bucket does not
 * exist, -1 error.
 */
int
s3_list_page(struct s3 *c, const char *bucket, const char *token, int max_keys,
	  struct s3xml_objects *page, struct s3_resp *resp, const char *what,
	  struct err *e)
{
	struct s3_req r = { .method = "GET", .bucket = bucket };
	struct strbuf query;
	int ret = -1;

	s3xml_objects_release(page);
	strbuf_init(&query, 0);
	if (token && (strbuf_addstr(&query, "continuation-token=") < 0 ||
		      s3_escape(c, &query, token, 0) < 0 ||
		      strbuf_addch(&query, '&') < 0)) {
		err_set(e, "%s: continuation token too long", what);
		goto out;
	}
	strbuf_addf(&query, "list-type=2&max-keys=%d", max_keys);
	if (c->list_prefix && *c->list_prefix &&
	    (strbuf_addstr(&query, "&prefix=") < 0 ||
	     s3_escape(c, &query, c->list_prefix, 0) < 0)) {
		err_set(e, "%s: prefix too long", what);
		goto out;
	}
	r.query = query.buf;
	if (s3_send(c, &r, resp, what, e) < 0)
		goto out;
	if (resp->status == 404 && s3_is_code(resp, "NoSuchBucket")) {
		ret = 1;
		goto out;
	}
	if (resp->status != 200) {
		s3_fail(e, what, resp);
		goto out;
	}
	if (s3xml_parse_list_objects(page, resp->body.buf, resp->body.len, e) <
	    0) {
		err_wrap(e, "%s", what);
		goto out;
	}
	if (page->truncated && (!page->next_token || !*page->next_token)) {
		err_set(e,
			"%s: the server truncated the listing without a "
			"continuation token",
			what);
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&query);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Ownership                                                          */
/* ------------------------------------------------------------------ */

/*
 * A bucket's ownership mark is the object MARK_KEY holding
 * "press.platform=<name>". A marker object rather than bucket tags: it
 * works on every S3 server (the test server has no bucket tagging), so
 * the one code path is the tested one. Object counts and sizes leave it
 * out.
 */

/* The platform named by bucket's mark into *owner (NULL: unmarked). 0 ok,
 * 1 the bucket does not exist, -1 error. */
static int
mark_read(struct s3 *c, const char *bucket, char **owner, struct err *e)
{
	struct s3_req r = { .method = "GET",
			    .bucket = bucket,
			    .key = MARK_KEY };
	struct s3_resp resp;
	char what[160];
	int ret = -1;

	*owner = NULL;
	snprintf(what, sizeof(what),
		 "cannot read the ownership mark of "
		 "bucket '%s'",
		 bucket);
	s3_resp_init(&resp);
	if (s3_send(c, &r, &resp, what, e) < 0)
		goto out;
	if (resp.status == 200) {
		*owner = driver_mark_owner(resp.body.buf);
		ret = 0;
	} else if (resp.status == 404 && s3_is_code(&resp, "NoSuchBucket")) {
		ret = 1;
	} else if (resp.status == 404) {
		ret = 0; /* NoSuchKey: unmarked */
	} else {
		s3_fail(e, what, &resp);
	}
out:
	strbuf_release(&resp.body);
	return ret;
}

static int
mark_write(struct s3 *c, const char *bucket, struct err *e)
{
	char *body = xprintf(DRIVER_MARK_PREFIX "%s\n", c->platform), what[160];
	struct s3_req r = { .method = "PUT",
			    .bucket = bucket,
			    .key = MARK_KEY,
			    .body = body,
			    .len = strlen(body) };
	struct s3_resp resp;
	int ret = -1;

	snprintf(what, sizeof(what),
		 "cannot mark bucket '%s' as platform "
		 "'%s''s",
		 bucket, c->platform);
	s3_resp_init(&resp);
	if (s3_send(c, &r, &resp, what, e) == 0) {
		if (resp.status == 200)
			ret = 0;
		else
			s3_fail(e, what, &resp);
	}
	strbuf_release(&resp.body);
	free(body);
	return ret;
}

/* Whether bucket holds any object besides the mark: *out 1 or 0. 0 ok,
 * 1 the bucket does not exist, -1 error. */
static int
holds_data(struct s3 *c, const char *bucket, int *out, struct err *e)
{
	struct s3xml_objects page;
	struct s3_resp resp;
	char what[160];
	int r;

	snprintf(what, sizeof(what), "cannot look into bucket '%s'", bucket);
	s3xml_objects_init(&page);
	s3_resp_init(&resp);
	*out = 0;
	r = s3_list_page(c, bucket, NULL, 2, &page, &resp, what, e);
	for (size_t i = 0; r == 0 && i < page.n; i++)
		if (strcmp(page.v[i].key, MARK_KEY) != 0)
			*out = 1;
	s3xml_objects_release(&page);
	strbuf_release(&resp.body);
	return r;
}

/* Count the objects and bytes of bucket (-1 each if it vanished). */
static int
measure_bucket(struct s3 *c, const char *bucket, long long *count,
	       long long *bytes, struct err *e)
{
	struct s3xml_objects page;
	struct s3_resp resp;
	char what[160], *token = NULL;
	long long n = 0, sum = 0;
	int ret = -1, r;

	snprintf(what, sizeof(what), "cannot measure bucket '%s'", bucket);
	s3xml_objects_init(&page);
	s3_resp_init(&resp);
	for (long pages = 0;; pages++) {
		if (pages >= S3_MAX_PAGES) {
			err_set(e, "%s: the listing does not end", what);
			goto out;
		}
		r = s3_list_page(c, bucket, token, 1000, &page, &resp, what, e);
		if (r < 0)
			goto out;
		if (r > 0) {
			n = sum = -1;
			break;
		}
		for (size_t i = 0; i < page.n; i++) {
			if (strcmp(page.v[i].key, MARK_KEY) == 0)
				continue; /* ours, not the site's */
			n++;
			if (page.v[i].size > LLONG_MAX - sum)
				sum = LLONG_MAX;
			else
				sum += page.v[i].size;
		}
		if (!page.truncated)
			break;
		free(token);
		token = page.next_token;
		page.next_token = NULL;
	}
	*count = n;
	*bytes = sum;
	ret = 0;
out:
	free(token);
	s3xml_objects_release(&page);
	strbuf_release(&resp.body);
	return ret;
}

/* Append s with the XML special characters escaped. */
static int
add_xml_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int r;

		if (ch == '&')
			r = strbuf_addstr(sb, "&amp;");
		else if (ch == '<')
			r = strbuf_addstr(sb, "&lt;");
		else if (ch == '>')
			r = strbuf_addstr(sb, "&gt;");
		else if (ch == '"')
			r = strbuf_addstr(sb, "&quot;");
		else if (ch == '\'')
			r = strbuf_addstr(sb, "&apos;");
		else if (ch < 0x20) /* survive attribute/EOL normalization */
			r = strbuf_addf(sb, "&#%u;", ch);
		else
			r = strbuf_addch(sb, ch);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* "cannot delete object 'k'" with k cleaned for a message. */
static void
object_what(char *buf, size_t n, const char *prefix, const char *key)
{
	char shown[160];

	s3xml_clean(shown, sizeof(shown), key, strlen(key));
	snprintf(buf, n, "%s: cannot delete object '%s'", prefix, shown);
}

/* DELETE each key. 0 ok, 1 bucket gone, -1 error. */
static int
delete_each(struct s3 *c, const char *bucket, const struct s3xml_objects *page,
	    const char *what, struct err *e)
{
	struct s3_resp resp;
	char owhat[512];
	int ret = -1;

	s3_resp_init(&resp);
	for (size_t i = 0; i < page->n; i++) {
		struct s3_req r = { .method = "DELETE",
				    .bucket = bucket,
				    .key = page->v[i].key };

		object_what(owhat, sizeof(owhat), what, page->v[i].key);
		if (s3_send(c, &r, &resp, owhat, e) < 0)
			goto out;
		if (resp.status == 200 || resp.status == 204)
			continue;
		if (resp.status == 404 && s3_is_code(&resp, "NoSuchBucket")) {
			ret = 1;
			goto out;
		}
		if (resp.status == 404) /* NoSuchKey: already gone */
			continue;
		s3_fail(e, owhat, &resp);
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&resp.body);
	return ret;
}

/*
 * Delete the keys of page: one DeleteObjects call, or one DELETE per key
 * where the server has no DeleteObjects. 0 ok, 1 bucket gone, -1 error.
 */
static int
delete_page(struct s3 *c, const char *bucket, const struct s3xml_objects *page,
	    const char *what, struct err *e)
{
	struct s3_req r = { .method = "POST",
			    .bucket = bucket,
			    .query = "delete=",
			    .md5 = 1 };
	struct s3xml_delete res;
	struct s3_resp resp;
	struct strbuf body;
	char owhat[512];
	int ret = -1;

	if (page->n == 0)
		return 0;
	if (c->no_multi_delete)
		return delete_each(c, bucket, page, what, e);

	s3xml_delete_init(&res);
	s3_resp_init(&resp);
	strbuf_init(&body, 0);
	strbuf_addstr(&body,
		      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		      "<Quiet>true</Quiet>");
	for (size_t i = 0; i < page->n; i++) {
		strbuf_addstr(&body, "<Object><Key>");
		add_xml_escaped(&body, page->v[i].key);
		strbuf_addstr(&body, "</Key></Object>");
	}
	if (strbuf_addstr(&body, "</Delete>") < 0) {
		err_set(e, "%s: delete request too large", what);
		goto out;
	}
	r.body = body.buf;
	r.len = body.len;
	if (s3_send(c, &r, &resp, what, e) < 0)
		goto out;
	if (resp.status == 404 && s3_is_code(&resp, "NoSuchBucket")) {
		ret = 1;
		goto out;
	}
	if (resp.status == 501 || resp.status == 405 ||
	    s3_is_code(&resp, "NotImplemented")) {
		c->no_multi_delete = 1;
		ret = delete_each(c, bucket, page, what, e);
		goto out;
	}
	/*
	 * A batch that failed inside the server is retried key by key
	 * (deleting is idempotent). s3rver needs it: it deletes a batch's
	 * keys concurrently and trips over its own cleanup of emptied
	 * "directories" (500 InternalError, ENOENT). Overload (503,
	 * SlowDown) is not retried here; the caller backs off.
	 */
	if (resp.status == 500) {
		ret = delete_each(c, bucket, page, what, e);
		goto out;
	}
	if (resp.status != 200) {
		s3_fail(e, what, &resp);
		goto out;
	}
	if (s3xml_parse_delete_result(&res, resp.body.buf, resp.body.len, e) <
	    0) {
		err_wrap(e, "%s", what);
		goto out;
	}
	for (size_t i = 0; i < res.n; i++) {
		const struct s3xml_delete_error *d = &res.v[i];
		char code[64], msg[256];

		if (d->code && strcmp(d->code, "NoSuchKey") == 0)
			continue;
		object_what(owhat, sizeof(owhat), what, d->key);
		s3xml_clean(code, sizeof(code), d->code ? d->code : "",
			    d->code ? strlen(d->code) : 0);
		s3xml_clean(msg, sizeof(msg), d->message ? d->message : "",
			    d->message ? strlen(d->message) : 0);
		if (code_transient(code))
			err_transient(e, "%s: %s: %s", owhat, code, msg);
		else
			err_set(e, "%s: %s: %s", owhat, code, msg);
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&body);
	strbuf_release(&resp.body);
	s3xml_delete_release(&res);
	return ret;
}

/*
 * Abort the unfinished multipart uploads of bucket, as far as the server
 * allows: no listing (s3rver: NotImplemented) or a refused abort (s3rver:
 * 405) is not an error. Fails only on transient trouble, which the
 * bucket delete would hit as well.
 */
static int
abort_uploads(struct s3 *c, const char *bucket, const char *what, struct err *e)
{
	struct s3xml_uploads ups;
	struct s3_resp resp;
	struct strbuf query;
	char *key_marker = NULL, *id_marker = NULL;
	int ret = -1;

	s3xml_uploads_init(&ups);
	s3_resp_init(&resp);
	strbuf_init(&query, 0);
	for (long pages = 0; pages < S3_MAX_PAGES; pages++) {
		struct s3_req r = { .method = "GET", .bucket = bucket };

		strbuf_reset(&query);
		if (key_marker) {
			strbuf_addstr(&query, "key-marker=");
			s3_escape(c, &query, key_marker, 0);
			strbuf_addch(&query, '&');
		}
		if (id_marker) {
			strbuf_addstr(&query, "upload-id-marker=");
			s3_escape(c, &query, id_marker, 0);
			strbuf_addch(&query, '&');
		}
		if (strbuf_addstr(&query, "uploads=") < 0)
			break;
		r.query = query.buf;
		if (s3_send(c, &r, &resp, what, e) < 0)
			goto out;
		if (resp.status != 200) {
			struct s3xml_error x;

			resp_code(&resp, &x);
			if ((resp.status >= 500 && resp.status != 501) ||
			    resp.status == 429 || code_transient(x.code)) {
				s3_fail(e, what, &resp);
				goto out;
			}
			break; /* not implemented, gone, refused: skip */
		}
		s3xml_uploads_release(&ups);
		if (s3xml_parse_list_uploads(&ups, resp.body.buf, resp.body.len,
					     e) < 0)
			break; /* best effort */
		for (size_t i = 0; i < ups.n; i++) {
			struct s3_req a = { .method = "DELETE",
					    .bucket = bucket,
					    .key = ups.v[i].key };
			struct strbuf q;

			strbuf_init(&q, 0);
			strbuf_addstr(&q, "uploadId=");
			s3_escape(c, &q, ups.v[i].upload_id, 0);
			a.query = q.buf;
			/* Any answer will do: aborting is best effort. */
			if (s3_send(c, &a, &resp, what, e) < 0) {
				strbuf_release(&q);
				goto out;
			}
			strbuf_release(&q);
		}
		if (!ups.truncated || !ups.next_key_marker)
			break;
		free(key_marker);
		free(id_marker);
		key_marker = ups.next_key_marker;
		id_marker = ups.next_upload_id_marker;
		ups.next_key_marker = ups.next_upload_id_marker = NULL;
	}
	ret = 0;
out:
	free(key_marker);
	free(id_marker);
	strbuf_release(&query);
	strbuf_release(&resp.body);
	s3xml_uploads_release(&ups);
	return ret;
}

/* Whether name is one of the account's buckets. 1 yes, 0 no, -1 error. */
static int
bucket_owned(struct s3 *c, const char *name, struct err *e)
{
	struct s3xml_buckets all;
	int ret = 0;

	s3xml_buckets_init(&all);
	if (list_buckets(c, &all, e) < 0)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < all.n; i++)
		if (strcmp(all.v[i].name, name) == 0)
			ret = 1;
	s3xml_buckets_release(&all);
	return ret;
}

/* Create bucket name; one that exists and is the account's is fine
 * (*created 0). 0 ok, -1 error. */
static int
bucket_make(struct s3 *c, const char *name, int *created, const char *what,
	    struct err *e)
{
	struct s3_req r = { .method = "PUT", .bucket = name };
	struct s3_resp resp;
	struct strbuf body;
	int ret = -1, owned;

	s3_resp_init(&resp);
	strbuf_init(&body, 0);
	/* us-east-1 is the default and AWS refuses it as a constraint. */
	if (strcmp(c->region, "us-east-1") != 0) {
		strbuf_addstr(&body,
			      "<CreateBucketConfiguration xmlns=\"http://"
			      "s3.amazonaws.com/doc/2006-03-01/\">"
			      "<LocationConstraint>");
		add_xml_escaped(&body, c->region);
		strbuf_addstr(&body, "</LocationConstraint>"
				     "</CreateBucketConfiguration>");
		r.body = body.buf;
		r.len = body.len;
	}
	*created = 0;
	if (s3_send(c, &r, &resp, what, e) < 0)
		goto out;
	if (resp.status == 200 ||
	    (resp.status == 409 && s3_is_code(&resp, "BucketAlreadyOwnedByYou"))) {
		*created = resp.status == 200;
		ret = 0;
		goto out;
	}
	if (resp.status == 409 && s3_is_code(&resp, "BucketAlreadyExists")) {
		/* s3rver says this for our own buckets too: ask who owns it. */
		owned = bucket_owned(c, name, e);
		if (owned < 0) {
			err_wrap(e, "%s", what);
			goto out;
		}
		if (owned) {
			ret = 0;
			goto out;
		}
		err_set(e,
			"bucket '%s' already exists and belongs to another "
			"account; set spec.storage.bucket to another name",
			name);
		goto out;
	}
	s3_fail(e, what, &resp);
out:
	strbuf_release(&body);
	strbuf_release(&resp.body);
	return ret;
}

/*
 * CREATE and UPDATE: the bucket exists and carries this platform's mark.
 * A bucket that existed already is taken over only as driver.h's
 * ownership rules allow. (AWS answers 200 in us-east-1 also for a bucket
 * the account has: then its mark is read as for any existing one.)
 */
static int
bucket_converge(struct s3 *c, const struct driver_action *a, struct err *e)
{
	char what[160], *owner = NULL;
	int ret = -1, created, r;

	snprintf(what, sizeof(what), "cannot %s bucket '%s'",
		 driver_op_name(a->op), a->name);
	if (bucket_make(c, a->name, &created, what, e) < 0)
		return -1;
	if ((r = mark_read(c, a->name, &owner, e)) != 0) {
		if (r > 0) /* deleted meanwhile: a race, try again */
			err_transient(e, "%s: it vanished while being marked",
				      what);
		goto out;
	}
	if (!(created && !owner) &&
	    driver_may_touch(a, c->platform, 1, owner, what, e) < 0)
		goto out;
	if (owner && strcmp(owner, c->platform) == 0)
		ret = 0;
	else
		ret = mark_write(c, a->name, e);
out:
	free(owner);
	return ret;
}

int
s3_bucket_own(struct s3 *c, const char *name, struct err *e)
{
	char what[160], *owner = NULL;
	int ret = -1, created, r, full = 1;

	snprintf(what, sizeof(what), "cannot create bucket '%s'", name);
	if (bucket_make(c, name, &created, what, e) < 0)
		return -1;
	if ((r = mark_read(c, name, &owner, e)) != 0) {
		if (r > 0)
			err_transient(e, "%s: it vanished while being marked",
				      what);
		return -1;
	}
	if (owner) {
		ret = strcmp(owner, c->platform) == 0 ?
			      0 :
			      err_set(e,
				      "%s: it carries the ownership mark of "
				      "platform '%s'; pressctl touches only its "
				      "own platform's objects",
				      what, owner);
		free(owner);
		return ret;
	}
	if (holds_data(c, name, &full, e) != 0)
		return -1;
	if (full)
		return err_set(e,
			       "%s: it exists without an ownership mark and "
			       "holds objects, so it is not this platform's; "
			       "set the Platform's spec.naming.prefix to another "
			       "value or move that bucket away",
			       what);
	return mark_write(c, name, e);
}

/* Delete every object of the bucket. 0 ok, 1 bucket gone, -1 error. */
static int
empty_bucket(struct s3 *c, const char *name, const char *what, struct err *e)
{
	struct s3xml_objects page;
	struct s3_resp resp;
	char *token = NULL;
	int ret = -1, r;

	s3xml_objects_init(&page);
	s3_resp_init(&resp);
	for (long pages = 0;; pages++) {
		if (pages >= S3_MAX_PAGES) {
			err_set(e, "%s: the listing does not end", what);
			goto out;
		}
		r = s3_list_page(c, name, token, 1000, &page, &resp, what, e);
		if (r != 0) {
			ret = r;
			goto out;
		}
		r = delete_page(c, name, &page, what, e);
		if (r != 0) {
			ret = r;
			goto out;
		}
		if (!page.truncated)
			break;
		free(token);
		token = page.next_token;
		page.next_token = NULL;
	}
	ret = 0;
out:
	free(token);
	s3xml_objects_release(&page);
	strbuf_release(&resp.body);
	return ret;
}

/* The mark is read again right before the first delete: S3 has no
 * transaction to hold it in. */
static int
bucket_purge(struct s3 *c, const struct driver_action *a, struct err *e)
{
	const char *name = a->name;
	struct s3_req r = { .method = "DELETE", .bucket = name };
	struct s3_resp resp;
	char what[160], *owner = NULL;
	int ret = -1, rc;

	snprintf(what, sizeof(what), "cannot purge bucket '%s'", name);
	s3_resp_init(&resp);
	rc = mark_read(c, name, &owner, e);
	if (rc > 0)
		ret = 0; /* gone: done */
	if (rc != 0 || driver_may_touch(a, c->platform, 1, owner, what, e) < 0)
		goto out;
	for (int round = 0; round < S3_PURGE_ROUNDS; round++) {
		rc = empty_bucket(c, name, what, e);
		if (rc != 0) {
			ret = rc > 0 ? 0 : -1; /* gone: done */
			goto out;
		}
		if (abort_uploads(c, name, what, e) < 0)
			goto out;
		if (s3_send(c, &r, &resp, what, e) < 0)
			goto out;
		if (resp.status == 204 || resp.status == 200 ||
		    (resp.status == 404 && s3_is_code(&resp, "NoSuchBucket"))) {
			ret = 0;
			goto out;
		}
		/* Something wrote while we deleted: list again. */
		if (resp.status == 409 && s3_is_code(&resp, "BucketNotEmpty"))
			continue;
		s3_fail(e, what, &resp);
		goto out;
	}
	/* Still not empty: a writer is active, or versions remain. */
	s3_fail(e, what, &resp);
	if (e)
		e->transient = 1;
out:
	free(owner);
	strbuf_release(&resp.body);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Measuring in parallel                                              */
/* ------------------------------------------------------------------ */

struct measure_job {
	const char *bucket;
	size_t item; /* index into the struct live */
	int measure; /* count objects and bytes */
	int check;   /* read the mark and whether it holds data */
	long long count, bytes;
	char *owner; /* check: the mark's platform, or NULL */
	int has_data;
};

/* One job on connection c: 0 ok, -1 error. */
static int
measure_job_run(struct s3 *c, struct measure_job *j, struct err *e)
{
	int r;

	if (j->measure &&
	    measure_bucket(c, j->bucket, &j->count, &j->bytes, e) < 0)
		return -1;
	if (!j->check)
		return 0;
	if ((r = mark_read(c, j->bucket, &j->owner, e)) < 0)
		return -1;
	if (r == 0 && holds_data(c, j->bucket, &j->has_data, e) < 0)
		return -1;
	return 0;
}

struct measure {
	const struct s3 *conf;
	struct measure_job *jobs;
	size_t n, next;
	pthread_mutex_t mu;
	int failed;
	struct err err;
};

/* Take jobs until none are left (or one failed), using connection c. */
static void
measure_loop(struct measure *m, struct s3 *c)
{
	struct err e;

	for (;;) {
		struct measure_job *j;

		pthread_mutex_lock(&m->mu);
		if (m->failed || m->next >= m->n) {
			pthread_mutex_unlock(&m->mu);
			return;
		}
		j = &m->jobs[m->next++];
		pthread_mutex_unlock(&m->mu);
		if (measure_job_run(c, j, &e) < 0) {
			pthread_mutex_lock(&m->mu);
			if (!m->failed) {
				m->failed = 1;
				m->err = e;
			}
			pthread_mutex_unlock(&m->mu);
			return;
		}
	}
}

/* A worker thread: its own easy handle on the same settings. */
static void *
measure_thread(void *arg)
{
	struct measure *m = arg;
	struct s3 w;
	struct err e;

	if (s3_worker_open(&w, m->conf, &e) < 0) {
		pthread_mutex_lock(&m->mu);
		if (!m->failed) {
			m->failed = 1;
			m->err = e;
		}
		pthread_mutex_unlock(&m->mu);
	} else {
		measure_loop(m, &w);
	}
	s3_worker_close(&w);
	return NULL;
}

static int
measure_all(struct s3 *c, struct measure_job *jobs, size_t n, struct err *e)
{
	struct measure m;
	pthread_t tid[S3_MAX_WORKERS - 1];
	size_t nthreads = 0;

	memset(&m, 0, sizeof(m));
	m.conf = c;
	m.jobs = jobs;
	m.n = n;
	pthread_mutex_init(&m.mu, NULL);
	/* The caller's thread is one of the workers. */
	for (size_t i = 1; i < n && i < S3_MAX_WORKERS; i++) {
		if (pthread_create(&tid[nthreads], NULL, measure_thread, &m))
			break; /* fewer workers will do */
		nthreads++;
	}
	measure_loop(&m, c);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&m.mu);
	if (m.failed) {
		if (e)
			*e = m.err;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The driver                                                         */
/* ------------------------------------------------------------------ */

static void
s3_close(void *h)
{
	struct s3 *c = h;

	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	secret_free(c->access_key);
	secret_free(c->secret_key);
	free(c->endpoint);
	free(c->region);
	free(c->sigv4);
	free(c->platform);
	free(c);
}

static int
valid_region(const char *r)
{
	if (!*r)
		return 0;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') ||
		      *r == '-' || *r == '_'))
			return 0;
	return 1;
}

static int
s3_open(void **hp, const struct driver_env *env, struct err *e)
{
	const struct platform *p = env->platform;
	const char *endpoint = p ? p->s3_endpoint : NULL;
	const char *region = p && p->s3_region ? p->s3_region : "us-east-1";
	struct s3 *c = NULL;
	size_t len;

	*hp = NULL;
	if (!endpoint || !*endpoint)
		return err_set(e, "s3: the platform has no s3 endpoint; set "
				  "spec.s3.endpoint");
	if (strncmp(endpoint, "http://", 7) != 0 &&
	    strncmp(endpoint, "https://", 8) != 0)
		return err_set(e,
			       "s3: endpoint '%s' is not an http:// or "
			       "https:// URL; fix spec.s3.endpoint",
			       endpoint);
	if (!valid_region(region))
		return err_set(e,
			       "s3: region '%s' is not a region name; fix "
			       "spec.s3.region",
			       region);
	if (!env->s3_access_key || !*env->s3_access_key ||
	    !env->s3_secret_key || !*env->s3_secret_key)
		return err_set(e, "s3: the access key or secret key is empty; "
				  "check spec.s3.accessKey and secretKey");

	c = xcalloc(1, sizeof(*c));
	len = strlen(endpoint);
	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	c->endpoint = xstrndup(endpoint, len);
	c->region = xstrdup(region);
	c->sigv4 = xprintf("aws:amz:%s:s3", region);
	c->platform = xstrdup(p->name ? p->name : "");
	c->access_key = xstrdup(env->s3_access_key);
	c->secret_key = xstrdup(env->s3_secret_key);
	c->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms :
					      S3_DEFAULT_TIMEOUT_MS;
	if (testhook_number("PRESSCTL_TEST_S3_TIMEOUT_MS"))
		c->timeout_ms = testhook_number("PRESSCTL_TEST_S3_TIMEOUT_MS");
	if (conn_handle(c, e) < 0) {
		s3_close(c);
		return -1;
	}
	*hp = c;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index of key in the sorted names, or SIZE_MAX. */
static size_t
name_index(const char **names, size_t n, const char *key)
{
	const char **hit =
		n ? bsearch(&key, names, n, sizeof(*names), cmp_str) : NULL;

	return hit ? (size_t)(hit - names) : SIZE_MAX;
}

/* The job of the bucket at names[k] (created on first use), or NULL
 * when that bucket does not exist. */
static struct measure_job *
job_for(struct measure_job *jobs, size_t *njobs, size_t *job, size_t k,
	const size_t *item, const struct live *out)
{
	if (k == SIZE_MAX || item[k] == SIZE_MAX)
		return NULL;
	if (job[k] == SIZE_MAX) {
		job[k] = (*njobs)++;
		jobs[job[k]].bucket = out->v[item[k]].name;
		jobs[job[k]].item = item[k];
	}
	return &jobs[job[k]];
}

/*
 * One ListBuckets call; our buckets (those in q->names) become items
 * with state {"created": CreationDate}. Then, in parallel, per bucket
 * where asked: q->sized get their object count and bytes, q->check
 * their ownership mark and whether they hold data.
 */
static int
s3_observe(void *h, const struct observe_req *q, struct live *out,
	   struct err *e)
{
	struct s3 *c = h;
	size_t nnames = q->nnames[LIVE_BUCKET];
	struct s3xml_buckets all;
	struct measure_job *jobs = NULL;
	const char **names = NULL;
	size_t *item = NULL, *job = NULL, njobs = 0;
	int ret = -1;

	s3xml_buckets_init(&all);
	if (nnames == 0)
		return 0;
	if (list_buckets(c, &all, e) < 0)
		goto out;

	names = xmalloc(nnames * sizeof(*names));
	item = xmalloc(nnames * sizeof(*item));
	job = xmalloc(nnames * sizeof(*job));
	for (size_t i = 0; i < nnames; i++) {
		names[i] = q->names[LIVE_BUCKET][i];
		item[i] = job[i] = SIZE_MAX;
	}
	qsort(names, nnames, sizeof(*names), cmp_str);

	for (size_t i = 0; i < all.n; i++) {
		const char *key = all.v[i].name;
		size_t k = name_index(names, nnames, key);
		struct live_item *it;

		if (k == SIZE_MAX || item[k] != SIZE_MAX)
			continue; /* not ours, or listed twice */
		item[k] = out->n;
		it = live_add(out, LIVE_BUCKET, key);
		it->state = json_object();
		if (all.v[i].created)
			json_object_set_new(it->state, "created",
					    json_string(all.v[i].created));
	}

	jobs = xcalloc(nnames, sizeof(*jobs));
	for (int pass = 0; pass < 2; pass++) {
		const char *const *want = pass ? q->check[LIVE_BUCKET] :
						 q->sized[LIVE_BUCKET];
		size_t nwant = pass ? q->ncheck[LIVE_BUCKET] :
				      q->nsized[LIVE_BUCKET];

		for (size_t i = 0; i < nwant; i++) {
			size_t k = name_index(names, nnames, want[i]);
			struct measure_job *j = job_for(jobs, &njobs, job, k,
							item, out);

			if (j && pass)
				j->check = 1;
			else if (j)
				j->measure = 1;
		}
	}
	if (njobs && measure_all(c, jobs, njobs, e) < 0)
		goto out;
	for (size_t i = 0; i < njobs; i++) {
		struct live_item *it = &out->v[jobs[i].item];

		if (jobs[i].measure) {
			it->count = jobs[i].count;
			it->bytes = jobs[i].bytes;
		}
		if (jobs[i].check) {
			it->mark_seen = 1;
			it->mark = jobs[i].owner;
			jobs[i].owner = NULL;
			it->has_data = jobs[i].has_data;
		}
	}
	ret = 0;
out:
	for (size_t i = 0; i < njobs; i++)
		free(jobs[i].owner);
	free(jobs);
	free(job);
	free(item);
	free(names);
	s3xml_buckets_release(&all);
	return ret;
}

/* A bucket that exists conforms: no bucket settings are managed yet. */
static int
s3_conforms(const struct live_item *have, const struct live_object *want,
	    char *why, size_t n)
{
	(void)have;
	(void)want;
	if (why && n)
		why[0] = '\0';
	return 1;
}

static int
s3_apply(void *h, const struct driver_action *a, struct err *e)
{
	struct s3 *c = h;

	if (a->kind != LIVE_BUCKET)
		return err_set(e, "s3: cannot %s '%s': not a bucket",
			       driver_op_name(a->op), a->name);
	switch (a->op) {
	case OP_CREATE:
	case OP_UPDATE: return bucket_converge(c, a, e);
	case OP_PURGE: return bucket_purge(c, a, e);
	case OP_REMOVE:
	case OP_RESTART: break;
	}
	return err_set(e,
		       "cannot %s bucket '%s': buckets are purged, not "
		       "removed",
		       driver_op_name(a->op), a->name);
}

const struct driver driver_s3 = {
	.name = "s3",
	.kinds = 1u << LIVE_BUCKET,
	.open = s3_open,
	.close = s3_close,
	.observe = s3_observe,
	.conforms = s3_conforms,
	.apply = s3_apply,
};
