/*
 * traefik.h - the pure parts of the traefik ingress driver
 * (driver/traefik.c): what goes on the containers, what goes into the
 * file provider's directory, and its YAML. No I/O; the unit tests call
 * them directly.
 *
 * Names: Traefik splits labels at dots, so a route "press.<platform>.
 * <domain>" is the router "press_<platform>_<domain>" (names of
 * platforms, sites, environments and Domains have no '_' and no '.',
 * so the mapping is one to one); an environment's service is
 * "press_<platform>_<site>_<env>". The routers of the file provider
 * add "_redirect", "_redirect_tls" or "_https" to the route's router
 * name, and so do their middlewares.
 */
#ifndef PRESS_TRAEFIK_H
#define PRESS_TRAEFIK_H

#include <jansson.h>

#include "../util/err.h"
#include "../util/strbuf.h"

struct platform;    /* manifest.h */
struct environment; /* manifest.h */

/* Traefik's entry points, as its static configuration must name them. */
#define TRAEFIK_WEB "web"
#define TRAEFIK_WEBSECURE "websecure"

/* What the file provider's configuration depends on besides the route. */
struct traefik_conf {
	const char *platform;
	const char *mounted_at; /* the directory as Traefik sees it */
	const char *resolver;	/* ACME certificate resolver (tls: acme) */
	int http, https;	/* entry point ports; https 0 means 443 */
};

/* The router name of route id (a new string): '.' becomes '_'. */
char *traefik_router_name(const char *route_id);

/*
 * The container labels for environment e, whose route specs are in
 * routes (see ingress_container_labels() in ingress.h): a new object of
 * strings. Without routes, "traefik.enable" is "false" (the containers
 * are never exposed, even when Traefik exposes containers by default).
 */
json_t *traefik_container_labels(const struct platform *pf,
				 const struct environment *e,
				 const json_t *routes);

/*
 * The file provider's configuration of one route (a new object, {} when
 * the route needs nothing besides its labels): routers and middlewares
 * for the redirects and for HTTP -> HTTPS, and tls.certificates for
 * tls: selfsigned (files "<id>.crt" and "<id>.key" under
 * c->mounted_at). spec is the route's spec as the model builds it.
 */
json_t *traefik_route_config(const json_t *spec, const struct traefik_conf *c);

/*
 * The whole text of a route's file: the ownership mark, a comment, and
 * the configuration as YAML (libyaml's emitter). The first line is
 * TRAEFIK_MARK followed by the platform's name.
 */
#define TRAEFIK_MARK "# managed by pressctl: "
int traefik_file_text(const json_t *spec, const struct traefik_conf *c,
		      struct strbuf *out, struct err *e);

/* A JSON value as one YAML document, appended to out: keys sorted,
 * strings that would read as another type quoted. */
int traefik_yaml_emit(const json_t *doc, struct strbuf *out, struct err *e);

/* One YAML document (text, n bytes) as JSON into *out (JSON null when
 * empty). Plain true/false/integers/null become those types; anything
 * quoted is a string. Aliases, several documents and nesting deeper than
 * 32 levels are errors. */
int traefik_yaml_parse(const char *text, size_t n, json_t **out, struct err *e);

#endif
