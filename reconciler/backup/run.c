/*
 * run.c - one backup of one environment (backup_run in backup.h).
 *
 * The dump: pg_dump -> SHA-256 of the plaintext -> [AES-256-GCM chunks]
 * -> SHA-256 of the stored bytes -> multipart upload (whose parts are sent
 * by a thread of their own while the next fills: blob.h). Nothing is held
 * but three parts. The row counts and checksums of the tables are taken
 * meanwhile, in the dump's snapshot, on a thread of their own
 * (pgdump_describe_begin). The files: listed, each compared with the
 * previous backup's entry (key, size, ETag); a changed or new file is
 * read once (twice when larger than SMALL_OBJECT: once to name its blob,
 * once to store it), and stored under cas/ unless a blob of that content
 * is there already.
 * Then every object this run stored is read back and checked, and only
 * then is the manifest written.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../driver/pgdump.h"
#include "../util/strbuf.h"

/* --- an upload through encryption and a hash ---------------------------- */

struct writer {
	const struct backup_opts *o;
	struct blob_upload *up;	  /* multipart, or NULL: into mem */
	struct strbuf *mem;	  /* small objects: stored bytes here */
	struct crypt_writer *enc; /* NULL: plain */
	struct hash_stream plain, stored;
	const char *bucket, *key;
};

/* The stored bytes, to the upload or into mem. */
static int
store(struct writer *w, const void *data, size_t len, struct err *e)
{
	if (w->up)
		return blob_upload_write(w->up, data, len, e);
	if (strbuf_add(w->mem, data, len) < 0)
		return err_set(e, "object '%s' is too large to hold", w->key);
	return 0;
}

/* Encrypted: what the cipher gives, hashed as stored. */
static int
stored_out(void *arg, const void *data, size_t len, struct err *e)
{
	struct writer *w = arg;

	hash_stream_update(&w->stored, data, len);
	return store(w, data, len, e);
}

/* Plain: stored as it comes, so the stored hash is the plain one (one
 * SHA-256 pass, not two). */
static int
plain_out(void *arg, const void *data, size_t len, struct err *e)
{
	struct writer *w = arg;

	hash_stream_update(&w->plain, data, len);
	if (w->enc)
		return crypt_writer_write(w->enc, data, len, e);
	return store(w, data, len, e);
}

/* Begin a writer to bucket/key: multipart when mem is NULL. */
static int
writer_begin(struct writer *w, struct blob *b, const struct backup_opts *o,
	     const char *bucket, const char *key, struct strbuf *mem,
	     struct err *e)
{
	memset(w, 0, sizeof(*w));
	w->o = o;
	w->bucket = bucket;
	w->key = key;
	w->mem = mem;
	hash_stream_init(&w->plain);
	hash_stream_init(&w->stored);
	if (!mem) {
		if (blob_upload_begin(b, bucket, key, &w->up, e) < 0)
			return -1;
		if (o->upload_started)
			o->upload_started(o->arg, bucket, key,
					  blob_upload_id(w->up));
	}
	if (o->key && crypt_writer_new(&w->enc, o->key, stored_out, w, e) < 0)
		return -1;
	return 0;
}

/* Abort what the writer started; the upload id left when the server
 * cannot abort goes to upload_ended. */
static void
writer_abort(struct writer *w)
{
	char *left = NULL, id[256];
	struct err ae;
	int rc;

	if (w->up) {
		snprintf(id, sizeof(id), "%s", blob_upload_id(w->up));
		rc = blob_upload_abort(w->up, &left, &ae);
		w->up = NULL;
		if (w->o->upload_ended)
			w->o->upload_ended(w->o->arg, id, rc != 0);
		free(left);
	}
	crypt_writer_free(w->enc);
	w->enc = NULL;
	hash_stream_release(&w->plain);
	hash_stream_release(&w->stored);
}

/* Finish: the last chunk, the upload completed; the two hashes and the
 * stored size out. */
static int
writer_finish(struct writer *w, char plain[65], char stored[65],
	      long long *plain_size, long long *size, struct err *e)
{
	char id[256] = "";

	if (w->enc && crypt_writer_finish(w->enc, e) < 0)
		return -1;
	*plain_size = w->plain.bytes;
	*size = w->enc ? w->stored.bytes : w->plain.bytes;
	if (w->up) {
		snprintf(id, sizeof(id), "%s", blob_upload_id(w->up));
		if (blob_upload_finish(w->up, NULL, e) < 0) {
			w->up = NULL; /* freed by finish */
			if (w->o->upload_ended)
				w->o->upload_ended(w->o->arg, id, 1);
			return -1;
		}
		w->up = NULL;
		if (w->o->upload_ended)
			w->o->upload_ended(w->o->arg, id, 0);
	}
	hash_stream_final(&w->plain, plain);
	if (w->enc)
		hash_stream_final(&w->stored, stored);
	else
		memcpy(stored, plain, 65);
	hash_stream_release(&w->stored);
	crypt_writer_free(w->enc);
	w->enc = NULL;
	return 0;
}

/* --- the dump ---------------------------------------------------------- */

static int
dump_database(const struct backup_ctx *c, struct blob *b,
	      const struct backup_target *t, const struct backup_opts *o,
	      const char *id, json_t *m, long long *bytes, struct err *e)
{
	char *key = backup_key(t->env_id, id, "database"), *version = NULL;
	char *structure = NULL;
	char plain[65], stored[65], fp[65];
	long long psize, size;
	struct pgdump *d = NULL;
	json_t *tables = NULL;
	struct backup_expect x;
	struct writer w;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	w.o = o;
	/* The row counts and checksums run beside the dump, in its
	 * snapshot, and end before the manifest. */
	if (pgdump_open(&d, c->dsn, t->schema, e) < 0 ||
	    pgdump_describe_begin(d, e) < 0)
		goto out;
	if (writer_begin(&w, b, o, c->bucket, key, NULL, e) < 0 ||
	    pgdump_stream(d, plain_out, &w, e) < 0 ||
	    writer_finish(&w, plain, stored, &psize, &size, e) < 0)
		goto fail;
	/* Read it back before anything refers to it. */
	x.size = size;
	x.sha256 = stored;
	x.plain_sha256 = plain;
	if (backup_read(b, c->bucket, key, o->key, NULL, NULL, &x, e) < 0) {
		err_wrap(e, "the dump did not read back as written");
		goto out;
	}
	if (pgdump_describe_end(d, &tables, fp, &structure, &version, e) < 0)
		goto out;
	json_object_set_new(m, "postgres",
			    json_pack("{s:s, s:s, s:s, s:s, s:O}", "version",
				      version, "schema", t->schema,
				      "fingerprint", fp, "structure", structure,
				      "tables", tables));
	json_object_set_new(m, "database",
			    json_pack("{s:s, s:I, s:s, s:I, s:s}", "key", key,
				      "size", (json_int_t)size, "sha256",
				      stored, "plainSize", (json_int_t)psize,
				      "plainSha256", plain));
	*bytes += size;
	ret = 0;
	goto out;
fail:
	writer_abort(&w);
out:
	pgdump_close(d);
	json_decref(tables);
	free(version);
	free(structure);
	free(key);
	if (ret < 0)
		err_wrap(e, "cannot back up the database of '%s'", t->env_id);
	return ret;
}

/* --- the files --------------------------------------------------------- */

struct listed {
	char *key, *etag;
	long long size;
};

struct files {
	struct listed *v;
	size_t n, a;
};

static int
collect(void *arg, const char *key, long long size, const char *etag,
	struct err *e)
{
	struct files *f = arg;

	(void)e;
	if (strcmp(key, ".press-owner") == 0)
		return 0; /* the ownership mark is pressctl's, not the site's */
	xgrow(&f->v, &f->a, f->n + 1, sizeof(*f->v));
	f->v[f->n].key = xstrdup(key);
	f->v[f->n].etag = xstrdup(etag);
	f->v[f->n].size = size;
	f->n++;
	return 0;
}

static void
files_release(struct files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].key);
		free(f->v[i].etag);
	}
	free(f->v);
}

/* The previous backup's entry for this file, when it is unchanged. */
static json_t *
unchanged(json_t *prev, const struct listed *l, const struct crypt_key *k)
{
	json_t *objs = json_object_get(json_object_get(prev, "files"),
				       "objects"),
	       *o;
	const char *pk = json_string_value(
		json_object_get(json_object_get(prev, "encryption"), "keyId"));
	size_t i;

	/* A blob made with another key (or none) cannot serve this one. */
	if ((k && (!pk || strcmp(pk, k->id))) || (!k && pk))
		return NULL;
	json_array_foreach(objs, i, o) {
		const char *key = json_string_value(json_object_get(o, "key"));
		const char *etag = json_string_value(
			json_object_get(o, "etag"));

		if (key && strcmp(key, l->key) == 0 && etag && *l->etag &&
		    strcmp(etag, l->etag) == 0 &&
		    json_integer_value(json_object_get(o, "size")) == l->size)
			return o;
	}
	return NULL;
}

struct hashsink {
	struct hash_stream h;
	struct strbuf *keep; /* small: the bytes too */
};

static int
hash_in(void *arg, const void *data, size_t len, struct err *e)
{
	struct hashsink *s = arg;

	hash_stream_update(&s->h, data, len);
	if (s->keep && strbuf_add(s->keep, data, len) < 0)
		return err_set(e, "the file grew while it was read");
	return 0;
}

/* Store one file's content as a blob; its manifest entry into *entry. */
static int
store_file(const struct backup_ctx *c, struct blob *b,
	   const struct backup_target *t, const struct backup_opts *o,
	   const struct listed *l, json_t **entry, long long *bytes,
	   size_t *fresh, struct err *e)
{
	int small = l->size >= 0 && (size_t)l->size <= SMALL_OBJECT;
	char sha[65], bkey[72], psha[65], ssha[65];
	struct strbuf mem, out;
	struct hashsink hs;
	struct writer w;
	struct backup_expect x;
	long long psize, ssize, have;
	int rc, ret = -1;

	strbuf_init(&mem, SMALL_OBJECT + 1);
	strbuf_init(&out, SMALL_OBJECT * 2);
	memset(&w, 0, sizeof(w));
	w.o = o;
	hash_stream_init(&hs.h);
	hs.keep = small ? &mem : NULL;
	rc = blob_get(b, t->bucket, l->key, hash_in, &hs, e);
	if (rc != 0) {
		if (rc >
		    0) { /* deleted since the listing: not in this backup */
			hash_stream_release(&hs.h);
			*entry = NULL;
			ret = 0;
		}
		goto out;
	}
	psize = hs.h.bytes;
	hash_stream_final(&hs.h, sha);
	backup_blob_key(bkey, o->key, sha);
	rc = blob_head(b, c->bucket, bkey, &have, NULL, e);
	if (rc < 0)
		goto out;
	/* Stored already (another file, another backup): read it back to
	 * learn and check its stored hash. */
	if (rc == 0) {
		x.size = have;
		x.sha256 = NULL;
		x.plain_sha256 = sha;
		if (backup_read(b, c->bucket, bkey, o->key, NULL, NULL, &x, e) <
		    0)
			goto out;
		ssize = x.got_size;
		memcpy(ssha, x.got_sha256, sizeof(ssha));
	} else {
		/* New content: store it. */
		if (writer_begin(&w, b, o, c->bucket, bkey, small ? &out : NULL,
				 e) < 0)
			goto fail;
		if (small) {
			if (plain_out(&w, mem.buf, mem.len, e) < 0)
				goto fail;
		} else if ((rc = blob_get(b, t->bucket, l->key, plain_out, &w,
					  e)) != 0) {
			if (rc > 0)
				err_set(e,
					"file '%s' vanished while it was "
					"backed up",
					l->key);
			goto fail;
		}
		if (writer_finish(&w, psha, ssha, &psize, &ssize, e) < 0)
			goto fail;
		if (strcmp(psha, sha) != 0) {
			err_set(e, "file '%s' changed while it was backed up",
				l->key);
			goto fail;
		}
		if (small &&
		    blob_put(b, c->bucket, bkey, out.buf, out.len, e) < 0)
			goto fail;
		x.size = ssize;
		x.sha256 = ssha;
		x.plain_sha256 = sha;
		if (backup_read(b, c->bucket, bkey, o->key, NULL, NULL, &x, e) <
		    0)
			goto out;
		*bytes += ssize;
		(*fresh)++;
	}
	*entry = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "key", l->key,
			   "size", (json_int_t)psize, "etag", l->etag, "sha256",
			   sha, "blob", bkey, "storedSize", (json_int_t)ssize,
			   "storedSha256", ssha);
	ret = 0;
	goto out;
fail:
	writer_abort(&w);
out:
	hash_stream_release(&hs.h);
	strbuf_release(&mem);
	strbuf_release(&out);
	if (ret < 0)
		err_wrap(e, "cannot back up file '%s' of bucket '%s'", l->key,
			 t->bucket);
	return ret;
}

static int
backup_files(const struct backup_ctx *c, struct blob *b,
	     const struct backup_target *t, const struct backup_opts *o,
	     json_t *prev, json_t *m, long long *bytes, size_t *fresh,
	     struct err *e)
{
	struct files f = { 0 };
	json_t *objs = json_array(), *entry;
	long long have;
	int rc, ret = -1;

	rc = blob_list(b, t->bucket, NULL, collect, &f, e);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < f.n; i++) {
		json_t *same = unchanged(prev, &f.v[i], o->key);
		const char *bkey = json_string_value(
			json_object_get(same, "blob"));

		/* Unchanged: the same blob, if it is still there whole. */
		if (same && bkey &&
		    blob_head(b, c->bucket, bkey, &have, NULL, e) == 0 &&
		    have == json_integer_value(
				    json_object_get(same, "storedSize"))) {
			json_array_append(objs, same);
			continue;
		}
		if (store_file(c, b, t, o, &f.v[i], &entry, bytes, fresh, e) <
		    0)
			goto out;
		if (entry)
			json_array_append_new(objs, entry);
	}
	json_object_set_new(m, "files",
			    json_pack("{s:s, s:O}", "bucket", t->bucket,
				      "objects", objs));
	ret = 0;
out:
	json_decref(objs);
	files_release(&f);
	return ret;
}

/* --- the backup -------------------------------------------------------- */

/* A fresh id: the time, with -2, -3 ... when taken already. */
static int
new_id(const struct backup_ctx *c, struct blob *b, const char *env_id,
       char id[40], struct err *e)
{
	char base[32];
	long long size;

	backup_id_of(base, c->now);
	for (int i = 1; i < 100; i++) {
		char *key;
		int rc;

		if (i == 1)
			snprintf(id, 40, "%s", base);
		else
			snprintf(id, 40, "%s-%d", base, i);
		key = backup_key(env_id, id, "manifest.json");
		rc = blob_head(b, c->bucket, key, &size, NULL, e);
		free(key);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return 0;
	}
	return err_set(e, "too many backups of '%s' in one second", env_id);
}

int
backup_run(const struct backup_ctx *c, const struct backup_target *t,
	   const struct backup_opts *o, struct backup_result *r, struct err *e)
{
	struct backup_info *prev = NULL;
	size_t nprev = 0;
	struct blob *b = NULL;
	json_t *m = NULL;
	char when[32], *key = NULL, *text = NULL;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if (blob_open(&b, c->denv, e) < 0 ||
	    blob_bucket_ensure(b, c->bucket, e) < 0 ||
	    new_id(c, b, t->env_id, r->id, e) < 0)
		goto out;
	if (o->files && backup_list(c, t->env_id, &prev, &nprev, e) < 0)
		goto out;
	backup_time_text(when, c->now);
	m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s}", "format",
		      BACKUP_FORMAT, "id", r->id, "environment", t->env_id,
		      "platform", c->platform, "time", when, "revision",
		      c->revision, "policy", o->policy, "reason",
		      o->reason ? o->reason : "manual");
	json_object_set_new(m, "encryption",
			    o->key ? json_pack("{s:s, s:s}", "algorithm",
					       BACKUP_CIPHER, "keyId",
					       o->key->id) :
				     json_null());
	if (dump_database(c, b, t, o, r->id, m, &r->bytes, e) < 0)
		goto out;
	if (o->files &&
	    backup_files(c, b, t, o, nprev ? prev[0].manifest : NULL, m,
			 &r->bytes, &r->new_objects, e) < 0)
		goto out;
	if (!o->files)
		json_object_set_new(m, "files", json_null());
	r->objects = json_array_size(
		json_object_get(json_object_get(m, "files"), "objects"));
	/* Every object is stored and checked: the backup exists now. */
	key = backup_key(t->env_id, r->id, "manifest.json");
	text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text || blob_put(b, c->bucket, key, text, strlen(text), e) < 0) {
		if (!text)
			err_set(e, "cannot write the manifest: out of memory");
		goto out;
	}
	r->manifest = m;
	m = NULL;
	ret = 0;
out:
	if (ret < 0)
		err_wrap(e, "backup of '%s' failed; no backup was recorded",
			 t->env_id);
	backup_infos_free(prev, nprev);
	json_decref(m);
	free(key);
	free(text);
	blob_close(b);
	return ret;
}
