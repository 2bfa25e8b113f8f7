/* Unit tests: the traefik ingress driver's pure parts (driver/traefik.h):
 * the container labels the model puts on a traefik platform's
 * containers, the file provider's configuration of a route, and its
 * YAML (libyaml's emitter, read back by libyaml's parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "driver/traefik.h"
#include "manifest/manifest.h"

#define PLATFORM(ingress)                                                  \
	"apiVersion: press/v1\nkind: Platform\nmetadata: {name: local}\n"  \
	"spec:\n"                                                          \
	"  postgres: {dsn: {env: PRESS_PG_DSN}}\n"                         \
	"  s3: {endpoint: 'http://127.0.0.1:48590', accessKey: {env: AK}," \
	" secretKey: {env: SK}}\n"                                         \
	"  runtime: {driver: docker, network: press-net}\n"                \
	"  secrets: {masterKey: {file: /run/key}}\n"                       \
	"  domains: {previewWildcard: '*.preview.acme.test'}\n" ingress

static const char traefik_platform[] = PLATFORM(
	"  ingress: {driver: traefik, http: 8080, https: 8443,"
	" traefik: {dir: /srv/traefik, mountedAt: /etc/traefik/press,"
	" certResolver: le}}\n");
static const char caddy_platform[] = PLATFORM(
	"  ingress: {driver: caddy, admin: 'http://127.0.0.1:1', http: 8080}\n");

static const char sites[] =
	"apiVersion: press/v1\nkind: Site\nmetadata: {name: acme}\n"
	"spec: {app: generic, image: 'local/app:1', port: 8000,"
	" health: {path: /healthz}}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: prod}\n"
	"spec: {site: acme, stage: production, replicas: 2}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: stage}\n"
	"spec: {site: acme, stage: staging}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: pr-1}\n"
	"spec: {site: acme, stage: preview, expiresAfterHours: 2}\n";

static const char domains[] =
	"apiVersion: press/v1\nkind: Domain\nmetadata: {name: shop}\n"
	"spec: {host: shop.acme.test, environment: acme/prod, tls: selfsigned,"
	" redirects: [www.shop.acme.test, old.acme.test]}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Domain\nmetadata: {name: api}\n"
	"spec: {host: api.acme.test, environment: acme/prod, tls: acme}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Domain\nmetadata: {name: staging}\n"
	"spec: {host: stage.acme.test, environment: acme/stage, tls: none,"
	" redirects: [www.stage.acme.test]}\n";

static struct model *
read_model(const char *platform, int with_domains)
{
	const char *names[] = { "platform.yaml", "site.yaml", "domains.yaml" };
	const char *texts[] = { platform, sites, domains };
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;

	source_init(&src);
	diags_init(&d);
	for (size_t i = 0; i < (with_domains ? 3u : 2u); i++)
		assert_int_equal(source_add(&src, names[i], texts[i],
					    strlen(texts[i]), &e),
				 0);
	if (manifest_read(&m, NULL, &src, &d) < 0) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s:%u:%u: %s\n", d.v[i].file,
				d.v[i].line, d.v[i].col, d.v[i].message);
		fail_msg("model did not load");
	}
	diags_release(&d);
	source_release(&src);
	return m;
}

static const struct live_object *
object(const struct model *m, enum live_kind kind, const char *name)
{
	for (size_t i = 0; i < m->nobjects; i++)
		if (m->objects[i].kind == kind &&
		    strcmp(m->objects[i].name, name) == 0)
			return &m->objects[i];
	fail_msg("no %s '%s' in the model", live_kind_name(kind), name);
	return NULL;
}

static const char *
lab(const json_t *labels, const char *key)
{
	return json_string_value(json_object_get(labels, key));
}

static void
assert_label(const json_t *labels, const char *key, const char *want)
{
	const char *have = lab(labels, key);

	if (!have || strcmp(have, want))
		fail_msg("label %s is '%s', want '%s'", key,
			 have ? have : "(none)", want);
}

/* Every container of a traefik platform carries its environment's
 * routers and service; the model's hash covers them. */
static void
test_container_labels(void **state)
{
	struct model *m = read_model(traefik_platform, 1);
	const json_t *prod, *prod2, *stage, *preview;
	const char *key;
	json_t *v;

	(void)state;
	prod = json_object_get(object(m, LIVE_CONTAINER,
				      "fcs-press-acme-prod-1")
				       ->spec,
			       "ingressLabels");
	prod2 = json_object_get(object(m, LIVE_CONTAINER,
				       "fcs-press-acme-prod-2")
					->spec,
				"ingressLabels");
	assert_non_null(prod);
	assert_true(json_equal(prod, prod2)); /* replicas: one service */
	assert_label(prod, "traefik.enable", "true");
	assert_label(prod, "traefik.docker.network", "press-net");
	assert_label(prod, "traefik.http.routers.press_local_shop.rule",
		     "Host(`shop.acme.test`)");
	assert_label(prod, "traefik.http.routers.press_local_shop.entrypoints",
		     "websecure");
	assert_label(prod, "traefik.http.routers.press_local_shop.service",
		     "press_local_acme_prod");
	assert_label(prod, "traefik.http.routers.press_local_shop.tls", "true");
	assert_null(lab(prod, "traefik.http.routers.press_local_shop.tls."
			      "certresolver"));
	assert_label(prod,
		     "traefik.http.routers.press_local_api.tls.certresolver",
		     "le");
	assert_label(prod,
		     "traefik.http.services.press_local_acme_prod.loadbalancer."
		     "server.port",
		     "8000");
	assert_label(prod,
		     "traefik.http.services.press_local_acme_prod.loadbalancer."
		     "healthcheck.path",
		     "/healthz");
	/* The redirect hosts are the file provider's, not labels. */
	json_object_foreach((json_t *)prod, key, v)
		assert_null(strstr(json_string_value(v), "www."));

	stage = json_object_get(object(m, LIVE_CONTAINER,
				       "fcs-press-acme-stage")
					->spec,
				"ingressLabels");
	assert_label(stage,
		     "traefik.http.routers.press_local_staging.entrypoints",
		     "web");
	assert_null(lab(stage, "traefik.http.routers.press_local_staging.tls"));
	assert_null(lab(stage, "traefik.http.routers.press_local_shop.rule"));

	preview = json_object_get(object(m, LIVE_CONTAINER,
					 "fcs-press-acme-pr-1")
					  ->spec,
				  "ingressLabels");
	assert_label(preview,
		     "traefik.http.routers.press_local_preview_acme_pr-1.rule",
		     "Host(`acme-pr-1.preview.acme.test`)");
	assert_label(preview,
		     "traefik.http.routers.press_local_preview_acme_pr-1.service",
		     "press_local_acme_pr-1");
	model_free(m);
}

/* Without Domains nothing is exposed; with caddy the containers carry no
 * ingress labels: their spec is that of a platform without any ingress
 * but for "publish" (behind an ingress, no host port). */
static void
test_labels_only_for_traefik(void **state)
{
	struct model *bare = read_model(traefik_platform, 0),
		     *caddy = read_model(caddy_platform, 1),
		     *none = read_model(PLATFORM(""), 1);
	const struct live_object *c;

	(void)state;
	c = object(bare, LIVE_CONTAINER, "fcs-press-acme-stage");
	assert_string_equal(lab(json_object_get(c->spec, "ingressLabels"),
				"traefik.enable"),
			    "false");
	c = object(caddy, LIVE_CONTAINER, "fcs-press-acme-stage");
	assert_null(json_object_get(c->spec, "ingressLabels"));
	{
		json_t *a = json_deep_copy(c->spec),
		       *b = json_deep_copy(object(none, LIVE_CONTAINER,
						  "fcs-press-acme-stage")
						   ->spec);

		assert_true(json_is_false(json_object_get(a, "publish")));
		json_object_del(a, "publish");
		json_object_del(b, "publish");
		assert_true(json_equal(a, b));
		json_decref(a);
		json_decref(b);
	}
	model_free(bare);
	model_free(caddy);
	model_free(none);
}

static const struct traefik_conf conf = {
	.platform = "local",
	.mounted_at = "/etc/traefik/press",
	.resolver = "le",
	.http = 8080,
	.https = 8443,
};

static json_t *
config_of(const struct model *m, const char *route)
{
	return traefik_route_config(object(m, LIVE_ROUTE, route)->spec, &conf);
}

static void
test_route_config(void **state)
{
	struct model *m = read_model(traefik_platform, 1);
	json_t *shop = config_of(m, "press.local.shop"),
	       *staging = config_of(m, "press.local.staging"),
	       *api = config_of(m, "press.local.api"),
	       *preview = config_of(m, "press.local.preview.acme.pr-1"), *want;

	(void)state;
	want = json_loads(
		"{\"http\": {\"routers\": {"
		" \"press_local_shop_redirect\": {\"rule\": \"Host(`www.shop.acme.test`) || "
		"Host(`old.acme.test`)\", \"entryPoints\": [\"web\"],"
		"  \"middlewares\": [\"press_local_shop_redirect\"], \"service\": \"noop@internal\"},"
		" \"press_local_shop_redirect_tls\": {\"rule\": \"Host(`www.shop.acme.test`) || "
		"Host(`old.acme.test`)\", \"entryPoints\": [\"websecure\"],"
		"  \"middlewares\": [\"press_local_shop_redirect\"], \"service\": \"noop@internal\","
		"  \"tls\": {}},"
		" \"press_local_shop_https\": {\"rule\": \"Host(`shop.acme.test`)\","
		"  \"entryPoints\": [\"web\"], \"middlewares\": [\"press_local_shop_https\"],"
		"  \"service\": \"noop@internal\"}},"
		" \"middlewares\": {"
		" \"press_local_shop_redirect\": {\"redirectRegex\": {\"regex\": "
		"\"^https?://[^/]+(.*)$\", \"replacement\": \"https://shop.acme.test:8443${1}\","
		"  \"permanent\": true}},"
		" \"press_local_shop_https\": {\"redirectScheme\": {\"scheme\": \"https\","
		"  \"port\": \"8443\", \"permanent\": true}}}},"
		" \"tls\": {\"certificates\": [{\"certFile\": "
		"\"/etc/traefik/press/press.local.shop.crt\", \"keyFile\": "
		"\"/etc/traefik/press/press.local.shop.key\"}]}}",
		0, NULL);
	assert_non_null(want);
	if (!json_equal(shop, want))
		fail_msg("shop: %s", json_dumps(shop, JSON_SORT_KEYS));
	json_decref(want);

	/* Plain HTTP: the redirect keeps the scheme and names the http
	 * port; no HTTPS router, no certificate. */
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(
				json_object_get(
					json_object_get(json_object_get(staging,
									"http"),
							"middlewares"),
					"press_local_staging_redirect"),
				"redirectRegex"),
			"replacement")),
		"http://stage.acme.test:8080${1}");
	assert_int_equal(json_object_size(
				 json_object_get(json_object_get(staging,
								 "http"),
						 "routers")),
			 1);
	assert_null(json_object_get(staging, "tls"));

	/* acme: only HTTP -> HTTPS here; the certificate is Traefik's. */
	assert_non_null(
		json_object_get(json_object_get(json_object_get(api, "http"),
						"routers"),
				"press_local_api_https"));
	assert_null(json_object_get(api, "tls"));

	/* A preview: nothing besides its labels. */
	assert_int_equal(json_object_size(preview), 0);
	json_decref(shop);
	json_decref(staging);
	json_decref(api);
	json_decref(preview);
	model_free(m);
}

/* The file: the mark first, then YAML that reads back as the same
 * configuration; strings that look like numbers stay strings. */
static void
test_file_round_trip(void **state)
{
	struct model *m = read_model(traefik_platform, 1);
	const char *routes[] = { "press.local.shop", "press.local.staging",
				 "press.local.api",
				 "press.local.preview.acme.pr-1" };
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++) {
		const struct live_object *o = object(m, LIVE_ROUTE, routes[i]);
		json_t *back = NULL,
		       *want = traefik_route_config(o->spec, &conf);
		struct strbuf sb;

		strbuf_init(&sb, 0);
		assert_int_equal(traefik_file_text(o->spec, &conf, &sb, &e), 0);
		assert_true(
			strncmp(sb.buf,
				"# managed by pressctl: press.platform=local\n",
				44) == 0);
		if (traefik_yaml_parse(sb.buf, sb.len, &back, &e) < 0)
			fail_msg("%s: %s\n%s", routes[i], e.msg, sb.buf);
		if (!json_equal(back, want))
			fail_msg("%s does not read back:\n%s", routes[i],
				 sb.buf);
		json_decref(back);
		json_decref(want);
		strbuf_release(&sb);
	}
	model_free(m);
}

static void
test_yaml_scalars(void **state)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b, s:[], s:{}, s:s}",
			      "port", "8443", "yes", "yes", "empty", "", "rule",
			      "Host(`a.test`) || Host(`b.test`)", "n", 42, "b",
			      0, "list", "map", "dollar", "https://a.test${1}"),
	       *back = NULL;
	struct strbuf sb;
	struct err e;

	(void)state;
	strbuf_init(&sb, 0);
	assert_int_equal(traefik_yaml_emit(v, &sb, &e), 0);
	assert_non_null(strstr(sb.buf, "port: \"8443\"\n"));
	assert_non_null(
		strstr(sb.buf, "rule: Host(`a.test`) || Host(`b.test`)\n"));
	assert_int_equal(traefik_yaml_parse(sb.buf, sb.len, &back, &e), 0);
	if (!json_equal(v, back))
		fail_msg("does not read back:\n%s", sb.buf);
	json_decref(back);
	json_decref(v);
	strbuf_release(&sb);

	/* What a hand-edited file may hold. */
	assert_int_equal(traefik_yaml_parse("a: &x 1\nb: *x\n", 14, &back, &e),
			 -1);
	assert_non_null(strstr(e.msg, "aliases"));
	assert_int_equal(traefik_yaml_parse("a: [1\n", 6, &back, &e), -1);
	assert_int_equal(traefik_yaml_parse("a: 1\n---\nb: 2\n", 14, &back, &e),
			 -1);
	assert_int_equal(traefik_yaml_parse("", 0, &back, &e), 0);
	assert_true(json_is_null(back));
	json_decref(back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_labels),
		cmocka_unit_test(test_labels_only_for_traefik),
		cmocka_unit_test(test_route_config),
		cmocka_unit_test(test_file_round_trip),
		cmocka_unit_test(test_yaml_scalars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
