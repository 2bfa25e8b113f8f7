/*
 * pressctl status [SRC] [--format text|json]
 *
 * Each environment as it is live: converged, pending changes, drift,
 * held rollouts, soft-deleted; its containers, ports and last apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "../apply/apply.h"
#include "../apply/backups.h"
#include "../plan/plan.h"

static const char usage_text[] =
	"usage: pressctl status [DIR] [--format text|json]\n"
	"       pressctl status --git REPO [--ref REF] [--path SUBDIR] [...]\n";

/* The backup of env against its policy (NULL when none covers it); a
 * note when the newest is older than maxAgeHours. */
static json_t *
backup_status(const struct pass *p, const struct environment *env,
	      const struct rec_backup *have, size_t n, json_t *notes)
{
	struct backup_health h;
	json_t *o;

	if (!env)
		return json_null();
	backups_health(p->model, env, have, n, p->now, &h);
	if (!h.covered)
		return json_null();
	o = json_pack("{s:s, s:I, s:I, s:b}", "policy",
		      backups_policy(p->model, env)->name, "newest",
		      (json_int_t)h.newest, "drill", (json_int_t)h.drill,
		      "stale", h.stale);
	json_object_set_new(o, "ageSeconds",
			    h.newest ? json_integer((json_int_t)(p->now -
								 h.newest)) :
				       json_null());
	json_object_set_new(o, "maxAgeHours",
			    h.max_age_hours > 0 ?
				    json_integer((json_int_t)h.max_age_hours) :
				    json_null());
	if (h.stale) {
		char *text =
			h.newest ? xprintf("unhealthy: newest backup is %.1f h "
					   "old, policy '%s' allows %g h",
					   (double)(p->now - h.newest) / 3600,
					   backups_policy(p->model, env)->name,
					   h.max_age_hours) :
				   xprintf("unhealthy: no backup yet, policy "
					   "'%s' allows %g h",
					   backups_policy(p->model, env)->name,
					   h.max_age_hours);

		json_array_append_new(notes, json_string(text));
		free(text);
	}
	return o;
}

/* The certificates of the Domains routed to env id, with a note for
 * each unhealthy one; *healthy cleared when one is. */
static json_t *
cert_status(const char *id, const struct cert_check *certs, size_t ncerts,
	    json_t *notes, int *healthy)
{
	json_t *a = json_array();

	for (size_t i = 0; i < ncerts; i++) {
		char *problem;

		if (strcmp(certs[i].domain->env->id, id))
			continue;
		json_array_append_new(a, cmd_cert_json(&certs[i]));
		if ((problem = cmd_cert_problem(&certs[i])) != NULL) {
			char *text = xprintf("unhealthy: %s", problem);

			json_array_append_new(notes, json_string(text));
			free(text);
			free(problem);
			*healthy = 0;
		}
	}
	return a;
}

/* The rollouts of env id that are held (the plan's notes that name a
 * container), with what the state recorded of their failures. */
static json_t *
held_rollouts(const char *id, const struct pass *p, const struct plan *plan)
{
	json_t *a = json_array();

	for (size_t i = 0; i < plan->nnotes; i++) {
		const struct plan_note *n = &plan->notes[i];
		const struct rec_rollout *r = NULL;
		json_t *o;

		if (strcmp(n->env_id, id) || n->name[0] == '\0')
			continue;
		for (size_t j = 0; j < p->rec.nrollouts && !r; j++)
			if (strcmp(p->rec.rollouts[j].name, n->name) == 0)
				r = &p->rec.rollouts[j];
		o = json_pack("{s:s, s:I, s:I}", "container", n->name,
			      "failures", (json_int_t)(r ? r->failures : 0),
			      "nextRetryAt",
			      (json_int_t)(r ? r->next_retry_at : 0));
		json_object_set_new(o, "error",
				    r && r->error ? json_string(r->error) :
						    json_null());
		json_object_set_new(o, "text", json_string(n->text));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
env_status(const char *id, const char *stage, const struct pass *p,
	   const struct plan *plan, const struct rec_backup *have, size_t nhave,
	   const struct cert_check *certs, size_t ncerts, json_t *history)
{
	json_t *backup, *cert;
	int certs_ok = 1;

	size_t pending = 0, drift = 0, running = 0, containers = 0,
	       conflicts = 0;
	json_t *o = json_pack("{s:s, s:s}", "environment", id, "stage", stage);
	json_t *ports = json_array(), *notes = json_array();
	const struct rec_deletion *del = recorded_deletion(&p->rec, id);
	const char *state, *revision = NULL;
	time_t applied = 0;

	for (size_t i = 0; i < plan->n; i++) {
		if (strcmp(plan->v[i].env_id, id))
			continue;
		if (plan->v[i].reason == WHY_DRIFT)
			drift++;
		else
			pending++;
	}
	for (size_t i = 0; i < p->live.n; i++) {
		const struct live_item *l = &p->live.v[i];

		if (l->kind != LIVE_CONTAINER || !l->env_id ||
		    strcmp(l->env_id, id))
			continue;
		containers++;
		running += l->running;
		if (l->host_port)
			json_array_append_new(ports,
					      json_integer(l->host_port));
	}
	for (size_t i = 0; i < p->rec.nres; i++) {
		if (strcmp(p->rec.res[i].env_id, id) ||
		    p->rec.res[i].applied_at < applied)
			continue;
		applied = p->rec.res[i].applied_at;
		revision = p->rec.res[i].revision;
	}
	for (size_t i = 0; i < plan->nnotes; i++)
		if (strcmp(plan->notes[i].env_id, id) == 0)
			json_array_append_new(notes,
					      json_string(plan->notes[i].text));
	for (size_t i = 0; i < plan->nconflicts; i++) {
		const struct plan_conflict *c = &plan->conflicts[i];
		char *text;

		if (strcmp(c->env_id, id))
			continue;
		conflicts++;
		text = xprintf("conflict: %s '%s' %s", live_kind_name(c->kind),
			       c->name, c->text);
		json_array_append_new(notes, json_string(text));
		free(text);
	}
	/* Before the backup's note: a stale backup alone is not "held". */
	int held = json_array_size(notes) > 0;

	backup = backup_status(p, model_find_env(p->model, id), have, nhave,
			       notes);
	cert = cert_status(id, certs, ncerts, notes, &certs_ok);
	state = conflicts	    ? "conflict" :
		del		    ? "soft-deleted" :
		!strcmp(stage, "-") ? "removing" :
		held		    ? "held" :
		drift		    ? "drift" :
		pending		    ? "pending" :
				      "converged";
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "pendingActions",
			    json_integer((json_int_t)pending));
	json_object_set_new(o, "driftActions", json_integer((json_int_t)drift));
	json_object_set_new(o, "containers",
			    json_integer((json_int_t)containers));
	json_object_set_new(o, "running", json_integer((json_int_t)running));
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "revision",
			    revision ? json_string(revision) : json_null());
	json_object_set_new(o, "appliedAt", json_integer((json_int_t)applied));
	json_object_set_new(o, "notes", notes);
	json_object_set_new(o, "heldRollouts", held_rollouts(id, p, plan));
	json_object_set_new(o, "backup", backup);
	json_object_set_new(o, "certificates", cert);
	json_object_set_new(o, "promotion",
			    json_deep_copy(json_object_get(
				    json_object_get(history, "promotions"),
				    id)));
	if (!json_object_get(o, "promotion"))
		json_object_set_new(o, "promotion", json_null());
	json_object_set_new(o, "healthy",
			    json_boolean(
				    certs_ok &&
				    !json_is_true(
					    json_object_get(backup, "stale"))));
	return o;
}

/* The BACKUP column: "-" without a policy, "none", or the newest's age
 * ("5m", "3h", "2d"), with a "!" when older than maxAgeHours. */
static void
backup_age(json_t *b, time_t now, char *out, size_t size)
{
	long long age,
		newest = json_integer_value(json_object_get(b, "newest"));
	const char *bang = json_is_true(json_object_get(b, "stale")) ? "!" : "";

	if (!json_is_object(b)) {
		snprintf(out, size, "-");
		return;
	}
	if (!newest) {
		snprintf(out, size, "none%s", bang);
		return;
	}
	age = (long long)now - newest;
	if (age < 3600)
		snprintf(out, size, "%lldm%s", age / 60, bang);
	else if (age < 2 * 86400)
		snprintf(out, size, "%lldh%s", age / 3600, bang);
	else
		snprintf(out, size, "%lldd%s", age / 86400, bang);
}

static int
listed(json_t *envs, const char *id)
{
	json_t *v;
	size_t i;

	json_array_foreach(envs, i, v)
		if (strcmp(json_string_value(json_object_get(v, "environment")),
			   id) == 0)
			return 1;
	return 0;
}

/* "last reconcile: run 6 ok at sha256:19..., 3m ago" */
static void
print_last(json_t *last, time_t now)
{
	const char *rev;
	long long at, ago;

	if (!json_is_object(last))
		return;
	rev = json_string_value(json_object_get(last, "revision"));
	at = json_integer_value(json_object_get(last, "finishedAt"));
	if (!at) /* interrupted: it never ended */
		at = json_integer_value(json_object_get(last, "startedAt"));
	ago = (long long)now - at;
	printf("last reconcile: run %lld %s at %.19s, ",
	       (long long)json_integer_value(json_object_get(last, "run")),
	       json_string_value(json_object_get(last, "status")),
	       rev ? rev : "-");
	if (ago < 3600)
		printf("%lldm ago\n", ago < 0 ? 0 : ago / 60);
	else if (ago < 2 * 86400)
		printf("%lldh ago\n", ago / 3600);
	else
		printf("%lldd ago\n", ago / 86400);
}

/* The held rollouts, below the environments, when any is. */
static void
print_held(json_t *envs)
{
	json_t *v, *h;
	size_t i, j;
	int head = 0;

	json_array_foreach(envs, i, v) {
		json_array_foreach(json_object_get(v, "heldRollouts"), j, h)
			printf("%sheld: %s: %s\n", head++ ? "" : "\n",
			       json_string_value(
				       json_object_get(h, "container")),
			       json_string_value(json_object_get(h, "text")));
	}
}

/* The certificates, below the environments, when any was checked. */
static void
print_certs(json_t *envs)
{
	json_t *v, *c;
	size_t i, j;
	int head = 0;

	json_array_foreach(envs, i, v) {
		json_array_foreach(json_object_get(v, "certificates"), j, c) {
			json_t *days = json_object_get(c, "daysLeft");
			const char *issuer = json_string_value(
				json_object_get(c, "issuer"));

			if (!head++)
				printf("\n%-32s %-28s %-10s %-6s %s\n", "HOST",
				       "ENVIRONMENT", "TLS", "DAYS",
				       "CERTIFICATE");
			printf("%-32s %-28s %-10s ",
			       json_string_value(json_object_get(c, "host")),
			       json_string_value(
				       json_object_get(v, "environment")),
			       json_string_value(json_object_get(c, "tls")));
			if (json_is_integer(days))
				printf("%-6lld ",
				       (long long)json_integer_value(days));
			else
				printf("%-6s ", "-");
			if (!json_is_true(json_object_get(c, "served")))
				printf("unhealthy: %s\n",
				       json_string_value(
					       json_object_get(c, "error")));
			else if (!json_is_true(json_object_get(c, "nameMatch")))
				printf("unhealthy: does not name the host "
				       "(subject %s)\n",
				       json_string_value(
					       json_object_get(c, "subject")));
			else
				printf("%s, issuer %s\n",
				       json_is_true(
					       json_object_get(c, "healthy")) ?
					       "healthy" :
					       "unhealthy: expires soon",
				       issuer);
		}
	}
}

/*
 * The status document of an observed pass (schema/status.schema.json),
 * a new object: have/nhave the newest backups (state_backups_newest),
 * certs the certificate checks (NULL, 0: none), history what
 * state_history read (borrowed; NULL: no last reconcile, no
 * promotions).
 */
json_t *
cmd_status_doc(const struct pass *p, const struct plan *plan,
	       const struct rec_backup *have, size_t nhave,
	       const struct cert_check *certs, size_t ncerts, json_t *history)
{
	const struct model *m = p->model;
	json_t *envs = json_array(), *last;
	size_t i;

	for (i = 0; i < m->nenvs; i++)
		json_array_append_new(envs,
				      env_status(m->envs[i].id,
						 stage_name(m->envs[i].stage),
						 p, plan, have, nhave, certs,
						 ncerts, history));
	/* Environments that left the source: soft-deleted ones, and those
	 * whose removal is not applied yet (recorded, no deletion). */
	for (i = 0; i < p->rec.nres; i++) {
		const char *id = p->rec.res[i].env_id;

		if (model_find_env(m, id) ||
		    (i > 0 && strcmp(id, p->rec.res[i - 1].env_id) == 0) ||
		    recorded_deletion(&p->rec, id) || listed(envs, id))
			continue;
		json_array_append_new(envs,
				      env_status(id, "-", p, plan, have, nhave,
						 NULL, 0, history));
	}
	for (i = 0; i < p->rec.ndel; i++)
		if (!model_find_env(m, p->rec.del[i].env_id))
			json_array_append_new(envs,
					      env_status(p->rec.del[i].env_id,
							 "-", p, plan, have,
							 nhave, NULL, 0,
							 history));
	last = json_object_get(history, "lastReconcile");
	return json_pack("{s:s, s:s, s:o, s:o}", "platform", m->platform.name,
			 "revision", m->revision, "lastReconcile",
			 json_is_object(last) ? json_deep_copy(last) :
						json_null(),
			 "environments", envs);
}

int
cmd_status(int argc, char **argv)
{
	struct source_opts so = { 0 };
	enum format fmt = FORMAT_TEXT;
	struct cmd_pass cp;
	struct rec_backup *have = NULL;
	struct cert_check *certs = NULL;
	size_t nhave = 0, ncerts;
	struct err e;
	struct model *m;
	json_t *envs, *v, *doc, *history = NULL;
	size_t i;
	int rc;
	const struct cmd_option opts[] = {
		{ OPT_FORMAT, "format", &fmt, 0, 0, FORMAT_TEXT | FORMAT_JSON },
		{ OPT_SOURCE, NULL, &so, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	if (cmd_parse(argc, argv, opts, usage_text, &rc) < 0)
		return rc;
	if ((rc = cmd_pass_open(&cp, &so, "status", 0, 0, NULL, NULL, NULL)) !=
	    EXIT_OK)
		return rc;
	m = cp.m;
	if (state_backups_newest(cp.pass.state, &have, &nhave, &e) < 0) {
		cmd_pass_close(&cp);
		return cmd_fail("%s", e.msg);
	}
	if (state_history(cp.pass.state, 1, 0, &history, &e) < 0) {
		rec_backups_free(have, nhave);
		cmd_pass_close(&cp);
		return cmd_fail("%s", e.msg);
	}
	ncerts = cmd_cert_checks(m, cp.pass.now, &certs);
	doc = cmd_status_doc(&cp.pass, &cp.plan, have, nhave, certs, ncerts,
			     history);
	envs = json_object_get(doc, "environments");
	if (fmt == FORMAT_JSON) {
		cmd_print_json(doc);
	} else {
		printf("platform '%s' at %s\n", m->platform.name, m->revision);
		print_last(json_object_get(doc, "lastReconcile"), cp.pass.now);
		printf("%-28s %-11s %-12s %-9s %-12s %-10s %s\n", "ENVIRONMENT",
		       "STAGE", "STATE", "RUNNING", "PORTS", "BACKUP",
		       "REVISION");
		json_array_foreach(envs, i, v) {
			char ports[64] = "", run[32], backup[32];
			json_t *pv;
			size_t j;

			json_array_foreach(json_object_get(v, "ports"), j, pv) {
				size_t l = strlen(ports);

				snprintf(ports + l, sizeof(ports) - l, "%s%lld",
					 l ? "," : "",
					 (long long)json_integer_value(pv));
			}
			snprintf(run, sizeof(run), "%lld/%lld",
				 (long long)json_integer_value(
					 json_object_get(v, "running")),
				 (long long)json_integer_value(
					 json_object_get(v, "containers")));
			backup_age(json_object_get(v, "backup"), cp.pass.now,
				   backup, sizeof(backup));
			printf("%-28s %-11s %-12s %-9s %-12s %-10s %.19s\n",
			       json_string_value(
				       json_object_get(v, "environment")),
			       json_string_value(json_object_get(v, "stage")),
			       json_string_value(json_object_get(v, "state")),
			       run, ports[0] ? ports : "-", backup,
			       json_is_string(json_object_get(v, "revision")) ?
				       json_string_value(
					       json_object_get(v, "revision")) :
				       "-");
		}
		print_held(envs);
		print_certs(envs);
	}
	json_decref(doc);
	json_decref(history);
	free(certs);
	rec_backups_free(have, nhave);
	cmd_pass_close(&cp);
	return EXIT_OK;
}
