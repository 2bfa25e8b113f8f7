/*
 * state.h - pressctl's own state, in schema "pressctl" of the platform
 * database (docs/design.md §4): what was applied (resources), the audit trail
 * (runs, journal), port allocations, soft deletions, failed rollouts.
 * Rows carry the platform name, so several platforms may share one
 * database. The schema is created and migrated by state_open (versioned
 * migrations, serialized across processes with an advisory lock).
 *
 * One connection per struct state; every function is safe to call from
 * several threads (an internal mutex serializes them).
 */
#ifndef PRESS_STATE_H
#define PRESS_STATE_H

#include <time.h>

#include <jansson.h>

#include "../manifest/manifest.h"
#include "../plan/record.h"
#include "../util/err.h"

struct state;

/*
 * Connect (dsn borrowed, never printed), create/migrate schema pressctl,
 * and remember platform and actor ("user@host pid N") for the rows it
 * writes. Connection failures are transient errors.
 */
int state_open(struct state **out, const char *dsn, const char *platform,
	       const char *actor, struct err *e);
void state_close(struct state *st); /* releases the lock; accepts NULL */

/*
 * Take the platform's apply lock (pg advisory lock on a hash of the
 * platform name, held by this connection until state_close). With wait,
 * block until it is free. Returns 0 when held, 1 when another process
 * holds it (e then says who: application name, pid, host, since when),
 * -1 on error.
 */
int state_lock(struct state *st, int wait, struct err *e);

/* Everything recorded for the platform (plan/record.h), sorted by
 * kind+name / env id. */
int state_read(struct state *st, struct recorded *out, struct err *e);

/*
 * Rows of other platforms (sharing this database) for the names[kind]
 * (borrowed, n[kind] each) into out->foreign, replacing what it held.
 */
int state_read_foreign(struct state *st, const char *const *names[LIVE_NKINDS],
		       const size_t n[LIVE_NKINDS], struct recorded *out,
		       struct err *e);

/* Runs: status is "running" at begin; "ok", "failed", "refused" or
 * "interrupted" at end. summary (borrowed) is stored as jsonb. */
int state_run_begin(struct state *st, const char *revision, const char *command,
		    long long *run_id, struct err *e);
int state_run_end(struct state *st, long long run_id, const char *status,
		  json_t *summary, struct err *e);

/* The journal: intent before an action, outcome after. outcome is
 * "done", "failed" or "skipped"; error may be NULL. */
int state_journal_begin(struct state *st, long long run_id,
			const char *revision, const char *action,
			enum live_kind kind, const char *target,
			const char *env_id, const char *spec_hash,
			long long *journal_id, struct err *e);
int state_journal_end(struct state *st, long long journal_id,
		      const char *outcome, const char *error, int attempts,
		      struct err *e);

/* Last-applied spec per live object (upsert keeps created_at): its hash
 * and the spec itself (borrowed; secret references, never values; NULL
 * records none), with the stage of its environment ("preview", ...;
 * borrowed). */
int state_resource_put(struct state *st, enum live_kind kind, const char *name,
		       const char *env_id, const char *spec_hash,
		       const json_t *spec, const char *revision,
		       const char *stage, struct err *e);
int state_resource_drop(struct state *st, enum live_kind kind, const char *name,
			struct err *e);

/* Soft deletions: purge_after = now + days. stage (borrowed, may be
 * NULL) is the environment's: "preview" makes the row the tombstone of
 * an expired preview (days 0). */
int state_deletion_put(struct state *st, const char *env_id, const char *schema,
		       const char *role, const char *bucket, int days,
		       const char *stage, struct err *e);
int state_deletion_drop(struct state *st, const char *env_id, struct err *e);

/*
 * The two host ports of a container (blue/green slots), allocated once
 * from [from, to] and stable afterwards. A claim skips every platform's
 * allocations (host ports belong to the machine), ports set aside by
 * state_port_hold, and busy[0..nbusy): the ports published on the engine
 * (observed). Claims are serialized across processes and platforms.
 */
int state_ports(struct state *st, const char *owner, const char *env_id,
		int from, int to, const int *busy, size_t nbusy, int out[2],
		struct err *e);
/* A port found taken by something else when owner's container started:
 * set aside for an hour and taken from owner (reason borrowed). */
int state_port_hold(struct state *st, const char *owner, int port,
		    const char *reason, struct err *e);
/* An adopted container's published port becomes its slot 0, unless the
 * port or the slot is allocated already. */
int state_ports_adopt(struct state *st, const char *owner, const char *env_id,
		      int port, struct err *e);
int state_ports_release(struct state *st, const char *owner, struct err *e);

/* Failed rollouts: failures++, next_retry_at = now + min(2^failures
 * minutes, 6 h). Cleared when a rollout of the container succeeds. */
int state_rollout_failed(struct state *st, const char *name,
			 const char *spec_hash, const char *error,
			 struct err *e);
int state_rollout_clear(struct state *st, const char *name, struct err *e);

/*
 * Certificates of routes with `tls: selfsigned` (name: the route's live
 * name). get: the PEM certificate and the sealed key (new strings), both
 * NULL when none is recorded. put replaces it (the key sealed by the
 * caller: tls/tls.h); drop forgets it.
 */
int state_cert_get(struct state *st, const char *name, char **cert_pem,
		   char **key_sealed, struct err *e);
int state_cert_put(struct state *st, const char *name, const char *env_id,
		   const char *cert_pem, const char *key_sealed,
		   const char *serial, time_t not_after, struct err *e);
int state_cert_drop(struct state *st, const char *name, struct err *e);

/* Mark journal intents of runs that are no longer running (crashed) as
 * seen, closing those runs as "interrupted"; returns how many. */
int state_close_interrupted(struct state *st, int *count, struct err *e);

/* --- backups (docs/backup.md) ------------------------------------------- */

/* A backup mirrored into the catalog (id: the backup's own id). */
int state_backup_put(struct state *st, const char *env_id, const char *id,
		     time_t when, json_t *manifest, const char *reason,
		     long long bytes, long long objects, struct err *e);
/* Verified now (and restore-tested, with drill). */
int state_backup_verified(struct state *st, const char *env_id,
			  const char *id, int drill, struct err *e);
int state_backup_drop(struct state *st, const char *env_id, const char *id,
		      struct err *e);

/* Per environment with backups (struct rec_backup, plan/record.h). */
int state_backups_newest(struct state *st, struct rec_backup **out, size_t *n,
			 struct err *e);
void rec_backups_free(struct rec_backup *v, size_t n);

/* Multipart uploads of backups: recorded before their first part, forgotten
 * when completed or aborted, kept as "left" when the server could not
 * abort them (the operator removes them). */
int state_upload_open(struct state *st, const char *bucket, const char *key,
		      const char *id, struct err *e);
int state_upload_end(struct state *st, const char *id, int left,
		     struct err *e);
struct rec_upload {
	char *bucket, *key, *id;
	int left; /* "left": the server could not abort it */
};
/* Every recorded upload of the platform, oldest first; under the backup
 * lock none of them belongs to a live run. */
int state_uploads(struct state *st, struct rec_upload **out, size_t *n,
		  struct err *e);
void rec_uploads_free(struct rec_upload *v, size_t n);

/* The verified final backup of a soft-deleted environment. */
int state_deletion_backup(struct state *st, const char *env_id,
			  const char *id, struct err *e);
/* A schema a restore replaced, kept for days (recorded before the swap:
 * a row whose schema never came to be is forgotten by its purge); and
 * forgotten, once purged or when the restore failed. */
int state_kept_schema(struct state *st, const char *schema, const char *env_id,
		      int days, struct err *e);
int state_kept_forget(struct state *st, const char *schema, struct err *e);

/* A clone (struct rec_clone): started with the backup it is made from
 * and what the source looked like then (fingerprint, structure, and its
 * tables' rows and checksums as JSON; each may be NULL) before anything
 * is written; done once its schema and files are in place. */
int state_clone_start(struct state *st, const char *env_id,
		      const char *source_env, const char *backup_id,
		      const char *fingerprint, const char *structure,
		      const char *tables_json, struct err *e);
int state_clone_done(struct state *st, const char *env_id, struct err *e);
/* Forget the clone record of an environment whose data is gone, so that
 * one declared again under its name is cloned again. */
int state_clone_forget(struct state *st, const char *env_id, struct err *e);

/* The summary of the last promotion into env_id that wrote its commit
 * (promote --commit; a new reference), or *out NULL when none. */
int state_last_promotion(struct state *st, const char *env_id, json_t **out,
			 struct err *e);

/* What a done clone of env_id recorded of its source (found 0: none). */
struct clone_detail {
	int found;
	char *fingerprint, *structure;
	json_t *tables; /* [{"name", "rows", "checksum"}] */
	time_t done_at;
};
int state_clone_detail(struct state *st, const char *env_id,
		       struct clone_detail *out, struct err *e);
void clone_detail_release(struct clone_detail *d);

/*
 * The structure of env_id's schema as the last apply that touched the
 * environment left it (migration 8): its fingerprint, since when it has
 * been that one, and when it was last confirmed. Recording the same
 * fingerprint again keeps since.
 */
struct rec_structure {
	int found;
	char fingerprint[65];
	time_t since, recorded_at;
};
int state_record_structure(struct state *st, const char *env_id,
			   const char *fingerprint, long long run_id,
			   struct err *e);
int state_structure(struct state *st, const char *env_id,
		    struct rec_structure *out, struct err *e);

/* The platform's backup lock (a session advisory lock, held until
 * state_close): one backup, prune or restore at a time per platform,
 * so that a prune never collects the blobs of a backup in progress. */
int state_lock_backups(struct state *st, struct err *e);

/* --- history (the dashboard, status) --------------------------------------- */

/*
 * What the platform's runs and journal recorded, newest first, as a new
 * JSON object (docs/dashboard.md; schema/api-runs.schema.json and
 * schema/api-journal.schema.json describe its parts):
 *   "runs":       the newest nruns runs: id, command, status, revision,
 *                 actor, startedAt, finishedAt (Unix seconds or null) and
 *                 done/failed/skipped from the summary of apply runs;
 *   "journal":    the newest njournal journal rows: id, run, action, kind,
 *                 target, environment, state, error, attempts, startedAt,
 *                 finishedAt;
 *   "errors":     the newest njournal rows that failed or were skipped;
 *   "lastReconcile": the newest apply run that ended, or null;
 *   "promotions": {env id: the newest promotion run into it with a
 *                 verdict: at, status, from, allowed, commit, guards
 *                 [{name, pass}]}.
 * Nothing in it is a secret: runs and the journal never hold one.
 */
int state_history(struct state *st, int nruns, int njournal, json_t **out,
		  struct err *e);

#endif
