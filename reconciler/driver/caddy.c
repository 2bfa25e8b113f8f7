/*
 * caddy.c - ingress routes in Caddy through its admin API (LIVE_ROUTE).
 *
 * Every route pressctl makes lives in the platform's HTTP server,
 * "press.<platform>", listening on spec.ingress.http, and carries the
 * "@id" "press.<platform>.<domain>" (a preview's generated host:
 * "press.<platform>.preview.<site>.<env>"): the id is the ownership
 * mark, so routes of other platforms and anything else in Caddy's
 * configuration are never touched. The server ends with the catch-all
 * "press.<platform>.404" (404 for any host no route claims; Caddy
 * itself would answer an empty 200).
 *
 * A route's upstreams come computed from the core (plan/plan.c,
 * plan_route_upstreams): by default the addresses of the environment's
 * running containers on the platform's network, which a rollout
 * rewrites to the new container's before the old one stops; with host
 * ports, every port its containers may hold (the two blue/green slots
 * of each replica). Caddy's active health checks on the environment's
 * health path pick the ones that answer, and a request whose upstream
 * went away is retried on another within a few seconds.
 *
 * With TLS (docs/ingress.md), each Domain also has an HTTPS route in the
 * server "press.<platform>:https", its certificate (load_pem) or ACME
 * policy, and its plain-HTTP route answers 308 to https.
 *
 * Observe is one GET of the whole configuration. Writes are serialized
 * between this process's workers: Caddy reloads its configuration on
 * every change anyway.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "driver.h"
#include "http.h"
#include "../manifest/manifest.h"
#include "../tls/tls.h"
#include "../util/clock.h"
#include "../util/secret.h"
#include "../util/strbuf.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 5000L
/* A configuration with 10,000 routes is about 10 MiB. */
#define MAX_ANSWER ((size_t)64 << 20)
/* How long a request waits for an upstream that answers, how often it
 * tries, how often Caddy checks each upstream's health, and how long an
 * upstream that failed a request is left out.
 *
 * With host ports a route lists both blue/green slots and Caddy's active
 * checks pick the live one. Without host ports the core moves the route
 * to a container only once pressctl's own probe found it healthy, so the
 * route needs no active check, only the passive one, which leaves out an
 * upstream that failed a request (a replica that died) while watch mode
 * replaces it. Active checks do not scale: Caddy runs every route's
 * check at once each time its configuration changes, so 1,000 routes
 * written one by one made about 500,000 health requests. */
#define TRY_DURATION "5s"
#define TRY_INTERVAL "100ms"
#define HEALTH_INTERVAL "1s"
#define HEALTH_TIMEOUT "2s"
#define FAIL_DURATION "5s"

struct caddy {
	CURL *curl;
	char *admin;	      /* owned: the admin URL without a trailing / */
	const char *platform; /* borrowed */
	int http_port;
	int https_port; /* 0: no https listener */
	long timeout_ms;
	struct curl_slist *headers;
	struct strbuf answer; /* body of the last answer */
	char errbuf[CURL_ERROR_SIZE];
	char server[96];    /* "press.<platform>" */
	char catchall[128]; /* "press.<platform>.404" */
	char prefix[96];    /* "press.<platform>." */
	char tls_server[96];	/* "press.<platform>:https" */
	char tls_catchall[128]; /* "press.<platform>:https.404" */
};

/*
 * The TLS pieces of a Domain's route "<id>" (docs/ingress.md) carry the
 * ids "<id>:https" (its route in the https server), "<id>:cert" (its
 * selfsigned certificate in apps.tls.certificates.load_pem) and
 * "<id>:acme" (its automation policy in apps.tls.automation.policies).
 * Live names have no ':', so no piece is ever taken for a route.
 */
#define PIECE_HTTPS ":https"
#define PIECE_CERT ":cert"
#define PIECE_ACME ":acme"

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* --- HTTP to the admin API --------------------------------------------- */

/*
 * One request to the admin API: method, path (from "/config/" or
 * "/id/"), an optional JSON body (borrowed). The answer lands in
 * c->answer and its status in *status; fails only when no answer came.
 */
static int
perform(struct caddy *c, const char *method, const char *path,
	const json_t *body, long *status, struct err *e)
{
	struct http_opts o = { .errbuf = c->errbuf,
			       .connect_ms = CONNECT_TIMEOUT_MS,
			       .timeout_ms = c->timeout_ms,
			       .user_agent = "pressctl",
			       .no_proxy = 1 };
	char *url = xprintf("%s%s", c->admin, path), *data = NULL;
	CURLcode rc;
	int ret = -1;

	*status = 0;
	strbuf_release(&c->answer);
	strbuf_init(&c->answer, MAX_ANSWER);
	c->errbuf[0] = '\0';
	curl_easy_reset(c->curl); /* keeps the live connection */
	http_setup(c->curl, &o);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->answer);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	if (body) {
		if (!(data = json_dumps(body, JSON_COMPACT))) {
			err_set(e, "cannot encode the request %s %s", method,
				path);
			goto out;
		}
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(data));
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_WRITE_ERROR && c->answer.overflow) {
		err_set(e,
			"the answer of the caddy admin API at '%s' to %s %s "
			"is larger than %zu MiB",
			c->admin, method, path, MAX_ANSWER >> 20);
		goto out;
	}
	if (rc != CURLE_OK) {
		if (http_transient(rc))
			err_transient(e,
				      "cannot reach the caddy admin API at "
				      "'%s': %s; is caddy running with that "
				      "admin address?",
				      c->admin, http_message(c->errbuf, rc));
		else
			err_set(e,
				"cannot talk to the caddy admin API at '%s': %s",
				c->admin, http_message(c->errbuf, rc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	ret = 0;
out:
	secret_free(data); /* a certificate's body holds its private key */
	free(url);
	return ret;
}

/* The last answer as JSON (new reference), or NULL. */
static json_t *
answer_json(const struct caddy *c)
{
	return json_loadb(c->answer.buf, c->answer.len, JSON_DECODE_ANY, NULL);
}

/* A failed answer as an error "<what>: <caddy's message> (HTTP n)";
 * 429 and 502-504 are transient. Returns -1. */
static int
api_error(const struct caddy *c, long status, struct err *e, const char *what)
{
	json_t *j = answer_json(c);
	const char *m = json_string_value(json_object_get(j, "error"));
	char msg[512];
	int rc;

	snprintf(msg, sizeof(msg), "%.400s",
		 m	       ? m :
		 c->answer.len ? c->answer.buf :
				 "no message");
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = ' ';
	if (status == 429 || (status >= 502 && status <= 504))
		rc = err_transient(e, "%s: %s (HTTP %ld)", what, msg, status);
	else
		rc = err_set(e, "%s: %s (HTTP %ld)", what, msg, status);
	json_decref(j);
	return rc;
}

/* GET path as JSON into *out (new reference; JSON null when the path
 * holds nothing). */
static int
get_json(struct caddy *c, const char *path, json_t **out, const char *what,
	 struct err *e)
{
	long status;

	*out = NULL;
	if (perform(c, "GET", path, NULL, &status, e) < 0)
		return err_wrap(e, "%s", what);
	if (status != 200)
		return api_error(c, status, e, what);
	if (!(*out = answer_json(c)))
		return err_set(e,
			       "%s: the caddy admin API at '%s' answered "
			       "something that is not JSON",
			       what, c->admin);
	return 0;
}

/* A write (PUT, PATCH, DELETE) that must answer 200. */
static int
send_json(struct caddy *c, const char *method, const char *path,
	  const json_t *body, const char *what, struct err *e)
{
	long status;

	if (perform(c, method, path, body, &status, e) < 0)
		return err_wrap(e, "%s", what);
	if (status != 200)
		return api_error(c, status, e, what);
	return 0;
}

/* --- open / close ------------------------------------------------------ */

static void
caddy_close(void *h)
{
	struct caddy *c = h;

	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	strbuf_release(&c->answer);
	free(c->admin);
	free(c);
}

static int
caddy_open(void **h, const struct driver_env *env, struct err *e)
{
	const struct platform *p = env->platform;
	struct caddy *c;
	struct curl_slist *l;
	size_t n;

	*h = NULL;
	if (!p || !p->ingress_admin || !p->name)
		return err_set(e, "the platform declares no ingress: set "
				  "spec.ingress (driver, admin, http) in its "
				  "Platform manifest");
	c = xcalloc(1, sizeof(*c));
	c->admin = xstrdup(p->ingress_admin);
	n = strlen(c->admin);
	while (n && c->admin[n - 1] == '/')
		c->admin[--n] = '\0';
	c->platform = p->name;
	c->http_port = p->ingress_http;
	c->https_port = p->ingress_https;
	c->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms :
					      DEFAULT_TIMEOUT_MS;
	snprintf(c->server, sizeof(c->server), "press.%s", p->name);
	snprintf(c->catchall, sizeof(c->catchall), "press.%s.404", p->name);
	snprintf(c->prefix, sizeof(c->prefix), "press.%s.", p->name);
	snprintf(c->tls_server, sizeof(c->tls_server), "press.%s:https",
		 p->name);
	snprintf(c->tls_catchall, sizeof(c->tls_catchall), "press.%s:https.404",
		 p->name);
	strbuf_init(&c->answer, MAX_ANSWER);
	l = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = l ? curl_slist_append(l, "Expect:") : NULL;
	if (!c->headers)
		curl_slist_free_all(l);
	if (!(c->curl = curl_easy_init()) || !c->headers) {
		caddy_close(c);
		return err_set(e, "cannot reach the caddy admin API: cannot "
				  "initialize libcurl");
	}
	*h = c;
	return 0;
}

/* --- the desired route --------------------------------------------------- */

static json_t *route_json_at(const json_t *spec, const char *id,
			     const char *scheme, int port);
static json_t *https_redirect_json(const json_t *spec);

/*
 * Caddy's JSON of the route a desired spec asks for (new reference).
 * spec: the model's route spec plus "upstreams", the host addresses of
 * its containers, which the core adds (plan: from its allocations;
 * apply: allocated). http: the ingress's port, for redirect targets.
 * A route with TLS (spec "https") answers plain HTTP with a redirect to
 * HTTPS; its HTTPS route is https_route_json's.
 */
static json_t *
route_json(const json_t *spec, int http)
{
	if (json_object_get(spec, "https"))
		return https_redirect_json(spec);
	return route_json_at(spec,
			     json_string_value(json_object_get(spec, "id")),
			     "http", http);
}

/* The route of spec with id, served on scheme://host[:port]. */
static json_t *
route_json_at(const json_t *spec, const char *id, const char *scheme, int port)
{
	json_t *hosts = json_array(), *routes = json_array(), *ups, *checks,
	       *redirects = json_object_get(spec, "redirects"),
	       *upstreams = json_object_get(spec, "upstreams"), *v;
	const char *host = json_string_value(json_object_get(spec, "host")),
		   *hp = json_string_value(json_object_get(spec, "healthPath"));
	char portstr[16] = "", *loc;
	size_t i;

	json_array_append_new(hosts, json_string(host ? host : ""));
	json_array_extend(hosts, redirects);
	if (json_array_size(redirects)) {
		if (port && port != (strcmp(scheme, "https") ? 80 : 443))
			snprintf(portstr, sizeof(portstr), ":%d", port);
		loc = xprintf("%s://%s%s{http.request.uri}", scheme,
			      host ? host : "", portstr);
		json_array_append_new(
			routes,
			json_pack("{s:[{s:O}], s:[{s:s, s:i, s:{s:[s]}}]}",
				  "match", "host", redirects, "handle",
				  "handler", "static_response", "status_code",
				  308, "headers", "Location", loc));
		free(loc);
	}
	if (!json_array_size(upstreams)) {
		json_array_append_new(
			routes,
			json_pack("{s:[{s:s, s:i, s:s}]}", "handle", "handler",
				  "static_response", "status_code", 503, "body",
				  "this environment runs no container\n"));
	} else {
		ups = json_array();
		json_array_foreach(upstreams, i, v)
			json_array_append_new(ups,
					      json_pack("{s:O}", "dial", v));
		if (json_is_integer(json_object_get(spec, "containerPort")))
			checks = json_pack("{s:{s:s}}", "passive",
					   "fail_duration", FAIL_DURATION);
		else
			checks = json_pack("{s:{s:s, s:s, s:s}}", "active",
					   "uri", hp ? hp : "/", "interval",
					   HEALTH_INTERVAL, "timeout",
					   HEALTH_TIMEOUT);
		json_array_append_new(
			routes,
			json_pack("{s:[{s:s, s:o, s:{s:{s:s}, s:s, s:s}, "
				  "s:o}]}",
				  "handle", "handler", "reverse_proxy",
				  "upstreams", ups, "load_balancing",
				  "selection_policy", "policy", "round_robin",
				  "try_duration", TRY_DURATION, "try_interval",
				  TRY_INTERVAL, "health_checks", checks));
	}
	return json_pack("{s:s, s:[{s:o}], s:[{s:s, s:o}], s:b}", "@id",
			 id ? id : "", "match", "host", hosts, "handle",
			 "handler", "subroute", "routes", routes, "terminal",
			 1);
}

/* --- TLS: the desired pieces ---------------------------------------------- */

/* "<id><piece>" into out. */
static void
piece_id(char *out, size_t n, const char *id, const char *piece)
{
	snprintf(out, n, "%s%s", id ? id : "", piece);
}

static const char *
spec_str(const json_t *spec, const char *key)
{
	const char *v = json_string_value(json_object_get(spec, key));

	return v ? v : "";
}

/* Every host of a route spec: its host, then its redirects (new). */
static json_t *
spec_hosts(const json_t *spec)
{
	json_t *hosts = json_pack("[s]", spec_str(spec, "host"));

	json_array_extend(hosts, json_object_get(spec, "redirects"));
	return hosts;
}

/*
 * The plain-HTTP route of a Domain with TLS: every host answers 308 to
 * https://<host>[:<https>]<path and query> (redirect hosts straight to
 * the primary host).
 */
static json_t *
https_redirect_json(const json_t *spec)
{
	int https = (int)json_integer_value(json_object_get(spec, "https"));
	char port[16] = "", *loc;
	json_t *r;

	if (https && https != 443)
		snprintf(port, sizeof(port), ":%d", https);
	loc = xprintf("https://%s%s{http.request.uri}", spec_str(spec, "host"),
		      port);
	r = json_pack("{s:s, s:[{s:o}], s:[{s:s, s:i, s:{s:[s]}}], s:b}", "@id",
		      spec_str(spec, "id"), "match", "host", spec_hosts(spec),
		      "handle", "handler", "static_response", "status_code",
		      308, "headers", "Location", loc, "terminal", 1);
	free(loc);
	return r;
}

/* The route of a Domain with TLS in the https server: as the plain one
 * would be, its redirects to https://. */
static json_t *
https_route_json(const json_t *spec)
{
	char id[256];

	piece_id(id, sizeof(id), spec_str(spec, "id"), PIECE_HTTPS);
	return route_json_at(spec, id, "https",
			     (int)json_integer_value(
				     json_object_get(spec, "https")));
}

/* The automation policy of a Domain with `tls: acme`: Caddy's ACME
 * issuer for its hosts (the CA of spec "acmeCA", else Caddy's default). */
static json_t *
acme_json(const json_t *spec)
{
	char id[256];
	json_t *issuer = json_pack("{s:s}", "module", "acme");

	piece_id(id, sizeof(id), spec_str(spec, "id"), PIECE_ACME);
	if (json_string_value(json_object_get(spec, "acmeCA")))
		json_object_set(issuer, "ca", json_object_get(spec, "acmeCA"));
	return json_pack("{s:s, s:o, s:[o]}", "@id", id, "subjects",
			 spec_hosts(spec), "issuers", issuer);
}

/* The certificate of a Domain with `tls: selfsigned`, as loaded: tagged
 * with the route's id. Holds the private key: never printed. */
static json_t *
cert_json(const char *route_id, const char *cert, const char *key)
{
	char id[256];

	piece_id(id, sizeof(id), route_id, PIECE_CERT);
	return json_pack("{s:s, s:s, s:s, s:[s]}", "@id", id, "certificate",
			 cert, "key", key, "tags", route_id);
}

/* The hosts a Caddy route matches (a new array of borrowed strings). */
static json_t *
route_hosts(const json_t *route)
{
	json_t *list = json_array(), *m;
	size_t i;

	json_array_foreach(json_object_get(route, "match"), i, m)
		json_array_extend(list, json_object_get(m, "host"));
	return list;
}

/* The dial addresses of the reverse proxies in a route's subroute (a new
 * array), as route_json() lays them out. */
static json_t *
route_dials(const json_t *route)
{
	json_t *list = json_array(), *sub, *r, *hd, *up;
	size_t i, j, k, u;

	json_array_foreach(json_object_get(route, "handle"), i, sub) {
		json_array_foreach(json_object_get(sub, "routes"), j, r) {
			json_array_foreach(json_object_get(r, "handle"), k,
					   hd) {
				json_array_foreach(json_object_get(hd,
								   "upstreams"),
						   u, up)
					json_array_append(
						list,
						json_object_get(up, "dial"));
			}
		}
	}
	return list;
}

/* A list of strings as "a, b" ("none" when empty); takes the list. */
static void
join(json_t *list, char *out, size_t n)
{
	size_t i, len = 0;
	json_t *v;

	snprintf(out, n, "none");
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);
		int w = snprintf(out + len, n - len, "%s%s", i ? ", " : "",
				 s ? s : "?");

		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
	json_decref(list);
}

/* --- observe --------------------------------------------------------------- */

/*
 * What is wrong with the platform's server in cfg (the whole
 * configuration), in words; "" when it is as pressctl made it.
 */
static void server_problem_of(json_t *cfg, const char *name,
			      const char *catchall, int port, int tls,
			      char *out, size_t n);

static void
server_problem(const struct caddy *c, json_t *cfg, char *out, size_t n)
{
	server_problem_of(cfg, c->server, c->catchall, c->http_port, 0, out, n);
}

/*
 * What is wrong with server name in cfg; tls: the https server (TLS on
 * every connection, automatic HTTPS on for its certificates but with no
 * redirects of its own).
 */
static void
server_problem_of(json_t *cfg, const char *name, const char *catchall, int port,
		  int tls, char *out, size_t n)
{
	json_t *srv = json_object_get(
		json_object_get(json_object_get(json_object_get(cfg, "apps"),
						"http"),
				"servers"),
		name);
	json_t *listen = json_object_get(srv, "listen");
	json_t *routes = json_object_get(srv, "routes");
	json_t *last = json_array_get(routes, json_array_size(routes) - 1);
	char want[24];

	snprintf(want, sizeof(want), ":%d", port);
	out[0] = '\0';
	if (!srv)
		snprintf(out, n, "the ingress server '%s' is missing", name);
	else if (json_array_size(listen) != 1 ||
		 strcmp(json_string_value(json_array_get(listen, 0)) ?
				json_string_value(json_array_get(listen, 0)) :
				"",
			want))
		snprintf(out, n,
			 "the ingress server '%s' does not listen on '%s' "
			 "alone",
			 name, want);
	else if (!tls &&
		 !json_is_true(
			 json_object_get(json_object_get(srv, "automatic_https"),
					 "disable")))
		snprintf(out, n,
			 "the ingress server '%s' has automatic HTTPS on",
			 name);
	else if (tls &&
		 (!json_is_true(
			  json_object_get(json_object_get(srv,
							  "automatic_https"),
					  "disable_redirects")) ||
		  json_is_true(
			  json_object_get(json_object_get(srv,
							  "automatic_https"),
					  "disable")) ||
		  !json_array_size(
			  json_object_get(srv, "tls_connection_policies"))))
		snprintf(out, n,
			 "the ingress server '%s' does not have TLS on with "
			 "automatic HTTPS redirects off",
			 name);
	else if (!last ||
		 strcmp(json_string_value(json_object_get(last, "@id")) ?
				json_string_value(json_object_get(last, "@id")) :
				"",
			catchall))
		snprintf(out, n,
			 "the ingress server '%s' does not end with its "
			 "catch-all route '%s'",
			 name, catchall);
}

/* The piece object of route id in pieces (created when missing). */
static json_t *
piece_of(json_t *pieces, const char *id, const char *suffix)
{
	char *route = xstrndup(id, strlen(id) - strlen(suffix));
	json_t *p = json_object_get(pieces, route);

	if (!p) {
		p = json_object();
		json_object_set_new(pieces, route, p);
	}
	free(route);
	return p;
}

/* Whether id is "<prefix>...<suffix>" (a piece of one of our routes). */
static int
is_piece(const struct caddy *c, const char *id, const char *suffix)
{
	size_t n = id ? strlen(id) : 0, k = strlen(suffix);

	return id && !strncmp(id, c->prefix, strlen(c->prefix)) && n > k &&
	       !strcmp(id + n - k, suffix);
}

/*
 * The TLS pieces of this platform's routes in cfg, by route id:
 * {"<id>": {"https": route, "httpsServer": name, "cert": {"serial",
 * "notAfter", "certificate"}, "acme": policy}} (new). A certificate's
 * private key is never copied out of cfg.
 */
static json_t *
observe_pieces(const struct caddy *c, json_t *cfg)
{
	json_t *pieces = json_object(), *apps = json_object_get(cfg, "apps"),
	       *servers, *srv, *v;
	const char *sname;
	size_t i;

	servers = json_object_get(json_object_get(apps, "http"), "servers");
	json_object_foreach(servers, sname, srv) {
		json_array_foreach(json_object_get(srv, "routes"), i, v) {
			const char *id = json_string_value(
				json_object_get(v, "@id"));

			if (!is_piece(c, id, PIECE_HTTPS))
				continue;
			json_object_set_new(piece_of(pieces, id, PIECE_HTTPS),
					    "https",
					    json_pack("{s:O, s:s}", "route", v,
						      "server", sname));
		}
	}
	json_array_foreach(
		json_object_get(json_object_get(json_object_get(apps, "tls"),
						"certificates"),
				"load_pem"),
		i, v) {
		const char *id = json_string_value(json_object_get(v, "@id"));
		const char *pem = json_string_value(
			json_object_get(v, "certificate"));
		struct tls_cert_info ci;
		struct err ignored;

		if (!is_piece(c, id, PIECE_CERT))
			continue;
		if (!pem || tls_cert_read(pem, &ci, &ignored) < 0)
			memset(&ci, 0, sizeof(ci));
		json_object_set_new(piece_of(pieces, id, PIECE_CERT), "cert",
				    json_pack("{s:s, s:I, s:s}", "serial",
					      ci.serial, "notAfter",
					      (json_int_t)ci.not_after,
					      "certificate", pem ? pem : ""));
	}
	json_array_foreach(
		json_object_get(json_object_get(json_object_get(apps, "tls"),
						"automation"),
				"policies"),
		i, v) {
		const char *id = json_string_value(json_object_get(v, "@id"));

		if (is_piece(c, id, PIECE_ACME))
			json_object_set(piece_of(pieces, id, PIECE_ACME),
					"acme", v);
	}
	return pieces;
}

/* A live route's TLS pieces (borrowed) and what is wrong with the https
 * server, into its state. */
static void
tls_observed(json_t *state, json_t *pieces, const char *tls_problem)
{
	if (pieces)
		json_object_set(state, "tls", pieces);
	if (tls_problem[0])
		json_object_set_new(state, "tlsProblem",
				    json_string(tls_problem));
}

static int
caddy_observe(void *h, const struct observe_req *q, struct live *out,
	      struct err *e)
{
	struct caddy *c = h;
	json_t *cfg = NULL, *servers, *srv, *route, *pieces;
	const char *sname;
	char problem[512], tls_problem[512] = "";
	size_t i;

	(void)q; /* the ids carry the platform: list by them */
	if (get_json(c, "/config/", &cfg, "cannot read the caddy configuration",
		     e) < 0)
		return -1;
	server_problem(c, cfg, problem, sizeof(problem));
	if (c->https_port)
		server_problem_of(cfg, c->tls_server, c->tls_catchall,
				  c->https_port, 1, tls_problem,
				  sizeof(tls_problem));
	pieces = observe_pieces(c, cfg);
	servers = json_object_get(json_object_get(json_object_get(cfg, "apps"),
						  "http"),
				  "servers");
	json_object_foreach(servers, sname, srv) {
		json_array_foreach(json_object_get(srv, "routes"), i, route) {
			const char *id = json_string_value(
				json_object_get(route, "@id"));
			struct live_item *it;
			char where[256];

			if (!id || strncmp(id, c->prefix, strlen(c->prefix)) ||
			    strcmp(id, c->catchall) == 0 || strchr(id, ':'))
				continue;
			it = live_add(out, LIVE_ROUTE, id);
			it->mark_seen = 1;
			it->mark = xstrdup(c->platform);
			it->state = json_pack("{s:O, s:s}", "route", route,
					      "server", sname);
			tls_observed(it->state, json_object_get(pieces, id),
				     tls_problem);
			if (strcmp(sname, c->server)) {
				snprintf(where, sizeof(where),
					 "in server '%s', not in '%s'", sname,
					 c->server);
				json_object_set_new(it->state, "problem",
						    json_string(where));
			} else if (problem[0]) {
				json_object_set_new(it->state, "problem",
						    json_string(problem));
			}
		}
	}
	json_decref(pieces);
	json_decref(cfg);
	return 0;
}

/*
 * Whether the TLS pieces of a live route are those its spec wants: for a
 * Domain with TLS, the https server as pressctl makes it, its HTTPS
 * route, and its certificate (selfsigned: naming every host, more than
 * TLS_RENEW_DAYS days left) or its ACME policy; for one without, none.
 */
static int
tls_conforms(const struct live_item *have, const json_t *spec, char *why,
	     size_t n)
{
	json_t *pieces = json_object_get(have->state, "tls"), *want;
	json_t *https = json_object_get(pieces, "https"),
	       *cert = json_object_get(pieces, "cert"),
	       *acme = json_object_get(pieces, "acme");
	const char *tls = spec_str(spec, "tls"),
		   *problem = json_string_value(
			   json_object_get(have->state, "tlsProblem"));
	int selfsigned = strcmp(tls, "selfsigned") == 0,
	    is_acme = strcmp(tls, "acme") == 0, ok;

	if (!json_object_get(spec, "https")) {
		if (!https && !cert && !acme)
			return 1;
		snprintf(why, n,
			 "TLS is set up in the ingress for a route "
			 "without it");
		return 0;
	}
	if (problem) {
		snprintf(why, n, "%s", problem);
		return 0;
	}
	want = https_route_json(spec);
	ok = json_equal(json_object_get(https, "route"), want);
	json_decref(want);
	if (!ok) {
		snprintf(why, n, "its HTTPS route is %s in the ingress",
			 https ? "changed" : "missing");
		return 0;
	}
	if (selfsigned) {
		const char *pem = spec_str(cert, "certificate");
		json_t *hosts = spec_hosts(spec), *hv;
		const char *list[64];
		size_t i, k = 0;
		long long left = ((long long)json_integer_value(
					  json_object_get(cert, "notAfter")) -
				  (long long)clock_now()) /
				 86400;

		json_array_foreach(hosts, i, hv)
			if (k < 64)
				list[k++] = json_string_value(hv);
		ok = cert && tls_cert_names(pem, list, k);
		json_decref(hosts);
		if (!cert)
			snprintf(why, n,
				 "its certificate is missing in the "
				 "ingress");
		else if (!ok)
			snprintf(why, n,
				 "its certificate does not name its "
				 "hosts");
		else if (left < TLS_RENEW_DAYS)
			snprintf(why, n,
				 "its certificate expires in %lld days (renewed "
				 "under %d)",
				 left, TLS_RENEW_DAYS);
		else if (acme)
			snprintf(why, n, "an ACME policy is left for it");
		else
			return 1;
		return 0;
	}
	if (is_acme) {
		want = acme_json(spec);
		ok = json_equal(acme, want);
		json_decref(want);
		if (!ok)
			snprintf(why, n, "its ACME policy is %s in the ingress",
				 acme ? "changed" : "missing");
		else if (cert)
			snprintf(why, n,
				 "a selfsigned certificate is left for "
				 "it");
		return ok && !cert;
	}
	return 1;
}

static int
caddy_conforms(const struct live_item *have, const struct live_object *want,
	       char *why, size_t n)
{
	const char *problem = json_string_value(
		json_object_get(have->state, "problem"));
	json_t *live = json_object_get(have->state, "route"), *desired;
	char a[200], b[200];
	int ok;

	if (problem) {
		snprintf(why, n, "%s", problem);
		return 0;
	}
	desired = route_json(want->spec,
			     (int)json_integer_value(
				     json_object_get(want->spec, "http")));
	ok = json_equal(live, desired);
	if (!ok) {
		join(route_hosts(live), a, sizeof(a));
		join(route_hosts(desired), b, sizeof(b));
		if (strcmp(a, b)) {
			snprintf(why, n, "hosts %s, want %s", a, b);
		} else {
			join(route_dials(live), a, sizeof(a));
			join(route_dials(desired), b, sizeof(b));
			if (strcmp(a, b))
				snprintf(why, n, "upstreams %s, want %s", a, b);
			else
				snprintf(why, n,
					 "the route was changed in the ingress");
		}
	}
	json_decref(desired);
	return ok && tls_conforms(have, want->spec, why, n);
}

/* --- actions --------------------------------------------------------------- */

static json_t *
catchall_json(const char *id)
{
	return json_pack("{s:s, s:[{s:s, s:i}]}", "@id", id, "handle",
			 "handler", "static_response", "status_code", 404);
}

static int ensure_server_of(struct caddy *c, const char *name,
			    const char *catchall, int port, int tls,
			    struct err *e);

/*
 * Make the platform's server what it must be: listening on the ingress
 * port alone, automatic HTTPS off (TLS is not acted on yet), the
 * catch-all last. A missing server is created with the parents it
 * needs; a wrong one is replaced by one corrected copy, its routes
 * kept, so that no request meets half a change.
 */
static int
ensure_server(struct caddy *c, struct err *e)
{
	return ensure_server_of(c, c->server, c->catchall, c->http_port, 0, e);
}

/* The same for any of the platform's servers; tls: the https server
 * (TLS on, automatic HTTPS on for certificates, without redirects). */
static int
ensure_server_of(struct caddy *c, const char *name, const char *catchall,
		 int port, int tls, struct err *e)
{
	json_t *cfg = NULL, *apps, *http, *servers, *srv, *body = NULL, *routes,
	       *r;
	char problem[512], path[256], listen[24], what[160];
	size_t i;
	int ret = -1;

	snprintf(what, sizeof(what), "cannot set up the ingress server '%s'",
		 name);
	if (get_json(c, "/config/", &cfg, what, e) < 0)
		goto out;
	server_problem_of(cfg, name, catchall, port, tls, problem,
			  sizeof(problem));
	if (!problem[0]) {
		ret = 0;
		goto out;
	}
	snprintf(listen, sizeof(listen), ":%d", port);
	apps = json_object_get(cfg, "apps");
	http = json_object_get(apps, "http");
	servers = json_object_get(http, "servers");
	srv = json_object_get(servers, name);
	routes = json_array();
	json_array_foreach(json_object_get(srv, "routes"), i, r) {
		const char *id = json_string_value(json_object_get(r, "@id"));

		if (!id || strcmp(id, catchall))
			json_array_append(routes, r);
	}
	json_array_append_new(routes, catchall_json(catchall));
	body = srv ? json_deep_copy(srv) : json_object();
	json_object_set_new(body, "listen", json_pack("[s]", listen));
	if (tls) {
		json_object_set_new(body, "automatic_https",
				    json_pack("{s:b}", "disable_redirects", 1));
		if (!json_array_size(
			    json_object_get(body, "tls_connection_policies")))
			json_object_set_new(body, "tls_connection_policies",
					    json_pack("[{}]"));
	} else {
		json_object_set_new(body, "automatic_https",
				    json_pack("{s:b}", "disable", 1));
	}
	json_object_set_new(body, "routes", routes);
	if (srv) {
		snprintf(path, sizeof(path), "/config/apps/http/servers/%s",
			 name);
		ret = send_json(c, "PATCH", path, body, what, e);
	} else if (servers) {
		snprintf(path, sizeof(path), "/config/apps/http/servers/%s",
			 name);
		ret = send_json(c, "PUT", path, body, what, e);
	} else if (http) {
		body = json_pack("{s:o}", name, body);
		ret = send_json(c, "PUT", "/config/apps/http/servers", body,
				what, e);
	} else if (apps) {
		body = json_pack("{s:{s:o}}", "servers", name, body);
		ret = send_json(c, "PUT", "/config/apps/http", body, what, e);
	} else {
		body = json_pack("{s:{s:{s:o}}}", "http", "servers", name,
				 body);
		ret = send_json(c, "PUT", "/config/apps", body, what, e);
	}
out:
	json_decref(body);
	json_decref(cfg);
	return ret;
}

/* Create or replace the route in place: an existing route of the same id
 * in the platform's server is replaced at its index (its hosts never go
 * unrouted); one elsewhere is moved; a new one goes first (the catch-all
 * stays last). */
static int put_in_server(struct caddy *c, const char *server, const char *id,
			 json_t *body, const char *what, struct err *e);
static int put_tls(struct caddy *c, const struct driver_action *a,
		   const char *what, struct err *e);

static int
put_route(struct caddy *c, const struct driver_action *a, struct err *e)
{
	json_t *body;
	char what[320];
	int ret = -1;

	snprintf(what, sizeof(what), "cannot %s route '%s'",
		 driver_op_name(a->op), a->name);
	body = route_json(a->want->spec, c->http_port);
	if (ensure_server(c, e) < 0)
		goto out;
	/* TLS first: a redirect to https:// must find it answering. */
	if (put_tls(c, a, what, e) < 0 ||
	    put_in_server(c, c->server, a->name, body, what, e) < 0)
		goto out;
	ret = 0;
out:
	json_decref(body);
	return ret;
}

/* Route body (borrowed) of id into server, in place or first. */
static int
put_in_server(struct caddy *c, const char *server, const char *id, json_t *body,
	      const char *what, struct err *e)
{
	json_t *routes = NULL, *r;
	char path[256];
	size_t i, at = (size_t)-1;
	long status;
	int ret = -1;

	snprintf(path, sizeof(path), "/config/apps/http/servers/%s/routes",
		 server);
	if (get_json(c, path, &routes, what, e) < 0)
		goto out;
	json_array_foreach(routes, i, r) {
		const char *rid = json_string_value(json_object_get(r, "@id"));

		if (rid && strcmp(rid, id) == 0)
			at = i;
	}
	if (at != (size_t)-1) {
		snprintf(path, sizeof(path),
			 "/config/apps/http/servers/%s/routes/%zu", server, at);
		ret = send_json(c, "PATCH", path, body, what, e);
		goto out;
	}
	snprintf(path, sizeof(path), "/id/%s", id);
	if (perform(c, "DELETE", path, NULL, &status, e) < 0) {
		err_wrap(e, "%s", what);
		goto out;
	}
	if (status != 200 && status != 404) {
		api_error(c, status, e, what);
		goto out;
	}
	snprintf(path, sizeof(path), "/config/apps/http/servers/%s/routes/0",
		 server);
	ret = send_json(c, "PUT", path, body, what, e);
out:
	json_decref(routes);
	return ret;
}

/* DELETE /id/<id>; one already gone (404) is success. */
static int
delete_id(struct caddy *c, const char *id, const char *what, struct err *e)
{
	char path[256];
	long status;

	snprintf(path, sizeof(path), "/id/%s", id);
	if (perform(c, "DELETE", path, NULL, &status, e) < 0)
		return err_wrap(e, "%s", what);
	if (status != 200 && status != 404)
		return api_error(c, status, e, what);
	return 0;
}

static int
delete_piece(struct caddy *c, const char *route, const char *piece,
	     const char *what, struct err *e)
{
	char id[256];

	piece_id(id, sizeof(id), route, piece);
	return delete_id(c, id, what, e);
}

/*
 * Object body (borrowed, with its "@id") into the array at the path
 * segs[0..n) of the configuration: replaced where its id is, else put
 * first (a policy before any catch-all one), with the parents it needs.
 */
static int
put_piece(struct caddy *c, const char *const *segs, size_t n, json_t *body,
	  const char *what, struct err *e)
{
	json_t *cfg = NULL, *at, *val;
	struct strbuf path;
	long status;
	size_t k;
	int ret = -1;

	strbuf_init(&path, 0);
	strbuf_addf(&path, "/id/%s",
		    json_string_value(json_object_get(body, "@id")));
	if (perform(c, "PATCH", path.buf, body, &status, e) < 0) {
		err_wrap(e, "%s", what);
		goto out;
	}
	if (status == 200) {
		ret = 0;
		goto out;
	}
	if (get_json(c, "/config/", &cfg, what, e) < 0)
		goto out;
	at = cfg;
	for (k = 0; k < n && json_object_get(at, segs[k]); k++)
		at = json_object_get(at, segs[k]);
	strbuf_reset(&path);
	strbuf_addstr(&path, "/config");
	for (size_t j = 0; j < k; j++)
		strbuf_addf(&path, "/%s", segs[j]);
	if (k == n) {
		/* Caddy inserts at an index of a non-empty array only. */
		if (json_array_size(at)) {
			strbuf_addstr(&path, "/0");
			ret = send_json(c, "PUT", path.buf, body, what, e);
		} else {
			ret = send_json(c, "POST", path.buf, body, what, e);
		}
		goto out;
	}
	/* segs[k..n) are missing: one PUT makes them. */
	val = json_pack("[O]", body);
	for (size_t j = n; j-- > k + 1;)
		val = json_pack("{s:o}", segs[j], val);
	strbuf_addf(&path, "/%s", segs[k]);
	ret = send_json(c, at == cfg && !json_is_object(cfg) ? "POST" : "PUT",
			path.buf, val, what, e);
	json_decref(val);
out:
	json_decref(cfg);
	strbuf_release(&path);
	return ret;
}

/*
 * The TLS pieces of a route as its spec wants them (docs/ingress.md):
 * with TLS, the https server, the HTTPS route, and the selfsigned
 * certificate (from the core: a->args) or the ACME policy, the other
 * one removed; without, none of them.
 */
static int
put_tls(struct caddy *c, const struct driver_action *a, const char *what,
	struct err *e)
{
	static const char *const load_pem[] = { "apps", "tls", "certificates",
						"load_pem" };
	static const char *const policies[] = { "apps", "tls", "automation",
						"policies" };
	const json_t *spec = a->want->spec;
	const char *tls = spec_str(spec, "tls");
	char id[256];
	json_t *body;
	int rc;

	if (!json_object_get(spec, "https"))
		return delete_piece(c, a->name, PIECE_HTTPS, what, e) < 0 ||
				       delete_piece(c, a->name, PIECE_CERT,
						    what, e) < 0 ||
				       delete_piece(c, a->name, PIECE_ACME,
						    what, e) < 0 ?
			       -1 :
			       0;
	if (!c->https_port)
		return err_set(e,
			       "%s: the platform's ingress has no https port",
			       what);
	if (strcmp(tls, "selfsigned") == 0) {
		if (!a->args || !a->args->cert_pem || !a->args->key_pem)
			return err_set(e, "%s: no certificate was given", what);
		body = cert_json(a->name, a->args->cert_pem, a->args->key_pem);
		rc = put_piece(c, load_pem, 4, body, what, e);
		/* The body holds the private key. */
		json_object_set_new(body, "key", json_string(""));
		json_decref(body);
		if (rc < 0 || delete_piece(c, a->name, PIECE_ACME, what, e) < 0)
			return -1;
	} else {
		body = acme_json(spec);
		rc = put_piece(c, policies, 4, body, what, e);
		json_decref(body);
		if (rc < 0 || delete_piece(c, a->name, PIECE_CERT, what, e) < 0)
			return -1;
	}
	if (ensure_server_of(c, c->tls_server, c->tls_catchall, c->https_port,
			     1, e) < 0)
		return -1;
	piece_id(id, sizeof(id), a->name, PIECE_HTTPS);
	body = https_route_json(spec);
	rc = put_in_server(c, c->tls_server, id, body, what, e);
	json_decref(body);
	return rc;
}

static int
remove_route(struct caddy *c, const struct driver_action *a, struct err *e)
{
	char what[320];

	snprintf(what, sizeof(what), "cannot remove route '%s'", a->name);
	/* The route first: its hosts stop answering before TLS goes. */
	if (delete_id(c, a->name, what, e) < 0 ||
	    delete_piece(c, a->name, PIECE_HTTPS, what, e) < 0 ||
	    delete_piece(c, a->name, PIECE_CERT, what, e) < 0 ||
	    delete_piece(c, a->name, PIECE_ACME, what, e) < 0)
		return -1;
	return 0;
}

static int
caddy_apply(void *h, const struct driver_action *a, struct err *e)
{
	struct caddy *c = h;
	int rc;

	if (a->kind != LIVE_ROUTE)
		return err_set(e, "the caddy driver cannot %s %s '%s'",
			       driver_op_name(a->op), live_kind_name(a->kind),
			       a->name);
	/* Only ids of this platform: the id is the ownership mark. */
	if (strncmp(a->name, c->prefix, strlen(c->prefix)) ||
	    strcmp(a->name, c->catchall) == 0 || strchr(a->name, '/') ||
	    strchr(a->name, ':'))
		return err_set(e,
			       "route '%s' is not a route of platform '%s'; "
			       "pressctl touches only ids '%s<domain>'",
			       a->name, c->platform, c->prefix);
	pthread_mutex_lock(&write_lock);
	switch (a->op) {
	case OP_CREATE:
	case OP_UPDATE:
		rc = a->want ?
			     put_route(c, a, e) :
			     err_set(e, "cannot %s route '%s': no desired spec",
				     driver_op_name(a->op), a->name);
		break;
	case OP_REMOVE: rc = remove_route(c, a, e); break;
	default:
		rc = err_set(e,
			     "cannot %s route '%s': routes are created, "
			     "updated or removed",
			     driver_op_name(a->op), a->name);
		break;
	}
	pthread_mutex_unlock(&write_lock);
	return rc;
}

const struct driver driver_caddy = {
	.name = "caddy",
	.kinds = 1u << LIVE_ROUTE,
	.open = caddy_open,
	.close = caddy_close,
	.observe = caddy_observe,
	.conforms = caddy_conforms,
	.apply = caddy_apply,
};
