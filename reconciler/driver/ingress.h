/*
 * ingress.h - what the ingress layer gives the model before any driver
 * runs: the labels an environment's containers must carry for the
 * platform's ingress to find them (Traefik's Docker provider reads its
 * routers and services from container labels).
 *
 * Data flows model -> plan -> apply -> driver: the model puts these
 * labels into each desired container's spec ("ingressLabels", so they
 * enter its hash), the executor adds them to the container's press.*
 * labels, and the Docker driver sets them like any other label. The
 * runtime driver knows nothing of the ingress.
 */
#ifndef PRESS_INGRESS_H
#define PRESS_INGRESS_H

#include <jansson.h>

struct platform;    /* manifest.h */
struct environment; /* manifest.h */

/*
 * The labels (a new object of strings) for the containers of
 * environment e, whose route specs (as the model builds them: "id",
 * "host", "redirects", "tls", "healthPath", ...) are in routes; NULL when
 * the platform's ingress wants no labels (none, or caddy). Never a
 * secret: host names, names, ports and paths only.
 */
json_t *ingress_container_labels(const struct platform *pf,
				 const struct environment *e,
				 const json_t *routes);

#endif
