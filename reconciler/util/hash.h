/*
 * hash.h - SHA-256, HMAC and their encodings (OpenSSL libcrypto).
 */
#ifndef PRESS_HASH_H
#define PRESS_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Hex SHA-256 of data into out (SHA256_HEX_LEN + 1 bytes). */
void hash_sha256_hex(char out[SHA256_HEX_LEN + 1], const void *data, size_t n);

/* Decode exactly 2n hex digits (either case) into out[0..n). 0, or -1
 * for another length or a non-hex character. */
int hash_hex_decode(unsigned char *out, size_t n, const char *hex);

/*
 * HMAC-SHA256(key, msg), base64url without padding (43 characters), into
 * out (at least 44 bytes). Used for derived passwords: the result is a
 * secret; the caller wipes it.
 */
void hash_hmac_b64url(char out[44], const void *key, size_t keylen,
		      const char *msg);

/* SHA-256 over data that arrives in pieces. */
struct hash_stream {
	void *ctx; /* EVP_MD_CTX */
	long long bytes;
};

void hash_stream_init(struct hash_stream *h);
void hash_stream_update(struct hash_stream *h, const void *data, size_t n);
/* The hex digest into out; h is released (init again to reuse). */
void hash_stream_final(struct hash_stream *h, char out[SHA256_HEX_LEN + 1]);
/* Release without a digest (an aborted stream); accepts a zeroed h. */
void hash_stream_release(struct hash_stream *h);

/* HMAC-SHA256(key, msg) in hex into out. */
void hash_hmac_hex(char out[SHA256_HEX_LEN + 1], const void *key,
		   size_t keylen, const char *msg);

#endif
