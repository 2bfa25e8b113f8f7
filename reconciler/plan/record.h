/*
 * record.h - what pressctl recorded of a platform: the types the state
 * store (apply/state.c) reads from schema "pressctl" and the plan builds
 * on, with their lookups. Plain data; no database here.
 */
#ifndef PRESS_RECORD_H
#define PRESS_RECORD_H

#include <stddef.h>
#include <time.h>

#include "../manifest/manifest.h"

struct rec_resource {
	enum live_kind kind;
	char *name;
	char *env_id; /* "site/env" */
	char *spec_hash;
	char *revision;
	time_t created_at, applied_at;
	int marked; /* the object carries the platform's mark */
	char *stage; /* its environment's stage when applied, or NULL */
	char *spec;  /* the spec last applied (JSON; secret references, never
		      * values), or NULL: applied before state version 9 */
};

/* Another platform's resources row for a name this platform wants or
 * records: the object is that platform's, a conflict. */
struct rec_foreign {
	enum live_kind kind;
	char *name, *platform, *env_id;
};

struct rec_deletion {
	char *env_id;
	char *schema, *role, *bucket; /* the data kept */
	time_t deleted_at, purge_after;
	char *final_backup; /* its verified final backup's id, or NULL */
	char *stage;	    /* "preview": an expired preview's tombstone */
};

/* Per environment with backups: the newest, and when one was last
 * verified and restore-tested (0: never). */
struct rec_backup {
	char *env_id, *newest_id;
	time_t newest, verified, drill;
	int count;
};

/* An environment created as a copy of another (cloneFrom): the backup it
 * was made from; done once its schema and files are in place. */
struct rec_clone {
	char *env_id, *source_env, *backup_id;
	int done;
	time_t started_at;
};

struct rec_kept { /* a schema a restore replaced, kept for a while */
	char *schema, *env_id;
	time_t purge_after;
};

struct rec_rollout { /* a failed container rollout */
	char *name, *spec_hash, *error;
	int failures;
	time_t next_retry_at;
};

struct rec_port {
	char *owner; /* container name */
	int slot;    /* 0 or 1 */
	int port;
};

struct rec_intent { /* journal rows left at "intent" by a crash */
	long long id, run_id;
	char *action, *target;
	time_t started_at;
};

struct recorded {
	struct rec_resource *res;
	size_t nres;
	struct rec_deletion *del;
	size_t ndel;
	struct rec_rollout *rollouts;
	size_t nrollouts;
	struct rec_port *ports;
	size_t nports;
	struct rec_intent *intents;
	size_t nintents;
	struct rec_foreign *foreign; /* state_read_foreign; by kind+name */
	size_t nforeign;
	struct rec_kept *kept; /* by schema name */
	size_t nkept;
	struct rec_backup *backups; /* by env id */
	size_t nbackups;
	struct rec_clone *clones; /* by env id */
	size_t nclones;
};

/* Sort res by kind+name, del by env id, foreign by kind+name+platform:
 * what the lookups below need. */
void recorded_sort(struct recorded *r);

/* Frees what state_read() filled (accepts NULL); r is zeroed. */
void recorded_release(struct recorded *r);
void rec_backups_free(struct rec_backup *v, size_t n);

/* The newest backup of env_id, or NULL; its clone record, or NULL. */
const struct rec_backup *recorded_backup(const struct recorded *r,
					 const char *env_id);
const struct rec_clone *recorded_clone(const struct recorded *r,
				       const char *env_id);
/* Binary searches: res must be sorted by kind+name, del by env id. */
const struct rec_resource *recorded_find(const struct recorded *r,
					 enum live_kind kind, const char *name);
const struct rec_deletion *recorded_deletion(const struct recorded *r,
					     const char *env_id);
/* The first other platform's row for kind+name, or NULL. */
const struct rec_foreign *recorded_foreign(const struct recorded *r,
					   enum live_kind kind,
					   const char *name);

#endif
