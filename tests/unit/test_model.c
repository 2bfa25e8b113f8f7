/* Unit tests: the model, inheritance and spec hashes (manifest/model.c),
 * and the desired-vs-desired diff (plan/diff.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "manifest/manifest.h"
#include "plan/diff.h"

static const char platform[] =
	"apiVersion: press/v1\nkind: Platform\nmetadata: {name: local}\n"
	"spec:\n"
	"  postgres: {dsn: {env: PRESS_PG_DSN}}\n"
	"  s3: {endpoint: 'http://127.0.0.1:48590', accessKey: {env: AK},"
	" secretKey: {env: SK}}\n"
	"  runtime: {driver: docker}\n"
	"  secrets: {masterKey: {file: /run/key}}\n";

static const char site[] =
	"apiVersion: press/v1\nkind: Site\nmetadata: {name: acme, labels: {tier: gold}}\n"
	"spec:\n  app: frappe\n  image: frappe/erpnext:v16.0.0\n"
	"  env: {MAIL_FROM: ops@acme.example, WORKERS: 2}\n";

static const char envs[] =
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: production}\n"
	"spec: {site: acme, stage: production}\n"
	"---\n"
	"apiVersion: press/v1\nkind: Environment\nmetadata: {name: staging}\n"
	"spec:\n  site: acme\n  stage: staging\n  image: frappe/erpnext:v16.0.1\n"
	"  env: {WORKERS: 4, API_TOKEN: {env: ACME_TOKEN}}\n"
	"  cloneFrom: {environment: production}\n";

/* The same desired state: other key order, flow style, one file. */
static const char envs_reordered[] =
	"apiVersion: press/v1\nkind: Platform\nmetadata: {name: local}\n"
	"spec: {secrets: {masterKey: {file: /run/key}}, runtime: {driver: docker},"
	" s3: {secretKey: {env: SK}, accessKey: {env: AK},"
	" endpoint: 'http://127.0.0.1:48590'}, postgres: {dsn: {env: PRESS_PG_DSN}}}\n"
	"---\n"
	"kind: Environment\napiVersion: press/v1\n"
	"spec: {cloneFrom: {environment: production}, env: {API_TOKEN: {env: ACME_TOKEN},"
	" WORKERS: '4'}, image: frappe/erpnext:v16.0.1, stage: staging, site: acme}\n"
	"metadata: {name: staging}\n"
	"---\n"
	"spec: {stage: production, site: acme}\nmetadata:\n  name: production\n"
	"kind: Environment\napiVersion: press/v1\n"
	"---\n"
	"spec: {image: frappe/erpnext:v16.0.0, app: frappe,"
	" env: {WORKERS: 2, MAIL_FROM: ops@acme.example}}\n"
	"metadata: {labels: {tier: gold}, name: acme}\nkind: Site\napiVersion: press/v1\n";

static struct model *
read_model(const char *const *names, const char *const *texts, size_t n)
{
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;

	source_init(&src);
	diags_init(&d);
	for (size_t i = 0; i < n; i++)
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

static struct model *
standard(void)
{
	const char *names[] = { "platform.yaml", "sites/acme.yaml",
				"sites/acme-envs.yaml" };
	const char *texts[] = { platform, site, envs };

	return read_model(names, texts, 3);
}

static void
environment_inherits_site_defaults(void **state)
{
	struct model *m = standard();
	const struct environment *p = model_find_env(m, "acme/production");
	const struct environment *s = model_find_env(m, "acme/staging");
	json_t *env;

	(void)state;
	assert_non_null(p);
	assert_non_null(s);
	assert_string_equal(p->image, "frappe/erpnext:v16.0.0");
	assert_string_equal(s->image, "frappe/erpnext:v16.0.1");
	assert_int_equal(p->port, 8000); /* from the frappe profile */
	env = json_object_get(s->spec, "env");
	assert_string_equal(json_string_value(json_object_get(env, "WORKERS")),
			    "4");
	assert_string_equal(json_string_value(
				    json_object_get(env, "MAIL_FROM")),
			    "ops@acme.example");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(env, "API_TOKEN"), "env")),
			    "ACME_TOKEN");
	assert_string_equal(json_string_value(
				    json_object_get(json_object_get(p->spec,
								    "env"),
						    "WORKERS")),
			    "2");
	model_free(m);
}

static void
derived_names(void **state)
{
	struct model *m = standard();
	const struct environment *s = model_find_env(m, "acme/staging");

	(void)state;
	assert_string_equal(s->schema, "acme_staging");
	assert_string_equal(s->role, "acme_staging");
	assert_string_equal(s->bucket, "fcs-press-acme-staging");
	assert_string_equal(s->container, "fcs-press-acme-staging");
	assert_int_equal(m->nobjects, 8);
	model_free(m);
}

static void
spec_hash_ignores_key_order_whitespace_and_layout(void **state)
{
	const char *name = "all.yml", *text = envs_reordered;
	struct model *a = standard();
	struct model *b = read_model(&name, &text, 1);

	(void)state;
	assert_int_equal(a->nenvs, b->nenvs);
	assert_int_equal(a->nobjects, b->nobjects);
	for (size_t i = 0; i < a->nenvs; i++)
		assert_string_equal(a->envs[i].spec_hash, b->envs[i].spec_hash);
	for (size_t i = 0; i < a->nobjects; i++)
		assert_string_equal(a->objects[i].hash, b->objects[i].hash);
	model_free(a);
	model_free(b);
}

static void
spec_hash_changes_with_the_spec(void **state)
{
	const char *names[] = { "p.yaml", "s.yaml", "e.yaml" };
	const char *texts[] = { platform, site, envs };
	char changed[sizeof(site) + 8];
	struct model *a, *b;

	(void)state;
	snprintf(changed, sizeof(changed), "%s", site);
	memcpy(strstr(changed, "v16.0.0"), "v16.0.9", 7);
	texts[1] = changed;
	a = standard();
	b = read_model(names, texts, 3);
	/* production inherits the site image; staging pins its own. */
	assert_string_not_equal(model_find_env(a, "acme/production")->spec_hash,
				model_find_env(b, "acme/production")->spec_hash);
	assert_string_equal(model_find_env(a, "acme/staging")->spec_hash,
			    model_find_env(b, "acme/staging")->spec_hash);
	model_free(a);
	model_free(b);
}

static void
diff_lists_changed_fields_only(void **state)
{
	const char *names[] = { "p.yaml", "s.yaml", "e.yaml" };
	const char *texts[] = { platform, site, envs };
	char changed[sizeof(site) + 8];
	struct model *a, *b;
	json_t *oa, *ob, *r, *objs, *o;

	(void)state;
	snprintf(changed, sizeof(changed), "%s", site);
	memcpy(strstr(changed, "v16.0.0"), "v16.0.9", 7);
	texts[1] = changed;
	a = standard();
	b = read_model(names, texts, 3);
	oa = model_objects(a);
	ob = model_objects(b);
	r = diff_objects(oa, ob);
	objs = json_object_get(r, "objects");
	assert_int_equal(json_array_size(objs), 2);
	o = json_array_get(objs, 0);
	assert_string_equal(json_string_value(json_object_get(o, "kind")),
			    "Environment");
	assert_string_equal(json_string_value(json_object_get(o, "name")),
			    "acme/production");
	assert_int_equal(json_array_size(json_object_get(o, "fields")), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(o, "fields"),
						   0),
				    "path")),
			    "/spec/image");
	o = json_array_get(objs, 1);
	assert_string_equal(json_string_value(json_object_get(o, "kind")),
			    "Site");
	json_decref(r);
	r = diff_objects(oa, oa);
	assert_true(json_is_false(json_object_get(r, "changed")));
	json_decref(r);
	json_decref(oa);
	json_decref(ob);
	model_free(a);
	model_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(environment_inherits_site_defaults),
		cmocka_unit_test(derived_names),
		cmocka_unit_test(
			spec_hash_ignores_key_order_whitespace_and_layout),
		cmocka_unit_test(spec_hash_changes_with_the_spec),
		cmocka_unit_test(diff_lists_changed_fields_only),
	};

	return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
