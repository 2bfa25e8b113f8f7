/*
 * docker_internal.h - what the Docker driver's two files share:
 * docker.c (containers) and docker_events.c (the event stream).
 * Internal to driver/.
 */
#ifndef PRESS_DOCKER_INTERNAL_H
#define PRESS_DOCKER_INTERNAL_H

#include <curl/curl.h>

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

#endif
