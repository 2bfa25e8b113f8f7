#include "hash.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

void
hash_sha256_hex(char out[SHA256_HEX_LEN + 1], const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[SHA256_HEX_LEN] = '\0';
}

void
hash_hmac_b64url(char out[44], const void *key, size_t keylen, const char *msg)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, w = 0;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	     strlen(msg), md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i += 3) {
		unsigned int v = (unsigned int)md[i] << 16;

		if (i + 1 < mdlen)
			v |= (unsigned int)md[i + 1] << 8;
		if (i + 2 < mdlen)
			v |= md[i + 2];
		out[w++] = b64[(v >> 18) & 63];
		out[w++] = b64[(v >> 12) & 63];
		if (i + 1 < mdlen)
			out[w++] = b64[(v >> 6) & 63];
		if (i + 2 < mdlen)
			out[w++] = b64[v & 63];
	}
	out[w] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
}
