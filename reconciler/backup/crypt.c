/*
 * crypt.c - backup encryption: AES-256-GCM in authenticated chunks.
 *
 * The format (version 1; docs/backup.md, "Encryption"):
 *
 *   header   "PRESSENC" (8 bytes) | version 1 (1) | key id (8 raw bytes)
 *            | nonce prefix (8 random bytes)             = 25 bytes
 *   chunks   ciphertext | GCM tag (16), for chunk i = 0, 1, ...
 *
 * Every chunk holds 65536 bytes of plaintext but the last, which holds
 * 0 to 65536 (0 only for an empty stream, which is one empty final
 * chunk). Chunk i is sealed with
 *
 *   nonce    nonce prefix (8) | i as 4 bytes big-endian
 *   AAD      the whole header (25) | i as 8 bytes big-endian
 *            | final flag (1 byte: 1 for the last chunk, 0 otherwise)
 *
 * so that no more than 2^32 - 1 chunks are written under one nonce
 * prefix. The AAD binds each chunk to its stream (the header, with its
 * random prefix), its place (i) and whether the stream may end after it
 * (the flag): a changed byte, swapped chunks, a chunk from another
 * stream, a stream cut at a chunk boundary (the last chunk left was
 * sealed with flag 0) and data appended after the final chunk all fail
 * authentication.
 *
 * The reader knows where chunks end from their fixed size: a full chunk
 * (65536 + 16 bytes) is the final one only when the stream ends right
 * after it, so it is opened when one more byte arrives (flag 0) or at
 * the end of the stream (flag 1). When a full chunk fails with the flag
 * its position implies but opens with the other one, it is authentic and
 * the stream around it is wrong: cut after a chunk that is not the final
 * one, or continued after the final one; the error says which.
 */
#include "crypt.h"

#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "../util/hash.h"

#define MAGIC "PRESSENC"
#define MAGIC_LEN 8
#define VERSION 1
#define ID_OFF (MAGIC_LEN + 1)
#define ID_LEN 8
#define PREFIX_OFF (ID_OFF + ID_LEN)
#define PREFIX_LEN 8
#define NONCE_LEN 12
#define AAD_LEN (CRYPT_HEADER_LEN + 8 + 1)
#define SEALED_LEN (CRYPT_CHUNK_LEN + CRYPT_TAG_LEN)
/* The last chunk index a nonce prefix allows: 2^32 - 1 chunks in all. */
#define LAST_INDEX ((uint64_t)UINT32_MAX - 1)

#define KDF_SALT "pressctl backup v1"
#define KDF_INFO "aes-256-gcm"
#define ID_LABEL "pressctl key id"

struct crypt_writer {
	EVP_CIPHER_CTX *ctx; /* holds the key schedule; freeing wipes it */
	crypt_sink sink;
	void *arg;
	unsigned char header[CRYPT_HEADER_LEN];
	int header_sent, finished, failed;
	uint64_t index; /* of the next chunk */
	size_t len;	/* plaintext bytes in buf */
	/* One chunk of plaintext, sealed in place: its tag follows it. */
	unsigned char buf[SEALED_LEN];
};

struct crypt_reader {
	EVP_CIPHER_CTX *ctx;
	crypt_sink sink;
	void *arg;
	char want_id[17];
	unsigned char header[CRYPT_HEADER_LEN];
	size_t header_len;
	int finished, failed;
	uint64_t index; /* of the chunk in in[] */
	size_t len;	/* bytes in in[] */
	unsigned char in[SEALED_LEN];
	unsigned char out[CRYPT_CHUNK_LEN]; /* plaintext until authenticated */
};

/* e's message "what: <OpenSSL's reason>", and -1. */
static int
ossl_err(struct err *e, const char *what)
{
	unsigned long code = ERR_get_error();
	char reason[256] = "unknown error";

	if (code)
		ERR_error_string_n(code, reason, sizeof(reason));
	ERR_clear_error();
	return err_set(e, "%s: %s", what, reason);
}

static void
hex_id(char out[17], const unsigned char raw[ID_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < ID_LEN; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 0xf];
	}
	out[2 * ID_LEN] = '\0';
}

static void
put_be(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = n; i > 0; i--, v >>= 8)
		p[i - 1] = (unsigned char)(v & 0xff);
}

int
crypt_key_derive(struct crypt_key *out, const void *secret, size_t len,
		 struct err *e)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	char digest[] = "SHA256";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (secret == NULL || len == 0) {
		err_set(e, "cannot derive the backup key: the secret is empty");
		goto out;
	}
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		ossl_err(e, "cannot derive the backup key: HKDF");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)secret, len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						      (void *)KDF_SALT,
						      strlen(KDF_SALT));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						      (void *)KDF_INFO,
						      strlen(KDF_INFO));
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out->k, sizeof(out->k), params) <= 0) {
		ossl_err(e, "cannot derive the backup key: HKDF");
		goto out;
	}
	if (!HMAC(EVP_sha256(), out->k, (int)sizeof(out->k),
		  (const unsigned char *)ID_LABEL, strlen(ID_LABEL), md,
		  &mdlen) ||
	    mdlen < ID_LEN) {
		ossl_err(e, "cannot derive the backup key's id: HMAC-SHA256");
		goto out;
	}
	hex_id(out->id, md);
	rc = 0;
out:
	if (rc)
		crypt_key_wipe(out);
	OPENSSL_cleanse(md, sizeof(md));
	EVP_KDF_CTX_free(kctx); /* wipes its copy of the secret */
	EVP_KDF_free(kdf);
	return rc;
}

void
crypt_key_wipe(struct crypt_key *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}

/* The key's id as the 8 raw bytes a header carries. */
static int
key_id_raw(unsigned char raw[ID_LEN], const struct crypt_key *k, struct err *e)
{
	if (memchr(k->id, '\0', sizeof(k->id)) == NULL ||
	    hash_hex_decode(raw, ID_LEN, k->id) < 0)
		return err_set(e, "the backup key's id is not 16 hex digits "
				  "(derive the key with crypt_key_derive)");
	return 0;
}

/* A context for AES-256-GCM with the key set (enc: 1 seal, 0 open). */
static int
cipher_new(EVP_CIPHER_CTX **out, const struct crypt_key *k, int enc,
	   struct err *e)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	*out = NULL;
	if (ctx == NULL ||
	    !EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->k, NULL, enc)) {
		EVP_CIPHER_CTX_free(ctx);
		return ossl_err(e, "cannot set up AES-256-GCM");
	}
	*out = ctx;
	return 0;
}

/* Start chunk index of the stream with this header: its nonce and AAD. */
static int
chunk_begin(EVP_CIPHER_CTX *ctx, const unsigned char *header, uint64_t index,
	    int final)
{
	unsigned char nonce[NONCE_LEN], aad[AAD_LEN];
	int n = 0;

	memcpy(nonce, header + PREFIX_OFF, PREFIX_LEN);
	put_be(nonce + PREFIX_LEN, index, 4);
	memcpy(aad, header, CRYPT_HEADER_LEN);
	put_be(aad + CRYPT_HEADER_LEN, index, 8);
	aad[AAD_LEN - 1] = final ? 1 : 0;
	if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1) ||
	    !EVP_CipherUpdate(ctx, NULL, &n, aad, (int)sizeof(aad)))
		return -1;
	return 0;
}

int
crypt_writer_new(struct crypt_writer **out, const struct crypt_key *k,
		 crypt_sink sink, void *arg, struct err *e)
{
	struct crypt_writer *w = xcalloc(1, sizeof(*w));
	int rc = -1;

	*out = NULL;
	w->sink = sink;
	w->arg = arg;
	memcpy(w->header, MAGIC, MAGIC_LEN);
	w->header[MAGIC_LEN] = VERSION;
	if (key_id_raw(w->header + ID_OFF, k, e) < 0)
		goto out;
	if (RAND_bytes(w->header + PREFIX_OFF, PREFIX_LEN) != 1) {
		ossl_err(e, "cannot encrypt: no random nonce");
		goto out;
	}
	if (cipher_new(&w->ctx, k, 1, e) < 0)
		goto out;
	*out = w;
	w = NULL;
	rc = 0;
out:
	crypt_writer_free(w);
	return rc;
}

/* Seal the plaintext in buf as chunk w->index (the last one when final)
 * and hand it to the sink, after the header when it is the first. */
static int
seal(struct crypt_writer *w, int final, struct err *e)
{
	int n = 0, rc = -1;

	if (w->index > LAST_INDEX) {
		err_set(e,
			"cannot encrypt the backup: it is larger than "
			"%llu chunks of 64 KiB",
			(unsigned long long)LAST_INDEX + 1);
		goto out;
	}
	if (!w->header_sent) {
		if (w->sink(w->arg, w->header, sizeof(w->header), e) < 0)
			goto out;
		w->header_sent = 1;
	}
	if (chunk_begin(w->ctx, w->header, w->index, final) < 0 ||
	    (w->len > 0 &&
	     (!EVP_EncryptUpdate(w->ctx, w->buf, &n, w->buf, (int)w->len) ||
	      (size_t)n != w->len)) ||
	    !EVP_EncryptFinal_ex(w->ctx, w->buf + w->len, &n) ||
	    !EVP_CIPHER_CTX_ctrl(w->ctx, EVP_CTRL_AEAD_GET_TAG, CRYPT_TAG_LEN,
				 w->buf + w->len)) {
		ossl_err(e, "cannot encrypt the backup: AES-256-GCM");
		goto out;
	}
	if (w->sink(w->arg, w->buf, w->len + CRYPT_TAG_LEN, e) < 0)
		goto out;
	w->index++;
	w->len = 0;
	rc = 0;
out:
	if (rc)
		w->failed = 1;
	return rc;
}

static int
writer_usable(const struct crypt_writer *w, struct err *e)
{
	if (w->failed)
		return err_set(e, "cannot encrypt the backup: the stream "
				  "already failed");
	if (w->finished)
		return err_set(e, "cannot encrypt the backup: the stream "
				  "was already finished");
	return 0;
}

int
crypt_writer_write(struct crypt_writer *w, const void *data, size_t len,
		   struct err *e)
{
	const unsigned char *p = data;
	size_t n;

	if (writer_usable(w, e) < 0)
		return -1;
	while (len > 0) {
		/* A full chunk with more data after it is not the last. */
		if (w->len == CRYPT_CHUNK_LEN && seal(w, 0, e) < 0)
			return -1;
		n = CRYPT_CHUNK_LEN - w->len;
		if (n > len)
			n = len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
crypt_writer_finish(struct crypt_writer *w, struct err *e)
{
	if (writer_usable(w, e) < 0)
		return -1;
	w->finished = 1;
	return seal(w, 1, e);
}

void
crypt_writer_free(struct crypt_writer *w)
{
	if (w == NULL)
		return;
	EVP_CIPHER_CTX_free(w->ctx);
	OPENSSL_cleanse(w, sizeof(*w));
	free(w);
}

int
crypt_reader_new(struct crypt_reader **out, const struct crypt_key *k,
		 crypt_sink sink, void *arg, struct err *e)
{
	struct crypt_reader *r = xcalloc(1, sizeof(*r));
	unsigned char raw[ID_LEN];
	int rc = -1;

	*out = NULL;
	r->sink = sink;
	r->arg = arg;
	if (key_id_raw(raw, k, e) < 0)
		goto out;
	hex_id(r->want_id, raw);
	if (cipher_new(&r->ctx, k, 0, e) < 0)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	crypt_reader_free(r);
	return rc;
}

/* Check what has arrived of the header: the magic as soon as its bytes
 * are there (a plain dump fails at once), the rest once it is whole. */
static int
header_check(const struct crypt_reader *r, struct err *e)
{
	size_t n = r->header_len < MAGIC_LEN ? r->header_len : MAGIC_LEN;
	char id[17];

	if (memcmp(r->header, MAGIC, n) != 0)
		return err_set(e, "not an encrypted backup: it does not start "
				  "with the \"" MAGIC "\" header");
	if (r->header_len < CRYPT_HEADER_LEN)
		return 0;
	if (r->header[MAGIC_LEN] > VERSION)
		return err_set(e,
			       "the backup is encrypted in format version %u, "
			       "and this pressctl reads version %d: decrypt "
			       "it with a newer pressctl",
			       r->header[MAGIC_LEN], VERSION);
	if (r->header[MAGIC_LEN] != VERSION)
		return err_set(e,
			       "not an encrypted backup: its header says "
			       "format version %u, which no pressctl writes",
			       r->header[MAGIC_LEN]);
	hex_id(id, r->header + ID_OFF);
	if (strcmp(id, r->want_id) != 0)
		return err_set(e,
			       "the backup was encrypted with key %s, not "
			       "with the given key %s",
			       id, r->want_id);
	return 0;
}

/* Try to open the chunk in in[] with this final flag: 1 when it
 * authenticates (out[] then holds its plaintext), 0 when it does not
 * (out[] wiped), -1 when OpenSSL fails otherwise. */
static int
chunk_try(struct crypt_reader *r, int final, struct err *e)
{
	size_t ctlen = r->len - CRYPT_TAG_LEN;
	int n = 0;

	if (chunk_begin(r->ctx, r->header, r->index, final) < 0 ||
	    (ctlen > 0 &&
	     !EVP_DecryptUpdate(r->ctx, r->out, &n, r->in, (int)ctlen)) ||
	    !EVP_CIPHER_CTX_ctrl(r->ctx, EVP_CTRL_AEAD_SET_TAG, CRYPT_TAG_LEN,
				 r->in + ctlen))
		return ossl_err(e, "cannot decrypt the backup: AES-256-GCM");
	if (EVP_DecryptFinal_ex(r->ctx, r->out + ctlen, &n) > 0)
		return 1;
	ERR_clear_error();
	OPENSSL_cleanse(r->out, ctlen);
	return 0;
}

/* Open the chunk in in[] (final: the stream ends after it) and hand its
 * plaintext to the sink once it is authenticated. */
static int
chunk_open(struct crypt_reader *r, int final, struct err *e)
{
	unsigned long long i = r->index;
	size_t ctlen;
	int ok, rc = -1;

	if (r->index > LAST_INDEX) {
		err_set(e,
			"the encrypted backup has more than %llu chunks, "
			"which the format does not allow",
			(unsigned long long)LAST_INDEX + 1);
		goto out;
	}
	if (r->len < CRYPT_TAG_LEN) {
		if (r->index == 0 && r->len == 0)
			err_set(e, "the encrypted backup is truncated: it ends "
				   "right after its header");
		else
			err_set(e,
				"the encrypted backup is truncated: it ends "
				"%zu bytes into chunk %llu, before the "
				"chunk's tag",
				r->len, i);
		goto out;
	}
	ctlen = r->len - CRYPT_TAG_LEN;
	if ((ok = chunk_try(r, final, e)) < 0)
		goto out;
	if (!ok) {
		/* A full chunk that opens with the other flag is authentic:
		 * the stream around it is wrong. Its plaintext is not
		 * delivered either. */
		if (r->len == SEALED_LEN && (ok = chunk_try(r, !final, e)) < 0)
			goto out;
		OPENSSL_cleanse(r->out, ctlen);
		if (!ok)
			err_set(e,
				"chunk %llu failed authentication: the data "
				"was changed, reordered or truncated",
				i);
		else if (final)
			err_set(e,
				"the encrypted backup is truncated: it ends "
				"after chunk %llu, which is not the final "
				"chunk",
				i);
		else
			err_set(e,
				"the encrypted backup has data after its "
				"final chunk (chunk %llu)",
				i);
		goto out;
	}
	rc = r->sink(r->arg, r->out, ctlen, e);
	OPENSSL_cleanse(r->out, ctlen);
	if (rc < 0)
		goto out;
	r->index++;
	r->len = 0;
out:
	if (rc)
		r->failed = 1;
	return rc;
}

static int
reader_usable(const struct crypt_reader *r, struct err *e)
{
	if (r->failed)
		return err_set(e, "cannot decrypt the backup: the stream "
				  "already failed");
	if (r->finished)
		return err_set(e, "cannot decrypt the backup: the stream "
				  "was already finished");
	return 0;
}

int
crypt_reader_write(struct crypt_reader *r, const void *data, size_t len,
		   struct err *e)
{
	const unsigned char *p = data;
	size_t n;

	if (reader_usable(r, e) < 0)
		return -1;
	while (len > 0) {
		if (r->header_len < CRYPT_HEADER_LEN) {
			n = CRYPT_HEADER_LEN - r->header_len;
			if (n > len)
				n = len;
			memcpy(r->header + r->header_len, p, n);
			r->header_len += n;
			if (header_check(r, e) < 0) {
				r->failed = 1;
				return -1;
			}
		} else {
			/* A full chunk with more data after it (one byte of
			 * look-ahead) is not the final one. */
			if (r->len == SEALED_LEN && chunk_open(r, 0, e) < 0)
				return -1;
			n = SEALED_LEN - r->len;
			if (n > len)
				n = len;
			memcpy(r->in + r->len, p, n);
			r->len += n;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
crypt_reader_finish(struct crypt_reader *r, struct err *e)
{
	if (reader_usable(r, e) < 0)
		return -1;
	r->finished = 1;
	if (r->header_len < CRYPT_HEADER_LEN) {
		r->failed = 1;
		if (r->header_len == 0)
			return err_set(e, "not an encrypted backup: it is "
					  "empty");
		return err_set(e,
			       "the encrypted backup is truncated: it ends "
			       "%zu bytes into its %d-byte header",
			       r->header_len, CRYPT_HEADER_LEN);
	}
	return chunk_open(r, 1, e);
}

void
crypt_reader_free(struct crypt_reader *r)
{
	if (r == NULL)
		return;
	EVP_CIPHER_CTX_free(r->ctx);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

int
crypt_header_key_id(const void *header, size_t len, char id[17])
{
	const unsigned char *h = header;

	id[0] = '\0';
	if (h == NULL || len < CRYPT_HEADER_LEN ||
	    memcmp(h, MAGIC, MAGIC_LEN) != 0 || h[MAGIC_LEN] != VERSION)
		return -1;
	hex_id(id, h + ID_OFF);
	return 0;
}
