/*
 * internal.h - shared between the files of serve/ only (and their unit
 * test and fuzz target): the webhook decision and the replay memory.
 *
 * The HTTP glue in serve.c only gathers headers and the body; every
 * decision about a webhook delivery is made here by webhook_decide, a
 * function without I/O that the fuzzer can drive directly.
 */
#ifndef PRESS_SERVE_INTERNAL_H
#define PRESS_SERVE_INTERNAL_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "serve.h"

/* --- replay protection ---------------------------------------------- */

/* How many delivery ids are remembered (the oldest is forgotten first). */
#define REPLAY_KEEP 1024
/* Longest delivery id accepted (GitHub's are 36-character UUIDs). */
#define DELIVERY_MAX 128
/* Longest event name accepted ("pull_request_review_comment" is 27). */
#define EVENT_MAX 64

/* The last REPLAY_KEEP delivery ids: a ring for age plus a hash for
 * lookup, behind one mutex. */
struct replay;

struct replay *replay_new(void);
void replay_free(struct replay *r); /* accepts NULL */

/* Look id up and remember it, atomically: 1 when it was seen before (a
 * replay; nothing changes), 0 when it is new (now remembered). id is
 * copied. Thread-safe. */
int replay_check(struct replay *r, const char *id);

/* --- the webhook decision ------------------------------------------- */

/* What one POST /hooks/git carried. All borrowed; any header may be NULL
 * when absent. */
struct webhook_request {
	const char *hub_signature;   /* X-Hub-Signature-256 */
	const char *signature;	     /* X-Signature */
	const char *github_delivery; /* X-GitHub-Delivery */
	const char *delivery_id;     /* X-Delivery-Id */
	const char *github_event;    /* X-GitHub-Event */
	const void *body;
	size_t len;
};

/* What to answer, and whether to tell the watch loop. */
struct webhook_verdict {
	unsigned int status;  /* HTTP status */
	const char *message;  /* response body: static, one line */
	int call_hook;	      /* 1: call cfg.hook(arg, event, delivery) */
	const char *event;    /* request's or static "push"; set when
				 * call_hook */
	const char *delivery; /* request's; set when call_hook */
};

/*
 * Decide a delivery, in this order: no secret → 404; signature missing
 * or wrong → 401 (nothing is remembered, so unauthenticated requests
 * cannot evict ids); no delivery id → 400; malformed delivery id or
 * event → 400; seen before → 200 "duplicate delivery ignored"; "ping" →
 * 200 "pong"; anything else → 202 "accepted" with call_hook set. The
 * delivery id is remembered once the signature and headers are valid.
 * secret and seen are borrowed; seen may be NULL only when secret is.
 */
void webhook_decide(struct webhook_verdict *v, const char *secret,
		    struct replay *seen, const struct webhook_request *rq);

/* --- the dashboard (dashboard.c) ------------------------------------ */

/* The documents of /api/v1/<name>, as the watch loop last published
 * them, and the server-sent event stream of /api/v1/events: a ring of
 * the last DASH_RING snapshots, so that a client that reconnects with
 * Last-Event-ID misses none of them, and a subscriber list whose
 * suspended connections are resumed by each publication and by a
 * heartbeat every DASH_BEAT_SECONDS. One mutex guards it all. */
#define DASH_RING 8
#define DASH_BEAT_SECONDS 15
#define DASH_MAX_STREAMS 16 /* event streams at once */

struct dash;

struct dash *dash_new(void); /* aborts on out-of-memory */
/* End every stream (their readers answer end-of-stream) and stop the
 * heartbeat: before MHD_stop_daemon, which refuses suspended
 * connections. */
void dash_close(struct dash *d);
void dash_free(struct dash *d); /* after MHD_stop_daemon; accepts NULL */

/* The names of the documents (NULL-terminated): environments, runs,
 * journal, drift. */
extern const char *const dash_docs[];

/* Store snap's members named in dash_docs (serialized here, in the
 * caller's thread: snap is borrowed and never reaches the HTTP thread)
 * and push the whole snapshot, compact, as the next event. */
void dash_publish(struct dash *d, json_t *snap);

/* A copy of document name (a new string, *len its length), or NULL when
 * none was published yet. */
char *dash_doc(struct dash *d, const char *name, size_t *len);

/* A response streaming the events to connection c, starting after
 * last_id (Last-Event-ID, may be NULL: from the newest snapshot on);
 * NULL when DASH_MAX_STREAMS are open already. */
struct MHD_Response *dash_stream(struct dash *d, struct MHD_Connection *c,
				 const char *last_id);

/* The static files of the page, embedded (assets.S). */
struct dash_asset {
	const char *path, *type;
	const char *body; /* NUL-terminated */
	int public_;	  /* served without the token */
};
/* The asset at path, or NULL. */
const struct dash_asset *dash_asset(const char *path);

#endif
