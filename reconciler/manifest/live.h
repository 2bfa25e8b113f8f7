/*
 * live.h - the live objects a model asks of the backends: their kinds
 * and their desired form. The small part of the model the driver
 * interface needs (driver/driver.h includes this, not manifest.h).
 */
#ifndef PRESS_LIVE_H
#define PRESS_LIVE_H

#include <jansson.h>

struct environment; /* manifest.h */

enum live_kind {
	LIVE_ROLE,
	LIVE_SCHEMA,
	LIVE_BUCKET,
	LIVE_CONTAINER,
	LIVE_ROUTE, /* an ingress route: a Domain's hosts, or a preview's
		     * generated host, to its environment */
};

#define LIVE_NKINDS 5 /* kinds above, for arrays indexed by kind */

const char *live_kind_name(enum live_kind k);

/* One object pressctl manages in a backend, as desired. */
struct live_object {
	enum live_kind kind;
	const char *name; /* borrowed from its environment */
	const struct environment *env;
	json_t *spec;  /* owned: canonical desired spec */
	char hash[65]; /* SHA-256 of the canonical JSON */
	/* Routes with tls: selfsigned, at apply time: the certificate and
	 * its private key (PEM, borrowed) that the ingress serves; NULL
	 * when not known (the plan, other kinds). The key is a secret. */
	const char *cert_pem, *key_pem;
};

#endif
