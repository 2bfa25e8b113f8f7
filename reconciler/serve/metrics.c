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

struct metrics {
	pthread_mutex_t mu;
	uint64_t in_bucket[NBUCKETS + 1]; /* not cumulative; last +Inf */
	double sum;
	uint64_t ok, failed;
	struct action_count *actions; /* sorted by (action, result) */
	size_t nactions, alloc;
	size_t drift;
	time_t last_success; /* 0: none yet */
	char *revision;	     /* owned; NULL: none applied yet */
	int leader;
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
	for (size_t i = 0; i < m->nactions; i++) {
		free(m->actions[i].action);
		free(m->actions[i].result);
	}
	free(m->actions);
	free(m->revision);
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

	pthread_mutex_unlock(&m->mu);
}
