/*
 * serve.h - the HTTP side of watch mode (libmicrohttpd): /healthz,
 * /readyz, /metrics (Prometheus text format), POST /hooks/git, and the
 * read-only dashboard: the page at /, its JSON under /api/v1/ and the
 * server-sent events of /api/v1/events. docs/watch.md "HTTP endpoints"
 * and docs/dashboard.md are the user-facing contract.
 *
 * The server runs its own thread; callbacks are called from it and must
 * be quick and thread-safe (the watch loop is told through them, it does
 * no work inside). Nothing here prints; errors go to struct err.
 */
#ifndef PRESS_SERVE_H
#define PRESS_SERVE_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "../util/err.h"
#include "../util/strbuf.h"
#include "../util/timings.h"

/* --- metrics: a small thread-safe registry --------------------------- */

/* Every function below takes the registry's one mutex, so the watch loop
 * may update while the HTTP thread renders. Each accepts m == NULL (and
 * does nothing). Strings are copied. */
struct metrics;

struct metrics *metrics_new(void);    /* aborts on out-of-memory */
void metrics_free(struct metrics *m); /* accepts NULL */

/* One reconcile pass ended: its duration, whether it succeeded, the
 * revision applied (when ok) and when. Feeds the duration histogram,
 * the ok/failed counters, and on success the last-success time and the
 * applied revision (a NULL revision keeps the previous one). A negative
 * or non-finite duration counts as 0. */
void metrics_reconcile(struct metrics *m, double seconds, int ok,
		       const char *revision, time_t when);
/* One action ended: action verb ("create", "heal", ...) and result
 * ("done", "failed", "skipped"). A counter per pair seen; the label set
 * is expected to be small (verbs and results are ours, not input). */
void metrics_action(struct metrics *m, const char *action, const char *result);
void metrics_drift(struct metrics *m, size_t n); /* current drift count */
void metrics_leader(struct metrics *m, int leader);
/* A backup of env_id ended (ok: its time, duration, bytes; else one
 * more failure). */
void metrics_backup(struct metrics *m, const char *env_id, int ok, time_t when,
		    double seconds, long long bytes);
/* The age of env_id's newest backup against its policy's maxAgeHours. */
void metrics_backup_age(struct metrics *m, const char *env_id, time_t newest,
			time_t drill, double max_age_hours, int stale);
/* Append the Prometheus text exposition (version 0.0.4) to out: every
 * family with # HELP and # TYPE, label values escaped. out is borrowed. */
/* The certificates of the Domains with TLS as the last probe saw them
 * (cmd/certs.c); replaces the previous set. n 0: none, the families are
 * left out. */
struct metrics_cert {
	const char *env_id, *host;
	int served, healthy;
	time_t not_after;    /* served only */
	long long days_left; /* served only */
};
void metrics_certs(struct metrics *m, const struct metrics_cert *v, size_t n);
/* The phases of the last reconcile pass (util/timings.h; copied) and its
 * wall time: the pressctl_pass_* gauges, replaced at every pass. */
void metrics_pass_timings(struct metrics *m, const struct timings *t,
			  double wall);
void metrics_render(struct metrics *m, struct strbuf *out);

/* --- webhooks ------------------------------------------------------------- */

/*
 * Check a webhook signature in constant time. header is GitHub's
 * X-Hub-Signature-256 value ("sha256=<hex>") or a generic X-Signature
 * ("sha256=<hex>" or bare hex) of HMAC-SHA256(secret, body). 1 valid,
 * 0 not: also for a NULL or empty secret or header, and for anything but
 * exactly 64 hex digits after the optional prefix. Pure: no state, no
 * allocation of its own; all arguments borrowed; body may be NULL when
 * len is 0.
 */
int webhook_verify(const char *secret, const char *header, const void *body,
		   size_t len);

/* --- the server ------------------------------------------------------------ */

struct serve_config {
	/* "127.0.0.1:48560", "[::1]:48560" or "name:port"; port 0 picks a
	 * free one (serve_port tells which). */
	const char *listen;
	/* resolved; NULL or "": /hooks/git is 404. Copied and wiped. */
	const char *webhook_secret;
	size_t max_body;	 /* webhook body cap; 0 = 1 MiB */
	struct metrics *metrics; /* borrowed; NULL: /metrics is 404 */
	/* 1 when ready; else 0 and why, a NUL-terminated reason in at most
	 * n bytes (backend unreachable, last reconcile failed ...); it is
	 * answered 503 on one line. NULL: always ready. */
	int (*ready)(void *arg, char *why, size_t n);
	/* A verified, not replayed webhook delivery: ask for a fetch and a
	 * reconcile. event is X-GitHub-Event or "push"; delivery the id
	 * (both printable ASCII, borrowed for the call only). Called
	 * before the 202 answer is sent, so it must not block. */
	void (*hook)(void *arg, const char *event, const char *delivery);
	void *arg;
	/* 1: serve the dashboard (/, /assets/, /api/v1/). */
	int dashboard;
	/* resolved; NULL or "": none. Only its SHA-256 is kept. With a
	 * token, or on a listen address that is not loopback, the page and
	 * /api/v1/ answer 401 without "Authorization: Bearer <token>"
	 * (always, on such an address without a token); /healthz, /readyz,
	 * /metrics and /hooks/git never ask for it. */
	const char *api_token;
};

struct serve;

/*
 * Listen and serve in a thread of its own. Fails when the address does
 * not parse or cannot be bound (e names it: "cannot listen on
 * '127.0.0.1:48560': Address already in use ..."). The config is
 * copied; metrics and arg must outlive the server. *out is NULL on
 * failure; free with serve_stop.
 */
int serve_start(struct serve **out, const struct serve_config *c,
		struct err *e);
/* The port actually bound (for "host:0"). */
int serve_port(const struct serve *s);
/* 1 when the dashboard asks for the token (see serve_config). */
int serve_needs_token(const struct serve *s);
/*
 * Publish what the dashboard shows: snapshot is an object whose members
 * environments, runs, journal and drift become the documents of
 * /api/v1/<name> (docs/dashboard.md), and which is pushed whole as the
 * next event of /api/v1/events. Borrowed: serialized before it returns,
 * in the caller's thread. Nothing happens without a dashboard.
 */
void serve_publish(struct serve *s, json_t *snapshot);
/* Stop: closes the socket and every connection, joins the thread (no
 * callback runs after it returns), frees s. Accepts NULL. */
void serve_stop(struct serve *s);

#endif
