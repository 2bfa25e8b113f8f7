/*
 * cron_next - cron_next() and cron_prev() of many expressions in one run,
 * for tests/integration/test_cron_differential.py.
 *
 * Reads lines "EXPR<TAB>EPOCH" on standard input and prints, for each, a
 * line "NEXT<TAB>PREV" (cron_next(EXPR, EPOCH) and cron_prev(EXPR,
 * EPOCH), epochs, -1 for none) or "error: MESSAGE" when cron_parse
 * refuses EXPR. A line that is not of that form ends the run with
 * status 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/cron.h"
#include "util/num.h"

int
main(void)
{
	char *line = NULL, msg[256];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int status = 0;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		char *tab = strchr(line, '\t');
		long long epoch;
		struct cron c;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (!tab ||
		    num_parse(tab + 1, -(1LL << 40), 1LL << 40, &epoch) < 0) {
			fprintf(stderr,
				"cron_next: line %ld: expected "
				"EXPR<TAB>EPOCH\n",
				lineno);
			status = 2;
			goto out;
		}
		*tab = '\0';
		if (cron_parse(&c, line, msg, sizeof(msg)) < 0) {
			printf("error: %s\n", msg);
			continue;
		}
		printf("%lld\t%lld\n", (long long)cron_next(&c, (time_t)epoch),
		       (long long)cron_prev(&c, (time_t)epoch));
	}
	if (ferror(stdin) || fflush(stdout) != 0) {
		perror("cron_next");
		status = 2;
	}
out:
	free(line);
	return status;
}
