/*
 * docker_events.c - the Docker driver's event stream (driver.h's
 * optional events_* operations, for watch mode).
 *
 * A streaming GET /events runs in a thread of its own, with its own easy
 * handle, for as long as the handle is open. The engine filters by type,
 * labels and event; each line (one JSON object) that passes is checked
 * again here and becomes one byte on a non-blocking pipe: EV_BYTE per
 * relevant event, END_BYTE once when the stream ends. The watch loop
 * polls the pipe's read end. Idle, the thread sleeps in libcurl's poll
 * (woken about once a second for the progress callback): no polling of
 * the engine.
 *
 * Stopping: events_close sets stop and shuts the stream's socket down
 * (the thread's recv returns at once); the progress callback, which sees
 * stop, is the fallback. The socket is tracked through curl's open and
 * close socket callbacks, under the lock, so close never shuts down a
 * descriptor that curl already closed and the system reused.
 */
#include "docker_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "../manifest/manifest.h"
#include "../util/strbuf.h"

/* One event line: a container's labels are in it; 1 MiB is plenty. */
#define EVENT_LINE_MAX ((size_t)1 << 20)
/* An error answer kept for the message. */
#define EVENT_ERROR_MAX ((size_t)4096)
/* How long events_open waits for the engine to start the stream. */
#define EVENTS_READY_MS (DOCKER_CONNECT_TIMEOUT_MS + 5000L)
#define EV_BYTE 'e'
#define END_BYTE 'x'

enum ev_state {
	EV_CONNECTING,
	EV_STREAMING,
	EV_ENDED
};

struct docker_events {
	char *socket, *platform, *url;
	int pipe[2]; /* [0]: events_fd; [1]: the thread writes */
	CURL *curl;  /* the thread's while it runs */
	pthread_t thread;
	int started;	/* thread created, not joined yet */
	int ended_seen; /* events_read saw END_BYTE (caller's) */
	/* The thread's alone while it runs: */
	long status;	    /* HTTP status once the headers are in */
	struct strbuf line; /* the line being received, or the error
				 * answer when status != 200 */
	int skipping;	    /* inside a line over EVENT_LINE_MAX */
	char errbuf[CURL_ERROR_SIZE];
	/* Under lock: */
	pthread_mutex_t lock;
	pthread_cond_t changed; /* state changed */
	enum ev_state state;
	int stop;
	curl_socket_t sock; /* the stream's socket, or CURL_SOCKET_BAD */
	struct err why;	    /* EV_ENDED without stop: why */
};

/* A byte for the watch loop. A full pipe is already readable: the byte
 * is not needed then. */
static void
ev_signal(struct docker_events *ev, char byte)
{
	while (write(ev->pipe[1], &byte, 1) < 0 && errno == EINTR)
		;
}

static int
ev_stopping(struct docker_events *ev)
{
	int stop;

	pthread_mutex_lock(&ev->lock);
	stop = ev->stop;
	pthread_mutex_unlock(&ev->lock);
	return stop;
}

/* docker_internal.h */
int
docker_event_relevant(const char *platform, const char *line, size_t len)
{
	/* update: changed in place (docker update), its limits to check */
	static const char *const actions[] = {
		"die", "stop", "kill", "oom", "destroy", "pause", "update",
	};
	json_t *j = json_loadb(line, len, 0, NULL), *attrs;
	const char *type, *action, *managed, *owner;
	int relevant = 0;

	if (!j)
		return 1;
	type = json_string_value(json_object_get(j, "Type"));
	action = json_string_value(json_object_get(j, "Action"));
	attrs = json_object_get(json_object_get(j, "Actor"), "Attributes");
	managed = json_string_value(json_object_get(attrs, "press.managed"));
	owner = json_string_value(json_object_get(attrs, "press.platform"));
	if (type && !strcmp(type, "container") && action && managed &&
	    !strcmp(managed, "true") && owner && !strcmp(owner, platform)) {
		for (size_t i = 0; i < sizeof(actions) / sizeof(*actions); i++)
			if (!strcmp(action, actions[i]))
				relevant = 1;
	}
	json_decref(j);
	return relevant;
}

/* The end of a line: judge it, start the next one. */
static void
ev_line_done(struct docker_events *ev)
{
	if (ev->skipping ||
	    (ev->line.len &&
	     docker_event_relevant(ev->platform, ev->line.buf, ev->line.len)))
		ev_signal(ev, EV_BYTE);
	ev->skipping = 0;
	if (ev->line.alloc > ((size_t)64 << 10))
		strbuf_release(&ev->line); /* give a big line back */
	strbuf_reset(&ev->line);
	ev->line.overflow = 0;
}

/* CURLOPT_WRITEFUNCTION: newline-delimited JSON, in arbitrary pieces. */
static size_t
ev_write(char *p, size_t size, size_t n, void *ud)
{
	struct docker_events *ev = ud;
	size_t total = size * n, rest = total;

	if (ev->status != 200) {
		/* An error answer: keep its start for the message. */
		if (ev->line.len < EVENT_ERROR_MAX)
			strbuf_add(&ev->line, p,
				   rest < EVENT_ERROR_MAX - ev->line.len ?
					   rest :
					   EVENT_ERROR_MAX - ev->line.len);
		return total;
	}
	while (rest) {
		char *nl = memchr(p, '\n', rest);
		size_t chunk = nl ? (size_t)(nl - p) : rest;

		/* Bounded: an endless line is skipped up to its newline
		 * (and counted as an event), not buffered. */
		if (!ev->skipping && strbuf_add(&ev->line, p, chunk) < 0)
			ev->skipping = 1;
		if (!nl)
			break;
		ev_line_done(ev);
		p = nl + 1;
		rest -= chunk + 1;
	}
	return total;
}

/* CURLOPT_HEADERFUNCTION: at the end of the headers, the stream runs. */
static size_t
ev_header(char *p, size_t size, size_t n, void *ud)
{
	struct docker_events *ev = ud;
	size_t total = size * n;
	long status = 0;

	if (total > 2 || (total && p[0] != '\r' && p[0] != '\n'))
		return total;
	curl_easy_getinfo(ev->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 100 && status < 200)
		return total; /* an interim answer; the real one follows */
	ev->status = status;
	if (status == 200) {
		pthread_mutex_lock(&ev->lock);
		ev->state = EV_STREAMING;
		pthread_cond_broadcast(&ev->changed);
		pthread_mutex_unlock(&ev->lock);
	}
	return total;
}

/* CURLOPT_XFERINFOFUNCTION: nonzero aborts the transfer. */
static int
ev_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
	    curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return ev_stopping(ud);
}

static curl_socket_t
ev_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct docker_events *ev = ud;
	curl_socket_t s = CURL_SOCKET_BAD;

	(void)purpose;
	pthread_mutex_lock(&ev->lock);
	if (!ev->stop) {
		s = socket(a->family, a->socktype, a->protocol);
		if (s >= 0)
			fcntl(s, F_SETFD, FD_CLOEXEC);
		else
			s = CURL_SOCKET_BAD;
		ev->sock = s;
	}
	pthread_mutex_unlock(&ev->lock);
	return s;
}

static int
ev_closesocket(void *ud, curl_socket_t s)
{
	struct docker_events *ev = ud;

	pthread_mutex_lock(&ev->lock);
	if (ev->sock == s)
		ev->sock = CURL_SOCKET_BAD;
	pthread_mutex_unlock(&ev->lock);
	return close(s);
}

/* Why the stream ended (not stopped): e, transient but for a refusal. */
static void
ev_why(struct docker_events *ev, CURLcode rc, struct err *e)
{
	if (ev->status && ev->status != 200) {
		json_t *j = json_loadb(ev->line.buf, ev->line.len, 0, NULL);
		const char *m = json_string_value(
			json_object_get(j, "message"));
		char msg[600];

		snprintf(msg, sizeof(msg), "%s",
			 m	      ? m :
			 ev->line.len ? ev->line.buf :
					"no message");
		msg[strcspn(msg, "\r\n")] = '\0';
		if (ev->status >= 500 || ev->status == 429)
			err_transient(e,
				      "cannot follow Docker events at '%s': "
				      "%s (HTTP %ld)",
				      ev->socket, msg, ev->status);
		else
			err_set(e,
				"cannot follow Docker events at '%s': %s "
				"(HTTP %ld)",
				ev->socket, msg, ev->status);
		json_decref(j);
		return;
	}
	switch (rc) {
	case CURLE_OK:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
		/* What a stopping engine does to its streams. */
		err_transient(e,
			      "the Docker event stream at '%s' ended: the "
			      "engine closed it (%s); is dockerd restarting?",
			      ev->socket,
			      rc == CURLE_OK ? "end of stream" :
					       http_message(ev->errbuf, rc));
		break;
	case CURLE_COULDNT_CONNECT:
		docker_unreachable(ev->curl, ev->socket, ev->errbuf, e);
		break;
	default:
		err_transient(e, "the Docker event stream at '%s' broke: %s",
			      ev->socket, http_message(ev->errbuf, rc));
		break;
	}
}

static void *
ev_main(void *arg)
{
	struct docker_events *ev = arg;
	CURLcode rc = curl_easy_perform(ev->curl);

	pthread_mutex_lock(&ev->lock);
	if (!ev->stop)
		ev_why(ev, rc, &ev->why);
	ev->state = EV_ENDED;
	pthread_cond_broadcast(&ev->changed);
	pthread_mutex_unlock(&ev->lock);
	ev_signal(ev, END_BYTE);
	return NULL;
}

void
docker_events_close(void *h)
{
	struct docker_events *ev = h;

	if (!ev)
		return;
	if (ev->started) {
		pthread_mutex_lock(&ev->lock);
		ev->stop = 1;
		if (ev->sock != CURL_SOCKET_BAD)
			shutdown(ev->sock, SHUT_RDWR);
		pthread_mutex_unlock(&ev->lock);
		pthread_join(ev->thread, NULL);
	}
	curl_easy_cleanup(ev->curl);
	for (int i = 0; i < 2; i++)
		if (ev->pipe[i] >= 0)
			close(ev->pipe[i]);
	strbuf_release(&ev->line);
	pthread_cond_destroy(&ev->changed);
	pthread_mutex_destroy(&ev->lock);
	free(ev->socket);
	free(ev->platform);
	free(ev->url);
	free(ev);
}

/* The events URL: the engine filters by type, ownership and event. */
static char *
ev_url(struct docker_events *ev)
{
	char *plabel = xprintf("press.platform=%s", ev->platform);
	json_t *f = json_pack("{s:[s], s:[s,s], s:[s,s,s,s,s,s,s]}", "type",
			      "container", "label", "press.managed=true",
			      plabel, "event", "die", "stop", "kill", "oom",
			      "destroy", "pause", "update");
	char *fs = f ? json_dumps(f, JSON_COMPACT) : NULL;
	char *esc = curl_easy_escape(ev->curl, fs ? fs : "{}", 0);
	char *url = xprintf("%s/events?filters=%s", DOCKER_API, esc ? esc : "");

	curl_free(esc);
	free(fs);
	json_decref(f);
	free(plabel);
	return url;
}

int
docker_events_open(void **h, const struct driver_env *env, const char *platform,
		   struct err *e)
{
	const struct platform *p = env->platform;
	struct docker_events *ev = xcalloc(1, sizeof(*ev));
	/* No overall timeout: the stream runs until it is closed. */
	struct http_opts o = { .errbuf = ev->errbuf,
			       .connect_ms = DOCKER_CONNECT_TIMEOUT_MS,
			       .user_agent = "pressctl",
			       .no_proxy = 1 };
	pthread_condattr_t ca;
	struct timespec deadline;
	int rc, ret = -1;

	*h = NULL;
	ev->pipe[0] = ev->pipe[1] = -1;
	ev->sock = CURL_SOCKET_BAD;
	ev->state = EV_CONNECTING;
	strbuf_init(&ev->line, EVENT_LINE_MAX);
	pthread_mutex_init(&ev->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->changed, &ca);
	pthread_condattr_destroy(&ca);
	ev->socket = xstrdup(docker_socket(p));
	ev->platform = xstrdup(platform	    ? platform :
			       p && p->name ? p->name :
					      "");
	if (pipe(ev->pipe) < 0) {
		err_set(e,
			"cannot follow Docker events at '%s': cannot create "
			"a pipe: %s",
			ev->socket, strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(ev->pipe[i], F_SETFL,
		      fcntl(ev->pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(ev->pipe[i], F_SETFD, FD_CLOEXEC);
	}
	if (!(ev->curl = http_handle(&o))) {
		err_set(e,
			"cannot follow Docker events at '%s': cannot "
			"initialize libcurl",
			ev->socket);
		goto out;
	}
	ev->url = ev_url(ev);
	curl_easy_setopt(ev->curl, CURLOPT_UNIX_SOCKET_PATH, ev->socket);
	curl_easy_setopt(ev->curl, CURLOPT_URL, ev->url);
	curl_easy_setopt(ev->curl, CURLOPT_WRITEFUNCTION, ev_write);
	curl_easy_setopt(ev->curl, CURLOPT_WRITEDATA, ev);
	curl_easy_setopt(ev->curl, CURLOPT_HEADERFUNCTION, ev_header);
	curl_easy_setopt(ev->curl, CURLOPT_HEADERDATA, ev);
	curl_easy_setopt(ev->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(ev->curl, CURLOPT_XFERINFOFUNCTION, ev_progress);
	curl_easy_setopt(ev->curl, CURLOPT_XFERINFODATA, ev);
	curl_easy_setopt(ev->curl, CURLOPT_OPENSOCKETFUNCTION, ev_opensocket);
	curl_easy_setopt(ev->curl, CURLOPT_OPENSOCKETDATA, ev);
	curl_easy_setopt(ev->curl, CURLOPT_CLOSESOCKETFUNCTION, ev_closesocket);
	curl_easy_setopt(ev->curl, CURLOPT_CLOSESOCKETDATA, ev);
	if ((rc = pthread_create(&ev->thread, NULL, ev_main, ev)) != 0) {
		err_set(e,
			"cannot follow Docker events at '%s': cannot start "
			"a thread: %s",
			ev->socket, strerror(rc));
		goto out;
	}
	ev->started = 1;

	/* Wait until the engine answered: an unreachable engine fails
	 * here, and no event after the return is missed. */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += EVENTS_READY_MS / 1000;
	pthread_mutex_lock(&ev->lock);
	while (ev->state == EV_CONNECTING &&
	       pthread_cond_timedwait(&ev->changed, &ev->lock, &deadline) !=
		       ETIMEDOUT)
		;
	if (ev->state == EV_ENDED)
		*e = ev->why;
	else if (ev->state == EV_CONNECTING)
		err_transient(e,
			      "the Docker engine at '%s' did not start the "
			      "event stream within %ld s",
			      ev->socket, EVENTS_READY_MS / 1000);
	rc = ev->state;
	pthread_mutex_unlock(&ev->lock);
	if (rc != EV_STREAMING)
		goto out;
	*h = ev;
	ev = NULL;
	ret = 0;
out:
	docker_events_close(ev);
	return ret;
}

int
docker_events_fd(void *h)
{
	const struct docker_events *ev = h;

	return ev->pipe[0];
}

/*
 * Drain the pipe: 1 when an event came, -1 when the stream ended (e says
 * why), else 0. Events that came just before the end are reported first
 * (1), and the end stays pending: the descriptor is readable again at
 * once and the next call returns -1.
 */
int
docker_events_read(void *h, struct err *e)
{
	struct docker_events *ev = h;
	char buf[256];
	ssize_t n;
	int got = 0;

	for (;;) {
		n = read(ev->pipe[0], buf, sizeof(buf));
		if (n > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == END_BYTE)
					ev->ended_seen = 1;
				else
					got = 1;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return err_set(e, "cannot read the Docker event pipe: %s",
			       strerror(errno));
	if (got) {
		if (ev->ended_seen)
			ev_signal(ev, END_BYTE);
		return 1;
	}
	if (ev->ended_seen) {
		pthread_mutex_lock(&ev->lock);
		*e = ev->why;
		pthread_mutex_unlock(&ev->lock);
		return -1;
	}
	return 0;
}
