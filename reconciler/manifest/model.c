/*
 * model.c - from validated documents to the typed desired state.
 *
 * Collect reads every document (tolerating schema errors, so references
 * to an invalid document do not cascade into more errors); finalize runs
 * only on an error-free model and computes the effective spec of every
 * environment (site defaults resolved), the derived live names and the
 * canonical JSON + SHA-256 of every live object.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "profile.h"
#include "../driver/ingress.h"
#include "../util/hash.h"
#include "../util/strbuf.h"
#include "../util/timings.h"

json_t *
jget(json_t *o, const char *k1, const char *k2, const char *k3)
{
	const char *keys[3] = { k1, k2, k3 };

	for (int i = 0; i < 3 && keys[i]; i++) {
		if (!json_is_object(o))
			return NULL;
		o = json_object_get(o, keys[i]);
	}
	return o;
}

const char *
jstr(json_t *o, const char *k1, const char *k2, const char *k3)
{
	return json_string_value(jget(o, k1, k2, k3));
}

int
jint(json_t *o, const char *k1, const char *k2, const char *k3, int def)
{
	json_t *v = jget(o, k1, k2, k3);

	return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

const char *
stage_name(enum stage s)
{
	static const char *const names[] = { "production", "staging",
					     "development", "preview" };

	return names[s];
}

const char *
live_kind_name(enum live_kind k)
{
	static const char *const names[] = { "role", "schema", "bucket",
					     "container", "route" };

	return names[k];
}

static json_t *profile_vars(const struct app_profile *prof);
static void add_routes(struct model *m, struct environment *e, json_t *health,
		       size_t *oalloc);
static void add_route(struct model *m, struct environment *e, json_t *health,
		      size_t *oalloc, const char *name, const char *host,
		      json_t *redirects, const char *tls);
static void add_ingress_labels(struct model *m, struct environment *e,
			       size_t first);

static int
stage_parse(const char *s, enum stage *out)
{
	for (int i = STAGE_PRODUCTION; i <= STAGE_PREVIEW; i++) {
		if (s && strcmp(s, stage_name((enum stage)i)) == 0) {
			*out = (enum stage)i;
			return 0;
		}
	}
	return -1;
}

static struct secret_ref
secret(json_t *v)
{
	struct secret_ref r = { jstr(v, "env", NULL, NULL),
				jstr(v, "file", NULL, NULL) };

	return r;
}

static void
collect_platform(struct model *m, const struct doc *doc)
{
	struct platform *p = &m->platform;
	json_t *s = jget(doc->root, "spec", NULL, NULL);

	p->doc = doc;
	p->name = jstr(doc->root, "metadata", "name", NULL);
	p->pg_dsn = secret(jget(s, "postgres", "dsn", NULL));
	p->pg_max_connections = jint(s, "postgres", "maxConnections", NULL, 8);
	p->pg_site_host = jstr(s, "postgres", "siteHost", NULL);
	p->s3_endpoint = jstr(s, "s3", "endpoint", NULL);
	p->s3_region = jstr(s, "s3", "region", NULL);
	if (!p->s3_region)
		p->s3_region = "us-east-1";
	p->s3_site_endpoint = jstr(s, "s3", "siteEndpoint", NULL);
	if (!p->s3_site_endpoint)
		p->s3_site_endpoint = p->s3_endpoint;
	p->s3_access_key = secret(jget(s, "s3", "accessKey", NULL));
	p->s3_secret_key = secret(jget(s, "s3", "secretKey", NULL));
	p->runtime_driver = jstr(s, "runtime", "driver", NULL);
	p->runtime_socket = jstr(s, "runtime", "socket", NULL);
	if (!p->runtime_socket)
		p->runtime_socket = "/var/run/docker.sock";
	p->prefix = jstr(s, "naming", "prefix", NULL);
	if (!p->prefix)
		p->prefix = "fcs-press";
	p->runtime_network = jstr(s, "runtime", "network", NULL);
	if (!p->runtime_network)
		p->runtime_network = p->prefix;
	p->runtime_subnet = jstr(s, "runtime", "subnet", NULL);
	p->port_from = jint(s, "ports", "from", NULL, 48600);
	p->port_to = jint(s, "ports", "to", NULL, 49800);
	p->master_key = secret(jget(s, "secrets", "masterKey", NULL));
	p->max_delete_percent = jint(s, "safety", "maxDeletePercent", NULL, 20);
	p->soft_delete_days = jint(s, "safety", "softDeleteDays", NULL, 30);
	p->preview_wildcard = jstr(s, "domains", "previewWildcard", NULL);
	p->ingress_driver = jstr(s, "ingress", "driver", NULL);
	p->ingress_admin = jstr(s, "ingress", "admin", NULL);
	p->ingress_http = jint(s, "ingress", "http", NULL, 0);
	p->ingress_https = jint(s, "ingress", "https", NULL, 0);
	p->traefik_dir = jstr(s, "ingress", "traefik", "dir");
	p->traefik_mounted_at = jstr(s, "ingress", "traefik", "mountedAt");
	if (!p->traefik_mounted_at)
		p->traefik_mounted_at = p->traefik_dir;
	p->traefik_resolver = jstr(s, "ingress", "traefik", "certResolver");
	if (!p->traefik_resolver)
		p->traefik_resolver = "acme";
	/* Traefik's websecure entry point is always there (443 unless
	 * said): TLS is on for its Domains whatever ingress.https says. */
	if (p->traefik_dir && !p->ingress_https)
		p->ingress_https = 443;
	p->ingress_acme_ca = jstr(s, "ingress", "acmeCA", NULL);
}

/* Binary search; the sites are sorted by name once collected. */
const struct site *
model_find_site(const struct model *m, const char *name)
{
	size_t lo = 0, hi = m->nsites;

	while (name && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, m->sites[mid].name);

		if (c == 0)
			return &m->sites[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
site_cmp(const void *a, const void *b)
{
	return strcmp(((const struct site *)a)->name,
		      ((const struct site *)b)->name);
}

static int
env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct environment *)a)->id,
		      ((const struct environment *)b)->id);
}

/* Collect every document into typed records. */
static void
collect(struct model *m, const int *valid)
{
	size_t sa = 0, ea = 0, pa = 0, da = 0;
	struct docset *ds = &m->docs;
	int nplat = 0;

	/* Sites first, so environments can point at them. */
	for (size_t i = 0; i < ds->n; i++) {
		const struct doc *doc = &ds->v[i];
		const char *kind = jstr(doc->root, "kind", NULL, NULL);
		const char *name = jstr(doc->root, "metadata", "name", NULL);

		if (!kind || !name)
			continue;
		if (strcmp(kind, "Platform") == 0) {
			if (nplat++ == 0)
				collect_platform(m, doc);
			m->has_platform = 1;
		} else if (strcmp(kind, "Site") == 0) {
			struct site *s;

			xgrow(&m->sites, &sa, m->nsites + 1, sizeof(*m->sites));
			s = &m->sites[m->nsites++];
			memset(s, 0, sizeof(*s));
			s->name = name;
			s->doc = doc;
			s->valid = valid[i];
			s->labels = jget(doc->root, "metadata", "labels", NULL);
			s->app = jstr(doc->root, "spec", "app", NULL);
		} else if (strcmp(kind, "BackupPolicy") == 0) {
			struct backup_policy *b;

			xgrow(&m->policies, &pa, m->npolicies + 1,
			      sizeof(*m->policies));
			b = &m->policies[m->npolicies++];
			memset(b, 0, sizeof(*b));
			b->name = name;
			b->doc = doc;
			b->valid = valid[i];
			b->spec = jget(doc->root, "spec", NULL, NULL);
			b->schedule = jstr(b->spec, "schedule", NULL, NULL);
		} else if (strcmp(kind, "Domain") == 0) {
			struct domain *dm;

			xgrow(&m->domains, &da, m->ndomains + 1,
			      sizeof(*m->domains));
			dm = &m->domains[m->ndomains++];
			memset(dm, 0, sizeof(*dm));
			dm->name = name;
			dm->doc = doc;
			dm->valid = valid[i];
			dm->host = jstr(doc->root, "spec", "host", NULL);
			dm->environment = jstr(doc->root, "spec", "environment",
					       NULL);
			dm->tls = jstr(doc->root, "spec", "tls", NULL);
			if (!dm->tls)
				dm->tls = "acme";
		}
	}
	if (m->nsites > 1)
		qsort(m->sites, m->nsites, sizeof(*m->sites), site_cmp);
	for (size_t i = 0; i < ds->n; i++) {
		const struct doc *doc = &ds->v[i];
		const char *kind = jstr(doc->root, "kind", NULL, NULL);
		const char *name = jstr(doc->root, "metadata", "name", NULL);
		const char *site = jstr(doc->root, "spec", "site", NULL);
		struct environment *e;

		if (!kind || !name || !site || strcmp(kind, "Environment"))
			continue;
		xgrow(&m->envs, &ea, m->nenvs + 1, sizeof(*m->envs));
		e = &m->envs[m->nenvs++];
		memset(e, 0, sizeof(*e));
		e->name = name;
		e->doc = doc;
		e->valid = valid[i];
		e->site = model_find_site(m, site);
		e->id = xprintf("%s/%s", site, name);
		if (stage_parse(jstr(doc->root, "spec", "stage", NULL),
				&e->stage) < 0)
			e->stage = STAGE_DEVELOPMENT;
		e->replicas = jint(doc->root, "spec", "replicas", NULL, 1);
		e->host_port = jint(doc->root, "spec", "hostPort", NULL, 0);
		e->publish = !m->platform.ingress_driver || e->host_port ||
			     json_is_true(
				     jget(doc->root, "spec", "hostPort", NULL));
	}
	if (m->nenvs > 1)
		qsort(m->envs, m->nenvs, sizeof(*m->envs), env_cmp);
	for (size_t i = 0; i < m->ndomains; i++) {
		struct domain *dm = &m->domains[i];

		if (dm->environment)
			dm->env = model_find_env(m, dm->environment);
	}
}

/*
 * One container per replica: "<name>" alone, "<name>-<n>" for more
 * (docs/design.md §3). At replicas 0 there is none, but the name stays reserved.
 * Only for a schema-valid document, whose replicas the schema bounds.
 */
static void
derive_container_names(struct environment *e)
{
	size_t n = e->replicas > 1 ? (size_t)e->replicas : 1;

	e->container_names = xcalloc(n, sizeof(*e->container_names));
	e->ncontainer_names = n;
	for (size_t r = 0; r < n; r++)
		e->container_names[r] = n == 1 ? xstrdup(e->container) :
						 xprintf("%s-%zu", e->container,
							 r + 1);
}

/* Derived names; also needed by the checks, so computed before them. */
static void
derive_names(struct model *m)
{
	const char *prefix = m->platform.prefix ? m->platform.prefix :
						  "fcs-press";

	for (size_t i = 0; i < m->nenvs; i++) {
		struct environment *e = &m->envs[i];
		const char *site = jstr(e->doc->root, "spec", "site", NULL);
		const char *schema = jstr(e->doc->root, "spec", "database",
					  "schema");
		const char *bucket = jstr(e->doc->root, "spec", "storage",
					  "bucket");

		if (schema) {
			e->schema = xstrdup(schema);
		} else {
			e->schema = xprintf("%s_%s", site, e->name);
			for (char *p = e->schema; *p; p++)
				if (*p == '-')
					*p = '_';
		}
		e->role = xstrdup(e->schema);
		e->bucket = bucket ? xstrdup(bucket) :
				     xprintf("%s-%s-%s", prefix, site, e->name);
		e->container = xprintf("%s-%s-%s", prefix, site, e->name);
		if (e->valid)
			derive_container_names(e);
		if (e->stage == STAGE_PREVIEW && m->platform.preview_wildcard &&
		    strncmp(m->platform.preview_wildcard, "*.", 2) == 0) {
			int declared = 0;

			for (size_t j = 0; j < m->ndomains; j++)
				if (m->domains[j].environment &&
				    strcmp(m->domains[j].environment, e->id) ==
					    0)
					declared = 1;
			if (!declared)
				e->host = xprintf("%s-%s.%s", site, e->name,
						  m->platform.preview_wildcard +
							  2);
		}
	}
}

/* --- effective specs --------------------------------------------------- */

/* A copy of src's members overlaid by over's (both may be NULL). */
static json_t *
merge(json_t *src, json_t *over)
{
	json_t *out = json_is_object(src) ? json_deep_copy(src) : json_object();

	if (json_is_object(over)) {
		json_t *c = json_deep_copy(over);

		json_object_update(out, c);
		json_decref(c);
	}
	return out;
}

/* Env var values as the container sees them: strings, or secret refs. */
static json_t *
env_vars(json_t *site_env, json_t *env_env)
{
	json_t *merged = merge(site_env, env_env), *out = json_object(), *v;
	const char *k;

	json_object_foreach(merged, k, v) {
		char buf[64];

		if (json_is_string(v) || json_is_object(v)) {
			json_object_set(out, k, v);
			continue;
		}
		if (json_is_integer(v))
			snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
		else if (json_is_real(v))
			snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		else if (json_is_boolean(v))
			snprintf(buf, sizeof(buf), "%s",
				 json_is_true(v) ? "true" : "false");
		else
			buf[0] = '\0';
		json_object_set_new(out, k, json_string(buf));
	}
	json_decref(merged);
	return out;
}

static void
set_if(json_t *o, const char *k, json_t *v)
{
	if (v)
		json_object_set(o, k, v);
}

static void
canonical_hash(char out[65], json_t *v)
{
	char *s = json_dumps(v,
			     JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	hash_sha256_hex(out, s, strlen(s));
	free(s);
}

static void
add_object(struct model *m, size_t *alloc, enum live_kind kind,
	   const char *name, const struct environment *e, json_t *spec)
{
	struct live_object *o;

	xgrow(&m->objects, alloc, m->nobjects + 1, sizeof(*m->objects));
	o = &m->objects[m->nobjects++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->name = name;
	o->env = e;
	o->spec = spec;
	canonical_hash(o->hash, spec);
}

static void
finalize_env(struct model *m, struct environment *e, size_t *oalloc)
{
	json_t *es = jget(e->doc->root, "spec", NULL, NULL);
	json_t *ss = jget(e->site->doc->root, "spec", NULL, NULL);
	const struct app_profile *prof = profile_find(e->site->app);
	json_t *spec = json_object(), *health, *db, *c, *v;
	size_t first = m->nobjects; /* this environment's objects */

	e->app = e->site->app;
	e->image = jstr(es, "image", NULL, NULL);
	if (!e->image)
		e->image = jstr(ss, "image", NULL, NULL);
	e->port = jint(es, "port", NULL, NULL,
		       jint(ss, "port", NULL, NULL, prof ? prof->port : 8080));
	e->labels = merge(e->site->labels,
			  jget(e->doc->root, "metadata", "labels", NULL));

	json_object_set_new(spec, "site", json_string(e->site->name));
	json_object_set_new(spec, "stage", json_string(stage_name(e->stage)));
	json_object_set_new(spec, "app", json_string(e->app));
	json_object_set_new(spec, "image", json_string(e->image));
	json_object_set_new(spec, "port", json_integer(e->port));
	json_object_set_new(spec, "replicas", json_integer(e->replicas));
	v = jget(es, "command", NULL, NULL);
	set_if(spec, "command", v ? v : jget(ss, "command", NULL, NULL));
	v = merge(jget(ss, "resources", NULL, NULL),
		  jget(es, "resources", NULL, NULL));
	if (json_object_size(v))
		json_object_set(spec, "resources", v);
	json_decref(v);
	json_object_set_new(spec, "env",
			    env_vars(jget(ss, "env", NULL, NULL),
				     jget(es, "env", NULL, NULL)));
	health = json_object();
	json_object_set_new(health, "path",
			    json_string(
				    jstr(es, "health", "path", NULL) ?
					    jstr(es, "health", "path", NULL) :
				    jstr(ss, "health", "path", NULL) ?
					    jstr(ss, "health", "path", NULL) :
				    prof ? prof->health_path :
					   "/"));
	json_object_set_new(health, "timeoutSeconds",
			    json_integer(jint(es, "health", "timeoutSeconds",
					      NULL,
					      jint(ss, "health",
						   "timeoutSeconds", NULL,
						   prof ? prof->health_timeout :
							  60))));
	json_object_set_new(spec, "health", health);
	db = json_object();
	json_object_set_new(db, "schema", json_string(e->schema));
	json_object_set_new(db, "role", json_string(e->role));
	json_object_set_new(db, "connectionLimit",
			    json_integer(jint(es, "database", "connectionLimit",
					      NULL, -1)));
	json_object_set_new(db, "passwordGeneration",
			    json_integer(jint(es, "database",
					      "passwordGeneration", NULL, 1)));
	json_object_set_new(spec, "database", db);
	json_object_set_new(spec, "storage",
			    json_pack("{s:s}", "bucket", e->bucket));
	json_object_set_new(spec, "container", json_string(e->container));
	if (e->host_port)
		json_object_set_new(spec, "hostPort",
				    json_integer(e->host_port));
	if ((v = jget(es, "cloneFrom", NULL, NULL))) {
		c = json_deep_copy(v);
		if (!json_object_get(c, "neutralize"))
			json_object_set_new(c, "neutralize", json_true());
		json_object_set_new(spec, "cloneFrom", c);
	}
	if ((v = jget(es, "promotion", NULL, NULL))) {
		c = json_deep_copy(v);
		if (!json_object_get(c, "minSoakMinutes"))
			json_object_set_new(c, "minSoakMinutes",
					    json_integer(30));
		if (!json_object_get(c, "protect"))
			json_object_set_new(c, "protect", json_array());
		json_object_set_new(spec, "promotion", c);
	}
	set_if(spec, "expiresAfterHours",
	       jget(es, "expiresAfterHours", NULL, NULL));
	if (e->host)
		json_object_set_new(spec, "host", json_string(e->host));
	e->spec = spec;
	canonical_hash(e->spec_hash, spec);

	/* The live objects, each with only what its backend sees. */
	add_object(m, oalloc, LIVE_ROLE, e->role, e,
		   json_pack("{s:s, s:s, s:O, s:O}", "name", e->role,
			     "searchPath", e->schema, "connectionLimit",
			     json_object_get(db, "connectionLimit"),
			     "passwordGeneration",
			     json_object_get(db, "passwordGeneration")));
	add_object(m, oalloc, LIVE_SCHEMA, e->schema, e,
		   json_pack("{s:s, s:s}", "name", e->schema, "owner",
			     e->role));
	add_object(m, oalloc, LIVE_BUCKET, e->bucket, e,
		   json_pack("{s:s}", "name", e->bucket));
	/* What the container gets from the platform, by the names of its
	 * app profile; values that are secret or known only at apply time
	 * (the DSN's host) enter the hash through what they derive from. */
	c = json_pack("{s:s, s:O, s:O, s:O, s:O, s:{s:s?, s:s, s:s, s:O}}",
		      "image", e->image, "port", json_object_get(spec, "port"),
		      "env", json_object_get(spec, "env"), "health", health,
		      "labels", e->labels, "platform", "siteHost",
		      m->platform.pg_site_host, "s3Endpoint",
		      m->platform.s3_site_endpoint, "s3Region",
		      m->platform.s3_region, "passwordGeneration",
		      json_object_get(db, "passwordGeneration"));
	json_object_set_new(c, "vars", profile_vars(prof));
	set_if(c, "command", json_object_get(spec, "command"));
	set_if(c, "resources", json_object_get(spec, "resources"));
	set_if(c, "hostPort", json_object_get(spec, "hostPort"));
	/* Only when false, so that specs that publish keep their hash. */
	if (!e->publish)
		json_object_set_new(c, "publish", json_false());
	/* One container per replica, named by derive_container_names;
	 * none when scaled to zero. */
	for (int r = 0; r < e->replicas && (size_t)r < e->ncontainer_names;
	     r++) {
		json_t *one = json_deep_copy(c);
		const char *name = e->container_names[r];

		json_object_set_new(one, "name", json_string(name));
		json_object_set_new(one, "replica", json_integer(r + 1));
		add_object(m, oalloc, LIVE_CONTAINER, name, e, one);
	}
	json_decref(c);
	add_routes(m, e, health, oalloc);
	add_ingress_labels(m, e, first);
}

/*
 * The labels the platform's ingress wants on the environment's
 * containers (traefik: its routers and service, from the routes just
 * added from index first on; ingress_container_labels() in
 * driver/ingress.h), as "ingressLabels" in each container's spec: they
 * enter its hash, so a Domain added or changed rolls the environment's
 * containers (Docker fixes a container's labels when it is made). An
 * ingress that wants none (caddy) leaves the specs as they are.
 */
static void
add_ingress_labels(struct model *m, struct environment *e, size_t first)
{
	json_t *routes = json_array(), *labels;

	for (size_t i = first; i < m->nobjects; i++)
		if (m->objects[i].kind == LIVE_ROUTE)
			json_array_append(routes, m->objects[i].spec);
	labels = ingress_container_labels(&m->platform, e, routes);
	for (size_t i = first; labels && i < m->nobjects; i++) {
		struct live_object *o = &m->objects[i];

		if (o->kind != LIVE_CONTAINER)
			continue;
		json_object_set(o->spec, "ingressLabels", labels);
		canonical_hash(o->hash, o->spec);
	}
	json_decref(labels);
	json_decref(routes);
}

/*
 * One ingress route per Domain of environment e, when the platform has
 * an ingress: its hosts, the containers it reaches (their addresses are
 * the core's to add at plan and apply time) and what the driver needs to
 * build it. Named "press.<platform>.<domain>": the name carries the
 * platform, so two platforms' routes never share one. A preview's
 * generated host gets one too, "press.<platform>.preview.<site>.<env>"
 * (names have no dots, so it never meets a Domain's), plain HTTP.
 */
static void
add_routes(struct model *m, struct environment *e, json_t *health,
	   size_t *oalloc)
{
	if (!m->platform.ingress_driver)
		return;
	for (size_t i = 0; i < m->ndomains; i++) {
		struct domain *dm = &m->domains[i];
		json_t *redirects = jget(dm->doc->root, "spec", "redirects",
					 NULL);

		if (dm->env != e || !dm->valid)
			continue;
		free(dm->route);
		dm->route = xprintf("press.%s.%s", m->platform.name, dm->name);
		add_route(m, e, health, oalloc, dm->route, dm->host, redirects,
			  dm->tls);
	}
	if (e->host && e->valid) {
		free(e->route);
		e->route = xprintf("press.%s.preview.%s.%s", m->platform.name,
				   e->site->name, e->name);
		add_route(m, e, health, oalloc, e->route, e->host, NULL,
			  "none");
	}
}

/* One route object: name (borrowed, lives as long as the model) for
 * host, the redirects (borrowed, may be NULL) and tls. */
static void
add_route(struct model *m, struct environment *e, json_t *health,
	  size_t *oalloc, const char *name, const char *host, json_t *redirects,
	  const char *tls)
{
	json_t *containers = json_array(), *r;

	for (int k = 0; k < e->replicas && (size_t)k < e->ncontainer_names; k++)
		json_array_append_new(containers,
				      json_string(e->container_names[k]));
	r = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:O, s:i}", "id", name,
		      "host", host, "redirects",
		      redirects ? json_deep_copy(redirects) : json_array(),
		      "tls", tls, "environment", e->id, "containers",
		      containers, "healthPath", json_object_get(health, "path"),
		      "http", m->platform.ingress_http);
	if (e->host_port)
		json_object_set_new(r, "hostPort", json_integer(e->host_port));
	/* TLS is served only where the ingress has an https port. */
	if (m->platform.ingress_https && strcmp(tls, "none"))
		json_object_set_new(r, "https",
				    json_integer(m->platform.ingress_https));
	if (m->platform.ingress_https && strcmp(tls, "acme") == 0 &&
	    m->platform.ingress_acme_ca)
		json_object_set_new(r, "acmeCA",
				    json_string(m->platform.ingress_acme_ca));
	/* Reached by address on the platform's network: caddy is given the
	 * addresses; traefik finds the containers itself by their labels. */
	if (!e->publish && !m->platform.traefik_dir)
		json_object_set_new(r, "containerPort", json_integer(e->port));
	add_object(m, oalloc, LIVE_ROUTE, name, e, r);
}

static json_t *
profile_vars(const struct app_profile *prof)
{
	static const char *const keys[PV_COUNT] = {
		"dbHost",     "dbPort",	  "dbName",	"dbSchema", "dbUser",
		"dbPassword", "s3Bucket", "s3Endpoint", "s3Region"
	};
	json_t *o = json_object();

	for (int i = 0; prof && i < PV_COUNT; i++)
		json_object_set_new(o, keys[i], json_string(prof->vars[i]));
	return o;
}

static void
finalize(struct model *m)
{
	size_t oalloc = 0;

	for (size_t i = 0; i < m->nenvs; i++)
		finalize_env(m, &m->envs[i], &oalloc);
}

const struct environment *
model_find_env(const struct model *m, const char *id)
{
	size_t lo = 0, hi = m->nenvs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, m->envs[mid].id);

		if (c == 0)
			return &m->envs[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *const manifest_kinds[5] = { "Platform", "Site", "Environment",
					"BackupPolicy", "Domain" };

static void
count(struct manifest_stats *stats, const struct docset *ds)
{
	memset(stats, 0, sizeof(*stats));
	stats->documents = ds->n;
	for (size_t i = 0; i < ds->n; i++) {
		const char *kind = jstr(ds->v[i].root, "kind", NULL, NULL);

		for (size_t k = 0; kind && k < 5; k++)
			if (strcmp(kind, manifest_kinds[k]) == 0)
				stats->kinds[k]++;
	}
}

int
manifest_read(struct model **out, struct manifest_stats *stats,
	      const struct source *src, struct diags *d)
{
	size_t errors = d->errors;
	struct model *m = xcalloc(1, sizeof(*m));
	int *valid = NULL, loaded;
	const char *label = src->label;
	double parsed;

	*out = NULL;
	if (!label)
		label = "(source)"; /* in-memory sources have none */
	m->revision = xstrdup(src->revision ? src->revision : "");
	loaded = manifest_load(&m->docs, src, d) == 0;
	if (m->docs.n == 0 && loaded)
		diags_add(d, DIAG_ERROR, label, 0, 0, -1, NULL, "source",
			  "an empty source never means \"delete everything\"; "
			  "check the path, ref and --path",
			  "no manifests found in '%s'", label);
	if (stats)
		count(stats, &m->docs);
	parsed = timings_now();
	valid = xcalloc(m->docs.n, sizeof(*valid));
	schema_check(&m->docs, valid, d);
	collect(m, valid);
	free(valid);
	derive_names(m);
	model_check(m, loaded ? label : NULL, d);
	if (stats)
		stats->validate_seconds = timings_now() - parsed;
	if (d->errors > errors) {
		model_free(m);
		return -1;
	}
	finalize(m);
	*out = m;
	return 0;
}

void
model_free(struct model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nenvs; i++) {
		struct environment *e = &m->envs[i];

		free(e->id);
		free(e->schema);
		free(e->role);
		free(e->bucket);
		free(e->container);
		for (size_t r = 0; r < e->ncontainer_names; r++)
			free(e->container_names[r]);
		free(e->container_names);
		free(e->host);
		free(e->route);
		json_decref(e->spec);
		json_decref(e->labels);
	}
	for (size_t i = 0; i < m->nobjects; i++)
		json_decref(m->objects[i].spec);
	free(m->objects);
	free(m->envs);
	free(m->sites);
	free(m->policies);
	for (size_t i = 0; i < m->ndomains; i++)
		free(m->domains[i].route);
	free(m->domains);
	docset_release(&m->docs);
	free(m->revision);
	free(m);
}

/* --- declared objects, defaults applied (diff, reports) ---------------- */

static json_t *
object_of(json_t *labels, json_t *spec)
{
	json_t *o = json_object(), *meta = json_object();

	if (json_object_size(labels))
		json_object_set(meta, "labels", labels);
	json_object_set_new(o, "metadata", meta);
	json_object_set_new(o, "spec", spec);
	return o;
}

static json_t *
platform_spec(const struct model *m)
{
	const struct platform *p = &m->platform;
	json_t *s = json_deep_copy(jget(p->doc->root, "spec", NULL, NULL));
	json_t *v;

	v = jget(s, "postgres", NULL, NULL);
	if (!json_object_get(v, "maxConnections"))
		json_object_set_new(v, "maxConnections", json_integer(8));
	v = jget(s, "s3", NULL, NULL);
	json_object_set_new(v, "region", json_string(p->s3_region));
	json_object_set_new(v, "siteEndpoint",
			    json_string(p->s3_site_endpoint));
	v = jget(s, "runtime", NULL, NULL);
	json_object_set_new(v, "socket", json_string(p->runtime_socket));
	json_object_set_new(v, "network", json_string(p->runtime_network));
	json_object_set_new(s, "naming",
			    json_pack("{s:s}", "prefix", p->prefix));
	json_object_set_new(s, "ports",
			    json_pack("{s:i, s:i}", "from", p->port_from, "to",
				      p->port_to));
	json_object_set_new(s, "safety",
			    json_pack("{s:i, s:i}", "maxDeletePercent",
				      p->max_delete_percent, "softDeleteDays",
				      p->soft_delete_days));
	return s;
}

json_t *
model_objects(const struct model *m)
{
	json_t *all = json_object(), *s;
	char key[256];

	if (m->has_platform) {
		snprintf(key, sizeof(key), "Platform/%s", m->platform.name);
		json_object_set_new(all, key,
				    object_of(jget(m->platform.doc->root,
						   "metadata", "labels", NULL),
					      platform_spec(m)));
	}
	for (size_t i = 0; i < m->nsites; i++) {
		const struct site *site = &m->sites[i];
		const struct app_profile *prof = profile_find(site->app);

		s = json_deep_copy(jget(site->doc->root, "spec", NULL, NULL));
		if (!json_object_get(s, "port") && prof)
			json_object_set_new(s, "port",
					    json_integer(prof->port));
		snprintf(key, sizeof(key), "Site/%s", site->name);
		json_object_set_new(all, key, object_of(site->labels, s));
	}
	for (size_t i = 0; i < m->nenvs; i++) {
		snprintf(key, sizeof(key), "Environment/%s", m->envs[i].id);
		json_object_set_new(all, key,
				    object_of(m->envs[i].labels,
					      json_incref(m->envs[i].spec)));
	}
	for (size_t i = 0; i < m->npolicies; i++) {
		const struct backup_policy *b = &m->policies[i];

		s = json_deep_copy(b->spec);
		if (!json_object_get(s, "include"))
			json_object_set_new(s, "include",
					    json_pack("[s, s]", "database",
						      "files"));
		snprintf(key, sizeof(key), "BackupPolicy/%s", b->name);
		json_object_set_new(all, key,
				    object_of(jget(b->doc->root, "metadata",
						   "labels", NULL),
					      s));
	}
	for (size_t i = 0; i < m->ndomains; i++) {
		const struct domain *dm = &m->domains[i];

		s = json_deep_copy(jget(dm->doc->root, "spec", NULL, NULL));
		json_object_set_new(s, "tls", json_string(dm->tls));
		snprintf(key, sizeof(key), "Domain/%s", dm->name);
		json_object_set_new(all, key,
				    object_of(jget(dm->doc->root, "metadata",
						   "labels", NULL),
					      s));
	}
	return all;
}
