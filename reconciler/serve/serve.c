/*
 * serve.c - the HTTP server of watch mode (libmicrohttpd): routing,
 * limits, the webhook body upload. Decisions about a delivery are in
 * webhook.c; metrics in metrics.c.
 *
 * We bind the listening socket ourselves and hand it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET) rather than passing MHD_OPTION_SOCK_ADDR:
 * MHD_start_daemon only returns NULL, and the user needs to read
 * "Address already in use".
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include <openssl/crypto.h>

#include "../util/hash.h"
#include "../util/secret.h"
#include "internal.h"

#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define CONN_LIMIT 64		/* connections at once, in all */
#define CONN_PER_IP 8		/* ... from one address */
#define CONN_IDLE_SECONDS 10	/* idle connections are closed */
#define CONN_MEMORY (32 * 1024) /* per connection: headers + buffers */
#define UPLOAD_SECONDS 30	/* a whole webhook body, however slow */
#define LISTEN_BACKLOG 64
#define WHY_MAX 512

struct serve {
	struct MHD_Daemon *mhd;
	int port;
	char *secret; /* owned, wiped; NULL: no webhook */
	size_t max_body;
	struct metrics *metrics;
	int (*ready)(void *arg, char *why, size_t n);
	void (*hook)(void *arg, const char *event, const char *delivery);
	void *arg;
	struct replay *seen; /* owned */
	struct dash *dash;   /* owned */
	/* The dashboard and /api/v1 need the token: on a listen address
	 * that is not loopback, or whenever one is set. */
	int need_token;
	char token_hash[SHA256_HEX_LEN + 1]; /* of the token; "" none */
};

/* The state of one POST /hooks/git while its body arrives. */
struct upload {
	struct strbuf body; /* up to max_body bytes */
	size_t received;    /* all bytes so far, kept or not */
	int too_big;	    /* received > max_body: body is dropped */
	struct timespec start;
};

static const char text_plain[] = "text/plain; charset=utf-8";

/* --- responses ------------------------------------------------------ */

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *type,
      const char *allow, const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
					    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
		    MHD_NO ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				    "no-store") == MHD_NO ||
	    (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
					      allow) == MHD_NO)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	return reply(c, status, text_plain, NULL, text, strlen(text));
}

/* The dashboard's answers: no framing, no sniffing, nothing from
 * elsewhere (the page's script and style are its own files). */
static const char *const dash_headers[] = {
	"Content-Security-Policy",
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
	"form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options",
	"nosniff",
	"Referrer-Policy",
	"no-referrer",
	"X-Frame-Options",
	"DENY",
	NULL
};

/* Queue r (destroyed here) with the dashboard's headers, Content-Type
 * type (may be NULL) and the name/value pairs of more (may be NULL). */
static enum MHD_Result
queue_dash(struct MHD_Connection *c, unsigned int status,
	   struct MHD_Response *r, const char *type, const char *const *more)
{
	enum MHD_Result ret = MHD_YES;

	if (r == NULL)
		return MHD_NO;
	for (size_t i = 0; dash_headers[i] && ret == MHD_YES; i += 2)
		ret = MHD_add_response_header(r, dash_headers[i],
					      dash_headers[i + 1]);
	for (size_t i = 0; more && more[i] && ret == MHD_YES; i += 2)
		ret = MHD_add_response_header(r, more[i], more[i + 1]);
	if (ret == MHD_YES && type)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					      type);
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
					      "no-store");
	if (ret == MHD_YES)
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_dash(struct MHD_Connection *c, unsigned int status, const char *type,
	   const char *body, size_t len, const char *const *more)
{
	return queue_dash(c, status,
			  MHD_create_response_from_buffer(len, (void *)body,
							  MHD_RESPMEM_MUST_COPY),
			  type, more);
}

static const char app_json[] = "application/json; charset=utf-8";

/* {"error": text} */
static enum MHD_Result
reply_json_error(struct MHD_Connection *c, unsigned int status,
		 const char *text, const char *const *more)
{
	json_t *o = json_pack("{s:s}", "error", text);
	char *body = json_dumps(o, JSON_COMPACT);
	enum MHD_Result ret;

	json_decref(o);
	if (body == NULL)
		return MHD_NO;
	ret = reply_dash(c, status, app_json, body, strlen(body), more);
	free(body);
	return ret;
}

/* --- GET endpoints -------------------------------------------------- */

static enum MHD_Result
get_readyz(struct serve *s, struct MHD_Connection *c)
{
	char why[WHY_MAX] = "";
	size_t n = 0;

	if (s->ready == NULL || s->ready(s->arg, why, sizeof(why) - 1))
		return reply_text(c, MHD_HTTP_OK, "ready\n");
	/* One line, whatever the callback wrote: control characters
	 * become spaces, and there is always a reason. */
	why[sizeof(why) - 2] = '\0';
	for (; why[n]; n++)
		if ((unsigned char)why[n] < ' ' || why[n] == 0x7f)
			why[n] = ' ';
	if (n == 0)
		n = (size_t)snprintf(why, sizeof(why), "not ready");
	why[n++] = '\n';
	return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text_plain, NULL, why, n);
}

static enum MHD_Result
get_metrics(struct serve *s, struct MHD_Connection *c)
{
	struct strbuf out;
	enum MHD_Result ret;

	strbuf_init(&out, 0);
	metrics_render(s->metrics, &out);
	ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		    NULL, out.buf, out.len);
	strbuf_release(&out);
	return ret;
}

/* --- POST /hooks/git ------------------------------------------------ */

static double
elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* Content-Length as a number; 0 when absent, SIZE_MAX when it does not
 * fit (libmicrohttpd has already rejected a malformed one). */
static size_t
content_length(struct MHD_Connection *c)
{
	const char *v =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_CONTENT_LENGTH);
	size_t n = 0;

	if (v == NULL)
		return 0;
	for (; *v >= '0' && *v <= '9'; v++) {
		if (n > (SIZE_MAX - 9) / 10)
			return SIZE_MAX;
		n = n * 10 + (size_t)(*v - '0');
	}
	return n;
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result
hook_done(struct serve *s, struct MHD_Connection *c, struct upload *u)
{
	struct webhook_request rq;
	struct webhook_verdict v;

	if (u->too_big)
		return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
				  "request body too large\n");
	rq.hub_signature = header(c, "X-Hub-Signature-256");
	rq.signature = header(c, "X-Signature");
	rq.github_delivery = header(c, "X-GitHub-Delivery");
	rq.delivery_id = header(c, "X-Delivery-Id");
	rq.github_event = header(c, "X-GitHub-Event");
	rq.body = u->body.buf;
	rq.len = u->body.len;
	webhook_decide(&v, s->secret, s->seen, &rq);
	if (v.call_hook && s->hook)
		s->hook(s->arg, v.event, v.delivery);
	return reply_text(c, v.status, v.message);
}

/*
 * The upload callback pattern: the first call (headers only) checks
 * Content-Length and sets up the upload; each later call with data
 * appends what fits under the cap; the last call (no data) answers.
 * libmicrohttpd cannot answer while data arrives, so a body that grows
 * past the cap without a Content-Length is read on without being kept
 * and answered 413 at its end; one that goes on past twice the cap or
 * UPLOAD_SECONDS has its connection closed instead.
 */
static enum MHD_Result
post_hook(struct serve *s, struct MHD_Connection *c, const char *data,
	  size_t *size, void **req)
{
	struct upload *u = *req;

	if (u == NULL) {
		if (content_length(c) > s->max_body)
			return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
					  "request body too large\n");
		u = xcalloc(1, sizeof(*u));
		strbuf_init(&u->body, s->max_body);
		clock_gettime(CLOCK_MONOTONIC, &u->start);
		*req = u;
		return MHD_YES;
	}
	if (*size == 0)
		return hook_done(s, c, u);
	if (elapsed(&u->start) > UPLOAD_SECONDS)
		return MHD_NO;
	if (*size > SIZE_MAX - u->received)
		return MHD_NO;
	u->received += *size;
	if (u->received > s->max_body &&
	    u->received - s->max_body > s->max_body)
		return MHD_NO; /* past twice the cap: stop reading */
	if (u->received > s->max_body && !u->too_big) {
		u->too_big = 1;
		strbuf_release(&u->body);
	}
	if (!u->too_big)
		strbuf_add(&u->body, data, *size);
	*size = 0;
	return MHD_YES;
}

/* --- the dashboard and /api/v1 -------------------------------------- */

static int
is_get(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Does the request carry the token (Authorization: Bearer <token>)?
 * Compared as SHA-256 digests, in constant time. */
static int
authorized(struct serve *s, struct MHD_Connection *c)
{
	const char *h;
	char got[SHA256_HEX_LEN + 1];

	if (!s->need_token)
		return 1;
	if (s->token_hash[0] == '\0')
		return 0;
	h = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	hash_sha256_hex(got, h, strlen(h));
	return CRYPTO_memcmp(got, s->token_hash, SHA256_HEX_LEN) == 0;
}

static const char *const www_authenticate[] = {
	MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"pressctl\"", NULL
};

static enum MHD_Result
unauthorized(struct serve *s, struct MHD_Connection *c, int api)
{
	const char *why =
		s->token_hash[0] ?
			"this address needs the token: send Authorization: "
			"Bearer <token> (pressctl watch --api-token)" :
			"the dashboard is off on a non-loopback address "
			"without a token: start pressctl watch with "
			"--api-token env:NAME|file:PATH";

	if (api)
		return reply_json_error(c, MHD_HTTP_UNAUTHORIZED, why,
					www_authenticate);
	return reply_dash(c, MHD_HTTP_UNAUTHORIZED, text_plain, why,
			  strlen(why), www_authenticate);
}

static enum MHD_Result
get_api(struct serve *s, struct MHD_Connection *c, const char *name)
{
	struct MHD_Response *r;
	size_t len = 0;
	char *doc;

	if (strcmp(name, "events") == 0) {
		r = dash_stream(s->dash, c, header(c, "Last-Event-ID"));
		if (r == NULL)
			return reply_json_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
						"too many event streams open",
						NULL);
		return queue_dash(c, MHD_HTTP_OK, r, "text/event-stream", NULL);
	}
	doc = dash_doc(s->dash, name, &len);
	if (doc == NULL) {
		for (size_t i = 0; dash_docs[i]; i++)
			if (strcmp(dash_docs[i], name) == 0)
				return reply_json_error(
					c, MHD_HTTP_SERVICE_UNAVAILABLE,
					"starting: no pass has ended yet",
					NULL);
		return reply_json_error(c, MHD_HTTP_NOT_FOUND, "not found",
					NULL);
	}
	r = MHD_create_response_from_buffer(len, doc, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(doc);
		return MHD_NO;
	}
	return queue_dash(c, MHD_HTTP_OK, r, app_json, NULL);
}

/* 1 when url is the dashboard's (answered in *ret), 0 when not. */
static int
dashboard(struct serve *s, struct MHD_Connection *c, const char *url,
	  const char *method, enum MHD_Result *ret)
{
	const struct dash_asset *a = dash_asset(url);
	int api = strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;

	if (!a && !api)
		return 0;
	if (!is_get(method))
		*ret = reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text_plain,
			     "GET, HEAD", "method not allowed\n", 19);
	else if (a && a->public_)
		*ret = reply_dash(c, MHD_HTTP_OK, a->type, a->body,
				  strlen(a->body), NULL);
	else if (!authorized(s, c))
		*ret = unauthorized(s, c, api);
	else if (a)
		*ret = reply_dash(c, MHD_HTTP_OK, a->type, a->body,
				  strlen(a->body), NULL);
	else if (strncmp(url, "/api/v1/", 8) == 0 &&
		 strchr(url + 8, '/') == NULL)
		*ret = get_api(s, c, url + 8);
	else
		*ret = reply_json_error(c, MHD_HTTP_NOT_FOUND, "not found",
					NULL);
	return 1;
}

/* --- routing -------------------------------------------------------- */

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *data, size_t *size, void **req)
{
	struct serve *s = cls;
	int healthz = strcmp(url, "/healthz") == 0;
	int readyz = strcmp(url, "/readyz") == 0;
	int metrics = strcmp(url, "/metrics") == 0 && s->metrics;
	enum MHD_Result ret;

	(void)version;
	if (strcmp(url, "/hooks/git") == 0 && s->secret) {
		if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
			return post_hook(s, c, data, size, req);
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text_plain, "POST",
			     "method not allowed\n", 19);
	}
	if (s->dash && dashboard(s, c, url, method, &ret))
		return ret;
	if (!healthz && !readyz && !metrics)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (!is_get(method))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text_plain,
			     "GET, HEAD", "method not allowed\n", 19);
	if (healthz)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (readyz)
		return get_readyz(s, c);
	return get_metrics(s, c);
}

static void
completed(void *cls, struct MHD_Connection *c, void **req,
	  enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *req;

	(void)cls;
	(void)c;
	(void)toe;
	if (u == NULL)
		return;
	strbuf_release(&u->body);
	free(u);
	*req = NULL;
}

/* --- listening ------------------------------------------------------ */

/* Split "host:port" or "[v6]:port" into host and port; 0 ok, -1 not
 * that shape. */
static int
split_listen(char *host, size_t hostlen, char *port, size_t portlen,
	     const char *listen)
{
	const char *colon, *h = listen, *hend;
	size_t n;

	if (listen[0] == '[') {
		h = listen + 1;
		hend = strchr(h, ']');
		if (hend == NULL || hend[1] != ':')
			return -1;
		colon = hend + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL ||
		    memchr(listen, ':', (size_t)(colon - listen)))
			return -1; /* none, or a bare IPv6 address */
		hend = colon;
	}
	n = (size_t)(hend - h);
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	n = strlen(colon + 1);
	if (n == 0 || n >= portlen || strspn(colon + 1, "0123456789") != n ||
	    strtol(colon + 1, NULL, 10) > 65535)
		return -1;
	memcpy(port, colon + 1, n + 1);
	return 0;
}

/* Try one address: a bound, listening, non-blocking socket, or -1 with
 * errno set. */
static int
try_listen(const struct addrinfo *ai)
{
	int fd, one = 1, saved;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    listen(fd, LISTEN_BACKLOG) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Is the bound address loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)?
 * A wildcard address (0.0.0.0, ::) is not: it listens on every one. */
static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)
				      ->sin_addr.s_addr) >>
			24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/* A bound, listening, non-blocking socket for listen (the first
 * address it resolves to that can be bound); its port in *port. */
static int
open_listener(int *fd_out, int *port, int *loopback, const char *listen,
	      struct err *e)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[256], serv[8];
	int fd = -1, first_errno = 0, rc, ret = -1;

	if (split_listen(host, sizeof(host), serv, sizeof(serv), listen) < 0) {
		err_set(e,
			"invalid listen address '%s': use host:port or "
			"[ipv6]:port, e.g. 127.0.0.1:48560",
			listen);
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, serv, &hints, &res);
	if (rc != 0) {
		err_set(e, "cannot resolve listen address '%s': %s", listen,
			gai_strerror(rc));
		goto out;
	}
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		fd = try_listen(ai);
		if (fd < 0 && first_errno == 0)
			first_errno = errno;
	}
	if (fd < 0) {
		err_set(e,
			"cannot listen on '%s': %s (choose another "
			"--listen address)",
			listen,
			strerror(first_errno ? first_errno : EAFNOSUPPORT));
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		err_set(e, "cannot listen on '%s': %s", listen,
			strerror(errno));
		goto out;
	}
	*port = ss.ss_family == AF_INET6 ?
			ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
			ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*loopback = is_loopback(&ss);
	*fd_out = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	return ret;
}

/* --- lifecycle ------------------------------------------------------ */

int
serve_start(struct serve **out, const struct serve_config *c, struct err *e)
{
	struct serve *s = xcalloc(1, sizeof(*s));
	int fd = -1, mhd_fd, ret = -1, loopback = 0;

	*out = NULL;
	s->max_body = c->max_body ? c->max_body : DEFAULT_MAX_BODY;
	s->metrics = c->metrics;
	s->ready = c->ready;
	s->hook = c->hook;
	s->arg = c->arg;
	if (c->webhook_secret && *c->webhook_secret) {
		s->secret = xstrdup(c->webhook_secret);
		s->seen = replay_new();
	}
	if (c->listen == NULL || *c->listen == '\0') {
		err_set(e, "no listen address: use host:port, "
			   "e.g. 127.0.0.1:48560");
		goto out;
	}
	if (open_listener(&fd, &s->port, &loopback, c->listen, e) < 0)
		goto out;
	if (c->dashboard) {
		s->dash = dash_new();
		if (c->api_token && *c->api_token)
			hash_sha256_hex(s->token_hash, c->api_token,
					strlen(c->api_token));
		s->need_token = !loopback || s->token_hash[0];
	}
	/* libmicrohttpd closes the socket it was given on some failure
	 * paths and not on others; giving it a duplicate makes either
	 * safe (at worst one descriptor stays open after a failed start). */
	mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mhd_fd < 0) {
		err_set(e, "cannot listen on '%s': %s", c->listen,
			strerror(errno));
		goto out;
	}
	s->mhd = MHD_start_daemon(MHD_USE_AUTO |
					  MHD_USE_INTERNAL_POLLING_THREAD |
					  MHD_ALLOW_SUSPEND_RESUME,
				  0, NULL, NULL, handle, s,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
				  MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned int)CONN_LIMIT,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				  (unsigned int)CONN_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)CONN_IDLE_SECONDS,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				  (size_t)CONN_MEMORY,
				  MHD_OPTION_NOTIFY_COMPLETED, completed,
				  (void *)s, MHD_OPTION_END);
	if (s->mhd == NULL) {
		err_set(e,
			"cannot serve on '%s': libmicrohttpd did not "
			"start (out of threads or descriptors?)",
			c->listen);
		goto out;
	}
	*out = s;
	s = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	serve_stop(s);
	return ret;
}

int
serve_port(const struct serve *s)
{
	return s ? s->port : 0;
}

int
serve_needs_token(const struct serve *s)
{
	return s && s->need_token;
}

void
serve_publish(struct serve *s, json_t *snapshot)
{
	if (s)
		dash_publish(s->dash, snapshot);
}

void
serve_stop(struct serve *s)
{
	if (s == NULL)
		return;
	dash_close(s->dash); /* no suspended stream may be left */
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	dash_free(s->dash);
	secret_free(s->secret);
	replay_free(s->seen);
	free(s);
}
