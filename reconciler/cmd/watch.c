/*
 * pressctl watch [SRC] [--resync 60s] [--listen 127.0.0.1:48560] [...]
 *
 * pressctl as a service: converge on every change of the source (inotify
 * on a directory, ref updates of a local git repository, fetches of a
 * remote one), on webhooks, on Docker events (a managed container died or
 * was removed) and on a periodic resync for drift. One poll() loop, no
 * busy waiting. Several watchers may run for one platform: the one that
 * holds the platform's advisory lock applies, the others stand by and
 * take over when it goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "../apply/apply.h"
#include "../apply/backups.h"
#include "../guard/guard.h"
#include "../serve/serve.h"
#include "../source/watch.h"
#include "../util/clock.h"
#include "../util/secret.h"
#include "../util/testhook.h"

static const char usage_text[] =
	"usage: pressctl watch [DIR] [--resync 60s] [--listen ADDR|none]\n"
	"                      [--debounce 250ms] [--notify-socket PATH]\n"
	"                      [--webhook-secret env:NAME|file:PATH]\n"
	"                      [--api-token env:NAME|file:PATH]\n"
	"                      [--parallel N] [--cache DIR] [--timings]\n"
	"       pressctl watch --git REPO|URL [--ref REF] [--path SUBDIR] [...]\n"
	"\n"
	"Converges on every change: saved files, pushed commits, webhooks,\n"
	"containers that die, and a periodic resync for drift. SIGTERM finishes\n"
	"the actions in flight, releases the lock and exits 0; SIGHUP reloads.\n"
	"A read-only dashboard is served at / of --listen (docs/dashboard.md).\n"
	"Each pass's phases are in /metrics; --timings logs them too.\n";

static volatile sig_atomic_t stopping, reloading;
static int sigpipe_w = -1;

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGHUP)
		reloading = 1;
	else
		stopping = 1;
	/* a full pipe means a wake-up is pending anyway */
	if (sigpipe_w >= 0 && write(sigpipe_w, &c, 1) < 0)
		errno = saved;
	errno = saved;
}

struct watch {
	struct source_opts so;
	const char *cache;
	const char *listen;
	const char *webhook_ref;
	const char *token_ref; /* --api-token */
	const char *notify_path;
	char *notify_owned;
	char *mirror; /* remote: local bare mirror */
	int remote;
	double resync, debounce;
	int parallel;
	int log_timings;	 /* --timings: a log line per pass */
	struct timings *timings; /* the pass in hand's, or NULL */

	struct watcher *srcw;
	const struct driver *evdrv;
	void *ev;
	char *ev_socket; /* the engine ev follows */
	int notify_fd;
	int wake[2]; /* webhook -> loop */
	struct metrics *metrics;
	struct serve *srv;

	struct state *lk; /* holds the lock while leader */
	int leader;
	char *lk_platform;

	pthread_mutex_t mu; /* guards ready/why (HTTP thread) */
	int ready;
	char why[512];

	double due;	 /* monotonic time of a pending pass; 0 none */
	double followup; /* a second look after Docker events */
	double next_resync;
	double next_backup; /* a policy's schedule fires; 0 none */
	double backup_hold; /* after a failed scheduled backup: no retry
			     * before this (BACKUP_RETRY_S) */
	int fetch_wanted;
	int failures;
	char trigger[64];
	double next_certs; /* certificates probed again after this */
	char *certs_rev;   /* revision they were probed at */
	/* The last probe's results, for the dashboard: their domain
	 * pointers are bound to each pass's model (certs_bind), by the
	 * index in certs_at of the Domain they were probed for. */
	struct cert_check *certs;
	size_t *certs_at, ncerts;
};

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
parse_duration(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 60;
	else if (strcmp(end, "h") == 0)
		v *= 3600;
	else if (*end && strcmp(end, "s") != 0)
		return -1;
	*out = v;
	return 0;
}

static void set_ready(struct watch *w, int ready, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_ready(struct watch *w, int ready, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&w->mu);
	w->ready = ready;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&w->mu);
}

static int
ready_cb(void *arg, char *why, size_t n)
{
	struct watch *w = arg;
	int r;

	pthread_mutex_lock(&w->mu);
	r = w->ready;
	snprintf(why, n, "%s", w->why);
	pthread_mutex_unlock(&w->mu);
	return r;
}

static void
hook_cb(void *arg, const char *event, const char *delivery)
{
	struct watch *w = arg;
	char c = 'h';

	(void)event;
	(void)delivery;
	/* a full pipe means a wake-up is pending anyway */
	if (write(w->wake[1], &c, 1) < 0)
		return;
}

static void
schedule(struct watch *w, double delay, const char *trigger)
{
	double at = now_mono() + delay;

	if (!w->due || at < w->due) {
		w->due = at;
		snprintf(w->trigger, sizeof(w->trigger), "%s", trigger);
	}
}

/* --- leadership ---------------------------------------------------------- */

static void
drop_leadership(struct watch *w)
{
	if (w->leader)
		cmd_log("warn", "leadership lost; standing by", NULL);
	state_close(w->lk);
	w->lk = NULL;
	w->leader = 0;
	metrics_leader(w->metrics, 0);
}

/*
 * Hold the platform's lock, or learn that another watcher does. 1 leader,
 * 0 standby, -1 PostgreSQL unreachable.
 */
static int
lead(struct watch *w, const struct model *m, const char *dsn)
{
	struct err e;
	int rc, interrupted = 0;

	if (w->lk && strcmp(w->lk_platform, m->platform.name) != 0)
		drop_leadership(w);
	if (!w->lk) {
		char actor[300];

		snprintf(actor, sizeof(actor), "watch pid %ld", (long)getpid());
		if (state_open(&w->lk, dsn, m->platform.name, actor, &e) < 0) {
			w->lk = NULL;
			set_ready(w, 0, "PostgreSQL unreachable: %s", e.msg);
			cmd_log("error", "cannot reach PostgreSQL",
				json_pack("{s:s}", "error", e.msg));
			return -1;
		}
		free(w->lk_platform);
		w->lk_platform = xstrdup(m->platform.name);
	}
	/* Re-entrant for the session holding it; after a reconnect the
	 * state re-takes it or fails. */
	rc = state_lock(w->lk, 0, &e);
	if (rc < 0) {
		drop_leadership(w);
		set_ready(w, 0, "PostgreSQL unreachable: %s", e.msg);
		return -1;
	}
	if (rc == 1) {
		if (w->leader)
			drop_leadership(w);
		return 0;
	}
	if (!w->leader) {
		w->leader = 1;
		metrics_leader(w->metrics, 1);
		cmd_log("info", "leader: applying for this platform",
			json_pack("{s:s}", "platform", m->platform.name));
	}
	/* Every pass: a backup or promotion run that died (or could not
	 * record its end) while this watcher led is closed now, not at the
	 * next change of leader. One statement; a failure is not the pass's. */
	if (state_close_interrupted(w->lk, &interrupted, &e) < 0)
		cmd_log("warn", "cannot close interrupted runs",
			json_pack("{s:s}", "error", e.msg));
	else if (interrupted)
		cmd_log("warn", "earlier runs were interrupted",
			json_pack("{s:i}", "runs", interrupted));
	return 1;
}

/* --- one reconcile pass -------------------------------------------------- */

static void
progress(void *arg, size_t finished, size_t total, const struct action *a,
	 const char *outcome, const char *error)
{
	struct watch *w = arg;

	(void)finished;
	(void)total;
	metrics_action(w->metrics, action_verb(a), outcome);
	cmd_log(strcmp(outcome, "done") ? "error" : "info", "action",
		cmd_action_fields(a, outcome, error));
}

static void
follow_engine(struct watch *w, const struct model *m, struct pass *p)
{
	struct err e;

	if (!w->evdrv->events_open)
		return;
	if (w->ev && w->ev_socket &&
	    strcmp(w->ev_socket, m->platform.runtime_socket) == 0)
		return;
	w->evdrv->events_close(w->ev);
	w->ev = NULL;
	free(w->ev_socket);
	w->ev_socket = NULL;
	if (w->evdrv->events_open(&w->ev, &p->denv, m->platform.name, &e) < 0) {
		w->ev = NULL;
		cmd_log("warn",
			"cannot follow Docker events; relying on resync",
			json_pack("{s:s}", "error", e.msg));
		return;
	}
	w->ev_socket = xstrdup(m->platform.runtime_socket);
}

static int
load(struct watch *w, struct model **m)
{
	struct source_opts so = w->so;
	struct err e;

	if (w->remote) {
		free(w->mirror);
		w->mirror = NULL;
		if (source_mirror(&w->mirror, w->so.git, w->cache, &e) < 0) {
			cmd_log("error", "cannot fetch the source",
				json_pack("{s:s}", "error", e.msg));
			return -1;
		}
		so.git = w->mirror;
	}
	if (cmd_load_model(m, &so, 1, w->timings) != EXIT_OK)
		return -1; /* logged; the last good revision stays applied */
	return 0;
}

/* A failed scheduled backup is tried again after this many seconds. */
#define BACKUP_RETRY_S 300

/* The age of every covered environment's newest backup, for /metrics. */
static void
backup_ages(struct watch *w, struct pass *pass)
{
	const struct model *m = pass->model;
	struct rec_backup *have = NULL;
	size_t n = 0;
	struct err e;

	if (state_backups_newest(pass->state, &have, &n, &e) < 0)
		return;
	for (size_t i = 0; i < m->nenvs; i++) {
		struct backup_health h;

		backups_health(m, &m->envs[i], have, n, pass->now, &h);
		if (h.covered)
			metrics_backup_age(w->metrics, m->envs[i].id, h.newest,
					   h.drill, h.max_age_hours, h.stale);
	}
	rec_backups_free(have, n);
}

/* Certificates are probed again after this many seconds, or at once
 * when the revision changes. */
#define CERT_PROBE_S 300

/* The certificates of the Domains with TLS, for /metrics. */
static void
cert_metrics(struct watch *w, const struct model *m, time_t now)
{
	struct cert_check *certs;
	struct metrics_cert *mc;
	size_t n;

	if (now_mono() < w->next_certs && w->certs_rev &&
	    !strcmp(w->certs_rev, m->revision))
		return;
	n = cmd_cert_checks(m, now, &certs);
	free(w->certs);
	free(w->certs_at);
	w->certs = certs;
	w->ncerts = n;
	w->certs_at = n ? xcalloc(n, sizeof(*w->certs_at)) : NULL;
	for (size_t i = 0; i < n; i++)
		w->certs_at[i] = (size_t)(certs[i].domain - m->domains);
	mc = n ? xcalloc(n, sizeof(*mc)) : NULL;
	for (size_t i = 0; i < n; i++) {
		mc[i].env_id = certs[i].domain->env->id;
		mc[i].host = certs[i].cert.host;
		mc[i].served = certs[i].cert.ok;
		mc[i].healthy = certs[i].cert.healthy;
		mc[i].not_after = certs[i].cert.not_after;
		mc[i].days_left = certs[i].cert.days_left;
	}
	metrics_certs(w->metrics, mc, n);
	free(mc);
	free(w->certs_rev);
	w->certs_rev = xstrdup(m->revision);
	w->next_certs = now_mono() + CERT_PROBE_S;
}

/*
 * The policies' schedules (the leader only, after a pass): back up every
 * environment whose schedule fired since its newest backup (a window
 * missed while no watcher ran counts once), prune it, and wake again
 * when the next schedule fires.
 */
static void
scheduled_backups(struct watch *w, struct pass *pass)
{
	const char **due = NULL;
	size_t n = 0;
	time_t next = 0;
	struct backups b;
	struct err e;
	int failed = 0;

	w->next_backup = 0;
	if (now_mono() < w->backup_hold) {
		backup_ages(w, pass);
		w->next_backup = w->backup_hold;
		return;
	}
	if (backups_open(&b, pass, NULL, &e) < 0 ||
	    backups_due(&b, &due, &n, &next, &e) < 0) {
		cmd_log("error", "cannot plan the scheduled backups",
			json_pack("{s:s}", "error", e.msg));
		if (b.p)
			backups_close(&b, NULL);
		return;
	}
	if (n) {
		backups_close(&b, NULL);
		if (backups_open(&b, pass, "scheduled backup", &e) < 0) {
			cmd_log("error", "cannot start the scheduled backups",
				json_pack("{s:s}", "error", e.msg));
			free(due);
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct backup_result r;
		double t0 = now_mono();
		size_t deleted = 0;

		if (backups_run(&b, due[i], "scheduled", &r, &e) < 0) {
			failed = 1;
			metrics_backup(w->metrics, due[i], 0, 0, 0, 0);
			cmd_log("error", "scheduled backup failed",
				json_pack("{s:s, s:s}", "env", due[i], "error",
					  e.msg));
			continue;
		}
		metrics_backup(w->metrics, due[i], 1, b.ctx.now,
			       now_mono() - t0, r.bytes);
		cmd_log("info", "scheduled backup",
			json_pack("{s:s, s:s, s:I, s:I}", "env", due[i], "id",
				  r.id, "bytes", (json_int_t)r.bytes, "objects",
				  (json_int_t)r.objects));
		json_decref(r.manifest);
		if (backups_prune(&b, due[i], &deleted, &e) < 0)
			cmd_log("error", "pruning failed",
				json_pack("{s:s, s:s}", "env", due[i], "error",
					  e.msg));
	}
	if (b.uploads_left)
		cmd_log("warn", "multipart uploads could not be aborted",
			json_pack("{s:i}", "uploads", b.uploads_left));
	backups_close(&b, n ? (failed ? "failed" : "ok") : NULL);
	free(due);
	backup_ages(w, pass);
	if (next > 0)
		w->next_backup = now_mono() + (double)(next - clock_now()) + 1;
	if (failed) {
		/* Not again at every pass: the next try in BACKUP_RETRY_S. */
		w->backup_hold = now_mono() + BACKUP_RETRY_S;
		if (!w->next_backup || w->backup_hold < w->next_backup)
			w->next_backup = w->backup_hold;
	}
}

/* Point the kept certificate checks at this pass's model (the same
 * revision has the same Domains at the same places); forget them when
 * the revision changed: the next probe replaces them. */
static void
certs_bind(struct watch *w, const struct model *m)
{
	if (!w->certs_rev || strcmp(w->certs_rev, m->revision)) {
		free(w->certs);
		free(w->certs_at);
		w->certs = NULL;
		w->certs_at = NULL;
		w->ncerts = 0;
		return;
	}
	for (size_t i = 0; i < w->ncerts; i++) {
		w->certs[i].domain = &m->domains[w->certs_at[i]];
		w->certs[i].cert.host = w->certs[i].domain->host;
	}
}

/* Runs and journal rows the dashboard shows. */
#define DASH_RUNS 50
#define DASH_JOURNAL 100

/* The plan's drift actions, as the dashboard lists them. */
static json_t *
drift_doc(const struct model *m, const struct plan *plan,
	  const struct live *live, time_t now)
{
	json_t *pj = plan_json(plan, live), *a, *out = json_array();
	size_t i;

	json_array_foreach(json_object_get(pj, "actions"), i, a) {
		static const char *const keep[] = { "action", "kind",
						    "name",   "environment",
						    "detail", "changes",
						    NULL };
		json_t *o;

		if (strcmp(json_string_value(json_object_get(a, "reason")),
			   "drift"))
			continue;
		o = json_object();
		for (size_t k = 0; keep[k]; k++)
			if (json_object_get(a, keep[k]))
				json_object_set(o, keep[k],
						json_object_get(a, keep[k]));
		json_array_append_new(out, o);
	}
	json_decref(pj);
	return json_pack("{s:s, s:s, s:I, s:o}", "platform", m->platform.name,
			 "revision", m->revision, "generatedAt",
			 (json_int_t)now, "drift", out);
}

/*
 * Publish what the dashboard shows after (or, phase "applying", before)
 * a pass: the status of every environment, the runs and journal, the
 * drift (docs/dashboard.md), and the readiness given. Best effort: what
 * cannot be read is left empty, and the pass goes on.
 */
static void
publish_as(struct watch *w, struct pass *pass, const struct plan *plan,
	   const char *phase, int ready, const char *why)
{
	const struct model *m = pass->model;
	struct rec_backup *have = NULL;
	json_t *history = NULL, *doc, *snap;
	size_t nhave = 0;
	time_t now = clock_now();
	struct err e;

	if (!w->srv)
		return;
	if (state_backups_newest(pass->state, &have, &nhave, &e) < 0) {
		have = NULL;
		nhave = 0;
	}
	if (state_history(pass->state, DASH_RUNS, DASH_JOURNAL, &history, &e) <
	    0)
		history = json_pack("{s:[], s:[], s:[]}", "runs", "journal",
				    "errors");
	doc = cmd_status_doc(pass, plan, have, nhave, w->certs, w->ncerts,
			     history);
	json_object_set_new(doc, "generatedAt", json_integer((json_int_t)now));
	json_object_set_new(doc, "watcher",
			    json_pack("{s:b, s:s, s:s, s:b, s:s}", "leader",
				      w->leader, "phase", phase, "trigger",
				      w->trigger, "ready", ready, "why", why));
	snap = json_pack("{s:o, s:{s:s, s:I, s:O}, s:{s:s, s:I, s:O, s:O}, s:o}",
			 "environments", doc, "runs", "platform",
			 m->platform.name, "generatedAt", (json_int_t)now,
			 "runs", json_object_get(history, "runs"), "journal",
			 "platform", m->platform.name, "generatedAt",
			 (json_int_t)now, "entries",
			 json_object_get(history, "journal"), "errors",
			 json_object_get(history, "errors"), "drift",
			 drift_doc(m, plan, &pass->live, now));
	serve_publish(w->srv, snap);
	json_decref(snap);
	json_decref(history);
	rec_backups_free(have, nhave);
}

/* The same, with the readiness the watcher has now. */
static void
publish(struct watch *w, struct pass *pass, const struct plan *plan,
	const char *phase)
{
	char why[sizeof(w->why)];
	int ready;

	pthread_mutex_lock(&w->mu);
	ready = w->ready;
	snprintf(why, sizeof(why), "%s", w->why);
	pthread_mutex_unlock(&w->mu);
	publish_as(w, pass, plan, phase, ready, why);
}

/* Observe again and plan again (after an apply, or on standby): 0, or
 * -1 with e. */
static int
observe_again(struct pass *pass, struct plan *plan, struct err *e)
{
	recorded_release(&pass->rec);
	live_release(&pass->live);
	plan_release(plan);
	plan_init(plan);
	if (pass_observe(pass, e) < 0)
		return -1;
	return plan_build(plan, pass->model, &pass->rec, &pass->live, pass->now,
			  NULL, NULL, e);
}

/* A pass that observed the platform ends: its phases to /metrics, and
 * with --timings to the log ("pass timings": seconds by phase, and by
 * "phase part" for the parts; "other" and "total"). */
static void
pass_timings(struct watch *w, const char *revision)
{
	double wall = timings_wall(w->timings);
	json_t *f;

	metrics_pass_timings(w->metrics, w->timings, wall);
	if (!w->log_timings)
		return;
	f = cmd_timings_json(w->timings, wall);
	json_object_set_new(f, "revision", json_string(revision));
	cmd_log("info", "pass timings", f);
}

/* Returns 0 when converged (or standing by), -1 when it should retry. */
static int
reconcile(struct watch *w)
{
	struct apply_opts ao = { w->parallel, 5, progress, w,
				 (const volatile int *)&stopping };
	double t0 = now_mono();
	struct apply_result res = { 0 };
	struct model *m = NULL;
	struct timings tm;
	struct pass pass;
	struct plan plan;
	struct err e;
	int rc = -1, led;
	size_t nactions = 0, ndrift = 0;
	char why[512];

	plan_init(&plan);
	timings_init(&tm);
	w->timings = &tm;
	if (load(w, &m) < 0) {
		w->timings = NULL;
		timings_release(&tm);
		metrics_reconcile(w->metrics, now_mono() - t0, 0, NULL,
				  time(NULL));
		set_ready(w, 0, "the source is invalid or unreadable");
		return 0; /* wait for the next change, not a retry */
	}
	if (pass_open(&pass, m, "watch", &e) < 0) {
		set_ready(w, 0, "%s", e.msg);
		cmd_log("error", "cannot open the platform's state",
			json_pack("{s:s}", "error", e.msg));
		goto out_model;
	}
	pass.timings = &tm;
	follow_engine(w, m, &pass);
	led = lead(w, m, pass.pg_dsn);
	if (led <= 0) {
		rc = led == 0 ? 0 : -1;
		if (led == 0) {
			set_ready(w, 1, "standby: another watcher applies");
			/* Read-only: the dashboard of a standby shows the
			 * platform too. */
			certs_bind(w, m);
			if (w->srv && observe_again(&pass, &plan, &e) == 0)
				publish(w, &pass, &plan, "standby");
		}
		goto out_plan;
	}
	if (pass_observe(&pass, &e) < 0 ||
	    plan_build(&plan, m, &pass.rec, &pass.live, pass.now, NULL, NULL,
		       &e) < 0) {
		set_ready(w, 0, "%s", e.msg);
		cmd_log("error", "cannot observe the platform",
			json_pack("{s:s}", "error", e.msg));
		goto out_pass;
	}
	timings_phase(&tm, "diff");
	metrics_drift(w->metrics, plan.drift);
	nactions = plan.n;
	ndrift = plan.drift;
	certs_bind(w, m);
	if (guard_conflicts(&plan, &e) ||
	    guard_mass_delete(&plan, m->platform.max_delete_percent, 0, &e)) {
		set_ready(w, 0, "refused: %s", e.msg);
		cmd_log("error", "refused by a safety guard",
			json_pack("{s:s, s:s}", "revision", m->revision,
				  "error", e.msg));
		rc = 0; /* a new revision must fix it */
		publish(w, &pass, &plan, "refused");
		goto out_plan;
	}
	if (plan.n)
		publish(w, &pass, &plan, "applying");
	if (plan.n && apply_plan(&pass, &plan, &ao, &res, &e) < 0) {
		set_ready(w, 0, "%s", e.msg);
		cmd_log("error", "apply failed",
			json_pack("{s:s}", "error", e.msg));
		goto out_plan;
	}
	rc = res.failed || res.skipped ? -1 : 0;
	/* Before "reconciled": what a pass reports is complete when it says so. */
	cert_metrics(w, m, pass.now);
	/* The dashboard first, with the readiness about to be set: once
	 * /readyz says so, or the log says "reconciled", it is there. */
	if (rc == 0)
		snprintf(why, sizeof(why), "converged at %s", m->revision);
	else
		snprintf(why, sizeof(why), "%zu actions failed at %s",
			 res.failed, m->revision);
	if (plan.n && w->srv) {
		/* What the apply left: the dashboard shows it, not the
		 * plan that led there. The log reports that plan. */
		if (observe_again(&pass, &plan, &e) < 0) {
			cmd_log("warn", "cannot observe the platform again",
				json_pack("{s:s}", "error", e.msg));
		} else {
			timings_phase(&tm, "diff");
			publish_as(w, &pass, &plan, "idle", rc == 0, why);
		}
	} else {
		publish_as(w, &pass, &plan, "idle", rc == 0, why);
	}
	/* Certificates and the dashboard. */
	timings_phase(&tm, "publish");
	pass_timings(w, m->revision);
	metrics_reconcile(w->metrics, now_mono() - t0, rc == 0, m->revision,
			  time(NULL));
	set_ready(w, rc == 0, "%s", why);
	cmd_log(rc == 0 ? "info" : "error", "reconciled",
		json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:I}", "revision",
			  m->revision, "trigger", w->trigger, "duration",
			  now_mono() - t0, "actions", (json_int_t)nactions,
			  "done", (json_int_t)res.done, "failed",
			  (json_int_t)res.failed, "drift", (json_int_t)ndrift));
	if (res.failed)
		rc = 0; /* failed actions wait for backoff or a change */
	scheduled_backups(w, &pass);
out_plan:
	plan_release(&plan);
out_pass:
	pass_close(&pass);
out_model:
	if (rc < 0)
		metrics_reconcile(w->metrics, now_mono() - t0, 0, NULL,
				  time(NULL));
	model_free(m);
	w->timings = NULL;
	timings_release(&tm);
	return rc;
}

/* --- set-up -------------------------------------------------------------- */

static int
open_notify(struct watch *w, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	w->notify_fd = -1;
	if (!w->notify_path)
		return 0;
	if (strlen(w->notify_path) >= sizeof(sa.sun_path))
		return err_set(e, "notify socket path '%s' is too long",
			       w->notify_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w->notify_path);
	unlink(w->notify_path);
	w->notify_fd = socket(AF_UNIX,
			      SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->notify_fd < 0 ||
	    bind(w->notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(e, "cannot listen on notify socket '%s': %s",
			       w->notify_path, strerror(errno));
	return 0;
}

static void
drain(int fd)
{
	char buf[512];

	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
drain_socket(int fd)
{
	char buf[512];

	while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int
open_source_watch(struct watch *w, struct err *e)
{
	watcher_free(w->srcw);
	w->srcw = NULL;
	if (w->remote)
		return 0; /* fetched on resync and on webhooks */
	if (w->so.git)
		return watcher_open_git(&w->srcw, w->so.git, e);
	return watcher_open_dir(&w->srcw, w->so.dir ? w->so.dir : ".", e);
}

/* A secret reference given on the command line: env:NAME or
 * file:PATH, never the secret itself. */
static int
resolve_ref(char **out, const char *flag, const char *ref, struct err *e)
{
	*out = NULL;
	if (strncmp(ref, "env:", 4) == 0)
		return secret_resolve(out, ref + 4, NULL, flag, e);
	if (strncmp(ref, "file:", 5) == 0)
		return secret_resolve(out, NULL, ref + 5, flag, e);
	return err_set(e,
		       "%s takes env:NAME or file:PATH, never the secret "
		       "itself",
		       flag);
}

/* Shorter API tokens are refused: the token is all that guards the
 * dashboard on a network. */
#define API_TOKEN_MIN 16

static int
start_http(struct watch *w, struct err *e)
{
	struct serve_config sc = { 0 };
	char *secret = NULL, *token = NULL;
	int rc = -1;

	if (!w->listen || strcmp(w->listen, "none") == 0)
		return 0;
	if (w->webhook_ref &&
	    resolve_ref(&secret, "--webhook-secret", w->webhook_ref, e) < 0)
		goto out;
	if (w->token_ref) {
		if (resolve_ref(&token, "--api-token", w->token_ref, e) < 0)
			goto out;
		if (strlen(token) < API_TOKEN_MIN) {
			err_set(e,
				"the --api-token is shorter than %d "
				"characters: make a long random one (openssl "
				"rand -hex 32)",
				API_TOKEN_MIN);
			goto out;
		}
	}
	sc.listen = w->listen;
	sc.webhook_secret = secret;
	sc.metrics = w->metrics;
	sc.ready = ready_cb;
	sc.hook = hook_cb;
	sc.arg = w;
	sc.dashboard = 1;
	sc.api_token = token;
	rc = serve_start(&w->srv, &sc, e);
	if (rc == 0 && serve_needs_token(w->srv) && !token)
		cmd_log("warn",
			"the dashboard is off: this listen address is not "
			"loopback and no --api-token is set",
			json_pack("{s:s}", "listen", w->listen));
out:
	secret_free(secret);
	secret_free(token);
	return rc;
}

static void
teardown(struct watch *w)
{
	serve_stop(w->srv);
	watcher_free(w->srcw);
	if (w->evdrv)
		w->evdrv->events_close(w->ev);
	free(w->ev_socket);
	if (w->notify_fd >= 0) {
		close(w->notify_fd);
		unlink(w->notify_path);
	}
	state_close(w->lk); /* releases the lock */
	free(w->lk_platform);
	free(w->mirror);
	free(w->notify_owned);
	free(w->certs_rev);
	free(w->certs);
	free(w->certs_at);
	metrics_free(w->metrics);
	close(w->wake[0]);
	close(w->wake[1]);
	pthread_mutex_destroy(&w->mu);
}

int
cmd_watch(int argc, char **argv)
{
	struct watch w;
	struct sigaction sa;
	int sp[2], rc = EXIT_OK;
	const char *resync = NULL, *debounce = NULL;
	long passes = 0,
	     max_passes = testhook_number("PRESSCTL_TEST_WATCH_PASSES");
	struct err e;
	const struct cmd_option opts[] = {
		{ OPT_STRING, "resync", &resync, 0, 0, 0 },
		{ OPT_STRING, "listen", &w.listen, 0, 0, 0 },
		{ OPT_STRING, "debounce", &debounce, 0, 0, 0 },
		{ OPT_STRING, "notify-socket", &w.notify_path, 0, 0, 0 },
		{ OPT_STRING, "webhook-secret", &w.webhook_ref, 0, 0, 0 },
		{ OPT_STRING, "api-token", &w.token_ref, 0, 0, 0 },
		{ OPT_INT, "parallel", &w.parallel, 1, 64, 0 },
		{ OPT_STRING, "cache", &w.cache, 0, 0, 0 },
		{ OPT_FLAG, "timings", &w.log_timings, 0, 0, 0 },
		{ OPT_SOURCE, NULL, &w.so, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	memset(&w, 0, sizeof(w));
	w.resync = 60;
	w.debounce = 0.25;
	w.parallel = 4;
	w.listen = "127.0.0.1:48560";
	w.cache = ".press/cache";
	if (cmd_parse(argc, argv, opts, usage_text, &rc) < 0)
		return rc;
	if (resync && (parse_duration(resync, &w.resync) < 0 || w.resync < 1))
		return cmd_fail(
			"--resync takes a duration of at least 1s (e.g. "
			"60s, 5m)");
	if (debounce && parse_duration(debounce, &w.debounce) < 0)
		return cmd_fail("--debounce takes a duration (e.g. 250ms)");
	w.remote = w.so.git && source_is_remote(w.so.git);
	if (w.so.git && !w.remote && !w.notify_path) {
		/* where 'pressctl hook post-receive' knocks by default */
		char *gitdir;

		if (source_git_dir(&gitdir, w.so.git, &e) < 0)
			return cmd_fail("%s", e.msg);
		w.notify_owned = xprintf("%s/pressctl-watch.sock", gitdir);
		w.notify_path = w.notify_owned;
		free(gitdir);
	}

	pthread_mutex_init(&w.mu, NULL);
	w.notify_fd = -1;
	if (pipe(w.wake) < 0 || pipe(sp) < 0)
		return cmd_fail("cannot create a pipe: %s", strerror(errno));
	fcntl(w.wake[0], F_SETFL, O_NONBLOCK);
	fcntl(w.wake[1], F_SETFL, O_NONBLOCK);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	sigpipe_w = sp[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	w.metrics = metrics_new();
	w.evdrv = &driver_docker;
	set_ready(&w, 0, "starting");
	if (open_source_watch(&w, &e) < 0 || open_notify(&w, &e) < 0 ||
	    start_http(&w, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	cmd_log("info", "watching",
		json_pack("{s:s, s:f, s:s}", "source",
			  w.so.git ? w.so.git :
			  w.so.dir ? w.so.dir :
				     ".",
			  "resync", w.resync, "listen", w.listen));

	schedule(&w, 0, "start");
	w.next_resync = now_mono() + w.resync;
	while (!stopping) {
		struct pollfd fds[6];
		int nfds = 0, isrc = -1, iev = -1, inote = -1, iwake, isig;
		double now = now_mono(), until = w.next_resync;
		int timeout;

		if (w.due && w.due < until)
			until = w.due;
		if (w.next_backup && w.next_backup < until)
			until = w.next_backup;
		if (w.followup && w.followup < until)
			until = w.followup;
		timeout = until <= now ? 0 : (int)((until - now) * 1000) + 1;
		fds[isig = nfds++] = (struct pollfd){ sp[0], POLLIN, 0 };
		fds[iwake = nfds++] = (struct pollfd){ w.wake[0], POLLIN, 0 };
		if (w.srcw)
			fds[isrc = nfds++] = (struct pollfd){
				watcher_fd(w.srcw), POLLIN, 0
			};
		if (w.ev)
			fds[iev = nfds++] = (struct pollfd){
				w.evdrv->events_fd(w.ev), POLLIN, 0
			};
		if (w.notify_fd >= 0)
			fds[inote = nfds++] = (struct pollfd){ w.notify_fd,
							       POLLIN, 0 };
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR) {
			rc = cmd_fail("poll: %s", strerror(errno));
			break;
		}
		if (fds[isig].revents)
			drain(sp[0]);
		if (stopping)
			break;
		if (reloading) {
			reloading = 0;
			cmd_log("info", "reloading (SIGHUP)", NULL);
			if (open_source_watch(&w, &e) < 0)
				cmd_log("error", "cannot watch the source",
					json_pack("{s:s}", "error", e.msg));
			schedule(&w, 0, "reload");
		}
		if (fds[iwake].revents) {
			drain(w.wake[0]);
			schedule(&w, 0, "webhook");
		}
		if (isrc >= 0 && fds[isrc].revents) {
			int r = watcher_read(w.srcw, &e);

			if (r < 0)
				cmd_log("error", "source watch failed",
					json_pack("{s:s}", "error", e.msg));
			else if (r > 0)
				schedule(&w, w.debounce,
					 w.so.git ? "commit" : "file");
		}
		if (iev >= 0 && fds[iev].revents) {
			int r = w.evdrv->events_read(w.ev, &e);

			if (r < 0) {
				cmd_log("warn", "Docker event stream ended",
					json_pack("{s:s}", "error", e.msg));
				w.evdrv->events_close(w.ev);
				w.ev = NULL;
				free(w.ev_socket);
				w.ev_socket = NULL;
				schedule(&w, 1, "docker");
			} else if (r > 0) {
				/* The engine may report a death before its
				 * container list shows it: look again in 1 s. */
				schedule(&w, 0.05, "docker");
				w.followup = now_mono() + 1;
			}
		}
		if (inote >= 0 && fds[inote].revents) {
			drain_socket(w.notify_fd);
			schedule(&w, 0, "push");
		}
		now = now_mono();
		if (w.followup && now >= w.followup) {
			w.followup = 0;
			schedule(&w, 0, "docker");
		}
		if (now >= w.next_resync) {
			w.next_resync = now + w.resync;
			schedule(&w, 0, "resync");
		}
		if (w.next_backup && now >= w.next_backup) {
			w.next_backup = 0;
			schedule(&w, 0, "backup schedule");
		}
		if (w.due && now >= w.due) {
			w.due = 0;
			passes++;
			if (reconcile(&w) < 0) {
				/* backends away: retry with backoff, 1 s .. 30 s */
				double d = 1
					   << (w.failures < 5 ? w.failures : 5);

				w.failures++;
				schedule(&w, d > 30 ? 30 : d, "retry");
			} else {
				w.failures = 0;
			}
			/* Test builds: stop after PRESSCTL_TEST_WATCH_PASSES
			 * passes (fault injection walks single passes). */
			if (max_passes && passes >= max_passes)
				stopping = 1;
		}
	}
	if (stopping)
		cmd_log("info",
			w.leader ? "stopping: lock released" : "stopping",
			NULL);
out:
	teardown(&w);
	sigpipe_w = -1;
	close(sp[0]);
	close(sp[1]);
	return rc;
}
