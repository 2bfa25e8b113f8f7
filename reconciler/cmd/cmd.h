/*
 * cmd.h - the subcommands and what they share: option parsing for
 * sources and formats, printing diagnostics. Only cmd/ and main.c print.
 */
#ifndef PRESS_CMD_H
#define PRESS_CMD_H

#include <stdio.h>

#include <jansson.h>

#include "../apply/apply.h"
#include "../plan/plan.h"
#include "../source/source.h"
#include "../util/diag.h"

/* Exit codes (DESIGN §7). */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_CHANGES = 2,
	EXIT_REFUSED = 3,
	EXIT_FAILED = 4,
};

enum format {
	FORMAT_TEXT = 1 << 0,
	FORMAT_JSON = 1 << 1,
	FORMAT_GITHUB = 1 << 2,
	FORMAT_MARKDOWN = 1 << 3,
};

/* SRC: a directory (or file), or --git PATH [--ref REF] [--path SUBDIR]. */
struct source_opts {
	const char *dir;
	const char *git, *ref, *path;
};

/* The getopt_long entries of the source options, and their handler:
 * returns 1 when c was one of them. */
#define SOURCE_OPTIONS \
	{ "git", required_argument, NULL, 'g' }, \
	{ "ref", required_argument, NULL, 'r' }, \
	{ "path", required_argument, NULL, 'p' }
int cmd_source_opt(struct source_opts *so, int c, const char *arg);

/* After getopt: the optional positional SRC; -1 (usage printed) when
 * more arguments are left or SRC is given with --git. */
int cmd_source_args(struct source_opts *so, int argc, char **argv,
		    const char *usage);

/* Parse "text|json|github|markdown" among the allowed set; 0 or -1. */
int cmd_format(const char *arg, unsigned allowed, enum format *out);

/* Read the source the options name (the directory "." by default). */
int cmd_source_load(struct source *src, const struct source_opts *o,
		    struct err *e);

/* Diagnostics as JSON (new reference): the "diagnostics" array. */
json_t *cmd_diags_json(const struct diags *d);

/* Print diagnostics: text to stderr (file:line:col: error: msg), github
 * workflow annotations to stdout; nothing for json (embedded by the
 * caller). */
void cmd_print_diags(const struct diags *d, enum format f);

/* Print "pressctl: error: <msg>" to stderr; returns EXIT_ERROR. */
int cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a JSON value to stdout, indented, with a final newline. */
void cmd_print_json(json_t *v);

/* Load and validate the source into *m; on failure print the diagnostics
 * and return EXIT_ERROR, else EXIT_OK. With as_log the diagnostics are
 * log lines (cmd_log: JSON when not on a terminal), for the daemon;
 * otherwise compiler-style text on stderr. */
int cmd_load_model(struct model **m, const struct source_opts *so,
		   int as_log);

/* --only selectors: "acme" (a site), "acme/staging" (an environment),
 * "tier=gold" (a site or environment label). Repeatable. */
struct selectors {
	const char *v[64];
	int n;
};

int cmd_add_selector(struct selectors *s, const char *arg);
/* plan_filter.match for selectors (arg: struct selectors *). */
int cmd_selector_match(const struct model *m, const char *env_id, void *arg);

/* A live pass for plan, apply and status: the model, the state and the
 * observation, and the plan built from them. */
struct cmd_pass {
	struct model *m;
	struct pass pass;
	struct plan plan;
	int interrupted;	/* apply: earlier runs found interrupted */
};

/*
 * Load the source, open the state, take the apply lock when lock (and
 * wait for it with wait), observe, build the plan restricted by only
 * (may be NULL). Prints what went wrong and returns the exit code;
 * EXIT_OK when cp is ready (release with cmd_pass_close).
 */
/* only: --only (NULL: every environment); adopt: --adopt (NULL: none). */
int cmd_pass_open(struct cmd_pass *cp, const struct source_opts *so,
		  const char *command, int lock, int wait,
		  const struct plan_filter *only,
		  const struct plan_filter *adopt);
void cmd_pass_close(struct cmd_pass *cp);

/* Is stderr a terminal (progress lines) or not (JSON log lines)? */
int cmd_tty(void);

/*
 * A log line on stderr: one JSON object per line when stderr is not a
 * terminal ({"time", "level", "message", ...fields}), a readable line
 * when it is. fields (stolen, may be NULL) holds site, env, action,
 * revision, duration and the like; never secrets.
 */
void cmd_log(const char *level, const char *message, json_t *fields);

/* The fields of an action for cmd_log (new object). */
json_t *cmd_action_fields(const struct action *a, const char *outcome,
			  const char *error);

int cmd_validate(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_hook(int argc, char **argv);
#define PRESSCTL_VERSION "0.1.0"
int cmd_version(int argc, char **argv);
int cmd_watch(int argc, char **argv);

#endif
