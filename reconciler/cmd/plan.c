/*
 * pressctl plan [SRC] [--only SEL] [--format text|json|markdown]
 *               [--detailed-exitcode] [--timings]
 *
 * Observes the live platform and prints what apply would do. Changes
 * nothing live and takes no lock (it does create or migrate pressctl's
 * own state schema on first use). Exit 0; with --detailed-exitcode 2 when
 * there are changes; 3 when apply would be refused by a guard; 1 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../apply/apply.h"
#include "../guard/guard.h"
#include "../plan/plan.h"

static const char usage_text[] =
	"usage: pressctl plan [DIR] [--only SEL]... [--adopt SEL]...\n"
	"                     [--format text|json|markdown] [--detailed-exitcode]\n"
	"                     [--timings]\n"
	"       pressctl plan --git REPO [--ref REF] [--path SUBDIR] [...]\n"
	"\n"
	"Shows what apply would change: creates, updates (spec changes), drift\n"
	"to heal, soft deletes and purges with the data they hold. SEL is a\n"
	"site (acme), an environment (acme/staging) or a label (tier=gold).\n"
	"Objects of another platform, or unmarked ones holding data, are\n"
	"conflicts; --adopt SEL lets the unmarked ones of SEL be adopted.\n"
	"--timings prints where the time went on standard error.\n";

/* The certificate problems of the Domains with TLS, as warnings (they
 * change nothing apply would do). */
static json_t *
cert_warnings(const struct cmd_pass *cp)
{
	struct cert_check *certs;
	size_t n = cmd_cert_checks(cp->m, cp->pass.now, &certs);
	json_t *w = json_array();

	for (size_t i = 0; i < n; i++) {
		char *problem = cmd_cert_problem(&certs[i]);

		if (problem)
			json_array_append_new(w,
					      json_pack("{s:s, s:s, s:s}",
							"environment",
							certs[i].domain->env->id,
							"host",
							certs[i].cert.host,
							"text", problem));
		free(problem);
	}
	free(certs);
	return w;
}

int
cmd_plan(int argc, char **argv)
{
	struct source_opts so = { 0 };
	struct selectors sel = { .n = 0 };
	struct plan_filter filter = { cmd_selector_match, &sel };
	struct selectors adopt_sel = { .n = 0 };
	struct plan_filter adopt = { cmd_selector_match, &adopt_sel };
	enum format fmt = FORMAT_TEXT;
	struct cmd_pass cp;
	struct timings tm, *t = NULL;
	struct err ge;
	json_t *warnings, *wv;
	size_t wi;
	int detailed = 0, timed = 0, rc, refused;
	const struct cmd_option opts[] = {
		{ OPT_FORMAT, "format", &fmt, 0, 0,
		  FORMAT_TEXT | FORMAT_JSON | FORMAT_MARKDOWN },
		{ OPT_SELECTOR, "only", &sel, 0, 0, 0 },
		{ OPT_SELECTOR, "adopt", &adopt_sel, 0, 0, 0 },
		{ OPT_FLAG, "detailed-exitcode", &detailed, 0, 0, 0 },
		{ OPT_FLAG, "timings", &timed, 0, 0, 0 },
		{ OPT_SOURCE, NULL, &so, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	if (cmd_parse(argc, argv, opts, usage_text, &rc) < 0)
		return rc;
	if (timed) {
		timings_init_process(&tm);
		t = &tm;
	}
	if ((rc = cmd_pass_open(&cp, &so, "plan", 0, 0, &filter,
				adopt_sel.n ? &adopt : NULL, t)) != EXIT_OK)
		goto out;
	refused = guard_conflicts(&cp.plan, &ge) ||
		  guard_mass_delete(&cp.plan, cp.m->platform.max_delete_percent,
				    0, &ge);
	warnings = cert_warnings(&cp);
	if (fmt == FORMAT_JSON) {
		json_t *j = plan_json(&cp.plan, &cp.pass.live);

		if (json_array_size(warnings))
			json_object_set(j, "warnings", warnings);

		if (refused)
			json_object_set_new(j, "refused", json_string(ge.msg));
		cmd_print_json(j);
		json_decref(j);
	} else {
		struct strbuf sb;

		strbuf_init(&sb, 0);
		if (fmt == FORMAT_MARKDOWN)
			plan_render_markdown(&sb, &cp.plan, &cp.pass.live);
		else
			plan_render_text(&sb, &cp.plan, &cp.pass.live);
		json_array_foreach(warnings, wi, wv)
			strbuf_addf(&sb,
				    fmt == FORMAT_MARKDOWN ?
					    "\n**warning:** %s (%s)\n" :
					    "warning: %s (%s)\n",
				    json_string_value(
					    json_object_get(wv, "text")),
				    json_string_value(
					    json_object_get(wv,
							    "environment")));
		if (refused && fmt == FORMAT_MARKDOWN)
			strbuf_addf(&sb, "\n**apply would be refused:** %s\n",
				    ge.msg);
		else if (refused)
			strbuf_addf(&sb, "apply would be refused: %s\n",
				    ge.msg);
		fwrite(sb.buf, 1, sb.len, stdout);
		strbuf_release(&sb);
	}
	rc = refused		       ? EXIT_REFUSED :
	     detailed && cp.plan.n > 0 ? EXIT_CHANGES :
					 EXIT_OK;
	json_decref(warnings);
	fflush(stdout);
	timings_phase(t, "render");
	cmd_pass_close(&cp);
	timings_phase(t, "close");
	cmd_print_timings(t);
out:
	timings_release(t);
	return rc;
}
