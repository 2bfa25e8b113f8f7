/*
 * docker_internal.h - what the Docker driver's two files share:
 * docker.c (containers) and docker_events.c (the event stream).
 * Internal to driver/.
 */
#ifndef PRESS_DOCKER_INTERNAL_H
#define PRESS_DOCKER_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>

#include "driver.h"

/* Every URL is below the pinned API version (Docker Engine 20.10+);
 * the host part is ignored over the unix socket. */
#define DOCKER_API "http://localhost/v1.41"
#define DOCKER_SOCKET "/var/run/docker.sock" /* the default */
#define DOCKER_CONNECT_TIMEOUT_MS 5000L

/* The engine's socket: the platform's spec.runtime.socket or the
 * default (borrowed from p, or static). */
const char *docker_socket(const struct platform *p);

/*
 * No connection to the engine at socket path (c failed with
 * CURLE_COULDNT_CONNECT; errbuf is its error buffer): e says so, with
 * the system's reason when there is one. Transient; returns -1.
 */
int docker_unreachable(CURL *c, const char *path, const char *errbuf,
		       struct err *e);

/*
 * driver.h's events_open, events_fd, events_read and events_close for
 * Docker (docker_events.c): GET /events for the platform's managed
 * containers, one byte on a pipe per relevant event.
 */
int docker_events_open(void **h, const struct driver_env *env,
		       const char *platform, struct err *e);
int docker_events_fd(void *h);
int docker_events_read(void *h, struct err *e);
void docker_events_close(void *h);

/* --- parsing the engine's answers ------------------------------------
 * Pure functions over the engine's JSON (untrusted: the fuzz target
 * tests/fuzz/fuzz_docker.c drives them); nothing here does I/O. */

/* What pressctl needs to know about one existing container. */
struct cinfo {
	int exists;
	int managed; /* carries this platform's ownership labels */
	int running;
	char id[72];
	char state[24]; /* "running", "exited", "restarting", ... */
	char spec[72];	/* press.spec label, "" if none */
	char env[160];	/* press.env label, "" if none */
	long long exit_code, restarts;
	int host_port;		     /* first published TCP port, 0 if none */
	char addr[64];		     /* IP address on its network, "" if none */
	long long memory, nano_cpus; /* HostConfig limits, 0 none */
};

/*
 * A GET /containers/json?all=1 answer (body, len bytes) into out: every
 * container of platform, and every one whose name is among names
 * (sorted, nnames of them: a name in our scheme that someone else owns
 * is a conflict the plan must see); every published host port into
 * out's busy ports. network names the network whose address is kept.
 * *oldest (when not NULL) gets the earliest creation time (Unix seconds)
 * of platform's containers when it is earlier than its value, or when
 * that is 0. Not a JSON array: -1, e names socket. Everything is copied.
 */
int docker_parse_list(struct live *out, const char *body, size_t len,
		      const char *platform, const char *network,
		      const char *const *names, size_t nnames,
		      const char *socket, long long *oldest, struct err *e);

/* A GET /containers/<name>/json answer j (borrowed; any JSON, or NULL)
 * into ci; managed when its labels name platform; the id falls back to
 * name. */
void docker_parse_inspect(struct cinfo *ci, json_t *j, const char *platform,
			  const char *name);

/* The first {"error": ...} line of an image pull's progress stream
 * (body, NUL-terminated) into msg (n bytes); "" when none. */
void docker_pull_error(char *msg, size_t n, const char *body);

/*
 * Does this /events line report that a managed container of platform
 * died, stopped, was killed, paused or removed? The engine filtered
 * already; this is the ownership test again (a filter the engine ignored
 * must not wake the loop for foreign containers). A line that is not
 * JSON counts: missing a change costs more than one needless reconcile.
 */
int docker_event_relevant(const char *platform, const char *line, size_t len);

#endif
