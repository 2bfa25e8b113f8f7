/*
 * apply.h - one reconcile pass against the live platform: open the
 * state, observe every backend, and execute a plan with bounded workers.
 *
 *   pass_open -> pass_observe -> plan_build (plan/) -> guard -> apply_plan
 */
#ifndef PRESS_APPLY_H
#define PRESS_APPLY_H

#include <time.h>

#include "state.h"
#include "../driver/driver.h"
#include "../manifest/manifest.h"
#include "../plan/plan.h"
#include "../util/timings.h"

struct pass {
	const struct model *model; /* borrowed */
	char *pg_dsn, *s3_access_key, *s3_secret_key, *master_key;
	struct driver_env denv;
	struct state *state;
	struct recorded rec;
	struct live live;
	time_t now;
	char actor[256]; /* "user@host pid N" */
	/* Borrowed, may be NULL: where pass_observe and apply_plan record
	 * their phases (util/timings.h). Set after pass_open. */
	struct timings *timings;
};

/*
 * Resolve the platform's secrets (never printed) and open the state
 * database (creating/migrating schema pressctl). command names the run
 * ("plan", "apply"). On error the pass is released.
 */
int pass_open(struct pass *p, const struct model *m, const char *command,
	      struct err *e);

/*
 * Read the recorded state and observe every backend: one bulk call per
 * backend, the three backends in parallel; sizes only for what the plan
 * would set aside or destroy. Errors name the backend.
 */
int pass_observe(struct pass *p, struct err *e);

void pass_close(struct pass *p); /* accepts a zeroed pass */

struct apply_opts {
	int parallel;	  /* workers, default 4 */
	int max_attempts; /* per action for transient errors */
	/* Called after each action with its outcome ("done", "failed",
	 * "skipped"); from worker threads, serialized. May be NULL. */
	void (*progress)(void *arg, size_t finished, size_t total,
			 const struct action *a, const char *outcome,
			 const char *error);
	void *arg;
	/* When set (a signal handler may set it), no new action starts;
	 * actions in flight finish and are journaled. May be NULL. */
	const volatile int *cancel;
};

struct apply_result {
	size_t done, failed, skipped;
	size_t cancelled; /* not started because of o->cancel */
	long long run_id;
};

/*
 * Execute plan: intent in the journal before each action, outcome after;
 * transient errors retried with exponential backoff and jitter; a failed
 * action skips its dependents, not unrelated actions. Returns 0 when the
 * run could be carried out (r says how many actions failed), -1 when it
 * could not start (e).
 */
int apply_plan(struct pass *p, const struct plan *plan,
	       const struct apply_opts *o, struct apply_result *r,
	       struct err *e);

#endif
