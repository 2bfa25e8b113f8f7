/*
 * backups.h - backups, verification, retention and restores as the
 * commands and the watcher run them: environments resolved from the
 * model (or, once soft-deleted, from their deletion record), the policy
 * that covers each, the encryption keys the policies name, the
 * platform's backup lock, and the catalog and journal in the state.
 * The data work is backup/'s.
 */
#ifndef PRESS_APPLY_BACKUPS_H
#define PRESS_APPLY_BACKUPS_H

#include "apply.h"
#include "../backup/backup.h"

struct backups {
	struct pass *p;		/* borrowed; opened with pass_open */
	struct crypt_key *keys; /* one per policy with encrypt.key */
	size_t nkeys;
	char *bucket; /* <prefix>-backups */
	struct backup_ctx ctx;
	long long run_id; /* the journal's run, 0 when none */
	/* Multipart uploads the server could not abort (s3rver cannot):
	 * recorded in pressctl.uploads as "left"; the caller says so. */
	int uploads_left;
};

/*
 * Resolve the policies' keys (a missing secret is an error naming the
 * policy), take the backup lock (waits for another backup, prune or
 * restore of the platform), begin a run named command in the journal,
 * and abort the multipart uploads that dead runs left (those the server
 * cannot abort stay recorded, counted in uploads_left). The state must
 * be open (pass_open). command NULL: the keys and context only.
 */
int backups_open(struct backups *b, struct pass *p, const char *command,
		 struct err *e);
/* End the run with status ("ok", "failed") and release. */
void backups_close(struct backups *b, const char *status);

/* The policy covering env (the first by name that selects it), or NULL. */
const struct backup_policy *backups_policy(const struct model *m,
					   const struct environment *env);

/*
 * How env's backups stand against its policy's maxAgeHours: have (n
 * rows from state_backups_newest) gives its newest backup and drill.
 * An environment with a limit and no backup at all is stale.
 */
struct backup_health {
	int covered;	      /* a policy selects env */
	double max_age_hours; /* 0: no limit */
	time_t newest, drill; /* 0: none */
	int stale;
};
void backups_health(const struct model *m, const struct environment *env,
		    const struct rec_backup *have, size_t n, time_t now,
		    struct backup_health *h);

/* Back up env_id now (declared, or soft-deleted); the result is
 * recorded in the catalog and the journal. */
int backups_run(struct backups *b, const char *env_id, const char *reason,
		struct backup_result *r, struct err *e);

/*
 * The verified final backup of env_id before its soft delete, from a
 * worker of an apply: the backup lock is taken on the state's session
 * (held until it closes), the catalog written. id: the backup's id.
 */
int backups_final(struct pass *p, const char *env_id, char id[40],
		  struct err *e);

int backups_verify(struct backups *b, const char *env_id, const char *id,
		   int drill, struct err *e);

/*
 * Create env_id's schema and files as a copy of its cloneFrom source,
 * from an apply's worker (the backup lock on the state's session): from
 * the backup its clone record names when a clone was interrupted, else
 * the source's newest backup, or a fresh one (cloneFrom.fresh, or when
 * the source has none). The clone record is written before anything
 * else; the schema is neutralized and checked in the restore's
 * transaction, before any grant. The source is only read.
 */
int backups_clone(struct pass *p, const char *env_id, struct err *e);

/* GFS retention by env's policy; an environment without one keeps
 * every backup. */
int backups_prune(struct backups *b, const char *env_id, size_t *deleted,
		  struct err *e);

/*
 * Restore backup id of src_env into to_env (declared and applied): a
 * pre-restore backup of to_env first when it has data, the schema
 * swapped in one transaction (the replaced one kept as
 * <schema>__pre_restore_<ts> for safety.softDeleteDays), the files, then
 * its containers restarted. *kept: the kept schema's name (new string)
 * or NULL.
 */
int backups_restore(struct backups *b, const char *src_env, const char *id,
		    const char *to_env, char **kept, struct err *e);

/*
 * The environments whose policy's schedule fired since their newest
 * backup (a window missed while no watcher ran counts once), as a new
 * array of borrowed ids; *next: the next time a schedule fires (0 none).
 */
int backups_due(struct backups *b, const char ***due, size_t *n, time_t *next,
		struct err *e);

#endif
