/*
 * restore.c - a backup back into an environment (backup_restore).
 *
 * The schema goes through driver/pgdump.h's one-transaction restore: the
 * live schema is renamed to keep_as, the dump restored, handed to the
 * environment's role, marked, verified against the manifest's row counts
 * and checksums, and only then committed. The dump's hashes (stored and,
 * with the key, plaintext) are checked as it streams: a mismatch fails
 * the feed, which rolls the transaction back. Then the files: every
 * object of the backup is decrypted, checked and written back; objects
 * the backup does not hold are deleted from the bucket.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../driver/pgdump.h"
#include "../util/strbuf.h"

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

struct feed {
	struct blob *b;
	const struct backup_ctx *c;
	json_t *db;
	const struct crypt_key *k;
};

static int
feed_dump(void *arg, blob_sink sink, void *sink_arg, struct err *e)
{
	struct feed *f = arg;
	struct backup_expect x = {
		.size = json_integer_value(json_object_get(f->db, "size")),
		.sha256 = str(f->db, "sha256"),
		.plain_sha256 = str(f->db, "plainSha256"),
	};

	return backup_read(f->b, f->c->bucket, str(f->db, "key"), f->k, sink,
			   sink_arg, &x, e);
}

/* --- files ----------------------------------------------------------- */

struct put {
	struct blob *b;
	struct blob_upload *up; /* large files */
	struct strbuf mem;	/* small files */
	int large;
};

static int
put_in(void *arg, const void *data, size_t len, struct err *e)
{
	struct put *p = arg;

	if (p->large)
		return blob_upload_write(p->up, data, len, e);
	if (strbuf_add(&p->mem, data, len) < 0)
		return err_set(e, "a file is larger than the manifest says");
	return 0;
}

/* One file: decrypted, checked, then written (a large one completes its
 * upload only when the hashes checked out). */
static int
restore_file(const struct backup_ctx *c, struct blob *b,
	     const struct crypt_key *k, json_t *o, const char *bucket,
	     struct err *e)
{
	struct put p = { .b = b };
	struct backup_expect x = {
		.size = json_integer_value(json_object_get(o, "storedSize")),
		.sha256 = str(o, "storedSha256"),
		.plain_sha256 = str(o, "sha256"),
	};
	long long size = json_integer_value(json_object_get(o, "size"));
	const char *key = str(o, "key");
	char *left = NULL;
	struct err ae;
	int ret = -1;

	strbuf_init(&p.mem, SMALL_OBJECT + 1);
	p.large = size > (long long)SMALL_OBJECT;
	if (p.large && blob_upload_begin(b, bucket, key, &p.up, e) < 0)
		goto out;
	if (backup_read(b, c->bucket, str(o, "blob"), k, put_in, &p, &x, e) < 0)
		goto out;
	if (p.large) {
		ret = blob_upload_finish(p.up, NULL, e);
		p.up = NULL;
	} else {
		ret = blob_put(b, bucket, key, p.mem.buf, p.mem.len, e);
	}
out:
	if (p.up)
		blob_upload_abort(p.up, &left, &ae);
	free(left);
	strbuf_release(&p.mem);
	if (ret < 0)
		err_wrap(e, "cannot restore file '%s'", key ? key : "?");
	return ret;
}

struct extra {
	json_t *objs;
	char **keys;
	size_t n, a;
};

/* Keys of the bucket that the backup does not hold (and not the mark). */
static int
each_extra(void *arg, const char *key, long long size, const char *etag,
	   struct err *e)
{
	struct extra *x = arg;
	json_t *o;
	size_t i;

	(void)size;
	(void)etag;
	(void)e;
	if (strcmp(key, ".press-owner") == 0)
		return 0;
	json_array_foreach(x->objs, i, o)
		if (str(o, "key") && strcmp(str(o, "key"), key) == 0)
			return 0;
	xgrow(&x->keys, &x->a, x->n + 1, sizeof(*x->keys));
	x->keys[x->n++] = xstrdup(key);
	return 0;
}

static int
restore_files(const struct backup_ctx *c, struct blob *b,
	      const struct crypt_key *k, json_t *m, const char *bucket,
	      struct err *e)
{
	json_t *objs = json_object_get(json_object_get(m, "files"), "objects");
	struct extra x = { .objs = objs };
	json_t *o;
	size_t i;
	int ret = -1;

	if (!json_is_array(objs))
		return 0; /* a backup without files */
	json_array_foreach(objs, i, o)
		if (restore_file(c, b, k, o, bucket, e) < 0)
			goto out;
	if (blob_list(b, bucket, NULL, each_extra, &x, e) < 0)
		goto out;
	for (i = 0; i < x.n; i++)
		if (blob_delete(b, bucket, x.keys[i], e) < 0)
			goto out;
	ret = 0;
out:
	for (i = 0; i < x.n; i++)
		free(x.keys[i]);
	free(x.keys);
	return ret;
}

/* Every file of the backup reads back whole before anything changes: a
 * damaged or missing blob refuses the restore up front. */
static int
check_files(const struct backup_ctx *c, struct blob *b,
	    const struct crypt_key *k, json_t *m, struct err *e)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(m, "files"),
					   "objects"),
			   i, o) {
		struct backup_expect x = {
			.size = json_integer_value(
				json_object_get(o, "storedSize")),
			.sha256 = str(o, "storedSha256"),
			.plain_sha256 = str(o, "sha256"),
		};

		if (backup_read(b, c->bucket, str(o, "blob"), k, NULL, NULL, &x,
				e) < 0)
			return err_wrap(e, "file '%s'; nothing was changed",
					str(o, "key"));
	}
	return 0;
}

/* --- the restore --------------------------------------------------------- */

int
backup_restore(const struct backup_ctx *c, const char *src_env, const char *id,
	       const struct backup_target *to, const struct restore_opts *ro,
	       json_t **manifest, struct err *e)
{
	const struct crypt_key *k = NULL;
	struct blob *b = NULL;
	json_t *m = NULL, *pg;
	char *mark = NULL;
	const char *kid;
	int rc, ret = -1;

	if ((rc = backup_manifest(c, src_env, id, &m, e)) != 0) {
		if (rc > 0)
			err_set(e,
				"there is no backup %s of '%s' (see pressctl "
				"backup list)",
				id, src_env);
		goto out;
	}
	kid = str(json_object_get(m, "encryption"), "keyId");
	if (kid && !(k = backup_find_key(c, kid))) {
		err_set(e,
			"backup %s of '%s' is encrypted with key %s; none of "
			"the keys given has that id (wrong or missing "
			"encrypt.key); nothing was changed",
			id, src_env, kid);
		goto out;
	}
	if (blob_open(&b, c->denv, e) < 0 || check_files(c, b, k, m, e) < 0)
		goto out;
	pg = json_object_get(m, "postgres");
	mark = xprintf(DRIVER_MARK_PREFIX "%s", c->platform);
	{
		struct feed f = { b, c, json_object_get(m, "database"), k };
		struct pgrestore_opts o = {
			.dsn = c->dsn,
			.source_schema = str(pg, "schema"),
			.target_schema = to->schema,
			.owner = to->role,
			.keep_as = ro->keep_as,
			.mark = mark,
			.tables = json_object_get(pg, "tables"),
			.neutralize = ro->neutralize,
			.neutralize_check = ro->neutralize_check,
		};

		if (!o.source_schema) {
			err_set(e, "backup %s of '%s' has no database", id,
				src_env);
			goto out;
		}
		if (!ro->files_only && pgrestore_run(&o, feed_dump, &f, e) < 0)
			goto out;
	}
	if (restore_files(c, b, k, m, to->bucket, e) < 0) {
		err_wrap(e, "the schema was restored, the files were not all");
		goto out;
	}
	ret = 0;
	if (manifest)
		*manifest = json_incref(m);
out:
	if (ret < 0)
		err_wrap(e, "cannot restore backup %s of '%s' into '%s'", id,
			 src_env, to->env_id);
	free(mark);
	json_decref(m);
	blob_close(b);
	return ret;
}
