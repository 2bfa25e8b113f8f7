/*
 * probe.c - the HTTP health probe of a freshly started container.
 *
 * GET http://127.0.0.1:<port><path> (or a container's address on its
 * network) until the answer is 2xx or 3xx (redirects are not followed: a
 * redirect to a login page is a live application) or the deadline
 * passes. The tries start PROBE_FIRST_MS apart and back off to
 * PROBE_INTERVAL_MS: most servers answer within a few tens of
 * milliseconds of their start, and a fixed 200 ms cost every rollout up
 * to that much. Each try has a short timeout of its own, so one hung
 * connection cannot eat the whole budget. Between tries the thread
 * sleeps: no busy loop.
 */
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"

#define PROBE_FIRST_MS 10
#define PROBE_INTERVAL_MS 200
#define PROBE_TRY_MS 2000L

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Probe sockets get SO_REUSEADDR. A probe's local port is an ephemeral
 * one, and the platform's host-port range usually lies inside the
 * kernel's ephemeral range: a closed probe connection in TIME_WAIT
 * without SO_REUSEADDR would keep the engine from publishing a container
 * on that port for a minute ("address already in use").
 */
static int
reuse_addr(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	int one = 1;

	(void)ud;
	(void)purpose;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return CURL_SOCKOPT_OK;
}

/* The body of a probe answer is not needed: drop it. */
static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* What a failed try saw, in the words an operator expects. */
static void
describe(char *out, size_t n, CURLcode rc, long status, const char *errbuf)
{
	switch (rc) {
	case CURLE_OK: snprintf(out, n, "last answer: HTTP %ld", status); break;
	case CURLE_COULDNT_CONNECT:
		snprintf(out, n, "connection refused");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(out, n, "no answer within %ld s", PROBE_TRY_MS / 1000);
		break;
	case CURLE_GOT_NOTHING:
		snprintf(out, n, "connection closed without an answer");
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR: snprintf(out, n, "connection reset"); break;
	default: snprintf(out, n, "%s", http_message(errbuf, rc)); break;
	}
}

int
http_probe(int port, const char *path, int timeout_s, struct err *e)
{
	return http_probe_at("127.0.0.1", port, path, timeout_s, e);
}

int
http_probe_at(const char *host, int port, const char *path, int timeout_s,
	      struct err *e)
{
	char url[1024], errbuf[CURL_ERROR_SIZE], seen[CURL_ERROR_SIZE + 64];
	/* No time limit here: each try sets its own, below. */
	struct http_opts o = { .errbuf = errbuf,
			       .user_agent = "pressctl-probe",
			       .no_proxy = 1 };
	long long deadline;
	CURL *c = NULL;
	int ret = -1;

	if (port <= 0 || port > 65535 || !path || path[0] != '/' || !host ||
	    !host[0] || strspn(host, "0123456789.") != strlen(host)) {
		err_set(e,
			"cannot probe %s port %d path '%s': invalid probe "
			"target",
			host ? host : "(no address)", port, path ? path : "");
		goto out;
	}
	snprintf(url, sizeof(url), "http://%s:%d%s", host, port, path);
	if (!(c = http_handle(&o))) {
		err_set(e, "cannot probe '%s': cannot initialize libcurl", url);
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	/* A fresh connection per try: a server that restarted between
	 * tries must not be judged by a stale keep-alive connection. */
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, reuse_addr);

	snprintf(seen, sizeof(seen), "no answer yet");
	deadline = now_ms() + (long long)(timeout_s > 0 ? timeout_s : 1) * 1000;
	for (long interval = PROBE_FIRST_MS;;
	     interval = interval * 2 < PROBE_INTERVAL_MS ? interval * 2 :
							   PROBE_INTERVAL_MS) {
		long long left = deadline - now_ms(), started, wait;
		long status = 0;
		CURLcode rc;

		if (left <= 0)
			break;
		started = now_ms();
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
				 left < PROBE_TRY_MS ? (long)left :
						       PROBE_TRY_MS);
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status >= 200 && status < 400) {
			ret = 0;
			goto out;
		}
		describe(seen, sizeof(seen), rc, status, errbuf);
		if (rc == CURLE_URL_MALFORMAT)
			break; /* no later try can do better */
		left = deadline - now_ms();
		if (left <= 0)
			break;
		wait = interval - (now_ms() - started);
		if (wait > 0)
			sleep_ms(wait < left ? wait : left);
	}
	err_set(e, "GET %s: %s", url, seen);
out:
	curl_easy_cleanup(c);
	return ret;
}
