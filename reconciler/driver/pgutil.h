/*
 * pgutil.h - libpq helpers shared by the PostgreSQL driver and pressctl's
 * state store (apply/state.c), which both talk to the platform database.
 */
#ifndef PRESS_PGUTIL_H
#define PRESS_PGUTIL_H

#include <stddef.h>

#include <libpq-fe.h>

#include "../util/err.h"

/*
 * libpq's message on one line (newlines become "; ") into buf, with any
 * of the nsecrets strings (4 bytes or longer) replaced by "***". libpq
 * does not echo passwords in its messages; this is a second line of
 * defence.
 */
void pg_clean_msg(char *buf, size_t n, const char *msg,
		  const char *const *secrets, size_t nsecrets);

/*
 * Is a failure worth retrying? A bad connection, SQLSTATE class 08,
 * shutdowns, serialization failures, deadlocks, too many connections,
 * statement and lock timeouts, and "tuple concurrently updated".
 */
int pg_transient(PGconn *c, const char *sqlstate, const char *primary);

/*
 * Connect with dsn (a conninfo string or URI; borrowed, never printed).
 * Our keywords after the expanded DSN override it: application_name, and
 * options with "-c statement_timeout=<statement_ms>" (and lock_timeout
 * when lock_ms > 0) appended to the DSN's own; connect_timeout comes
 * before it, so a DSN that sets one wins. Notices are silenced. A failed
 * connection is a transient error whose message names no secret.
 */
PGconn *pg_connect(const char *dsn, const char *appname, int connect_timeout_s,
		   int statement_ms, int lock_ms, struct err *e);

#endif
