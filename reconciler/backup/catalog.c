/*
 * catalog.c - the backups that exist (their manifests), their
 * verification and their retention (backup.h).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../driver/pgdump.h"
#include "../util/strbuf.h"

/* --- reading manifests ------------------------------------------------- */

static int
to_strbuf(void *arg, const void *data, size_t len, struct err *e)
{
	if (strbuf_add(arg, data, len) < 0)
		return err_set(e, "a backup manifest is larger than 64 MiB");
	return 0;
}

/* internal.h */
int
backup_manifest_parse(json_t **out, const char *key, const void *buf,
		      size_t len, struct err *e)
{
	json_error_t je;
	const char *format;

	*out = json_loadb(buf, len, 0, &je);
	format = json_string_value(json_object_get(*out, "format"));
	if (*out && json_is_object(*out) && format &&
	    strcmp(format, BACKUP_FORMAT) == 0)
		return 0;
	json_decref(*out);
	*out = NULL;
	return err_set(e, "backup manifest '%s' is not a %s manifest%s%s", key,
		       BACKUP_FORMAT, je.text[0] ? ": " : "", je.text);
}

/* GET and parse bucket/key: 0, 1 missing, -1 error. */
static int
read_manifest(struct blob *b, const char *bucket, const char *key, json_t **out,
	      struct err *e)
{
	struct strbuf sb;
	int rc;

	*out = NULL;
	strbuf_init(&sb, (size_t)64 << 20);
	rc = blob_get(b, bucket, key, to_strbuf, &sb, e);
	if (rc == 0)
		rc = backup_manifest_parse(out, key, sb.buf, sb.len, e);
	strbuf_release(&sb);
	return rc;
}

int
backup_manifest(const struct backup_ctx *c, const char *env_id, const char *id,
		json_t **out, struct err *e)
{
	struct blob *b = NULL;
	char *key = backup_key(env_id, id, "manifest.json");
	int rc = blob_open(&b, c->denv, e);

	if (rc == 0)
		rc = read_manifest(b, c->bucket, key, out, e);
	blob_close(b);
	free(key);
	return rc;
}

struct listing {
	struct blob *b;
	const struct backup_ctx *c;
	struct backup_info *v;
	size_t n, a;
};

/* internal.h */
void
backup_info_from_manifest(struct backup_info *in, json_t *m)
{
	time_t t;

	if (backup_parse_time(json_string_value(json_object_get(m, "time")),
			      &t) < 0)
		t = 0;
	memset(in, 0, sizeof(*in));
	in->id = xstrdup(json_string_value(json_object_get(m, "id")) ?
				 json_string_value(json_object_get(m, "id")) :
				 "");
	in->env_id = xstrdup(
		json_string_value(json_object_get(m, "environment")) ?
			json_string_value(json_object_get(m, "environment")) :
			"");
	in->time = t;
	in->encrypted = json_is_object(json_object_get(m, "encryption"));
	in->bytes = backup_stored_bytes(m);
	in->objects = json_array_size(
		json_object_get(json_object_get(m, "files"), "objects"));
	in->manifest = m;
}

static int
each_key(void *arg, const char *key, long long size, const char *etag,
	 struct err *e)
{
	struct listing *l = arg;
	const char *leaf = strrchr(key, '/');
	json_t *m;
	int rc;

	(void)size;
	(void)etag;
	if (!leaf || strcmp(leaf, "/manifest.json") != 0 ||
	    strncmp(key, "cas/", 4) == 0)
		return 0;
	if ((rc = read_manifest(l->b, l->c->bucket, key, &m, e)) < 0)
		return -1;
	if (rc > 0)
		return 0; /* deleted meanwhile */
	xgrow(&l->v, &l->a, l->n + 1, sizeof(*l->v));
	backup_info_from_manifest(&l->v[l->n++], m);
	return 0;
}

static int
newest_first(const void *a, const void *b)
{
	const struct backup_info *x = a, *y = b;
	int c;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	if ((c = strcmp(x->env_id, y->env_id)))
		return c;
	return -strcmp(x->id, y->id);
}

int
backup_list(const struct backup_ctx *c, const char *env_id,
	    struct backup_info **out, size_t *n, struct err *e)
{
	struct listing l = { .c = c };
	char *prefix = env_id ? xprintf("%s/", env_id) : NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (blob_open(&l.b, c->denv, e) < 0) {
		free(prefix);
		return -1;
	}
	rc = blob_list(l.b, c->bucket, prefix, each_key, &l, e);
	blob_close(l.b);
	free(prefix);
	if (rc < 0) {
		backup_infos_free(l.v, l.n);
		return err_wrap(e, "cannot list the backups in bucket '%s'",
				c->bucket);
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), newest_first);
	*out = l.v;
	*n = l.n;
	return 0;
}

void
backup_infos_free(struct backup_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].env_id);
		json_decref(v[i].manifest);
	}
	free(v);
}

/* --- verify ------------------------------------------------------------ */

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The key the manifest was encrypted with: NULL (plain) or found; -1
 * when it is encrypted and the key is not known. */
static int
manifest_key(const struct backup_ctx *c, json_t *m, const struct crypt_key **k,
	     struct err *e)
{
	const char *id = str(json_object_get(m, "encryption"), "keyId");

	*k = NULL;
	if (!id)
		return 0;
	if (!(*k = backup_find_key(c, id)))
		return err_set(e,
			       "backup %s of '%s' is encrypted with key %s, "
			       "and no BackupPolicy's encrypt.key has that "
			       "id; give the key it was made with",
			       str(m, "id"), str(m, "environment"), id);
	return 0;
}

struct dump_feed {
	struct blob *b;
	const struct backup_ctx *c;
	json_t *db;
	const struct crypt_key *k;
};

/* pgrestore's feed: the dump, decrypted and checked, to sink. */
static int
feed_dump(void *arg, blob_sink sink, void *sink_arg, struct err *e)
{
	struct dump_feed *f = arg;
	struct backup_expect x = {
		.size = json_integer_value(json_object_get(f->db, "size")),
		.sha256 = str(f->db, "sha256"),
		.plain_sha256 = str(f->db, "plainSha256"),
	};

	return backup_read(f->b, f->c->bucket, str(f->db, "key"), f->k, sink,
			   sink_arg, &x, e);
}

int
backup_verify(const struct backup_ctx *c, const char *env_id, const char *id,
	      int restore_test, struct err *e)
{
	const struct crypt_key *k = NULL;
	struct blob *b = NULL;
	json_t *m = NULL, *db, *o;
	size_t i;
	int rc, ret = -1;

	if ((rc = backup_manifest(c, env_id, id, &m, e)) != 0) {
		if (rc > 0)
			err_set(e, "there is no backup %s of '%s'", id, env_id);
		goto out;
	}
	if (blob_open(&b, c->denv, e) < 0)
		goto out;
	/* Without the key the stored bytes are still checked. */
	if (manifest_key(c, m, &k, e) < 0 && restore_test)
		goto out;
	db = json_object_get(m, "database");
	{
		struct backup_expect x = {
			.size = json_integer_value(json_object_get(db, "size")),
			.sha256 = str(db, "sha256"),
			.plain_sha256 = str(db, "plainSha256"),
		};

		if (backup_read(b, c->bucket, str(db, "key"), k, NULL, NULL, &x,
				e) < 0)
			goto out;
	}
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
				e) < 0) {
			err_wrap(e, "file '%s'", str(o, "key"));
			goto out;
		}
	}
	if (restore_test) {
		struct dump_feed f = { b, c, db, k };
		json_t *pg = json_object_get(m, "postgres");

		if (pgrestore_test(c->dsn, str(pg, "schema"),
				   json_object_get(pg, "tables"), feed_dump, &f,
				   e) < 0) {
			err_wrap(e, "the restore test of backup %s failed", id);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret < 0)
		err_wrap(e, "backup %s of '%s' does not verify", id, env_id);
	json_decref(m);
	blob_close(b);
	return ret;
}

/* --- prune ----------------------------------------------------------- */

struct blobs {
	char **v;
	size_t n, a;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
each_blob(void *arg, const char *key, long long size, const char *etag,
	  struct err *e)
{
	struct blobs *bl = arg;

	(void)size;
	(void)etag;
	(void)e;
	xgrow(&bl->v, &bl->a, bl->n + 1, sizeof(*bl->v));
	bl->v[bl->n++] = xstrdup(key);
	return 0;
}

/* Delete every blob of cas/ that no manifest left references. */
static int
collect_garbage(const struct backup_ctx *c, struct blob *b, struct err *e)
{
	struct backup_info *all = NULL;
	struct blobs used = { 0 }, have = { 0 };
	size_t nall = 0;
	int ret = -1;

	if (backup_list(c, NULL, &all, &nall, e) < 0 ||
	    blob_list(b, c->bucket, "cas/", each_blob, &have, e) < 0)
		goto out;
	for (size_t i = 0; i < nall; i++) {
		json_t *o;
		size_t j;

		json_array_foreach(
			json_object_get(json_object_get(all[i].manifest,
							"files"),
					"objects"),
			j, o) {
			xgrow(&used.v, &used.a, used.n + 1, sizeof(*used.v));
			used.v[used.n++] = xstrdup(
				str(o, "blob") ? str(o, "blob") : "");
		}
	}
	if (used.n > 1)
		qsort(used.v, used.n, sizeof(*used.v), cmp_str);
	for (size_t i = 0; i < have.n; i++) {
		if (used.n && bsearch(&have.v[i], used.v, used.n,
				      sizeof(*used.v), cmp_str))
			continue;
		if (blob_delete(b, c->bucket, have.v[i], e) < 0)
			goto out;
	}
	ret = 0;
out:
	backup_infos_free(all, nall);
	for (size_t i = 0; i < used.n; i++)
		free(used.v[i]);
	for (size_t i = 0; i < have.n; i++)
		free(have.v[i]);
	free(used.v);
	free(have.v);
	return ret;
}

int
backup_prune(const struct backup_ctx *c, const char *env_id,
	     const struct retention *r, size_t *deleted, struct err *e)
{
	struct backup_info *v = NULL;
	struct backup_ref *refs = NULL;
	struct blob *b = NULL;
	int *keep = NULL, ret = -1;
	size_t n = 0;

	*deleted = 0;
	if (blob_open(&b, c->denv, e) < 0 ||
	    backup_list(c, env_id, &v, &n, e) < 0)
		goto out;
	refs = xcalloc(n + 1, sizeof(*refs));
	keep = xcalloc(n + 1, sizeof(*keep));
	for (size_t i = 0; i < n; i++) {
		refs[i].time = v[i].time;
		refs[i].good = 1; /* a manifest exists only when verified */
	}
	retention_keep(r, refs, n, keep);
	for (size_t i = 0; i < n; i++) {
		char *key;

		if (keep[i])
			continue;
		/* The manifest first: the backup ceases to exist; then its
		 * dump (a crash in between leaves garbage, not a backup). */
		key = backup_key(v[i].env_id, v[i].id, "manifest.json");
		if (blob_delete(b, c->bucket, key, e) < 0) {
			free(key);
			goto out;
		}
		free(key);
		key = backup_key(v[i].env_id, v[i].id, "database");
		if (blob_delete(b, c->bucket, key, e) < 0) {
			free(key);
			goto out;
		}
		free(key);
		(*deleted)++;
	}
	if (collect_garbage(c, b, e) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		err_wrap(e, "cannot prune the backups of '%s'", env_id);
	backup_infos_free(v, n);
	free(refs);
	free(keep);
	blob_close(b);
	return ret;
}
