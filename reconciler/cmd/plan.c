/*
 * pressctl plan [SRC] [--only SEL] [--format text|json|markdown]
 *               [--detailed-exitcode]
 *
 * Observes the live platform and prints what apply would do. Changes
 * nothing (not even the lock). Exit 0; with --detailed-exitcode 2 when
 * there are changes; 3 when apply would be refused by a guard; 1 error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "../apply/apply.h"
#include "../guard/guard.h"
#include "../plan/plan.h"

static const char usage_text[] =
	"usage: pressctl plan [DIR] [--only SEL]... [--format text|json|markdown]\n"
	"                     [--detailed-exitcode]\n"
	"       pressctl plan --git REPO [--ref REF] [--path SUBDIR] [...]\n"
	"\n"
	"Shows what apply would change: creates, updates (spec changes), drift\n"
	"to heal, soft deletes and purges with the data they hold. SEL is a\n"
	"site (acme), an environment (acme/staging) or a label (tier=gold).\n";

int
cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "only", required_argument, NULL, 'o' },
		{ "detailed-exitcode", no_argument, NULL, 'd' },
		{ "git", required_argument, NULL, 'g' },
		{ "ref", required_argument, NULL, 'r' },
		{ "path", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct source_opts so = { 0 };
	struct selectors sel = { .n = 0 };
	struct plan_filter filter = { cmd_selector_match, &sel };
	enum format fmt = FORMAT_TEXT;
	struct model *m = NULL;
	struct pass pass;
	struct plan plan;
	struct err e, ge;
	int c, detailed = 0, rc, refused;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (cmd_format(optarg, FORMAT_TEXT | FORMAT_JSON |
				       FORMAT_MARKDOWN, &fmt) < 0)
				return cmd_fail("unknown format '%s' (use text, "
						"json or markdown)", optarg);
			break;
		case 'o':
			if (cmd_add_selector(&sel, optarg) < 0)
				return cmd_fail("too many --only selectors");
			break;
		case 'd': detailed = 1; break;
		case 'g': so.git = optarg; break;
		case 'r': so.ref = optarg; break;
		case 'p': so.path = optarg; break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		default: fputs(usage_text, stderr); return EXIT_ERROR;
		}
	}
	if (optind < argc)
		so.dir = argv[optind++];
	if (optind < argc) {
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	if ((rc = cmd_load_model(&m, &so)) != EXIT_OK)
		return rc;
	if (pass_open(&pass, m, "plan", &e) < 0) {
		model_free(m);
		return cmd_fail("%s", e.msg);
	}
	if (pass_observe(&pass, &e) < 0 ||
	    plan_build(&plan, m, &pass.rec, &pass.live, pass.now, &filter, &e) < 0) {
		pass_close(&pass);
		model_free(m);
		return cmd_fail("%s", e.msg);
	}
	refused = guard_mass_delete(&plan, m->platform.max_delete_percent, 0, &ge);
	if (fmt == FORMAT_JSON) {
		json_t *j = plan_json(&plan, &pass.live);

		if (refused)
			json_object_set_new(j, "refused", json_string(ge.msg));
		cmd_print_json(j);
		json_decref(j);
	} else {
		struct strbuf sb;

		strbuf_init(&sb, 0);
		if (fmt == FORMAT_MARKDOWN)
			plan_render_markdown(&sb, &plan, &pass.live);
		else
			plan_render_text(&sb, &plan, &pass.live);
		if (refused)
			strbuf_addf(&sb, "%sapply would be refused: %s\n",
				    fmt == FORMAT_MARKDOWN ? "\n**" : "", ge.msg);
		fwrite(sb.buf, 1, sb.len, stdout);
		strbuf_release(&sb);
	}
	rc = refused ? EXIT_REFUSED :
	    detailed && plan.n > 0 ? EXIT_CHANGES : EXIT_OK;
	plan_release(&plan);
	pass_close(&pass);
	model_free(m);
	return rc;
}
