#include "driver.h"

#include <stdlib.h>
#include <string.h>

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
		json_decref(l->v[i].state);
	}
	free(l->v);
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
	return it;
}

static int
cmp(const void *a, const void *b)
{
	const struct live_item *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

void
live_sort(struct live *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp);
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

const char *
driver_op_name(enum driver_op op)
{
	static const char *const names[] = { "create", "update", "remove",
		"purge" };

	return names[op];
}

const struct driver *
driver_for(enum live_kind kind)
{
	switch (kind) {
	case LIVE_ROLE:
	case LIVE_SCHEMA:
		return &driver_postgres;
	case LIVE_BUCKET:
		return &driver_s3;
	case LIVE_CONTAINER:
		return &driver_docker;
	}
	return NULL;
}
