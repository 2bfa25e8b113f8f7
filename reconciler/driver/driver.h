/*
 * driver.h - the only way the core talks to a backend.
 *
 * A driver observes the live objects of the kinds it handles in a fixed
 * number of round trips (not one per object), says whether an observed
 * object conforms to its desired spec, and applies one action at a time.
 * Every action is idempotent: re-running a half-done action converges.
 * A new runtime (Swarm, Kubernetes) is a new driver, not a rewrite.
 *
 * Handles are per worker thread: open() one per thread, never share.
 * Errors set err.transient for failures worth retrying (connection
 * refused or reset, timeouts, HTTP 5xx/429, Postgres serialization and
 * connection errors); everything else is permanent.
 */
#ifndef PRESS_DRIVER_H
#define PRESS_DRIVER_H

#include <stddef.h>

#include <jansson.h>

#include "../manifest/live.h"
#include "../util/err.h"

struct platform; /* manifest.h */

/* What a driver needs to reach its backend. Borrowed; secrets resolved
 * in memory by the caller and never printed. */
struct driver_env {
	const struct platform *platform;
	const char *pg_dsn;
	const char *s3_access_key, *s3_secret_key;
	int timeout_ms; /* per request / statement; 0 = default */
};

/*
 * The ownership mark pressctl writes on every object it creates: the
 * value is "press.platform=<name>" (a comment on schemas and roles, a
 * tag or marker object on buckets, a label on containers).
 */
#define DRIVER_MARK_PREFIX "press.platform="

/* One observed object. Owned by the struct live that holds it. */
struct live_item {
	enum live_kind kind;
	char *name;
	char *env_id;	 /* "site/env" from labels (containers), or NULL */
	char *spec_hash; /* containers: the press.spec label; else NULL */
	int running;	 /* containers: state is running */
	int host_port;	 /* containers: published host port, 0 if none */
	char *addr;	 /* containers: IP address on the platform's network
			  * while running, or NULL */
	json_t *state;	 /* kind-specific attributes (see each driver) */
	long long bytes; /* size, when asked for (deletes); -1 unknown */
	long long count; /* rows or objects, when asked for; -1 unknown */
	int count_more;	 /* count is a lower bound: "more than count" */
	/*
	 * Ownership: mark_seen says the mark was read (always for schemas,
	 * roles and containers; for buckets only those in observe_req.check);
	 * then mark is the platform it names, or NULL for an unmarked object.
	 * has_data (objects in check only): 1 holds data (a schema with any
	 * object, a role that owns or is granted anything, a bucket with an
	 * object), 0 empty, -1 unknown.
	 */
	int mark_seen;
	char *mark;
	int has_data;
};

struct live {
	struct live_item *v;
	size_t n, alloc;
	/* Host ports published on the runtime by any container, whoever
	 * started it (sorted, unique): never handed out again. */
	int *busy_ports;
	size_t nbusy, abusy;
};

/* Whether item l may be pressctl's for platform: its mark names the
 * platform, or its mark was not read (trusted through the state). */
int live_is_ours(const struct live_item *l, const char *platform);

/* The platform named by a mark value ("press.platform=acc" -> "acc"), as
 * a new string; NULL for NULL or another text. */
char *driver_mark_owner(const char *mark);

void live_init(struct live *l);
void live_release(struct live *l);
/* Append a zeroed item (bytes = count = -1); valid until the next add. */
struct live_item *live_add(struct live *l, enum live_kind kind,
			   const char *name);
/* Note a host port published on the runtime (ignores 0 and invalid). */
void live_busy_add(struct live *l, int port);
/* Sort by (kind, name), the busy ports too (unique), and find. */
void live_sort(struct live *l);
const struct live_item *live_find(const struct live *l, enum live_kind kind,
				  const char *name);

/*
 * What to observe. names[kind]: the objects pressctl may own (desired or
 * recorded in its state); drivers whose backend can be filtered by
 * ownership labels (Docker) list by label instead, and report objects of
 * these names that carry another mark or none. sized[kind]: objects a
 * plan would set aside or destroy, whose size to measure (rows counted
 * exactly within a time bound). check[kind]: objects whose ownership is
 * not proven by this platform's state: their mark and whether they hold
 * data must be read even where that costs a request per object.
 */
struct observe_req {
	const char *platform;
	const char *const *names[LIVE_NKINDS];
	size_t nnames[LIVE_NKINDS];
	const char *const *sized[LIVE_NKINDS];
	size_t nsized[LIVE_NKINDS];
	const char *const *check[LIVE_NKINDS];
	size_t ncheck[LIVE_NKINDS];
};

enum driver_op {
	OP_CREATE, /* missing: create it (idempotent: exists = success) */
	OP_UPDATE, /* changed or drifted: converge in place, or blue/green */
	OP_REMOVE, /* containers: stop and remove; data kept elsewhere */
	OP_PURGE,  /* schema, role, bucket: destroy it and its data */
	OP_RESTART, /* containers: restart (after a restore of its data) */
};

const char *driver_op_name(enum driver_op op);

struct driver_action;

/*
 * The ownership rules above, for drivers: may action a touch the object
 * as it is now (exists, and owner: the platform its mark names, or NULL
 * when unmarked)? 0 yes; -1 no, with e "<what>: why" (permanent).
 */
int driver_may_touch(const struct driver_action *a, const char *platform,
		     int exists, const char *owner, const char *what,
		     struct err *e);

/* Values the core computed for an action; may hold secrets. */
struct apply_args {
	const char *password; /* role: the derived password */
	json_t *env;	      /* container: variables, all strings, resolved */
	json_t *labels;	      /* container: labels, all strings: press.*,
			       * and the ingress's (traefik.*), which the
			       * model computed (driver/ingress.h) */
	int host_ports[2];    /* container: the two port slots it may use */
	const char *network;  /* container: network to attach */
	/* route with `tls: selfsigned`: its certificate and private key,
	 * PEM (the key is a secret: never in a message); NULL otherwise */
	char *cert_pem, *key_pem;
	/* Out: a host port the runtime found taken by something else when
	 * the container started ("address already in use"); the core sets
	 * it aside and allocates another. 0 otherwise. */
	int busy_port;
	/* Out: seconds spent waiting for the container's health check
	 * (added to; the core's --timings). */
	double health_seconds;
	/*
	 * Containers that publish no host port (spec "publish": false, the
	 * ingress reaches them on the platform's network):
	 * out: the started container's address on that network ("" none).
	 * switch_to, when set, is called by a blue/green update once the
	 * candidate (at address addr) is healthy and before the old
	 * container stops: the core points the environment's routes at it
	 * too. A failure keeps the old container and fails the update.
	 */
	char addr[64];
	int (*switch_to)(void *arg, const char *addr, struct err *e);
	void *switch_arg;
};

/*
 * Ownership rules every driver applies inside the action, against the
 * object as it is at that moment (have is what the plan saw):
 * - an object marked by another platform is never touched;
 * - an existing unmarked object is taken over (and marked) only when the
 *   plan saw it unmarked (have->mark_seen and no mark): adopted on
 *   purpose, or recorded in this platform's state before marks existed;
 * - a purge re-reads the mark (in the transaction of the DROP where the
 *   backend has transactions) and refuses unless it is this platform's,
 *   or the object is unmarked as the plan saw it.
 * CREATE and UPDATE write the mark.
 */
struct driver_action {
	enum driver_op op;
	enum live_kind kind;
	const char *name;
	const struct live_object *want; /* CREATE/UPDATE; NULL otherwise */
	const struct live_item *have;	/* observed, or NULL */
	struct apply_args *args;
};

struct driver {
	const char *name; /* "postgres", "s3", "docker", "caddy", "traefik" */
	unsigned kinds;	  /* bit (1u << LIVE_x) per kind handled */
	int (*open)(void **h, const struct driver_env *env, struct err *e);
	void (*close)(void *h); /* accepts NULL */
	/* Append the observed objects of its kinds to out. */
	int (*observe)(void *h, const struct observe_req *q, struct live *out,
		       struct err *e);
	/* 1 if have matches want; else 0 and a short reason in why
	 * ("connection limit 5, want 20", "not running"). */
	int (*conforms)(const struct live_item *have,
			const struct live_object *want, char *why, size_t n);
	int (*apply)(void *h, const struct driver_action *a, struct err *e);
	/*
	 * Optional (NULL when the backend has no event stream): changes made
	 * behind pressctl's back, e.g. a managed container that dies or is
	 * removed. events_open starts following the platform's objects;
	 * events_fd is a descriptor that becomes readable when something
	 * arrived; events_read drains it and returns 1 when a relevant event
	 * came, 0 when not, -1 when the stream broke (close, then open again
	 * later). Runs alongside other handles; close accepts NULL.
	 */
	int (*events_open)(void **ev, const struct driver_env *env,
			   const char *platform, struct err *e);
	int (*events_fd)(void *ev);
	int (*events_read)(void *ev, struct err *e);
	void (*events_close)(void *ev);
};

extern const struct driver driver_postgres;
extern const struct driver driver_s3;
extern const struct driver driver_docker;
/* Ingress routes (LIVE_ROUTE) through Caddy's admin API: the platform's
 * spec.ingress.driver "caddy". */
extern const struct driver driver_caddy;
/* Ingress routes (LIVE_ROUTE) for Traefik: container labels and files
 * for its file provider; spec.ingress.driver "traefik". */
extern const struct driver driver_traefik;

/* The ingress driver a platform names in spec.ingress.driver; NULL when
 * it declares no ingress or one no driver is built for. */
const struct driver *driver_ingress(const struct platform *pf);

/* The driver that handles kind for platform pf (borrowed): routes go to
 * the platform's ingress driver (NULL without one), the other kinds to
 * the three above. */
const struct driver *driver_for(const struct platform *pf, enum live_kind kind);

/*
 * Split a libpq connection string or URI into the parts a site container
 * needs (host, port, database; new strings, free() them). Fails on a
 * malformed DSN, naming no value from it.
 */
int pg_dsn_parts(const char *dsn, char **host, char **port, char **dbname,
		 struct err *e);

/*
 * Wait until http://127.0.0.1:port<path> answers 2xx or 3xx, or until
 * timeout_s seconds pass. 0 healthy, -1 not (e says what was seen).
 */
int http_probe(int port, const char *path, int timeout_s, struct err *e);
/* The same at http://<host>:<port><path> (host: an IPv4 address, for
 * example a container's on a Docker bridge network, which the host
 * routes to). */
int http_probe_at(const char *host, int port, const char *path, int timeout_s,
		  struct err *e);

/* Whether a desired container spec publishes a host port: every one
 * does, except those of a platform with an ingress that did not opt in
 * (spec "publish": false). */
int container_publishes(const json_t *spec);

#endif
