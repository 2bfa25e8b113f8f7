/*
 * metrics.c - a small thread-safe metrics registry and its Prometheus
 * text exposition (format 0.0.4).
 *
 * The watch loop updates it; the HTTP thread renders it. One mutex
 * guards everything: updates are a few per reconcile pass and a render
 * is a few hundred bytes, so there is nothing to gain from finer locks.
 */
#include "serve.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/err.h"

/* Upper bounds (seconds) of the reconcile duration histogram; +Inf is
 * implicit. */
static const double buckets[] = {
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct action_count {
	char *action, *result; /* owned */
	uint64_t n;
};

struct env_backup {
	char *env_id; /* owned */
	time_t last_success, last_drill;
	double duration;
	long long bytes;
	uint64_t failures;
	double max_age_hours; /* 0: no RPO */
	int stale;	      /* newest backup older than max_age_hours */
};

struct cert_sample {
	char *env_id, *host; /* owned */
	int served, healthy;
	time_t not_after;
	long long days_left;
};

struct metrics {
	pthread_mutex_t mu;
	struct cert_sample *certs; /* as the last probe reported them */
	size_t ncerts;
	struct env_backup *backups; /* sorted by env_id */
	size_t nbackups, abackups;
	uint64_t in_bucket[NBUCKETS + 1]; /* not cumulative; last +Inf */
	double sum;
	uint64_t ok, failed;
	struct action_count *actions; /* sorted by (action, result) */
	size_t nactions, alloc;
	size_t drift;
	time_t last_success; /* 0: none yet */
	char *revision;	     /* owned; NULL: none applied yet */
	int leader;
	struct timings pass; /* the last pass's phases (n 0: none yet) */
	double pass_wall;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	pthread_mutex_init(&m->mu, NULL);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nbackups; i++)
		free(m->backups[i].env_id);
	metrics_certs(m, NULL, 0);
	free(m->backups);
	for (size_t i = 0; i < m->nactions; i++) {
		free(m->actions[i].action);
		free(m->actions[i].result);
	}
	free(m->actions);
	free(m->revision);
	timings_release(&m->pass);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void
metrics_reconcile(struct metrics *m, double seconds, int ok,
		  const char *revision, time_t when)
{
	size_t b = 0;

	if (m == NULL)
		return;
	if (!isfinite(seconds) || seconds < 0) /* a clock step, not data */
		seconds = 0;
	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	pthread_mutex_lock(&m->mu);
	m->in_bucket[b]++;
	m->sum += seconds;
	if (ok) {
		m->ok++;
		m->last_success = when;
		if (revision && (m->revision == NULL ||
				 strcmp(m->revision, revision) != 0)) {
			free(m->revision);
			m->revision = xstrdup(revision);
		}
	} else {
		m->failed++;
	}
	pthread_mutex_unlock(&m->mu);
}

static int
action_cmp(const struct action_count *a, const char *action, const char *result)
{
	int c = strcmp(a->action, action);

	return c ? c : strcmp(a->result, result);
}

void
metrics_action(struct metrics *m, const char *action, const char *result)
{
	size_t lo = 0, hi;

	if (m == NULL || action == NULL || result == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	hi = m->nactions;
	while (lo < hi) { /* binary search for the pair or its place */
		size_t mid = lo + (hi - lo) / 2;
		int c = action_cmp(&m->actions[mid], action, result);

		if (c == 0) {
			m->actions[mid].n++;
			goto out;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	xgrow(&m->actions, &m->alloc, m->nactions + 1, sizeof(*m->actions));
	memmove(&m->actions[lo + 1], &m->actions[lo],
		(m->nactions - lo) * sizeof(*m->actions));
	m->actions[lo].action = xstrdup(action);
	m->actions[lo].result = xstrdup(result);
	m->actions[lo].n = 1;
	m->nactions++;
out:
	pthread_mutex_unlock(&m->mu);
}

void
metrics_drift(struct metrics *m, size_t n)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->drift = n;
	pthread_mutex_unlock(&m->mu);
}

void
metrics_leader(struct metrics *m, int leader)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->leader = leader != 0;
	pthread_mutex_unlock(&m->mu);
}

/* The entry of env_id, made when missing (sorted insert); under mu. */
static struct env_backup *
backup_entry(struct metrics *m, const char *env_id)
{
	size_t i = 0;

	while (i < m->nbackups && strcmp(m->backups[i].env_id, env_id) < 0)
		i++;
	if (i < m->nbackups && strcmp(m->backups[i].env_id, env_id) == 0)
		return &m->backups[i];
	xgrow(&m->backups, &m->abackups, m->nbackups + 1, sizeof(*m->backups));
	memmove(&m->backups[i + 1], &m->backups[i],
		(m->nbackups - i) * sizeof(*m->backups));
	m->nbackups++;
	memset(&m->backups[i], 0, sizeof(m->backups[i]));
	m->backups[i].env_id = xstrdup(env_id);
	return &m->backups[i];
}

void
metrics_backup(struct metrics *m, const char *env_id, int ok, time_t when,
	       double seconds, long long bytes)
{
	struct env_backup *b;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	b = backup_entry(m, env_id);
	if (ok) {
		b->last_success = when;
		b->duration = seconds;
		b->bytes = bytes;
	} else {
		b->failures++;
	}
	pthread_mutex_unlock(&m->mu);
}

void
metrics_backup_age(struct metrics *m, const char *env_id, time_t newest,
		   time_t drill, double max_age_hours, int stale)
{
	struct env_backup *b;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	b = backup_entry(m, env_id);
	if (newest > b->last_success)
		b->last_success = newest;
	b->last_drill = drill;
	b->max_age_hours = max_age_hours;
	b->stale = stale;
	pthread_mutex_unlock(&m->mu);
}

void
metrics_certs(struct metrics *m, const struct metrics_cert *v, size_t n)
{
	struct cert_sample *c = n ? xcalloc(n, sizeof(*c)) : NULL;

	if (m == NULL) {
		free(c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		c[i].env_id = xstrdup(v[i].env_id);
		c[i].host = xstrdup(v[i].host);
		c[i].served = v[i].served;
		c[i].healthy = v[i].healthy;
		c[i].not_after = v[i].not_after;
		c[i].days_left = v[i].days_left;
	}
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->ncerts; i++) {
		free(m->certs[i].env_id);
		free(m->certs[i].host);
	}
	free(m->certs);
	m->certs = c;
	m->ncerts = n;
	pthread_mutex_unlock(&m->mu);
}

void
metrics_pass_timings(struct metrics *m, const struct timings *t, double wall)
{
	struct timings copy;

	if (m == NULL || t == NULL)
		return;
	timings_copy(&copy, t);
	pthread_mutex_lock(&m->mu);
	timings_release(&m->pass);
	m->pass = copy;
	m->pass_wall = wall;
	pthread_mutex_unlock(&m->mu);
}

/* The per-environment backup families, in exposition order. */
enum backup_value {
	BV_SUCCESS,
	BV_DURATION,
	BV_BYTES,
	BV_FAILURES,
	BV_DRILL,
	BV_STALE
};
static const struct backup_family {
	const char *name, *type, *help;
	enum backup_value which;
} backup_families[] = {
	{ "pressctl_backup_last_success_timestamp_seconds", "gauge",
	  "Unix time of the environment's newest verified backup.",
	  BV_SUCCESS },
	{ "pressctl_backup_duration_seconds", "gauge",
	  "Duration of the environment's last successful backup.",
	  BV_DURATION },
	{ "pressctl_backup_bytes", "gauge",
	  "Bytes the environment's last successful backup stored.", BV_BYTES },
	{ "pressctl_backup_failures_total", "counter",
	  "Failed backups of the environment.", BV_FAILURES },
	{ "pressctl_backup_last_drill_timestamp_seconds", "gauge",
	  "Unix time of the newest restore drill (verify --restore-test) of "
	  "one of the environment's backups; 0 if never.",
	  BV_DRILL },
	{ "pressctl_backup_stale", "gauge",
	  "1 when the newest backup is older than the policy's maxAgeHours "
	  "(the environment is unhealthy).",
	  BV_STALE },
};

static double
backup_value(const struct env_backup *b, enum backup_value which)
{
	switch (which) {
	case BV_SUCCESS: return (double)b->last_success;
	case BV_DURATION: return b->duration;
	case BV_BYTES: return (double)b->bytes;
	case BV_FAILURES: return (double)b->failures;
	case BV_DRILL: return (double)b->last_drill;
	case BV_STALE: return b->stale;
	}
	return 0;
}

/* --- exposition ----------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped, as the
 * text format requires; everything else verbatim. */
static void
add_label(struct strbuf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			strbuf_addstr(out, "\\\\");
		else if (*v == '"')
			strbuf_addstr(out, "\\\"");
		else if (*v == '\n')
			strbuf_addstr(out, "\\n");
		else
			strbuf_addch(out, *v);
	}
}

static void
family(struct strbuf *out, const char *name, const char *type, const char *help)
{
	strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		    type);
}

/* The last pass's phases (docs/watch.md "Metrics"): the phases with
 * "other" add up to pressctl_pass_seconds; the parts (a backend's
 * observation, an action kind, the health waits) overlap. Under mu. */
static void
pass_samples(struct strbuf *out, const struct metrics *m)
{
	static const char *const part_families[][2] = {
		{ "pressctl_pass_part_seconds",
		  "Seconds of a part of a phase of the last reconcile pass "
		  "(summed over its occurrences; parts overlap)." },
		{ "pressctl_pass_part_count",
		  "Occurrences of a part of a phase of the last reconcile "
		  "pass (actions of a kind)." },
		{ "pressctl_pass_part_max_seconds",
		  "The slowest occurrence of a part of a phase of the last "
		  "reconcile pass." },
	};
	const struct timings *t = &m->pass;
	double other = m->pass_wall - timings_phases_sum(t);

	family(out, "pressctl_pass_seconds", "gauge",
	       "Wall time of the last reconcile pass (monotonic clock).");
	strbuf_addf(out, "pressctl_pass_seconds %.6f\n", m->pass_wall);
	family(out, "pressctl_pass_phase_seconds", "gauge",
	       "Seconds the last reconcile pass spent in each phase; with "
	       "\"other\" they add up to pressctl_pass_seconds.");
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].part)
			continue;
		strbuf_addstr(out, "pressctl_pass_phase_seconds{phase=\"");
		add_label(out, t->v[i].phase);
		strbuf_addf(out, "\"} %.6f\n", t->v[i].seconds);
	}
	strbuf_addf(out, "pressctl_pass_phase_seconds{phase=\"other\"} %.6f\n",
		    other > 0 ? other : 0);
	for (size_t f = 0; f < 3; f++) {
		family(out, part_families[f][0], "gauge", part_families[f][1]);
		for (size_t i = 0; i < t->n; i++) {
			const struct timing *p = &t->v[i];

			if (!p->part)
				continue;
			strbuf_addf(out, "%s{phase=\"", part_families[f][0]);
			add_label(out, p->phase);
			strbuf_addstr(out, "\",part=\"");
			add_label(out, p->part);
			if (f == 1)
				strbuf_addf(out, "\"} %zu\n", p->count);
			else
				strbuf_addf(out, "\"} %.6f\n",
					    f ? p->max : p->seconds);
		}
	}
}

/* One family's samples: 0 healthy, 1 expiry, 2 days left. */
static void
cert_samples(struct strbuf *out, const struct metrics *m, int which)
{
	static const char *const names[] = {
		"pressctl_certificate_healthy",
		"pressctl_certificate_expiry_timestamp_seconds",
		"pressctl_certificate_days_left",
	};

	for (size_t i = 0; i < m->ncerts; i++) {
		const struct cert_sample *c = &m->certs[i];

		if (which && !c->served)
			continue;
		strbuf_addf(out, "%s{env=\"", names[which]);
		add_label(out, c->env_id);
		strbuf_addstr(out, "\",host=\"");
		add_label(out, c->host);
		strbuf_addf(out, "\"} %lld\n",
			    which == 0 ? (long long)c->healthy :
			    which == 1 ? (long long)c->not_after :
					 c->days_left);
	}
}

void
metrics_render(struct metrics *m, struct strbuf *out)
{
	uint64_t cum = 0;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);

	family(out, "pressctl_reconcile_duration_seconds", "histogram",
	       "Duration of reconcile passes.");
	for (size_t b = 0; b <= NBUCKETS; b++) {
		cum += m->in_bucket[b];
		strbuf_addstr(out, "pressctl_reconcile_duration_seconds_bucket"
				   "{le=\"");
		if (b < NBUCKETS)
			strbuf_addf(out, "%g", buckets[b]);
		else
			strbuf_addstr(out, "+Inf");
		strbuf_addf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	strbuf_addf(out, "pressctl_reconcile_duration_seconds_sum %.9g\n",
		    m->sum);
	strbuf_addf(out, "pressctl_reconcile_duration_seconds_count %llu\n",
		    (unsigned long long)cum);

	family(out, "pressctl_reconciles_total", "counter",
	       "Reconcile passes by result.");
	strbuf_addf(out, "pressctl_reconciles_total{result=\"ok\"} %llu\n",
		    (unsigned long long)m->ok);
	strbuf_addf(out, "pressctl_reconciles_total{result=\"failed\"} %llu\n",
		    (unsigned long long)m->failed);

	family(out, "pressctl_actions_total", "counter",
	       "Actions executed, by action and result (done, failed, "
	       "skipped).");
	for (size_t i = 0; i < m->nactions; i++) {
		strbuf_addstr(out, "pressctl_actions_total{action=\"");
		add_label(out, m->actions[i].action);
		strbuf_addstr(out, "\",result=\"");
		add_label(out, m->actions[i].result);
		strbuf_addf(out, "\"} %llu\n",
			    (unsigned long long)m->actions[i].n);
	}

	family(out, "pressctl_drift_objects", "gauge",
	       "Live objects that differ from the desired state.");
	strbuf_addf(out, "pressctl_drift_objects %zu\n", m->drift);

	family(out, "pressctl_last_success_timestamp_seconds", "gauge",
	       "Unix time of the last successful reconcile (0: none yet).");
	strbuf_addf(out, "pressctl_last_success_timestamp_seconds %lld\n",
		    (long long)m->last_success);

	family(out, "pressctl_applied_revision_info", "gauge",
	       "The source revision last applied successfully.");
	if (m->revision) {
		strbuf_addstr(out,
			      "pressctl_applied_revision_info{revision=\"");
		add_label(out, m->revision);
		strbuf_addstr(out, "\"} 1\n");
	}

	family(out, "pressctl_leader", "gauge",
	       "1 when this replica holds the reconcile lock, else 0.");
	strbuf_addf(out, "pressctl_leader %d\n", m->leader);

	/* Only after a pass that was measured. */
	if (m->pass.n)
		pass_samples(out, m);

	/* Only on a platform with backups (a family with no sample says
	 * nothing). */
	for (size_t f = 0;
	     m->nbackups &&
	     f < sizeof(backup_families) / sizeof(backup_families[0]);
	     f++) {
		const struct backup_family *bf = &backup_families[f];

		family(out, bf->name, bf->type, bf->help);
		for (size_t i = 0; i < m->nbackups; i++) {
			strbuf_addf(out, "%s{env=\"", bf->name);
			add_label(out, m->backups[i].env_id);
			strbuf_addf(out, "\"} %.15g\n",
				    backup_value(&m->backups[i], bf->which));
		}
	}

	/* Only with Domains whose certificates were checked. */
	if (m->ncerts) {
		family(out, "pressctl_certificate_healthy", "gauge",
		       "1 when the certificate served for the host names it "
		       "and has at least 14 days left, else 0.");
		cert_samples(out, m, 0);
		family(out, "pressctl_certificate_expiry_timestamp_seconds",
		       "gauge",
		       "Unix time the certificate served for the host "
		       "expires (hosts that served one).");
		cert_samples(out, m, 1);
		family(out, "pressctl_certificate_days_left", "gauge",
		       "Whole days until the certificate served for the host "
		       "expires, rounded down (hosts that served one).");
		cert_samples(out, m, 2);
	}

	pthread_mutex_unlock(&m->mu);
}
