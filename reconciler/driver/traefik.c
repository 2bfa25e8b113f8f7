/*
 * traefik.c - ingress routes for Traefik (LIVE_ROUTE): the platform's
 * spec.ingress.driver "traefik" (docs/drivers.md, "Traefik").
 *
 * Traefik is configured in two places, and pressctl writes both:
 *
 * - Router and service labels on the environment's containers, which
 *   Traefik's Docker provider reads: each route's host to the
 *   environment's service, whose servers are the containers themselves
 *   on the platform's network. The labels are part of the desired
 *   container (the model asks traefik_container_labels() for them), so
 *   the Docker driver sets them like any label and knows nothing of
 *   Traefik; a blue/green candidate carries the same labels, and Traefik
 *   merges the containers of one service into one load balancer, whose
 *   health check keeps traffic on the ones that answer.
 *
 * - One YAML file per route in a directory that Traefik's file provider
 *   watches (spec.ingress.traefik.dir): the redirects (permanent),
 *   HTTP -> HTTPS when the route has TLS, and tls.certificates for
 *   tls: selfsigned, whose certificate and key are written next to it.
 *   This driver manages these files; they are its live objects.
 *
 * A route's file is "<id>.yml" ("press.<platform>.<domain>.yml"); its
 * first line is the ownership mark "# managed by pressctl:
 * press.platform=<platform>". pressctl reads, writes and removes only
 * files named "press.<platform>.*" and never one that carries another
 * platform's mark. Every write is atomic (a temporary file in the same
 * directory, fsync, rename, fsync of the directory), so Traefik never
 * reads half a file.
 *
 * Observe reads the directory back: a file edited or removed by hand is
 * drift, which the next apply puts right.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "driver.h"
#include "ingress.h"
#include "traefik.h"
#include "../manifest/manifest.h"
#include "../util/hash.h"

/* A route's file is a few KiB; anything much larger is not ours. */
#define MAX_FILE ((size_t)1 << 20)
/* Traefik's health check of the environment's containers. */
#define HEALTH_INTERVAL "1s"
#define HEALTH_TIMEOUT "2s"
/* The regex of a redirect: the whole request URL, path and query in
 * group 1. */
#define REDIRECT_REGEX "^https?://[^/]+(.*)$"

/* --- names and the desired configuration --------------------------------- */

char *
traefik_router_name(const char *route_id)
{
	char *s = xstrdup(route_id);

	for (char *p = s; *p; p++)
		if (*p == '.')
			*p = '_';
	return s;
}

static int
tls_on(const char *tls)
{
	return tls && strcmp(tls, "none") != 0;
}

static void
label(json_t *o, const char *fmt, const char *name, const char *key,
      const char *value)
{
	char *k = xprintf(fmt, name, key);

	json_object_set_new(o, k, json_string(value));
	free(k);
}

json_t *
traefik_container_labels(const struct platform *pf, const struct environment *e,
			 const json_t *routes)
{
	json_t *o = json_object(), *r;
	const char *hp = json_string_value(
		json_object_get(json_object_get(e->spec, "health"), "path"));
	char *svc, port[16];
	size_t i;

	if (!json_array_size(routes)) {
		json_object_set_new(o, "traefik.enable", json_string("false"));
		return o;
	}
	json_object_set_new(o, "traefik.enable", json_string("true"));
	json_object_set_new(o, "traefik.docker.network",
			    json_string(pf->runtime_network));
	svc = xprintf("press_%s_%s_%s", pf->name, e->site->name, e->name);
	json_array_foreach(routes, i, r) {
		const char *id = json_string_value(json_object_get(r, "id")),
			   *host = json_string_value(
				   json_object_get(r, "host")),
			   *tls = json_string_value(json_object_get(r, "tls"));
		char *rn, *rule;

		if (!id || !host)
			continue;
		rn = traefik_router_name(id);
		rule = xprintf("Host(`%s`)", host);
		label(o, "traefik.http.routers.%s.%s", rn, "rule", rule);
		label(o, "traefik.http.routers.%s.%s", rn, "entrypoints",
		      tls_on(tls) ? TRAEFIK_WEBSECURE : TRAEFIK_WEB);
		label(o, "traefik.http.routers.%s.%s", rn, "service", svc);
		if (tls_on(tls))
			label(o, "traefik.http.routers.%s.%s", rn, "tls",
			      "true");
		if (tls && strcmp(tls, "acme") == 0)
			label(o, "traefik.http.routers.%s.%s", rn,
			      "tls.certresolver", pf->traefik_resolver);
		free(rule);
		free(rn);
	}
	snprintf(port, sizeof(port), "%d", e->port);
	label(o, "traefik.http.services.%s.%s", svc, "loadbalancer.server.port",
	      port);
	label(o, "traefik.http.services.%s.%s", svc,
	      "loadbalancer.healthcheck.path", hp ? hp : "/");
	label(o, "traefik.http.services.%s.%s", svc,
	      "loadbalancer.healthcheck.interval", HEALTH_INTERVAL);
	label(o, "traefik.http.services.%s.%s", svc,
	      "loadbalancer.healthcheck.timeout", HEALTH_TIMEOUT);
	free(svc);
	return o;
}

/* "Host(`a`) || Host(`b`)" of a list of hosts (a new string). */
static char *
host_rule(const json_t *hosts)
{
	struct strbuf sb;
	json_t *h;
	size_t i;

	strbuf_init(&sb, 0);
	json_array_foreach(hosts, i, h)
		strbuf_addf(&sb, "%sHost(`%s`)", i ? " || " : "",
			    json_string_value(h) ? json_string_value(h) : "");
	return strbuf_detach(&sb, NULL);
}

/* A router that answers with its middleware alone (a redirect). */
static json_t *
redirect_router(const char *rule, const char *entry, const char *mw)
{
	return json_pack("{s:s, s:[s], s:[s], s:s}", "rule", rule,
			 "entryPoints", entry, "middlewares", mw, "service",
			 "noop@internal");
}

json_t *
traefik_route_config(const json_t *spec, const struct traefik_conf *c)
{
	const char *id = json_string_value(json_object_get(spec, "id")),
		   *host = json_string_value(json_object_get(spec, "host")),
		   *tls = json_string_value(json_object_get(spec, "tls"));
	const json_t *redirects = json_object_get(spec, "redirects");
	json_t *doc = json_object(), *routers = json_object(),
	       *mws = json_object();
	int https = c->https > 0 ? c->https : 443;
	char *rn, *name, *rule, *target, port[16] = "";

	if (!id || !host) {
		json_decref(routers);
		json_decref(mws);
		return doc;
	}
	rn = traefik_router_name(id);
	if (json_array_size(redirects)) {
		if (tls_on(tls) && https != 443)
			snprintf(port, sizeof(port), ":%d", https);
		else if (!tls_on(tls) && c->http > 0 && c->http != 80)
			snprintf(port, sizeof(port), ":%d", c->http);
		target = xprintf("%s://%s%s${1}",
				 tls_on(tls) ? "https" : "http", host, port);
		name = xprintf("%s_redirect", rn);
		rule = host_rule(redirects);
		json_object_set_new(mws, name,
				    json_pack("{s:{s:s, s:s, s:b}}",
					      "redirectRegex", "regex",
					      REDIRECT_REGEX, "replacement",
					      target, "permanent", 1));
		json_object_set_new(routers, name,
				    redirect_router(rule, TRAEFIK_WEB, name));
		if (tls_on(tls)) {
			char *tname = xprintf("%s_redirect_tls", rn);
			json_t *r = redirect_router(rule, TRAEFIK_WEBSECURE,
						    name);

			json_object_set_new(r, "tls",
					    strcmp(tls, "acme") == 0 ?
						    json_pack("{s:s}",
							      "certResolver",
							      c->resolver) :
						    json_object());
			json_object_set_new(routers, tname, r);
			free(tname);
		}
		free(rule);
		free(name);
		free(target);
	}
	if (tls_on(tls)) {
		json_t *scheme = json_pack("{s:s, s:b}", "scheme", "https",
					   "permanent", 1);

		if (https != 443) {
			snprintf(port, sizeof(port), "%d", https);
			json_object_set_new(scheme, "port", json_string(port));
		}
		name = xprintf("%s_https", rn);
		rule = xprintf("Host(`%s`)", host);
		json_object_set_new(mws, name,
				    json_pack("{s:o}", "redirectScheme",
					      scheme));
		json_object_set_new(routers, name,
				    redirect_router(rule, TRAEFIK_WEB, name));
		free(rule);
		free(name);
	}
	if (json_object_size(routers))
		json_object_set_new(doc, "http",
				    json_pack("{s:O, s:O}", "routers", routers,
					      "middlewares", mws));
	if (tls && strcmp(tls, "selfsigned") == 0) {
		char *crt = xprintf("%s/%s.crt", c->mounted_at, id),
		     *key = xprintf("%s/%s.key", c->mounted_at, id);

		json_object_set_new(doc, "tls",
				    json_pack("{s:[{s:s, s:s}]}",
					      "certificates", "certFile", crt,
					      "keyFile", key));
		free(crt);
		free(key);
	}
	json_decref(routers);
	json_decref(mws);
	free(rn);
	return doc;
}

int
traefik_file_text(const json_t *spec, const struct traefik_conf *c,
		  struct strbuf *out, struct err *e)
{
	json_t *doc = traefik_route_config(spec, c);
	int rc;

	strbuf_addf(out,
		    TRAEFIK_MARK DRIVER_MARK_PREFIX
		    "%s\n"
		    "# Traefik file provider configuration of route '%s', "
		    "written by pressctl apply:\n"
		    "# edits are undone by the next apply.\n",
		    c->platform,
		    json_string_value(json_object_get(spec, "id")) ?
			    json_string_value(json_object_get(spec, "id")) :
			    "?");
	rc = traefik_yaml_emit(doc, out, e);
	json_decref(doc);
	return rc;
}

/* --- the ingress layer's labels ------------------------------------------ */

json_t *
ingress_container_labels(const struct platform *pf, const struct environment *e,
			 const json_t *routes)
{
	if (driver_ingress(pf) == &driver_traefik)
		return traefik_container_labels(pf, e, routes);
	return NULL; /* none, or caddy: it reaches the host ports */
}

/* --- files ----------------------------------------------------------------- */

struct traefik {
	char *dir; /* owned: where pressctl writes */
	struct traefik_conf conf;
	char prefix[96]; /* "press.<platform>." */
};

/* The whole of file dir/name into *out (NUL-terminated; free() it), at
 * most MAX_FILE bytes. 0 read, 1 missing, -1 error (e says). */
static int
read_file(const char *dir, const char *name, char **out, size_t *n,
	  struct err *e)
{
	char *path = xprintf("%s/%s", dir, name), *buf;
	size_t len = 0;
	ssize_t r;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int rc = errno == ENOENT ? 1 :
					   err_set(e, "cannot read '%s': %s",
						   path, strerror(errno));

		free(path);
		return rc;
	}
	buf = xmalloc(MAX_FILE + 1);
	while ((r = read(fd, buf + len, MAX_FILE + 1 - len)) > 0 &&
	       len + (size_t)r <= MAX_FILE)
		len += (size_t)r;
	if (r < 0 || r > 0) {
		if (r < 0)
			err_set(e, "cannot read '%s': %s", path,
				strerror(errno));
		else
			err_set(e, "'%s' is larger than %zu KiB", path,
				MAX_FILE >> 10);
		close(fd);
		free(buf);
		free(path);
		return -1;
	}
	close(fd);
	free(path);
	buf[len] = '\0';
	*out = buf;
	if (n)
		*n = len;
	return 0;
}

/* The platform a file's first line names as its owner (a new string),
 * or NULL: unmarked. */
static char *
file_owner(const char *text)
{
	size_t n = strlen(TRAEFIK_MARK);

	if (strncmp(text, TRAEFIK_MARK, n) != 0)
		return NULL;
	return driver_mark_owner(text + n);
}

static int
sync_dir(const char *dir, struct err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fsync(fd) < 0)
		rc = err_set(e, "cannot sync directory '%s': %s", dir,
			     strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Write dir/name atomically with mode: a temporary file in dir, fsync,
 * rename over name. The directory is synced by the caller. */
static int
write_atomic(const char *dir, const char *name, const char *data, size_t n,
	     mode_t mode, struct err *e)
{
	char *tmp = xprintf("%s/.%s.XXXXXX", dir, name),
	     *path = xprintf("%s/%s", dir, name);
	size_t off = 0;
	int fd, rc = -1;

	if ((fd = mkstemp(tmp)) < 0) {
		err_set(e, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	err_set(e, "cannot write '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(path);
	return rc;
}

/* Remove dir/name; a missing file is success. */
static int
remove_file(const char *dir, const char *name, struct err *e)
{
	char *path = xprintf("%s/%s", dir, name);
	int rc = 0;

	if (unlink(path) < 0 && errno != ENOENT)
		rc = err_set(e, "cannot remove '%s': %s", path,
			     strerror(errno));
	free(path);
	return rc;
}

/* --- open / close ------------------------------------------------------ */

static void
traefik_close(void *h)
{
	struct traefik *t = h;

	if (!t)
		return;
	free(t->dir);
	free(t);
}

static int
traefik_open(void **h, const struct driver_env *env, struct err *e)
{
	const struct platform *p = env->platform;
	struct traefik *t;
	size_t n;

	*h = NULL;
	if (!p || !p->name || !p->traefik_dir)
		return err_set(e, "the platform declares no traefik ingress: "
				  "set spec.ingress.traefik.dir in its "
				  "Platform manifest");
	t = xcalloc(1, sizeof(*t));
	t->dir = xstrdup(p->traefik_dir);
	n = strlen(t->dir);
	while (n > 1 && t->dir[n - 1] == '/')
		t->dir[--n] = '\0';
	t->conf.platform = p->name;
	t->conf.mounted_at = p->traefik_mounted_at ? p->traefik_mounted_at :
						     p->traefik_dir;
	t->conf.resolver = p->traefik_resolver ? p->traefik_resolver : "acme";
	t->conf.http = p->ingress_http;
	t->conf.https = p->ingress_https;
	snprintf(t->prefix, sizeof(t->prefix), "press.%s.", p->name);
	*h = t;
	return 0;
}

/* --- observe ----------------------------------------------------------------- */

static json_t *
conf_json(const struct traefik_conf *c)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:i}", "platform", c->platform,
			 "mountedAt", c->mounted_at, "resolver", c->resolver,
			 "http", c->http, "https", c->https);
}

/* Whether name is one of this platform's route files: "<prefix>*.yml". */
static int
route_file(const struct traefik *t, const char *name)
{
	size_t n = strlen(name), p = strlen(t->prefix);

	return n > p + 4 && strncmp(name, t->prefix, p) == 0 &&
	       strcmp(name + n - 4, ".yml") == 0;
}

/* The route's certificate (PEM, public) and whether its key exists,
 * into state. The key is never read. */
static void
observe_cert(const struct traefik *t, const char *id, json_t *state)
{
	char *name = xprintf("%s.crt", id), *pem = NULL, *kpath;
	struct stat st;
	struct err ignore;
	int rc = read_file(t->dir, name, &pem, NULL, &ignore);

	/* Unreadable: there, and not a certificate. */
	if (rc <= 0)
		json_object_set_new(state, "certificate",
				    json_string(rc == 0 ? pem : ""));
	free(pem);
	free(name);
	kpath = xprintf("%s/%s.key", t->dir, id);
	json_object_set_new(state, "key",
			    json_boolean(lstat(kpath, &st) == 0 &&
					 S_ISREG(st.st_mode)));
	free(kpath);
}

static int
traefik_observe(void *h, const struct observe_req *q, struct live *out,
		struct err *e)
{
	struct traefik *t = h;
	struct dirent *de;
	DIR *d;

	(void)q; /* the file names carry the platform: list by them */
	if (!(d = opendir(t->dir))) {
		if (errno == ENOENT)
			return 0; /* made by the first write */
		return err_set(e,
			       "cannot read the traefik configuration "
			       "directory '%s': %s",
			       t->dir, strerror(errno));
	}
	while ((errno = 0, de = readdir(d))) {
		char *text = NULL, *id;
		size_t n = 0;
		struct live_item *it;
		struct err fe;
		json_t *config = NULL;

		if (!route_file(t, de->d_name))
			continue;
		id = xstrndup(de->d_name, strlen(de->d_name) - 4);
		it = live_add(out, LIVE_ROUTE, id);
		it->mark_seen = 1;
		it->has_data = 0; /* a file of routes holds no data */
		it->state = json_pack("{s:s, s:o}", "file", de->d_name,
				      "settings", conf_json(&t->conf));
		if (read_file(t->dir, de->d_name, &text, &n, &fe) != 0) {
			json_object_set_new(it->state, "problem",
					    json_string(fe.msg));
		} else {
			it->mark = file_owner(text);
			if (traefik_yaml_parse(text, n, &config, &fe) < 0) {
				char *p = xprintf("the file '%s' is not valid "
						  "YAML: %s",
						  de->d_name, fe.msg);

				json_object_set_new(it->state, "problem",
						    json_string(p));
				free(p);
			} else {
				json_object_set_new(it->state, "config",
						    config);
			}
		}
		observe_cert(t, id, it->state);
		free(text);
		free(id);
	}
	if (errno) {
		err_set(e,
			"cannot read the traefik configuration directory "
			"'%s': %s",
			t->dir, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

/* --- conforms -------------------------------------------------------------- */

/* Why the certificate in PEM does not serve the route's hosts; "" when
 * it does. */
static void
cert_problem(const char *pem, const json_t *spec, char *why, size_t n)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	json_t *hosts = json_array(), *h;
	size_t i;

	why[0] = '\0';
	json_array_append(hosts, json_object_get(spec, "host"));
	json_array_extend(hosts, json_object_get(spec, "redirects"));
	if (!x) {
		snprintf(why, n,
			 "the certificate file is not a PEM "
			 "certificate");
		goto out;
	}
	json_array_foreach(hosts, i, h) {
		const char *s = json_string_value(h);

		if (s && X509_check_host(x, s, strlen(s), 0, NULL) != 1) {
			snprintf(why, n, "the certificate does not name '%s'",
				 s);
			break;
		}
	}
out:
	json_decref(hosts);
	X509_free(x);
	BIO_free(b);
}

static int
traefik_conforms(const struct live_item *have, const struct live_object *want,
		 char *why, size_t n)
{
	const json_t *st = have->state;
	const char *problem = json_string_value(json_object_get(st, "problem")),
		   *file = json_string_value(json_object_get(st, "file")),
		   *tls = json_string_value(json_object_get(want->spec, "tls")),
		   *pem = json_string_value(json_object_get(st, "certificate"));
	json_t *s = json_object_get(st, "settings"), *desired;
	struct traefik_conf c = {
		.platform = json_string_value(json_object_get(s, "platform")),
		.mounted_at = json_string_value(
			json_object_get(s, "mountedAt")),
		.resolver = json_string_value(json_object_get(s, "resolver")),
		.http = (int)json_integer_value(json_object_get(s, "http")),
		.https = (int)json_integer_value(json_object_get(s, "https")),
	};
	int selfsigned = tls && strcmp(tls, "selfsigned") == 0, ok;

	if (problem) {
		snprintf(why, n, "%s", problem);
		return 0;
	}
	if (!c.platform || !c.mounted_at || !c.resolver) {
		snprintf(why, n, "the file '%s' was not read",
			 file ? file : "?");
		return 0;
	}
	desired = traefik_route_config(want->spec, &c);
	ok = json_equal(json_object_get(st, "config"), desired);
	json_decref(desired);
	if (!ok) {
		snprintf(why, n, "the file '%s' was changed in the ingress",
			 file ? file : "?");
		return 0;
	}
	if (selfsigned) {
		char hash_have[SHA256_HEX_LEN + 1],
			hash_want[SHA256_HEX_LEN + 1];

		if (!pem || !json_is_true(json_object_get(st, "key"))) {
			snprintf(why, n,
				 "the certificate or key file of '%s' "
				 "is missing",
				 file ? file : "?");
			return 0;
		}
		cert_problem(pem, want->spec, why, n);
		if (why[0])
			return 0;
		if (want->cert_pem) {
			hash_sha256_hex(hash_have, pem, strlen(pem));
			hash_sha256_hex(hash_want, want->cert_pem,
					strlen(want->cert_pem));
			if (strcmp(hash_have, hash_want)) {
				snprintf(why, n,
					 "the certificate file of '%s' "
					 "is not the platform's",
					 file ? file : "?");
				return 0;
			}
		}
	} else if (pem || json_is_true(json_object_get(st, "key"))) {
		snprintf(why, n,
			 "a certificate file of '%s' is left from "
			 "tls: selfsigned",
			 file ? file : "?");
		return 0;
	}
	return 1;
}

/* --- actions --------------------------------------------------------------- */

/* The current owner of the route's file: *exists, and the platform its
 * mark names (a new string) or NULL. */
static int
current_owner(const struct traefik *t, const char *file, int *exists,
	      char **owner, struct err *e)
{
	char *text = NULL;
	int rc = read_file(t->dir, file, &text, NULL, e);

	*owner = NULL;
	*exists = rc == 0;
	if (rc < 0)
		return -1;
	if (text)
		*owner = file_owner(text);
	free(text);
	return 0;
}

static int
put_route(struct traefik *t, const struct driver_action *a, const char *file,
	  struct err *e)
{
	const char *tls = json_string_value(
		json_object_get(a->want->spec, "tls"));
	char *crt = xprintf("%s.crt", a->name),
	     *key = xprintf("%s.key", a->name);
	struct strbuf text;
	int rc = -1;

	strbuf_init(&text, MAX_FILE);
	if (mkdir(t->dir, 0755) < 0 && errno != EEXIST) {
		err_set(e,
			"cannot create the traefik configuration directory "
			"'%s': %s",
			t->dir, strerror(errno));
		goto out;
	}
	if (tls && strcmp(tls, "selfsigned") == 0) {
		if (!a->want->cert_pem || !a->want->key_pem) {
			err_set(e, "no certificate for its tls: selfsigned "
				   "was made yet");
			goto out;
		}
		/* Certificate and key first: the file that names them
		 * comes last. */
		if (write_atomic(t->dir, crt, a->want->cert_pem,
				 strlen(a->want->cert_pem), 0644, e) < 0 ||
		    write_atomic(t->dir, key, a->want->key_pem,
				 strlen(a->want->key_pem), 0600, e) < 0)
			goto out;
	}
	if (traefik_file_text(a->want->spec, &t->conf, &text, e) < 0 ||
	    write_atomic(t->dir, file, text.buf, text.len, 0644, e) < 0)
		goto out;
	if (!(tls && strcmp(tls, "selfsigned") == 0) &&
	    (remove_file(t->dir, crt, e) < 0 ||
	     remove_file(t->dir, key, e) < 0))
		goto out;
	rc = sync_dir(t->dir, e);
out:
	strbuf_release(&text);
	free(crt);
	free(key);
	return rc;
}

static int
remove_route(struct traefik *t, const struct driver_action *a, const char *file,
	     struct err *e)
{
	char *crt = xprintf("%s.crt", a->name),
	     *key = xprintf("%s.key", a->name);
	int rc = -1;

	/* The file that names the certificate goes first. */
	if (remove_file(t->dir, file, e) == 0 &&
	    remove_file(t->dir, crt, e) == 0 &&
	    remove_file(t->dir, key, e) == 0)
		rc = access(t->dir, F_OK) == 0 ? sync_dir(t->dir, e) : 0;
	free(crt);
	free(key);
	return rc;
}

static int
traefik_apply(void *h, const struct driver_action *a, struct err *e)
{
	struct traefik *t = h;
	char *file = NULL, *owner = NULL, what[320];
	int exists, rc = -1;

	if (a->kind != LIVE_ROUTE)
		return err_set(e, "the traefik driver cannot %s %s '%s'",
			       driver_op_name(a->op), live_kind_name(a->kind),
			       a->name);
	/* Only names of this platform: the name is half the mark. */
	if (strncmp(a->name, t->prefix, strlen(t->prefix)) ||
	    strchr(a->name, '/') || !a->name[strlen(t->prefix)])
		return err_set(e,
			       "route '%s' is not a route of platform '%s'; "
			       "pressctl touches only files '%s<domain>.yml'",
			       a->name, t->conf.platform, t->prefix);
	snprintf(what, sizeof(what), "cannot %s route '%s'",
		 driver_op_name(a->op), a->name);
	file = xprintf("%s.yml", a->name);
	if (current_owner(t, file, &exists, &owner, e) < 0) {
		err_wrap(e, "%s", what);
		goto out;
	}
	if (a->op != OP_CREATE && a->op != OP_UPDATE && a->op != OP_REMOVE) {
		err_set(e, "%s: routes are created, updated or removed", what);
		goto out;
	}
	if (driver_may_touch(a, t->conf.platform, exists, owner, what, e) < 0)
		goto out;
	if (a->op == OP_REMOVE)
		rc = remove_route(t, a, file, e);
	else if (!a->want)
		rc = err_set(e, "no desired spec");
	else
		rc = put_route(t, a, file, e);
	if (rc < 0)
		err_wrap(e, "%s", what);
out:
	free(owner);
	free(file);
	return rc;
}

const struct driver driver_traefik = {
	.name = "traefik",
	.kinds = 1u << LIVE_ROUTE,
	.open = traefik_open,
	.close = traefik_close,
	.observe = traefik_observe,
	.conforms = traefik_conforms,
	.apply = traefik_apply,
};
