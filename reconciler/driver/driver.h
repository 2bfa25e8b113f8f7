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

#include "../manifest/manifest.h"
#include "../util/err.h"

/* What a driver needs to reach its backend. Borrowed; secrets resolved
 * in memory by the caller and never printed. */
struct driver_env {
	const struct platform *platform;
	const char *pg_dsn;
	const char *s3_access_key, *s3_secret_key;
	int timeout_ms;		/* per request / statement; 0 = default */
};

/* One observed object. Owned by the struct live that holds it. */
struct live_item {
	enum live_kind kind;
	char *name;
	char *env_id;		/* "site/env" from labels (containers), or NULL */
	char *spec_hash;	/* containers: the press.spec label; else NULL */
	int running;		/* containers: state is running */
	int host_port;		/* containers: published host port, 0 if none */
	json_t *state;		/* kind-specific attributes (see each driver) */
	long long bytes;	/* size, when asked for (deletes); -1 unknown */
	long long count;	/* rows (estimate) or objects; -1 unknown */
};

struct live {
	struct live_item *v;
	size_t n, alloc;
};

void live_init(struct live *l);
void live_release(struct live *l);
/* Append a zeroed item (bytes = count = -1); valid until the next add. */
struct live_item *live_add(struct live *l, enum live_kind kind,
			   const char *name);
/* Sort by (kind, name) and find. */
void live_sort(struct live *l);
const struct live_item *live_find(const struct live *l, enum live_kind kind,
				  const char *name);

/*
 * What to observe. names[kind]: the objects pressctl may own (desired or
 * recorded in its state); drivers whose backend can be filtered by
 * ownership labels (Docker) list by label instead and may ignore names.
 * sized[kind]: objects a plan would destroy, whose size to measure.
 */
struct observe_req {
	const char *platform;
	const char *const *names[4];
	size_t nnames[4];
	const char *const *sized[4];
	size_t nsized[4];
};

enum driver_op {
	OP_CREATE,	/* missing: create it (idempotent: exists = success) */
	OP_UPDATE,	/* changed or drifted: converge in place, or blue/green */
	OP_REMOVE,	/* containers: stop and remove; data kept elsewhere */
	OP_PURGE,	/* schema, role, bucket: destroy it and its data */
};

const char *driver_op_name(enum driver_op op);

/* Values the core computed for an action; may hold secrets. */
struct apply_args {
	const char *password;	/* role: the derived password */
	json_t *env;		/* container: variables, all strings, resolved */
	json_t *labels;		/* container: labels (press.*), all strings */
	int host_ports[2];	/* container: the two port slots it may use */
	const char *network;	/* container: network to attach */
};

struct driver_action {
	enum driver_op op;
	enum live_kind kind;
	const char *name;
	const struct live_object *want;	/* CREATE/UPDATE; NULL otherwise */
	const struct live_item *have;	/* observed, or NULL */
	const struct apply_args *args;
};

struct driver {
	const char *name;		/* "postgres", "s3", "docker" */
	unsigned kinds;			/* bit (1u << LIVE_x) per kind handled */
	int (*open)(void **h, const struct driver_env *env, struct err *e);
	void (*close)(void *h);		/* accepts NULL */
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

/* The driver that handles kind, from the three above. */
const struct driver *driver_for(enum live_kind kind);

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

#endif
