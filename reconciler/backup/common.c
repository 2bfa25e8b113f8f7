/*
 * common.c - keys, times and the checked reader shared by backup/
 * (internal.h).
 */
#include "internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
backup_key(const char *env_id, const char *id, const char *leaf)
{
	return xprintf("%s/%s/%s", env_id, id, leaf);
}

void
backup_blob_key(char out[72], const struct crypt_key *k, const char *sha256)
{
	char hex[SHA256_HEX_LEN + 1], *msg;

	if (!k) {
		snprintf(out, 72, "cas/%s", sha256);
		return;
	}
	msg = xprintf("blob:%s", sha256);
	hash_hmac_hex(hex, k->k, sizeof(k->k), msg);
	free(msg);
	snprintf(out, 72, "cas/%s", hex);
}

const struct crypt_key *
backup_find_key(const struct backup_ctx *c, const char *id)
{
	for (size_t i = 0; id && i < c->nkeys; i++)
		if (strcmp(c->keys[i].id, id) == 0)
			return &c->keys[i];
	return NULL;
}

void
backup_time_text(char out[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
backup_id_of(char out[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y%m%dT%H%M%SZ", &tm);
}

int
backup_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;
	char z, back[32];

	if (!s || strlen(s) != 20 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec,
		   &z) != 7 ||
	    z != 'Z')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	/* Only the form backup_time_text writes: "2026-13-45T99:00:00Z"
	 * would be normalized into another day, "206-12-07T00:00:00Z" is
	 * no year of ours, and a manifest's time decides retention. */
	backup_time_text(back, *out);
	return strcmp(back, s) == 0 ? 0 : -1;
}

static long long
add_size(long long sum, long long size)
{
	if (size <= 0)
		return sum;
	return sum > LLONG_MAX - size ? LLONG_MAX : sum + size;
}

long long
backup_stored_bytes(json_t *m)
{
	json_t *objs = json_object_get(json_object_get(m, "files"), "objects");
	json_t *o;
	long long n = 0;
	size_t i;

	/* The manifest is read from the bucket: a negative size counts as
	 * 0 and the sum stops at LLONG_MAX instead of overflowing. */
	n = add_size(n, json_integer_value(
				json_object_get(json_object_get(m, "database"),
						"size")));
	json_array_foreach(objs, i, o)
		n = add_size(n, json_integer_value(
					json_object_get(o, "storedSize")));
	return n;
}

int
backup_abort_upload(const struct backup_ctx *c, const char *bucket,
		    const char *key, const char *id, struct err *e)
{
	struct blob *b;
	int rc;

	if (blob_open(&b, c->denv, e) < 0)
		return -1;
	rc = blob_abort_upload(b, bucket, key, id, e);
	blob_close(b);
	return rc;
}

/* --- the checked reader ---------------------------------------------- */

struct reader {
	struct hash_stream stored, plain;
	struct crypt_reader *dec;
	blob_sink sink;
	void *arg;
};

static int
plain_in(void *arg, const void *data, size_t len, struct err *e)
{
	struct reader *r = arg;

	hash_stream_update(&r->plain, data, len);
	return r->sink ? r->sink(r->arg, data, len, e) : 0;
}

static int
stored_in(void *arg, const void *data, size_t len, struct err *e)
{
	struct reader *r = arg;

	hash_stream_update(&r->stored, data, len);
	if (r->dec)
		return crypt_reader_write(r->dec, data, len, e);
	return r->sink ? r->sink(r->arg, data, len, e) : 0;
}

int
backup_read(struct blob *b, const char *bucket, const char *key,
	    const struct crypt_key *k, blob_sink sink, void *arg,
	    struct backup_expect *x, struct err *e)
{
	struct reader r = { .sink = sink, .arg = arg };
	char sha[SHA256_HEX_LEN + 1], psha[SHA256_HEX_LEN + 1];
	long long size;
	int rc, ret = -1;

	hash_stream_init(&r.stored);
	hash_stream_init(&r.plain);
	if (k && crypt_reader_new(&r.dec, k, plain_in, &r, e) < 0)
		goto out;
	rc = blob_get(b, bucket, key, stored_in, &r, e);
	if (rc > 0) {
		err_set(e, "backup object '%s' is missing from bucket '%s'",
			key, bucket);
		goto out;
	}
	if (rc < 0) {
		err_wrap(e, "backup object '%s'", key);
		goto out;
	}
	if (r.dec && crypt_reader_finish(r.dec, e) < 0) {
		err_wrap(e, "backup object '%s'", key);
		goto out;
	}
	size = r.stored.bytes;
	hash_stream_final(&r.stored, sha);
	hash_stream_final(&r.plain, psha);
	if (x) {
		x->got_size = size;
		memcpy(x->got_sha256, sha, sizeof(x->got_sha256));
	}
	if (x && x->size >= 0 && size != x->size) {
		err_set(e,
			"backup object '%s' has %lld bytes, the manifest says "
			"%lld: it is truncated or was replaced",
			key, size, x->size);
		goto out;
	}
	if (x && x->sha256 && strcmp(sha, x->sha256) != 0) {
		err_set(e,
			"backup object '%s' was changed: its SHA-256 is %.12s, "
			"the manifest says %.12s",
			key, sha, x->sha256);
		goto out;
	}
	if (k && x && x->plain_sha256 && strcmp(psha, x->plain_sha256) != 0) {
		err_set(e,
			"backup object '%s' decrypts to other data than was "
			"backed up (SHA-256 %.12s, the manifest says %.12s)",
			key, psha, x->plain_sha256);
		goto out;
	}
	ret = 0;
out:
	hash_stream_release(&r.stored);
	hash_stream_release(&r.plain);
	crypt_reader_free(r.dec);
	return ret;
}
