/* Unit tests: the three-way diff, the action graph and the mass-delete
 * guard (plan/plan.c, guard/guard.c) on fake observations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard/guard.h"
#include "plan/plan.h"

static const char manifests[] =
	"apiVersion: press/v1\nkind: Platform\nmetadata: {name: local}\n"
	"spec:\n"
	"  postgres: {dsn: {env: PRESS_PG_DSN}}\n"
	"  s3: {endpoint: 'http://127.0.0.1:48590', accessKey: {env: AK},"
	" secretKey: {env: SK}}\n"
	"  runtime: {driver: docker}\n"
	"  secrets: {masterKey: {file: /run/key}}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Site\nmetadata: {name: acme}\n"
	"spec: {app: generic, image: 'local/app:1'}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: production}\n"
	"spec: {site: acme, stage: production}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: staging}\n"
	"spec: {site: acme, stage: staging}\n";

static struct model *
model(const char *extra)
{
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;

	source_init(&src);
	diags_init(&d);
	assert_int_equal(source_add(&src, "all.yaml", manifests,
				    strlen(manifests), &e),
			 0);
	if (extra)
		assert_int_equal(source_add(&src, "extra.yaml", extra,
					    strlen(extra), &e),
				 0);
	assert_int_equal(manifest_read(&m, NULL, &src, &d), 0);
	diags_release(&d);
	source_release(&src);
	return m;
}

static int
res_cmp(const void *a, const void *b)
{
	const struct rec_resource *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Record every desired object as applied with its current hash, sorted
 * as state_read() returns them. */
static void
record_all(struct recorded *r, const struct model *m, time_t created)
{
	memset(r, 0, sizeof(*r));
	r->res = calloc(m->nobjects, sizeof(*r->res));
	for (size_t i = 0; i < m->nobjects; i++) {
		struct rec_resource *x = &r->res[r->nres++];

		x->kind = m->objects[i].kind;
		x->name = strdup(m->objects[i].name);
		x->env_id = strdup(m->objects[i].env->id);
		x->spec_hash = strdup(m->objects[i].hash);
		x->revision = strdup("r1");
		x->created_at = x->applied_at = created;
		x->stage = strdup(stage_name(m->objects[i].env->stage));
		x->spec = json_dumps(m->objects[i].spec,
				     JSON_COMPACT | JSON_SORT_KEYS);
	}
	qsort(r->res, r->nres, sizeof(*r->res), res_cmp);
}

/* Everything desired is live and as declared, in the shapes the
 * drivers report (driver/postgres.c, driver/docker.c). */
static void
observe_all(struct live *l, const struct model *m)
{
	live_init(l);
	for (size_t i = 0; i < m->nobjects; i++) {
		const struct live_object *o = &m->objects[i];
		const struct environment *e = o->env;
		struct live_item *it;

		it = live_add(l, o->kind, o->name);
		it->env_id = strdup(e->id);
		it->mark_seen = 1;
		it->mark = strdup("local");
		if (o->kind == LIVE_CONTAINER) {
			it->spec_hash = strdup(o->hash);
			it->running = 1;
		} else if (o->kind == LIVE_ROLE) {
			it->state =
				json_pack("{s:b, s:O, s:s, s:[], s:b}", "login",
					  1, "connectionLimit",
					  json_object_get(o->spec,
							  "connectionLimit"),
					  "searchPath", e->schema, "attributes",
					  "publicCreate", 0);
		} else if (o->kind == LIVE_SCHEMA) {
			it->state = json_pack("{s:s, s:[{s:s, s:s}]}", "owner",
					      e->role, "acl", "grantee",
					      e->role, "privileges", "UC");
		}
	}
	live_sort(l);
}

static void
free_res(struct rec_resource *x)
{
	free(x->name);
	free(x->env_id);
	free(x->spec_hash);
	free(x->revision);
	free(x->stage);
	free(x->spec);
}

/* Frees what record_all allocated (deletions and rollouts are the
 * tests' own). */
static void
rec_free(struct recorded *r)
{
	for (size_t i = 0; i < r->nres; i++)
		free_res(&r->res[i]);
	free(r->res);
}

static size_t
count(const struct plan *p, const char *verb, const char *kind)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		if (strcmp(action_verb(&p->v[i]), verb) == 0 &&
		    (!kind ||
		     (p->v[i].act.name &&
		      strcmp(live_kind_name(p->v[i].act.kind), kind) == 0)))
			n++;
	return n;
}

static void
fresh_platform_creates_everything_in_dependency_order(void **state)
{
	struct model *m = model(NULL);
	struct recorded rec = { 0 };
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	live_init(&live);
	assert_int_equal(plan_build(&p, m, &rec, &live, 1000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.n, 8);
	assert_int_equal(count(&p, "create", "role"), 2);
	assert_int_equal(count(&p, "create", "container"), 2);
	/* acme/production: role, schema (needs role), bucket, container
	 * (needs all three). */
	assert_string_equal(p.v[0].act.name, "acme_production");
	assert_int_equal(p.v[0].act.kind, LIVE_ROLE);
	assert_int_equal(p.v[1].ndeps, 1);
	assert_int_equal(p.v[1].deps[0], p.v[0].id);
	assert_int_equal(p.v[3].act.kind, LIVE_CONTAINER);
	assert_int_equal(p.v[3].ndeps, 3);
	assert_int_equal(p.changes, 8);
	plan_release(&p);
	live_release(&live);
	model_free(m);
}

static void
converged_platform_plans_nothing(void **state)
{
	struct model *m = model(NULL);
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.n, 0);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
missing_container_is_drift_and_changed_spec_is_a_change(void **state)
{
	struct model *m = model(NULL);
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	/* staging's container vanished; production's was applied from
	 * another spec. */
	for (size_t i = 0; i < live.n; i++)
		if (live.v[i].kind == LIVE_CONTAINER &&
		    strcmp(live.v[i].name, "fcs-press-acme-staging") == 0)
			live.v[i].kind = LIVE_BUCKET, free(live.v[i].name),
			live.v[i].name = strdup("zz-not-ours");
	live_sort(&live);
	for (size_t i = 0; i < rec.nres; i++)
		if (rec.res[i].kind == LIVE_CONTAINER &&
		    strcmp(rec.res[i].name, "fcs-press-acme-production") == 0)
			rec.res[i].spec_hash[0] ^= 1;
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.drift, 1);
	assert_int_equal(p.changes, 1);
	assert_int_equal(count(&p, "update", "container"), 1);
	assert_int_equal(count(&p, "create", "container"), 1);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
removed_environment_is_soft_deleted_and_guarded(void **state)
{
	static const char one_env[] =
		"apiVersion: press/v1\nkind: Environment\nmetadata: {name: dev}\n"
		"spec: {site: acme, stage: development}\n";
	struct model *full = model(one_env), *m = model(NULL);
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, full, 1000);
	observe_all(&live, full);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "remove", "container"), 1);
	assert_int_equal(count(&p, "soft-delete", NULL), 1);
	assert_int_equal(count(&p, "purge", NULL), 0);
	assert_int_equal(p.envs_managed, 3);
	assert_int_equal(p.envs_removed, 1);
	/* 1 of 3 is 33 %: over the default 20 %. */
	assert_int_equal(guard_mass_delete(&p, 20, 0, &e), 1);
	assert_non_null(strstr(e.msg, "--allow-mass-delete"));
	assert_int_equal(guard_mass_delete(&p, 20, 1, &e), 0);
	assert_int_equal(guard_mass_delete(&p, 50, 0, &e), 0);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
	model_free(full);
}

static void
purge_after_the_window_in_reverse_dependency_order(void **state)
{
	static const char one_env[] =
		"apiVersion: press/v1\nkind: Environment\nmetadata: {name: dev}\n"
		"spec: {site: acme, stage: development}\n";
	struct model *full = model(one_env), *m = model(NULL);
	struct rec_deletion del = { (char[]){ "acme/dev" },
				    (char[]){ "acme_dev" },
				    (char[]){ "acme_dev" },
				    (char[]){ "fcs-press-acme-dev" },
				    1000,
				    5000,
				    (char[]){ "20261201T000000Z" },
				    NULL };
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;
	size_t schema = 0, role = 0;

	(void)state;
	record_all(&rec, full, 1000);
	/* The soft delete already removed the container and its record. */
	rec.del = &del;
	rec.ndel = 1;
	for (size_t i = 0; i < rec.nres; i++)
		if (rec.res[i].kind == LIVE_CONTAINER &&
		    strcmp(rec.res[i].env_id, "acme/dev") == 0)
			free(rec.res[i].env_id), free(rec.res[i].name),
				rec.res[i].env_id = strdup("acme/production"),
				rec.res[i].name = strdup(
					"fcs-press-acme-production");
	observe_all(&live, m);
	assert_int_equal(plan_build(&p, m, &rec, &live, 4000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "purge", NULL), 0); /* window not over */
	assert_int_equal(p.nnotes, 1);
	plan_release(&p);
	assert_int_equal(plan_build(&p, m, &rec, &live, 6000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "purge", "schema"), 1);
	assert_int_equal(count(&p, "purge", "role"), 1);
	assert_int_equal(count(&p, "purge", "bucket"), 1);
	assert_int_equal(count(&p, "forget", NULL), 1);
	for (size_t i = 0; i < p.n; i++) {
		if (p.v[i].act.name && p.v[i].act.kind == LIVE_SCHEMA)
			schema = p.v[i].id;
		if (p.v[i].act.name && p.v[i].act.kind == LIVE_ROLE) {
			role = i;
		}
	}
	assert_int_equal(p.v[role].ndeps, 1);
	assert_int_equal(p.v[role].deps[0], schema);
	assert_int_equal(p.envs_removed, 0); /* decided earlier */
	plan_release(&p);
	/* Without a final backup the purge waits, and says why. */
	del.final_backup = NULL;
	assert_int_equal(plan_build(&p, m, &rec, &live, 6000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "purge", NULL), 0);
	assert_non_null(strstr(p.notes[p.nnotes - 1].text, "final backup"));
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
	model_free(full);
}

static void
readded_environment_is_revived(void **state)
{
	struct model *m = model(NULL);
	struct rec_deletion del = { (char[]){ "acme/staging" },
				    (char[]){ "acme_staging" },
				    (char[]){ "acme_staging" },
				    (char[]){ "fcs-press-acme-staging" },
				    1000,
				    9000,
				    NULL,
				    NULL };
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, m, 1000);
	rec.del = &del;
	rec.ndel = 1;
	observe_all(&live, m);
	for (size_t i = 0; i < live.n; i++)
		if (strcmp(live.v[i].name, "fcs-press-acme-staging") == 0 &&
		    live.v[i].kind == LIVE_CONTAINER)
			live.v[i].running = 0;
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "revive", NULL), 1);
	assert_int_equal(count(&p, "heal", "container"), 1);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
failed_rollout_is_held_until_backoff_ends(void **state)
{
	struct model *m = model(NULL);
	struct rec_rollout ro;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	for (size_t i = 0; i < rec.nres; i++)
		if (rec.res[i].kind == LIVE_CONTAINER &&
		    strcmp(rec.res[i].name, "fcs-press-acme-staging") == 0)
			rec.res[i].spec_hash[0] ^= 1;
	ro.name = (char[]){ "fcs-press-acme-staging" };
	ro.spec_hash = (char *)m->objects[7].hash;
	ro.error = (char[]){ "unhealthy" };
	ro.failures = 1;
	ro.next_retry_at = 3000;
	rec.rollouts = &ro;
	rec.nrollouts = 1;
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.nnotes, 1);
	plan_release(&p);
	assert_int_equal(plan_build(&p, m, &rec, &live, 3001, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "update", "container"), 1);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
unrecorded_conforming_object_is_adopted_and_orphans_removed(void **state)
{
	struct model *m = model(NULL);
	struct recorded rec = { 0 };
	struct live live;
	struct live_item *it;
	struct plan p;
	struct err e;

	(void)state;
	observe_all(&live, m);
	it = live_add(&live, LIVE_CONTAINER, "fcs-press-acme-staging-next");
	it->env_id = strdup("acme/staging");
	it->mark_seen = 1;
	it->mark = strdup("local");
	live_sort(&live);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "adopt", "container"), 2);
	assert_int_equal(count(&p, "adopt", "bucket"), 2);
	assert_int_equal(count(&p, "adopt", "role"), 2);
	assert_int_equal(p.changes, 1); /* adopting changes nothing live */
	assert_int_equal(count(&p, "remove", "container"), 1);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

/* The environment's action of this verb and kind (kind NULL: the
 * environment itself), or NULL. */
static const struct action *
find(const struct plan *p, const char *verb, const char *kind,
     const char *env_id)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];

		if (strcmp(action_verb(a), verb) || strcmp(a->env_id, env_id))
			continue;
		if (!kind ? !a->act.name :
			    a->act.name && strcmp(live_kind_name(a->act.kind),
						  kind) == 0)
			return a;
	}
	return NULL;
}

static void
soft_delete_waits_for_every_replica(void **state)
{
	static const char many[] =
		"apiVersion: press/v1\nkind: Environment\nmetadata: {name: big}\n"
		"spec: {site: acme, stage: development, replicas: 20}\n";
	struct model *full = model(many), *m = model(NULL);
	const struct action *sd;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, full, 1000);
	observe_all(&live, full);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "remove", "container"), 20);
	sd = find(&p, "soft-delete", NULL, "acme/big");
	assert_non_null(sd);
	/* The final backup and all 20 removals, none dropped: the data is
	 * set aside only once it is backed up and no replica runs. */
	assert_int_equal(sd->ndeps, 21);
	assert_string_equal(action_verb(&p.v[sd->deps[0] - 1]), "backup");
	for (size_t i = 1; i < sd->ndeps; i++) {
		const struct action *r = &p.v[sd->deps[i] - 1];

		assert_string_equal(action_verb(r), "remove");
		/* each container goes only after the backup */
		assert_int_equal(r->ndeps, 1);
		assert_int_equal(r->deps[0], sd->deps[0]);
	}
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
	model_free(full);
}

/* Set the mark of a live item (NULL: unmarked) and what it holds. */
static void
mark(struct live *l, enum live_kind kind, const char *name, const char *owner,
     int has_data)
{
	struct live_item *it = (struct live_item *)live_find(l, kind, name);

	assert_non_null(it);
	free(it->mark);
	it->mark_seen = 1;
	it->mark = owner ? strdup(owner) : NULL;
	it->has_data = has_data;
}

static void
another_platforms_mark_is_a_conflict_with_no_action(void **state)
{
	struct model *m = model(NULL);
	struct recorded rec = { 0 };
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	observe_all(&live, m);
	mark(&live, LIVE_SCHEMA, "acme_staging", "rival", 1);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.nconflicts, 1);
	assert_string_equal(p.conflicts[0].name, "acme_staging");
	assert_string_equal(p.conflicts[0].owner, "rival");
	assert_string_equal(p.conflicts[0].file, "all.yaml");
	assert_int_equal(p.conflicts[0].line, 22); /* its metadata.name */
	/* Nothing of acme/staging, not even an adoption; production goes on. */
	for (size_t i = 0; i < p.n; i++)
		assert_string_not_equal(p.v[i].env_id, "acme/staging");
	assert_non_null(find(&p, "adopt", "schema", "acme/production"));
	assert_int_equal(guard_conflicts(&p, &e), 1);
	assert_non_null(strstr(e.msg, "platform 'rival'"));
	plan_release(&p);
	live_release(&live);
	model_free(m);
}

static void
another_platforms_rows_conflict_unless_the_mark_is_ours(void **state)
{
	struct model *m = model(NULL);
	struct recorded rec = { 0 };
	char n1[] = "acme_production", n2[] = "acme_staging", pf[] = "rival";
	char e1[] = "acme/production", e2[] = "acme/staging";
	struct rec_foreign f[2] = {
		{ LIVE_ROLE, n1, pf, e1 },
		{ LIVE_ROLE, n2, pf, e2 },
	};
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	rec.foreign = f;
	rec.nforeign = 2;
	observe_all(&live, m);
	/* production's role carries our mark: rival's rows are stale. Its
	 * staging role is unmarked: rival's rows decide. */
	mark(&live, LIVE_ROLE, "acme_staging", NULL, 1);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.nconflicts, 1);
	assert_string_equal(p.conflicts[0].env_id, "acme/staging");
	assert_string_equal(p.conflicts[0].owner, "rival");
	assert_non_null(
		strstr(p.conflicts[0].text, "recorded by platform 'rival'"));
	plan_release(&p);
	live_release(&live);
	model_free(m);
}

static int
match_staging(const struct model *m, const char *env_id, void *arg)
{
	(void)m;
	(void)arg;
	return strcmp(env_id, "acme/staging") == 0;
}

static void
unmarked_data_is_adopted_only_when_asked(void **state)
{
	struct model *m = model(NULL);
	struct plan_filter adopt = { match_staging, NULL };
	struct recorded rec = { 0 };
	const struct action *a;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	observe_all(&live, m);
	mark(&live, LIVE_SCHEMA, "acme_staging", NULL, 1);    /* data */
	mark(&live, LIVE_SCHEMA, "acme_production", NULL, 0); /* empty */
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.nconflicts, 1);
	assert_null(p.conflicts[0].owner);
	assert_non_null(strstr(p.conflicts[0].text, "--adopt"));
	/* The empty one is adopted and marked (an update, not a record). */
	a = find(&p, "update", "schema", "acme/production");
	assert_non_null(a);
	assert_int_equal(a->reason, WHY_ADOPT);
	plan_release(&p);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, &adopt, &e),
			 0);
	assert_int_equal(p.nconflicts, 0);
	a = find(&p, "update", "schema", "acme/staging");
	assert_non_null(a);
	assert_int_equal(a->reason, WHY_ADOPT);
	assert_int_equal(guard_conflicts(&p, &e), 0);
	plan_release(&p);
	live_release(&live);
	model_free(m);
}

static void
recorded_unmarked_object_is_marked_as_drift(void **state)
{
	struct model *m = model(NULL);
	const struct action *a;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	mark(&live, LIVE_ROLE, "acme_staging", NULL, 1);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.nconflicts, 0);
	assert_int_equal(p.n, 1);
	a = find(&p, "heal", "role", "acme/staging");
	assert_non_null(a);
	assert_string_equal(a->detail, "ownership mark missing");
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static const char preview_env[] =
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: pr-7}\n"
	"spec: {site: acme, stage: preview, expiresAfterHours: 1}\n";

static const struct action *
find_named(const struct plan *p, const char *verb, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(action_verb(&p->v[i]), verb) == 0 &&
		    p->v[i].act.name && strcmp(p->v[i].act.name, name) == 0)
			return &p->v[i];
	return NULL;
}

static int
needs(const struct action *a, size_t id)
{
	for (size_t i = 0; i < a->ndeps; i++)
		if (a->deps[i] == id)
			return 1;
	return 0;
}

static void
removed_preview_is_purged_at_once_without_backup(void **state)
{
	struct model *full = model(preview_env), *m = model(NULL);
	const struct action *rm, *schema, *role, *bucket, *forget = NULL;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, full, 1000);
	observe_all(&live, full);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "backup", NULL), 0);
	assert_int_equal(count(&p, "soft-delete", NULL), 0);
	rm = find_named(&p, "remove", "fcs-press-acme-pr-7");
	schema = find_named(&p, "purge", "acme_pr_7");
	role = NULL;
	for (size_t i = 0; i < p.n; i++)
		if (p.v[i].act.kind == LIVE_ROLE && p.v[i].act.op == OP_PURGE)
			role = &p.v[i];
	bucket = find_named(&p, "purge", "fcs-press-acme-pr-7");
	for (size_t i = 0; i < p.n; i++)
		if (strcmp(action_verb(&p.v[i]), "forget") == 0)
			forget = &p.v[i];
	assert_non_null(rm);
	assert_non_null(schema);
	assert_non_null(role);
	assert_non_null(bucket);
	assert_non_null(forget);
	assert_int_equal(schema->reason, WHY_REMOVED);
	assert_string_equal(schema->detail, "preview: no backup is taken");
	/* Data goes once no container uses it; the role after its
	 * schema; the records last. */
	assert_true(needs(schema, rm->id));
	assert_true(needs(bucket, rm->id));
	assert_true(needs(role, schema->id));
	assert_true(needs(forget, schema->id) && needs(forget, role->id) &&
		    needs(forget, bucket->id) && needs(forget, rm->id));
	assert_int_equal(p.n, 5);
	/* A removed preview counts for the mass-delete guard. */
	assert_int_equal(p.envs_managed, 3);
	assert_int_equal(p.envs_removed, 1);
	assert_int_equal(guard_mass_delete(&p, 20, 0, &e), 1);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
	model_free(full);
}

static void
expired_preview_is_tombstoned_purged_and_stays_gone(void **state)
{
	struct model *m = model(preview_env);
	struct rec_deletion tomb = { (char[]){ "acme/pr-7" },
				     (char[]){ "acme_pr_7" },
				     (char[]){ "acme_pr_7" },
				     (char[]){ "fcs-press-acme-pr-7" },
				     4600,
				     4600,
				     NULL,
				     (char[]){ "preview" } };
	const struct action *t = NULL;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;
	size_t n;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	/* Not yet: 1 h after its creation at 1000. */
	assert_int_equal(plan_build(&p, m, &rec, &live, 4599, NULL, NULL, &e),
			 0);
	assert_int_equal(p.n, 0);
	plan_release(&p);
	assert_int_equal(plan_build(&p, m, &rec, &live, 4600, NULL, NULL, &e),
			 0);
	for (size_t i = 0; i < p.n; i++)
		if (strcmp(action_verb(&p.v[i]), "tombstone") == 0)
			t = &p.v[i];
	assert_non_null(t);
	assert_int_equal(t->reason, WHY_EXPIRED);
	/* Every removal waits for the tombstone; nothing is backed up or
	 * forgotten; expiry does not count for the guard. */
	for (size_t i = 0; i < p.n; i++)
		if (&p.v[i] != t)
			assert_true(needs(&p.v[i], t->id));
	assert_int_equal(count(&p, "remove", "container"), 1);
	assert_int_equal(count(&p, "purge", "schema"), 1);
	assert_int_equal(count(&p, "purge", "role"), 1);
	assert_int_equal(count(&p, "purge", "bucket"), 1);
	assert_int_equal(count(&p, "backup", NULL), 0);
	assert_int_equal(count(&p, "forget", NULL), 0);
	assert_int_equal(p.n, 5);
	assert_int_equal(p.envs_removed, 0);
	assert_int_equal(guard_mass_delete(&p, 20, 0, &e), 0);
	plan_release(&p);

	/* Purged: only the tombstone is left, and the document stays.
	 * Nothing is created again, whatever the clock says. */
	n = rec.nres;
	rec.nres = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rec.res[i].env_id, "acme/pr-7"))
			rec.res[rec.nres++] = rec.res[i];
		else
			free_res(&rec.res[i]);
	rec.del = &tomb;
	rec.ndel = 1;
	live_release(&live);
	observe_all(&live, m);
	for (size_t i = 0; i < live.n; i++)
		if (strcmp(live.v[i].env_id, "acme/pr-7") == 0)
			live.v[i].kind = LIVE_BUCKET, free(live.v[i].name),
			live.v[i].name = strdup("zz-not-ours");
	live_sort(&live);
	assert_int_equal(plan_build(&p, m, &rec, &live, 9000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.nnotes, 1);
	assert_non_null(strstr(p.notes[0].text, "expired preview"));
	plan_release(&p);

	/* Its document goes: the tombstone is forgotten, nothing else. */
	model_free(m);
	m = model(NULL);
	assert_int_equal(plan_build(&p, m, &rec, &live, 9000, NULL, NULL, &e),
			 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(count(&p, "forget", NULL), 1);
	assert_int_equal(p.envs_removed, 0);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
stage_change_is_recorded_without_backend_calls(void **state)
{
	static const char dev[] =
		"apiVersion: press/v1\nkind: Environment\nmetadata: {name: pr-7}\n"
		"spec: {site: acme, stage: development}\n";
	struct model *was = model(preview_env), *m = model(dev);
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	/* Applied as a preview; declared as development now, with the
	 * same objects: each is recorded again with its new stage, so its
	 * removal later is a soft delete with a backup. */
	record_all(&rec, was, 1000);
	for (size_t i = 0; i < rec.nres; i++)
		for (size_t j = 0; j < m->nobjects; j++)
			if (m->objects[j].kind == rec.res[i].kind &&
			    strcmp(m->objects[j].name, rec.res[i].name) == 0) {
				free(rec.res[i].spec_hash);
				rec.res[i].spec_hash = strdup(
					m->objects[j].hash);
			}
	observe_all(&live, m);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	assert_int_equal(count(&p, "record", NULL), 4);
	assert_int_equal(p.n, 4);
	assert_string_equal(p.v[0].detail,
			    "stage development, recorded as preview");
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
	model_free(was);
}

/* --- routes ------------------------------------------------------------- */

static const char ingress_manifests[] =
	"apiVersion: press/v1\nkind: Platform\nmetadata: {name: local}\n"
	"spec:\n"
	"  postgres: {dsn: {env: PRESS_PG_DSN}}\n"
	"  s3: {endpoint: 'http://127.0.0.1:48590', accessKey: {env: AK},"
	" secretKey: {env: SK}}\n"
	"  runtime: {driver: docker}\n"
	"  secrets: {masterKey: {file: /run/key}}\n"
	"  ingress: {driver: caddy, admin: 'http://127.0.0.1:48599', "
	"http: 48580}\n"
	"  domains: {previewWildcard: '*.preview.example'}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Site\nmetadata: {name: acme}\n"
	"spec: {app: generic, image: 'local/app:1'}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: production}\n"
	"spec: {site: acme, stage: production, replicas: 2, hostPort: true}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Domain\nmetadata: {name: shop}\n"
	"spec: {host: shop.acme.example, environment: acme/production, "
	"tls: none}\n";

static struct model *
ingress_model_with(const char *extra)
{
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;

	source_init(&src);
	diags_init(&d);
	assert_int_equal(source_add(&src, "all.yaml", ingress_manifests,
				    strlen(ingress_manifests), &e),
			 0);
	if (extra)
		assert_int_equal(source_add(&src, "extra.yaml", extra,
					    strlen(extra), &e),
				 0);
	assert_int_equal(manifest_read(&m, NULL, &src, &d), 0);
	diags_release(&d);
	source_release(&src);
	return m;
}

static struct model *
ingress_model(void)
{
	return ingress_model_with(NULL);
}

static const struct live_object *
find_object(const struct model *m, enum live_kind kind)
{
	for (size_t i = 0; i < m->nobjects; i++)
		if (m->objects[i].kind == kind)
			return &m->objects[i];
	return NULL;
}

/* Ports 100 + 10 * replica + slot; replica 2 has none allocated yet. */
static int
fake_port(void *arg, const char *container, int slot, struct err *e)
{
	(void)arg;
	(void)e;
	if (strcmp(container, "fcs-press-acme-production-1") == 0)
		return 110 + slot;
	return 0;
}

static void
route_reaches_both_slots_of_every_replica_with_a_port(void **state)
{
	struct model *m = ingress_model();
	const struct live_object *r = find_object(m, LIVE_ROUTE);
	json_t *ups = NULL;
	struct err e;

	(void)state;
	assert_non_null(r);
	assert_string_equal(r->name, "press.local.shop");
	assert_string_equal(r->env->id, "acme/production");
	assert_int_equal(plan_route_upstreams(&ups, r->spec, fake_port, NULL,
					      NULL, &e),
			 0);
	assert_int_equal(json_array_size(ups), 2);
	assert_string_equal(json_string_value(json_array_get(ups, 0)),
			    "127.0.0.1:110");
	assert_string_equal(json_string_value(json_array_get(ups, 1)),
			    "127.0.0.1:111");
	json_decref(ups);
	model_free(m);
}

/* Addresses on the platform's network: replica 1 runs, replica 2 not. */
static const char *
fake_addr(void *arg, const char *container)
{
	(void)arg;
	if (strcmp(container, "fcs-press-acme-staging-1") == 0)
		return "10.1.2.3";
	return NULL;
}

static const char staging_without_host_port[] =
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: staging}\n"
	"spec: {site: acme, stage: staging, replicas: 2}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Domain\nmetadata: {name: stage}\n"
	"spec: {host: stage.acme.example, environment: acme/staging, "
	"tls: none}\n";

static void
behind_an_ingress_containers_take_no_host_port_by_default(void **state)
{
	struct model *m = ingress_model_with(staging_without_host_port);
	const struct live_object *route = NULL;
	json_t *ups = NULL;
	size_t published = 0, unpublished = 0;
	struct err e;

	(void)state;
	for (size_t i = 0; i < m->nobjects; i++) {
		const struct live_object *o = &m->objects[i];

		if (o->kind == LIVE_CONTAINER) {
			if (strcmp(o->env->id, "acme/staging") == 0) {
				assert_false(container_publishes(o->spec));
				unpublished++;
			} else {
				/* hostPort: true opts back in */
				assert_true(container_publishes(o->spec));
				assert_null(
					json_object_get(o->spec, "publish"));
				published++;
			}
		}
		if (o->kind == LIVE_ROUTE &&
		    strcmp(o->env->id, "acme/staging") == 0)
			route = o;
	}
	assert_int_equal(published, 2);
	assert_int_equal(unpublished, 2);
	assert_non_null(route);
	assert_int_equal(json_integer_value(
				 json_object_get(route->spec, "containerPort")),
			 8080);
	/* Only running containers, at their address and container port;
	 * no host port is asked for. */
	assert_int_equal(plan_route_upstreams(&ups, route->spec, NULL,
					      fake_addr, NULL, &e),
			 0);
	assert_int_equal(json_array_size(ups), 1);
	assert_string_equal(json_string_value(json_array_get(ups, 0)),
			    "10.1.2.3:8080");
	json_decref(ups);
	model_free(m);
}

static void
new_route_waits_for_its_containers_and_a_gone_domain_is_removed(void **state)
{
	struct model *m = ingress_model();
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;
	size_t containers = 0;
	const struct action *route = NULL;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	live_init(&live);
	assert_int_equal(plan_build(&p, m, &rec, &live, 1000, NULL, NULL, &e),
			 0);
	for (size_t i = 0; i < p.n; i++) {
		if (p.v[i].act.kind == LIVE_CONTAINER)
			containers++;
		if (p.v[i].act.kind == LIVE_ROUTE)
			route = &p.v[i];
	}
	assert_int_equal(containers, 2);
	assert_non_null(route);
	assert_int_equal(route->act.op, OP_CREATE);
	assert_int_equal(route->ndeps, 2); /* both replicas' containers */
	for (size_t i = 0; i < route->ndeps; i++)
		assert_int_equal(p.v[route->deps[i] - 1].act.kind,
				 LIVE_CONTAINER);
	plan_release(&p);

	/* Applied, then the route's row names a Domain that is gone. */
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	for (size_t i = 0; i < rec.nres; i++)
		if (rec.res[i].kind == LIVE_ROUTE) {
			free(rec.res[i].name);
			rec.res[i].name = strdup("press.local.old");
		}
	qsort(rec.res, rec.nres, sizeof(*rec.res), res_cmp);
	assert_int_equal(plan_build(&p, m, &rec, &live, 1000, NULL, NULL, &e),
			 0);
	route = NULL;
	for (size_t i = 0; i < p.n; i++)
		if (p.v[i].act.kind == LIVE_ROUTE && p.v[i].act.op == OP_REMOVE)
			route = &p.v[i];
	assert_non_null(route);
	assert_string_equal(route->act.name, "press.local.old");
	assert_int_equal(route->reason, WHY_CHANGED);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

/* Two previews: pr-7 gets the generated host, pr-8 has a Domain. */
static const char ingress_previews[] =
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: pr-7}\n"
	"spec: {site: acme, stage: preview, expiresAfterHours: 1}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: pr-8}\n"
	"spec: {site: acme, stage: preview}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Domain\nmetadata: {name: pr-eight}\n"
	"spec: {host: pr8.acme.example, environment: acme/pr-8, "
	"tls: none}\n";

static const struct live_object *
find_route(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->nobjects; i++)
		if (m->objects[i].kind == LIVE_ROUTE &&
		    strcmp(m->objects[i].name, name) == 0)
			return &m->objects[i];
	return NULL;
}

static const struct action *
route_action(const struct plan *p, enum driver_op op, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].act.kind == LIVE_ROUTE && p->v[i].act.op == op &&
		    strcmp(p->v[i].act.name, name) == 0)
			return &p->v[i];
	return NULL;
}

static void
preview_generated_host_gets_a_route_that_goes_with_it(void **state)
{
	struct model *m = ingress_model_with(ingress_previews),
		     *gone = ingress_model();
	const char *name = "press.local.preview.acme.pr-7";
	const struct environment *e = model_find_env(m, "acme/pr-7");
	const struct live_object *r = find_route(m, name);
	const struct action *a, *rm;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e2;
	size_t routes = 0;

	(void)state;
	assert_non_null(e);
	assert_string_equal(e->host, "acme-pr-7.preview.example");
	assert_string_equal(e->route, name);
	/* A preview a Domain claims gets no generated host, only the
	 * Domain's route. */
	assert_null(model_find_env(m, "acme/pr-8")->host);
	assert_null(model_find_env(m, "acme/pr-8")->route);
	assert_non_null(find_route(m, "press.local.pr-eight"));
	for (size_t i = 0; i < m->nobjects; i++)
		if (m->objects[i].kind == LIVE_ROUTE)
			routes++;
	assert_int_equal(routes, 3); /* shop, pr-eight, pr-7's host */

	assert_non_null(r);
	assert_string_equal(r->env->id, "acme/pr-7");
	assert_string_equal(json_string_value(json_object_get(r->spec, "id")),
			    name);
	assert_string_equal(json_string_value(json_object_get(r->spec, "host")),
			    "acme-pr-7.preview.example");
	assert_string_equal(json_string_value(json_object_get(r->spec, "tls")),
			    "none");
	assert_int_equal(json_array_size(json_object_get(r->spec, "redirects")),
			 0);
	assert_int_equal(json_array_size(
				 json_object_get(r->spec, "containers")),
			 1);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(r->spec, "containers"), 0)),
			    "fcs-press-acme-pr-7");

	/* New: created after the preview's container. */
	memset(&rec, 0, sizeof(rec));
	live_init(&live);
	assert_int_equal(plan_build(&p, m, &rec, &live, 1000, NULL, NULL, &e2),
			 0);
	a = route_action(&p, OP_CREATE, name);
	assert_non_null(a);
	assert_int_equal(a->ndeps, 1);
	assert_int_equal(p.v[a->deps[0] - 1].act.kind, LIVE_CONTAINER);
	assert_string_equal(p.v[a->deps[0] - 1].act.name,
			    "fcs-press-acme-pr-7");
	plan_release(&p);
	live_release(&live);

	/* Applied; its file removed: the route goes with the container. */
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	assert_int_equal(plan_build(&p, gone, &rec, &live, 2000, NULL, NULL,
				    &e2),
			 0);
	a = route_action(&p, OP_REMOVE, name);
	rm = find_named(&p, "remove", "fcs-press-acme-pr-7");
	assert_non_null(a);
	assert_non_null(rm);
	assert_int_equal(a->reason, WHY_REMOVED);
	assert_string_equal(a->env_id, "acme/pr-7");
	assert_null(route_action(&p, OP_REMOVE, "press.local.shop"));
	plan_release(&p);

	/* Still declared, but expired (1 h after 1000): it goes too. */
	assert_int_equal(plan_build(&p, m, &rec, &live, 4601, NULL, NULL, &e2),
			 0);
	a = route_action(&p, OP_REMOVE, name);
	assert_non_null(a);
	assert_int_equal(a->reason, WHY_EXPIRED);
	assert_null(route_action(&p, OP_REMOVE, "press.local.pr-eight"));
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(gone);
	model_free(m);
}

/* --- field-level changes (plan/changes.c) ---------------------------------- */

static const char vars[] =
	"apiVersion: press/v1\nkind: Site\nmetadata: {name: vars}\n"
	"spec:\n"
	"  app: generic\n"
	"  image: 'local/app:2'\n"
	"  resources: {memory: 64Mi}\n"
	"  env: {GREETING: hi, API_TOKEN: {env: TOKEN_B},"
	" DB_SECRET: {file: /run/db}}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: dev}\n"
	"spec: {site: vars, stage: development,"
	" database: {passwordGeneration: 3}}\n";

static struct rec_resource *
rec_of(struct recorded *rec, enum live_kind kind, const char *name)
{
	for (size_t i = 0; i < rec->nres; i++)
		if (rec->res[i].kind == kind && !strcmp(rec->res[i].name, name))
			return &rec->res[i];
	fail_msg("%s not recorded", name);
	return NULL;
}

static struct live_item *
live_of(struct live *l, enum live_kind kind, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == kind && !strcmp(l->v[i].name, name))
			return &l->v[i];
	fail_msg("%s not observed", name);
	return NULL;
}

/* The recorded spec of kind/name with JSON Pointer path set to v (a new
 * reference; NULL deletes it): a spec applied before the source
 * changed. */
static void
recorded_was(struct recorded *rec, enum live_kind kind, const char *name,
	     const char *path, json_t *v)
{
	struct rec_resource *r = rec_of(rec, kind, name);
	json_t *spec = json_loads(r->spec, 0, NULL), *at = spec;
	char buf[128], *tok, *save = NULL, *last = NULL;

	snprintf(buf, sizeof(buf), "%s", path + 1);
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (last)
			at = json_object_get(at, last);
		last = tok;
	}
	if (v)
		json_object_set_new(at, last, v);
	else
		json_object_del(at, last);
	free(r->spec);
	r->spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	r->spec_hash[0] ^= 1;
	json_decref(spec);
}

/* The change of action a at path, or NULL. */
static json_t *
change_at(const struct action *a, const char *path)
{
	json_t *c;
	size_t i;

	json_array_foreach(a->changes, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "path")),
			    path))
			return c;
	return NULL;
}

static void
assert_change(const struct action *a, const char *path, const char *before,
	      const char *after, int sensitive)
{
	json_t *c = change_at(a, path);
	char *b, *f;

	if (!c)
		fail_msg("no change at %s", path);
	b = json_dumps(json_object_get(c, "before"),
		       JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	f = json_dumps(json_object_get(c, "after"),
		       JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	assert_string_equal(b, before);
	assert_string_equal(f, after);
	assert_int_equal(json_is_true(json_object_get(c, "sensitive")),
			 sensitive);
	free(b);
	free(f);
}

static const struct action *
action_on(const struct plan *p, enum live_kind kind, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].act.kind == kind && p->v[i].act.name &&
		    !strcmp(p->v[i].act.name, name))
			return &p->v[i];
	fail_msg("no action on %s", name);
	return NULL;
}

static void
changed_spec_lists_its_fields_and_never_a_secret(void **state)
{
	struct model *m = model(vars);
	const char *c = "fcs-press-vars-dev";
	const struct action *a;
	struct recorded rec;
	struct live live;
	struct strbuf sb;
	struct plan p;
	struct err e;
	json_t *j;
	char *text;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	/* Applied before: another image and greeting, the other token, a
	 * plain value under a secret-looking name (an older manifest), a
	 * variable since removed, no limit, the first password. */
	recorded_was(&rec, LIVE_CONTAINER, c, "/image",
		     json_string("local/app:1"));
	recorded_was(&rec, LIVE_CONTAINER, c, "/env/GREETING",
		     json_string("hello"));
	recorded_was(&rec, LIVE_CONTAINER, c, "/env/API_TOKEN",
		     json_pack("{s:s}", "env", "TOKEN_A"));
	recorded_was(&rec, LIVE_CONTAINER, c, "/env/DB_SECRET",
		     json_string("hunter2"));
	recorded_was(&rec, LIVE_CONTAINER, c, "/env/OLD_PASSWORD",
		     json_string("hunter3"));
	recorded_was(&rec, LIVE_CONTAINER, c, "/resources", NULL);
	recorded_was(&rec, LIVE_CONTAINER, c, "/platform/passwordGeneration",
		     json_integer(1));
	recorded_was(&rec, LIVE_ROLE, "vars_dev", "/passwordGeneration",
		     json_integer(1));
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	a = action_on(&p, LIVE_CONTAINER, c);
	assert_string_equal(action_verb(a), "update");
	assert_null(a->detail);
	assert_change(a, "/image", "\"local/app:1\"", "\"local/app:2\"", 0);
	assert_change(a, "/env/GREETING", "\"hello\"", "\"hi\"", 0);
	assert_change(a, "/env/API_TOKEN", "{\"env\":\"TOKEN_A\"}",
		      "{\"env\":\"TOKEN_B\"}", 1);
	assert_change(a, "/env/DB_SECRET", "\"(sensitive)\"",
		      "{\"file\":\"/run/db\"}", 1);
	assert_change(a, "/env/OLD_PASSWORD", "\"(sensitive)\"", "null", 1);
	assert_change(a, "/resources", "null", "{\"memory\":\"64Mi\"}", 0);
	assert_change(a, "/platform/passwordGeneration", "1", "3", 1);
	assert_int_equal(json_array_size(a->changes), 7);
	a = action_on(&p, LIVE_ROLE, "vars_dev");
	assert_change(a, "/passwordGeneration", "1", "3", 1);

	/* No rendering holds a plain value of a secret-looking name. */
	strbuf_init(&sb, 0);
	plan_render_text(&sb, &p, &live);
	assert_non_null(
		strstr(sb.buf, "    image: local/app:1 → local/app:2\n"));
	assert_non_null(strstr(sb.buf, "    env.API_TOKEN: {env: TOKEN_A} → "
				       "{env: TOKEN_B} (sensitive)\n"));
	assert_non_null(strstr(sb.buf, "    password: rotated (generation 1 "
				       "→ 3)\n"));
	plan_render_markdown(&sb, &p, &live);
	assert_non_null(strstr(sb.buf, "<details><summary><code>vars/dev"
				       "</code>"));
	assert_non_null(strstr(sb.buf, "- `resources`: `(none)` → "
				       "`{memory: 64Mi}`\n"));
	j = plan_json(&p, &live);
	text = json_dumps(j, JSON_COMPACT);
	strbuf_addstr(&sb, text);
	assert_null(strstr(sb.buf, "hunter"));
	free(text);
	json_decref(j);
	strbuf_release(&sb);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
drift_lists_what_differs_live(void **state)
{
	struct model *m = model(vars);
	const char *c = "fcs-press-vars-dev";
	const struct action *a;
	struct live_item *it;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	/* By hand: a memory limit raised (as the Docker driver reports
	 * it), the connection limit lowered, an extra grant to PUBLIC and
	 * CREATE revoked from the owner. */
	it = live_of(&live, LIVE_CONTAINER, c);
	it->state = json_pack("{s:s, s:s, s:I, s:I}", "status", "running",
			      "image", "local/app:2", "memory",
			      (json_int_t)96 << 20, "nanoCpus", (json_int_t)0);
	it = live_of(&live, LIVE_ROLE, "vars_dev");
	json_object_set_new(it->state, "connectionLimit", json_integer(5));
	it = live_of(&live, LIVE_SCHEMA, "vars_dev");
	json_object_set_new(it->state, "acl",
			    json_pack("[{s:s, s:s}, {s:s, s:s}]", "grantee",
				      "vars_dev", "privileges", "U", "grantee",
				      "PUBLIC", "privileges", "U"));
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	a = action_on(&p, LIVE_CONTAINER, c);
	assert_string_equal(action_verb(a), "heal");
	assert_string_equal(a->detail, "memory limit 96Mi, want 64Mi");
	assert_change(a, "/resources/memory", "\"96Mi\"", "\"64Mi\"", 0);
	assert_int_equal(json_array_size(a->changes), 1);
	a = action_on(&p, LIVE_ROLE, "vars_dev");
	assert_change(a, "/connectionLimit", "5", "-1", 0);
	assert_int_equal(json_array_size(a->changes), 1);
	a = action_on(&p, LIVE_SCHEMA, "vars_dev");
	assert_change(a, "/grants/vars_dev", "[\"USAGE\"]",
		      "[\"CREATE\",\"USAGE\"]", 0);
	assert_change(a, "/grants/PUBLIC", "[\"USAGE\"]", "null", 0);
	assert_int_equal(json_array_size(a->changes), 2);
	plan_release(&p);

	/* Gone: a create that heals, from missing. */
	it = live_of(&live, LIVE_CONTAINER, c);
	it->kind = LIVE_BUCKET;
	free(it->name);
	it->name = strdup("zz-not-ours");
	live_sort(&live);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	a = action_on(&p, LIVE_CONTAINER, c);
	assert_string_equal(action_verb(a), "create");
	assert_change(a, "/status", "\"missing\"", "\"running\"", 0);
	/* New objects and other actions have none. */
	for (size_t i = 0; i < p.n; i++)
		if (p.v[i].reason != WHY_DRIFT)
			assert_null(p.v[i].changes);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
spec_recorded_by_an_older_pressctl_has_unknown_fields(void **state)
{
	struct model *m = model(NULL);
	struct rec_resource *r;
	const struct action *a;
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;
	json_t *j;

	(void)state;
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	r = rec_of(&rec, LIVE_CONTAINER, "fcs-press-acme-staging");
	free(r->spec);
	r->spec = NULL;
	r->spec_hash[0] ^= 1;
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	a = action_on(&p, LIVE_CONTAINER, "fcs-press-acme-staging");
	assert_string_equal(a->detail, "last applied by an older pressctl: "
				       "the fields that change are not known");
	assert_int_equal(json_array_size(a->changes), 0);
	j = plan_json(&p, &live);
	assert_int_equal(json_array_size(json_object_get(
				 json_array_get(json_object_get(j, "actions"),
						0),
				 "changes")),
			 0);
	json_decref(j);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
}

static void
replica_count_is_shown_on_the_containers_it_adds_and_removes(void **state)
{
	static const char three[] =
		"apiVersion: press/v1\nkind: Environment\nmetadata: {name: dev}\n"
		"spec: {site: acme, stage: development, replicas: 3}\n";
	static const char two[] =
		"apiVersion: press/v1\nkind: Environment\nmetadata: {name: dev}\n"
		"spec: {site: acme, stage: development, replicas: 2}\n";
	struct model *before = model(two), *m = model(three);
	struct recorded rec;
	struct live live;
	struct plan p;
	struct err e;
	size_t n = 0;

	(void)state;
	record_all(&rec, before, 1000);
	observe_all(&live, before);
	assert_int_equal(plan_build(&p, m, &rec, &live, 2000, NULL, NULL, &e),
			 0);
	for (size_t i = 0; i < p.n; i++) {
		const struct action *a = &p.v[i];

		if (a->act.kind != LIVE_CONTAINER)
			continue;
		assert_string_equal(a->env_id, "acme/dev");
		assert_change(a, "/replicas", "2", "3", 0);
		n++;
	}
	assert_int_equal(n, 1); /* fcs-press-acme-dev-3 */
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	/* And back: the third goes. */
	record_all(&rec, m, 1000);
	observe_all(&live, m);
	assert_int_equal(plan_build(&p, before, &rec, &live, 2000, NULL, NULL,
				    &e),
			 0);
	assert_int_equal(p.n, 1);
	assert_string_equal(action_verb(&p.v[0]), "remove");
	assert_string_equal(p.v[0].detail, "replicas changed");
	assert_change(&p.v[0], "/replicas", "3", "2", 0);
	plan_release(&p);
	live_release(&live);
	rec_free(&rec);
	model_free(m);
	model_free(before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			fresh_platform_creates_everything_in_dependency_order),
		cmocka_unit_test(converged_platform_plans_nothing),
		cmocka_unit_test(
			missing_container_is_drift_and_changed_spec_is_a_change),
		cmocka_unit_test(
			removed_environment_is_soft_deleted_and_guarded),
		cmocka_unit_test(
			purge_after_the_window_in_reverse_dependency_order),
		cmocka_unit_test(readded_environment_is_revived),
		cmocka_unit_test(failed_rollout_is_held_until_backoff_ends),
		cmocka_unit_test(
			unrecorded_conforming_object_is_adopted_and_orphans_removed),
		cmocka_unit_test(soft_delete_waits_for_every_replica),
		cmocka_unit_test(
			another_platforms_mark_is_a_conflict_with_no_action),
		cmocka_unit_test(
			another_platforms_rows_conflict_unless_the_mark_is_ours),
		cmocka_unit_test(unmarked_data_is_adopted_only_when_asked),
		cmocka_unit_test(recorded_unmarked_object_is_marked_as_drift),
		cmocka_unit_test(
			removed_preview_is_purged_at_once_without_backup),
		cmocka_unit_test(
			expired_preview_is_tombstoned_purged_and_stays_gone),
		cmocka_unit_test(
			stage_change_is_recorded_without_backend_calls),
		cmocka_unit_test(
			route_reaches_both_slots_of_every_replica_with_a_port),
		cmocka_unit_test(
			behind_an_ingress_containers_take_no_host_port_by_default),
		cmocka_unit_test(
			new_route_waits_for_its_containers_and_a_gone_domain_is_removed),
		cmocka_unit_test(
			preview_generated_host_gets_a_route_that_goes_with_it),
		cmocka_unit_test(
			changed_spec_lists_its_fields_and_never_a_secret),
		cmocka_unit_test(drift_lists_what_differs_live),
		cmocka_unit_test(
			spec_recorded_by_an_older_pressctl_has_unknown_fields),
		cmocka_unit_test(
			replica_count_is_shown_on_the_containers_it_adds_and_removes),
	};

	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
