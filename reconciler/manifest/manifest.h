/*
 * manifest.h - load, validate and model the desired state.
 *
 *   source --manifest_load--> docset (jansson trees with positions)
 *          --manifest_validate--> diagnostics (schema + semantic checks)
 *          --model_build--> struct model (typed, inheritance resolved,
 *                           a canonical JSON form and spec hash per object)
 *
 * manifest_read() does all three. Nothing here touches a live backend or
 * reads a secret value.
 */
#ifndef PRESS_MANIFEST_H
#define PRESS_MANIFEST_H

#include <stddef.h>

#include <jansson.h>

#include "../source/source.h"
#include "live.h"
#include "../util/diag.h"
#include "../util/err.h"

/* Bounds on untrusted YAML (besides the source's byte caps). */
#define MANIFEST_MAX_DEPTH 32
#define MANIFEST_MAX_DOCS_PER_FILE 20000
#define MANIFEST_MAX_DOCS 200000
#define MANIFEST_MAX_SCALAR_BYTES ((size_t)1 << 20)

struct pos {
	unsigned line, col; /* 1-based; 0 = unknown */
};

struct posmap;

/* One YAML document, converted to JSON. */
struct doc {
	char *file;	   /* owned copy: the model outlives the source */
	int index;	   /* 0-based document number within the file */
	struct pos pos;	   /* where the document starts */
	json_t *root;	   /* owned */
	struct posmap *pm; /* owned: JSON pointer -> positions */
};

struct docset {
	struct doc *v;
	size_t n, alloc;
};

/*
 * Parse every file of src. YAML errors, aliases/anchors, tags other than
 * !!str, duplicate keys, excessive depth or document counts are reported
 * as diagnostics (code "yaml"); the documents that parsed are kept. Plain
 * scalars are typed by the YAML 1.2 core schema (null, bool, int, float;
 * no yes/no booleans). Empty documents are skipped. Returns 0 when no
 * error was reported, -1 otherwise. out must be zeroed or released.
 */
int manifest_load(struct docset *out, const struct source *src,
		  struct diags *d);

void docset_release(struct docset *ds);

/*
 * Where the node at the JSON pointer `pointer` starts; with at_key, where
 * the key naming it starts (for "unknown field"). Falls back to the
 * nearest ancestor that has a position. Always fills out.
 */
void doc_pos(const struct doc *doc, const char *pointer, int at_key,
	     struct pos *out);

/* Add a diagnostic located at pointer in doc (see doc_pos). */
void doc_error(struct diags *d, const struct doc *doc, const char *pointer,
	       int at_key, const char *code, const char *hint, const char *fmt,
	       ...) __attribute__((format(printf, 7, 8)));

/* --- the model ------------------------------------------------------- */

struct secret_ref {
	const char *env; /* exactly one of env and file is set */
	const char *file;
};

enum stage {
	STAGE_PRODUCTION,
	STAGE_STAGING,
	STAGE_DEVELOPMENT,
	STAGE_PREVIEW,
};

const char *stage_name(enum stage s);

/* Is this env var name secret-looking (it contains PASSWORD, PASSWD,
 * SECRET or TOKEN, or ends in _KEY; any case)? Such a variable must be a
 * secret reference, and a plan never shows its value. */
int secret_name(const char *name);

struct platform {
	const char *name;
	struct secret_ref pg_dsn;
	int pg_max_connections;
	const char *pg_site_host; /* NULL: the DSN's host, at run time */
	const char *s3_endpoint, *s3_region, *s3_site_endpoint;
	struct secret_ref s3_access_key, s3_secret_key;
	const char *runtime_driver, *runtime_socket, *runtime_network;
	const char *runtime_subnet; /* the network's subnet, NULL: the
				     * engine's pick */
	const char *prefix;
	int port_from, port_to;
	struct secret_ref master_key;
	int max_delete_percent, soft_delete_days;
	const char *preview_wildcard; /* "*.preview.example" or NULL */
	/* spec.ingress; driver NULL: none, Domains are not routed */
	const char *ingress_driver, *ingress_admin;
	int ingress_http, ingress_https;
	/* spec.ingress.traefik (driver traefik): the directory pressctl
	 * writes the file provider's configuration into, where Traefik sees
	 * it (mountedAt, default dir), the ACME resolver's name */
	const char *traefik_dir, *traefik_mounted_at, *traefik_resolver;
	const char *ingress_acme_ca; /* spec.ingress.acmeCA or NULL */
	const struct doc *doc;
};

struct site {
	const char *name;
	json_t *labels; /* object, borrowed from the doc */
	const char *app;
	const struct doc *doc;
	int valid;
};

struct environment {
	const struct site *site;
	const char *name; /* environment name within the site */
	char *id;	  /* "<site>/<env>" */
	enum stage stage;
	json_t *labels; /* owned: site labels + own labels */
	/* Effective settings, site defaults resolved: */
	const char *app, *image;
	int port, replicas;
	int host_port; /* pinned host port, 0 = allocate */
	/* Publishes host ports: always without an ingress; with one only
	 * when spec.hostPort is true or a pinned port (else the ingress
	 * reaches the containers on the platform's network). */
	int publish;
	json_t *spec;  /* owned: the effective spec */
	/* Derived live names: */
	char *schema, *role, *bucket, *container;
	char **container_names; /* owned: one per replica, "<container>"
					 * alone or "<container>-<n>"; at
					 * replicas 0 the one name kept
					 * reserved; none if !valid */
	size_t ncontainer_names;
	char *host;	    /* generated preview host, or NULL */
	/* owned: the generated host's route's live name,
	 * "press.<platform>.preview.<site>.<env>", when the platform has an
	 * ingress; else NULL */
	char *route;
	char spec_hash[65]; /* SHA-256 of the canonical spec */
	const struct doc *doc;
	int valid; /* its document passed the schema */
};

struct backup_policy {
	const char *name;
	const char *schedule;
	json_t *spec; /* borrowed */
	const struct doc *doc;
	int valid;
};

struct domain {
	const char *name, *host, *environment, *tls;
	const struct environment *env; /* resolved */
	char *route; /* owned: its route's live name, "press.<platform>.<name>",
		      * when the platform has an ingress; else NULL */
	const struct doc *doc;
	int valid;
};

struct model {
	char *revision;	    /* commit id or content hash */
	struct docset docs; /* owns the trees everything borrows */
	struct platform platform;
	struct site *sites;
	size_t nsites;
	struct environment *envs; /* sorted by id */
	size_t nenvs;
	struct backup_policy *policies;
	size_t npolicies;
	struct domain *domains;
	size_t ndomains;
	struct live_object *objects; /* per environment: role, schema,
					 * bucket, one container per replica;
					 * in env order */
	size_t nobjects;
	int has_platform;
};

/* What a source held, counted by the documents' own kind field (also
 * when the source is invalid). */
struct manifest_stats {
	size_t documents;
	size_t kinds[5]; /* manifest_kinds order */
	/* Seconds (monotonic clock) spent validating and building the
	 * model after the YAML was parsed: what --timings calls
	 * "validate". */
	double validate_seconds;
};

/* The document kinds, in the order of manifest_stats.kinds. */
extern const char *const manifest_kinds[5];

/*
 * Load, validate and build the model of src in one step. Every problem
 * is reported in d (all of them, not just the first). stats, when not
 * NULL, receives the document counts. On success *out is
 * a new model (free with model_free) and 0 is returned; on any error
 * *out is NULL and -1 is returned. A source without manifests is an
 * error: an empty desired state never means "delete everything".
 */
int manifest_read(struct model **out, struct manifest_stats *stats,
		  const struct source *src, struct diags *d);

/* Frees the model and the docset it owns; accepts NULL. */
void model_free(struct model *m);

/*
 * The canonical JSON of every declared object, keyed "Kind/name"
 * ("Environment/acme/staging"), with defaults and inheritance resolved.
 * New reference; used by diff and by spec hashing.
 */
json_t *model_objects(const struct model *m);

/* Find an environment by "<site>/<env>"; NULL if none. */
const struct environment *model_find_env(const struct model *m, const char *id);

#endif
