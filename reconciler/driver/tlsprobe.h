/*
 * tlsprobe.h - the certificate an ingress serves for a host.
 *
 * Connects with TLS to the ingress's https address, sends the host as
 * SNI, and reads the certificate served: whether it names the host
 * (X509_check_host: subject CN or SAN, wildcards as TLS allows them),
 * its subject, issuer and expiry. The chain is not verified: a
 * selfsigned certificate is a valid answer here; what matters is the
 * name and the time left. Nothing is sent after the handshake.
 */
#ifndef PRESS_TLSPROBE_H
#define PRESS_TLSPROBE_H

#include <stddef.h>
#include <time.h>

/* Under this many days left, a certificate is unhealthy. */
#define TLSPROBE_MIN_DAYS 14

struct tls_cert {
	const char *host;    /* in: the SNI name to ask for (borrowed) */
	int ok;		     /* out: a certificate was read */
	int name_match;	     /* out: it is valid for host */
	char subject[256];   /* out: RFC 2253, one line */
	char issuer[256];    /* out: RFC 2253, one line */
	time_t not_after;    /* out: its notAfter */
	long long days_left; /* out: whole days from now to not_after */
	int healthy;	     /* out: ok, name_match, >= TLSPROBE_MIN_DAYS */
	char error[256];     /* out: why no certificate (ok == 0) */
};

/*
 * Probe every v[i].host at addr:port (a numeric IPv4/IPv6 address), at
 * most `parallel` at once (0: a default), each within timeout_ms (0: a
 * default) for connecting and the handshake together. Days are counted
 * from now. Never fails as a whole: each entry says what it saw.
 */
void tlsprobe_run(struct tls_cert *v, size_t n, const char *addr, int port,
		  time_t now, int timeout_ms, int parallel);

#endif
