/*
 * tlsprobe.c - read the certificate an ingress serves for a host (see
 * tlsprobe.h).
 *
 * One non-blocking socket per host; connect and the TLS handshake wait
 * in poll() against one deadline, so a peer that accepts and then says
 * nothing costs timeout_ms, never more. A few worker threads take the
 * hosts in turn.
 */
#include "tlsprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLSPROBE_TIMEOUT_MS 5000
#define TLSPROBE_PARALLEL 8

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes: 1 ready,
 * 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r;
	}
}

static int
connect_to(const char *addr, int port, long long deadline, char *why,
	   size_t nwhy)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char service[16];
	int fd, err = 0, r;
	socklen_t len = sizeof(err);

	snprintf(service, sizeof(service), "%d", port);
	if ((r = getaddrinfo(addr, service, &hints, &ai)) != 0) {
		snprintf(why, nwhy, "address %s: %s", addr, gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		snprintf(why, nwhy, "socket: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			snprintf(why, nwhy, "connect %s:%d: %s", addr, port,
				 strerror(errno));
			goto fail;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r == 0) {
			snprintf(why, nwhy, "connect %s:%d: timed out", addr,
				 port);
			goto fail;
		}
		if (r < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		    err) {
			snprintf(why, nwhy, "connect %s:%d: %s", addr, port,
				 strerror(err ? err : errno));
			goto fail;
		}
	}
	freeaddrinfo(ai);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/* An X509 name as one RFC 2253 line, cut to fit. */
static void
name_line(const X509_NAME *name, char *out, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = '\0';
	if (!b)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_read(b, out, (int)n - 1);
		out[len > 0 ? len : 0] = '\0';
	}
	BIO_free(b);
}

static void
read_cert(struct tls_cert *c, X509 *x, time_t now)
{
	struct tm tm;
	long long secs;

	c->ok = 1;
	c->name_match = X509_check_host(x, c->host, strlen(c->host),
					X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
					NULL) == 1;
	name_line(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	name_line(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		c->not_after = timegm(&tm);
	secs = (long long)c->not_after - (long long)now;
	/* Whole days left, rounded down (an expired one counts negative). */
	c->days_left = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	c->healthy = c->name_match &&
		     secs >= (long long)TLSPROBE_MIN_DAYS * 86400;
}

static void
probe_one(SSL_CTX *ctx, struct tls_cert *c, const char *addr, int port,
	  time_t now, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	SSL *ssl = NULL;
	X509 *x;
	int fd, r;

	fd = connect_to(addr, port, deadline, c->error, sizeof(c->error));
	if (fd < 0)
		return;
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, c->host)) {
		snprintf(c->error, sizeof(c->error), "TLS setup failed");
		goto out;
	}
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(ssl);
		if (r == 1)
			break;
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_READ:
			r = wait_fd(fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			r = wait_fd(fd, POLLOUT, deadline);
			break;
		default: {
			unsigned long e = ERR_get_error();
			char buf[200];

			if (e)
				ERR_error_string_n(e, buf, sizeof(buf));
			snprintf(c->error, sizeof(c->error),
				 "TLS handshake with %s:%d failed%s%s", addr,
				 port, e ? ": " : " (connection closed)",
				 e ? buf : "");
			goto out;
		}
		}
		if (r <= 0) {
			snprintf(c->error, sizeof(c->error),
				 "TLS handshake with %s:%d: %s", addr, port,
				 r == 0 ? "timed out" : strerror(errno));
			goto out;
		}
	}
	x = SSL_get1_peer_certificate(ssl);
	if (!x) {
		snprintf(c->error, sizeof(c->error),
			 "%s:%d served no certificate", addr, port);
		goto out;
	}
	read_cert(c, x, now);
	X509_free(x);
out:
	SSL_free(ssl);
	close(fd);
}

struct work {
	pthread_mutex_t mu;
	size_t next, n;
	struct tls_cert *v;
	SSL_CTX *ctx;
	const char *addr;
	int port, timeout_ms;
	time_t now;
};

static void *
worker(void *arg)
{
	struct work *w = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&w->mu);
		i = w->next++;
		pthread_mutex_unlock(&w->mu);
		if (i >= w->n)
			return NULL;
		probe_one(w->ctx, &w->v[i], w->addr, w->port, w->now,
			  w->timeout_ms);
	}
}

void
tlsprobe_run(struct tls_cert *v, size_t n, const char *addr, int port,
	     time_t now, int timeout_ms, int parallel)
{
	struct work w = { .n = n,
			  .v = v,
			  .addr = addr,
			  .port = port,
			  .now = now };
	pthread_t tids[TLSPROBE_PARALLEL];
	size_t nt = 0, i;

	for (i = 0; i < n; i++) {
		const char *host = v[i].host;

		memset(&v[i], 0, sizeof(v[i]));
		v[i].host = host;
	}
	if (n == 0)
		return;
	w.timeout_ms = timeout_ms > 0 ? timeout_ms : TLSPROBE_TIMEOUT_MS;
	if (parallel <= 0 || parallel > TLSPROBE_PARALLEL)
		parallel = TLSPROBE_PARALLEL;
	w.ctx = SSL_CTX_new(TLS_client_method());
	if (!w.ctx) {
		for (i = 0; i < n; i++)
			snprintf(v[i].error, sizeof(v[i].error),
				 "cannot set up TLS");
		return;
	}
	/* The chain is not what is checked (see tlsprobe.h). */
	SSL_CTX_set_verify(w.ctx, SSL_VERIFY_NONE, NULL);
	pthread_mutex_init(&w.mu, NULL);
	while (nt < (size_t)parallel && nt < n &&
	       pthread_create(&tids[nt], NULL, worker, &w) == 0)
		nt++;
	if (nt == 0)
		worker(&w); /* no thread: probe them here, in turn */
	for (i = 0; i < nt; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&w.mu);
	SSL_CTX_free(w.ctx);
}
