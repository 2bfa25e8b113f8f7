/*
 * options.c - one option parser for every command (git's parse-options
 * is the model): a command describes its options in a table, and the
 * formats, selectors, integers and the source (SRC, --git, --ref,
 * --path) are parsed and checked here, with the same messages
 * everywhere.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "../util/num.h"

#define MAX_OPTIONS 32

static const struct {
	const char *name;
	enum format f;
} formats[] = {
	{ "text", FORMAT_TEXT },
	{ "json", FORMAT_JSON },
	{ "github", FORMAT_GITHUB },
	{ "markdown", FORMAT_MARKDOWN },
};

int
cmd_format(const char *arg, unsigned allowed, enum format *out)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(arg, formats[i].name) == 0 &&
		    (allowed & formats[i].f)) {
			*out = formats[i].f;
			return 0;
		}
	}
	return -1;
}

/* "unknown format 'x' (use text, json or markdown)" */
static int
bad_format(const char *arg, unsigned allowed)
{
	char list[64] = "";
	size_t n = 0, k = 0;

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		n += (allowed & formats[i].f) != 0;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!(allowed & formats[i].f))
			continue;
		k++;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s",
			 k == 1 ? "" :
			 k == n ? " or " :
				  ", ",
			 formats[i].name);
	}
	return cmd_fail("unknown format '%s' (use %s)", arg, list);
}

/* One option's argument into its value; EXIT_OK or the failure printed. */
static int
take(const struct cmd_option *o, const char *arg)
{
	long long v;

	switch (o->kind) {
	case OPT_FLAG: *(int *)o->value = 1; return EXIT_OK;
	case OPT_STRING: *(const char **)o->value = arg; return EXIT_OK;
	case OPT_INT:
		if (num_parse(arg, o->min, o->max, &v) < 0)
			return cmd_fail("--%s takes %lld to %lld", o->name,
					o->min, o->max);
		*(int *)o->value = (int)v;
		return EXIT_OK;
	case OPT_FORMAT:
		if (cmd_format(arg, o->formats, o->value) < 0)
			return bad_format(arg, o->formats);
		return EXIT_OK;
	case OPT_SELECTOR:
		if (cmd_add_selector(o->value, arg) < 0)
			return cmd_fail("too many --%s selectors", o->name);
		return EXIT_OK;
	case OPT_SOURCE:
	case OPT_END: break;
	}
	return EXIT_ERROR;
}

/* The optional operand SRC and the rules between it and --git. */
static int
source_operand(struct source_opts *so, int argc, char **argv, const char *usage)
{
	if (optind < argc)
		so->dir = argv[optind++];
	if (optind < argc || (so->dir && so->git)) {
		fputs(usage, stderr);
		return EXIT_ERROR;
	}
	if (!so->git && (so->ref || so->path))
		return cmd_fail("--ref and --path need --git");
	return EXIT_OK;
}

int
cmd_parse(int argc, char **argv, const struct cmd_option *opts,
	  const char *usage, int *exit_code)
{
	struct option lo[MAX_OPTIONS + 5];
	struct source_opts *so = NULL;
	size_t n = 0;
	int c, idx;

	*exit_code = EXIT_OK;
	for (const struct cmd_option *o = opts; o->kind != OPT_END; o++) {
		if (o->kind == OPT_SOURCE) {
			so = o->value;
			continue;
		}
		lo[n++] = (struct option){ o->name,
					   o->kind == OPT_FLAG ?
						   no_argument :
						   required_argument,
					   NULL, (int)(o - opts) + 256 };
	}
	if (so) {
		lo[n++] = (struct option){ "git", required_argument, NULL,
					   'g' };
		lo[n++] = (struct option){ "ref", required_argument, NULL,
					   'r' };
		lo[n++] = (struct option){ "path", required_argument, NULL,
					   'p' };
	}
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		if (c >= 256) {
			if ((*exit_code = take(&opts[c - 256], optarg)) !=
			    EXIT_OK)
				return -1;
		} else if (c == 'g' && so) {
			so->git = optarg;
		} else if (c == 'r' && so) {
			so->ref = optarg;
		} else if (c == 'p' && so) {
			so->path = optarg;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		} else {
			fputs(usage, stderr);
			*exit_code = EXIT_ERROR;
			return -1;
		}
	}
	if (so &&
	    (*exit_code = source_operand(so, argc, argv, usage)) != EXIT_OK)
		return -1;
	return optind;
}
