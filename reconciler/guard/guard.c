#include "guard.h"

int
guard_mass_delete(const struct plan *p, int max_percent, int allow,
		  struct err *e)
{
	size_t n = p->envs_removed, total = p->envs_managed;

	if (allow || n == 0 || total == 0)
		return 0;
	if (n == total) {
		err_set(e,
			"refusing to remove all %zu managed environment%s of "
			"platform '%s'; if that is really meant, run again with "
			"--allow-mass-delete",
			total, total == 1 ? "" : "s", p->platform);
		return 1;
	}
	if (n * 100 > (size_t)max_percent * total) {
		err_set(e,
			"refusing to remove %zu of %zu managed environments "
			"(%zu%%, more than safety.maxDeletePercent %d%%) of "
			"platform '%s'; check the source, or run again with "
			"--allow-mass-delete",
			n, total, n * 100 / total, max_percent, p->platform);
		return 1;
	}
	return 0;
}

int
guard_conflicts(const struct plan *p, struct err *e)
{
	const struct plan_conflict *c = p->conflicts;
	size_t n = p->nconflicts;

	if (n == 0)
		return 0;
	err_set(e,
		"refusing to touch %zu object%s that %s not platform '%s''s: "
		"%s '%s' of environment '%s' %s%s; rename this platform's "
		"object (spec.database.schema, spec.storage.bucket) or leave "
		"the environment out (--only)",
		n, n == 1 ? "" : "s", n == 1 ? "is" : "are", p->platform,
		live_kind_name(c->kind), c->name, c->env_id, c->text,
		n > 1 ? " (and more: see plan)" : "");
	return 1;
}
