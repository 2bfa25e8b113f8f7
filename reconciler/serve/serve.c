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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

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

/* --- routing -------------------------------------------------------- */

static int
is_get(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *data, size_t *size, void **req)
{
	struct serve *s = cls;
	int healthz = strcmp(url, "/healthz") == 0;
	int readyz = strcmp(url, "/readyz") == 0;
	int metrics = strcmp(url, "/metrics") == 0 && s->metrics;

	(void)version;
	if (strcmp(url, "/hooks/git") == 0 && s->secret) {
		if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
			return post_hook(s, c, data, size, req);
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text_plain, "POST",
			     "method not allowed\n", 19);
	}
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

/* A bound, listening, non-blocking socket for listen (the first
 * address it resolves to that can be bound); its port in *port. */
static int
open_listener(int *fd_out, int *port, const char *listen, struct err *e)
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
	int fd = -1, mhd_fd, ret = -1;

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
	if (open_listener(&fd, &s->port, c->listen, e) < 0)
		goto out;
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
					  MHD_USE_INTERNAL_POLLING_THREAD,
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

void
serve_stop(struct serve *s)
{
	if (s == NULL)
		return;
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	secret_free(s->secret);
	replay_free(s->seen);
	free(s);
}
