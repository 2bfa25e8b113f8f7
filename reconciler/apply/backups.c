/*
 * backups.c - see backups.h.
 */
#include "backups.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clone/clone.h"
#include "../driver/pgdump.h"
#include "../manifest/cron.h"
#include "../util/hash.h"
#include "../util/secret.h"

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* --- policies ------------------------------------------------------------- */

static int
selects(const struct backup_policy *bp, const struct environment *env)
{
	json_t *sel = json_object_get(bp->spec, "selector"), *v, *sites;
	const char *k, *stage = str(sel, "stage");
	size_t i;
	int hit;

	if (!bp->valid)
		return 0;
	if (stage && strcmp(stage, stage_name(env->stage)) != 0)
		return 0;
	json_object_foreach(json_object_get(sel, "matchLabels"), k, v) {
		const char *have = json_string_value(
			json_object_get(env->site->labels, k));

		if (!have || !json_is_string(v) ||
		    strcmp(have, json_string_value(v)) != 0)
			return 0;
	}
	if ((sites = json_object_get(sel, "sites"))) {
		hit = 0;
		json_array_foreach(sites, i, v)
			hit |= json_is_string(v) &&
			       strcmp(json_string_value(v), env->site->name) ==
				       0;
		if (!hit)
			return 0;
	}
	return 1;
}

const struct backup_policy *
backups_policy(const struct model *m, const struct environment *env)
{
	const struct backup_policy *best = NULL;

	for (size_t i = 0; env && i < m->npolicies; i++)
		if (selects(&m->policies[i], env) &&
		    (!best || strcmp(m->policies[i].name, best->name) < 0))
			best = &m->policies[i];
	return best;
}

void
backups_health(const struct model *m, const struct environment *env,
	       const struct rec_backup *have, size_t n, time_t now,
	       struct backup_health *h)
{
	const struct backup_policy *bp = backups_policy(m, env);
	json_t *max = bp ? json_object_get(bp->spec, "maxAgeHours") : NULL;

	memset(h, 0, sizeof(*h));
	if (!bp)
		return;
	h->covered = 1;
	h->max_age_hours = json_is_number(max) ? json_number_value(max) : 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(have[i].env_id, env->id) == 0) {
			h->newest = have[i].newest;
			h->drill = have[i].drill;
		}
	h->stale = h->max_age_hours > 0 &&
		   (double)(now - h->newest) > h->max_age_hours * 3600;
}

/* The key a policy encrypts with, among b->keys; NULL when plain. */
static const struct crypt_key *
policy_key(const struct backups *b, const struct backup_policy *bp)
{
	const struct model *m = b->p->model;
	size_t k = 0;

	for (size_t i = 0; i < m->npolicies; i++) {
		json_t *key =
			json_object_get(json_object_get(m->policies[i].spec,
							"encrypt"),
					"key");

		if (!key)
			continue;
		if (&m->policies[i] == bp)
			return &b->keys[k];
		k++;
	}
	return NULL;
}

/* --- open, close ----------------------------------------------------------- */

/*
 * Under the backup lock no upload on record belongs to a live run: a run
 * killed mid-backup left them (or the server could not abort them).
 * Abort each; forget those aborted, keep the others as "left".
 */
static int
sweep_uploads(struct backups *b, struct err *e)
{
	struct rec_upload *u = NULL;
	size_t n = 0;
	int rc = 0;

	if (state_uploads(b->p->state, &u, &n, e) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct err ae;
		int r = backup_abort_upload(&b->ctx, u[i].bucket, u[i].key,
					    u[i].id, &ae);

		/* Housekeeping: an upload that cannot be aborted now stays
		 * on record for the next run, and blocks nothing. */
		if (r != 0) {
			b->uploads_left++;
			if (r < 0 || u[i].left)
				continue;
		}
		rc = state_upload_end(b->p->state, u[i].id, r == 1, e);
	}
	rec_uploads_free(u, n);
	return rc;
}

int
backups_open(struct backups *b, struct pass *p, const char *command,
	     struct err *e)
{
	const struct model *m = p->model;

	memset(b, 0, sizeof(*b));
	b->p = p;
	b->keys = xcalloc(m->npolicies + 1, sizeof(*b->keys));
	for (size_t i = 0; i < m->npolicies; i++) {
		json_t *key =
			json_object_get(json_object_get(m->policies[i].spec,
							"encrypt"),
					"key");
		char *secret = NULL, what[160];
		int rc;

		if (!key)
			continue;
		snprintf(what, sizeof(what), "encrypt.key of BackupPolicy '%s'",
			 m->policies[i].name);
		if (secret_resolve(&secret, str(key, "env"), str(key, "file"),
				   what, e) < 0)
			goto fail;
		rc = crypt_key_derive(&b->keys[b->nkeys], secret,
				      strlen(secret), e);
		secret_free(secret);
		if (rc < 0)
			goto fail;
		b->nkeys++;
	}
	b->bucket = xprintf("%s-backups", m->platform.prefix);
	b->ctx.denv = &p->denv;
	b->ctx.platform = m->platform.name;
	b->ctx.dsn = p->pg_dsn;
	b->ctx.bucket = b->bucket;
	b->ctx.revision = m->revision;
	b->ctx.now = p->now;
	b->ctx.keys = b->keys;
	b->ctx.nkeys = b->nkeys;
	if (command && (state_lock_backups(p->state, e) < 0 ||
			state_run_begin(p->state, m->revision, command,
					&b->run_id, e) < 0 ||
			sweep_uploads(b, e) < 0))
		goto fail;
	return 0;
fail:
	backups_close(b, NULL);
	return -1;
}

void
backups_close(struct backups *b, const char *status)
{
	struct err ignored;

	if (b->run_id && status)
		state_run_end(b->p->state, b->run_id, status, NULL, &ignored);
	for (size_t i = 0; i < b->nkeys; i++)
		crypt_key_wipe(&b->keys[i]);
	free(b->keys);
	free(b->bucket);
	memset(b, 0, sizeof(*b));
}

/* --- targets --------------------------------------------------------------- */

/* The live names of env_id: declared, else soft-deleted. */
static int
target(struct backups *b, const char *env_id, struct backup_target *t,
       struct err *e)
{
	const struct environment *env = model_find_env(b->p->model, env_id);
	const struct rec_deletion *del;

	memset(t, 0, sizeof(*t));
	t->env_id = env_id;
	if (env) {
		t->schema = env->schema;
		t->role = env->role;
		t->bucket = env->bucket;
		return 0;
	}
	if ((del = recorded_deletion(&b->p->rec, env_id))) {
		t->schema = del->schema;
		t->role = del->role;
		t->bucket = del->bucket;
		return 0;
	}
	/* Leaving the source now (its soft delete's final backup): what
	 * the state records of it. */
	for (size_t i = 0; i < b->p->rec.nres; i++) {
		const struct rec_resource *r = &b->p->rec.res[i];

		if (strcmp(r->env_id, env_id) != 0)
			continue;
		if (r->kind == LIVE_SCHEMA)
			t->schema = r->name;
		else if (r->kind == LIVE_ROLE)
			t->role = r->name;
		else if (r->kind == LIVE_BUCKET)
			t->bucket = r->name;
	}
	if (t->schema && t->bucket)
		return 0;
	return err_set(e,
		       "environment '%s' is neither declared nor kept by a "
		       "soft delete",
		       env_id);
}

/* --- journaled steps --------------------------------------------------------- */

static void
upload_started(void *arg, const char *bucket, const char *key, const char *id)
{
	struct backups *b = arg;
	struct err ignored;

	state_upload_open(b->p->state, bucket, key, id, &ignored);
}

static void
upload_ended(void *arg, const char *id, int left)
{
	struct backups *b = arg;
	struct err ignored;

	state_upload_end(b->p->state, id, left, &ignored);
	b->uploads_left += left != 0;
}

/* Intent now; the outcome by step_end. */
static long long
step_begin(struct backups *b, const char *action, const char *target_name,
	   const char *env_id)
{
	long long jid = 0;
	struct err ignored;

	state_journal_begin(b->p->state, b->run_id, b->p->model->revision,
			    action, LIVE_SCHEMA, target_name, env_id, NULL,
			    &jid, &ignored);
	return jid;
}

static int
step_end(struct backups *b, long long jid, int rc, const struct err *e)
{
	struct err ignored;

	if (jid)
		state_journal_end(b->p->state, jid, rc == 0 ? "done" : "failed",
				  rc == 0 ? NULL : e->msg, 1, &ignored);
	return rc;
}

static pthread_mutex_t backup_mu = PTHREAD_MUTEX_INITIALIZER;

int
backups_run(struct backups *b, const char *env_id, const char *reason,
	    struct backup_result *r, struct err *e)
{
	const struct environment *env = model_find_env(b->p->model, env_id);
	const struct backup_policy *bp = backups_policy(b->p->model, env);
	struct backup_opts o = { .policy = bp ? bp->name : NULL,
				 .reason = reason,
				 .key = policy_key(b, bp),
				 .files = 1,
				 .upload_started = upload_started,
				 .upload_ended = upload_ended,
				 .arg = b };
	json_t *inc = bp ? json_object_get(bp->spec, "include") : NULL, *v;
	struct backup_target t;
	long long jid;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (json_is_array(inc)) {
		o.files = 0;
		json_array_foreach(inc, i, v)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), "files") == 0)
				o.files = 1;
	}
	if (target(b, env_id, &t, e) < 0)
		return -1;
	jid = step_begin(b, "backup", t.schema, env_id);
	/* One backup at a time in this process too: the backup lock is a
	 * session's, which the workers of one apply share, and two backups
	 * of one environment in one second would take one id. */
	pthread_mutex_lock(&backup_mu);
	rc = backup_run(&b->ctx, &t, &o, r, e);
	pthread_mutex_unlock(&backup_mu);
	if (rc == 0 && state_backup_put(b->p->state, env_id, r->id, b->ctx.now,
					r->manifest, reason,
					backup_stored_bytes(r->manifest),
					(long long)r->objects, e) < 0)
		rc = -1;
	/* Of kept data: it is the final backup its purge waits for. */
	if (rc == 0 && !env && recorded_deletion(&b->p->rec, env_id) &&
	    state_deletion_backup(b->p->state, env_id, r->id, e) < 0)
		rc = -1;
	return step_end(b, jid, rc, e);
}

int
backups_final(struct pass *p, const char *env_id, char id[40], struct err *e)
{
	struct backup_result r;
	struct backups b;
	int rc;

	id[0] = '\0';
	if (backups_open(&b, p, NULL, e) < 0)
		return -1;
	rc = state_lock_backups(p->state, e);
	if (rc == 0)
		rc = backups_run(&b, env_id, "final", &r, e);
	if (rc == 0) {
		snprintf(id, 40, "%s", r.id);
		json_decref(r.manifest);
	}
	backups_close(&b, NULL);
	return rc;
}

/* The backup a clone of env starts from: the one its interrupted clone
 * named, else the source's newest (or a fresh one). *resumed: the clone
 * record was there already. */
static int
clone_source(struct backups *b, const struct environment *env, const char *src,
	     int fresh, char **id, int *resumed, struct err *e)
{
	const struct rec_clone *rc = recorded_clone(&b->p->rec, env->id);
	const struct rec_backup *nb = recorded_backup(&b->p->rec, src);
	struct backup_result r;
	json_t *m = NULL, *pg;
	char *tables = NULL;
	int ret;

	*id = NULL;
	*resumed = 0;
	if (rc && !rc->done && strcmp(rc->source_env, src) == 0) {
		*id = xstrdup(rc->backup_id);
		*resumed = 1;
		return 0;
	}
	if (fresh || !nb) {
		if (backups_run(b, src, "clone", &r, e) < 0)
			return err_wrap(e,
					"cannot take a backup of '%s' to clone",
					src);
		*id = xstrdup(r.id);
		m = r.manifest;
	} else {
		*id = xstrdup(nb->newest_id);
		if ((ret = backup_manifest(&b->ctx, src, *id, &m, e)) != 0) {
			if (ret > 0)
				err_set(e, "backup %s of '%s' is gone", *id,
					src);
			return -1;
		}
	}
	pg = json_object_get(m, "postgres");
	tables = json_dumps(json_object_get(pg, "tables"), JSON_COMPACT);
	ret = state_clone_start(
		b->p->state, env->id, src, *id,
		json_string_value(json_object_get(pg, "fingerprint")),
		json_string_value(json_object_get(pg, "structure")), tables, e);
	free(tables);
	json_decref(m);
	return ret;
}

/*
 * The SQL that makes env's copy safe (clone/clone.h): its app profile's
 * neutralization, the Site's own, cloneFrom.anonymize, and their check.
 * The anonymization key is HMAC(master key, "anonymize:<platform>"): the
 * same values map to the same replacements in every clone of the
 * platform, and nobody without the master key can map them back.
 */
static int
clone_sql(const struct pass *p, const struct environment *env,
	  struct clone_sql *sql, struct err *e)
{
	const json_t *vars = json_object_get(env->spec, "env");
	const json_t *prefix = json_object_get(vars, "WORDPRESS_TABLE_PREFIX");
	char *salt = xmalloc(SHA256_HEX_LEN + 1), msg[300], *catchall;
	struct clone_opts o = {
		.app = env->app,
		.stage = stage_name(env->stage),
		.site_spec = json_object_get(env->site->doc->root, "spec"),
		.clone_from = json_object_get(env->spec, "cloneFrom"),
		.salt_hex = salt,
		.table_prefix = json_string_value(prefix),
	};
	int rc;

	snprintf(msg, sizeof(msg), "anonymize:%s", p->model->platform.name);
	hash_hmac_hex(salt, p->master_key, strlen(p->master_key), msg);
	/* WordPress's admin mail goes to an address that never resolves
	 * (RFC 6761 .invalid), one per environment. */
	catchall = xprintf("admin@%s-%s.invalid", env->site->name, env->name);
	o.catchall_email = catchall;
	rc = clone_sql_build(sql, &o, e);
	secret_free(salt);
	free(catchall);
	return rc;
}

int
backups_clone(struct pass *p, const char *env_id, struct err *e)
{
	const struct environment *env = model_find_env(p->model, env_id);
	json_t *cf = env ? json_object_get(env->spec, "cloneFrom") : NULL;
	struct restore_opts ro = { 0 };
	struct clone_sql sql = { 0 };
	struct backup_target t;
	struct backups b;
	char *src = NULL, *id = NULL;
	int rc, resumed = 0;

	if (!cf)
		return err_set(e, "environment '%s' declares no cloneFrom",
			       env_id);
	src = xprintf("%s/%s", env->site->name,
		      json_string_value(json_object_get(cf, "environment")));
	if (backups_open(&b, p, NULL, e) < 0) {
		free(src);
		return -1;
	}
	rc = state_lock_backups(p->state, e);
	if (rc == 0)
		rc = clone_source(&b, env, src,
				  json_is_true(json_object_get(cf, "fresh")),
				  &id, &resumed, e);
	if (rc == 0)
		rc = target(&b, env_id, &t, e);
	if (rc == 0)
		rc = clone_sql(p, env, &sql, e);
	if (rc == 0) {
		/* Resumed after its schema committed: the files are left. */
		ro.files_only = resumed &&
				live_find(&p->live, LIVE_SCHEMA, t.schema);
		ro.neutralize = sql.neutralize;
		ro.neutralize_check = sql.verify;
		rc = backup_restore(&b.ctx, src, id, &t, &ro, NULL, e);
	}
	clone_sql_release(&sql);
	if (rc == 0)
		rc = state_clone_done(p->state, env_id, e);
	if (rc < 0)
		err_wrap(e, "cannot clone '%s' into '%s'", src, env_id);
	backups_close(&b, NULL);
	free(src);
	free(id);
	return rc;
}

int
backups_verify(struct backups *b, const char *env_id, const char *id, int drill,
	       struct err *e)
{
	long long jid = step_begin(b, drill ? "restore-test" : "verify", id,
				   env_id);
	int rc = backup_verify(&b->ctx, env_id, id, drill, e);

	if (rc == 0)
		rc = state_backup_verified(b->p->state, env_id, id, drill, e);
	return step_end(b, jid, rc, e);
}

int
backups_prune(struct backups *b, const char *env_id, size_t *deleted,
	      struct err *e)
{
	const struct environment *env = model_find_env(b->p->model, env_id);
	const struct backup_policy *bp = backups_policy(b->p->model, env);
	json_t *ret = bp ? json_object_get(bp->spec, "retention") : NULL;
	struct retention r = {
		.daily = (int)json_integer_value(json_object_get(ret, "daily")),
		.weekly = (int)json_integer_value(
			json_object_get(ret, "weekly")),
		.monthly = (int)json_integer_value(
			json_object_get(ret, "monthly")),
	};
	struct backup_info *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	long long jid;
	int rc;

	*deleted = 0;
	if (!bp)
		return 0; /* no policy, no retention: everything stays */
	jid = step_begin(b, "prune", env_id, env_id);
	rc = backup_list(&b->ctx, env_id, &before, &nb, e);
	if (rc == 0)
		rc = backup_prune(&b->ctx, env_id, &r, deleted, e);
	if (rc == 0)
		rc = backup_list(&b->ctx, env_id, &after, &na, e);
	/* The catalog follows the manifests. */
	for (size_t i = 0; rc == 0 && i < nb; i++) {
		int kept = 0;

		for (size_t j = 0; j < na && !kept; j++)
			kept = strcmp(before[i].id, after[j].id) == 0;
		if (!kept)
			rc = state_backup_drop(b->p->state, env_id,
					       before[i].id, e);
	}
	backup_infos_free(before, nb);
	backup_infos_free(after, na);
	return step_end(b, jid, rc, e);
}

/* Restart the containers of env (each of its replicas). */
static int
restart(struct backups *b, const char *env_id, struct err *e)
{
	const struct model *m = b->p->model;
	void *h = NULL;
	int rc = 0;

	if (driver_docker.open(&h, &b->p->denv, e) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < m->nobjects; i++) {
		const struct live_object *o = &m->objects[i];
		struct driver_action a = { .op = OP_RESTART,
					   .kind = LIVE_CONTAINER,
					   .name = o->name };

		if (o->kind == LIVE_CONTAINER &&
		    strcmp(o->env->id, env_id) == 0)
			rc = driver_docker.apply(h, &a, e);
	}
	driver_docker.close(h);
	return rc;
}

int
backups_restore(struct backups *b, const char *src_env, const char *id,
		const char *to_env, char **kept, struct err *e)
{
	const struct environment *env = model_find_env(b->p->model, to_env);
	struct backup_target t;
	struct backup_result pre;
	char stamp[32], *keep = NULL;
	long long jid;
	int rc, exists;

	*kept = NULL;
	if (!env)
		return err_set(e,
			       "cannot restore into '%s': it is not declared; "
			       "add it and apply first",
			       to_env);
	if (target(b, to_env, &t, e) < 0)
		return -1;
	/* The live schema, if there is one, is kept aside; a backup of it
	 * first, so that nothing of it is lost whatever follows. */
	if (pgdump_exists(b->ctx.dsn, t.schema, &exists, e) < 0)
		return -1;
	{
		json_t *m = NULL;
		int has = backup_manifest(&b->ctx, src_env, id, &m, e);

		json_decref(m);
		if (has != 0) {
			if (has > 0)
				err_set(e,
					"there is no backup %s of '%s' (see "
					"pressctl backup list)",
					id, src_env);
			return -1;
		}
	}
	if (exists) {
		if (backups_run(b, to_env, "pre-restore", &pre, e) < 0) {
			err_wrap(e,
				 "cannot take the pre-restore backup of '%s'; "
				 "nothing was restored",
				 to_env);
			return -1;
		}
		json_decref(pre.manifest);
		backup_id_of(stamp, b->ctx.now);
		keep = xprintf("%s__pre_restore_%s", t.schema, stamp);
		/* lower case: the id's T and Z */
		for (char *c = keep; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	jid = step_begin(b, "restore", t.schema, to_env);
	/* The kept schema on record before it exists: a kill or failure
	 * after the swap leaves no schema unknown. Its purge, after the
	 * window, forgets the row whether or not the schema came to be. */
	rc = keep ? state_kept_schema(b->p->state, keep, to_env,
				      b->p->model->platform.soft_delete_days, e) :
		    0;
	if (rc == 0)
		rc = backup_restore(&b->ctx, src_env, id, &t,
				    &(struct restore_opts){ .keep_as = keep },
				    NULL, e);
	step_end(b, jid, rc, e);
	if (rc == 0) {
		jid = step_begin(b, "restart", to_env, to_env);
		rc = step_end(b, jid, restart(b, to_env, e), e);
	}
	if (rc == 0)
		*kept = keep;
	else
		free(keep);
	return rc;
}

/* --- schedules ------------------------------------------------------------- */

int
backups_due(struct backups *b, const char ***due, size_t *n, time_t *next,
	    struct err *e)
{
	const struct model *m = b->p->model;
	struct rec_backup *have = NULL;
	size_t nhave = 0, a = 0;

	*due = NULL;
	*n = 0;
	*next = 0;
	if (state_backups_newest(b->p->state, &have, &nhave, e) < 0)
		return -1;
	for (size_t i = 0; i < m->nenvs; i++) {
		const struct environment *env = &m->envs[i];
		const struct backup_policy *bp = backups_policy(m, env);
		struct cron c;
		char msg[128];
		time_t fired, nx, newest = 0;

		if (!bp || cron_parse(&c, bp->schedule, msg, sizeof(msg)) < 0)
			continue;
		for (size_t j = 0; j < nhave; j++)
			if (strcmp(have[j].env_id, env->id) == 0)
				newest = have[j].newest;
		fired = cron_prev(&c, b->ctx.now);
		if (fired > 0 && newest < fired) {
			xgrow(due, &a, *n + 1, sizeof(**due));
			(*due)[(*n)++] = env->id;
		}
		nx = cron_next(&c, b->ctx.now);
		if (nx > 0 && (!*next || nx < *next))
			*next = nx;
	}
	rec_backups_free(have, nhave);
	return 0;
}
