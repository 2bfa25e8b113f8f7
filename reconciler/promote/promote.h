/*
 * promote.h - the promotion guards (docs/promotion.md): may the image and
 * settings of one environment move to another? Each guard gives its
 * verdict with evidence; with every other guard passing, the last one
 * takes the verified backup of the target that a promotion needs. The
 * git commit that promotes is the caller's (source/gitwrite.h).
 *
 * Guards, in order:
 *   target-no-drift    the target's live state is what was applied, and
 *                      nothing is pending for it
 *   source-soak        the source is converged, its containers run and
 *                      answer their health check, and nothing of it
 *                      changed for the target's promotion.minSoakMinutes
 *   schema-unchanged   the target's schema structure is the one the
 *                      source was cloned from (its clone record)
 *   protected-tables   the target's promotion.protect tables hold the
 *                      rows (count and checksum) they held at the clone
 *   fresh-backup       a verified backup of the target, taken now
 */
#ifndef PRESS_PROMOTE_H
#define PRESS_PROMOTE_H

#include <jansson.h>

#include "../apply/apply.h"
#include "../plan/plan.h"
#include "../util/err.h"

#define PROMOTE_GUARDS 5

struct guard_verdict {
	const char *name; /* static */
	int pass;
	char *text;	  /* one line: the verdict's reason and evidence */
	json_t *evidence; /* the same as data (owned) */
};

struct promotion {
	const struct environment *from, *to; /* borrowed from the model */
	struct guard_verdict g[PROMOTE_GUARDS];
	size_t n;
	int allowed;	    /* every guard passed */
	char backup_id[40]; /* the pre-promotion backup, "" when none */
};

/*
 * The environments of a promotion from_id -> to_id, checked against the
 * model: both declared, of one site, and the target's promotion.from
 * names the source. 0, or -1 with e saying what to declare.
 */
int promote_envs(const struct model *m, const char *from_id, const char *to_id,
		 const struct environment **from, const struct environment **to,
		 struct err *e);

/*
 * What a promotion from -> to changes in the target's manifest, in
 * order: the image, then each variable the target's promotion.env
 * names whose effective value (the Site's env merged with the
 * Environment's) differs. Each entry is {"name" ("image" or
 * "env.<NAME>"), "pointer" (into the Environment document), "before",
 * "after"}; an "after" of null removes the target's own entry (the
 * source has none, so neither has the Site). A secret reference on
 * either side is an error naming the variable: references differ per
 * environment on purpose and never move. *out is new (json_decref it).
 */
int promote_changes(const struct environment *from,
		    const struct environment *to, json_t **out, struct err *e);

/*
 * Every guard of from -> to on pass p (observed) and its plan. With
 * take_backup and every other guard passing, fresh-backup takes the
 * backup (reason "pre-promotion"); otherwise it only checks that one can
 * be taken. -1 only when the check itself cannot run; a guard that
 * blocks is a verdict (out->allowed 0).
 */
int promote_check(struct pass *p, const struct plan *plan,
		  const struct environment *from, const struct environment *to,
		  int take_backup, struct promotion *out, struct err *e);
void promotion_release(struct promotion *pr);

/* {from, to, allowed, guards: [{name, pass, evidence}], commit}; commit
 * may be NULL (null). evidence carries "text" and the guard's data. */
json_t *promotion_json(const struct promotion *pr, const char *commit);

#endif
