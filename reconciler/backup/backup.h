/*
 * backup.h - backups of environments, their verification, retention and
 * restore (docs/backup.md). This subsystem moves data: it reaches
 * PostgreSQL and S3 only through the drivers (driver/pgdump.h,
 * driver/blob.h) and keeps no state of its own: the S3 manifests are the
 * truth, the caller mirrors them in its catalog.
 *
 * Layout in the platform's backups bucket (<prefix>-backups):
 *   <site>/<env>/<id>/database       the schema's pg_dump -Fc (encrypted
 *                                     when the policy says so)
 *   <site>/<env>/<id>/manifest.json  written last: a backup exists only
 *                                     once its manifest does
 *   cas/<blob>                        the environment bucket's files,
 *                                     content-addressed and shared by
 *                                     every backup that holds them
 * An id is the backup's UTC time, 20261205T020000Z (-2, -3 when taken
 * within the same second).
 */
#ifndef PRESS_BACKUP_H
#define PRESS_BACKUP_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "crypt.h"
#include "retention.h"
#include "../driver/driver.h"

/* What every operation needs; all borrowed. */
struct backup_ctx {
	const struct driver_env *denv; /* the backends, secrets resolved */
	const char *platform;
	const char *dsn;      /* the platform database (secret) */
	const char *bucket;   /* the backups bucket */
	const char *revision; /* of the source, for the manifest */
	time_t now;
	const struct crypt_key *keys; /* every key the policies name */
	size_t nkeys;
};

/* The live names of one environment. */
struct backup_target {
	const char *env_id; /* "site/env" */
	const char *schema, *role, *bucket;
};

struct backup_opts {
	const char *policy;	     /* the policy's name, or NULL */
	const char *reason;	     /* "manual", "scheduled", "final",
			     * "pre-restore" */
	const struct crypt_key *key; /* encrypt with it, or NULL */
	int files;		     /* back up the bucket's files too */
	/* Called with each multipart upload id before its first part, so
	 * that a crash leaves it on record (may be NULL). */
	void (*upload_started)(void *arg, const char *bucket, const char *key,
			       const char *id);
	void (*upload_ended)(void *arg, const char *id, int left);
	void *arg;
};

struct backup_result {
	char id[40];
	json_t *manifest; /* the manifest written (new reference) */
	long long bytes;  /* stored by this run */
	size_t objects, new_objects;
};

/*
 * Back up t: the schema (pg_dump -Fc, in a snapshot shared with the row
 * counts and checksums the manifest records) streamed into a multipart
 * upload, optionally encrypted, SHA-256 computed on the way; then the
 * bucket's files, content-addressed: a file unchanged since the previous
 * backup (same key, size and ETag) is not read again, and a blob already
 * stored is not stored again. Everything this run stored is read back
 * and its size and hash checked before the manifest is written. On
 * failure the uploads are aborted (those the server cannot abort are
 * reported through upload_ended(left = 1)) and no manifest exists.
 */
int backup_run(const struct backup_ctx *c, const struct backup_target *t,
	       const struct backup_opts *o, struct backup_result *r,
	       struct err *e);

/* Abort the multipart upload id of bucket/key that a dead run left: 0
 * aborted (or gone already), 1 the server cannot abort uploads, -1
 * error. */
int backup_abort_upload(const struct backup_ctx *c, const char *bucket,
			const char *key, const char *id, struct err *e);

struct backup_info {
	char *id, *env_id;
	time_t time;
	int encrypted;
	long long bytes; /* stored: dump + the files' blobs */
	size_t objects;	 /* files */
	json_t *manifest;
};

/* The backups of env_id (NULL: every environment), newest first: *out a
 * new array (backup_infos_free). */
int backup_list(const struct backup_ctx *c, const char *env_id,
		struct backup_info **out, size_t *n, struct err *e);
void backup_infos_free(struct backup_info *v, size_t n);

/*
 * Re-read every object of backup id of env_id and check its size and
 * hash (decrypting when a key is known, which also checks the plaintext
 * hashes). With restore_test, restore the dump into a scratch schema,
 * compare row counts and checksums with the manifest, and roll it back.
 * Errors name the object.
 */
int backup_verify(const struct backup_ctx *c, const char *env_id,
		  const char *id, int restore_test, struct err *e);

/*
 * GFS retention of env_id's backups: delete the manifests retention_keep
 * does not keep (the newest good backup always stays), then their dumps,
 * then every blob of cas/ that no remaining manifest of any environment
 * references. *deleted: backups deleted.
 */
int backup_prune(const struct backup_ctx *c, const char *env_id,
		 const struct retention *r, size_t *deleted, struct err *e);

struct restore_opts {
	const char *keep_as; /* the current schema's new name, or NULL when
			      * there is none (driver/pgdump.h) */
	/* A clone's neutralization and its check (driver/pgdump.h), run in
	 * the restore's transaction before any grant; NULL: none. */
	const char *neutralize, *neutralize_check;
	int files_only; /* the schema is in place (a clone resumed) */
};

/*
 * Restore backup id of src_env into `to`: the schema in one transaction
 * (driver/pgdump.h: the current schema renamed to keep_as when it
 * exists, the restored copy verified, neutralized when asked, then
 * committed), then the files (verified on the way; objects of the
 * bucket that the backup does not hold are deleted). Never in place: a
 * failure leaves the old schema. *manifest (may be NULL): the backup's
 * manifest (a new reference).
 */
int backup_restore(const struct backup_ctx *c, const char *src_env,
		   const char *id, const struct backup_target *to,
		   const struct restore_opts *ro, json_t **manifest,
		   struct err *e);

/* The id of a backup taken at t: "20261205T020000Z". */
void backup_id_of(char out[32], time_t t);

/* Stored bytes of a manifest: its dump and its files' blobs. */
long long backup_stored_bytes(json_t *manifest);

/* The manifest of backup id of env_id (new reference): 0, 1 when there
 * is none, -1 error. */
int backup_manifest(const struct backup_ctx *c, const char *env_id,
		    const char *id, json_t **out, struct err *e);

#endif
