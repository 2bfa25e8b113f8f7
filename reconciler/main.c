/*
 * pressctl - GitOps reconciler for a multi-tenant site-hosting platform.
 * main.c: the command table (each command lives in cmd/<name>.c) and
 * the process-wide set-up around it: libcurl's global state.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cmd/cmd.h"
#include "util/testhook.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "validate", cmd_validate,
	  "check manifests: YAML, schema, references, live names" },
	{ "diff", cmd_diff,
	  "compare the desired state at two git refs (for pull requests)" },
	{ "plan", cmd_plan,
	  "show what apply would change on the live platform" },
	{ "apply", cmd_apply,
	  "converge PostgreSQL, S3 and Docker to the manifests" },
	{ "status", cmd_status,
	  "each environment as it is live: converged, pending, drift" },
	{ "hook", cmd_hook,
	  "install and run the git hooks of a config repository" },
	{ "watch", cmd_watch,
	  "converge on every change: files, pushes, webhooks, dead containers" },
	{ "backup", cmd_backup,
	  "back up environments; list, verify and prune backups" },
	{ "restore", cmd_restore,
	  "restore a backup into an environment, never in place" },
	{ "promote", cmd_promote,
	  "check the promotion guards; commit an environment's image to another" },
	{ "rollback", cmd_rollback,
	  "commit an environment's image from before its last promotion" },
	{ "version", cmd_version, "print pressctl's version" },
	{ "complete", cmd_complete,
	  "print environments and selectors for shell completion" },
};

static void
usage(FILE *f)
{
	fputs("usage: pressctl <command> [options]\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fputs("\n'pressctl <command> --help' describes a command; "
	      "docs/ has the manual.\n",
	      f);
}

/* The command argv[1] names, or usage. */
static int
run(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pressctl: error: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_ERROR;
}

int
main(int argc, char **argv)
{
	int ret;

	testhook_start();
	/*
	 * A child that stops early (pg_restore, psql: an SQL error) must fail
	 * the action that fed it, not end the process: writes to its pipe
	 * then fail with EPIPE. Children get the default back (pgdump.c).
	 */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * libcurl's global state, once for the process and before any
	 * thread: the drivers' HTTP clients (driver/http.h) rely on it and
	 * never initialize it themselves.
	 */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("pressctl: error: cannot initialize libcurl\n", stderr);
		return EXIT_ERROR;
	}
	ret = run(argc, argv);
	curl_global_cleanup();
	return ret;
}
