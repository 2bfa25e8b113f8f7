/*
 * http.h - what the HTTP clients of driver/ share (s3.c, docker.c,
 * docker_events.c, probe.c): an easy handle set up one way, a write
 * callback into a capped strbuf, and what a failed transfer means.
 * Internal to driver/.
 *
 * libcurl's global state is initialized once per process, by main()
 * (curl_global_init before any command runs, curl_global_cleanup at
 * exit); none of these functions does it. A test that uses a driver
 * without main() calls curl_global_init itself.
 */
#ifndef PRESS_HTTP_H
#define PRESS_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

/* The settings that differ between callers. */
struct http_opts {
	char *errbuf;		/* CURL_ERROR_SIZE bytes, the caller's, for as
				 * long as the handle is used: curl's message
				 * when a transfer fails */
	long connect_ms;	/* connect timeout; 0: libcurl's own (300 s) */
	long timeout_ms;	/* the whole transfer; 0: no limit */
	const char *user_agent; /* NULL: no User-Agent header */
	int no_proxy;		/* 1: never through a proxy named in the
				 * environment (http_proxy, ...) */
};

/*
 * Set up h, a new handle or one after curl_easy_reset(), as every
 * request of pressctl is: no signals (handles run on worker threads),
 * http and https only, redirects not followed, and o (borrowed, read
 * now). The caller adds its own options: URL, unix socket, signing,
 * callbacks.
 */
void http_setup(CURL *h, const struct http_opts *o);

/* A new easy handle set up by http_setup(); NULL when libcurl cannot
 * make one (out of memory). The caller curl_easy_cleanup()s it. */
CURL *http_handle(const struct http_opts *o);

/*
 * A CURLOPT_WRITEFUNCTION that appends the body to the struct strbuf
 * given as CURLOPT_WRITEDATA (borrowed). A body beyond the strbuf's cap
 * sets its overflow flag and fails the transfer with CURLE_WRITE_ERROR.
 */
size_t http_collect(char *data, size_t size, size_t n, void *sb);

/*
 * Whether a failed transfer (rc != CURLE_OK) is worth retrying: no
 * connection, no answer in time, a connection that broke or closed
 * without a whole answer. 1 transient, 0 permanent (a malformed URL, a
 * refused protocol, a write callback that gave up, out of memory, ...).
 */
int http_transient(CURLcode rc);

/* libcurl's words for a failed transfer: errbuf (the handle's
 * CURLOPT_ERRORBUFFER) when it holds a message, else rc's description.
 * Borrowed: errbuf itself or a static string. */
const char *http_message(const char *errbuf, CURLcode rc);

#endif
