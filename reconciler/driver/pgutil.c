#include "pgutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pg_clean_msg(char *buf, size_t n, const char *msg, const char *const *secrets,
	     size_t nsecrets)
{
	size_t w = 0;

	if (!msg || !*msg)
		msg = "unknown error";
	while (*msg && w + 1 < n) {
		size_t skip = 0;

		for (size_t i = 0; i < nsecrets; i++) {
			size_t l = secrets[i] ? strlen(secrets[i]) : 0;

			if (l >= 4 && strncmp(msg, secrets[i], l) == 0) {
				skip = l;
				break;
			}
		}
		if (skip) {
			for (const char *s = "***"; *s && w + 1 < n; s++)
				buf[w++] = *s;
			msg += skip;
			continue;
		}
		if (*msg == '\n' || *msg == '\r') {
			while (*msg == '\n' || *msg == '\r' || *msg == ' ' ||
			       *msg == '\t')
				msg++;
			if (*msg && w + 3 < n) {
				buf[w++] = ';';
				buf[w++] = ' ';
			}
			continue;
		}
		buf[w++] = *msg++;
	}
	buf[w] = '\0';
}

int
pg_transient(PGconn *c, const char *state, const char *primary)
{
	static const char *const codes[] = {
		"57P01", "57P02", "57P03", /* admin/crash shutdown */
		"40001", "40P01",	   /* serialization, deadlock */
		"53300",		   /* too many connections */
		"57014",		   /* statement timeout */
		"55P03",		   /* lock timeout */
	};

	if (!c || PQstatus(c) == CONNECTION_BAD)
		return 1;
	if (!state)
		return 0;
	if (strncmp(state, "08", 2) == 0)
		return 1;
	/* Concurrent DDL on one catalog row (someone else's GRANT). */
	if (strcmp(state, "XX000") == 0 && primary &&
	    strcmp(primary, "tuple concurrently updated") == 0)
		return 1;
	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++)
		if (strcmp(state, codes[i]) == 0)
			return 1;
	return 0;
}

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *
pg_connect(const char *dsn, const char *appname, int connect_timeout_s,
	   int statement_ms, int lock_ms, struct err *e)
{
	PQconninfoOption *opts;
	const char *kw[5], *val[5], *secrets[2];
	const char *password = NULL, *dsn_options = NULL;
	char *errmsg = NULL, ctimeout[16], *options = NULL, lock[48] = "";
	char msg[768];
	PGconn *c = NULL;
	int i = 0;

	opts = PQconninfoParse(dsn, &errmsg);
	if (!opts) {
		/* errmsg may quote the DSN (and a password in it): drop it. */
		PQfreemem(errmsg);
		err_set(e,
			"cannot connect to PostgreSQL: the connection "
			"string (postgres.dsn) is malformed; check its syntax");
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "password") == 0)
			password = o->val;
		else if (strcmp(o->keyword, "options") == 0)
			dsn_options = o->val;
	}
	if (lock_ms > 0)
		snprintf(lock, sizeof(lock), " -c lock_timeout=%d", lock_ms);
	options = xprintf("%s%s-c statement_timeout=%d%s",
			  dsn_options ? dsn_options : "",
			  dsn_options && *dsn_options ? " " : "", statement_ms,
			  lock);
	snprintf(ctimeout, sizeof(ctimeout), "%d", connect_timeout_s);
	kw[i] = "connect_timeout", val[i++] = ctimeout;
	kw[i] = "dbname", val[i++] = dsn;
	kw[i] = "application_name", val[i++] = appname;
	kw[i] = "options", val[i++] = options;
	kw[i] = NULL, val[i] = NULL;

	c = PQconnectdbParams(kw, val, 1);
	if (!c) {
		err_transient(e, "cannot connect to PostgreSQL: out of memory");
	} else if (PQstatus(c) != CONNECTION_OK) {
		secrets[0] = password;
		secrets[1] = dsn;
		pg_clean_msg(msg, sizeof(msg), PQerrorMessage(c), secrets, 2);
		err_transient(e, "cannot connect to PostgreSQL: %s", msg);
		PQfinish(c);
		c = NULL;
	} else {
		PQsetNoticeProcessor(c, quiet, NULL);
	}
	free(options);
	PQconninfoFree(opts);
	return c;
}
