/*
 * validate.c - the JSON Schema pass and the semantic rules the schema
 * cannot express (docs/manifest.md lists them). Every rule reports at the
 * node an operator has to edit, and all problems are reported in one run.
 * The rules only read the model; model.c derives everything they check.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "internal.h"
#include "jsonschema.h"
#include "../util/suggest.h"

extern const char press_manifest_schema[];

void
where(char *buf, size_t n, const struct doc *doc, const char *pointer)
{
	struct pos p;

	doc_pos(doc, pointer, 0, &p);
	snprintf(buf, n, "%s:%u:%u", doc->file, p.line, p.col);
}

int
secret_name(const char *name)
{
	static const char *const words[] = { "PASSWORD", "PASSWD", "SECRET",
					     "TOKEN", NULL };
	size_t n = strlen(name);

	for (int i = 0; words[i]; i++) {
		size_t w = strlen(words[i]);

		for (size_t j = 0; j + w <= n; j++)
			if (strncasecmp(name + j, words[i], w) == 0)
				return 1;
	}
	return n >= 4 && strcasecmp(name + n - 4, "_KEY") == 0;
}

/* --- schema ------------------------------------------------------------ */

/*
 * "/spec/redirects/0" -> "spec.redirects[0]"; with parent, the path of the
 * node's parent (for errors about a key, which name the key themselves).
 */
static void
field_name(char *buf, size_t n, const char *ptr, int parent)
{
	size_t len = strlen(ptr), w = 0;

	if (parent)
		while (len > 0 && ptr[--len] != '/')
			;
	for (size_t i = 0; i < len && w + 4 < n; i++) {
		const char *tok = ptr + i + 1;
		size_t tl = strcspn(tok, "/");
		int index = tl > 0 && strspn(tok, "0123456789") == tl;

		if (tl > len - i - 1)
			tl = len - i - 1;
		if (index)
			w += (size_t)snprintf(buf + w, n - w, "[%.*s]", (int)tl,
					      tok);
		else
			w += (size_t)snprintf(buf + w, n - w, "%s%.*s",
					      w ? "." : "", (int)tl, tok);
		if (w >= n)
			w = n - 1;
		i += tl;
	}
	buf[w < n ? w : n - 1] = '\0';
	/* undo RFC 6901 escapes for display */
	for (char *p = buf; (p = strchr(p, '~')) != NULL; p++) {
		if (p[1] == '0' || p[1] == '1') {
			*p = p[1] == '0' ? '~' : '/';
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
		}
	}
}

static struct jsonschema *manifest_schema;
static char schema_error[sizeof(((struct err *)0)->msg)];

static void
compile_schema(void)
{
	json_error_t jerr;
	struct err e;
	json_t *root = json_loads(press_manifest_schema, 0, &jerr);

	if (!root)
		snprintf(schema_error, sizeof(schema_error), "%d:%d: %s",
			 jerr.line, jerr.column, jerr.text);
	else if (jsonschema_compile(&manifest_schema, root, &e) < 0)
		snprintf(schema_error, sizeof(schema_error), "%s", e.msg);
	json_decref(root);
}

int
schema_check(const struct docset *ds, int *valid, struct diags *d)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct js_errors errs;
	size_t errors = d->errors;

	/* Compiled once per process: it is a constant of the binary. */
	pthread_once(&once, compile_schema);
	if (!manifest_schema) {
		diags_add(d, DIAG_ERROR, "schema/manifest.schema.json", 0, 0,
			  -1, NULL, "internal", NULL,
			  "the built-in schema is broken: %s", schema_error);
		return -1;
	}
	js_errors_init(&errs);
	for (size_t i = 0; i < ds->n; i++) {
		const struct doc *doc = &ds->v[i];
		const char *kind = jstr(doc->root, "kind", NULL, NULL);
		char at[64] = "";

		/* A known kind is checked by its own definition alone (which
		 * repeats the top-level rules), so nothing is reported twice. */
		if (kind && (strcmp(kind, "Platform") == 0 ||
			     strcmp(kind, "Site") == 0 ||
			     strcmp(kind, "Environment") == 0 ||
			     strcmp(kind, "BackupPolicy") == 0 ||
			     strcmp(kind, "Domain") == 0))
			snprintf(at, sizeof(at), "/definitions/%s", kind);
		valid[i] = jsonschema_validate(manifest_schema, at, doc->root,
					       &errs) == 0;
		for (size_t j = 0; j < errs.n; j++) {
			const struct js_error *x = &errs.v[j];
			/* A missing field is fixed where its parent's key is. */
			int required = strcmp(x->keyword, "required") == 0;
			char field[256];

			field_name(field, sizeof(field), x->path, x->at_key);
			doc_error(d, doc, x->path, x->at_key || required,
				  "schema", x->hint, "%s%s%s", field,
				  field[0] ? ": " : "", x->message);
		}
		js_errors_release(&errs);
		js_errors_init(&errs);
	}
	return d->errors > errors ? -1 : 0;
}

/* --- uniqueness claims -------------------------------------------------- */

struct claim {
	const char *key;
	const struct doc *doc;
	char ptr[96];
	const char *what;  /* for messages: "Site", "schema name", ... */
	const char *owner; /* who claims it: "Environment 'a/b'" */
};

struct claims {
	struct claim *v;
	size_t n, alloc;
};

static void
claim(struct claims *c, const char *key, const struct doc *doc, const char *ptr,
      const char *what, const char *owner)
{
	struct claim *x;

	if (!key)
		return;
	xgrow(&c->v, &c->alloc, c->n + 1, sizeof(*c->v));
	x = &c->v[c->n++];
	x->key = key;
	x->doc = doc;
	snprintf(x->ptr, sizeof(x->ptr), "%s", ptr);
	x->what = what;
	x->owner = owner;
}

/* Source order: docs sit in one array in load order. */
static int
claim_cmp(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->doc != y->doc)
		return x->doc < y->doc ? -1 : 1;
	return strcmp(x->ptr, y->ptr);
}

/* Report every claim after the first of the same key. */
static void
claims_report(struct claims *c, struct diags *d, const char *code,
	      const char *hint)
{
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), claim_cmp);
	for (size_t i = 1; i < c->n; i++) {
		const struct claim *first;
		char at[512];
		size_t j = i;

		if (strcmp(c->v[i].key, c->v[i - 1].key))
			continue;
		while (j > 0 && strcmp(c->v[j - 1].key, c->v[i].key) == 0)
			j--;
		first = &c->v[j];
		where(at, sizeof(at), first->doc, first->ptr);
		if (!c->v[i].owner)
			doc_error(d, c->v[i].doc, c->v[i].ptr, 0, code, hint,
				  "duplicate %s '%s' (first declared at %s)",
				  c->v[i].what, c->v[i].key, at);
		else
			doc_error(d, c->v[i].doc, c->v[i].ptr, 0, code, hint,
				  "%s '%s' of %s is already used by %s (%s)",
				  c->v[i].what, c->v[i].key, c->v[i].owner,
				  first->owner, at);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* --- the rules ---------------------------------------------------------- */

static void
check_platform(const struct model *m, const char *label, struct diags *d)
{
	const struct platform *p = &m->platform;
	const struct doc *first = NULL;

	for (size_t i = 0; i < m->docs.n; i++) {
		const struct doc *doc = &m->docs.v[i];
		const char *kind = jstr(doc->root, "kind", NULL, NULL);
		char at[512];

		if (!kind || strcmp(kind, "Platform"))
			continue;
		if (!first) {
			first = doc;
			continue;
		}
		where(at, sizeof(at), first, "/metadata/name");
		doc_error(d, doc, "/metadata/name", 0, "platform",
			  "keep one Platform per config repository",
			  "second Platform document: exactly one is allowed "
			  "(the first is at %s)",
			  at);
	}
	if (!first && label) {
		diags_add(d, DIAG_ERROR, label, 0, 0, -1, NULL, "platform",
			  "add a document of kind Platform; examples/ has some",
			  "no Platform document in '%s': exactly one is required",
			  label);
		return;
	}
	if (p->doc && p->port_from >= p->port_to)
		doc_error(d, p->doc, "/spec/ports/to", 0, "port", NULL,
			  "ports.to (%d) must be greater than ports.from (%d)",
			  p->port_to, p->port_from);
}

static void
check_names(const struct model *m, struct diags *d)
{
	struct claims c = { 0 };

	for (size_t i = 0; i < m->nsites; i++)
		claim(&c, m->sites[i].name, m->sites[i].doc, "/metadata/name",
		      "Site", NULL);
	claims_report(&c, d, "name", NULL);
	for (size_t i = 0; i < m->nenvs; i++)
		claim(&c, m->envs[i].id, m->envs[i].doc, "/metadata/name",
		      "Environment", NULL);
	claims_report(&c, d, "name", NULL);
	for (size_t i = 0; i < m->npolicies; i++)
		claim(&c, m->policies[i].name, m->policies[i].doc,
		      "/metadata/name", "BackupPolicy", NULL);
	claims_report(&c, d, "name", NULL);
	for (size_t i = 0; i < m->ndomains; i++)
		claim(&c, m->domains[i].name, m->domains[i].doc,
		      "/metadata/name", "Domain", NULL);
	claims_report(&c, d, "name", NULL);
}

/* Names of the environments of one site, for "did you mean". */
static const char *
suggest_env(const struct model *m, const char *site, const char *word)
{
	const char **cands = xcalloc(m->nenvs + 1, sizeof(*cands));
	const char *pick;
	size_t n = 0;

	for (size_t i = 0; i < m->nenvs; i++) {
		const char *s = jstr(m->envs[i].doc->root, "spec", "site",
				     NULL);

		if (site == NULL)
			cands[n++] = m->envs[i].id;
		else if (s && strcmp(s, site) == 0)
			cands[n++] = m->envs[i].name;
	}
	pick = suggest(word, cands, n);
	free(cands);
	return pick;
}

static void
hint_of(char *buf, size_t n, const char *pick)
{
	if (pick)
		snprintf(buf, n, "did you mean '%s'?", pick);
	else
		buf[0] = '\0';
}

/* A chain of cloneFrom that comes back to where it started has no
 * environment to copy first. */
static void
check_clone_loop(const struct model *m, const struct environment *e,
		 const char *ptr, const char *site, const char *target,
		 struct diags *d)
{
	const char *at = target;

	for (size_t steps = 0; at && steps < m->nenvs; steps++) {
		const struct environment *x;
		char id[128];

		if (strcmp(at, e->name) == 0) {
			doc_error(d, e->doc, ptr, 0, "ref",
				  "let one environment of the loop start "
				  "empty or from a backup",
				  "cloneFrom of environment '%s' loops back "
				  "to it through '%s'",
				  e->id, target);
			return;
		}
		snprintf(id, sizeof(id), "%s/%s", site, at);
		if (!(x = model_find_env(m, id)))
			return;
		at = jstr(x->doc->root, "spec", "cloneFrom", "environment");
	}
}

/* cloneFrom.environment and promotion.from name a sibling environment. */
static void
check_sibling(const struct model *m, const struct environment *e,
	      const char *ptr, const char *what, struct diags *d)
{
	const char *site = jstr(e->doc->root, "spec", "site", NULL);
	json_t *spec = jget(e->doc->root, "spec", NULL, NULL);
	const char *target;
	char id[128], hint[128];

	target = strcmp(what, "cloneFrom") == 0 ?
			 jstr(spec, "cloneFrom", "environment", NULL) :
			 jstr(spec, "promotion", "from", NULL);
	if (!target)
		return;
	if (strcmp(target, e->name) == 0) {
		doc_error(d, e->doc, ptr, 0, "ref", NULL,
			  "%s of environment '%s' names itself", what, e->id);
		return;
	}
	snprintf(id, sizeof(id), "%s/%s", site, target);
	if (model_find_env(m, id)) {
		if (strcmp(what, "cloneFrom") == 0)
			check_clone_loop(m, e, ptr, site, target, d);
		return;
	}
	hint_of(hint, sizeof(hint), suggest_env(m, site, target));
	doc_error(d, e->doc, ptr, 0, "ref", hint[0] ? hint : NULL,
		  "%s names unknown environment '%s' of site '%s' "
		  "(it must be in the same site)",
		  what, target, site);
}

static void
check_env_secrets(const struct doc *doc, json_t *env, struct diags *d)
{
	const char *k;
	json_t *v;

	json_object_foreach(env, k, v) {
		char ptr[300];

		if (json_is_object(v) || !secret_name(k))
			continue;
		snprintf(ptr, sizeof(ptr), "/spec/env/%s", k);
		doc_error(d, doc, ptr, 0, "secret",
			  "move the value out of git and write {env: NAME} or "
			  "{file: PATH}",
			  "inline secret in environment variable '%s'", k);
	}
}

static void
check_envs(const struct model *m, struct diags *d)
{
	const struct platform *p = &m->platform;
	struct claims schemas = { 0 }, buckets = { 0 }, containers = { 0 },
		      ports = { 0 };
	char(*portkeys)[16] = xcalloc(m->nenvs + 1, sizeof(*portkeys));
	char **next = NULL; /* "<container>-next" claims, freed at the end */
	size_t nnext = 0, anext = 0;
	const char **sites = xcalloc(m->nsites + 1, sizeof(*sites));

	for (size_t i = 0; i < m->nsites; i++) {
		sites[i] = m->sites[i].name;
		if (m->sites[i].valid)
			check_env_secrets(m->sites[i].doc,
					  jget(m->sites[i].doc->root, "spec",
					       "env", NULL),
					  d);
	}
	for (size_t i = 0; i < m->nenvs; i++) {
		const struct environment *e = &m->envs[i];
		json_t *spec = jget(e->doc->root, "spec", NULL, NULL);
		int has_schema = jget(spec, "database", "schema", NULL) != NULL;
		int has_bucket = jget(spec, "storage", "bucket", NULL) != NULL;
		const char *sptr = has_schema ? "/spec/database/schema" :
						"/metadata/name";
		const char *bptr = has_bucket ? "/spec/storage/bucket" :
						"/metadata/name";
		size_t blen = strlen(e->bucket);

		if (!e->site) {
			char hint[128];
			const char *site = jstr(spec, "site", NULL, NULL);

			hint_of(hint, sizeof(hint),
				suggest(site, sites, m->nsites));
			doc_error(d, e->doc, "/spec/site", 0, "ref",
				  hint[0] ? hint : NULL,
				  "environment '%s' names unknown site '%s'",
				  e->name, site);
		}
		if (!e->valid)
			continue;
		check_env_secrets(e->doc, jget(spec, "env", NULL, NULL), d);
		check_sibling(m, e, "/spec/cloneFrom/environment", "cloneFrom",
			      d);
		check_sibling(m, e, "/spec/promotion/from", "promotion.from",
			      d);

		if (strlen(e->schema) > 63)
			doc_error(d, e->doc, sptr, 0, "name",
				  "set spec.database.schema to a shorter name",
				  "schema name '%s' is %zu bytes, longer than "
				  "PostgreSQL's limit of 63",
				  e->schema, strlen(e->schema));
		else if (strcmp(e->schema, "pressctl") == 0 ||
			 strcmp(e->schema, "public") == 0 ||
			 strcmp(e->schema, "information_schema") == 0 ||
			 strncmp(e->schema, "pg_", 3) == 0)
			doc_error(d, e->doc, sptr, 0, "name",
				  "set spec.database.schema to another name",
				  "schema name '%s' is reserved", e->schema);
		claim(&schemas, e->schema, e->doc, sptr, "schema name", e->id);
		if (blen < 3 || blen > 63)
			doc_error(d, e->doc, bptr, 0, "name",
				  "set spec.storage.bucket to a name of 3 to 63 "
				  "characters",
				  "bucket name '%s' is %zu characters; S3 allows "
				  "3 to 63",
				  e->bucket, blen);
		else if (p->prefix &&
			 strncmp(e->bucket, p->prefix, strlen(p->prefix)) ==
				 0 &&
			 strcmp(e->bucket + strlen(p->prefix), "-backups") == 0)
			doc_error(d, e->doc, bptr, 0, "name",
				  "set spec.storage.bucket to another name",
				  "bucket name '%s' is reserved for backups",
				  e->bucket);
		claim(&buckets, e->bucket, e->doc, bptr, "bucket name", e->id);
		/* The model names a container per replica; a blue/green
		 * rollout briefly runs "<name>-next" beside each. */
		for (size_t r = 0; r < e->ncontainer_names; r++) {
			const char *name = e->container_names[r];

			xgrow(&next, &anext, nnext + 1, sizeof(*next));
			next[nnext] = xprintf("%s-next", name);
			claim(&containers, name, e->doc, "/metadata/name",
			      "container name", e->id);
			claim(&containers, next[nnext++], e->doc,
			      "/metadata/name", "rollout container name",
			      e->id);
		}
		if (e->replicas > 1) {
			if (e->host_port)
				doc_error(d, e->doc, "/spec/hostPort", 0,
					  "port",
					  "drop hostPort or set replicas: 1",
					  "hostPort pins one host port, so it "
					  "needs replicas: 1 (has %d)",
					  e->replicas);
		}

		if (e->host_port) {
			if (e->host_port < p->port_from ||
			    e->host_port > p->port_to)
				doc_error(d, e->doc, "/spec/hostPort", 0,
					  "port",
					  "pick a port inside the platform's "
					  "ports range or widen the range",
					  "hostPort %d is outside the platform's "
					  "ports range %d-%d",
					  e->host_port, p->port_from,
					  p->port_to);
			snprintf(portkeys[i], sizeof(portkeys[i]), "%d",
				 e->host_port);
			claim(&ports, portkeys[i], e->doc, "/spec/hostPort",
			      "hostPort", e->id);
		}
		if (jget(spec, "expiresAfterHours", NULL, NULL) &&
		    e->stage != STAGE_PREVIEW)
			doc_error(d, e->doc, "/spec/expiresAfterHours", 0,
				  "stage",
				  "remove it, or make the environment a preview",
				  "expiresAfterHours applies to previews only; "
				  "'%s' is %s",
				  e->id, stage_name(e->stage));
		/* A neutralized copy has its mail, scheduled jobs and
		 * payments off: never what a production environment wants
		 * (clone/clone.h refuses it too). */
		if (e->stage == STAGE_PRODUCTION &&
		    jget(spec, "cloneFrom", NULL, NULL) &&
		    !json_is_false(jget(spec, "cloneFrom", "neutralize", NULL)))
			doc_error(d, e->doc, "/spec/cloneFrom", 0, "stage",
				  "set cloneFrom.neutralize: false to copy the "
				  "data as it is",
				  "'%s' is a production environment: its copy "
				  "would be neutralized (mail, scheduled jobs "
				  "and payments off)",
				  e->id);
	}
	claims_report(&schemas, d, "name",
		      "set spec.database.schema on one of them");
	claims_report(&buckets, d, "name",
		      "set spec.storage.bucket on one of them");
	claims_report(&containers, d, "name",
		      "rename the site or the environment");
	claims_report(&ports, d, "port", "pin another hostPort");
	for (size_t i = 0; i < nnext; i++)
		free(next[i]);
	free(next);
	free(portkeys);
	free(sites);
}

static void
check_domains(const struct model *m, struct diags *d)
{
	struct claims hosts = { 0 };
	char(*owners)[80] = xcalloc(m->ndomains + m->nenvs + 1,
				    sizeof(*owners));

	for (size_t i = 0; i < m->ndomains; i++) {
		const struct domain *dm = &m->domains[i];
		json_t *redirects = jget(dm->doc->root, "spec", "redirects",
					 NULL);
		json_t *v;
		size_t j;

		snprintf(owners[i], sizeof(owners[i]), "Domain '%s'", dm->name);
		if (dm->environment && !dm->env && dm->valid) {
			char hint[128];

			hint_of(hint, sizeof(hint),
				suggest_env(m, NULL, dm->environment));
			doc_error(d, dm->doc, "/spec/environment", 0, "ref",
				  hint[0] ? hint : NULL,
				  "domain '%s' names unknown environment '%s'",
				  dm->name, dm->environment);
		}
		claim(&hosts, dm->host, dm->doc, "/spec/host", "host",
		      owners[i]);
		json_array_foreach(redirects, j, v) {
			char ptr[64];

			snprintf(ptr, sizeof(ptr), "/spec/redirects/%zu", j);
			claim(&hosts, json_string_value(v), dm->doc, ptr,
			      "host", owners[i]);
		}
	}
	for (size_t i = 0; i < m->nenvs; i++) {
		char *o = owners[m->ndomains + i];

		snprintf(o, 80, "the preview '%s'", m->envs[i].id);
		claim(&hosts, m->envs[i].host, m->envs[i].doc, "/metadata/name",
		      "generated host", o);
	}
	claims_report(&hosts, d, "host", "each host may be claimed once");
	free(owners);
}

static int
selects(json_t *sel, const struct environment *e)
{
	const char *stage = jstr(sel, "stage", NULL, NULL);
	json_t *labels = jget(sel, "matchLabels", NULL, NULL);
	json_t *sites = jget(sel, "sites", NULL, NULL), *v;
	const char *k;
	size_t i;
	int found = sites == NULL;

	if (stage && strcmp(stage, stage_name(e->stage)))
		return 0;
	json_array_foreach(sites, i, v)
		if (e->site && json_is_string(v) &&
		    strcmp(json_string_value(v), e->site->name) == 0)
			found = 1;
	if (!found)
		return 0;
	json_object_foreach(labels, k, v) {
		json_t *have = e->site ? json_object_get(e->site->labels, k) :
					 NULL;

		if (!json_equal(have, v))
			return 0;
	}
	return 1;
}

static void
check_policies(const struct model *m, struct diags *d)
{
	const char **sites = xcalloc(m->nsites + 1, sizeof(*sites));

	for (size_t i = 0; i < m->nsites; i++)
		sites[i] = m->sites[i].name;
	for (size_t i = 0; i < m->npolicies; i++) {
		const struct backup_policy *b = &m->policies[i];
		json_t *sel = jget(b->spec, "selector", NULL, NULL), *v;
		char msg[256];
		struct cron cr;
		int matched = 0;
		size_t j;

		if (!b->valid)
			continue;
		if (b->schedule &&
		    cron_parse(&cr, b->schedule, msg, sizeof(msg)) < 0)
			doc_error(d, b->doc, "/spec/schedule", 0, "cron",
				  "write 5 fields: minute hour day-of-month "
				  "month day-of-week, e.g. \"0 2 * * *\"",
				  "invalid schedule '%s': %s", b->schedule,
				  msg);
		json_array_foreach(jget(sel, "sites", NULL, NULL), j, v) {
			char ptr[64], hint[128];
			const char *s = json_string_value(v);

			if (model_find_site(m, s))
				continue;
			snprintf(ptr, sizeof(ptr), "/spec/selector/sites/%zu",
				 j);
			hint_of(hint, sizeof(hint),
				suggest(s, sites, m->nsites));
			doc_error(d, b->doc, ptr, 0, "ref",
				  hint[0] ? hint : NULL,
				  "backup policy '%s' selects unknown site '%s'",
				  b->name, s);
		}
		for (size_t k = 0; k < m->nenvs && !matched; k++)
			matched = selects(sel, &m->envs[k]);
		if (!matched) {
			struct pos p;

			doc_pos(b->doc, "/spec/selector", 1, &p);
			diags_add(d, DIAG_WARNING, b->doc->file, p.line, p.col,
				  b->doc->index, "/spec/selector", "selector",
				  NULL,
				  "backup policy '%s' selects no "
				  "environment",
				  b->name);
		}
	}
	free(sites);
}

void
model_check(const struct model *m, const char *label, struct diags *d)
{
	check_platform(m, label, d);
	check_names(m, d);
	check_envs(m, d);
	check_domains(m, d);
	check_policies(m, d);
}
