/*
 * plan.c - three-way diff and action graph (see plan.h).
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
}

void
plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].detail);
		free(p->v[i].env_id);
		free(p->v[i].deps);
		json_decref(p->v[i].changes);
	}
	for (size_t i = 0; i < p->nconflicts; i++) {
		free(p->conflicts[i].env_id);
		free(p->conflicts[i].name);
		free(p->conflicts[i].owner);
		free(p->conflicts[i].text);
		free(p->conflicts[i].file);
	}
	free(p->conflicts);
	for (size_t i = 0; i < p->nnotes; i++) {
		free(p->notes[i].env_id);
		free(p->notes[i].name);
		free(p->notes[i].text);
	}
	for (size_t i = 0; i < p->nroutes; i++)
		plan_route_free(p->routes[i]);
	free(p->routes);
	free(p->v);
	free(p->notes);
	free(p->revision);
	free(p->platform);
	plan_init(p);
}

const char *
action_reason_name(enum action_reason r)
{
	static const char *const names[] = { "new",	"changed", "drift",
					     "adopt",	"revive",  "removed",
					     "expired", "purge",   "orphan" };

	return names[r];
}

const char *
action_verb(const struct action *a)
{
	switch (a->type) {
	case ACT_ADOPT: return "adopt";
	case ACT_SOFT_DELETE: return "soft-delete";
	case ACT_REVIVE: return "revive";
	case ACT_FORGET: return "forget";
	case ACT_FINAL_BACKUP: return "backup";
	case ACT_CLONE: return "clone";
	case ACT_RECORD: return "record";
	case ACT_TOMBSTONE: return "tombstone";
	case ACT_DRIVER: break;
	}
	if (a->act.op == OP_UPDATE && a->reason == WHY_DRIFT)
		return "heal";
	return driver_op_name(a->act.op);
}

static struct action *
add(struct plan *p, enum action_type type, enum driver_op op,
    enum live_kind kind, const char *name, const char *env_id,
    enum action_reason reason, int phase)
{
	struct action *a;

	xgrow(&p->v, &p->alloc, p->n + 1, sizeof(*p->v));
	a = &p->v[p->n++];
	memset(a, 0, sizeof(*a));
	a->id = p->n;
	a->type = type;
	a->act.op = op;
	a->act.kind = kind;
	a->act.name = name;
	a->env_id = xstrdup(env_id ? env_id : "");
	a->reason = reason;
	a->phase = phase;
	if (reason == WHY_DRIFT)
		p->drift++;
	else if (type != ACT_ADOPT)
		p->changes++;
	return a;
}

static void
dep(struct action *a, size_t id)
{
	if (!id)
		return;
	xgrow(&a->deps, &a->adeps, a->ndeps + 1, sizeof(*a->deps));
	a->deps[a->ndeps++] = id;
}

static void
note(struct plan *p, const char *env_id, const char *name, const char *text)
{
	struct plan_note *n;

	xgrow(&p->notes, &p->nalloc, p->nnotes + 1, sizeof(*p->notes));
	n = &p->notes[p->nnotes++];
	n->env_id = xstrdup(env_id);
	n->name = xstrdup(name ? name : "");
	n->text = xstrdup(text);
}

/* --- environments recorded in state -------------------------------------- */

struct env_rec {
	const char *id;
	time_t created;	 /* earliest created_at of its objects */
	size_t rows;	 /* its recorded objects */
	size_t previews; /* of those, applied as a preview's */
};

static int
env_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct env_rec *)a)->id,
		      ((const struct env_rec *)b)->id);
}

static int
is_preview_stage(const char *stage)
{
	return stage && strcmp(stage, stage_name(STAGE_PREVIEW)) == 0;
}

/* Distinct environments of the recorded resources, deletions and clone
 * records, sorted. */
static struct env_rec *
recorded_envs(const struct recorded *rec, size_t *n)
{
	struct env_rec *v = xcalloc(rec->nres + rec->ndel + rec->nclones + 1,
				    sizeof(*v));
	size_t m = 0, w = 0;

	for (size_t i = 0; i < rec->nres; i++) {
		v[m].id = rec->res[i].env_id;
		v[m].rows = 1;
		v[m].previews = is_preview_stage(rec->res[i].stage);
		v[m++].created = rec->res[i].created_at;
	}
	for (size_t i = 0; i < rec->ndel; i++) {
		v[m].id = rec->del[i].env_id;
		v[m++].created = 0;
	}
	for (size_t i = 0; i < rec->nclones; i++) {
		v[m].id = rec->clones[i].env_id;
		v[m++].created = 0;
	}
	if (m > 1)
		qsort(v, m, sizeof(*v), env_rec_cmp);
	for (size_t i = 0; i < m; i++) {
		if (w && strcmp(v[w - 1].id, v[i].id) == 0) {
			if (v[i].created && (!v[w - 1].created ||
					     v[i].created < v[w - 1].created))
				v[w - 1].created = v[i].created;
			v[w - 1].rows += v[i].rows;
			v[w - 1].previews += v[i].previews;
			continue;
		}
		v[w++] = v[i];
	}
	*n = w;
	return v;
}

static const struct env_rec *
find_env_rec(const struct env_rec *v, size_t n, const char *id)
{
	struct env_rec key = { .id = id };

	return n ? bsearch(&key, v, n, sizeof(*v), env_rec_cmp) : NULL;
}

/* A preview past its expiresAfterHours, counted from its creation. */
static int
expired(const struct environment *e, const struct env_rec *r, time_t now)
{
	json_t *h = json_object_get(e->spec, "expiresAfterHours");

	if (e->stage != STAGE_PREVIEW || !json_is_integer(h) || !r ||
	    !r->created)
		return 0;
	return r->created + (time_t)json_integer_value(h) * 3600 <= now;
}

/* The deletion record of an expired preview (docs/previews.md): it is
 * written before the preview's data goes and stays while its document
 * stays. */
static int
tombstone(const struct rec_deletion *del)
{
	return del && is_preview_stage(del->stage);
}

/*
 * Is the environment desired now: declared and not expired? An expired
 * preview stays gone while its file stays: its tombstone keeps it from
 * being created again as new, whatever its document says now. (A
 * deletion of a preview recorded before tombstones had a stage is one
 * too while the document keeps expiresAfterHours.)
 */
static const struct environment *
wanted(const struct model *m, const struct recorded *rec,
       const struct env_rec *recs, size_t nrecs, const char *id, time_t now)
{
	const struct environment *e = model_find_env(m, id);
	const struct rec_deletion *del = recorded_deletion(rec, id);

	if (!e || expired(e, find_env_rec(recs, nrecs, id), now) ||
	    tombstone(del))
		return NULL;
	if (e->stage == STAGE_PREVIEW &&
	    json_object_get(e->spec, "expiresAfterHours") && del)
		return NULL;
	return e;
}

/*
 * Does an environment that is not wanted leave as a preview: purged at
 * once with all it has, without a final backup or a window? A declared
 * one is an expired preview; one that left the source was a preview when
 * every object it still has was last applied. A soft deletion recorded
 * earlier (not a tombstone) keeps its window.
 */
static int
leaves_as_preview(const struct model *m, const struct recorded *rec,
		  const struct env_rec *r)
{
	const struct environment *e = model_find_env(m, r->id);
	const struct rec_deletion *del = recorded_deletion(rec, r->id);

	if (del)
		return tombstone(del);
	if (e)
		return e->stage == STAGE_PREVIEW;
	return r->rows && r->previews == r->rows;
}

/* The same for the environment of a kept schema (a restore's), which
 * then goes with it. */
static int
kept_leaves(const struct model *m, const struct recorded *rec,
	    const struct env_rec *recs, size_t nrecs, const char *id,
	    time_t now)
{
	const struct env_rec *r = find_env_rec(recs, nrecs, id);

	return r && !wanted(m, rec, recs, nrecs, id, now) &&
	       leaves_as_preview(m, rec, r);
}

void
plan_doomed(const struct model *m, const struct recorded *rec, time_t now,
	    const char **names[LIVE_NKINDS], size_t n[LIVE_NKINDS])
{
	size_t nrecs, alloc[LIVE_NKINDS] = { 0 };
	struct env_rec *recs = recorded_envs(rec, &nrecs);

	for (int k = 0; k < LIVE_NKINDS; k++) {
		names[k] = NULL;
		n[k] = 0;
	}
	for (size_t i = 0; i < rec->nres; i++) {
		const struct rec_resource *r = &rec->res[i];

		if (r->kind != LIVE_SCHEMA && r->kind != LIVE_BUCKET)
			continue;
		if (wanted(m, rec, recs, nrecs, r->env_id, now))
			continue;
		xgrow(&names[r->kind], &alloc[r->kind], n[r->kind] + 1,
		      sizeof(*names[r->kind]));
		names[r->kind][n[r->kind]++] = r->name;
	}
	for (size_t i = 0; i < rec->nkept; i++) {
		if (rec->kept[i].purge_after > now &&
		    !kept_leaves(m, rec, recs, nrecs, rec->kept[i].env_id, now))
			continue;
		xgrow(&names[LIVE_SCHEMA], &alloc[LIVE_SCHEMA],
		      n[LIVE_SCHEMA] + 1, sizeof(*names[LIVE_SCHEMA]));
		names[LIVE_SCHEMA][n[LIVE_SCHEMA]++] = rec->kept[i].schema;
	}
	free(recs);
}

/* --- ownership ------------------------------------------------------------- */

/*
 * Why the object kind/name may not be touched by this platform, into why
 * (and *owner: the other platform, or NULL); 0 when it may. adopt: the
 * environment is named by --adopt.
 */
static int
ownership_conflict(enum live_kind kind, const char *name,
		   const struct recorded *rec, const struct live *live,
		   const char *platform, int adopt, const char **owner,
		   char *why, size_t n)
{
	const struct rec_foreign *f = recorded_foreign(rec, kind, name);
	const struct rec_resource *r = recorded_find(rec, kind, name);
	const struct live_item *l = live_find(live, kind, name);

	*owner = NULL;
	/* A mark decides: this platform's (whatever another platform's
	 * rows say; that platform sees the mark), or another's. */
	if (l && l->mark_seen && l->mark) {
		if (strcmp(l->mark, platform) == 0)
			return 0;
		*owner = l->mark;
		snprintf(why, n, "carries the ownership mark of platform '%s'",
			 l->mark);
		return 1;
	}
	if (l && !l->mark_seen && r && r->marked)
		return 0; /* marked by us, as our state says */
	if (f) {
		*owner = f->platform;
		snprintf(why, n,
			 "recorded by platform '%s' as part of its "
			 "environment '%s'",
			 f->platform, f->env_id);
		return 1;
	}
	if (!l || !l->mark_seen || r)
		return 0;
	if (kind == LIVE_CONTAINER) {
		snprintf(why, n,
			 "a container that pressctl does not manage "
			 "has this name; remove or rename it");
		return 1;
	}
	if (l->has_data != 0 && !adopt) {
		snprintf(why, n,
			 "exists without an ownership mark, %s, and no "
			 "platform records it; if it is this environment's, "
			 "adopt it with --adopt",
			 l->has_data > 0 ? "holds data" : "may hold data");
		return 1;
	}
	return 0;
}

static void
conflict(struct plan *p, const char *env_id, enum live_kind kind,
	 const char *name, const char *owner, const char *why,
	 const struct environment *env)
{
	struct plan_conflict *c;

	xgrow(&p->conflicts, &p->aconflicts, p->nconflicts + 1,
	      sizeof(*p->conflicts));
	c = &p->conflicts[p->nconflicts++];
	memset(c, 0, sizeof(*c));
	c->env_id = xstrdup(env_id);
	c->kind = kind;
	c->name = xstrdup(name);
	c->owner = owner ? xstrdup(owner) : NULL;
	c->text = xstrdup(why);
	if (env && env->doc) {
		struct pos pos;

		doc_pos(env->doc, "/metadata/name", 0, &pos);
		c->file = xstrdup(env->doc->file);
		c->line = pos.line;
		c->col = pos.col;
	}
}

/* Record the conflicts of a declared environment's objects (objects
 * [first, end) of the model); returns how many. */
static size_t
env_conflicts(struct plan *p, const struct model *m, size_t first, size_t end,
	      const struct recorded *rec, const struct live *live, int adopt)
{
	size_t n = 0;
	char why[512];

	for (size_t i = first; i < end; i++) {
		const struct live_object *o = &m->objects[i];
		const char *owner;

		if (!ownership_conflict(o->kind, o->name, rec, live,
					p->platform, adopt, &owner, why,
					sizeof(why)))
			continue;
		conflict(p, o->env->id, o->kind, o->name, owner, why, o->env);
		n++;
	}
	return n;
}

/* The same for the recorded objects of an environment that left the
 * source (its soft delete and purge). */
static size_t
gone_conflicts(struct plan *p, const char *env_id, const struct recorded *rec,
	       const struct live *live)
{
	size_t n = 0;
	char why[512];

	for (size_t i = 0; i < rec->nres; i++) {
		const struct rec_resource *r = &rec->res[i];
		const char *owner;

		if (strcmp(r->env_id, env_id) ||
		    !ownership_conflict(r->kind, r->name, rec, live,
					p->platform, 0, &owner, why,
					sizeof(why)))
			continue;
		conflict(p, env_id, r->kind, r->name, owner, why, NULL);
		n++;
	}
	return n;
}

/* --- routes ----------------------------------------------------------------- */

int
plan_route_upstreams(json_t **out, const json_t *route_spec,
		     int (*port_of)(void *arg, const char *container, int slot,
				    struct err *e),
		     const char *(*addr_of)(void *arg, const char *container),
		     void *arg, struct err *e)
{
	json_t *ups = json_array(), *c,
	       *pinned = json_object_get(route_spec, "hostPort"),
	       *cport = json_object_get(route_spec, "containerPort");
	size_t i;

	*out = NULL;
	if (json_is_integer(cport)) {
		/* No host ports: each running container's address on the
		 * platform's network, at its own port. */
		json_array_foreach(json_object_get(route_spec, "containers"), i,
				   c) {
			const char *ip = addr_of ?
						 addr_of(arg,
							 json_string_value(c)) :
						 NULL;
			char addr[96];

			if (!ip || !ip[0])
				continue;
			snprintf(addr, sizeof(addr), "%s:%d", ip,
				 (int)json_integer_value(cport));
			json_array_append_new(ups, json_string(addr));
		}
		*out = ups;
		return 0;
	}
	json_array_foreach(json_object_get(route_spec, "containers"), i, c) {
		for (int slot = 0; slot < 2; slot++) {
			int port = json_is_integer(pinned) ?
					   (int)json_integer_value(pinned) :
					   port_of(arg, json_string_value(c),
						   slot, e);
			char addr[64];

			if (port < 0) {
				json_decref(ups);
				return -1;
			}
			if (port == 0)
				continue;
			snprintf(addr, sizeof(addr), "%s:%d",
				 PLAN_UPSTREAM_HOST, port);
			json_array_append_new(ups, json_string(addr));
			if (json_is_integer(pinned))
				break; /* one port, no second slot */
		}
	}
	*out = ups;
	return 0;
}

struct live_object *
plan_route_with(const struct live_object *o, json_t *upstreams)
{
	struct live_object *r = xcalloc(1, sizeof(*r));

	*r = *o;
	r->spec = json_deep_copy(o->spec);
	json_object_set_new(r->spec, "upstreams", upstreams);
	return r;
}

void
plan_route_free(struct live_object *o)
{
	if (!o)
		return;
	json_decref(o->spec);
	free(o);
}

static int
cmp_port(const void *k, const void *v)
{
	const struct rec_port *a = k, *b = v;
	int c = strcmp(a->owner, b->owner);

	return c ? c : (a->slot > b->slot) - (a->slot < b->slot);
}

/* A recorded slot's port (rec->ports is sorted by owner and slot), 0 when
 * none is allocated yet. */
static int
recorded_port(void *arg, const char *container, int slot, struct err *e)
{
	const struct recorded *rec = arg;
	struct rec_port key = { .owner = (char *)container, .slot = slot };
	const struct rec_port *hit;

	(void)e;
	if (!container || !rec->nports)
		return 0;
	hit = bsearch(&key, rec->ports, rec->nports, sizeof(*rec->ports),
		      cmp_port);
	return hit ? hit->port : 0;
}

/* The address a running container was observed at on the platform's
 * network, NULL when none. */
static const char *
observed_addr(void *arg, const char *container)
{
	const struct live_item *l =
		container ? live_find(arg, LIVE_CONTAINER, container) : NULL;

	return l && l->running ? l->addr : NULL;
}

struct route_src {
	const struct recorded *rec;
	const struct live *live;
};

static int
route_src_port(void *arg, const char *container, int slot, struct err *e)
{
	return recorded_port((void *)((struct route_src *)arg)->rec, container,
			     slot, e);
}

static const char *
route_src_addr(void *arg, const char *container)
{
	return observed_addr((void *)((struct route_src *)arg)->live,
			     container);
}

/* Route o as the plan compares it: with the upstreams the recorded
 * allocations give (a new environment has none yet: its route is new
 * too, and apply allocates them), or, for containers without host ports,
 * the addresses they were observed at. Owned by the plan. */
static const struct live_object *
route_want(struct plan *p, const struct live_object *o,
	   const struct recorded *rec, const struct live *live)
{
	struct route_src src = { rec, live };
	json_t *ups;
	struct live_object *r;

	if (plan_route_upstreams(&ups, o->spec, route_src_port, route_src_addr,
				 &src, NULL) < 0)
		ups = json_array();
	r = plan_route_with(o, ups);
	xgrow(&p->routes, &p->aroutes, p->nroutes + 1, sizeof(*p->routes));
	p->routes[p->nroutes++] = r;
	return r;
}

/* A route waits for the containers of its environment this plan creates
 * or updates (the actions just before it): it needs their ports. */
static void
route_deps(struct plan *p, struct action *a)
{
	for (size_t j = a->id - 1; j-- > 0;) {
		const struct action *c = &p->v[j];

		if (strcmp(c->env_id, a->env_id))
			break;
		if (c->act.kind == LIVE_CONTAINER && c->phase == 0)
			dep(a, c->id);
	}
}

/* Whether route o reaches containers by address (no host ports) and
 * this plan starts one of them (the actions just before it): their
 * addresses are known only then, so the route is rewritten after them. */
static int
route_follows(const struct plan *p, const struct live_object *o)
{
	if (!json_is_integer(json_object_get(o->spec, "containerPort")))
		return 0;
	for (size_t j = p->n; j-- > 0;) {
		const struct action *c = &p->v[j];

		if (strcmp(c->env_id, o->env->id))
			break;
		if (c->type == ACT_DRIVER && c->act.kind == LIVE_CONTAINER &&
		    (c->act.op == OP_CREATE || c->act.op == OP_UPDATE))
			return 1;
	}
	return 0;
}

/* --- desired objects ------------------------------------------------------- */

struct env_ids { /* action ids of one environment's objects */
	size_t role, schema, bucket, revive, clone;
};

/*
 * A schema to create as a copy (cloneFrom): a new one (neither live nor
 * recorded), or one whose clone was interrupted. The detail says which
 * backup it comes from; the action needs the role, and the bucket (the
 * files go there).
 */
static struct action *
plan_clone(struct plan *p, const struct live_object *o,
	   const struct recorded *rec, const struct live_item *l,
	   const struct rec_resource *r, int reviving)
{
	json_t *cf = json_object_get(o->env->spec, "cloneFrom");
	const struct rec_clone *c = recorded_clone(rec, o->env->id);
	const struct rec_backup *nb;
	char src[256], detail[512];
	struct action *a;

	if (o->kind != LIVE_SCHEMA || !cf || reviving || (c ? c->done : l || r))
		return NULL;
	snprintf(src, sizeof(src), "%s/%s", o->env->site->name,
		 json_string_value(json_object_get(cf, "environment")));
	nb = recorded_backup(rec, src);
	if (c && !c->done && strcmp(c->source_env, src) == 0)
		snprintf(detail, sizeof(detail),
			 "resumes the copy of %s from backup %s", src,
			 c->backup_id);
	else if (json_is_true(json_object_get(cf, "fresh")) || !nb)
		snprintf(detail, sizeof(detail),
			 "copy of %s from a backup taken now", src);
	else
		snprintf(detail, sizeof(detail), "copy of %s from backup %s",
			 src, nb->newest_id);
	a = add(p, ACT_CLONE, OP_CREATE, LIVE_SCHEMA, o->name, o->env->id,
		WHY_NEW, 0);
	a->act.want = o;
	a->act.have = l;
	a->detail = xstrdup(detail);
	return a;
}

static void
plan_object(struct plan *p, const struct model *m, const struct live_object *o,
	    const struct recorded *rec, const struct live *live, time_t now,
	    struct env_ids *ids, int reviving)
{
	const struct rec_resource *r = recorded_find(rec, o->kind, o->name);
	const struct live_item *l = live_find(live, o->kind, o->name);
	const struct driver *drv = driver_for(&m->platform, o->kind);
	enum driver_op op = OP_UPDATE;
	enum action_reason why;
	char detail[256] = "";
	struct action *a;

	if (!drv)
		return; /* a route without an ingress: the model adds none */
	if (o->kind == LIVE_ROUTE)
		o = route_want(p, o, rec, live);
	if ((a = plan_clone(p, o, rec, l, r, reviving))) {
		dep(a, ids->role);
		ids->schema = ids->clone = a->id;
		return;
	}
	if (!l) {
		op = OP_CREATE;
		why = reviving ? WHY_REVIVE : r ? WHY_DRIFT : WHY_NEW;
		if (r && !reviving)
			snprintf(detail, sizeof(detail), "missing");
	} else if (!r) {
		/* Not recorded: an interrupted apply of ours (marked), or an
		 * unmarked object ownership_conflict let through (empty, or
		 * named by --adopt): it gets the mark. */
		if (l->mark_seen && !l->mark) {
			snprintf(detail, sizeof(detail),
				 "no ownership mark; "
				 "adopting it");
		} else if (drv->conforms(l, o, detail, sizeof(detail))) {
			a = add(p, ACT_ADOPT, OP_CREATE, o->kind, o->name,
				o->env->id, WHY_ADOPT, 0);
			a->act.want = o;
			a->act.have = l;
			return;
		}
		why = WHY_ADOPT;
	} else if (strcmp(r->spec_hash, o->hash) != 0) {
		why = WHY_CHANGED;
	} else if (!drv->conforms(l, o, detail, sizeof(detail))) {
		why = WHY_DRIFT;
	} else if (o->kind == LIVE_ROUTE && route_follows(p, o)) {
		why = WHY_CHANGED;
		snprintf(detail, sizeof(detail),
			 "follows the addresses of the containers started "
			 "now");
	} else if (l->mark_seen && !l->mark) {
		why = WHY_DRIFT; /* recorded before marks were written */
		snprintf(detail, sizeof(detail), "ownership mark missing");
	} else {
		/* The stage decides how the environment leaves (a preview
		 * without a backup): a change of it is recorded. */
		const char *want = stage_name(o->env->stage);

		if (r->stage ? strcmp(r->stage, want) == 0 :
			       o->env->stage != STAGE_PREVIEW)
			return;
		a = add(p, ACT_RECORD, OP_UPDATE, o->kind, o->name, o->env->id,
			WHY_CHANGED, 0);
		a->act.want = o;
		a->act.have = l;
		a->detail = xprintf("stage %s, recorded as %s", want,
				    r->stage ? r->stage : "not a preview");
		return;
	}

	/* A held rollout waits only while an older container serves: with
	 * none left, trying again (at the pace of the passes) is better
	 * than staying down. */
	if (o->kind == LIVE_CONTAINER && l && l->running) {
		for (size_t i = 0; i < rec->nrollouts; i++) {
			const struct rec_rollout *f = &rec->rollouts[i];
			char text[512];

			if (strcmp(f->name, o->name) ||
			    strcmp(f->spec_hash, o->hash) ||
			    f->next_retry_at <= now)
				continue;
			snprintf(text, sizeof(text),
				 "rollout of spec %.12s failed "
				 "%d time%s (%s); held until the backoff ends or "
				 "the spec changes",
				 o->hash, f->failures,
				 f->failures == 1 ? "" : "s",
				 f->error ? f->error : "");
			note(p, o->env->id, o->name, text);
			return;
		}
	}
	a = add(p, ACT_DRIVER, op, o->kind, o->name, o->env->id, why, 0);
	a->act.want = o;
	a->act.have = l;
	if (why == WHY_CHANGED && !r->spec)
		snprintf(detail, sizeof(detail),
			 "last applied by an older pressctl: the fields "
			 "that change are not known");
	if (detail[0])
		a->detail = xstrdup(detail);
	a->changes = plan_changes(a, r, p->platform);
	if (!a->changes && o->kind == LIVE_CONTAINER && why == WHY_NEW)
		a->changes = plan_replicas(rec, o->env);
	switch (o->kind) {
	case LIVE_ROLE: ids->role = a->id; break;
	case LIVE_SCHEMA:
		ids->schema = a->id;
		dep(a, ids->role);
		break;
	case LIVE_BUCKET:
		ids->bucket = a->id;
		if (ids->clone) /* the copy's files go into it */
			dep(&p->v[ids->clone - 1], a->id);
		break;
	case LIVE_CONTAINER:
		dep(a, ids->role);
		dep(a, ids->schema);
		dep(a, ids->bucket);
		dep(a, ids->revive);
		break;
	case LIVE_ROUTE:
		dep(a, ids->revive);
		route_deps(p, a);
		break;
	}
}

/* --- environments that left the source ------------------------------------ */

static void
plan_gone(struct plan *p, const char *env_id, enum action_reason why,
	  const struct recorded *rec, const struct live *live, time_t now)
{
	const struct rec_deletion *del = recorded_deletion(rec, env_id);
	size_t *removes = NULL, nremoves = 0, aremoves = 0;
	size_t schema = 0, role = 0, bucket = 0, backup = 0;
	struct action *a;
	char text[256];

	if (del && del->purge_after > now) {
		struct tm tm;
		char when[32];

		gmtime_r(&del->purge_after, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		snprintf(text, sizeof(text),
			 "soft-deleted; schema '%s' and "
			 "bucket '%s' kept until %s (re-add it to revive)",
			 del->schema ? del->schema : "",
			 del->bucket ? del->bucket : "", when);
		note(p, env_id, NULL, text);
	}
	/* A soft delete begins with a verified final backup: only then do
	 * the containers go, and the data is set aside. */
	if (!del)
		backup = add(p, ACT_FINAL_BACKUP, OP_CREATE, LIVE_SCHEMA, NULL,
			     env_id, why, 1)
				 ->id;
	/* Routes and containers go at once (soft delete) or were gone
	 * already; the routes first, so the hosts stop answering before
	 * the containers stop. */
	for (size_t i = 0; i < rec->nres; i++) {
		const struct rec_resource *r = &rec->res[i];

		if ((r->kind != LIVE_CONTAINER && r->kind != LIVE_ROUTE) ||
		    strcmp(r->env_id, env_id))
			continue;
		a = add(p, ACT_DRIVER, OP_REMOVE, r->kind, r->name, env_id, why,
			1);
		a->act.have = live_find(live, r->kind, r->name);
		dep(a, backup);
		xgrow(&removes, &aremoves, nremoves + 1, sizeof(*removes));
		removes[nremoves++] = a->id;
	}
	if (!del) {
		a = add(p, ACT_SOFT_DELETE, OP_REMOVE, LIVE_SCHEMA, NULL,
			env_id, why, 1);
		dep(a, backup);
		for (size_t i = 0; i < nremoves; i++)
			dep(a, removes[i]);
		free(removes);
		if (why == WHY_REMOVED)
			p->envs_removed++;
		return;
	}
	free(removes);
	if (del->purge_after > now)
		return;
	/* No purge without a verified final backup (soft deletions made
	 * before backups existed have none: one must be taken first). */
	if (!del->final_backup) {
		note(p, env_id, NULL,
		     "purge held: there is no final backup of the kept data; "
		     "take one with 'pressctl backup run --env ENV'");
		return;
	}
	/* Reverse dependency order: the schema before its role. */
	static const enum live_kind order[] = { LIVE_SCHEMA, LIVE_ROLE,
						LIVE_BUCKET };
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < rec->nres; i++) {
			const struct rec_resource *r = &rec->res[i];

			if (r->kind != order[k] || strcmp(r->env_id, env_id))
				continue;
			a = add(p, ACT_DRIVER, OP_PURGE, r->kind, r->name,
				env_id, WHY_PURGE, 1);
			a->act.have = live_find(live, r->kind, r->name);
			a->deletion = del;
			if (r->kind == LIVE_SCHEMA)
				schema = a->id;
			else if (r->kind == LIVE_ROLE)
				role = a->id;
			else
				bucket = a->id;
		}
	}
	/* The role goes after its schema; reverse dependency order. */
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].id == role)
			dep(&p->v[i], schema);
	/* An expired preview keeps its deletion record as a tombstone: it
	 * must not come back as new while its file stays. */
	if (why == WHY_EXPIRED) {
		if (!schema && !role && !bucket)
			note(p, env_id, NULL,
			     "expired preview, purged; it stays "
			     "gone while its manifest stays (remove the file)");
		return;
	}
	a = add(p, ACT_FORGET, OP_PURGE, LIVE_SCHEMA, NULL, env_id, WHY_PURGE,
		1);
	a->deletion = del;
	dep(a, schema);
	dep(a, role);
	dep(a, bucket);
}

/*
 * A preview that expired or left the source: everything it has goes in
 * this apply, without a final backup and without a window
 * (docs/previews.md). An expired one whose document stays is first
 * recorded gone (its tombstone). The purges name what they destroy.
 */
static void
plan_preview_gone(struct plan *p, const struct env_rec *r,
		  enum action_reason why, const struct recorded *rec,
		  const struct live *live)
{
	const struct rec_deletion *del = recorded_deletion(rec, r->id);
	size_t *ids = NULL, nids = 0, aids = 0, nremoves;
	size_t tomb = 0, schema = 0;
	struct action *a;
	static const enum live_kind order[] = { LIVE_SCHEMA, LIVE_ROLE,
						LIVE_BUCKET };

	if (why == WHY_EXPIRED && !del) {
		a = add(p, ACT_TOMBSTONE, OP_REMOVE, LIVE_SCHEMA, NULL, r->id,
			why, 1);
		a->detail = xstrdup("stays gone while its document stays");
		tomb = a->id;
	}
	for (size_t i = 0; i < rec->nres; i++) {
		const struct rec_resource *x = &rec->res[i];

		if ((x->kind != LIVE_CONTAINER && x->kind != LIVE_ROUTE) ||
		    strcmp(x->env_id, r->id))
			continue;
		a = add(p, ACT_DRIVER, OP_REMOVE, x->kind, x->name, r->id,
			why, 1);
		a->act.have = live_find(live, x->kind, x->name);
		dep(a, tomb);
		xgrow(&ids, &aids, nids + 1, sizeof(*ids));
		ids[nids++] = a->id;
	}
	nremoves = nids;
	/* Reverse dependency order: the schema before its role; data only
	 * once no container uses it. */
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < rec->nres; i++) {
			const struct rec_resource *x = &rec->res[i];

			if (x->kind != order[k] || strcmp(x->env_id, r->id))
				continue;
			a = add(p, ACT_DRIVER, OP_PURGE, x->kind, x->name,
				r->id, why, 1);
			a->act.have = live_find(live, x->kind, x->name);
			a->deletion = del;
			a->detail = xstrdup("preview: no backup is taken");
			dep(a, tomb);
			for (size_t j = 0; j < nremoves; j++)
				dep(a, ids[j]);
			if (x->kind == LIVE_SCHEMA)
				schema = a->id;
			else if (x->kind == LIVE_ROLE)
				dep(a, schema);
			xgrow(&ids, &aids, nids + 1, sizeof(*ids));
			ids[nids++] = a->id;
		}
	}
	if (why == WHY_REMOVED) {
		/* Its tombstone and clone record go last: a run killed
		 * before finds what is left by them. */
		a = add(p, ACT_FORGET, OP_PURGE, LIVE_SCHEMA, NULL, r->id, why,
			1);
		a->deletion = del;
		for (size_t j = 0; j < nids; j++)
			dep(a, ids[j]);
		if (!del && r->rows)
			p->envs_removed++;
	} else if (!nids && !tomb) {
		note(p, r->id, NULL,
		     "expired preview, purged; it stays gone while its "
		     "document stays (remove the document, apply, and add it "
		     "again to recreate it)");
	}
	free(ids);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The desired names of a kind (containers, routes), sorted, for
 * desired_container(). */
static const char **
container_names(const struct model *m, enum live_kind kind, size_t *n)
{
	const char **v = xcalloc(m->nobjects + 1, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; i < m->nobjects; i++)
		if (m->objects[i].kind == kind)
			v[k++] = m->objects[i].name;
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_name);
	*n = k;
	return v;
}

static int
desired_container(const char **names, size_t n, const char *name)
{
	return bsearch(&name, names, n, sizeof(*names), cmp_name) != NULL;
}

static int
selected(const struct plan_filter *f, const struct model *m, const char *id)
{
	return !f || !f->match || f->match(m, id ? id : "", f->arg);
}

/*
 * A copy waits for its source's schema when this plan makes that too (a
 * staging cloned from a production created in the same apply, a preview
 * cloned from that staging): the backup is taken once the source exists.
 */
static void
clone_sources(struct plan *p, const struct model *m)
{
	for (size_t i = 0; i < p->n; i++) {
		struct action *a = &p->v[i];
		const struct environment *env;
		const char *from;
		char src[256];

		if (a->type != ACT_CLONE ||
		    !(env = model_find_env(m, a->env_id)))
			continue;
		from = json_string_value(
			json_object_get(json_object_get(env->spec, "cloneFrom"),
					"environment"));
		if (!from)
			continue;
		snprintf(src, sizeof(src), "%s/%s", env->site->name, from);
		for (size_t j = 0; j < p->n; j++) {
			const struct action *s = &p->v[j];

			if (strcmp(s->env_id, src) == 0 &&
			    s->act.kind == LIVE_SCHEMA &&
			    s->act.op == OP_CREATE)
				dep(a, s->id);
		}
	}
}

int
plan_build(struct plan *out, const struct model *m, const struct recorded *rec,
	   const struct live *live, time_t now, const struct plan_filter *only,
	   const struct plan_filter *adopt, struct err *e)
{
	size_t nrecs, ncnames, nrnames;
	struct env_rec *recs = recorded_envs(rec, &nrecs);
	const char **cnames = container_names(m, LIVE_CONTAINER, &ncnames);
	const char **rnames = container_names(m, LIVE_ROUTE, &nrnames);
	const struct environment *cur = NULL;
	struct env_ids ids = { 0 };
	int reviving = 0, skip = 0;

	(void)e;
	plan_init(out);
	out->revision = xstrdup(m->revision);
	out->platform = xstrdup(m->platform.name ? m->platform.name : "");

	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].rows && !recorded_deletion(rec, recs[i].id))
			out->envs_managed++;

	/* Desired objects, environment by environment (model order). */
	for (size_t i = 0; i < m->nobjects; i++) {
		const struct live_object *o = &m->objects[i];

		if (o->env != cur) {
			size_t end = i;

			cur = o->env;
			memset(&ids, 0, sizeof(ids));
			reviving = 0;
			skip = !wanted(m, rec, recs, nrecs, cur->id, now) ||
			       !selected(only, m, cur->id);
			while (end < m->nobjects && m->objects[end].env == cur)
				end++;
			/* An environment with an object it may not touch
			 * gets no action at all. */
			if (!skip &&
			    env_conflicts(out, m, i, end, rec, live,
					  adopt && adopt->match &&
						  adopt->match(m, cur->id,
							       adopt->arg)))
				skip = 1;
			if (skip)
				continue;
			if (recorded_deletion(rec, cur->id)) {
				struct action *a = add(out, ACT_REVIVE,
						       OP_CREATE, LIVE_SCHEMA,
						       NULL, cur->id,
						       WHY_REVIVE, 0);

				a->deletion = recorded_deletion(rec, cur->id);
				ids.revive = a->id;
				reviving = 1;
			}
		}
		if (skip)
			continue;
		plan_object(out, m, o, rec, live, now, &ids, reviving);
	}

	clone_sources(out, m);

	/* Containers still recorded for a declared environment but no longer
	 * desired: fewer replicas, or one replica where there were several
	 * ("<name>" and "<name>-<n>" swap). */
	for (size_t i = 0; i < rec->nres; i++) {
		const struct rec_resource *r = &rec->res[i];
		const struct live_item *l;
		struct action *a;

		if (r->kind != LIVE_CONTAINER ||
		    desired_container(cnames, ncnames, r->name) ||
		    !wanted(m, rec, recs, nrecs, r->env_id, now) ||
		    !selected(only, m, r->env_id))
			continue;
		l = live_find(live, LIVE_CONTAINER, r->name);
		if (l && !live_is_ours(l, out->platform))
			l = NULL; /* another's: ours is gone */
		a = add(out, ACT_DRIVER, OP_REMOVE, LIVE_CONTAINER, r->name,
			r->env_id, WHY_CHANGED, 1);
		a->act.have = l;
		a->detail = xstrdup("replicas changed");
		a->changes = plan_replicas(rec, model_find_env(m, r->env_id));
	}

	/* Routes still recorded for a declared environment but no longer
	 * desired: their Domain left the source (or moved to another
	 * environment, whose route is new), or a preview's generated host
	 * is no longer routed (a Domain claims the preview now, or the
	 * wildcard went). */
	for (size_t i = 0; i < rec->nres; i++) {
		const struct rec_resource *r = &rec->res[i];
		const struct live_item *l;
		struct action *a;
		char pre[128];

		if (r->kind != LIVE_ROUTE ||
		    desired_container(rnames, nrnames, r->name) ||
		    !wanted(m, rec, recs, nrecs, r->env_id, now) ||
		    !selected(only, m, r->env_id))
			continue;
		l = live_find(live, LIVE_ROUTE, r->name);
		a = add(out, ACT_DRIVER, OP_REMOVE, LIVE_ROUTE, r->name,
			r->env_id, WHY_CHANGED, 1);
		a->act.have = l;
		snprintf(pre, sizeof(pre), "press.%s.preview.", out->platform);
		a->detail = xstrdup(strncmp(r->name, pre, strlen(pre)) == 0 ?
					    "the preview's generated host is "
					    "no longer routed" :
					    "its Domain is no longer declared");
	}

	/* Recorded environments no longer desired. */
	for (size_t i = 0; i < nrecs; i++) {
		const struct environment *env = model_find_env(m, recs[i].id);

		enum action_reason why = env ? WHY_EXPIRED : WHY_REMOVED;

		if ((env && wanted(m, rec, recs, nrecs, recs[i].id, now)) ||
		    !selected(only, m, recs[i].id) ||
		    gone_conflicts(out, recs[i].id, rec, live))
			continue;
		if (!recs[i].rows && !recorded_deletion(rec, recs[i].id)) {
			/* Only the record of a clone is left (its data went
			 * before): forget it, or a new environment of this
			 * name would not be cloned. */
			struct action *a = add(out, ACT_FORGET, OP_PURGE,
					       LIVE_SCHEMA, NULL, recs[i].id,
					       WHY_PURGE, 1);

			a->detail = xstrdup("clone record");
		} else if (leaves_as_preview(m, rec, &recs[i])) {
			plan_preview_gone(out, &recs[i], why, rec, live);
		} else {
			plan_gone(out, recs[i].id, why, rec, live, now);
		}
	}

	/* Schemas a restore replaced, once their window is over (the
	 * row goes with the purge, also when the schema never came to be:
	 * the restore was killed before its swap). */
	for (size_t i = 0; i < rec->nkept; i++) {
		const struct rec_kept *k = &rec->kept[i];
		struct action *a;

		int leaves = kept_leaves(m, rec, recs, nrecs, k->env_id, now);

		if ((k->purge_after > now && !leaves) ||
		    !selected(only, m, k->env_id))
			continue;
		a = add(out, ACT_DRIVER, OP_PURGE, LIVE_SCHEMA, k->schema,
			k->env_id, WHY_PURGE, 1);
		a->act.have = live_find(live, LIVE_SCHEMA, k->schema);
		a->detail = xstrdup(
			leaves ? "replaced by a restore; the preview "
				 "goes" :
				 "replaced by a restore");
	}

	/* Managed containers and routes nothing declares or records:
	 * orphans (e.g. a "-next" left by an interrupted blue/green
	 * rollout, a route whose state row was lost). */
	for (size_t i = 0; i < live->n; i++) {
		const struct live_item *l = &live->v[i];
		struct action *a;

		if ((l->kind != LIVE_CONTAINER && l->kind != LIVE_ROUTE) ||
		    !l->mark || strcmp(l->mark, out->platform) ||
		    (l->kind == LIVE_CONTAINER ?
			     desired_container(cnames, ncnames, l->name) :
			     desired_container(rnames, nrnames, l->name)) ||
		    recorded_find(rec, l->kind, l->name) ||
		    !selected(only, m, l->env_id))
			continue;
		a = add(out, ACT_DRIVER, OP_REMOVE, l->kind, l->name, l->env_id,
			WHY_ORPHAN, 1);
		a->act.have = l;
	}
	free(rnames);
	free(cnames);
	free(recs);
	return 0;
}
