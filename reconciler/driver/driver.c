#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "../manifest/manifest.h"

void
live_init(struct live *l)
{
	memset(l, 0, sizeof(*l));
}

void
live_release(struct live *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].env_id);
		free(l->v[i].spec_hash);
		free(l->v[i].mark);
		free(l->v[i].addr);
		json_decref(l->v[i].state);
	}
	free(l->v);
	free(l->busy_ports);
	live_init(l);
}

struct live_item *
live_add(struct live *l, enum live_kind kind, const char *name)
{
	struct live_item *it;

	xgrow(&l->v, &l->alloc, l->n + 1, sizeof(*l->v));
	it = &l->v[l->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->name = xstrdup(name);
	it->bytes = it->count = -1;
	it->has_data = -1;
	return it;
}

int
container_publishes(const json_t *spec)
{
	return !json_is_false(json_object_get(spec, "publish"));
}

void
live_busy_add(struct live *l, int port)
{
	if (port <= 0 || port > 65535)
		return;
	xgrow(&l->busy_ports, &l->abusy, l->nbusy + 1, sizeof(*l->busy_ports));
	l->busy_ports[l->nbusy++] = port;
}

int
live_is_ours(const struct live_item *l, const char *platform)
{
	return !l->mark_seen ||
	       (l->mark && platform && strcmp(l->mark, platform) == 0);
}

char *
driver_mark_owner(const char *mark)
{
	size_t n = strlen(DRIVER_MARK_PREFIX);

	if (!mark || strncmp(mark, DRIVER_MARK_PREFIX, n) != 0 || !mark[n])
		return NULL;
	return xstrndup(mark + n, strcspn(mark + n, "\r\n"));
}

static int
cmp(const void *a, const void *b)
{
	const struct live_item *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

void
live_sort(struct live *l)
{
	size_t w = 0;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp);
	if (l->nbusy > 1)
		qsort(l->busy_ports, l->nbusy, sizeof(int), cmp_int);
	for (size_t i = 0; i < l->nbusy; i++)
		if (!w || l->busy_ports[w - 1] != l->busy_ports[i])
			l->busy_ports[w++] = l->busy_ports[i];
	l->nbusy = w;
}

const struct live_item *
live_find(const struct live *l, enum live_kind kind, const char *name)
{
	struct live_item key = { .kind = kind, .name = (char *)name };
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(&key, &l->v[mid]);

		if (c == 0)
			return &l->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int
driver_may_touch(const struct driver_action *a, const char *platform,
		 int exists, const char *owner, const char *what, struct err *e)
{
	int saw_unmarked = a->have && a->have->mark_seen && !a->have->mark;

	if (!exists || (owner && platform && strcmp(owner, platform) == 0) ||
	    (!owner && saw_unmarked))
		return 0;
	if (a->op == OP_PURGE)
		return err_set(e,
			       "%s: its ownership mark changed since the plan "
			       "(it %s%s%s now); nothing was destroyed: run plan "
			       "again",
			       what,
			       owner ? "names platform '" : "carries no mark",
			       owner ? owner : "", owner ? "'" : "");
	if (owner)
		return err_set(e,
			       "%s: it carries the ownership mark of platform "
			       "'%s'; pressctl touches only its own platform's "
			       "objects",
			       what, owner);
	return err_set(e,
		       "%s: it exists without an ownership mark and the "
		       "plan did not adopt it; run plan again",
		       what);
}

const char *
driver_op_name(enum driver_op op)
{
	static const char *const names[] = { "create", "update", "remove",
					     "purge", "restart" };

	return names[op];
}

const struct driver *
driver_ingress(const struct platform *pf)
{
	if (pf && pf->ingress_driver &&
	    strcmp(pf->ingress_driver, "caddy") == 0)
		return &driver_caddy;
	if (pf && pf->ingress_driver &&
	    strcmp(pf->ingress_driver, "traefik") == 0)
		return &driver_traefik;
	return NULL;
}

const struct driver *
driver_for(const struct platform *pf, enum live_kind kind)
{
	switch (kind) {
	case LIVE_ROLE:
	case LIVE_SCHEMA: return &driver_postgres;
	case LIVE_BUCKET: return &driver_s3;
	case LIVE_CONTAINER: return &driver_docker;
	case LIVE_ROUTE: return driver_ingress(pf);
	}
	return NULL;
}
