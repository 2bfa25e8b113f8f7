/*
 * cmd.h - the subcommands and what they share: option parsing for
 * sources and formats, printing diagnostics. Only cmd/ and main.c print.
 */
#ifndef PRESS_CMD_H
#define PRESS_CMD_H

#include <stdio.h>

#include <jansson.h>

#include "../apply/apply.h"
#include "../driver/tlsprobe.h"
#include "../plan/plan.h"
#include "../source/source.h"
#include "../util/diag.h"
#include "../util/timings.h"

/* Exit codes (docs/design.md §7). */
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

/*
 * The options of a command, in a table ending in { OPT_END }. value
 * points at what the option sets:
 *   OPT_FLAG      int, set to 1              (--detailed-exitcode)
 *   OPT_STRING    const char *, the argument (--listen ADDR)
 *   OPT_INT       int, checked within [min, max] ("4x" is an error)
 *   OPT_FORMAT    enum format, one of formats
 *   OPT_SELECTOR  struct selectors, appended (repeatable: --only SEL)
 *   OPT_SOURCE    struct source_opts: --git, --ref, --path and the
 *                 optional operand SRC (name unused)
 */
enum cmd_option_kind {
	OPT_END,
	OPT_FLAG,
	OPT_STRING,
	OPT_INT,
	OPT_FORMAT,
	OPT_SELECTOR,
	OPT_SOURCE,
};

struct cmd_option {
	enum cmd_option_kind kind;
	const char *name; /* the long option, without "--" */
	void *value;
	long long min, max; /* OPT_INT */
	unsigned formats;   /* OPT_FORMAT: allowed (FORMAT_x bits) */
};

/*
 * Parse argv (argv[0] is the command) with the table opts. -h and --help
 * print usage on standard output; an unknown option or a bad value
 * print an error (or usage) on standard error. With an OPT_SOURCE entry
 * the operand SRC is taken too, and more operands are an error; without
 * one, operands are left to the caller. Returns the index of the first
 * operand left (argc when none), or -1 when the command must end now
 * with *exit_code (EXIT_OK after --help, EXIT_ERROR otherwise).
 */
int cmd_parse(int argc, char **argv, const struct cmd_option *opts,
	      const char *usage, int *exit_code);

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
 * otherwise compiler-style text on stderr. t (borrowed, may be NULL)
 * receives the phases "load" and "validate". */
int cmd_load_model(struct model **m, const struct source_opts *so, int as_log,
		   struct timings *t);

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
	int interrupted; /* apply: earlier runs found interrupted */
};

/*
 * Load the source, open the state, take the apply lock when lock (and
 * wait for it with wait), observe, build the plan restricted by only
 * (may be NULL). Prints what went wrong and returns the exit code;
 * EXIT_OK when cp is ready (release with cmd_pass_close).
 */
/* only: --only (NULL: every environment); adopt: --adopt (NULL: none).
 * t (borrowed, may be NULL; it must outlive cp) receives the phases
 * load, validate, state read, observe (with a part per backend) and
 * diff, and those of apply_plan. */
int cmd_pass_open(struct cmd_pass *cp, const struct source_opts *so,
		  const char *command, int lock, int wait,
		  const struct plan_filter *only,
		  const struct plan_filter *adopt, struct timings *t);
void cmd_pass_close(struct cmd_pass *cp);

/* --timings: the phase table of t (util/timings.h) for the pass
 * measured since timings_init, on stderr; standard output is left as it
 * is. Accepts NULL (prints nothing). */
void cmd_print_timings(const struct timings *t);
/* The same figures as a new object for a log line: seconds by phase,
 * by "phase part" for the parts, "other" and "total" (wall). */
json_t *cmd_timings_json(const struct timings *t, double wall);

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

/* The certificate served for a Domain's host (cmd/certs.c). */
struct cert_check {
	const struct domain *domain;
	struct tls_cert cert;
};

/* Probe every routed Domain with TLS (not tls none, no wildcard) at the
 * ingress's https port on 127.0.0.1; *out is a new array (NULL when
 * none), the count is returned. */
size_t cmd_cert_checks(const struct model *m, time_t now,
		       struct cert_check **out);
/* What is wrong with it, as a new string; NULL when healthy. */
char *cmd_cert_problem(const struct cert_check *c);
/* Its entry in status --format json (schema/status.schema.json). */
json_t *cmd_cert_json(const struct cert_check *c);

/*
 * The status document of an observed pass (schema/status.schema.json),
 * a new object, for status and the watcher's dashboard: have/nhave the
 * newest backups (state_backups_newest), certs/ncerts the certificate
 * checks (NULL, 0: none), history what state_history read (borrowed;
 * NULL: no last reconcile, no promotions).
 */
json_t *cmd_status_doc(const struct pass *p, const struct plan *plan,
		       const struct rec_backup *have, size_t nhave,
		       const struct cert_check *certs, size_t ncerts,
		       json_t *history);

int cmd_validate(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_hook(int argc, char **argv);
#define PRESSCTL_VERSION "0.1.0"
int cmd_version(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_complete(int argc, char **argv);

#endif
