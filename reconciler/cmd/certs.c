/*
 * certs.c - the certificate each TLS Domain's host is served with, for
 * status, plan and watch (driver/tlsprobe.h).
 *
 * Where: the platform's ingress, its https port (spec.ingress.https) on
 * 127.0.0.1, with the host as SNI. A platform without an ingress routes
 * no Domain and has nothing to check; Domains with tls none and wildcard
 * hosts (no single name to ask for) are not checked.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define CERT_ADDR "127.0.0.1"

size_t
cmd_cert_checks(const struct model *m, time_t now, struct cert_check **out)
{
	struct cert_check *v;
	struct tls_cert *c;
	size_t n = 0;

	*out = NULL;
	if (!m->platform.ingress_driver || m->ndomains == 0)
		return 0;
	v = xcalloc(m->ndomains, sizeof(*v));
	for (size_t i = 0; i < m->ndomains; i++) {
		const struct domain *d = &m->domains[i];

		if (!d->valid || !d->env || !d->host || !d->tls ||
		    !strcmp(d->tls, "none") || strchr(d->host, '*'))
			continue;
		v[n].domain = d;
		v[n].cert.host = d->host;
		n++;
	}
	if (n == 0) {
		free(v);
		return 0;
	}
	c = xcalloc(n, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[i].host = v[i].cert.host;
	if (m->platform.ingress_https > 0)
		tlsprobe_run(c, n, CERT_ADDR, m->platform.ingress_https, now, 0,
			     0);
	for (size_t i = 0; i < n; i++) {
		v[i].cert = c[i];
		if (m->platform.ingress_https <= 0)
			snprintf(v[i].cert.error, sizeof(v[i].cert.error),
				 "the ingress has no https port "
				 "(Platform spec.ingress.https)");
	}
	free(c);
	*out = v;
	return n;
}

char *
cmd_cert_problem(const struct cert_check *c)
{
	const struct tls_cert *t = &c->cert;

	if (!t->ok)
		return xprintf("no certificate for %s: %s", t->host, t->error);
	if (!t->name_match)
		return xprintf("the certificate served for %s does not name "
			       "it (subject %s)",
			       t->host, t->subject[0] ? t->subject : "empty");
	if (!t->healthy)
		return t->days_left < 0 ?
			       xprintf("the certificate of %s has expired",
				       t->host) :
			       xprintf("the certificate of %s expires in %lld "
				       "day%s (under %d)",
				       t->host, t->days_left,
				       t->days_left == 1 ? "" : "s",
				       TLSPROBE_MIN_DAYS);
	return NULL;
}

json_t *
cmd_cert_json(const struct cert_check *c)
{
	const struct tls_cert *t = &c->cert;
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "domain",
			      c->domain->name, "host", t->host, "tls",
			      c->domain->tls, "served", t->ok, "healthy",
			      t->healthy);

	json_object_set_new(o, "nameMatch",
			    t->ok ? json_boolean(t->name_match) : json_null());
	json_object_set_new(o, "subject",
			    t->ok ? json_string(t->subject) : json_null());
	json_object_set_new(o, "issuer",
			    t->ok ? json_string(t->issuer) : json_null());
	json_object_set_new(o, "notAfter",
			    t->ok ? json_integer((json_int_t)t->not_after) :
				    json_null());
	json_object_set_new(o, "daysLeft",
			    t->ok ? json_integer((json_int_t)t->days_left) :
				    json_null());
	json_object_set_new(o, "error",
			    t->ok ? json_null() : json_string(t->error));
	return o;
}
