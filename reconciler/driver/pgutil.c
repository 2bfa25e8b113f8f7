#include "pgutil.h"

#include <string.h>

void
pg_clean_msg(char *buf, size_t n, const char *msg,
	     const char *const *secrets, size_t nsecrets)
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
