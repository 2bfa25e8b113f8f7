/*
 * pressctl apply [SRC] [--only SEL] [--parallel N] [--allow-mass-delete]
 *                [--wait] [--timings]
 *
 * Converges the live platform to the source. One applier per platform
 * (an advisory lock). Exit 0 converged, 1 error (nothing changed), 3
 * refused by a safety guard (nothing changed), 4 some actions failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "../apply/apply.h"
#include "../guard/guard.h"
#include "../plan/plan.h"

static const char usage_text[] =
	"usage: pressctl apply [DIR] [--only SEL]... [--adopt SEL]... [--parallel N]\n"
	"                      [--allow-mass-delete] [--wait] [--timings]\n"
	"       pressctl apply --git REPO [--ref REF] [--path SUBDIR] [...]\n"
	"\n"
	"Converges PostgreSQL, S3 and Docker to the manifests. Removing an\n"
	"environment is a soft delete: its containers go, its schema and bucket\n"
	"stay for safety.softDeleteDays. --wait waits for another applier's\n"
	"lock instead of exiting. pressctl touches only objects that carry its\n"
	"platform's mark or its state rows; --adopt SEL adopts unmarked objects\n"
	"of SEL that hold data. --timings prints where the time went (phases,\n"
	"actions by kind, health waits) on standard error.\n";

struct progress {
	int tty;
};

static void
progress(void *arg, size_t finished, size_t total, const struct action *a,
	 const char *outcome, const char *error)
{
	const struct progress *pr = arg;

	if (!pr->tty) {
		cmd_log(strcmp(outcome, "done") ? "error" : "info", "action",
			cmd_action_fields(a, outcome, error));
		return;
	}
	fprintf(stderr, "[%zu/%zu] %-7s %s %s %s%s%s\n", finished, total,
		outcome, action_verb(a),
		a->act.name ? live_kind_name(a->act.kind) : "environment",
		a->act.name ? a->act.name : a->env_id, error ? ": " : "",
		error ? error : "");
}

int
cmd_apply(int argc, char **argv)
{
	struct source_opts so = { 0 };
	struct selectors sel = { .n = 0 };
	struct plan_filter filter = { cmd_selector_match, &sel };
	struct selectors adopt_sel = { .n = 0 };
	struct plan_filter adopt = { cmd_selector_match, &adopt_sel };
	struct progress pr = { cmd_tty() };
	struct apply_opts ao = { 4, 5, progress, &pr, NULL };
	struct apply_result res;
	struct cmd_pass cp;
	struct timings tm, *t = NULL;
	struct model *m;
	struct err e;
	int rc, allow = 0, wait = 0, timed = 0;
	const struct cmd_option opts[] = {
		{ OPT_SELECTOR, "only", &sel, 0, 0, 0 },
		{ OPT_SELECTOR, "adopt", &adopt_sel, 0, 0, 0 },
		{ OPT_INT, "parallel", &ao.parallel, 1, 64, 0 },
		{ OPT_FLAG, "allow-mass-delete", &allow, 0, 0, 0 },
		{ OPT_FLAG, "wait", &wait, 0, 0, 0 },
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
	if ((rc = cmd_pass_open(&cp, &so, "apply", 1, wait, &filter,
				adopt_sel.n ? &adopt : NULL, t)) != EXIT_OK)
		goto out;
	m = cp.m;
	if (cp.interrupted)
		cmd_log("warn",
			"earlier apply runs were interrupted; their "
			"unfinished intents stay in the journal and this run "
			"converges them",
			json_pack("{s:s, s:i}", "platform", m->platform.name,
				  "runs", cp.interrupted));
	if (guard_conflicts(&cp.plan, &e) ||
	    guard_mass_delete(&cp.plan, m->platform.max_delete_percent, allow,
			      &e)) {
		for (size_t i = 0; i < cp.plan.nconflicts; i++) {
			const struct plan_conflict *k = &cp.plan.conflicts[i];

			cmd_log("error", "conflict",
				json_pack("{s:s, s:s, s:s, s:s?, s:s}", "env",
					  k->env_id, "kind",
					  live_kind_name(k->kind), "target",
					  k->name, "owner", k->owner, "reason",
					  k->text));
		}
		cmd_log("error",
			"refused by a safety guard; nothing was changed",
			json_pack("{s:s}", "error", e.msg));
		rc = EXIT_REFUSED;
	} else if (cp.plan.n == 0) {
		printf("platform '%s' at %s: no changes%s\n", m->platform.name,
		       m->revision,
		       cp.plan.nnotes ? " to apply now (see the "
					"notes)" :
					"");
		rc = EXIT_OK;
	} else if (apply_plan(&cp.pass, &cp.plan, &ao, &res, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
	} else {
		printf("platform '%s' at %s: %zu done, %zu failed, %zu skipped "
		       "(run %lld)\n",
		       m->platform.name, m->revision, res.done, res.failed,
		       res.skipped, res.run_id);
		rc = res.failed || res.skipped ? EXIT_FAILED : EXIT_OK;
	}
	for (size_t i = 0; i < cp.plan.nnotes; i++) {
		const struct plan_note *n = &cp.plan.notes[i];

		cmd_log("warn", n->text,
			json_pack("{s:s, s:s}", "env", n->env_id, "target",
				  n->name));
		/* A held rollout is not converged: say so in the exit code. */
		if (n->name[0] && rc == EXIT_OK)
			rc = EXIT_FAILED;
	}
	fflush(stdout);
	timings_phase(t, "render");
	cmd_pass_close(&cp);
	timings_phase(t, "close");
	cmd_print_timings(t);
out:
	timings_release(t);
	return rc;
}
