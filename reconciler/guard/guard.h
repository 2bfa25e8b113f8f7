/*
 * guard.h - safety guards that refuse a plan before anything is applied.
 */
#ifndef PRESS_GUARD_H
#define PRESS_GUARD_H

#include "../plan/plan.h"
#include "../util/err.h"

/*
 * The mass-delete guard: refuse a plan that removes more than
 * max_percent of the managed environments, or all of them, unless allow
 * (--allow-mass-delete). Expired previews and purges of environments
 * soft-deleted earlier do not count: they were decided before. Returns 0
 * when the plan may proceed, 1 when refused (e says why and how to
 * override).
 */
int guard_mass_delete(const struct plan *p, int max_percent, int allow,
		      struct err *e);

/*
 * The ownership guard: refuse a plan while an object it would need
 * belongs to another platform or holds data without a mark (the plan's
 * conflicts). Returns 0 when there are none, 1 when refused (e names the
 * first and how many).
 */
int guard_conflicts(const struct plan *p, struct err *e);

#endif
