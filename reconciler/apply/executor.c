/*
 * executor.c - run a plan with bounded workers.
 *
 * Each worker owns its driver handles (one connection per worker). An
 * action starts when every action it depends on is done, and deletes
 * (phase 1) only once no create or update is left. Before each action
 * its intent goes to the journal; after it, its outcome. A failed action
 * makes its dependents "skipped"; unrelated actions go on.
 */
#include "apply.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backups.h"
#include "../clone/clone.h"
#include "../driver/driver.h"
#include "../driver/pgdump.h"
#include "../manifest/profile.h"
#include "../tls/tls.h"
#include "../util/clock.h"
#include "../util/hash.h"
#include "../util/secret.h"
#include "../util/testhook.h"

enum run_state {
	PENDING,
	RUNNING,
	DONE,
	FAILED,
	SKIPPED
};

struct exec {
	struct pass *p;
	const struct plan *plan;
	const struct apply_opts *o;
	enum run_state *st;
	size_t running, finished;
	size_t phase0_left; /* creates/updates not finished */
	long long run_id;
	struct apply_result *r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *db_host, *db_port, *db_name;
	char (*final)[40]; /* per action: the final backup it took */
	/* Per action: the address of the container it started on the
	 * platform's network ("" none), under mu. */
	char (*addr)[64];
};

struct worker {
	struct exec *x;
	void *h[4]; /* per driver: postgres, s3, docker, the ingress */
	unsigned seed;
	double health; /* seconds the action in hand waited for health */
};

static int
driver_index(const struct driver *d)
{
	return d == &driver_postgres ? 0 :
	       d == &driver_s3	     ? 1 :
	       d == &driver_docker   ? 2 :
				       3;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* exponential backoff with jitter: 250 ms .. 4 s */
static void
backoff(struct worker *w, int attempt)
{
	long base = 250L << (attempt - 1 < 4 ? attempt - 1 : 4);

	sleep_ms(base / 2 + (long)(rand_r(&w->seed) % (unsigned)base));
}

/* --- arguments an action needs --------------------------------------- */

static void
derive_password(char out[44], const struct pass *p, const char *schema,
		int generation)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "pg:%s:%d", schema, generation);
	hash_hmac_b64url(out, p->master_key, strlen(p->master_key), msg);
}

static void
put(json_t *o, const char *k, const char *v)
{
	if (k && v)
		json_object_set_new(o, k, json_string(v));
}

/* The variables of a site container: the platform's by the names of its
 * app profile (they win), then its own with secret references resolved. */
static int
container_env(json_t **out, struct exec *x, const struct environment *env,
	      const char *password, struct err *e)
{
	const struct app_profile *prof = profile_find(env->app);
	const struct platform *pf = &x->p->model->platform;
	json_t *vars = json_object(), *own = json_object_get(env->spec, "env"),
	       *v;
	const char *k, *cv;

	json_object_foreach(own, k, v) {
		char *val;

		if (json_is_string(v)) {
			put(vars, k, json_string_value(v));
			continue;
		}
		if (secret_resolve(&val,
				   json_string_value(json_object_get(v, "env")),
				   json_string_value(json_object_get(v, "file")),
				   k, e) < 0) {
			json_decref(vars);
			return err_wrap(e, "environment '%s'", env->id);
		}
		put(vars, k, val);
		secret_free(val);
	}
	/* A copy tells its app it is one (WordPress: WP_ENVIRONMENT_TYPE),
	 * unless the manifest says otherwise. */
	if (json_object_get(env->spec, "cloneFrom") &&
	    clone_env_var(env->app, stage_name(env->stage), &k, &cv) &&
	    !json_object_get(vars, k))
		put(vars, k, cv);
	if (prof) {
		put(vars, prof->vars[PV_DB_HOST],
		    pf->pg_site_host ? pf->pg_site_host : x->db_host);
		put(vars, prof->vars[PV_DB_PORT], x->db_port);
		put(vars, prof->vars[PV_DB_NAME], x->db_name);
		put(vars, prof->vars[PV_DB_SCHEMA], env->schema);
		put(vars, prof->vars[PV_DB_USER], env->role);
		put(vars, prof->vars[PV_DB_PASSWORD], password);
		put(vars, prof->vars[PV_S3_BUCKET], env->bucket);
		put(vars, prof->vars[PV_S3_ENDPOINT], pf->s3_site_endpoint);
		put(vars, prof->vars[PV_S3_REGION], pf->s3_region);
	}
	*out = vars;
	return 0;
}

static json_t *
container_labels(struct exec *x, const struct live_object *o)
{
	const struct environment *env = o->env;
	json_t *replica = json_object_get(o->spec, "replica");
	char rep[16];

	snprintf(rep, sizeof(rep), "%lld",
		 json_is_integer(replica) ?
			 (long long)json_integer_value(replica) :
			 1LL);
	json_t *labels = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
				   "press.managed", "true", "press.platform",
				   x->p->model->platform.name, "press.site",
				   env->site->name, "press.env", env->id,
				   "press.spec", o->hash, "press.revision",
				   x->p->model->revision, "press.replica", rep);

	/* What the ingress reads from the container (traefik: routers
	 * and service), computed by the model (driver/ingress.h); the
	 * press.* labels above win over any of the same name. */
	json_object_update_missing(labels,
				   json_object_get(o->spec, "ingressLabels"));
	return labels;
}

/* The whole of file dir/name (a new string), at most 64 KiB; NULL when
 * it cannot be read. */
static char *
read_small(const char *dir, const char *name)
{
	char path[4096], *buf = NULL;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return NULL;
	buf = xmalloc(65537);
	n = fread(buf, 1, 65536, f);
	if (ferror(f) || !feof(f)) {
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/*
 * Test builds: the certificate and key of a tls: selfsigned route from
 * PRESSCTL_TEST_CERT_DIR/<host>.crt and .key (the test makes them with
 * openssl), when the route carries none. Both new strings, or NULL.
 */
static void
test_certificate(struct live_object *route, char **cert, char **key)
{
	const char *dir = testhook_path("PRESSCTL_TEST_CERT_DIR"),
		   *tls = json_string_value(
			   json_object_get(route->spec, "tls")),
		   *host = json_string_value(
			   json_object_get(route->spec, "host"));
	char name[512];

	*cert = *key = NULL;
	if (!dir || !host || !tls || strcmp(tls, "selfsigned") ||
	    route->cert_pem)
		return;
	snprintf(name, sizeof(name), "%s.crt", host);
	*cert = read_small(dir, name);
	snprintf(name, sizeof(name), "%s.key", host);
	*key = read_small(dir, name);
	route->cert_pem = *cert;
	route->key_pem = *key;
}

static int
role_generation(const struct environment *env)
{
	json_t *g = json_object_get(json_object_get(env->spec, "database"),
				    "passwordGeneration");

	return json_is_integer(g) ? (int)json_integer_value(g) : 1;
}

/* --- one action -------------------------------------------------------- */

static const char *
rec_name(const struct recorded *rec, const char *env_id, enum live_kind k)
{
	for (size_t i = 0; i < rec->nres; i++)
		if (rec->res[i].kind == k &&
		    strcmp(rec->res[i].env_id, env_id) == 0)
			return rec->res[i].name;
	return NULL;
}

/* Tries of a container start that found its host port taken. */
#define PORT_RETRIES 8

/* The two host ports of a container, skipping those seen busy. */
static int
container_ports(struct exec *x, const struct action *a, int out[2],
		struct err *e)
{
	const struct platform *pf = &x->p->model->platform;
	const struct live *l = &x->p->live;

	out[0] = out[1] = 0;
	if (a->act.want && !container_publishes(a->act.want->spec))
		return 0; /* reached on the network: no host port */
	return state_ports(x->p->state, a->act.name, a->env_id, pf->port_from,
			   pf->port_to, l->busy_ports, l->nbusy, out, e);
}

/* A route slot's port: allocated now if its container has none yet
 * (the route's container actions ran first; see plan.c route_deps). */
struct route_ports {
	struct exec *x;
	const char *env_id;
	char buf[64]; /* route_ports_addr's */
};

static const char *current_addr(struct exec *x, const char *container,
				char buf[64]);

static const char *
route_ports_addr(void *arg, const char *container)
{
	struct route_ports *rp = arg;

	return current_addr(rp->x, container, rp->buf);
}

/*
 * The address container has on the platform's network now: the one a
 * create or update of this apply gave it, else the observed one (while
 * it runs). Copied into buf (NULL when none): another worker may write
 * the table meanwhile.
 */
static const char *
current_addr(struct exec *x, const char *container, char buf[64])
{
	const struct live_item *l;

	if (!container)
		return NULL;
	pthread_mutex_lock(&x->mu);
	buf[0] = '\0';
	for (size_t i = 0; i < x->plan->n; i++) {
		const struct action *c = &x->plan->v[i];

		if (c->act.kind == LIVE_CONTAINER && x->addr[i][0] &&
		    strcmp(c->act.name, container) == 0)
			snprintf(buf, 64, "%s", x->addr[i]);
	}
	pthread_mutex_unlock(&x->mu);
	if (buf[0])
		return buf;
	l = live_find(&x->p->live, LIVE_CONTAINER, container);
	return l && l->running ? l->addr : NULL;
}

struct route_addrs {
	struct exec *x;
	const char *skip; /* the container being replaced */
	char buf[64];
};

static const char *
route_addr(void *arg, const char *container)
{
	struct route_addrs *ra = arg;

	if (container && ra->skip && strcmp(container, ra->skip) == 0)
		return NULL;
	return current_addr(ra->x, container, ra->buf);
}

static int
allocated_port(void *arg, const char *container, int slot, struct err *e)
{
	struct route_ports *rp = arg;
	const struct platform *pf = &rp->x->p->model->platform;
	const struct live *l = &rp->x->p->live;
	int ports[2];

	if (!container)
		return 0;
	if (state_ports(rp->x->p->state, container, rp->env_id, pf->port_from,
			pf->port_to, l->busy_ports, l->nbusy, ports, e) < 0)
		return -1;
	return ports[slot];
}

static int call_with_retries(struct worker *w, const struct driver *drv,
			     const struct driver_action *act, int *attempts,
			     struct err *e);

/*
 * A blue/green update's switch (apply_args.switch_to): the candidate of
 * container action a is healthy at addr; before the old container stops,
 * every route of its environment that reaches containers by address is
 * rewritten to reach the candidate instead of the old container (the
 * other replicas stay). Caddy answers the write once the new routes
 * serve, so no new request goes to the old container, while the ones it
 * already has finish before the stop (SIGTERM) reaches it. The route's
 * own action, after the update, finds the route as it wants it.
 */
struct switch_ctx {
	struct worker *w;
	const struct action *a;
};

static int
route_switch(void *arg, const char *addr, struct err *e)
{
	struct switch_ctx *sc = arg;
	struct exec *x = sc->w->x;
	const struct model *m = x->p->model;
	const struct driver *drv = driver_ingress(&m->platform);
	const struct environment *env = sc->a->act.want->env;

	for (size_t i = 0; drv && i < m->nobjects; i++) {
		const struct live_object *o = &m->objects[i];
		json_t *cport = json_object_get(o->spec, "containerPort"), *ups;
		struct route_addrs ra = { x, sc->a->act.name, "" };
		struct live_object *route;
		struct driver_action act;
		char self[96];
		int attempts = 1, rc;

		if (o->kind != LIVE_ROUTE || o->env != env ||
		    !json_is_integer(cport))
			continue;
		if (plan_route_upstreams(&ups, o->spec, NULL, route_addr, &ra,
					 e) < 0)
			return -1;
		snprintf(self, sizeof(self), "%s:%d", addr,
			 (int)json_integer_value(cport));
		json_array_append_new(ups, json_string(self));
		route = plan_route_with(o, ups);
		memset(&act, 0, sizeof(act));
		act.op = OP_UPDATE;
		act.kind = LIVE_ROUTE;
		act.name = o->name;
		act.want = route;
		act.have = live_find(&x->p->live, LIVE_ROUTE, o->name);
		rc = call_with_retries(sc->w, drv, &act, &attempts, e);
		plan_route_free(route);
		if (rc < 0)
			return err_wrap(e, "cannot add %s to route '%s'", self,
					o->name);
	}
	return 0;
}

/* One driver call, retried with backoff on transient errors. */
static int
call_with_retries(struct worker *w, const struct driver *drv,
		  const struct driver_action *act, int *attempts, struct err *e)
{
	struct exec *x = w->x;
	int di = driver_index(drv), rc = -1,
	    max = x->o->max_attempts > 0 ? x->o->max_attempts : 5;

	for (;; (*attempts)++) {
		if (!w->h[di] && drv->open(&w->h[di], &x->p->denv, e) < 0)
			w->h[di] = NULL;
		else if ((rc = drv->apply(w->h[di], act, e)) == 0)
			break;
		if (!e->transient || *attempts >= max)
			break;
		backoff(w, *attempts);
		if (w->h[di]) { /* a fresh connection for the retry */
			drv->close(w->h[di]);
			w->h[di] = NULL;
		}
	}
	return rc;
}

/* The hosts a route's certificate names: its host, then its redirects
 * (a new array of borrowed strings, *n of them). */
static const char **
route_cert_hosts(const json_t *spec, size_t *n)
{
	const json_t *redirects = json_object_get(spec, "redirects");
	const char **v = xcalloc(json_array_size(redirects) + 1, sizeof(*v));
	json_t *r;
	size_t i;

	*n = 0;
	v[(*n)++] = json_string_value(json_object_get(spec, "host"));
	json_array_foreach(redirects, i, r)
		if (json_string_value(r))
			v[(*n)++] = json_string_value(r);
	return v;
}

/* Whether route o serves a selfsigned certificate (TLS on, `tls:
 * selfsigned`). */
static int
route_selfsigned(const struct live_object *o)
{
	const char *tls = json_string_value(json_object_get(o->spec, "tls"));

	return json_object_get(o->spec, "https") && tls &&
	       strcmp(tls, "selfsigned") == 0;
}

/*
 * The certificate of a route with `tls: selfsigned` (docs/ingress.md):
 * the one recorded in the state while it names the route's hosts and has
 * TLS_RENEW_DAYS days left, else a new one (TLS_CERT_DAYS), recorded with
 * its key sealed before any ingress sees it. *cert and *key are new
 * strings; both stay NULL for a route without it.
 */
static int
route_cert(struct exec *x, const struct action *a, char **cert, char **key,
	   struct err *e)
{
	const json_t *spec = a->act.want->spec;
	char *sealed = NULL, *have = NULL;
	const char **hosts;
	struct tls_cert_info ci;
	time_t now = clock_now();
	size_t n;
	int ret = -1;

	*cert = *key = NULL;
	if (!route_selfsigned(a->act.want))
		return 0;
	hosts = route_cert_hosts(spec, &n);
	if (state_cert_get(x->p->state, a->act.name, &have, &sealed, e) < 0)
		goto out;
	if (have && !tls_cert_due(have, hosts, n, now)) {
		if (tls_key_open(x->p->master_key, sealed, key, e) < 0) {
			err_wrap(e, "the certificate of route '%s'",
				 a->act.name);
			goto out;
		}
		*cert = have;
		have = NULL;
		ret = 0;
		goto out;
	}
	free(sealed);
	sealed = NULL;
	if (tls_selfsigned_make(hosts, n, now, TLS_CERT_DAYS, cert, key, e) <
		    0 ||
	    tls_cert_read(*cert, &ci, e) < 0 ||
	    tls_key_seal(x->p->master_key, *key, &sealed, e) < 0 ||
	    state_cert_put(x->p->state, a->act.name, a->env_id, *cert, sealed,
			   ci.serial, ci.not_after, e) < 0) {
		free(*cert);
		tls_free_key(*key);
		*cert = *key = NULL;
		err_wrap(e, "cannot %s route '%s'", driver_op_name(a->act.op),
			 a->act.name);
		goto out;
	}
	ret = 0;
out:
	free(have);
	free(sealed);
	free(hosts);
	return ret;
}

static int
call_driver(struct worker *w, const struct action *a, int *attempts,
	    struct err *e)
{
	struct exec *x = w->x;
	const struct driver *drv = driver_for(&x->p->model->platform,
					      a->act.kind);
	struct driver_action act = a->act;
	struct live_object *route = NULL;
	char *test_cert = NULL, *test_key = NULL;
	struct switch_ctx sc = { w, a };
	struct apply_args args;
	char password[44] = "", reason[sizeof(e->msg)];
	int rc = -1;

	memset(&args, 0, sizeof(args));
	act.args = &args;
	*attempts = 1;
	if (!drv)
		return err_set(e,
			       "cannot %s %s '%s': the platform declares no "
			       "ingress driver; set spec.ingress in its "
			       "Platform manifest",
			       driver_op_name(a->act.op),
			       live_kind_name(a->act.kind), a->act.name);
	if (a->act.kind == LIVE_ROUTE && a->act.want) {
		/* The upstreams as allocated now, not as planned. */
		struct route_ports rp = { x, a->env_id, "" };
		json_t *ups;

		if (plan_route_upstreams(&ups, a->act.want->spec,
					 allocated_port, route_ports_addr, &rp,
					 e) < 0)
			return err_wrap(e, "cannot %s route '%s'",
					driver_op_name(a->act.op), a->act.name);
		route = plan_route_with(a->act.want, ups);
		act.want = route;
	}
	if (route && route_cert(x, a, &args.cert_pem, &args.key_pem, e) < 0)
		goto out;
	/* The certificate goes in the arguments (caddy) and on the route
	 * (the traefik driver writes it next to its file). */
	if (route && args.cert_pem) {
		route->cert_pem = args.cert_pem;
		route->key_pem = args.key_pem;
	} else if (route) {
		test_certificate(route, &test_cert, &test_key);
	}
	if (a->act.want &&
	    (a->act.kind == LIVE_ROLE || a->act.kind == LIVE_CONTAINER))
		derive_password(password, x->p, a->act.want->env->schema,
				role_generation(a->act.want->env));
	args.password = password;
	if (a->act.kind == LIVE_CONTAINER && a->act.want) {
		if (container_env(&args.env, x, a->act.want->env, password, e) <
		    0)
			goto out;
		args.labels = container_labels(x, a->act.want);
		args.network = x->p->model->platform.runtime_network;
		if (container_ports(x, a, args.host_ports, e) < 0)
			goto out;
		if (!container_publishes(a->act.want->spec)) {
			args.switch_to = route_switch;
			args.switch_arg = &sc;
		}
	}
	if (a->act.op == OP_PURGE)
		testhook_wait("purge");
	for (int tries = 0;; tries++) {
		args.busy_port = 0;
		rc = call_with_retries(w, drv, &act, attempts, e);
		if (rc == 0 || !args.busy_port || tries >= PORT_RETRIES)
			break;
		/* Taken by something outside the plan: set it aside and
		 * try on another port. */
		snprintf(reason, sizeof(reason), "%s", e->msg);
		if (state_port_hold(x->p->state, a->act.name, args.busy_port,
				    reason, e) < 0 ||
		    container_ports(x, a, args.host_ports, e) < 0) {
			rc = -1;
			break;
		}
		(*attempts)++;
	}
	w->health += args.health_seconds;
	if (rc == 0 && a->act.kind == LIVE_CONTAINER && args.addr[0]) {
		pthread_mutex_lock(&x->mu);
		snprintf(x->addr[a->id - 1], sizeof(x->addr[0]), "%s",
			 args.addr);
		pthread_mutex_unlock(&x->mu);
	}
out:
	memset(password, 0, sizeof(password));
	if (args.env) {
		const char *k;
		json_t *v;

		/* The container's variables hold secrets: drop them now. */
		json_object_foreach(args.env, k, v)
			json_string_set(v, "");
		json_decref(args.env);
	}
	json_decref(args.labels);
	free(args.cert_pem);
	tls_free_key(args.key_pem);
	plan_route_free(route);
	free(test_cert);
	if (test_key) /* a private key: wiped before it is freed */
		memset(test_key, 0, strlen(test_key));
	free(test_key);
	return rc;
}

/* Record the outcome of a successful action in the state. */

/* The deletion record of env_id, naming the schema, role and bucket it
 * has recorded. */
static int
deletion_put(struct exec *x, const char *env_id, int days, const char *stage,
	     struct err *e)
{
	const struct recorded *rec = &x->p->rec;

	return state_deletion_put(x->p->state, env_id,
				  rec_name(rec, env_id, LIVE_SCHEMA),
				  rec_name(rec, env_id, LIVE_ROLE),
				  rec_name(rec, env_id, LIVE_BUCKET), days,
				  stage, e);
}

static int
record(struct exec *x, const struct action *a, struct err *e)
{
	struct state *st = x->p->state;
	const char *rev = x->p->model->revision;
	const struct platform *pf = &x->p->model->platform;

	switch (a->type) {
	case ACT_RECORD:
		return state_resource_put(st, a->act.kind, a->act.name,
					  a->env_id, a->act.want->hash,
					  a->act.want->spec, rev,
					  stage_name(a->act.want->env->stage),
					  e);
	case ACT_TOMBSTONE:
		/* Before any of its data goes: a run killed halfway must
		 * not create the preview again. */
		if (deletion_put(x, a->env_id, 0, stage_name(STAGE_PREVIEW),
				 e) < 0)
			return -1;
		return state_clone_forget(st, a->env_id, e);
	case ACT_ADOPT:
		/* An adopted container keeps the port it publishes. */
		if (a->act.kind == LIVE_CONTAINER && a->act.have &&
		    state_ports_adopt(st, a->act.name, a->env_id,
				      a->act.have->host_port, e) < 0)
			return -1;
		return state_resource_put(st, a->act.kind, a->act.name,
					  a->env_id, a->act.want->hash,
					  a->act.want->spec, rev,
					  stage_name(a->act.want->env->stage),
					  e);
	case ACT_SOFT_DELETE:
		if (deletion_put(x, a->env_id, pf->soft_delete_days, NULL, e) <
		    0)
			return -1;
		/* The final backup the plan took before it. */
		for (size_t i = 0; i < x->plan->n; i++)
			if (x->plan->v[i].type == ACT_FINAL_BACKUP &&
			    strcmp(x->plan->v[i].env_id, a->env_id) == 0 &&
			    x->final[i][0])
				return state_deletion_backup(st, a->env_id,
							     x->final[i], e);
		return err_set(e, "the soft delete of '%s' has no final backup",
			       a->env_id);
	case ACT_REVIVE: return state_deletion_drop(st, a->env_id, e);
	case ACT_FORGET:
		/* The clone record first: the deletion row keeps the
		 * environment in the plan until both are gone. */
		if (state_clone_forget(st, a->env_id, e) < 0)
			return -1;
		return state_deletion_drop(st, a->env_id, e);
	case ACT_FINAL_BACKUP: return 0; /* in the catalog already */
	case ACT_CLONE:
		return state_resource_put(st, a->act.kind, a->act.name,
					  a->env_id, a->act.want->hash,
					  a->act.want->spec, rev,
					  stage_name(a->act.want->env->stage),
					  e);
	case ACT_DRIVER: break;
	}
	switch (a->act.op) {
	case OP_CREATE:
	case OP_UPDATE:
		if (state_resource_put(st, a->act.kind, a->act.name, a->env_id,
				       a->act.want->hash, a->act.want->spec,
				       rev, stage_name(a->act.want->env->stage),
				       e) < 0)
			return -1;
		/* A route that no longer serves a selfsigned certificate
		 * forgets the one recorded. */
		if (a->act.kind == LIVE_ROUTE && !route_selfsigned(a->act.want))
			return state_cert_drop(st, a->act.name, e);
		if (a->act.kind != LIVE_CONTAINER)
			return 0;
		if (state_rollout_clear(st, a->act.name, e) < 0)
			return -1;
		/* Reached on the network now: the host ports it held (before
		 * an ingress came, or before hostPort was dropped) go back. */
		if (!container_publishes(a->act.want->spec) &&
		    x->p->rec.nports &&
		    state_ports_release(st, a->act.name, e) < 0)
			return -1;
		return 0;
	case OP_REMOVE:
		if (a->act.kind == LIVE_ROUTE &&
		    state_cert_drop(st, a->act.name, e) < 0)
			return -1;
		if (state_resource_drop(st, a->act.kind, a->act.name, e) < 0 ||
		    state_rollout_clear(st, a->act.name, e) < 0)
			return -1;
		return a->act.kind == LIVE_CONTAINER ?
			       state_ports_release(st, a->act.name, e) :
			       0;
	case OP_PURGE:
		if (a->act.kind == LIVE_SCHEMA &&
		    state_kept_forget(st, a->act.name, e) < 0)
			return -1;
		return state_resource_drop(st, a->act.kind, a->act.name, e);
	case OP_RESTART: break;
	}
	return 0;
}

/*
 * A final backup or a clone, retried with backoff on transient errors
 * (an S3 server answering 500 "try again"): a failed backup records
 * nothing, and a clone resumes from its record.
 */
static int
call_backups(struct worker *w, const struct action *a, int *attempts,
	     struct err *e)
{
	struct exec *x = w->x;
	int max = x->o->max_attempts > 0 ? x->o->max_attempts : 5, rc;

	for (;; (*attempts)++) {
		rc = a->type == ACT_CLONE ?
			     backups_clone(x->p, a->env_id, e) :
			     backups_final(x->p, a->env_id, x->final[a->id - 1],
					   e);
		if (rc == 0 || !e->transient || *attempts >= max ||
		    (x->o->cancel && *x->o->cancel))
			return rc;
		backoff(w, *attempts);
	}
}

/*
 * One try of an action. *state_failed tells a failure of pressctl's own
 * state (the journal, the record) from one of the driver call, which
 * call_driver has retried already.
 */
static int
run_once(struct worker *w, const struct action *a, int *state_failed,
	 struct err *e)
{
	struct exec *x = w->x;
	long long jid = 0;
	int attempts = 1, rc;
	struct err je;

	*state_failed = 1;
	if (state_journal_begin(x->p->state, x->run_id, x->p->model->revision,
				action_verb(a), a->act.kind,
				a->act.name ? a->act.name : a->env_id,
				a->env_id,
				a->act.want ? a->act.want->hash : NULL, &jid,
				e) < 0)
		return -1;
	*state_failed = 0;
	if (a->type == ACT_DRIVER)
		rc = call_driver(w, a, &attempts, e);
	else if (a->type == ACT_FINAL_BACKUP || a->type == ACT_CLONE)
		rc = call_backups(w, a, &attempts, e);
	else
		rc = 0;
	if (rc == 0 && (rc = record(x, a, e)) < 0)
		*state_failed = 1;
	else if (rc < 0 && a->act.kind == LIVE_CONTAINER && a->act.want &&
		 !e->transient &&
		 (a->act.op == OP_CREATE || a->act.op == OP_UPDATE))
		/* No retry storm: a spec that failed for good (unhealthy, no
		 * such image) waits for backoff or a change. */
		state_rollout_failed(x->p->state, a->act.name,
				     a->act.want->hash, e->msg, &je);
	if (state_journal_end(x->p->state, jid, rc == 0 ? "done" : "failed",
			      rc == 0 ? NULL : e->msg, attempts, &je) < 0 &&
	    rc == 0) {
		/* Done but not recorded as done: not a success (the run's
		 * end closes the intent as failed; the action, idempotent,
		 * is tried again when the error is transient). */
		*e = je;
		*state_failed = 1;
		rc = -1;
	}
	return rc;
}

/*
 * Run an action; when pressctl's own state is unreachable (PostgreSQL
 * restarting), try the whole action again with backoff: every action is
 * idempotent, and its journal intent comes first each time.
 */
static int
run_action(struct worker *w, const struct action *a, struct err *e)
{
	int max = w->x->o->max_attempts > 0 ? w->x->o->max_attempts : 5;
	int state_failed = 0;

	for (int attempt = 1;; attempt++) {
		int rc = run_once(w, a, &state_failed, e);

		if (rc == 0 || !state_failed || !e->transient ||
		    attempt >= max || (w->x->o->cancel && *w->x->o->cancel))
			return rc;
		backoff(w, attempt);
	}
}

/* --- scheduling ---------------------------------------------------------- */

/* ids are 1-based plan positions */
#define index_of(plan, id) ((void)(plan), (size_t)(id)-1)

/* Next runnable action, marking doomed ones skipped; SIZE_MAX if none. */
static size_t
pick(struct exec *x, size_t *skipped_now)
{
	const struct plan *plan = x->plan;
	int phase0_left = x->phase0_left > 0;

	*skipped_now = SIZE_MAX;
	if (x->o->cancel && *x->o->cancel)
		return SIZE_MAX; /* stopping: start nothing new */
	for (size_t i = 0; i < plan->n; i++) {
		const struct action *a = &plan->v[i];
		int ready = 1;

		if (x->st[i] != PENDING)
			continue;
		if (a->phase == 1 && phase0_left)
			continue;
		for (size_t d = 0; d < a->ndeps; d++) {
			enum run_state s = x->st[index_of(plan, a->deps[d])];

			if (s == FAILED || s == SKIPPED) {
				x->st[i] = SKIPPED;
				*skipped_now = i;
				return SIZE_MAX;
			}
			if (s != DONE)
				ready = 0;
		}
		if (ready)
			return i;
	}
	return SIZE_MAX;
}

static void
report(struct exec *x, size_t i, const char *outcome, const char *error)
{
	x->finished++;
	if (x->plan->v[i].phase == 0)
		x->phase0_left--;
	if (x->o->progress)
		x->o->progress(x->o->arg, x->finished, x->plan->n,
			       &x->plan->v[i], outcome, error);
}

/* --timings: the action's time under its kind ("create container"),
 * and the health waits of all kinds together; under mu. */
static void
action_timing(struct exec *x, const struct action *a, double seconds,
	      double health)
{
	char kind[64];

	if (!x->p->timings)
		return;
	snprintf(kind, sizeof(kind), "%s %s", action_verb(a),
		 a->act.name ? live_kind_name(a->act.kind) : "environment");
	timings_part(x->p->timings, "apply", kind, seconds);
	if (health > 0)
		timings_part(x->p->timings, "apply", "health wait", health);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct exec *x = w->x;

	pthread_mutex_lock(&x->mu);
	for (;;) {
		size_t skipped, i = pick(x, &skipped);
		double t0, t1;
		struct err e;
		int rc;

		if (skipped != SIZE_MAX) {
			const struct action *a = &x->plan->v[skipped];
			long long jid;
			struct err je;

			x->r->skipped++;
			if (state_journal_begin(x->p->state, x->run_id,
						x->p->model->revision,
						action_verb(a), a->act.kind,
						a->act.name ? a->act.name :
							      a->env_id,
						a->env_id, NULL, &jid,
						&je) == 0)
				state_journal_end(x->p->state, jid, "skipped",
						  "a dependency failed", 0,
						  &je);
			report(x, skipped, "skipped", "a dependency failed");
			pthread_cond_broadcast(&x->cv);
			continue;
		}
		if (i == SIZE_MAX) {
			if (x->running == 0)
				break;
			pthread_cond_wait(&x->cv, &x->mu);
			continue;
		}
		x->st[i] = RUNNING;
		x->running++;
		pthread_mutex_unlock(&x->mu);

		memset(&e, 0, sizeof(e));
		w->health = 0;
		t0 = timings_now();
		rc = run_action(w, &x->plan->v[i], &e);
		t1 = timings_now();

		pthread_mutex_lock(&x->mu);
		action_timing(x, &x->plan->v[i], t1 - t0, w->health);
		x->running--;
		x->st[i] = rc == 0 ? DONE : FAILED;
		if (rc == 0)
			x->r->done++;
		else
			x->r->failed++;
		report(x, i, rc == 0 ? "done" : "failed",
		       rc == 0 ? NULL : e.msg);
		pthread_cond_broadcast(&x->cv);
	}
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	for (int d = 0; d < 4; d++) {
		const struct driver *drv =
			d == 0 ? &driver_postgres :
			d == 1 ? &driver_s3 :
			d == 2 ? &driver_docker :
				 driver_ingress(&x->p->model->platform);

		if (drv)
			drv->close(w->h[d]);
	}
	return NULL;
}

/*
 * After the actions: the structure of the schema of every environment an
 * action of this run changed, as the run leaves it (pressctl.structures),
 * so that a promotion guard can tell a change made through pressctl from
 * one made after it. The actions are done whatever happens here: a
 * failure goes into the run's summary.
 */
static int
record_structures(struct exec *x, struct err *e)
{
	const struct plan *plan = x->plan;
	const char **ids = xcalloc(plan->n + 1, sizeof(*ids));
	const char **schemas = xcalloc(plan->n + 1, sizeof(*schemas));
	char(*fps)[65];
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < plan->n; i++) {
		const char *id = plan->v[i].env_id;
		const struct environment *env;
		size_t j = 0;

		if (x->st[i] != DONE || !id ||
		    !(env = model_find_env(x->p->model, id)) || !env->schema)
			continue;
		while (j < n && strcmp(ids[j], id) != 0)
			j++;
		if (j == n) {
			ids[n] = env->id;
			schemas[n++] = env->schema;
		}
	}
	fps = xcalloc(n + 1, sizeof(*fps));
	if (pgdump_fingerprints(x->p->pg_dsn, schemas, n, fps, e) < 0)
		rc = -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (fps[i][0])
			rc = state_record_structure(x->p->state, ids[i], fps[i],
						    x->run_id, e);
	free(fps);
	free(schemas);
	free(ids);
	return rc;
}

int
apply_plan(struct pass *p, const struct plan *plan, const struct apply_opts *o,
	   struct apply_result *r, struct err *e)
{
	int n = o->parallel > 0 ? o->parallel : 4, rc = -1;
	struct worker *w = NULL;
	pthread_t *tids = NULL;
	struct exec x;
	json_t *summary;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	x.p = p;
	x.plan = plan;
	x.o = o;
	x.r = r;
	if (pg_dsn_parts(p->pg_dsn, &x.db_host, &x.db_port, &x.db_name, e) < 0)
		return -1;
	if (state_run_begin(p->state, plan->revision, "apply", &x.run_id, e) <
	    0)
		goto out;
	r->run_id = x.run_id;
	x.st = xcalloc(plan->n + 1, sizeof(*x.st));
	x.final = xcalloc(plan->n + 1, sizeof(*x.final));
	x.addr = xcalloc(plan->n + 1, sizeof(*x.addr));
	for (size_t i = 0; i < plan->n; i++)
		x.phase0_left += plan->v[i].phase == 0;
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	if ((size_t)n > plan->n)
		n = plan->n ? (int)plan->n : 1;
	w = xcalloc((size_t)n, sizeof(*w));
	tids = xcalloc((size_t)n, sizeof(*tids));
	for (int i = 0; i < n; i++) {
		w[i].x = &x;
		w[i].seed = (unsigned)time(NULL) ^ (unsigned)(i * 2654435761u);
		if (pthread_create(&tids[i], NULL, worker_main, &w[i]) != 0) {
			tids[i] = 0;
			worker_main(&w[i]);
		}
	}
	for (int i = 0; i < n; i++)
		if (tids[i])
			pthread_join(tids[i], NULL);
	summary = json_pack("{s:I, s:I, s:I}", "done", (json_int_t)r->done,
			    "failed", (json_int_t)r->failed, "skipped",
			    (json_int_t)r->skipped);
	{
		struct err se;

		if (r->done && record_structures(&x, &se) < 0)
			json_object_set_new(summary, "structures",
					    json_string(se.msg));
	}
	r->cancelled = (size_t)(plan->n - x.finished);
	timings_phase(p->timings, "apply");
	state_run_end(p->state, x.run_id,
		      r->cancelled	      ? "interrupted" :
		      r->failed || r->skipped ? "failed" :
						"ok",
		      summary, e);
	json_decref(summary);
	pthread_mutex_destroy(&x.mu);
	pthread_cond_destroy(&x.cv);
	rc = 0;
out:
	free(x.st);
	free(x.final);
	free(x.addr);
	free(w);
	free(tids);
	free(x.db_host);
	free(x.db_port);
	free(x.db_name);
	return rc;
}
