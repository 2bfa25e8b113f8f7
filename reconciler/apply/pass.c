/*
 * pass.c - secrets, state and observation for one reconcile pass.
 */
#include "apply.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/clock.h"
#include "../util/secret.h"

static void
actor(char *buf, size_t n)
{
	char host[128] = "?";
	const char *user = getenv("USER");

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, n, "%s@%s pid %ld", user ? user : "?", host,
		 (long)getpid());
}

int
pass_open(struct pass *p, const struct model *m, const char *command,
	  struct err *e)
{
	const struct platform *pf = &m->platform;

	memset(p, 0, sizeof(*p));
	p->model = m;
	live_init(&p->live);
	actor(p->actor, sizeof(p->actor));
	if (secret_resolve(&p->pg_dsn, pf->pg_dsn.env, pf->pg_dsn.file,
			   "postgres.dsn", e) < 0 ||
	    secret_resolve(&p->s3_access_key, pf->s3_access_key.env,
			   pf->s3_access_key.file, "s3.accessKey", e) < 0 ||
	    secret_resolve(&p->s3_secret_key, pf->s3_secret_key.env,
			   pf->s3_secret_key.file, "s3.secretKey", e) < 0 ||
	    secret_resolve(&p->master_key, pf->master_key.env,
			   pf->master_key.file, "secrets.masterKey", e) < 0)
		goto fail;
	p->denv.platform = pf;
	p->denv.pg_dsn = p->pg_dsn;
	p->denv.s3_access_key = p->s3_access_key;
	p->denv.s3_secret_key = p->s3_secret_key;
	(void)command; /* the run records it (state_run_begin) */
	if (state_open(&p->state, p->pg_dsn, pf->name, p->actor, e) < 0) {
		err_wrap(e,
			 "cannot open the state of platform '%s' in "
			 "PostgreSQL",
			 pf->name);
		goto fail;
	}
	p->now = clock_now();
	return 0;
fail:
	pass_close(p);
	return -1;
}

void
pass_close(struct pass *p)
{
	state_close(p->state);
	recorded_release(&p->rec);
	live_release(&p->live);
	secret_free(p->pg_dsn);
	secret_free(p->s3_access_key);
	secret_free(p->s3_secret_key);
	secret_free(p->master_key);
	memset(p, 0, sizeof(*p));
}

/* --- parallel observation ---------------------------------------------- */

/* The observers connect while the state is read, then wait until the
 * request is ready (go 1) or the pass gives up (go -1). */
struct start {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go;
};

struct observer {
	pthread_t tid;
	const struct driver *drv;
	const struct driver_env *env;
	const struct observe_req *q;
	struct start *start;
	struct live out;
	struct err err;
	int rc;
	double seconds; /* open, observe and close: its own, not the wait */
};

static void *
observe_one(void *arg)
{
	struct observer *o = arg;
	void *h = NULL;
	double t0 = timings_now();
	int go;

	live_init(&o->out);
	o->rc = o->drv->open(&h, o->env, &o->err);
	o->seconds = timings_now() - t0;
	pthread_mutex_lock(&o->start->mu);
	while (!o->start->go)
		pthread_cond_wait(&o->start->cv, &o->start->mu);
	go = o->start->go;
	pthread_mutex_unlock(&o->start->mu);
	t0 = timings_now();
	if (o->rc == 0 && go > 0)
		o->rc = o->drv->observe(h, o->q, &o->out, &o->err);
	o->drv->close(h);
	if (o->rc < 0)
		err_wrap(&o->err, "cannot observe %s", o->drv->name);
	o->seconds += timings_now() - t0;
	return NULL;
}

static void
start_set(struct start *s, int go)
{
	pthread_mutex_lock(&s->mu);
	s->go = go;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* A growable list of borrowed names per kind. */
struct names {
	const char **v[LIVE_NKINDS];
	size_t n[LIVE_NKINDS], alloc[LIVE_NKINDS];
};

static void
names_add(struct names *nm, enum live_kind k, const char *name)
{
	xgrow(&nm->v[k], &nm->alloc[k], nm->n[k] + 1, sizeof(*nm->v[k]));
	nm->v[k][nm->n[k]++] = name;
}

static int
obj_cmp(const void *a, const void *b)
{
	const struct live_object *x = *(const struct live_object *const *)a;
	const struct live_object *y = *(const struct live_object *const *)b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Observed objects learn their environment from the model or state. */
static void
attribute(struct pass *p)
{
	const struct model *m = p->model;
	const struct live_object **idx = xcalloc(m->nobjects + 1, sizeof(*idx));

	for (size_t i = 0; i < m->nobjects; i++)
		idx[i] = &m->objects[i];
	if (m->nobjects > 1)
		qsort(idx, m->nobjects, sizeof(*idx), obj_cmp);
	for (size_t i = 0; i < p->live.n; i++) {
		struct live_item *l = &p->live.v[i];
		struct live_object key = { .kind = l->kind, .name = l->name };
		const struct live_object *kp = &key, **hit;
		const struct rec_resource *r;

		if (l->env_id || (l->mark && strcmp(l->mark, m->platform.name)))
			continue; /* known, or another platform's */
		hit = m->nobjects ? bsearch(&kp, idx, m->nobjects, sizeof(*idx),
					    obj_cmp) :
				    NULL;
		if (hit)
			l->env_id = xstrdup((*hit)->env->id);
		else if ((r = recorded_find(&p->rec, l->kind, l->name)))
			l->env_id = xstrdup(r->env_id);
	}
	free(idx);
}

/*
 * The recorded state, and from it and the model the request to the
 * observers: the names (nm, ck: lists of borrowed names the caller frees)
 * and what would be destroyed (doomed, new arrays the caller frees).
 */
static int
read_state(struct pass *p, struct names *nm, struct names *ck,
	   const char **doomed[LIVE_NKINDS], struct observe_req *q,
	   struct err *e)
{
	if (state_read(p->state, &p->rec, e) < 0)
		return -1;
	/* Names: what the model wants and what the state records. Check:
	 * those whose ownership the state does not prove (not recorded, or
	 * recorded before marks were written), and those a plan would
	 * destroy (their mark is checked again right before). */
	for (size_t i = 0; i < p->model->nobjects; i++) {
		const struct live_object *o = &p->model->objects[i];
		const struct rec_resource *r = recorded_find(&p->rec, o->kind,
							     o->name);

		names_add(nm, o->kind, o->name);
		if (!r || !r->marked)
			names_add(ck, o->kind, o->name);
	}
	for (size_t i = 0; i < p->rec.nkept; i++)
		names_add(nm, LIVE_SCHEMA, p->rec.kept[i].schema);
	for (size_t i = 0; i < p->rec.nres; i++) {
		names_add(nm, p->rec.res[i].kind, p->rec.res[i].name);
		if (!p->rec.res[i].marked)
			names_add(ck, p->rec.res[i].kind, p->rec.res[i].name);
	}
	plan_doomed(p->model, &p->rec, p->now, doomed, q->nsized);
	q->platform = p->model->platform.name;
	for (int k = 0; k < LIVE_NKINDS; k++) {
		q->names[k] = nm->v[k];
		q->nnames[k] = nm->n[k];
		q->sized[k] = doomed[k];
		for (size_t i = 0; i < q->nsized[k]; i++)
			names_add(ck, (enum live_kind)k, doomed[k][i]);
		q->check[k] = ck->v[k];
		q->ncheck[k] = ck->n[k];
	}
	return state_read_foreign(p->state, q->names, q->nnames, &p->rec, e);
}

int
pass_observe(struct pass *p, struct err *e)
{
	const struct driver *drivers[4] = {
		&driver_postgres, &driver_s3, &driver_docker,
		driver_ingress(&p->model->platform)
	};
	int ndrivers = drivers[3] ? 4 : 3; /* the ingress, if declared */
	struct observer obs[4];
	const char **doomed[LIVE_NKINDS] = { NULL };
	struct observe_req q;
	struct names nm, ck;
	struct start st;
	int rc = 0;

	memset(&nm, 0, sizeof(nm));
	memset(&ck, 0, sizeof(ck));
	memset(&q, 0, sizeof(q));
	pthread_mutex_init(&st.mu, NULL);
	pthread_cond_init(&st.cv, NULL);
	st.go = 0;
	/* The backends' connections open while the state is read. */
	for (int i = 0; i < ndrivers; i++) {
		memset(&obs[i], 0, sizeof(obs[i]));
		obs[i].drv = drivers[i];
		obs[i].env = &p->denv;
		obs[i].q = &q;
		obs[i].start = &st;
		if (pthread_create(&obs[i].tid, NULL, observe_one, &obs[i]) !=
		    0)
			obs[i].tid = 0; /* runs below, in this thread */
	}
	rc = read_state(p, &nm, &ck, doomed, &q, e);
	/* Connecting, the lock, the recorded state: up to now. */
	timings_phase(p->timings, "state read");
	start_set(&st, rc == 0 ? 1 : -1);
	for (int i = 0; i < ndrivers; i++) {
		if (obs[i].tid)
			pthread_join(obs[i].tid, NULL);
		else
			observe_one(&obs[i]);
		timings_part(p->timings, "observe", obs[i].drv->name,
			     obs[i].seconds);
		if (obs[i].rc < 0 && rc == 0) {
			*e = obs[i].err;
			rc = -1;
		}
		for (size_t j = 0; j < obs[i].out.n; j++) {
			xgrow(&p->live.v, &p->live.alloc, p->live.n + 1,
			      sizeof(*p->live.v));
			p->live.v[p->live.n++] = obs[i].out.v[j];
		}
		for (size_t j = 0; j < obs[i].out.nbusy; j++)
			live_busy_add(&p->live, obs[i].out.busy_ports[j]);
		free(obs[i].out.v);
		free(obs[i].out.busy_ports);
	}
	pthread_mutex_destroy(&st.mu);
	pthread_cond_destroy(&st.cv);
	if (rc < 0)
		goto out;
	live_sort(&p->live);
	attribute(p);
	timings_phase(p->timings, "observe");
out:
	for (int k = 0; k < LIVE_NKINDS; k++) {
		free(nm.v[k]);
		free(ck.v[k]);
		free(doomed[k]);
	}
	return rc;
}
