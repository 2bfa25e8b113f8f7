/*
 * dashboard.c - what the read-only dashboard serves: the documents the
 * watch loop publishes after each pass, the server-sent event stream
 * that pushes them, and the embedded static files (docs/dashboard.md).
 *
 * The event stream never busy-waits: a reader with nothing to send
 * suspends its connection (libmicrohttpd's suspend/resume), and a
 * publication or the heartbeat resumes it. Every decision is taken
 * under d->mu, so a reader cannot suspend after the resume meant for it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "../util/strbuf.h"
#include "internal.h"

struct event {
	unsigned long long seq; /* 0: empty slot */
	char *data;		/* compact JSON, one line */
};

struct sub {
	struct dash *d;
	struct MHD_Connection *c;
	unsigned long long next; /* seq of the next event to send */
	unsigned long long beat; /* the heartbeat last sent */
	struct strbuf buf;	 /* what is being sent */
	size_t off;
	int suspended;
	struct sub *prev, *after;
};

struct dash {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t beater;
	int closing;
	char *docs[4]; /* by index in dash_docs */
	struct event ring[DASH_RING];
	unsigned long long seq; /* the newest event; 0: none yet */
	unsigned long long beat;
	struct sub *subs;
	size_t nsubs;
};

const char *const dash_docs[] = { "environments", "runs", "journal", "drift",
				  NULL };

/* Resume every suspended reader (d->mu held). */
static void
wake_all(struct dash *d)
{
	for (struct sub *u = d->subs; u; u = u->after)
		if (u->suspended) {
			u->suspended = 0;
			MHD_resume_connection(u->c);
		}
}

static void *
beat_main(void *arg)
{
	struct dash *d = arg;

	pthread_mutex_lock(&d->mu);
	while (!d->closing) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += DASH_BEAT_SECONDS;
		if (pthread_cond_timedwait(&d->cv, &d->mu, &until) ==
			    ETIMEDOUT &&
		    !d->closing) {
			d->beat++;
			wake_all(d);
		}
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

struct dash *
dash_new(void)
{
	struct dash *d = xcalloc(1, sizeof(*d));

	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->beater, NULL, beat_main, d) != 0)
		abort(); /* as on out-of-memory */
	return d;
}

void
dash_close(struct dash *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	if (d->closing) {
		pthread_mutex_unlock(&d->mu);
		return;
	}
	d->closing = 1;
	wake_all(d);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->beater, NULL);
}

void
dash_free(struct dash *d)
{
	if (d == NULL)
		return;
	dash_close(d);
	for (size_t i = 0; i < 4; i++)
		free(d->docs[i]);
	for (size_t i = 0; i < DASH_RING; i++)
		free(d->ring[i].data);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

void
dash_publish(struct dash *d, json_t *snap)
{
	char *docs[4] = { NULL, NULL, NULL, NULL };
	char *all;
	struct event *ev;

	if (d == NULL || !json_is_object(snap))
		return;
	for (size_t i = 0; dash_docs[i]; i++) {
		json_t *v = json_object_get(snap, dash_docs[i]);

		if (v)
			docs[i] = json_dumps(v, JSON_INDENT(2) |
							JSON_PRESERVE_ORDER);
	}
	all = json_dumps(snap, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (all == NULL)
		abort();
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < 4; i++)
		if (docs[i]) {
			free(d->docs[i]);
			d->docs[i] = docs[i];
		}
	d->seq++;
	ev = &d->ring[d->seq % DASH_RING];
	free(ev->data);
	ev->seq = d->seq;
	ev->data = all;
	wake_all(d);
	pthread_mutex_unlock(&d->mu);
}

char *
dash_doc(struct dash *d, const char *name, size_t *len)
{
	char *out = NULL;

	for (size_t i = 0; dash_docs[i]; i++) {
		if (strcmp(dash_docs[i], name))
			continue;
		pthread_mutex_lock(&d->mu);
		if (d->docs[i]) {
			*len = strlen(d->docs[i]);
			out = xstrdup(d->docs[i]);
		}
		pthread_mutex_unlock(&d->mu);
	}
	return out;
}

/* --- the event stream ------------------------------------------------- */

/* Fill u->buf with what comes next (d->mu held): 1 something, 0 nothing
 * yet, -1 the end. */
static int
next_chunk(struct sub *u)
{
	struct dash *d = u->d;
	unsigned long long oldest;

	strbuf_reset(&u->buf);
	u->off = 0;
	if (d->closing)
		return -1;
	if (d->seq && u->next <= d->seq) {
		const struct event *ev;

		oldest = d->seq >= DASH_RING ? d->seq - DASH_RING + 1 : 1;
		if (u->next < oldest)
			u->next = oldest; /* fell behind: the oldest kept */
		ev = &d->ring[u->next % DASH_RING];
		strbuf_addf(&u->buf,
			    "id: %llu\nevent: snapshot\ndata: ", ev->seq);
		strbuf_addstr(&u->buf, ev->data);
		strbuf_addstr(&u->buf, "\n\n");
		u->next++;
		return 1;
	}
	if (u->beat != d->beat) {
		u->beat = d->beat;
		strbuf_addstr(&u->buf, ": keep-alive\n\n");
		return 1;
	}
	return 0;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sub *u = cls;
	struct dash *d = u->d;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&d->mu);
	if (u->off >= u->buf.len) {
		int r = next_chunk(u);

		if (r < 0) {
			pthread_mutex_unlock(&d->mu);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (r == 0) {
			u->suspended = 1;
			MHD_suspend_connection(u->c);
			pthread_mutex_unlock(&d->mu);
			return 0;
		}
	}
	n = u->buf.len - u->off;
	if (n > max)
		n = max;
	memcpy(out, u->buf.buf + u->off, n);
	u->off += n;
	pthread_mutex_unlock(&d->mu);
	return (ssize_t)n;
}

static void
stream_free(void *cls)
{
	struct sub *u = cls;
	struct dash *d = u->d;

	pthread_mutex_lock(&d->mu);
	if (u->prev)
		u->prev->after = u->after;
	else
		d->subs = u->after;
	if (u->after)
		u->after->prev = u->prev;
	d->nsubs--;
	pthread_mutex_unlock(&d->mu);
	strbuf_release(&u->buf);
	free(u);
}

struct MHD_Response *
dash_stream(struct dash *d, struct MHD_Connection *c, const char *last_id)
{
	struct MHD_Response *r;
	struct sub *u;
	unsigned long long after = 0;
	int resume = 0;

	if (last_id && *last_id &&
	    strspn(last_id, "0123456789") == strlen(last_id) &&
	    strlen(last_id) < 20) {
		after = strtoull(last_id, NULL, 10);
		resume = 1;
	}
	pthread_mutex_lock(&d->mu);
	if (d->nsubs >= DASH_MAX_STREAMS || d->closing) {
		pthread_mutex_unlock(&d->mu);
		return NULL;
	}
	u = xcalloc(1, sizeof(*u));
	u->d = d;
	u->c = c;
	strbuf_init(&u->buf, 0);
	/* A new client starts with the newest snapshot; one that comes
	 * back after the events it saw. */
	u->next = resume ? after + 1 : (d->seq ? d->seq : 1);
	u->beat = d->beat;
	strbuf_addstr(&u->buf, "retry: 2000\n\n");
	u->after = d->subs;
	if (d->subs)
		d->subs->prev = u;
	d->subs = u;
	d->nsubs++;
	pthread_mutex_unlock(&d->mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
					      stream_read, u, stream_free);
	if (r == NULL)
		stream_free(u);
	return r;
}

/* --- static files ----------------------------------------------------- */

/* assets.S */
extern const char press_asset_index_html[], press_asset_app_js[],
	press_asset_app_css[];

static const struct dash_asset assets[] = {
	{ "/", "text/html; charset=utf-8", press_asset_index_html, 0 },
	{ "/index.html", "text/html; charset=utf-8", press_asset_index_html,
	  0 },
	{ "/assets/app.js", "text/javascript; charset=utf-8",
	  press_asset_app_js, 1 },
	{ "/assets/app.css", "text/css; charset=utf-8", press_asset_app_css,
	  1 },
};

const struct dash_asset *
dash_asset(const char *path)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(*assets); i++)
		if (strcmp(assets[i].path, path) == 0)
			return &assets[i];
	return NULL;
}
