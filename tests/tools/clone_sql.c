/*
 * clone_sql - the SQL of clone_sql_build() (reconciler/clone/clone.h),
 * for tests/integration/test_clone_sql.py.
 *
 *   clone_sql --app APP --stage STAGE --clone-from JSON
 *             [--site-spec JSON] [--catchall EMAIL] [--prefix PREFIX]
 *             [--part neutralize|verify|env]
 *
 * The anonymization key comes from the environment variable
 * PRESS_CLONE_SALT (hexadecimal), never from the command line. Prints
 * the part asked for (neutralize by default) and exits 0; prints
 * nothing when there is nothing to do; "env" prints NAME=VALUE of
 * clone_env_var, or nothing. On an error, prints "error: MESSAGE" on
 * standard error and exits 1; a bad command line exits 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clone/clone.h"

static int
usage(const char *msg)
{
	fprintf(stderr,
		"clone_sql: %s\n"
		"usage: clone_sql --app APP --stage STAGE --clone-from JSON "
		"[--site-spec JSON] [--catchall EMAIL] [--prefix PREFIX] "
		"[--part neutralize|verify|env]\n",
		msg);
	return 2;
}

static json_t *
parse(const char *what, const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (!v)
		fprintf(stderr, "clone_sql: %s is not JSON: %s\n", what,
			je.text);
	return v;
}

int
main(int argc, char **argv)
{
	struct clone_opts o = { 0 };
	struct clone_sql s = { 0 };
	const char *part = "neutralize", *from = NULL, *spec = NULL;
	json_t *jfrom = NULL, *jspec = NULL;
	struct err e;
	int status = 1;

	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage("an option lacks its value");
		if (strcmp(k, "--app") == 0)
			o.app = v;
		else if (strcmp(k, "--stage") == 0)
			o.stage = v;
		else if (strcmp(k, "--clone-from") == 0)
			from = v;
		else if (strcmp(k, "--site-spec") == 0)
			spec = v;
		else if (strcmp(k, "--catchall") == 0)
			o.catchall_email = v;
		else if (strcmp(k, "--prefix") == 0)
			o.table_prefix = v;
		else if (strcmp(k, "--part") == 0)
			part = v;
		else
			return usage("unknown option");
	}
	if (strcmp(part, "env") == 0) {
		const char *name, *value;

		if (clone_env_var(o.app, o.stage, &name, &value))
			printf("%s=%s\n", name, value);
		return 0;
	}
	if (!from)
		return usage("--clone-from is required");
	if (!(jfrom = parse("--clone-from", from)) ||
	    (spec && !(jspec = parse("--site-spec", spec)))) {
		status = 2;
		goto out;
	}
	o.clone_from = jfrom;
	o.site_spec = jspec;
	o.salt_hex = getenv("PRESS_CLONE_SALT");
	if (clone_sql_build(&s, &o, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		goto out;
	}
	if (strcmp(part, "neutralize") == 0 && s.neutralize)
		fputs(s.neutralize, stdout);
	else if (strcmp(part, "verify") == 0 && s.verify)
		printf("%s\n", s.verify);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	clone_sql_release(&s);
	json_decref(jfrom);
	json_decref(jspec);
	return status;
}
