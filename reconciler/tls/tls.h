/*
 * tls.h - the selfsigned certificates of Domains with `tls: selfsigned`
 * (docs/ingress.md).
 *
 * A certificate is made with OpenSSL: a P-256 key (EVP), an X.509 v3
 * certificate whose subject CN is the first host and whose
 * subjectAltName names every host (the Domain's host and its
 * redirects), valid TLS_CERT_DAYS days from an hour before now. It is
 * renewed when fewer than TLS_RENEW_DAYS days are left, or when it no
 * longer names the hosts. The private key is kept at rest only sealed:
 * AES-256-GCM (backup/crypt.h) under a key derived from the platform's
 * master key for this use alone.
 *
 * Nothing here touches a backend; pure functions of their inputs and
 * the clock they are given. Errors are permanent.
 */
#ifndef PRESS_TLS_H
#define PRESS_TLS_H

#include <stddef.h>
#include <time.h>

#include "../util/err.h"

#define TLS_CERT_DAYS 90
#define TLS_RENEW_DAYS 30

/* What a PEM certificate says. */
struct tls_cert_info {
	time_t not_before, not_after;
	char serial[80]; /* hex, upper case, as `openssl x509 -serial` */
};

/*
 * A new selfsigned certificate and key for hosts[0..n) (n >= 1), valid
 * `days` days from now - 1 h. *cert_pem and *key_pem are new strings
 * (wipe and free the key with tls_free_key).
 */
int tls_selfsigned_make(const char *const *hosts, size_t n, time_t now,
			int days, char **cert_pem, char **key_pem,
			struct err *e);

/* Read a PEM certificate's dates and serial. */
int tls_cert_read(const char *cert_pem, struct tls_cert_info *out,
		  struct err *e);

/* 1 when the PEM certificate names every one of hosts[0..n) (as TLS
 * clients check it, X509_check_host), 0 otherwise or when unreadable. */
int tls_cert_names(const char *cert_pem, const char *const *hosts, size_t n);

/*
 * Whether a certificate should be made anew at now: unreadable, not
 * naming the hosts, or fewer than TLS_RENEW_DAYS days left. 1 yes.
 */
int tls_cert_due(const char *cert_pem, const char *const *hosts, size_t n,
		 time_t now);

/*
 * Seal a PEM private key under the master key (borrowed, never kept):
 * *out is a new base64 string. tls_key_open undoes it into a new string
 * (free with tls_free_key); a wrong master key or a changed text fails.
 */
int tls_key_seal(const char *master_key, const char *key_pem, char **out,
		 struct err *e);
int tls_key_open(const char *master_key, const char *sealed, char **key_pem,
		 struct err *e);

/* Wipe and free a key string; accepts NULL. */
void tls_free_key(char *key_pem);

#endif
