/*
 * record.c - lookups in what pressctl recorded (see record.h).
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

static int
res_cmp(const void *a, const void *b)
{
	const struct rec_resource *x1 = a, *y1 = b;

	if (x1->kind != y1->kind)
		return x1->kind < y1->kind ? -1 : 1;
	return strcmp(x1->name, y1->name);
}

static int
del_cmp(const void *a, const void *b)
{
	const struct rec_deletion *x1 = a, *y1 = b;

	return strcmp(x1->env_id, y1->env_id);
}

static int
foreign_cmp(const void *a, const void *b)
{
	const struct rec_foreign *x = a, *y = b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((c = strcmp(x->name, y->name)))
		return c;
	return strcmp(x->platform, y->platform);
}

void
recorded_sort(struct recorded *r)
{
	if (r->nres > 1)
		qsort(r->res, r->nres, sizeof(*r->res), res_cmp);
	if (r->ndel > 1)
		qsort(r->del, r->ndel, sizeof(*r->del), del_cmp);
	if (r->nforeign > 1)
		qsort(r->foreign, r->nforeign, sizeof(*r->foreign),
		      foreign_cmp);
}

void
recorded_release(struct recorded *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nres; i++) {
		free(r->res[i].name);
		free(r->res[i].env_id);
		free(r->res[i].spec_hash);
		free(r->res[i].spec);
		free(r->res[i].revision);
		free(r->res[i].stage);
	}
	for (size_t i = 0; i < r->ndel; i++) {
		free(r->del[i].env_id);
		free(r->del[i].schema);
		free(r->del[i].role);
		free(r->del[i].bucket);
		free(r->del[i].final_backup);
		free(r->del[i].stage);
	}
	for (size_t i = 0; i < r->nrollouts; i++) {
		free(r->rollouts[i].name);
		free(r->rollouts[i].spec_hash);
		free(r->rollouts[i].error);
	}
	for (size_t i = 0; i < r->nports; i++)
		free(r->ports[i].owner);
	for (size_t i = 0; i < r->nintents; i++) {
		free(r->intents[i].action);
		free(r->intents[i].target);
	}
	rec_backups_free(r->backups, r->nbackups);
	for (size_t i = 0; i < r->nclones; i++) {
		free(r->clones[i].env_id);
		free(r->clones[i].source_env);
		free(r->clones[i].backup_id);
	}
	free(r->clones);
	for (size_t i = 0; i < r->nkept; i++) {
		free(r->kept[i].schema);
		free(r->kept[i].env_id);
	}
	free(r->kept);
	for (size_t i = 0; i < r->nforeign; i++) {
		free(r->foreign[i].name);
		free(r->foreign[i].platform);
		free(r->foreign[i].env_id);
	}
	free(r->foreign);
	free(r->res);
	free(r->del);
	free(r->rollouts);
	free(r->ports);
	free(r->intents);
	memset(r, 0, sizeof(*r));
}

const struct rec_resource *
recorded_find(const struct recorded *r, enum live_kind kind, const char *name)
{
	struct rec_resource key = { .kind = kind, .name = (char *)name };

	return r->nres ? bsearch(&key, r->res, r->nres, sizeof(*r->res),
				 res_cmp) :
			 NULL;
}

/* kind+name only: every platform's row of one object compares equal. */
static int
foreign_key_cmp(const void *a, const void *b)
{
	const struct rec_foreign *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

const struct rec_foreign *
recorded_foreign(const struct recorded *r, enum live_kind kind,
		 const char *name)
{
	struct rec_foreign key = { .kind = kind, .name = (char *)name };
	const struct rec_foreign *f;

	if (!r->nforeign)
		return NULL;
	f = bsearch(&key, r->foreign, r->nforeign, sizeof(*r->foreign),
		    foreign_key_cmp);
	while (f && f > r->foreign && foreign_key_cmp(f - 1, &key) == 0)
		f--; /* the first platform's, by name */
	return f;
}

const struct rec_deletion *
recorded_deletion(const struct recorded *r, const char *env_id)
{
	struct rec_deletion key = { .env_id = (char *)env_id };

	return r->ndel ? bsearch(&key, r->del, r->ndel, sizeof(*r->del),
				 del_cmp) :
			 NULL;
}

void
rec_backups_free(struct rec_backup *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].env_id);
		free(v[i].newest_id);
	}
	free(v);
}

const struct rec_backup *
recorded_backup(const struct recorded *r, const char *env_id)
{
	for (size_t i = 0; i < r->nbackups; i++)
		if (strcmp(r->backups[i].env_id, env_id) == 0)
			return &r->backups[i];
	return NULL;
}

const struct rec_clone *
recorded_clone(const struct recorded *r, const char *env_id)
{
	for (size_t i = 0; i < r->nclones; i++)
		if (strcmp(r->clones[i].env_id, env_id) == 0)
			return &r->clones[i];
	return NULL;
}
