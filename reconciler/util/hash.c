#include "hash.h"
#include "err.h"

#include <ctype.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

void
hash_sha256_hex(char out[SHA256_HEX_LEN + 1], const void *data, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) ||
	    !OPENSSL_buf2hexstr_ex(out, SHA256_HEX_LEN + 1, NULL, md, mdlen,
				   '\0'))
		return;
	for (char *p = out; *p; p++) /* OpenSSL writes upper case */
		*p = (char)tolower((unsigned char)*p);
}

int
hash_hex_decode(unsigned char *out, size_t n, const char *hex)
{
	size_t len = 0;

	if (strlen(hex) != 2 * n)
		return -1;
	if (!OPENSSL_hexstr2buf_ex(out, n, &len, hex, '\0') || len != n)
		return -1;
	return 0;
}

void
hash_hmac_b64url(char out[44], const void *key, size_t keylen, const char *msg)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[64];
	unsigned int mdlen = 0;
	size_t w = 0;

	out[0] = '\0';
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
		  strlen(msg), md, &mdlen) ||
	    mdlen != 32)
		goto out;
	/* base64 (44 characters with one '='), then the URL alphabet
	 * without padding: 43. */
	EVP_EncodeBlock(b64, md, (int)mdlen);
	for (size_t i = 0; b64[i] && b64[i] != '=' && w < 43; i++)
		out[w++] = b64[i] == '+' ? '-' :
			   b64[i] == '/' ? '_' :
					   (char)b64[i];
	out[w] = '\0';
out:
	OPENSSL_cleanse(md, sizeof(md));
	OPENSSL_cleanse(b64, sizeof(b64));
}

/* Lower-case hex of md[0..n) into out (2n + 1 bytes). */
static void
to_hex(char *out, const unsigned char *md, unsigned int n)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}

void
hash_stream_init(struct hash_stream *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		xoom(sizeof(ctx));
	h->ctx = ctx;
	h->bytes = 0;
}

void
hash_stream_update(struct hash_stream *h, const void *data, size_t n)
{
	EVP_DigestUpdate(h->ctx, data, n);
	h->bytes += (long long)n;
}

void
hash_stream_final(struct hash_stream *h, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_DigestFinal_ex(h->ctx, md, &mdlen);
	to_hex(out, md, mdlen < 32 ? mdlen : 32);
	hash_stream_release(h);
}

void
hash_stream_release(struct hash_stream *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void
hash_hmac_hex(char out[SHA256_HEX_LEN + 1], const void *key, size_t keylen,
	      const char *msg)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
		 strlen(msg), md, &mdlen) && mdlen == 32)
		to_hex(out, md, mdlen);
	OPENSSL_cleanse(md, sizeof(md));
}
