/*
 * promote.c - the promotion guards (promote.h).
 *
 * Each guard reads what it needs and nothing more: the plan and the
 * recorded state (target-no-drift, source-soak), the live containers and
 * their health check (source-soak), the target's schema structure and
 * protected tables against the clone record of the source
 * (schema-unchanged, protected-tables), the backups bucket
 * (fresh-backup). Nothing is written unless every guard passes and the
 * caller asked for the backup.
 */
#include "promote.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apply/backups.h"
#include "../driver/pgdump.h"
#include "../util/strbuf.h"
#include "../util/testhook.h"

#define MAX_ITEMS 5 /* listed in a verdict's text; the JSON has them all */

static void
when_text(char out[32], time_t t)
{
	struct tm tm;

	if (t <= 0) {
		snprintf(out, 32, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

/* Add a verdict; ev is stolen (may be NULL), text from fmt. */
static void verdict(struct promotion *pr, const char *name, int pass,
		    json_t *ev, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
verdict(struct promotion *pr, const char *name, int pass, json_t *ev,
	const char *fmt, ...)
{
	struct guard_verdict *g = &pr->g[pr->n++];
	va_list ap;
	char buf[2048];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	g->name = name;
	g->pass = pass;
	g->text = xstrdup(buf);
	g->evidence = ev ? ev : json_object();
	json_object_set_new(g->evidence, "text", json_string(buf));
}

/* The latest apply of any of env_id's recorded objects (0: never). */
static time_t
last_applied(const struct recorded *rec, const char *env_id)
{
	time_t t = 0;

	for (size_t i = 0; i < rec->nres; i++)
		if (strcmp(rec->res[i].env_id, env_id) == 0 &&
		    rec->res[i].applied_at > t)
			t = rec->res[i].applied_at;
	return t;
}

/* The plan's actions for env_id, as "verb kind name: reason (detail)";
 * *drift counts those that heal drift. */
static json_t *
actions_of(const struct plan *plan, const char *env_id, size_t *drift)
{
	json_t *a = json_array();

	*drift = 0;
	for (size_t i = 0; i < plan->n; i++) {
		const struct action *x = &plan->v[i];
		char *t;

		if (strcmp(x->env_id, env_id) != 0)
			continue;
		*drift += x->reason == WHY_DRIFT;
		t = xprintf("%s %s %s: %s%s%s%s", action_verb(x),
			    live_kind_name(x->act.kind),
			    x->act.name ? x->act.name : x->env_id,
			    action_reason_name(x->reason),
			    x->detail ? " (" : "", x->detail ? x->detail : "",
			    x->detail ? ")" : "");
		json_array_append_new(a, json_string(t));
		free(t);
	}
	return a;
}

/* "a; b; c; and 4 more" of a string array. */
static void
list_text(struct strbuf *sb, json_t *items)
{
	json_t *v;
	size_t i;

	json_array_foreach(items, i, v) {
		if (i == MAX_ITEMS) {
			strbuf_addf(sb, "; and %zu more",
				    json_array_size(items) - MAX_ITEMS);
			break;
		}
		strbuf_addf(sb, "%s%s", i ? "; " : "", json_string_value(v));
	}
}

/* --- target-no-drift ------------------------------------------------------ */

static void
guard_drift(struct promotion *pr, const struct pass *p, const struct plan *plan)
{
	const char *to = pr->to->id;
	size_t drift;
	json_t *acts = actions_of(plan, to, &drift);
	time_t applied = last_applied(&p->rec, to);
	char when[32];
	struct strbuf sb;

	when_text(when, applied);
	if (json_array_size(acts) == 0) {
		verdict(pr, "target-no-drift", 1,
			json_pack("{s:I}", "appliedAt", (json_int_t)applied),
			"%s is live as applied at %s", to, when);
		json_decref(acts);
		return;
	}
	strbuf_init(&sb, 0);
	list_text(&sb, acts);
	verdict(pr, "target-no-drift", 0,
		json_pack("{s:I, s:o}", "appliedAt", (json_int_t)applied,
			  "actions", acts),
		"%s differs from what was applied at %s: %zu drifted, %zu "
		"pending: %s; apply (or revert the hand-made change) first",
		to, when, drift, json_array_size(acts) - drift, sb.buf);
	strbuf_release(&sb);
}

/* --- source-soak ----------------------------------------------------------- */

static int
min_soak(const struct environment *to)
{
	json_t *m = json_object_get(json_object_get(to->spec, "promotion"),
				    "minSoakMinutes");

	return json_is_integer(m) ? (int)json_integer_value(m) : 30;
}

static void
guard_soak(struct promotion *pr, const struct pass *p, const struct plan *plan)
{
	const struct environment *from = pr->from;
	const char *path = json_string_value(
		json_object_get(json_object_get(from->spec, "health"), "path"));
	size_t drift, n = 0, running = 0, healthy = 0;
	json_t *acts = actions_of(plan, from->id, &drift), *bad = json_array();
	time_t since = last_applied(&p->rec, from->id);
	long soaked = since ? (long)(p->now - since) / 60 : 0;
	int min = min_soak(pr->to), pass;
	char when[32];
	json_t *ev;

	for (size_t i = 0; i < p->live.n; i++) {
		const struct live_item *l = &p->live.v[i];
		struct err pe;
		char *t;

		if (l->kind != LIVE_CONTAINER || !l->env_id ||
		    strcmp(l->env_id, from->id))
			continue;
		n++;
		if (!l->running) {
			t = xprintf("container %s not running", l->name);
			json_array_append_new(bad, json_string(t));
			free(t);
			continue;
		}
		running++;
		/* On its host port, or (behind an ingress, without one) on
		 * its address on the platform's network. */
		if ((l->host_port && http_probe(l->host_port, path ? path : "/",
						5, &pe) == 0) ||
		    (!l->host_port && l->addr && from->port > 0 &&
		     http_probe_at(l->addr, from->port, path ? path : "/", 5,
				   &pe) == 0)) {
			healthy++;
			continue;
		}
		t = xprintf("container %s unhealthy: %s", l->name,
			    l->host_port || l->addr ?
				    pe.msg :
				    "no host port or address");
		json_array_append_new(bad, json_string(t));
		free(t);
	}
	when_text(when, since);
	pass = json_array_size(acts) == 0 && n > 0 && healthy == n &&
	       since > 0 && soaked >= min;
	ev = json_pack("{s:I, s:i, s:i, s:I, s:I, s:I}", "since",
		       (json_int_t)since, "soakedMinutes", (int)soaked,
		       "minSoakMinutes", min, "containers", (json_int_t)n,
		       "running", (json_int_t)running, "healthy",
		       (json_int_t)healthy);
	if (json_array_size(acts))
		json_object_set(ev, "actions", acts);
	if (json_array_size(bad))
		json_object_set(ev, "problems", bad);
	if (pass) {
		verdict(pr, "source-soak", 1, ev,
			"%s converged and healthy (%zu/%zu containers) since "
			"%s: %ld min, %d required",
			from->id, healthy, n, when, soaked, min);
	} else if (json_array_size(acts)) {
		struct strbuf sb;

		strbuf_init(&sb, 0);
		list_text(&sb, acts);
		verdict(pr, "source-soak", 0, ev,
			"%s is not converged: %s; apply it, then let it soak "
			"%d min",
			from->id, sb.buf, min);
		strbuf_release(&sb);
	} else if (n == 0 || healthy < n) {
		struct strbuf sb;

		strbuf_init(&sb, 0);
		list_text(&sb, bad);
		verdict(pr, "source-soak", 0, ev, "%s is not healthy: %s%s",
			from->id, n ? sb.buf : "no container runs",
			n ? "" : " (replicas 0?)");
		strbuf_release(&sb);
	} else {
		verdict(pr, "source-soak", 0, ev,
			"%s has been converged and healthy since %s: %ld min, "
			"promotion.minSoakMinutes is %d; wait %ld min more",
			from->id, when, soaked, min, (long)min - soaked);
	}
	json_decref(acts);
	json_decref(bad);
}

/* --- schema-unchanged, protected-tables ----------------------------------- */

struct line {
	const char *s;
	size_t len;
};

static int
line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* text's lines, sorted: a new array of *n pointers into text. */
static struct line *
lines_of(const char *text, size_t *n)
{
	struct line *v = NULL;
	size_t a = 0;

	*n = 0;
	for (const char *s = text ? text : ""; *s;) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		xgrow(&v, &a, *n + 1, sizeof(*v));
		v[(*n)++] = (struct line){ s, len };
		s += len + (nl != NULL);
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), line_cmp);
	return v;
}

/* The facts now has and then lacks ("+ ..."), and the reverse ("- ..."),
 * into out: a merge of the two sorted sets. */
static void
structure_diff(json_t *out, const char *now, const char *then)
{
	size_t na, nb, i = 0, j = 0;
	struct line *a = lines_of(now, &na), *b = lines_of(then, &nb);

	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : line_cmp(&a[i], &b[j]);
		const struct line *l = c < 0 ? &a[i] : &b[j];
		char *t;

		if (c == 0) {
			i++;
			j++;
			continue;
		}
		t = xprintf("%c %.*s", c < 0 ? '+' : '-', (int)l->len, l->s);
		json_array_append_new(out, json_string(t));
		free(t);
		if (c < 0)
			i++;
		else
			j++;
	}
	free(a);
	free(b);
}

/* Whether the source was cloned from the target; the verdict if not. */
static int
cloned_from_target(struct promotion *pr, const struct pass *p,
		   const char *guard)
{
	const struct rec_clone *c = recorded_clone(&p->rec, pr->from->id);

	if (c && c->done && strcmp(c->source_env, pr->to->id) == 0)
		return 1;
	verdict(pr, guard, 0, NULL,
		"%s was not cloned from %s (cloneFrom), so nothing proves "
		"what %s held when %s was made; clone it, test it, then "
		"promote",
		pr->from->id, pr->to->id, pr->to->id, pr->from->id);
	return 0;
}

static void
guard_schema(struct promotion *pr, const struct pass *p,
	     const struct clone_detail *cd)
{
	char fp[65], when[32], since[32], how[96];
	char *now = NULL;
	struct rec_structure rs;
	struct err e;
	json_t *diff, *ev;
	struct strbuf sb;

	if (!cloned_from_target(pr, p, "schema-unchanged"))
		return;
	when_text(when, cd->done_at);
	if (pgdump_structure(p->pg_dsn, pr->to->schema, fp, &now, &e) < 0) {
		verdict(pr, "schema-unchanged", 0, NULL,
			"cannot read the structure of schema '%s': %s",
			pr->to->schema, e.msg);
		return;
	}
	if (cd->fingerprint && strcmp(fp, cd->fingerprint) == 0) {
		verdict(pr, "schema-unchanged", 1,
			json_pack("{s:s, s:I}", "fingerprint", fp, "clonedAt",
				  (json_int_t)cd->done_at),
			"schema %s is as it was when %s was cloned (%s; "
			"fingerprint %.12s)",
			pr->to->schema, pr->from->id, when, fp);
		free(now);
		return;
	}
	diff = json_array();
	structure_diff(diff, now, cd->structure);
	strbuf_init(&sb, 0);
	list_text(&sb, diff);
	ev = json_pack("{s:s, s:s?, s:I, s:o}", "fingerprint", fp,
		       "clonedFingerprint", cd->fingerprint, "clonedAt",
		       (json_int_t)cd->done_at, "changes", diff);
	how[0] = '\0';
	/* Through pressctl (an apply left it so) or after its last apply. */
	if (state_structure(p->state, pr->to->id, &rs, &e) == 0 && rs.found) {
		int applied = strcmp(rs.fingerprint, fp) == 0;

		when_text(since, applied ? rs.since : rs.recorded_at);
		snprintf(how, sizeof(how),
			 applied ? "; it is as the apply of %s left it" :
				   "; changed outside pressctl, after the "
				   "apply of %s",
			 since);
		json_object_set_new(ev, applied ? "appliedSince" : "appliedAt",
				    json_integer(applied ? rs.since :
							   rs.recorded_at));
		json_object_set_new(ev, "changedAfterApply",
				    json_boolean(!applied));
	}
	verdict(pr, "schema-unchanged", 0, ev,
		"schema %s changed since %s was cloned (%s): %s%s; clone %s "
		"again and test it there",
		pr->to->schema, pr->from->id, when,
		sb.len ? sb.buf : "the structure differs", how, pr->from->id);
	strbuf_release(&sb);
	free(now);
}

static json_t *
find_table(json_t *tables, const char *name)
{
	json_t *t;
	size_t i;

	json_array_foreach(tables, i, t)
		if (json_string_value(json_object_get(t, "name")) &&
		    strcmp(json_string_value(json_object_get(t, "name")),
			   name) == 0)
			return t;
	return NULL;
}

static void
guard_protected(struct promotion *pr, const struct pass *p,
		const struct clone_detail *cd)
{
	json_t *list = json_object_get(json_object_get(pr->to->spec,
						       "promotion"),
				       "protect");
	size_t n = json_array_size(list), i;
	const char **names;
	json_t *now = NULL, *changed, *v;
	char when[32];
	struct strbuf sb;
	struct err e;

	if (n == 0) {
		verdict(pr, "protected-tables", 1, NULL,
			"%s declares no promotion.protect tables", pr->to->id);
		return;
	}
	if (!cloned_from_target(pr, p, "protected-tables"))
		return;
	names = xcalloc(n, sizeof(*names));
	json_array_foreach(list, i, v)
		names[i] = json_string_value(v);
	if (pgdump_table_sums(p->pg_dsn, pr->to->schema, names, n, &now, &e) <
	    0) {
		verdict(pr, "protected-tables", 0, NULL, "%s", e.msg);
		free(names);
		return;
	}
	changed = json_array();
	for (i = 0; i < n; i++) {
		json_t *was = find_table(cd->tables, names[i]);
		json_t *is = find_table(now, names[i]);
		char *t = NULL;

		if (!was && !is)
			t = xprintf("%s: no such table (then or now)",
				    names[i]);
		else if (!is)
			t = xprintf("%s: dropped since the clone", names[i]);
		else if (!was)
			t = xprintf("%s: created since the clone", names[i]);
		else if (!json_equal(json_object_get(was, "rows"),
				     json_object_get(is, "rows")) ||
			 !json_equal(json_object_get(was, "checksum"),
				     json_object_get(is, "checksum")))
			t = xprintf("%s: %lld rows (checksum %s) at the clone, "
				    "now %lld rows (checksum %s)",
				    names[i],
				    (long long)json_integer_value(
					    json_object_get(was, "rows")),
				    json_string_value(
					    json_object_get(was, "checksum")),
				    (long long)json_integer_value(
					    json_object_get(is, "rows")),
				    json_string_value(
					    json_object_get(is, "checksum")));
		if (t) {
			json_array_append_new(changed, json_string(t));
			free(t);
		}
	}
	when_text(when, cd->done_at);
	if (json_array_size(changed) == 0) {
		verdict(pr, "protected-tables", 1,
			json_pack("{s:o, s:I}", "tables", now, "clonedAt",
				  (json_int_t)cd->done_at),
			"%zu protected table%s of %s unchanged since the clone "
			"(%s)",
			n, n == 1 ? "" : "s", pr->to->id, when);
		json_decref(changed);
	} else {
		strbuf_init(&sb, 0);
		list_text(&sb, changed);
		verdict(pr, "protected-tables", 0,
			json_pack("{s:o, s:o, s:I}", "tables", now, "changes",
				  changed, "clonedAt", (json_int_t)cd->done_at),
			"protected data of %s changed since %s was cloned "
			"(%s): %s; clone %s again and test it there",
			pr->to->id, pr->from->id, when, sb.buf, pr->from->id);
		strbuf_release(&sb);
	}
	free(names);
}

/* --- fresh-backup ----------------------------------------------------------- */

static void
guard_backup(struct promotion *pr, struct pass *p, int take)
{
	const struct rec_backup *nb = recorded_backup(&p->rec, pr->to->id);
	struct backup_result r;
	struct backup_info *v = NULL;
	struct backups b;
	size_t nv = 0;
	struct err e;
	char when[32];

	if (backups_open(&b, p, NULL, &e) < 0) {
		verdict(pr, "fresh-backup", 0, NULL, "%s", e.msg);
		return;
	}
	if (!take) {
		/* Can one be taken? The backups bucket answers. */
		when_text(when, nb ? nb->newest : 0);
		if (backup_list(&b.ctx, pr->to->id, &v, &nv, &e) < 0)
			verdict(pr, "fresh-backup", 0, NULL,
				"no backup of %s can be taken: %s", pr->to->id,
				e.msg);
		else
			verdict(pr, "fresh-backup", 1,
				json_pack("{s:s?, s:I}", "newest",
					  nb ? nb->newest_id : NULL, "newestAt",
					  (json_int_t)(nb ? nb->newest : 0)),
				"a verified backup of %s will be taken before "
				"the commit (the newest now: %s)",
				pr->to->id, when);
		backup_infos_free(v, nv);
		backups_close(&b, NULL);
		return;
	}
	testhook_wait("promote-backup");
	if (state_lock_backups(p->state, &e) < 0 ||
	    backups_run(&b, pr->to->id, "pre-promotion", &r, &e) < 0) {
		verdict(pr, "fresh-backup", 0, NULL,
			"no verified backup of %s could be taken: %s; nothing "
			"was promoted",
			pr->to->id, e.msg);
		backups_close(&b, NULL);
		return;
	}
	snprintf(pr->backup_id, sizeof(pr->backup_id), "%s", r.id);
	when_text(when, b.ctx.now);
	verdict(pr, "fresh-backup", 1,
		json_pack("{s:s, s:I, s:I}", "backup", r.id, "at",
			  (json_int_t)b.ctx.now, "bytes", (json_int_t)r.bytes),
		"backup %s of %s taken and verified at %s", r.id, pr->to->id,
		when);
	json_decref(r.manifest);
	backups_close(&b, NULL);
}

/* --- the check -------------------------------------------------------------- */

int
promote_envs(const struct model *m, const char *from_id, const char *to_id,
	     const struct environment **from, const struct environment **to,
	     struct err *e)
{
	json_t *pf;

	*from = model_find_env(m, from_id);
	*to = model_find_env(m, to_id);
	if (!*from || !*to)
		return err_set(e, "no environment '%s' in the source",
			       *from ? to_id : from_id);
	if (*from == *to)
		return err_set(e, "cannot promote '%s' into itself", from_id);
	if (strcmp((*from)->site->name, (*to)->site->name) != 0)
		return err_set(e,
			       "'%s' and '%s' are environments of different "
			       "sites; promotion moves within a site",
			       from_id, to_id);
	pf = json_object_get(json_object_get((*to)->spec, "promotion"), "from");
	if (!json_is_string(pf) ||
	    strcmp(json_string_value(pf), (*from)->name) != 0)
		return err_set(e,
			       "'%s' does not accept promotions from '%s': "
			       "declare promotion: {from: %s} in its "
			       "Environment",
			       to_id, from_id, (*from)->name);
	return 0;
}

/* One change of *out (see promote_changes): name, pointer, before, after
 * (borrowed; NULL for null). */
static void
change(json_t *out, const char *name, const char *pointer,
       const json_t *before, const json_t *after)
{
	json_array_append_new(
		out, json_pack("{s:s, s:s, s:O?, s:O?}", "name", name,
			       "pointer", pointer, "before", before, "after",
			       after));
}

int
promote_changes(const struct environment *from, const struct environment *to,
		json_t **out, struct err *e)
{
	json_t *names = json_object_get(json_object_get(to->spec, "promotion"),
					"env");
	json_t *fenv = json_object_get(from->spec, "env");
	json_t *tenv = json_object_get(to->spec, "env");
	json_t *fimg = json_string(from->image ? from->image : "");
	json_t *timg = to->image ? json_string(to->image) : NULL, *v;
	size_t i;

	*out = json_array();
	change(*out, "image", "/spec/image", timg, fimg);
	json_decref(fimg);
	json_decref(timg);
	json_array_foreach(names, i, v) {
		const char *k = json_string_value(v);
		json_t *after = json_object_get(fenv, k);
		json_t *before = json_object_get(tenv, k);
		char name[160], pointer[160];

		if (!k)
			continue;
		if (json_is_object(after) || json_is_object(before)) {
			json_decref(*out);
			*out = NULL;
			return err_set(
				e,
				"promotion.env of '%s' names %s, a secret "
				"reference in '%s': references differ per "
				"environment and are not promoted; take %s "
				"out of promotion.env",
				to->id, k,
				json_is_object(after) ? from->id : to->id, k);
		}
		if ((!after && !before) || json_equal(after, before))
			continue;
		snprintf(name, sizeof(name), "env.%s", k);
		snprintf(pointer, sizeof(pointer), "/spec/env/%s", k);
		change(*out, name, pointer, before, after);
	}
	return 0;
}

int
promote_check(struct pass *p, const struct plan *plan,
	      const struct environment *from, const struct environment *to,
	      int take_backup, struct promotion *out, struct err *e)
{
	struct clone_detail cd;

	memset(out, 0, sizeof(*out));
	out->from = from;
	out->to = to;
	if (state_clone_detail(p->state, from->id, &cd, e) < 0)
		return -1;
	guard_drift(out, p, plan);
	guard_soak(out, p, plan);
	guard_schema(out, p, &cd);
	guard_protected(out, p, &cd);
	out->allowed = 1;
	for (size_t i = 0; i < out->n; i++)
		out->allowed &= out->g[i].pass;
	guard_backup(out, p, take_backup && out->allowed);
	out->allowed &= out->g[out->n - 1].pass;
	clone_detail_release(&cd);
	return 0;
}

void
promotion_release(struct promotion *pr)
{
	for (size_t i = 0; i < pr->n; i++) {
		free(pr->g[i].text);
		json_decref(pr->g[i].evidence);
	}
	memset(pr, 0, sizeof(*pr));
}

json_t *
promotion_json(const struct promotion *pr, const char *commit)
{
	json_t *g = json_array();

	for (size_t i = 0; i < pr->n; i++)
		json_array_append_new(g, json_pack("{s:s, s:b, s:O}", "name",
						   pr->g[i].name, "pass",
						   pr->g[i].pass, "evidence",
						   pr->g[i].evidence));
	return json_pack("{s:s, s:s, s:b, s:o, s:s?, s:s?}", "from",
			 pr->from->id, "to", pr->to->id, "allowed", pr->allowed,
			 "guards", g, "commit", commit, "backup",
			 pr->backup_id[0] ? pr->backup_id : NULL);
}
