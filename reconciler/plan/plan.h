/*
 * plan.h - the three-way diff (desired / last applied / live) and the
 * ordered action graph that converges the live platform.
 *
 *   desired != last applied  -> a change to roll out
 *   live != last applied     -> drift to heal
 *
 * Actions form a DAG: role -> schema; role, schema, bucket -> container;
 * deletes only after every create and update, in reverse dependency
 * order. The order is deterministic for identical input.
 */
#ifndef PRESS_PLAN_H
#define PRESS_PLAN_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "../driver/driver.h"
#include "../manifest/manifest.h"
#include "../util/strbuf.h"
#include "record.h"

enum action_type {
	ACT_DRIVER,	 /* a driver call (act.op on act.kind) */
	ACT_ADOPT,	 /* live and conforming but unrecorded: record it */
	ACT_SOFT_DELETE, /* record the environment's kept data in deletions */
	ACT_REVIVE,	 /* an environment re-added within the window */
	ACT_FORGET,	 /* all its data purged: drop the deletion record */
	ACT_FINAL_BACKUP, /* before a soft delete: a verified backup */
	ACT_CLONE,	  /* a new environment's schema and files from its
		    * cloneFrom source's backup, neutralized */
	ACT_RECORD,	  /* an object's stage changed: record it, no backend
			* call (a preview leaves without a backup) */
	ACT_TOMBSTONE,	  /* an expired preview: record it gone while its
			* document stays, before its data is purged */
};

enum action_reason {
	WHY_NEW,     /* not there and never applied */
	WHY_CHANGED, /* desired spec differs from the last applied one */
	WHY_DRIFT,   /* live differs from the last applied spec */
	WHY_ADOPT,   /* found live, not recorded (an interrupted apply) */
	WHY_REVIVE,
	WHY_REMOVED, /* the environment left the source: soft delete */
	WHY_EXPIRED, /* a preview past expiresAfterHours */
	WHY_PURGE,   /* soft-delete window over */
	WHY_ORPHAN,  /* a managed container nothing declares */
};

struct action {
	size_t id; /* 1-based, in plan order */
	enum action_type type;
	struct driver_action act; /* op, kind, name, want, have */
	enum action_reason reason;
	char *detail; /* "connection limit 5, want 20" or NULL */
	char *env_id; /* owned */
	const struct rec_deletion *deletion; /* soft delete/revive/forget */
	size_t *deps;			     /* ids of actions this one needs */
	size_t ndeps, adeps;
	int phase; /* 0: create/update, 1: delete */
	/* Updates, heals and a create that heals a missing object: the
	 * fields that change, [{path, before, after, sensitive?}] (see
	 * plan_changes); NULL for other actions. Owned. */
	json_t *changes;
};

/*
 * An object pressctl must not touch: another platform's (its mark, or
 * its rows in pressctl.resources), or one without a mark that holds data
 * and that no --adopt names. The environment it belongs to gets no
 * action; apply refuses the whole plan (exit 3) while any is left.
 */
struct plan_conflict {
	char *env_id;
	enum live_kind kind;
	char *name;
	char *owner;	    /* the other platform, or NULL */
	char *text;	    /* why, in words */
	char *file;	    /* where the environment is declared */
	unsigned line, col; /* (file NULL: it is not, any more) */
};

/* An environment with nothing to do now, and why (held rollouts,
 * soft-deleted environments waiting for their purge). */
struct plan_note {
	char *env_id;
	char *name;
	char *text;
};

struct plan {
	struct action *v;
	size_t n, alloc;
	struct plan_note *notes;
	size_t nnotes, nalloc;
	struct plan_conflict *conflicts;
	size_t nconflicts, aconflicts;
	size_t changes, drift; /* counts by reason class */
	size_t envs_managed;   /* live environments before the plan */
	size_t envs_removed;   /* of those, removed from the source (previews
				* included; expired ones not) */
	char *revision;
	char *platform;
	/* Routes as the plan compares them: the model's spec plus the
	 * upstreams its allocations give (see plan_route_upstreams); owned,
	 * actions point at them. */
	struct live_object **routes;
	size_t nroutes, aroutes;
};

void plan_init(struct plan *p);
void plan_release(struct plan *p);

/* Selects environments (--only, --adopt); NULL = all for only, none for
 * adopt. */
struct plan_filter {
	int (*match)(const struct model *m, const char *env_id, void *arg);
	void *arg;
};

/*
 * Build the plan from the desired model, what pressctl recorded, and what
 * the drivers observed (all borrowed; the plan points into them, so they
 * must outlive it). now is the clock (clock_now()). only restricts the
 * plan to some environments; adopt names those whose unmarked objects
 * holding data may be adopted (--adopt).
 */
int plan_build(struct plan *out, const struct model *m,
	       const struct recorded *rec, const struct live *live, time_t now,
	       const struct plan_filter *only, const struct plan_filter *adopt,
	       struct err *e);

/* Names of the schemas and buckets a plan would set aside or destroy,
 * for sizes in the observe request: computed from desired vs recorded
 * alone. names[kind] becomes a new array of borrowed strings (free() the
 * array), n[kind] its length. */
void plan_doomed(const struct model *m, const struct recorded *rec, time_t now,
		 const char **names[LIVE_NKINDS], size_t n[LIVE_NKINDS]);

/* Where an ingress route sends requests: "127.0.0.1:<port>" */
#define PLAN_UPSTREAM_HOST "127.0.0.1"

/*
 * The upstreams of a route (a new JSON array of "host:port" strings):
 * for each container the route's spec names, both of its host-port slots
 * (blue/green: the ingress sends to whichever answers its health check),
 * or the pinned hostPort alone. port_of(arg, container, slot, e) gives a
 * slot's port: > 0 the port, 0 none known (left out), -1 an error (e
 * filled, returned). The plan looks ports up in what it recorded, apply
 * allocates them. A route whose spec has "containerPort" (its containers
 * publish no host port) reaches "<address>:<containerPort>" of each
 * container instead, addr_of(arg, container) giving the address on the
 * platform's network (NULL: none, left out): the plan the observed ones,
 * apply those of the containers it started.
 */
int plan_route_upstreams(json_t **out, const json_t *route_spec,
			 int (*port_of)(void *arg, const char *container,
					int slot, struct err *e),
			 const char *(*addr_of)(void *arg,
						const char *container),
			 void *arg, struct err *e);

/* A copy of route o whose spec (a new deep copy) holds "upstreams"
 * (stolen); same kind, name, environment and hash. Free it with
 * plan_route_free. */
struct live_object *plan_route_with(const struct live_object *o,
				    json_t *upstreams);
void plan_route_free(struct live_object *o); /* accepts NULL */

/*
 * The fields action a changes (changes.c): for an update of a changed
 * spec, the spec last applied (r->spec; r may be NULL) against the
 * desired one; for drift (and an update that adopts), the live object
 * (a->act.have, NULL when missing) against the spec, as its driver
 * observes it. A new array of {path (a JSON Pointer into the spec, or
 * a synthetic field: /status, /mark, /grants/<role>), before, after
 * (null when absent), sensitive (true when a secret stands behind it:
 * values masked, references and password generations shown)}; empty
 * when they are not known (a spec recorded by an older pressctl, drift
 * a driver reports only in words). NULL for other actions. Reads no
 * backend.
 */
json_t *plan_changes(const struct action *a, const struct rec_resource *r,
		     const char *platform);

/*
 * A replica count that changes, for the creates and removes of
 * containers it brings: [{"/replicas", before: the containers recorded
 * for env, after: env->replicas}], or NULL when they agree or env has
 * none recorded (a new environment).
 */
json_t *plan_replicas(const struct recorded *rec,
		      const struct environment *env);

const char *action_verb(const struct action *a);
const char *action_reason_name(enum action_reason r);

/* Renderings. JSON follows schema/plan.schema.json. */
json_t *plan_json(const struct plan *p, const struct live *live);
void plan_render_text(struct strbuf *sb, const struct plan *p,
		      const struct live *live);
void plan_render_markdown(struct strbuf *sb, const struct plan *p,
			  const struct live *live);

#endif
