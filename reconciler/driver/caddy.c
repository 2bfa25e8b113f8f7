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
 * A route reaches every host port its environment's containers may hold
 * (the two blue/green slots of each replica); Caddy's active health
 * checks on the environment's health path pick the ones that answer,
 * and a request whose upstream went away (the old container of a
 * rollout) is retried on another within a few seconds. So a blue/green
 * switch needs no route change.
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
#include "../util/strbuf.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 5000L
/* A configuration with 10,000 routes is about 10 MiB. */
#define MAX_ANSWER ((size_t)64 << 20)
/* How long a request waits for an upstream that answers, how often it
 * tries, and how often Caddy checks each upstream's health. */
#define TRY_DURATION "5s"
#define TRY_INTERVAL "100ms"
#define HEALTH_INTERVAL "1s"
#define HEALTH_TIMEOUT "2s"

struct caddy {
	CURL *curl;
	char *admin;	      /* owned: the admin URL without a trailing / */
	const char *platform; /* borrowed */
	int http_port;
	long timeout_ms;
	struct curl_slist *headers;
	struct strbuf answer; /* body of the last answer */
	char errbuf[CURL_ERROR_SIZE];
	char server[96];    /* "press.<platform>" */
	char catchall[128]; /* "press.<platform>.404" */
	char prefix[96];    /* "press.<platform>." */
};

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
	free(data);
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
	c->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms :
					      DEFAULT_TIMEOUT_MS;
	snprintf(c->server, sizeof(c->server), "press.%s", p->name);
	snprintf(c->catchall, sizeof(c->catchall), "press.%s.404", p->name);
	snprintf(c->prefix, sizeof(c->prefix), "press.%s.", p->name);
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

/*
 * Caddy's JSON of the route a desired spec asks for (new reference).
 * spec: the model's route spec plus "upstreams", the host addresses of
 * its containers, which the core adds (plan: from its allocations;
 * apply: allocated). http: the ingress's port, for redirect targets.
 */
static json_t *
route_json(const json_t *spec, int http)
{
	json_t *hosts = json_array(), *routes = json_array(), *ups,
	       *redirects = json_object_get(spec, "redirects"),
	       *upstreams = json_object_get(spec, "upstreams"), *v;
	const char *host = json_string_value(json_object_get(spec, "host")),
		   *hp = json_string_value(json_object_get(spec, "healthPath"));
	char port[16] = "", *loc;
	size_t i;

	json_array_append_new(hosts, json_string(host ? host : ""));
	json_array_extend(hosts, redirects);
	if (json_array_size(redirects)) {
		if (http && http != 80)
			snprintf(port, sizeof(port), ":%d", http);
		loc = xprintf("http://%s%s{http.request.uri}", host ? host : "",
			      port);
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
		json_array_append_new(
			routes,
			json_pack("{s:[{s:s, s:o, s:{s:{s:s}, s:s, s:s}, "
				  "s:{s:{s:s, s:s, s:s}}}]}",
				  "handle", "handler", "reverse_proxy",
				  "upstreams", ups, "load_balancing",
				  "selection_policy", "policy", "round_robin",
				  "try_duration", TRY_DURATION, "try_interval",
				  TRY_INTERVAL, "health_checks", "active",
				  "uri", hp ? hp : "/", "interval",
				  HEALTH_INTERVAL, "timeout", HEALTH_TIMEOUT));
	}
	return json_pack("{s:O, s:[{s:o}], s:[{s:s, s:o}], s:b}", "@id",
			 json_object_get(spec, "id"), "match", "host", hosts,
			 "handle", "handler", "subroute", "routes", routes,
			 "terminal", 1);
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
static void
server_problem(const struct caddy *c, json_t *cfg, char *out, size_t n)
{
	json_t *srv = json_object_get(
		json_object_get(json_object_get(json_object_get(cfg, "apps"),
						"http"),
				"servers"),
		c->server);
	json_t *listen = json_object_get(srv, "listen");
	json_t *routes = json_object_get(srv, "routes");
	json_t *last = json_array_get(routes, json_array_size(routes) - 1);
	char want[24];

	snprintf(want, sizeof(want), ":%d", c->http_port);
	out[0] = '\0';
	if (!srv)
		snprintf(out, n, "the ingress server '%s' is missing",
			 c->server);
	else if (json_array_size(listen) != 1 ||
		 strcmp(json_string_value(json_array_get(listen, 0)) ?
				json_string_value(json_array_get(listen, 0)) :
				"",
			want))
		snprintf(out, n,
			 "the ingress server '%s' does not listen on '%s' "
			 "alone",
			 c->server, want);
	else if (!json_is_true(
			 json_object_get(json_object_get(srv, "automatic_https"),
					 "disable")))
		snprintf(out, n,
			 "the ingress server '%s' has automatic HTTPS on",
			 c->server);
	else if (!last ||
		 strcmp(json_string_value(json_object_get(last, "@id")) ?
				json_string_value(json_object_get(last, "@id")) :
				"",
			c->catchall))
		snprintf(out, n,
			 "the ingress server '%s' does not end with its "
			 "catch-all route '%s'",
			 c->server, c->catchall);
}

static int
caddy_observe(void *h, const struct observe_req *q, struct live *out,
	      struct err *e)
{
	struct caddy *c = h;
	json_t *cfg = NULL, *servers, *srv, *route;
	const char *sname;
	char problem[512];
	size_t i;

	(void)q; /* the ids carry the platform: list by them */
	if (get_json(c, "/config/", &cfg, "cannot read the caddy configuration",
		     e) < 0)
		return -1;
	server_problem(c, cfg, problem, sizeof(problem));
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
			    strcmp(id, c->catchall) == 0)
				continue;
			it = live_add(out, LIVE_ROUTE, id);
			it->mark_seen = 1;
			it->mark = xstrdup(c->platform);
			it->state = json_pack("{s:O, s:s}", "route", route,
					      "server", sname);
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
	json_decref(cfg);
	return 0;
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
	return ok;
}

/* --- actions --------------------------------------------------------------- */

static json_t *
catchall_json(const struct caddy *c)
{
	return json_pack("{s:s, s:[{s:s, s:i}]}", "@id", c->catchall, "handle",
			 "handler", "static_response", "status_code", 404);
}

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
	json_t *cfg = NULL, *apps, *http, *servers, *srv, *body = NULL, *routes,
	       *r;
	char problem[512], path[256], listen[24], what[160];
	size_t i;
	int ret = -1;

	snprintf(what, sizeof(what), "cannot set up the ingress server '%s'",
		 c->server);
	if (get_json(c, "/config/", &cfg, what, e) < 0)
		goto out;
	server_problem(c, cfg, problem, sizeof(problem));
	if (!problem[0]) {
		ret = 0;
		goto out;
	}
	snprintf(listen, sizeof(listen), ":%d", c->http_port);
	apps = json_object_get(cfg, "apps");
	http = json_object_get(apps, "http");
	servers = json_object_get(http, "servers");
	srv = json_object_get(servers, c->server);
	routes = json_array();
	json_array_foreach(json_object_get(srv, "routes"), i, r) {
		const char *id = json_string_value(json_object_get(r, "@id"));

		if (!id || strcmp(id, c->catchall))
			json_array_append(routes, r);
	}
	json_array_append_new(routes, catchall_json(c));
	body = srv ? json_deep_copy(srv) : json_object();
	json_object_set_new(body, "listen", json_pack("[s]", listen));
	json_object_set_new(body, "automatic_https",
			    json_pack("{s:b}", "disable", 1));
	json_object_set_new(body, "routes", routes);
	if (srv) {
		snprintf(path, sizeof(path), "/config/apps/http/servers/%s",
			 c->server);
		ret = send_json(c, "PATCH", path, body, what, e);
	} else if (servers) {
		snprintf(path, sizeof(path), "/config/apps/http/servers/%s",
			 c->server);
		ret = send_json(c, "PUT", path, body, what, e);
	} else if (http) {
		body = json_pack("{s:o}", c->server, body);
		ret = send_json(c, "PUT", "/config/apps/http/servers", body,
				what, e);
	} else if (apps) {
		body = json_pack("{s:{s:o}}", "servers", c->server, body);
		ret = send_json(c, "PUT", "/config/apps/http", body, what, e);
	} else {
		body = json_pack("{s:{s:{s:o}}}", "http", "servers", c->server,
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
static int
put_route(struct caddy *c, const struct driver_action *a, struct err *e)
{
	json_t *routes = NULL, *body, *r;
	char path[256], what[320];
	size_t i, at = (size_t)-1;
	long status;
	int ret = -1;

	snprintf(what, sizeof(what), "cannot %s route '%s'",
		 driver_op_name(a->op), a->name);
	body = route_json(a->want->spec, c->http_port);
	if (ensure_server(c, e) < 0)
		goto out;
	snprintf(path, sizeof(path), "/config/apps/http/servers/%s/routes",
		 c->server);
	if (get_json(c, path, &routes, what, e) < 0)
		goto out;
	json_array_foreach(routes, i, r) {
		const char *id = json_string_value(json_object_get(r, "@id"));

		if (id && strcmp(id, a->name) == 0)
			at = i;
	}
	if (at != (size_t)-1) {
		snprintf(path, sizeof(path),
			 "/config/apps/http/servers/%s/routes/%zu", c->server,
			 at);
		ret = send_json(c, "PATCH", path, body, what, e);
		goto out;
	}
	snprintf(path, sizeof(path), "/id/%s", a->name);
	if (perform(c, "DELETE", path, NULL, &status, e) < 0) {
		err_wrap(e, "%s", what);
		goto out;
	}
	if (status != 200 && status != 404) {
		api_error(c, status, e, what);
		goto out;
	}
	snprintf(path, sizeof(path), "/config/apps/http/servers/%s/routes/0",
		 c->server);
	ret = send_json(c, "PUT", path, body, what, e);
out:
	json_decref(routes);
	json_decref(body);
	return ret;
}

static int
remove_route(struct caddy *c, const struct driver_action *a, struct err *e)
{
	char path[256], what[320];
	long status;

	snprintf(what, sizeof(what), "cannot remove route '%s'", a->name);
	snprintf(path, sizeof(path), "/id/%s", a->name);
	if (perform(c, "DELETE", path, NULL, &status, e) < 0)
		return err_wrap(e, "%s", what);
	if (status != 200 && status != 404) /* 404: gone already */
		return api_error(c, status, e, what);
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
	    strcmp(a->name, c->catchall) == 0 || strchr(a->name, '/'))
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
