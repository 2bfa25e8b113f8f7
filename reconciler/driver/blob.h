/*
 * blob.h - objects in the object store (S3), for what works on files
 * rather than on buckets: backups and restores. The core reaches S3 only
 * through the drivers; this is the S3 driver's second face (s3_objects.c).
 *
 * A struct blob is one connection; use it from one thread. Errors set
 * err.transient as driver.h says (connection trouble, 5xx, 429).
 * Everything streams: an object of any size goes through a fixed-size
 * buffer, never whole into memory.
 */
#ifndef PRESS_BLOB_H
#define PRESS_BLOB_H

#include <stddef.h>

#include "driver.h"

struct blob;

int blob_open(struct blob **out, const struct driver_env *env, struct err *e);
void blob_close(struct blob *b); /* accepts NULL */

/* Receives data in pieces; 0 to go on, -1 to stop (e set). */
typedef int (*blob_sink)(void *arg, const void *data, size_t len,
			 struct err *e);

/*
 * Make sure bucket exists and carries the platform's ownership mark
 * (created if missing; an unmarked one is marked only when it holds
 * nothing); one marked by another platform, or unmarked with objects,
 * is an error.
 */
int blob_bucket_ensure(struct blob *b, const char *bucket, struct err *e);

/* Store data (len bytes, in memory) as bucket/key. */
int blob_put(struct blob *b, const char *bucket, const char *key,
	     const void *data, size_t len, struct err *e);

/* Size and ETag of bucket/key: 0, 1 when it does not exist, -1 error.
 * etag (may be NULL) gets the header's value, quotes kept. */
int blob_head(struct blob *b, const char *bucket, const char *key,
	      long long *size, char etag[96], struct err *e);

/* The object's bytes to sink, in pieces: 0, 1 when it does not exist,
 * -1 error (the sink's, or the transfer's). */
int blob_get(struct blob *b, const char *bucket, const char *key,
	     blob_sink sink, void *arg, struct err *e);

/* Every key under prefix, in key order, with its size and ETag ("" if
 * none): each() returns 0 to go on, -1 to stop. 0, 1 when the bucket
 * does not exist, -1 error. */
int blob_list(struct blob *b, const char *bucket, const char *prefix,
	      int (*each)(void *arg, const char *key, long long size,
			  const char *etag, struct err *e),
	      void *arg, struct err *e);

/* Delete bucket/key; a missing one is success. */
int blob_delete(struct blob *b, const char *bucket, const char *key,
		struct err *e);

/*
 * A streaming upload (S3 multipart): write any amount in any pieces;
 * parts of BLOB_PART_SIZE go out as they fill, sent by a thread of the
 * upload (on a connection of its own) while the caller's writes fill the
 * next one, so memory stays at three parts at most and a write waits
 * only when two full parts are still unsent. A part that failed to send
 * fails the next write, or finish, with its error. finish completes the
 * object; until then nothing is visible under the key. abort waits for
 * the part in flight, then drops the parts: when the server cannot abort
 * uploads (s3rver answers 405), it returns 1 and *left gets the upload id
 * the caller must record (a new string, free() it). Both free u. The
 * upload is used from the thread that began it, like its struct blob.
 */
#define BLOB_PART_SIZE ((size_t)8 << 20)

struct blob_upload;

int blob_upload_begin(struct blob *b, const char *bucket, const char *key,
		      struct blob_upload **out, struct err *e);
int blob_upload_write(struct blob_upload *u, const void *data, size_t len,
		      struct err *e);
int blob_upload_finish(struct blob_upload *u, long long *size, struct err *e);
int blob_upload_abort(struct blob_upload *u, char **left, struct err *e);
/* Abort upload id of bucket/key by its id (one a dead process left): 0
 * aborted or gone already, 1 the server cannot abort uploads, -1 error. */
int blob_abort_upload(struct blob *b, const char *bucket, const char *key,
		      const char *id, struct err *e);
/* The upload's id (borrowed), to record before anything can fail. */
const char *blob_upload_id(const struct blob_upload *u);

#endif
