/*
 * internal.h - what the files of backup/ share: keys in the backups
 * bucket, the manifest's fields, and the byte pipelines (hash, encrypt,
 * upload, read back).
 */
#ifndef PRESS_BACKUP_INTERNAL_H
#define PRESS_BACKUP_INTERNAL_H

#include <stddef.h>

#include "backup.h"
#include "../driver/blob.h"
#include "../util/hash.h"

#define BACKUP_FORMAT "pressctl-backup/1"
#define BACKUP_CIPHER "aes-256-gcm-chunked/1"
#define SMALL_OBJECT ((size_t)8 << 20) /* files read into memory whole */

/* "<site>/<env>/<id>/<leaf>": a new string. */
char *backup_key(const char *env_id, const char *id, const char *leaf);

/* The key of a file blob: "cas/<blob>". blob = the plaintext's SHA-256,
 * or with a key HMAC-SHA256(key, "blob:" + SHA-256) so that a stored name
 * says nothing about the plaintext. out: 4 + 64 + 1 bytes. */
void backup_blob_key(char out[72], const struct crypt_key *k,
		     const char *sha256);

/* The key the manifest names (keyId), among c->keys; NULL if none. */
const struct crypt_key *backup_find_key(const struct backup_ctx *c,
					const char *id);

/* time <-> "2026-12-05T02:00:00Z". */
void backup_time_text(char out[32], time_t t);
int backup_parse_time(const char *s, time_t *out);

/*
 * A reader of stored objects: GET bucket/key, hash the stored bytes, and
 * (when k is given) decrypt them into sink, which then receives the
 * plaintext (hashed too); without k, sink (may be NULL) receives the
 * stored bytes. Then check what the caller expects (NULL/-1: unchecked):
 * stored size and SHA-256, plaintext SHA-256. Errors name the object:
 * missing, truncated, changed.
 */
struct backup_expect {
	long long size;
	const char *sha256;	  /* of the stored bytes */
	const char *plain_sha256; /* of the plaintext (with a key) */
	/* out: what was read */
	long long got_size;
	char got_sha256[65];
};

int backup_read(struct blob *b, const char *bucket, const char *key,
		const struct crypt_key *k, blob_sink sink, void *arg,
		struct backup_expect *x, struct err *e);

/*
 * A manifest object's bytes (untrusted: what the backups bucket holds;
 * tests/fuzz/fuzz_backup_manifest.c) into *out, a new reference: a JSON
 * object whose format is BACKUP_FORMAT, or -1 with *out NULL and e
 * naming key.
 */
int backup_manifest_parse(json_t **out, const char *key, const void *buf,
			  size_t len, struct err *e);

/* The catalog entry of a parsed manifest m (stolen: in->manifest);
 * absent or mistyped fields become "", 0. backup_infos_free frees it. */
void backup_info_from_manifest(struct backup_info *in, json_t *m);

#endif
