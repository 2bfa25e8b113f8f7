/*
 * libFuzzer target: the watch server (serve/serve.h) on one untrusted
 * HTTP request: the request line with its path and query string, the
 * headers (Authorization, Last-Event-ID, Content-Length, the webhook's)
 * and a body, parsed by libmicrohttpd and routed by serve.c to the
 * dashboard's /api/v1/ documents and event stream, /hooks/git, /metrics,
 * /healthz and /readyz.
 *
 * The input is sent as it is over a loopback connection to one server
 * started for the whole run; the first answer is read until it is whole
 * (Content-Length), the server closes, or it goes quiet (QUIET_MS).
 *
 * Nothing may crash or leak; an answer is HTTP; no answer carries the
 * API token or the webhook secret; a document is served only to the
 * token.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve.h"
#include "fuzz.h"

#define TOKEN "fuzz-api-token-7f3a"
#define SECRET "fuzz-webhook-secret"
#define QUIET_MS 20 /* an event stream stays open: stop reading */

static struct serve *srv;
static json_t *snapshot;

/* Does hay (n bytes) hold needle? */
static int
holds(const void *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	const char *h = hay;

	for (size_t i = 0; i + k <= n; i++)
		if (h[i] == needle[0] && memcmp(h + i, needle, k) == 0)
			return 1;
	return 0;
}

static void
hook(void *arg, const char *event, const char *delivery)
{
	(void)arg;
	check(event && *event && delivery && *delivery);
}

static void
start(void)
{
	struct serve_config c = {
		.listen = "127.0.0.1:0",
		.webhook_secret = SECRET,
		.max_body = 4096,
		.metrics = metrics_new(),
		.hook = hook,
		.dashboard = 1,
		.api_token = TOKEN,
	};
	struct err e;

	check(serve_start(&srv, &c, &e) == 0);
	snapshot = json_pack("{s:[{s:s}], s:[], s:[], s:[]}", "environments",
			     "id", "acme/prod", "runs", "journal", "drift");
	serve_publish(srv, snapshot);
}

static int
connect_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	/* RST on close: no TIME_WAIT piles up over millions of runs. */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	check(fd >= 0);
	a.sin_port = htons((uint16_t)serve_port(srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	check(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		/* libFuzzer's SIGALRM (every -timeout/2 + 1 s, no SA_RESTART)
		 * may interrupt a connect that waits (a starved machine): the
		 * connection goes on; wait for it. */
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t n = sizeof(err);

		check(errno == EINTR);
		while (poll(&p, 1, -1) < 0)
			check(errno == EINTR);
		check(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) == 0 &&
		      err == 0);
	}
	return fd;
}

/* Send all of data (the server may close early: that is an answer). */
static void
send_all(int fd, const uint8_t *data, size_t size)
{
	while (size > 0) {
		ssize_t n = send(fd, data, size, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		size -= (size_t)n;
	}
}

/* Is the first answer in buf (len bytes) whole: its header ended and
 * as many body bytes as its Content-Length said? (A HEAD answer, one
 * without Content-Length and the event stream end by going quiet.) */
static int
whole(const char *buf, size_t len)
{
	const char *end = strstr(buf, "\r\n\r\n"), *cl;
	unsigned long long n = 0;

	if (end == NULL)
		return 0;
	cl = strstr(buf, "\r\nContent-Length: ");
	if (cl == NULL || cl > end)
		return 0;
	for (cl += 18; *cl >= '0' && *cl <= '9' && n < (1ULL << 40); cl++)
		n = n * 10 + (unsigned long long)(*cl - '0');
	return (unsigned long long)(len - (size_t)(end + 4 - buf)) >= n;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the answer into buf (at most cap - 1 bytes kept, NUL-ended). */
static size_t
read_answer(int fd, char *buf, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long quiet_at = now_ms() + QUIET_MS;
	size_t len = 0;
	char junk[4096];

	buf[0] = '\0';
	while (!whole(buf, len)) {
		char *to = len < cap - 1 ? buf + len : junk;
		size_t room = len < cap - 1 ? cap - 1 - len : sizeof(junk);
		long long left = quiet_at - now_ms();
		int r = poll(&p, 1, left > 0 ? (int)left : 0);
		ssize_t n;

		/* libFuzzer's SIGALRM: go on waiting, for what is left. */
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = recv(fd, to, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (to != junk) {
			len += (size_t)n;
			buf[len] = '\0';
		}
		quiet_at = now_ms() + QUIET_MS;
	}
	buf[len] = '\0';
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char answer[1 << 16];
	size_t len;
	int fd;

	if (srv == NULL)
		start();
	fd = connect_server();
	send_all(fd, data, size);
	shutdown(fd, SHUT_WR);
	len = read_answer(fd, answer, sizeof(answer));
	close(fd);
	if (len > 0)
		check(len >= 9 && memcmp(answer, "HTTP/1.", 7) == 0);
	check(!holds(answer, len, TOKEN));
	check(!holds(answer, len, SECRET));
	/* A document (or the stream) only with the token. */
	if (holds(answer, len, "acme/prod"))
		check(holds(data, size, TOKEN));
	/* An event stream stays suspended until the next publication:
	 * publish after every input, so that a closed one is noticed and
	 * freed, also one whose answer came after the read had given up
	 * (a starved server): no state is carried from one input to the
	 * next. */
	serve_publish(srv, snapshot);
	return 0;
}
