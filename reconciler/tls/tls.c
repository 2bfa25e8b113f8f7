/*
 * tls.c - selfsigned certificates and their sealed keys (tls.h).
 */
#include "tls.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../backup/crypt.h"
#include "../util/hash.h"
#include "../util/strbuf.h"

#define MAX_HOSTS 100
#define MAX_SEALED ((size_t)1 << 20)

/* The contents of a memory BIO as a new string. */
static char *
bio_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	return n > 0 ? xstrndup(data, (size_t)n) : NULL;
}

static X509 *
read_cert(const char *pem)
{
	BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

/* subjectAltName "DNS:a,DNS:b" for hosts (a new string). */
static char *
san_value(const char *const *hosts, size_t n)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&sb, "%sDNS:%s", i ? "," : "", hosts[i]);
	return strbuf_detach(&sb, NULL);
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (!(ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		return 0;
	ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

int
tls_selfsigned_make(const char *const *hosts, size_t n, time_t now, int days,
		    char **cert_pem, char **key_pem, struct err *e)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	BIGNUM *bn = NULL;
	BIO *cb = NULL, *kb = NULL;
	char *san = NULL;
	int ret = -1;

	*cert_pem = *key_pem = NULL;
	if (!n || n > MAX_HOSTS || !hosts[0] || strlen(hosts[0]) > 64)
		return err_set(e,
			       "cannot make a certificate: %zu hosts (1 to %d "
			       "wanted), the first of at most 64 characters",
			       n, MAX_HOSTS);
	san = san_value(hosts, n);
	if (!(key = EVP_EC_gen("P-256")) || !(x = X509_new()) ||
	    !(bn = BN_new()) ||
	    !BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
	    !X509_set_version(x, 2) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &now) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now) ||
	    !X509_set_pubkey(x, key) || !(name = X509_get_subject_name(x)) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"pressctl", -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)hosts[0], -1, -1,
					0) ||
	    !X509_set_issuer_name(x, name) ||
	    !add_ext(x, NID_subject_alt_name, san) ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    !X509_sign(x, key, EVP_sha256()) || !(cb = BIO_new(BIO_s_mem())) ||
	    !(kb = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
	    !(*cert_pem = bio_string(cb)) || !(*key_pem = bio_string(kb))) {
		err_set(e, "cannot make a certificate for '%s': OpenSSL failed",
			hosts[0]);
		free(*cert_pem);
		tls_free_key(*key_pem);
		*cert_pem = *key_pem = NULL;
		goto out;
	}
	ret = 0;
out:
	if (kb) {
		char *data = NULL;
		long len = BIO_get_mem_data(kb, &data);

		if (len > 0)
			OPENSSL_cleanse(data, (size_t)len);
	}
	BIO_free(cb);
	BIO_free(kb);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	free(san);
	return ret;
}

int
tls_cert_read(const char *cert_pem, struct tls_cert_info *out, struct err *e)
{
	X509 *x = read_cert(cert_pem);
	struct tm tm;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int ok;

	memset(out, 0, sizeof(*out));
	if (!x)
		return err_set(e, "cannot read a certificate: not PEM X.509");
	ok = ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm);
	out->not_before = ok ? timegm(&tm) : 0;
	ok = ok && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
	out->not_after = ok ? timegm(&tm) : 0;
	ok = ok && (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) &&
	     (hex = BN_bn2hex(bn));
	if (ok)
		snprintf(out->serial, sizeof(out->serial), "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return ok ? 0 :
		    err_set(e, "cannot read a certificate's dates and serial");
}

int
tls_cert_names(const char *cert_pem, const char *const *hosts, size_t n)
{
	X509 *x = read_cert(cert_pem);
	int ok = x != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = X509_check_host(x, hosts[i], 0,
				     X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	X509_free(x);
	return ok;
}

int
tls_cert_due(const char *cert_pem, const char *const *hosts, size_t n,
	     time_t now)
{
	struct tls_cert_info ci;
	struct err e;

	if (tls_cert_read(cert_pem, &ci, &e) < 0 ||
	    !tls_cert_names(cert_pem, hosts, n))
		return 1;
	return ci.not_after - now < (time_t)TLS_RENEW_DAYS * 86400;
}

/* --- sealed keys ---------------------------------------------------------- */

/* The key that seals private keys: derived from the master key for this
 * use alone (not the backups' key). */
static int
seal_key(struct crypt_key *k, const char *master_key, struct err *e)
{
	char secret[SHA256_HEX_LEN + 1];
	int rc;

	if (!master_key || !*master_key)
		return err_set(e, "cannot seal a private key: the platform's "
				  "secrets.masterKey is empty");
	hash_hmac_hex(secret, master_key, strlen(master_key),
		      "pressctl tls private keys v1");
	rc = crypt_key_derive(k, secret, strlen(secret), e);
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

static int
to_strbuf(void *arg, const void *data, size_t len, struct err *e)
{
	if (strbuf_add(arg, data, len) < 0)
		return err_set(e, "a sealed private key is larger than %zu KiB",
			       MAX_SEALED >> 10);
	return 0;
}

int
tls_key_seal(const char *master_key, const char *key_pem, char **out,
	     struct err *e)
{
	struct crypt_key k;
	struct crypt_writer *w = NULL;
	struct strbuf sb;
	int ret = -1;

	*out = NULL;
	strbuf_init(&sb, MAX_SEALED);
	if (seal_key(&k, master_key, e) < 0)
		goto out0;
	if (crypt_writer_new(&w, &k, to_strbuf, &sb, e) < 0 ||
	    crypt_writer_write(w, key_pem, strlen(key_pem), e) < 0 ||
	    crypt_writer_finish(w, e) < 0)
		goto out;
	*out = xmalloc(4 * (sb.len / 3 + 1) + 1);
	EVP_EncodeBlock((unsigned char *)*out, (const unsigned char *)sb.buf,
			(int)sb.len);
	ret = 0;
out:
	crypt_writer_free(w);
	crypt_key_wipe(&k);
out0:
	strbuf_release(&sb);
	return ret;
}

int
tls_key_open(const char *master_key, const char *sealed, char **key_pem,
	     struct err *e)
{
	struct crypt_key k;
	struct crypt_reader *r = NULL;
	struct strbuf sb;
	size_t n = sealed ? strlen(sealed) : 0;
	unsigned char *raw = NULL;
	int len, ret = -1;

	*key_pem = NULL;
	if (!n || n % 4 || n > MAX_SEALED)
		return err_set(e, "cannot open a sealed private key: not "
				  "base64 of the right size");
	strbuf_init(&sb, MAX_SEALED);
	raw = xmalloc(n / 4 * 3 + 1);
	len = EVP_DecodeBlock(raw, (const unsigned char *)sealed, (int)n);
	if (len < 0) {
		err_set(e, "cannot open a sealed private key: not base64");
		goto out0;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	for (size_t i = n; i > 0 && sealed[i - 1] == '='; i--)
		len--;
	if (seal_key(&k, master_key, e) < 0)
		goto out0;
	if (crypt_reader_new(&r, &k, to_strbuf, &sb, e) < 0 ||
	    crypt_reader_write(r, raw, (size_t)len, e) < 0 ||
	    crypt_reader_finish(r, e) < 0) {
		err_wrap(e, "cannot open a sealed private key (was the "
			    "master key changed?)");
		goto out;
	}
	*key_pem = xstrndup(sb.buf, sb.len);
	ret = 0;
out:
	crypt_reader_free(r);
	crypt_key_wipe(&k);
out0:
	if (sb.buf)
		OPENSSL_cleanse(sb.buf, sb.len);
	strbuf_release(&sb);
	free(raw);
	return ret;
}

void
tls_free_key(char *key_pem)
{
	if (!key_pem)
		return;
	OPENSSL_cleanse(key_pem, strlen(key_pem));
	free(key_pem);
}
