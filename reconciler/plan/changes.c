/*
 * changes.c - the fields an update or a heal changes, old and new
 * (plan.h, plan_changes; docs/man/pressctl-plan.md, OUTPUT).
 *
 * A change rolls out a new desired spec: the spec last applied (recorded
 * with the object) against the desired one, field by field. Drift is the
 * live object against the spec: the attributes each driver observes
 * (docs/drivers.md) put in the spec's terms. Both come from what the
 * plan has already read; nothing here calls a backend.
 *
 * No secret value is ever in a change: specs hold secret references,
 * whose names are shown; a variable that is or was a reference, or whose
 * name looks secret, has any plain value masked; a derived password is
 * shown by its generation.
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "../util/num.h"

#define MASKED "(sensitive)"

/* {env: NAME} or {file: PATH}, as the manifests write a reference. */
static int
is_ref(const json_t *v)
{
	const char *k;
	json_t *x;

	if (!json_is_object(v) || json_object_size(v) != 1)
		return 0;
	json_object_foreach((json_t *)v, k, x)
		return (!strcmp(k, "env") || !strcmp(k, "file")) &&
		       json_is_string(x);
	return 0;
}

/* "/env/NAME" of a container spec: the variable's name (decoded), or
 * NULL for another path. */
static char *
env_name(const char *path)
{
	struct strbuf sb;

	if (strncmp(path, "/env/", 5) || strchr(path + 5, '/'))
		return NULL;
	strbuf_init(&sb, 0);
	diff_path_dotted(&sb, path + 4);
	return strbuf_detach(&sb, NULL);
}

/* A variable's value compared whole: a reference is one value. */
static int
env_leaf(const char *path, void *arg)
{
	char *name = env_name(path);
	int leaf = name != NULL;

	(void)arg;
	free(name);
	return leaf;
}

/* A variable's value as a plan may show it: a reference as it is, a
 * plain value masked when sensitive. */
static json_t *
env_value(json_t *v, int sensitive)
{
	if (!v || json_is_null(v))
		return json_null();
	if (is_ref(v) || !sensitive)
		return json_incref(v);
	return json_string(MASKED);
}

/* Is the variable sensitive: secret-looking, or a reference before or
 * after? */
static int
env_sensitive(const char *name, json_t *before, json_t *after)
{
	return secret_name(name) || is_ref(before) || is_ref(after);
}

/*
 * Mask one change in place: variables ("/env/NAME", or "/env" whole when
 * it appears or goes), and the generation of the derived password. Sets
 * "sensitive" where a secret stands behind the value.
 */
static void
mask(json_t *c, enum live_kind kind)
{
	const char *path = json_string_value(json_object_get(c, "path"));
	json_t *before = json_object_get(c, "before");
	json_t *after = json_object_get(c, "after");
	size_t len = strlen(path);
	char *name;

	if (len >= 19 && !strcmp(path + len - 19, "/passwordGeneration")) {
		json_object_set_new(c, "sensitive", json_true());
		return;
	}
	if (kind != LIVE_CONTAINER)
		return;
	if ((name = env_name(path))) {
		int s = env_sensitive(name, before, after);

		json_object_set_new(c, "before", env_value(before, s));
		json_object_set_new(c, "after", env_value(after, s));
		if (s)
			json_object_set_new(c, "sensitive", json_true());
		free(name);
		return;
	}
	if (strcmp(path, "/env"))
		return;
	/* The whole set of variables appears or goes. */
	for (int side = 0; side < 2; side++) {
		const char *which = side ? "after" : "before";
		json_t *vars = json_object_get(c, which), *masked, *v;
		const char *k;
		int any = 0;

		if (!json_is_object(vars))
			continue;
		masked = json_object();
		json_object_foreach(vars, k, v) {
			int s = env_sensitive(k, v, NULL);

			any |= s;
			json_object_set_new(masked, k, env_value(v, s));
		}
		json_object_set_new(c, which, masked);
		if (any)
			json_object_set_new(c, "sensitive", json_true());
	}
}

static json_t *
parse_spec(const char *text)
{
	return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

/* A route's upstreams are the core's to compute from the allocations
 * (plan_route_upstreams), not part of what was declared: left out. */
static json_t *
comparable(json_t *spec, enum live_kind kind)
{
	json_t *c = json_deep_copy(spec);

	if (kind == LIVE_ROUTE)
		json_object_del(c, "upstreams");
	return c;
}

static void
add(json_t *changes, const char *path, json_t *before, json_t *after)
{
	json_array_append_new(changes,
			      json_pack("{s:s, s:o, s:o}", "path", path,
					"before", before ? before : json_null(),
					"after", after ? after : json_null()));
}

/* --- drift: the live object in the spec's terms -------------------------- */

static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
container_drift(json_t *out, const struct live_item *l,
		const struct live_object *want)
{
	json_t *st = l->state, *res = json_object_get(want->spec, "resources");
	const char *image = str(st, "image"),
		   *wimage = str(want->spec, "image");
	static const char *const lim[2] = { "memory", "cpus" };
	static const char *const key[2] = { "memory", "nanoCpus" };

	if (!l->running)
		add(out, "/status",
		    json_string(str(st, "status") ? str(st, "status") :
						    "unknown"),
		    json_string("running"));
	if (image && wimage && strcmp(image, wimage))
		add(out, "/image", json_string(image), json_string(wimage));
	if (!l->spec_hash || strcmp(l->spec_hash, want->hash))
		add(out, "/labels/press.spec",
		    l->spec_hash ? json_string(l->spec_hash) : NULL,
		    json_string(want->hash));
	/* Limits as the engine reports them (0: none; the driver takes
	 * none where one is wanted as the engine's, not drift). */
	for (int i = 0; i < 2; i++) {
		json_t *h = json_object_get(st, key[i]);
		const char *w = str(res, lim[i]);
		long long hv = json_integer_value(h), wv = 0;
		char buf[32], path[32];

		if (!json_is_integer(h) || hv == 0)
			continue;
		if (w && (i ? num_parse_cpus(w, &wv) : num_parse_bytes(w, &wv)))
			wv = 0;
		if (hv == wv)
			continue;
		if (i)
			num_format_cpus(buf, sizeof(buf), hv);
		else
			num_format_bytes(buf, sizeof(buf), hv);
		snprintf(path, sizeof(path), "/resources/%s", lim[i]);
		add(out, path, json_string(buf), w ? json_string(w) : NULL);
	}
}

static void
role_drift(json_t *out, const struct live_item *l,
	   const struct live_object *want)
{
	json_t *st = l->state, *ws = want->spec;
	json_t *limit = json_object_get(ws, "connectionLimit");
	json_t *sp = json_object_get(st, "searchPath");
	const char *wsp = str(ws, "searchPath") ? str(ws, "searchPath") :
						  want->name;
	json_t *attrs = json_object_get(st, "attributes");

	if (!json_is_true(json_object_get(st, "login")))
		add(out, "/login", json_false(), json_true());
	if (json_integer_value(json_object_get(st, "connectionLimit")) !=
	    (json_is_integer(limit) ? json_integer_value(limit) : -1))
		add(out, "/connectionLimit",
		    json_incref(json_object_get(st, "connectionLimit")),
		    json_integer(json_is_integer(limit) ?
					 json_integer_value(limit) :
					 -1));
	if (!json_is_string(sp) || strcmp(json_string_value(sp), wsp))
		add(out, "/searchPath", json_incref(sp), json_string(wsp));
	if (json_array_size(attrs))
		add(out, "/attributes", json_incref(attrs), json_array());
	if (json_is_true(json_object_get(st, "publicCreate")))
		add(out, "/publicCreate", json_true(), json_false());
}

/* {grantee: ["CREATE", "USAGE"]} of a schema ACL's USAGE and CREATE. */
static json_t *
grants_of(json_t *acl)
{
	json_t *g = json_object(), *x;
	size_t i;

	json_array_foreach(acl, i, x) {
		const char *who = str(x, "grantee"), *p = str(x, "privileges");
		json_t *privs;

		if (!who || !p || (!strchr(p, 'U') && !strchr(p, 'C')))
			continue;
		privs = json_array();
		if (strchr(p, 'C'))
			json_array_append_new(privs, json_string("CREATE"));
		if (strchr(p, 'U'))
			json_array_append_new(privs, json_string("USAGE"));
		json_object_set_new(g, who, privs);
	}
	return g;
}

static void
schema_drift(json_t *out, const struct live_item *l,
	     const struct live_object *want)
{
	const char *owner = str(l->state, "owner");
	const char *wowner = str(want->spec, "owner") ?
				     str(want->spec, "owner") :
				     want->name;
	json_t *have = grants_of(json_object_get(l->state, "acl"));
	json_t *grants = json_pack("{s:[s, s]}", wowner, "CREATE", "USAGE");
	json_t *d;
	size_t i;
	json_t *c;

	if (!owner || strcmp(owner, wowner))
		add(out, "/owner", owner ? json_string(owner) : NULL,
		    json_string(wowner));
	/* Paths below /grants: diff_changes's own, one per grantee. */
	d = diff_changes(have, grants, NULL, NULL);
	json_array_foreach(d, i, c) {
		char *path =
			xprintf("/grants%s",
				json_string_value(json_object_get(c, "path")));

		add(out, path, json_incref(json_object_get(c, "before")),
		    json_incref(json_object_get(c, "after")));
		free(path);
	}
	json_decref(d);
	json_decref(have);
	json_decref(grants);
}

/* The live object against the spec, as far as its driver observes it. */
static json_t *
drift(const struct live_item *l, const struct live_object *want,
      const char *platform)
{
	json_t *out = json_array();

	if (!l) {
		add(out, "/status", json_string("missing"),
		    json_string(want->kind == LIVE_CONTAINER ? "running" :
							       "present"));
		return out;
	}
	switch (want->kind) {
	case LIVE_CONTAINER: container_drift(out, l, want); break;
	case LIVE_ROLE: role_drift(out, l, want); break;
	case LIVE_SCHEMA: schema_drift(out, l, want); break;
	case LIVE_BUCKET:
	case LIVE_ROUTE: break; /* in words only (the action's detail) */
	}
	if (l->mark_seen && !l->mark)
		add(out, "/mark", NULL, json_string(platform ? platform : ""));
	return out;
}

json_t *
plan_replicas(const struct recorded *rec, const struct environment *env)
{
	size_t n = 0;

	if (!env)
		return NULL;
	for (size_t i = 0; i < rec->nres; i++)
		n += rec->res[i].kind == LIVE_CONTAINER &&
		     !strcmp(rec->res[i].env_id, env->id);
	if (!n || n == (size_t)env->replicas)
		return NULL;
	return json_pack("[{s:s, s:I, s:i}]", "path", "/replicas", "before",
			 (json_int_t)n, "after", env->replicas);
}

json_t *
plan_changes(const struct action *a, const struct rec_resource *r,
	     const char *platform)
{
	const struct live_object *want = a->act.want;
	json_t *out, *c;
	size_t i;

	if (a->type != ACT_DRIVER || !want ||
	    (a->act.op != OP_UPDATE && a->reason != WHY_DRIFT))
		return NULL;
	if (a->reason == WHY_CHANGED) {
		json_t *before = parse_spec(r ? r->spec : NULL), *x, *y;

		if (!before)
			return json_array(); /* not recorded (the detail
					      * says so) */
		x = comparable(before, want->kind);
		y = comparable(want->spec, want->kind);
		out = diff_changes(x, y,
				   want->kind == LIVE_CONTAINER ? env_leaf :
								  NULL,
				   NULL);
		json_decref(x);
		json_decref(y);
		json_decref(before);
	} else {
		out = drift(a->act.have, want, platform);
	}
	json_array_foreach(out, i, c)
		mask(c, want->kind);
	return out;
}
