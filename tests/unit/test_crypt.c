/* Unit tests: backup encryption, AES-256-GCM in authenticated chunks
 * (backup/crypt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "backup/crypt.h"
#include "util/hash.h"

#define CHUNK CRYPT_CHUNK_LEN
#define SEALED (CRYPT_CHUNK_LEN + CRYPT_TAG_LEN)
#define HDR CRYPT_HEADER_LEN

/*
 * Pinned by an independent computation, Python's hmac/hashlib (HKDF by
 * hand, RFC 5869) checked against the cryptography package's HKDF:
 *
 *   prk = hmac.new(b"pressctl backup v1", secret, sha256).digest()
 *   key = hmac.new(prk, b"aes-256-gcm" + b"\x01", sha256).digest()
 *   id  = hmac.new(key, b"pressctl key id", sha256).digest()[:8].hex()
 */
static const char secret1[] = "correct horse battery staple";
static const char key1_hex[] =
	"9b1ec2731857f81b469631a011f42c86a78682ae6cd024b16f464bf6fa03b917";
static const char id1[] = "f155eb32ffb902cd";
/* The secret bytes 0, 1, ..., 255 (a binary secret with a NUL in it). */
static const char key2_hex[] =
	"77089c494dcb6d53f0581905122992c4fc7aeb72f44e5cb88b48e1045bcfdaa1";
static const char id2[] = "29afc5e0ee6bd90f";

/*
 * Streams written by an independent implementation (Python, the
 * cryptography package's AESGCM) under secret1's key with the nonce
 * prefix 00 01 .. 07, following the format of crypt.c:
 *
 *   hdr = b"PRESSENC\x01" + id + prefix
 *   hdr + AESGCM(key).encrypt(prefix + (0).to_bytes(4, "big"), plaintext,
 *                             hdr + (0).to_bytes(8, "big") + b"\x01")
 */
static const char kat_empty_hex[] =
	"5052455353454e4301f155eb32ffb902cd0001020304050607"
	"af6fbf79e072aecd7df2f34a04731c44";
static const char kat_hello_hex[] =
	"5052455353454e4301f155eb32ffb902cd0001020304050607"
	"a8cb25d948ae8ae0bde0421e41e5ba66b7ff0399c854293a8d699e2043f5";

struct buf {
	unsigned char *p;
	size_t len, alloc;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->alloc) {
		b->alloc = (b->len + len) * 2;
		b->p = realloc(b->p, b->alloc);
		assert_non_null(b->p);
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static int
collect(void *arg, const void *data, size_t len, struct err *e)
{
	(void)e;
	buf_add(arg, data, len);
	return 0;
}

/* A fixed-seed generator: every run splits the streams the same way. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A split size: mostly small, sometimes around and above a chunk. */
static size_t
split(void)
{
	switch (rnd() % 4) {
	case 0: return 1 + rnd() % 16;
	case 1: return 1 + rnd() % 4096;
	case 2: return 1 + rnd() % (2 * SEALED);
	default: return CHUNK - 8 + rnd() % 32;
	}
}

static unsigned char *
plaintext(size_t len)
{
	unsigned char *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(rnd() >> 24);
	return p;
}

static void
key_of(struct crypt_key *k, const char *secret)
{
	struct err e = { 0 };

	if (crypt_key_derive(k, secret, strlen(secret), &e) < 0)
		fail_msg("derive: %s", e.msg);
}

/* Encrypt len bytes, fed in random pieces, into out. */
static void
encrypt(struct buf *out, const struct crypt_key *k, const unsigned char *p,
	size_t len)
{
	struct crypt_writer *w = NULL;
	struct err e = { 0 };
	size_t off = 0, n;

	if (crypt_writer_new(&w, k, collect, out, &e) < 0)
		fail_msg("writer: %s", e.msg);
	while (off < len) {
		n = split();
		if (n > len - off)
			n = len - off;
		if (crypt_writer_write(w, p + off, n, &e) < 0)
			fail_msg("write: %s", e.msg);
		off += n;
	}
	if (crypt_writer_finish(w, &e) < 0)
		fail_msg("finish: %s", e.msg);
	crypt_writer_free(w);
}

/* Decrypt len bytes, fed in random pieces, into out: 0, or -1 with the
 * message in e (out then holds what was delivered before the error). */
static int
decrypt(struct buf *out, const struct crypt_key *k, const unsigned char *p,
	size_t len, struct err *e)
{
	struct crypt_reader *r = NULL;
	size_t off = 0, n;
	int rc = -1;

	if (crypt_reader_new(&r, k, collect, out, e) < 0)
		fail_msg("reader: %s", e->msg);
	while (off < len) {
		n = split();
		if (n > len - off)
			n = len - off;
		if (crypt_reader_write(r, p + off, n, e) < 0)
			goto out;
		off += n;
	}
	rc = crypt_reader_finish(r, e);
out:
	crypt_reader_free(r);
	return rc;
}

static size_t
sealed_len(size_t len)
{
	size_t chunks = len == 0 ? 1 : (len + CHUNK - 1) / CHUNK;

	return HDR + len + chunks * CRYPT_TAG_LEN;
}

static void
expect_msg(const struct err *e, const char *want)
{
	if (strstr(e->msg, want) == NULL)
		fail_msg("message '%s' lacks '%s'", e->msg, want);
}

/* Decryption fails with want in the message, and what reached the sink
 * is exactly the first `delivered` bytes of the plaintext. */
static void
expect_failure(const struct crypt_key *k, const unsigned char *ct, size_t len,
	       const unsigned char *pt, size_t delivered, const char *want)
{
	struct buf out = { 0 };
	struct err e = { 0 };

	assert_int_equal(decrypt(&out, k, ct, len, &e), -1);
	expect_msg(&e, want);
	if (out.len != delivered)
		fail_msg("'%s': %zu bytes delivered, want %zu", want, out.len,
			 delivered);
	if (delivered > 0)
		assert_memory_equal(out.p, pt, delivered);
	free(out.p);
}

static void
round_trips_any_size_in_any_split(void **state)
{
	static const size_t sizes[] = {
		0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, (1 << 20) + 12345
	};
	struct crypt_key k;

	(void)state;
	key_of(&k, secret1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *pt = plaintext(sizes[i]);
		struct buf ct = { 0 }, back = { 0 };
		struct err e = { 0 };

		encrypt(&ct, &k, pt, sizes[i]);
		/* A stream whose length is a multiple of the chunk size ends
		 * with a full final chunk, not an extra empty one. */
		assert_int_equal(ct.len, sealed_len(sizes[i]));
		if (decrypt(&back, &k, ct.p, ct.len, &e) < 0)
			fail_msg("size %zu: %s", sizes[i], e.msg);
		assert_int_equal(back.len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(back.p, pt, sizes[i]);
		free(pt);
		free(ct.p);
		free(back.p);
	}
	crypt_key_wipe(&k);
}

static void
a_flipped_bit_anywhere_fails_and_delivers_nothing_after_it(void **state)
{
	/* Four chunks: three full ones and 100 bytes. */
	const size_t len = 3 * CHUNK + 100;
	const struct {
		size_t pos;
		size_t delivered; /* bytes before the failing chunk */
		const char *want;
	} flips[] = {
		{ 3, 0, "not an encrypted backup" },	    /* magic */
		{ 8, 0, "format version" },		    /* version */
		{ 12, 0, "was encrypted with key" },	    /* key id */
		{ 20, 0, "chunk 0 failed authentication" }, /* nonce prefix */
		{ HDR, 0, "chunk 0 failed authentication" },
		{ HDR + SEALED + 777, CHUNK, "chunk 1 failed authentication" },
		{ HDR + 2 * SEALED - 1, CHUNK,
		  "chunk 1 failed authentication" }, /* its tag's last byte */
		{ HDR + 2 * SEALED + CHUNK + 5, 2 * CHUNK,
		  "chunk 2 failed authentication" }, /* in chunk 2's tag */
		{ HDR + 3 * SEALED + 50, 3 * CHUNK,
		  "chunk 3 failed authentication" }, /* the last chunk */
		{ HDR + 3 * SEALED + 100 + 15, 3 * CHUNK,
		  "chunk 3 failed authentication" }, /* the last tag */
	};
	unsigned char *pt = plaintext(len);
	struct buf ct = { 0 };
	struct crypt_key k;

	(void)state;
	key_of(&k, secret1);
	encrypt(&ct, &k, pt, len);
	assert_int_equal(ct.len, HDR + 3 * SEALED + 100 + CRYPT_TAG_LEN);
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			ct.p[flips[i].pos] ^= (unsigned char)(1 << bit);
			expect_failure(&k, ct.p, ct.len, pt, flips[i].delivered,
				       flips[i].want);
			ct.p[flips[i].pos] ^= (unsigned char)(1 << bit);
		}
	}
	free(pt);
	free(ct.p);
}

static void
a_stream_cut_at_a_chunk_boundary_is_truncated(void **state)
{
	const size_t len = 3 * CHUNK + 100;
	unsigned char *pt = plaintext(len);
	struct buf ct = { 0 };
	struct crypt_key k;

	(void)state;
	key_of(&k, secret1);
	encrypt(&ct, &k, pt, len);
	/* Chunk 1 was sealed as not final: it does not authenticate as
	 * the last one, and only chunk 0 reaches the sink. */
	expect_failure(&k, ct.p, HDR + 2 * SEALED, pt, CHUNK,
		       "truncated: it ends after chunk 1, which is not the "
		       "final chunk");
	expect_failure(&k, ct.p, HDR + 3 * SEALED, pt, 2 * CHUNK,
		       "ends after chunk 2, which is not the final chunk");
	expect_failure(&k, ct.p, HDR, pt, 0,
		       "truncated: it ends right after its header");
	free(pt);
	free(ct.p);
}

static void
a_stream_cut_inside_a_chunk_fails_authentication(void **state)
{
	const size_t len = 3 * CHUNK + 100;
	unsigned char *pt = plaintext(len);
	struct buf ct = { 0 };
	struct crypt_key k;

	(void)state;
	key_of(&k, secret1);
	encrypt(&ct, &k, pt, len);
	expect_failure(&k, ct.p, HDR + SEALED + 1000, pt, CHUNK,
		       "chunk 1 failed authentication: the data was changed, "
		       "reordered or truncated");
	/* One byte short of the end: inside the last tag. */
	expect_failure(&k, ct.p, ct.len - 1, pt, 3 * CHUNK,
		       "chunk 3 failed authentication");
	/* Fewer bytes than a tag into the last chunk. */
	expect_failure(&k, ct.p, HDR + 3 * SEALED + 7, pt, 3 * CHUNK,
		       "truncated: it ends 7 bytes into chunk 3");
	free(pt);
	free(ct.p);
}

static void
a_stream_cut_inside_the_header_is_refused(void **state)
{
	unsigned char *pt = plaintext(10);
	struct buf ct = { 0 };
	struct crypt_key k;

	(void)state;
	key_of(&k, secret1);
	encrypt(&ct, &k, pt, 10);
	expect_failure(&k, ct.p, 0, pt, 0,
		       "not an encrypted backup: it is empty");
	expect_failure(&k, ct.p, 5, pt, 0,
		       "truncated: it ends 5 bytes into its 25-byte header");
	expect_failure(&k, ct.p, HDR - 1, pt, 0,
		       "truncated: it ends 24 bytes into its 25-byte header");
	free(pt);
	free(ct.p);
}

static void
swapped_chunks_fail_authentication(void **state)
{
	const size_t len = 3 * CHUNK + 5;
	unsigned char *pt = plaintext(len);
	unsigned char *tmp = malloc(SEALED);
	struct buf ct = { 0 };
	struct crypt_key k;

	(void)state;
	assert_non_null(tmp);
	key_of(&k, secret1);
	encrypt(&ct, &k, pt, len);
	/* Swap chunks 1 and 2. */
	memcpy(tmp, ct.p + HDR + SEALED, SEALED);
	memcpy(ct.p + HDR + SEALED, ct.p + HDR + 2 * SEALED, SEALED);
	memcpy(ct.p + HDR + 2 * SEALED, tmp, SEALED);
	expect_failure(&k, ct.p, ct.len, pt, CHUNK,
		       "chunk 1 failed authentication");
	free(tmp);
	free(pt);
	free(ct.p);
}

static void
a_chunk_from_another_stream_fails_authentication(void **state)
{
	const size_t len = 2 * CHUNK + 5;
	unsigned char *pt = plaintext(len);
	struct buf a = { 0 }, b = { 0 };
	struct crypt_key k;

	(void)state;
	key_of(&k, secret1);
	encrypt(&a, &k, pt, len);
	encrypt(&b, &k, pt, len);
	/* Same key, same plaintext, same place: only the stream differs. */
	memcpy(a.p + HDR + SEALED, b.p + HDR + SEALED, SEALED);
	expect_failure(&k, a.p, a.len, pt, CHUNK,
		       "chunk 1 failed authentication");
	free(pt);
	free(a.p);
	free(b.p);
}

static void
data_after_the_final_chunk_is_refused(void **state)
{
	unsigned char *pt = plaintext(2 * CHUNK + 100);
	struct buf ct = { 0 };
	struct crypt_key k;

	(void)state;
	key_of(&k, secret1);

	/* A full final chunk, then one byte: the chunk opens as the final
	 * one, so the message can say what is wrong. */
	encrypt(&ct, &k, pt, 2 * CHUNK);
	buf_add(&ct, "x", 1);
	expect_failure(&k, ct.p, ct.len, pt, CHUNK,
		       "has data after its final chunk (chunk 1)");
	ct.len = 0;

	/* A short final chunk, then bytes: they are part of what its tag
	 * no longer authenticates. */
	encrypt(&ct, &k, pt, 2 * CHUNK + 100);
	buf_add(&ct, "xyz", 3);
	expect_failure(&k, ct.p, ct.len, pt, 2 * CHUNK,
		       "chunk 2 failed authentication");
	ct.len = 0;

	/* Two streams one after the other. */
	encrypt(&ct, &k, pt, 10);
	encrypt(&ct, &k, pt, 10);
	expect_failure(&k, ct.p, ct.len, pt, 0,
		       "chunk 0 failed authentication");
	free(pt);
	free(ct.p);
}

static void
a_wrong_key_names_both_key_ids(void **state)
{
	static const unsigned char secret2[] = { 's', '\0', 'x' };
	unsigned char *pt = plaintext(1000);
	struct buf ct = { 0 }, out = { 0 };
	struct crypt_key k1, k2;
	struct err e = { 0 };
	char id[17], want[128];

	(void)state;
	key_of(&k1, secret1);
	key_of(&k2, "another secret");
	encrypt(&ct, &k1, pt, 1000);
	assert_int_equal(crypt_header_key_id(ct.p, ct.len, id), 0);
	assert_string_equal(id, id1);
	snprintf(want, sizeof(want),
		 "the backup was encrypted with key %s, not with the given key "
		 "%s",
		 id1, k2.id);
	assert_int_equal(decrypt(&out, &k2, ct.p, ct.len, &e), -1);
	assert_string_equal(e.msg, want);
	assert_int_equal(out.len, 0);

	/* A secret that differs after a NUL is another key. */
	crypt_key_wipe(&k2);
	assert_int_equal(crypt_key_derive(&k2, secret2, sizeof(secret2), NULL),
			 0);
	expect_failure(&k2, ct.p, ct.len, pt, 0, "was encrypted with key");
	crypt_key_wipe(&k1);
	crypt_key_wipe(&k2);
	free(pt);
	free(ct.p);
}

static void
the_same_plaintext_encrypts_differently_each_time(void **state)
{
	unsigned char *pt = plaintext(CHUNK + 10);
	struct buf a = { 0 }, b = { 0 }, back = { 0 };
	struct crypt_key k;
	struct err e = { 0 };

	(void)state;
	key_of(&k, secret1);
	encrypt(&a, &k, pt, CHUNK + 10);
	encrypt(&b, &k, pt, CHUNK + 10);
	assert_int_equal(a.len, b.len);
	/* Same header up to the random nonce prefix, then nothing alike. */
	assert_memory_equal(a.p, b.p, HDR - 8);
	assert_memory_not_equal(a.p + HDR - 8, b.p + HDR - 8, 8);
	assert_memory_not_equal(a.p + HDR, b.p + HDR, 64);
	assert_memory_not_equal(a.p + a.len - 64, b.p + b.len - 64, 64);
	assert_int_equal(decrypt(&back, &k, b.p, b.len, &e), 0);
	assert_memory_equal(back.p, pt, CHUNK + 10);
	free(pt);
	free(a.p);
	free(b.p);
	free(back.p);
}

static void
hex_of(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static void
key_derivation_is_deterministic_and_pinned(void **state)
{
	unsigned char bytes[256];
	struct crypt_key a, b;
	struct err e = { 0 };
	char hex[2 * CRYPT_KEY_LEN + 1];

	(void)state;
	key_of(&a, secret1);
	key_of(&b, secret1);
	assert_memory_equal(&a, &b, sizeof(a));
	hex_of(hex, a.k, sizeof(a.k));
	assert_string_equal(hex, key1_hex);
	assert_string_equal(a.id, id1);

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)i;
	assert_int_equal(crypt_key_derive(&b, bytes, sizeof(bytes), &e), 0);
	hex_of(hex, b.k, sizeof(b.k));
	assert_string_equal(hex, key2_hex);
	assert_string_equal(b.id, id2);

	crypt_key_wipe(&a);
	for (size_t i = 0; i < sizeof(a.k); i++)
		assert_int_equal(a.k[i], 0);
	assert_int_equal(crypt_key_derive(&a, "", 0, &e), -1);
	expect_msg(&e, "the secret is empty");
	crypt_key_wipe(&b);
}

/* Open chunk i of a stream with OpenSSL directly, from the format as
 * documented: 1 when it authenticates with this final flag (last). */
static int
open_as_documented(const struct crypt_key *k, const unsigned char *hdr,
		   const unsigned char *chunk, size_t ctlen, uint32_t i,
		   int last, unsigned char *out)
{
	unsigned char nonce[12], aad[HDR + 9];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	assert_non_null(ctx);
	memcpy(nonce, hdr + 17, 8);
	for (int b = 0; b < 4; b++)
		nonce[8 + b] = (unsigned char)(i >> (24 - 8 * b));
	memcpy(aad, hdr, HDR);
	memset(aad + HDR, 0, 8);
	for (int b = 0; b < 4; b++)
		aad[HDR + 4 + b] = (unsigned char)(i >> (24 - 8 * b));
	aad[HDR + 8] = (unsigned char)last;
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->k, nonce) &&
	     EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)sizeof(aad)) &&
	     (ctlen == 0 ||
	      EVP_DecryptUpdate(ctx, out, &n, chunk, (int)ctlen)) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CRYPT_TAG_LEN,
				 (void *)(chunk + ctlen)) &&
	     EVP_DecryptFinal_ex(ctx, out + ctlen, &n) > 0;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

static void
chunks_are_sealed_with_the_documented_nonce_and_aad(void **state)
{
	const size_t len = 2 * CHUNK + 300;
	unsigned char *pt = plaintext(len), *out = malloc(CHUNK);
	struct buf ct = { 0 };
	struct crypt_key k;

	(void)state;
	assert_non_null(out);
	key_of(&k, secret1);
	encrypt(&ct, &k, pt, len);
	assert_memory_equal(ct.p, "PRESSENC\x01", 9);
	for (uint32_t i = 0; i < 3; i++) {
		const unsigned char *c = ct.p + HDR + i * SEALED;
		size_t ctlen = i < 2 ? CHUNK : 300;
		int last = i == 2;

		assert_true(
			open_as_documented(&k, ct.p, c, ctlen, i, last, out));
		assert_memory_equal(out, pt + i * CHUNK, ctlen);
		/* Neither the other flag nor the next index opens it. */
		assert_false(
			open_as_documented(&k, ct.p, c, ctlen, i, !last, out));
		assert_false(open_as_documented(&k, ct.p, c, ctlen, i + 1, last,
						out));
	}
	free(out);
	free(pt);
	free(ct.p);
}

static void
decrypts_streams_of_an_independent_implementation(void **state)
{
	const struct {
		const char *hex, *plain;
	} kats[] = {
		{ kat_empty_hex, "" },
		{ kat_hello_hex, "hello, backup\n" },
	};
	unsigned char ct[64];
	struct crypt_key k;
	char id[17];

	(void)state;
	key_of(&k, secret1);
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		size_t n = strlen(kats[i].hex) / 2,
		       plen = strlen(kats[i].plain);
		struct buf out = { 0 };
		struct err e = { 0 };

		assert_true(n <= sizeof(ct));
		assert_int_equal(hash_hex_decode(ct, n, kats[i].hex), 0);
		assert_int_equal(n, sealed_len(plen));
		assert_int_equal(crypt_header_key_id(ct, n, id), 0);
		assert_string_equal(id, id1);
		if (decrypt(&out, &k, ct, n, &e) < 0)
			fail_msg("kat %zu: %s", i, e.msg);
		assert_int_equal(out.len, plen);
		if (plen > 0)
			assert_memory_equal(out.p, kats[i].plain, plen);
		/* The final flag is authenticated: an empty stream is not
		 * just a header and any tag. */
		ct[n - 1] ^= 1;
		expect_failure(&k, ct, n, NULL, 0, "chunk 0 failed");
		free(out.p);
	}
	crypt_key_wipe(&k);
}

static void
the_header_key_id_is_read_only_from_a_header(void **state)
{
	unsigned char h[HDR];
	struct buf ct = { 0 };
	struct crypt_key k;
	char id[17];

	(void)state;
	key_of(&k, secret1);
	encrypt(&ct, &k, (const unsigned char *)"x", 1);
	memcpy(h, ct.p, HDR);
	assert_int_equal(crypt_header_key_id(h, HDR, id), 0);
	assert_string_equal(id, k.id);
	assert_int_equal(crypt_header_key_id(h, HDR - 1, id), -1);
	assert_string_equal(id, "");
	h[8] = 2; /* a version this one does not read */
	assert_int_equal(crypt_header_key_id(h, HDR, id), -1);
	assert_int_equal(crypt_header_key_id("-- PostgreSQL database dump --",
					     30, id),
			 -1);
	free(ct.p);
}

static int
failing_sink(void *arg, const void *data, size_t len, struct err *e)
{
	int *calls = arg;

	(void)data;
	(void)len;
	if (++*calls < 3)
		return 0;
	return err_set(e, "cannot write to bucket 'backups': disk full");
}

static void
a_sink_error_stops_the_stream_with_its_message(void **state)
{
	unsigned char *pt = plaintext(4 * CHUNK);
	struct crypt_writer *w = NULL;
	struct crypt_key k;
	struct err e = { 0 };
	int calls = 0;

	(void)state;
	key_of(&k, secret1);
	assert_int_equal(crypt_writer_new(&w, &k, failing_sink, &calls, &e), 0);
	/* Header, chunk 0, then chunk 1 fails. */
	assert_int_equal(crypt_writer_write(w, pt, 4 * CHUNK, &e), -1);
	assert_string_equal(e.msg, "cannot write to bucket 'backups': disk "
				   "full");
	assert_int_equal(calls, 3);
	assert_int_equal(crypt_writer_finish(w, &e), -1);
	expect_msg(&e, "already failed");
	crypt_writer_free(w);
	free(pt);
}

static void
nothing_is_accepted_after_finish(void **state)
{
	struct crypt_writer *w = NULL;
	struct crypt_reader *r = NULL;
	struct buf ct = { 0 }, out = { 0 };
	struct crypt_key k;
	struct err e = { 0 };

	(void)state;
	key_of(&k, secret1);
	assert_int_equal(crypt_writer_new(&w, &k, collect, &ct, &e), 0);
	assert_int_equal(crypt_writer_finish(w, &e), 0);
	assert_int_equal(crypt_writer_write(w, "x", 1, &e), -1);
	expect_msg(&e, "already finished");
	assert_int_equal(crypt_writer_finish(w, &e), -1);
	crypt_writer_free(w);

	assert_int_equal(crypt_reader_new(&r, &k, collect, &out, &e), 0);
	assert_int_equal(crypt_reader_write(r, ct.p, ct.len, &e), 0);
	assert_int_equal(crypt_reader_finish(r, &e), 0);
	assert_int_equal(crypt_reader_write(r, "x", 1, &e), -1);
	expect_msg(&e, "already finished");
	crypt_reader_free(r);
	assert_int_equal(out.len, 0);

	crypt_writer_free(NULL);
	crypt_reader_free(NULL);
	free(ct.p);
	free(out.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips_any_size_in_any_split),
		cmocka_unit_test(
			a_flipped_bit_anywhere_fails_and_delivers_nothing_after_it),
		cmocka_unit_test(a_stream_cut_at_a_chunk_boundary_is_truncated),
		cmocka_unit_test(
			a_stream_cut_inside_a_chunk_fails_authentication),
		cmocka_unit_test(a_stream_cut_inside_the_header_is_refused),
		cmocka_unit_test(swapped_chunks_fail_authentication),
		cmocka_unit_test(
			a_chunk_from_another_stream_fails_authentication),
		cmocka_unit_test(data_after_the_final_chunk_is_refused),
		cmocka_unit_test(a_wrong_key_names_both_key_ids),
		cmocka_unit_test(
			the_same_plaintext_encrypts_differently_each_time),
		cmocka_unit_test(key_derivation_is_deterministic_and_pinned),
		cmocka_unit_test(
			chunks_are_sealed_with_the_documented_nonce_and_aad),
		cmocka_unit_test(
			decrypts_streams_of_an_independent_implementation),
		cmocka_unit_test(the_header_key_id_is_read_only_from_a_header),
		cmocka_unit_test(
			a_sink_error_stops_the_stream_with_its_message),
		cmocka_unit_test(nothing_is_accepted_after_finish),
	};

	return cmocka_run_group_tests_name("crypt", tests, NULL, NULL);
}
