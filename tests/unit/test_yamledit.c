/*
 * test_yamledit.c - editing one value of one YAML document in place
 * (source/yamledit.h).
 *
 * Every successful edit is checked twice: the exact text expected, and
 * pressctl's own loader (manifest_load) reading the result: the edited
 * document's JSON must equal the original's with that one change
 * applied, every other document unchanged. Values that a reader could
 * retype are also read back by PyYAML (a YAML 1.1 reader) when python3
 * has it.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "manifest/manifest.h"
#include "source/yamledit.h"

/* Any document; the one at index i; by identity. */
static const struct yamledit_doc any = { -1, NULL, NULL, NULL };

/* --- the loader's view of a file -------------------------------------- */

static void
load(struct docset *ds, const char *data, size_t len)
{
	struct source src;
	struct diags d;
	struct err e;

	source_init(&src);
	diags_init(&d);
	memset(ds, 0, sizeof(*ds));
	assert_int_equal(source_add(&src, "t.yaml", data, len, &e), 0);
	if (manifest_load(ds, &src, &d) != 0)
		fail_msg("the loader refused the file: %s:%u:%u: %s\n%s",
			 d.v[0].file, d.v[0].line, d.v[0].col, d.v[0].message,
			 data);
	diags_release(&d);
	source_release(&src);
}

/* Decode one JSON pointer token of p (after its '/') into tok. */
static const char *
next_token(char *tok, size_t size, const char *p)
{
	size_t n = 0;

	assert_true(*p == '/');
	for (p++; *p && *p != '/'; p++) {
		char c = *p;

		if (c == '~') {
			c = p[1] == '1' ? '/' : '~';
			p++;
		}
		assert_true(n + 1 < size);
		tok[n++] = c;
	}
	tok[n] = '\0';
	return p;
}

/* root with the value at pointer set (creating objects) or, with value
 * NULL, removed: what the edit must amount to. */
static void
apply_pointer(json_t *root, const char *pointer, json_t *value)
{
	json_t *node = root;
	const char *p = pointer;
	char tok[256];

	for (;;) {
		json_t *child;

		p = next_token(tok, sizeof(tok), p);
		if (json_is_array(node)) {
			size_t i = strtoul(tok, NULL, 10);

			if (*p != '\0') {
				node = json_array_get(node, i);
				assert_non_null(node);
				continue;
			}
			assert_non_null(value);
			assert_int_equal(json_array_set(node, i, value), 0);
			return;
		}
		assert_true(json_is_object(node));
		if (*p == '\0') {
			if (value)
				json_object_set(node, tok, value);
			else
				assert_int_equal(json_object_del(node, tok), 0);
			return;
		}
		child = json_object_get(node, tok);
		if (child == NULL) {
			child = json_object();
			json_object_set_new(node, tok, child);
		}
		node = child;
	}
}

/* The loader reads out as it reads in, with the change at document
 * index docidx (value NULL: removed). */
static void
check_loaded(const char *in, const char *out, size_t outlen, int docidx,
	     const char *pointer, json_t *value)
{
	struct docset a, b;
	int seen = 0;

	load(&a, in, strlen(in));
	load(&b, out, outlen);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		json_t *want = json_deep_copy(a.v[i].root);

		assert_int_equal(a.v[i].index, b.v[i].index);
		if (a.v[i].index == docidx) {
			apply_pointer(want, pointer, value);
			seen = 1;
		}
		if (!json_equal(want, b.v[i].root)) {
			char *w = json_dumps(want, JSON_SORT_KEYS);
			char *g = json_dumps(b.v[i].root, JSON_SORT_KEYS);

			fail_msg("document %d: want %s\ngot %s", a.v[i].index,
				 w, g);
		}
		json_decref(want);
	}
	assert_true(seen);
	docset_release(&a);
	docset_release(&b);
}

/* --- helpers ---------------------------------------------------------- */

/* yamledit_set must give want (text), which the loader reads as in
 * with the change. value is stolen. */
static void
expect_set_doc(const char *in, const struct yamledit_doc *sel, int docidx,
	       const char *pointer, json_t *value, const char *want)
{
	char *out = NULL;
	size_t n = 0;
	struct err e;

	if (yamledit_set(&out, &n, "t.yaml", in, strlen(in), sel, pointer,
			 value, &e) != 0)
		fail_msg("set %s: %s", pointer, e.msg);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	check_loaded(in, out, n, docidx, pointer, value);
	free(out);
	json_decref(value);
}

static void
expect_set(const char *in, const char *pointer, json_t *value, const char *want)
{
	expect_set_doc(in, &any, 0, pointer, value, want);
}

/* The same, for input the loader refuses (anchors): the text only. */
static void
expect_set_text(const char *in, const char *pointer, json_t *value,
		const char *want)
{
	char *out = NULL;
	size_t n = 0;
	struct err e;

	if (yamledit_set(&out, &n, "t.yaml", in, strlen(in), &any, pointer,
			 value, &e) != 0)
		fail_msg("set %s: %s", pointer, e.msg);
	assert_string_equal(out, want);
	free(out);
	json_decref(value);
}

static void
expect_remove(const char *in, const char *pointer, const char *want)
{
	char *out = NULL;
	size_t n = 0;
	struct err e;

	if (yamledit_remove(&out, &n, "t.yaml", in, strlen(in), &any, pointer,
			    &e) != 0)
		fail_msg("remove %s: %s", pointer, e.msg);
	assert_string_equal(out, want);
	check_loaded(in, out, n, 0, pointer, NULL);
	free(out);
}

/* yamledit_set must fail with a message containing each of the
 * fragments (NULL-terminated). value is stolen. */
static void
expect_set_error(const char *in, const struct yamledit_doc *sel,
		 const char *pointer, json_t *value, ...)
{
	char *out = (char *)"untouched";
	size_t n = 7;
	struct err e;
	const char *frag;
	va_list ap;

	memset(&e, 0, sizeof(e));
	assert_int_equal(yamledit_set(&out, &n, "t.yaml", in, strlen(in),
				      sel ? sel : &any, pointer, value, &e),
			 -1);
	assert_null(out);
	va_start(ap, value);
	while ((frag = va_arg(ap, const char *)) != NULL)
		if (strstr(e.msg, frag) == NULL)
			fail_msg("error '%s' lacks '%s'", e.msg, frag);
	va_end(ap);
	json_decref(value);
}

static void
expect_remove_error(const char *in, const char *pointer, const char *frag)
{
	char *out = NULL;
	size_t n;
	struct err e;

	assert_int_equal(yamledit_remove(&out, &n, "t.yaml", in, strlen(in),
					 &any, pointer, &e),
			 -1);
	assert_null(out);
	if (strstr(e.msg, frag) == NULL)
		fail_msg("error '%s' lacks '%s'", e.msg, frag);
}

/* --- replacing a scalar ------------------------------------------------ */

static const char env_doc[] = "# Production of acme.\n"
			      "apiVersion: press/v1\n"
			      "kind: Environment\n"
			      "metadata: {name: production}  # the live one\n"
			      "spec:\n"
			      "  site: acme\n"
			      "  stage: production\n"
			      "  # pinned by the last promotion\n"
			      "  image: frappe/erpnext:v16.0.0   # pinned\n"
			      "  replicas: 2\n"
			      "\n"
			      "# end\n";

static void
set_replaces_only_the_bytes_of_a_plain_scalar(void **state)
{
	(void)state;
	expect_set(env_doc, "/spec/image",
		   json_string("frappe/erpnext:v16.0.1"),
		   "# Production of acme.\n"
		   "apiVersion: press/v1\n"
		   "kind: Environment\n"
		   "metadata: {name: production}  # the live one\n"
		   "spec:\n"
		   "  site: acme\n"
		   "  stage: production\n"
		   "  # pinned by the last promotion\n"
		   "  image: frappe/erpnext:v16.0.1   # pinned\n"
		   "  replicas: 2\n"
		   "\n"
		   "# end\n");
	expect_set(env_doc, "/metadata/name", json_string("prod-2"),
		   "# Production of acme.\n"
		   "apiVersion: press/v1\n"
		   "kind: Environment\n"
		   "metadata: {name: prod-2}  # the live one\n"
		   "spec:\n"
		   "  site: acme\n"
		   "  stage: production\n"
		   "  # pinned by the last promotion\n"
		   "  image: frappe/erpnext:v16.0.0   # pinned\n"
		   "  replicas: 2\n"
		   "\n"
		   "# end\n");
}

static void
set_writes_numbers_booleans_and_null_plain(void **state)
{
	static const char in[] = "spec:\n  replicas: 2\n  flag: x\n";

	(void)state;
	expect_set(in, "/spec/replicas", json_integer(3),
		   "spec:\n  replicas: 3\n  flag: x\n");
	expect_set(in, "/spec/replicas", json_integer(-12),
		   "spec:\n  replicas: -12\n  flag: x\n");
	expect_set(in, "/spec/flag", json_true(),
		   "spec:\n  replicas: 2\n  flag: true\n");
	expect_set(in, "/spec/flag", json_false(),
		   "spec:\n  replicas: 2\n  flag: false\n");
	expect_set(in, "/spec/flag", json_null(),
		   "spec:\n  replicas: 2\n  flag: null\n");
	expect_set(in, "/spec/flag", json_real(1.5),
		   "spec:\n  replicas: 2\n  flag: 1.5\n");
	expect_set(in, "/spec/flag", json_real(2.0),
		   "spec:\n  replicas: 2\n  flag: 2.0\n");
	expect_set(in, "/spec/flag", json_real(0.1),
		   "spec:\n  replicas: 2\n  flag: 0.1\n");
	expect_set(in, "/spec/flag", json_real(1e300),
		   "spec:\n  replicas: 2\n  flag: 1.0e+300\n");
	/* A number as a string is quoted. */
	expect_set(in, "/spec/replicas", json_string("3"),
		   "spec:\n  replicas: '3'\n  flag: x\n");
}

static void
set_keeps_the_quote_style_of_the_replaced_scalar(void **state)
{
	(void)state;
	expect_set("image: \"frappe/erpnext:v1\"  # c\n", "/image",
		   json_string("frappe/erpnext:v2"),
		   "image: \"frappe/erpnext:v2\"  # c\n");
	expect_set("image: 'v1'\n", "/image", json_string("it's"),
		   "image: 'it''s'\n");
	expect_set("a: \"x\"\n", "/a", json_string("say \"hi\"\\"),
		   "a: \"say \\\"hi\\\"\\\\\"\n");
	/* A single-quoted value that needs escapes becomes double-quoted. */
	expect_set("a: 'x'\n", "/a", json_string("two\nlines"),
		   "a: \"two\\nlines\"\n");
	/* Quoted because it was, not because it must be: stays quoted. */
	expect_set("a: 'x'\n", "/a", json_string("plain"), "a: 'plain'\n");
	/* A number replacing a quoted string is plain. */
	expect_set("a: '1'\n", "/a", json_integer(2), "a: 2\n");
}

/* Strings that some YAML reader would take for something else. */
static const char *const retyped[] = {
	"yes",
	"No",
	"ON",
	"off",
	"y",
	"N",
	"true",
	"False",
	"null",
	"NULL",
	"~",
	"",
	"1.0",
	"1",
	"0x1f",
	"0o17",
	"1e3",
	"012",
	"1_000",
	"12:30",
	"2001-12-14",
	".inf",
	"-.Inf",
	".nan",
	"-1",
	"+1",
	":",
	"#",
	"a #b",
	" lead",
	"trail ",
	"- x",
	"-",
	"[a]",
	"{a}",
	"*x",
	"&x",
	"!x",
	"%x",
	"@x",
	"`x",
	"|",
	">",
	"?",
	"? x",
	"a: b",
	"a:",
	"it's",
	"\"q\"",
	"tab\there",
	"line\nbreak",
	"cr\rx",
	"nul-free\x01",
	"caf\xc3\xa9",
	"<<",
	"=",
	"a,b",
	"x\xc2\x85y",
	"a\xe2\x80\xa8z",
	"---",
	"...",
	"---x",
	"a ",
	"Yes please",
};

/* python3 with PyYAML (a YAML 1.1 reader), or 0. */
static int
have_pyyaml(void)
{
	static int have = -1;

	if (have < 0)
		have = sh("python3 -c 'import yaml' >/dev/null 2>&1") == 0;
	return have;
}

/* Write data to dir/name. */
static void
put_file(const char *dir, const char *name, const char *data)
{
	char path[PATH_MAX];
	FILE *f;

	fmt(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(data, f);
	assert_int_equal(fclose(f), 0);
}

static void
set_quotes_what_a_reader_would_retype(void **state)
{
	static const char *const ins[] = { "v: x\n", "{v: x}\n", "v: \"x\"\n",
					   "v: 'x'\n" };
	char dir[PATH_MAX], name[64];
	int count = 0;

	(void)state;
	newdir(dir);
	for (size_t i = 0; i < sizeof(retyped) / sizeof(retyped[0]); i++) {
		for (size_t j = 0; j < sizeof(ins) / sizeof(ins[0]); j++) {
			char *out = NULL;
			size_t n;
			struct err e;
			json_t *v = json_string(retyped[i]);

			if (yamledit_set(&out, &n, "t.yaml", ins[j],
					 strlen(ins[j]), &any, "/v", v,
					 &e) != 0)
				fail_msg("'%s' in %s: %s", retyped[i], ins[j],
					 e.msg);
			check_loaded(ins[j], out, n, 0, "/v", v);
			fmt(name, sizeof(name), "%d.yaml", count);
			put_file(dir, name, out);
			fmt(name, sizeof(name), "%d.want", count++);
			put_file(dir, name, retyped[i]);
			json_decref(v);
			free(out);
		}
	}
	/* PyYAML reads every N.yaml's v as exactly N.want. */
	if (have_pyyaml() &&
	    sh("cd '%s' && python3 -c 'import sys, yaml\n"
	       "bad = 0\n"
	       "for i in range(int(sys.argv[1])):\n"
	       "    v = yaml.safe_load(open(\"%%d.yaml\" %% i, encoding=\"utf-8\"))[\"v\"]\n"
	       "    w = open(\"%%d.want\" %% i, encoding=\"utf-8\", newline=\"\").read()\n"
	       "    if v != w:\n"
	       "        print(\"PyYAML reads %%r from %%d.yaml, not %%r\" %% (v, i, w))\n"
	       "        bad = 1\n"
	       "sys.exit(bad)' %d",
	       dir, count) != 0)
		fail_msg("PyYAML reads some values differently (above)");
}

static void
set_quotes_with_the_right_quotes(void **state)
{
	(void)state;
	expect_set("v: x\n", "/v", json_string("yes"), "v: 'yes'\n");
	expect_set("v: x\n", "/v", json_string("1.0"), "v: '1.0'\n");
	expect_set("v: x\n", "/v", json_string(""), "v: ''\n");
	expect_set("v: x\n", "/v", json_string(" lead"), "v: ' lead'\n");
	expect_set("v: x\n", "/v", json_string("a #b"), "v: 'a #b'\n");
	expect_set("v: x\n", "/v", json_string("it's"), "v: 'it''s'\n");
	expect_set("v: x\n", "/v", json_string("tab\there"),
		   "v: \"tab\\there\"\n");
	expect_set("v: x\n", "/v", json_string("a\x01"), "v: \"a\\x01\"\n");
	expect_set("v: x\n", "/v", json_string("x\xc2\x85y"), "v: \"x\\Ny\"\n");
	expect_set("v: x\n", "/v", json_string("caf\xc3\xa9"),
		   "v: 'caf\xc3\xa9'\n");
	/* Plain stays plain where every reader agrees. */
	expect_set("v: x\n", "/v", json_string("frappe/erpnext:v16.0.1"),
		   "v: frappe/erpnext:v16.0.1\n");
	expect_set("v: x\n", "/v", json_string("ops@acme.example"),
		   "v: ops@acme.example\n");
	expect_set("v: x\n", "/v", json_string("/api/method/ping"),
		   "v: /api/method/ping\n");
	/* ':' is quoted inside flow collections (older readers stop at it). */
	expect_set("{v: x}\n", "/v", json_string("frappe/erpnext:v1"),
		   "{v: 'frappe/erpnext:v1'}\n");
	expect_set("v: [a, b]\n", "/v/1", json_string("c:d"),
		   "v: [a, 'c:d']\n");
}

static void
set_keeps_the_same_bytes_when_the_value_is_unchanged(void **state)
{
	(void)state;
	expect_set(env_doc, "/spec/image",
		   json_string("frappe/erpnext:v16.0.0"), env_doc);
	expect_set(env_doc, "/spec/replicas", json_integer(2), env_doc);
}

static void
set_replaces_an_empty_value(void **state)
{
	(void)state;
	expect_set("spec:\n  image:\n  site: acme\n", "/spec/image",
		   json_string("x"), "spec:\n  image: x\n  site: acme\n");
	expect_set("spec:\n  image:  # none yet\n  site: acme\n", "/spec/image",
		   json_string("x"),
		   "spec:\n  image: x  # none yet\n  site: acme\n");
	expect_set("spec: {image: , site: acme}\n", "/spec/image",
		   json_string("x"), "spec: {image: x, site: acme}\n");
	expect_set("spec:\n  image: ~\n", "/spec/image", json_string("x"),
		   "spec:\n  image: x\n");
}

static void
set_replaces_sequence_items(void **state)
{
	(void)state;
	expect_set("spec:\n  command:\n  - bench\n  - serve\n",
		   "/spec/command/1", json_string("worker"),
		   "spec:\n  command:\n  - bench\n  - worker\n");
	expect_set("spec:\n  command: [bench, serve]\n", "/spec/command/0",
		   json_string("yes"), "spec:\n  command: ['yes', serve]\n");
}

static void
set_replaces_a_block_scalar(void **state)
{
	(void)state;
	expect_set("a: |\n  one\n  two\nb: 1\n", "/a", json_string("x"),
		   "a: x\nb: 1\n");
	/* Its trailing blank lines are not its value: they stay. */
	expect_set("a: >-\n  one\n\n# c\nb: 1\n", "/a", json_string("x"),
		   "a: x\n\n# c\nb: 1\n");
}

static void
set_sees_positions_after_multibyte_characters(void **state)
{
	(void)state;
	expect_set("# caf\xc3\xa9 \xe2\x82\xac\nn: \xc3\xa9\xc3\xa9\nv: x\n",
		   "/v", json_string("z"),
		   "# caf\xc3\xa9 \xe2\x82\xac\nn: \xc3\xa9\xc3\xa9\nv: z\n");
	/* A byte order mark is kept and not counted. */
	expect_set("\xef\xbb\xbfn: \xc3\xa9\nv: x\n", "/v", json_string("z"),
		   "\xef\xbb\xbfn: \xc3\xa9\nv: z\n");
	expect_set("\xef\xbb\xbfn: \xc3\xa9\nv: x\n", "/w", json_string("z"),
		   "\xef\xbb\xbfn: \xc3\xa9\nv: x\nw: z\n");
}

/* --- inserting keys ----------------------------------------------------- */

static const char block_doc[] = "kind: Environment\n"
				"metadata:\n"
				"  name: production\n"
				"  # the spec follows\n"
				"spec:\n"
				"  site: acme  # owner\n"
				"  stage: production\n"
				"\n"
				"# trailing comment\n";

static void
set_adds_a_key_after_the_last_entry_of_a_block_mapping(void **state)
{
	(void)state;
	expect_set(block_doc, "/spec/image", json_string("x:1"),
		   "kind: Environment\n"
		   "metadata:\n"
		   "  name: production\n"
		   "  # the spec follows\n"
		   "spec:\n"
		   "  site: acme  # owner\n"
		   "  stage: production\n"
		   "  image: x:1\n"
		   "\n"
		   "# trailing comment\n");
	/* Before the comment that introduces the next key. */
	expect_set(block_doc, "/metadata/labels/tier", json_string("gold"),
		   "kind: Environment\n"
		   "metadata:\n"
		   "  name: production\n"
		   "  labels:\n"
		   "    tier: gold\n"
		   "  # the spec follows\n"
		   "spec:\n"
		   "  site: acme  # owner\n"
		   "  stage: production\n"
		   "\n"
		   "# trailing comment\n");
	/* At the root. */
	expect_set(block_doc, "/apiVersion", json_string("press/v1"),
		   "kind: Environment\n"
		   "metadata:\n"
		   "  name: production\n"
		   "  # the spec follows\n"
		   "spec:\n"
		   "  site: acme  # owner\n"
		   "  stage: production\n"
		   "apiVersion: press/v1\n"
		   "\n"
		   "# trailing comment\n");
}

static void
set_creates_missing_mappings_with_the_indentation_of_the_file(void **state)
{
	static const char four[] = "spec:\n"
				   "    site: acme\n"
				   "    health:\n"
				   "        path: /ping\n";

	(void)state;
	expect_set(four, "/spec/env/FEATURE_X", json_string("on"),
		   "spec:\n"
		   "    site: acme\n"
		   "    health:\n"
		   "        path: /ping\n"
		   "    env:\n"
		   "        FEATURE_X: 'on'\n");
	expect_set(four, "/spec/health/timeoutSeconds", json_integer(60),
		   "spec:\n"
		   "    site: acme\n"
		   "    health:\n"
		   "        path: /ping\n"
		   "        timeoutSeconds: 60\n");
	expect_set(four, "/spec/database/limits/connections", json_integer(9),
		   "spec:\n"
		   "    site: acme\n"
		   "    health:\n"
		   "        path: /ping\n"
		   "    database:\n"
		   "        limits:\n"
		   "            connections: 9\n");
	/* Two spaces, and a root without nested mappings: 2. */
	expect_set("kind: Site\n", "/spec/image", json_string("x"),
		   "kind: Site\nspec:\n  image: x\n");
	expect_set("a: 1\nb:\n   c: 2\n", "/d/e", json_string("x"),
		   "a: 1\nb:\n   c: 2\nd:\n   e: x\n");
}

static void
set_adds_keys_to_mappings_in_sequences(void **state)
{
	static const char in[] = "spec:\n"
				 "  command:\n"
				 "  - bench\n"
				 "  - serve\n"
				 "  containers:\n"
				 "  - name: web\n"
				 "    port: 80\n"
				 "  - name: worker\n"
				 "  site: acme\n";

	(void)state;
	expect_set(in, "/spec/containers/0/image", json_string("x"),
		   "spec:\n"
		   "  command:\n"
		   "  - bench\n"
		   "  - serve\n"
		   "  containers:\n"
		   "  - name: web\n"
		   "    port: 80\n"
		   "    image: x\n"
		   "  - name: worker\n"
		   "  site: acme\n");
	expect_set(in, "/spec/containers/1/env/A", json_string("b"),
		   "spec:\n"
		   "  command:\n"
		   "  - bench\n"
		   "  - serve\n"
		   "  containers:\n"
		   "  - name: web\n"
		   "    port: 80\n"
		   "  - name: worker\n"
		   "    env:\n"
		   "      A: b\n"
		   "  site: acme\n");
	/* After a sequence that ends the mapping, indented or not. */
	expect_set("spec:\n  command:\n    - bench\n", "/spec/image",
		   json_string("x"),
		   "spec:\n  command:\n    - bench\n  image: x\n");
	expect_set("spec:\n  command:\n  - bench\nother: 1\n", "/spec/image",
		   json_string("x"),
		   "spec:\n  command:\n  - bench\n  image: x\nother: 1\n");
}

static void
set_adds_after_a_block_scalar(void **state)
{
	(void)state;
	expect_set("spec:\n  note: |\n    one\n    two\nnext: 1\n",
		   "/spec/image", json_string("x"),
		   "spec:\n  note: |\n    one\n    two\n  image: x\nnext: 1\n");
	/* Kept trailing lines belong to the scalar: after them. */
	expect_set("spec:\n  note: |+\n    one\n\nnext: 1\n", "/spec/image",
		   json_string("x"),
		   "spec:\n  note: |+\n    one\n\n  image: x\nnext: 1\n");
}

static void
set_adds_to_flow_mappings(void **state)
{
	(void)state;
	expect_set("spec: {site: acme, stage: production}\n", "/spec/image",
		   json_string("x"),
		   "spec: {site: acme, stage: production, image: x}\n");
	expect_set("spec: {}\n", "/spec/image", json_string("x"),
		   "spec: {image: x}\n");
	expect_set("spec: { }\n", "/spec/image", json_string("x"),
		   "spec: {image: x }\n");
	expect_set("spec: {site: acme}\n", "/spec/env/X", json_string("1"),
		   "spec: {site: acme, env: {X: '1'}}\n");
	expect_set("spec: {site: acme,\n       stage: staging}  # c\n",
		   "/spec/image", json_string("a:b"),
		   "spec: {site: acme,\n       stage: staging, image: 'a:b'}"
		   "  # c\n");
	/* A trailing comma stays valid. */
	expect_set("spec: {site: acme, }\n", "/spec/image", json_string("x"),
		   "spec: {site: acme, image: x, }\n");
	/* A block mapping under a flow one does not exist; a flow one
	 * under a block one: the new key goes in the flow one. */
	expect_set("metadata: {name: a}\nspec:\n  site: b\n",
		   "/metadata/labels/tier", json_string("gold"),
		   "metadata: {name: a, labels: {tier: gold}}\nspec:\n"
		   "  site: b\n");
}

static void
set_quotes_new_keys_when_needed(void **state)
{
	(void)state;
	expect_set("env:\n  A: b\n", "/env/yes", json_string("x"),
		   "env:\n  A: b\n  'yes': x\n");
	expect_set("env:\n  A: b\n", "/env/my key", json_string("x"),
		   "env:\n  A: b\n  'my key': x\n");
	expect_set("env:\n  A: b\n", "/env/a:b", json_string("x"),
		   "env:\n  A: b\n  'a:b': x\n");
	expect_set("env:\n  A: b\n", "/env/a~1b", json_string("x"),
		   "env:\n  A: b\n  a/b: x\n");
	expect_set("env:\n  A: b\n", "/env/res_partner.email",
		   json_string("hash"),
		   "env:\n  A: b\n  res_partner.email: hash\n");
}

/* --- line endings and file ends ---------------------------------------- */

static void
set_keeps_crlf_line_endings(void **state)
{
	static const char in[] = "kind: Environment\r\n"
				 "spec:\r\n"
				 "  site: acme # c\r\n"
				 "  image: a\r\n"
				 "\r\n"
				 "# end\r\n";

	(void)state;
	expect_set(in, "/spec/image", json_string("b"),
		   "kind: Environment\r\n"
		   "spec:\r\n"
		   "  site: acme # c\r\n"
		   "  image: b\r\n"
		   "\r\n"
		   "# end\r\n");
	expect_set(in, "/spec/env/A", json_string("b"),
		   "kind: Environment\r\n"
		   "spec:\r\n"
		   "  site: acme # c\r\n"
		   "  image: a\r\n"
		   "  env:\r\n"
		   "    A: b\r\n"
		   "\r\n"
		   "# end\r\n");
	expect_set("a: 1\r\nb: 2", "/c", json_integer(3),
		   "a: 1\r\nb: 2\r\nc: 3");
}

static void
set_at_the_end_of_a_file_without_a_final_newline(void **state)
{
	(void)state;
	expect_set("spec:\n  site: acme", "/spec/image", json_string("x"),
		   "spec:\n  site: acme\n  image: x");
	expect_set("spec:\n  site: acme  # c", "/spec/image", json_string("x"),
		   "spec:\n  site: acme  # c\n  image: x");
	expect_set("spec:\n  site: acme", "/spec/site", json_string("beta"),
		   "spec:\n  site: beta");
}

/* --- documents ------------------------------------------------------------ */

static const char multi[] = "# three documents\n"
			    "kind: Environment\n"
			    "metadata: {name: production}\n"
			    "spec:\n"
			    "  site: acme\n"
			    "  image: a:1\n"
			    "---\n"
			    "---\n"
			    "# beta's\n"
			    "kind: Environment\n"
			    "metadata:\n"
			    "  name: production\n"
			    "spec:\n"
			    "  site: beta\n"
			    "  image: b:1\n"
			    "...\n"
			    "--- # a site\n"
			    "kind: Site\n"
			    "metadata: {name: beta}\n"
			    "spec: {app: frappe, image: s:1}\n";

static void
set_selects_the_document_by_identity_or_index(void **state)
{
	const struct yamledit_doc beta = { -1, "Environment", "production",
					   "beta" };
	const struct yamledit_doc beta2 = { 2, "Environment", "production",
					    NULL };
	const struct yamledit_doc site = { -1, "Site", "beta", NULL };
	const struct yamledit_doc third = { 3, NULL, NULL, NULL };

	(void)state;
	expect_set_doc(multi, &beta, 2, "/spec/image", json_string("b:2"),
		       "# three documents\n"
		       "kind: Environment\n"
		       "metadata: {name: production}\n"
		       "spec:\n"
		       "  site: acme\n"
		       "  image: a:1\n"
		       "---\n"
		       "---\n"
		       "# beta's\n"
		       "kind: Environment\n"
		       "metadata:\n"
		       "  name: production\n"
		       "spec:\n"
		       "  site: beta\n"
		       "  image: b:2\n"
		       "...\n"
		       "--- # a site\n"
		       "kind: Site\n"
		       "metadata: {name: beta}\n"
		       "spec: {app: frappe, image: s:1}\n");
	expect_set_doc(multi, &beta2, 2, "/spec/replicas", json_integer(2),
		       "# three documents\n"
		       "kind: Environment\n"
		       "metadata: {name: production}\n"
		       "spec:\n"
		       "  site: acme\n"
		       "  image: a:1\n"
		       "---\n"
		       "---\n"
		       "# beta's\n"
		       "kind: Environment\n"
		       "metadata:\n"
		       "  name: production\n"
		       "spec:\n"
		       "  site: beta\n"
		       "  image: b:1\n"
		       "  replicas: 2\n"
		       "...\n"
		       "--- # a site\n"
		       "kind: Site\n"
		       "metadata: {name: beta}\n"
		       "spec: {app: frappe, image: s:1}\n");
	expect_set_doc(multi, &site, 3, "/spec/image", json_string("s:2"),
		       "# three documents\n"
		       "kind: Environment\n"
		       "metadata: {name: production}\n"
		       "spec:\n"
		       "  site: acme\n"
		       "  image: a:1\n"
		       "---\n"
		       "---\n"
		       "# beta's\n"
		       "kind: Environment\n"
		       "metadata:\n"
		       "  name: production\n"
		       "spec:\n"
		       "  site: beta\n"
		       "  image: b:1\n"
		       "...\n"
		       "--- # a site\n"
		       "kind: Site\n"
		       "metadata: {name: beta}\n"
		       "spec: {app: frappe, image: 's:2'}\n");
	expect_set_doc(multi, &third, 3, "/spec/port", json_integer(8000),
		       "# three documents\n"
		       "kind: Environment\n"
		       "metadata: {name: production}\n"
		       "spec:\n"
		       "  site: acme\n"
		       "  image: a:1\n"
		       "---\n"
		       "---\n"
		       "# beta's\n"
		       "kind: Environment\n"
		       "metadata:\n"
		       "  name: production\n"
		       "spec:\n"
		       "  site: beta\n"
		       "  image: b:1\n"
		       "...\n"
		       "--- # a site\n"
		       "kind: Site\n"
		       "metadata: {name: beta}\n"
		       "spec: {app: frappe, image: s:1, port: 8000}\n");
}

static void
set_refuses_no_match_and_ambiguous_matches(void **state)
{
	const struct yamledit_doc both = { -1, "Environment", "production",
					   NULL };
	const struct yamledit_doc none = { -1, "Environment", "staging",
					   "acme" };
	const struct yamledit_doc wrong = { 0, "Environment", "production",
					    "beta" };
	const struct yamledit_doc empty = { 1, NULL, NULL, NULL };
	const struct yamledit_doc far = { 9, NULL, NULL, NULL };

	(void)state;
	expect_set_error(multi, &both, "/spec/image", json_string("x"),
			 "'t.yaml'", "2 documents",
			 "kind 'Environment', name 'production'", NULL);
	expect_set_error(multi, &none, "/spec/image", json_string("x"),
			 "no document", "name 'staging', site 'acme'", NULL);
	expect_set_error(multi, &wrong, "/spec/image", json_string("x"),
			 "no document", "index 0", NULL);
	expect_set_error(multi, &empty, "/spec/image", json_string("x"),
			 "no document", NULL);
	expect_set_error(multi, &far, "/spec/image", json_string("x"),
			 "no document", "index 9", NULL);
}

/* --- refusals ---------------------------------------------------------- */

static void
set_refuses_anchors_aliases_and_merge_keys(void **state)
{
	(void)state;
	expect_set_error("base: &b\n  image: x\nspec: *b\n", NULL,
			 "/spec/image", json_string("y"), "alias", "'*b'",
			 "t.yaml:3:7", NULL);
	expect_set_error("base: &b\n  image: x\nspec: *b\n", NULL,
			 "/base/image", json_string("y"), "anchor", "'&b'",
			 NULL);
	expect_set_error("spec:\n  image: &i x\n", NULL, "/spec/image",
			 json_string("y"), "anchor", "'&i'", NULL);
	expect_set_error("base: {a: 1}\nspec:\n  <<: {image: x}\n  site: "
			 "a\n",
			 NULL, "/spec/image", json_string("y"), "merge key",
			 "'<<'", NULL);
	/* Elsewhere in the file they do not matter. */
	expect_set_text("base: &b {a: 1}\nother: *b\nspec:\n  image: x\n",
			"/spec/image", json_string("z"),
			"base: &b {a: 1}\nother: *b\nspec:\n  image: z\n");
}

static void
set_refuses_what_is_not_a_scalar_or_not_a_mapping(void **state)
{
	(void)state;
	expect_set_error(env_doc, NULL, "/spec", json_string("x"),
			 "'/spec' is a mapping", NULL);
	expect_set_error("spec:\n  command: [a]\n", NULL, "/spec/command",
			 json_string("x"), "'/spec/command' is a sequence",
			 NULL);
	expect_set_error(env_doc, NULL, "/spec/image/tag", json_string("x"),
			 "'/spec/image' is a scalar, not a mapping",
			 "t.yaml:9:10", NULL);
	expect_set_error("spec:\n  command: [a]\n", NULL, "/spec/command/3",
			 json_string("x"), "no item 3", NULL);
	expect_set_error("spec:\n  command: [a]\n", NULL, "/spec/command/x",
			 json_string("x"), "not an item number", NULL);
	expect_set_error("spec:\n  env:\n", NULL, "/spec/env/A",
			 json_string("x"), "'/spec/env' is empty", "env: {}",
			 NULL);
	expect_set_error("spec:\n  a: 1\n  a: 2\n", NULL, "/spec/a",
			 json_integer(3), "duplicate key 'a'", NULL);
	expect_set_error(env_doc, NULL, "/spec/image", json_object(),
			 "a scalar", NULL);
	expect_set_error(env_doc, NULL, "spec/image", json_string("x"),
			 "not a JSON pointer", NULL);
	expect_set_error(env_doc, NULL, "", json_string("x"),
			 "the whole document", NULL);
	expect_set_error(env_doc, NULL, "/spec/image", json_stringn("a\0b", 3),
			 "NUL", NULL);
	expect_set_error("- a\n- b\n", NULL, "/x", json_string("x"),
			 "is a sequence, not a mapping", NULL);
}

static void
set_refuses_broken_input(void **state)
{
	(void)state;
	expect_set_error("a: [1, 2\n", NULL, "/a", json_string("x"),
			 "t.yaml:2:1", NULL);
	expect_set_error("a: 1\n\xff\n", NULL, "/a", json_string("x"), "t.yaml",
			 NULL);
	expect_set_error("", NULL, "/a", json_string("x"), "no document", NULL);
}

/* The safety net: an edit that would read differently is refused. An
 * explicit key ("? a") puts the key's column where the mapping's
 * indentation is not; the new line would be indented wrongly. */
static void
set_never_returns_a_file_that_reads_differently(void **state)
{
	(void)state;
	expect_set_error("? a\n: 1\n", NULL, "/c", json_integer(3),
			 "cannot set '/c' in 't.yaml': the edited file would "
			 "not parse (3:4: mapping values are not allowed",
			 "the file is left as it was", NULL);
}

/* --- removing keys ---------------------------------------------------- */

static void
remove_takes_out_block_entries(void **state)
{
	(void)state;
	expect_remove(env_doc, "/spec/image",
		      "# Production of acme.\n"
		      "apiVersion: press/v1\n"
		      "kind: Environment\n"
		      "metadata: {name: production}  # the live one\n"
		      "spec:\n"
		      "  site: acme\n"
		      "  stage: production\n"
		      "  # pinned by the last promotion\n"
		      "  replicas: 2\n"
		      "\n"
		      "# end\n");
	expect_remove("spec:\n  env:\n    A: 1\n    B: 2\n  site: a\n",
		      "/spec/env", "spec:\n  site: a\n");
	expect_remove("spec:\n  site: a\n  note: |\n    x\n    y\nz: 1\n",
		      "/spec/note", "spec:\n  site: a\nz: 1\n");
	expect_remove("a: 1\nb: 2", "/b", "a: 1");
	expect_remove("a: 1\r\nb: 2\r\nc: 3\r\n", "/b", "a: 1\r\nc: 3\r\n");
}

static void
remove_takes_out_flow_entries(void **state)
{
	(void)state;
	expect_remove("spec: {site: a, image: x, stage: s}\n", "/spec/image",
		      "spec: {site: a, stage: s}\n");
	expect_remove("spec: {site: a, image: x}\n", "/spec/site",
		      "spec: {image: x}\n");
	expect_remove("spec: {site: a, image: x}\n", "/spec/image",
		      "spec: {site: a}\n");
}

static void
remove_refuses_what_it_cannot_do_simply(void **state)
{
	(void)state;
	expect_remove_error("spec:\n  image: x\n", "/spec/image", "only key");
	expect_remove_error("spec: {image: x}\n", "/spec/image", "only key");
	expect_remove_error("spec:\n- image: x\n  site: a\n", "/spec/0/image",
			    "does not begin its line");
	expect_remove_error("spec:\n  image: x\n  site: a\n", "/spec/nope",
			    "no key 'nope'");
	expect_remove_error("spec:\n  c: [a, b]\n  site: a\n", "/spec/c/0",
			    "sequence");
}

/* --- main ------------------------------------------------------------ */

static int
group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	fmt(tmproot, sizeof(tmproot), "%s/press-yamledit-XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(tmproot) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (tmproot[0])
		sh("rm -rf '%s'", tmproot);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_replaces_only_the_bytes_of_a_plain_scalar),
		cmocka_unit_test(set_writes_numbers_booleans_and_null_plain),
		cmocka_unit_test(
			set_keeps_the_quote_style_of_the_replaced_scalar),
		cmocka_unit_test(set_quotes_what_a_reader_would_retype),
		cmocka_unit_test(set_quotes_with_the_right_quotes),
		cmocka_unit_test(
			set_keeps_the_same_bytes_when_the_value_is_unchanged),
		cmocka_unit_test(set_replaces_an_empty_value),
		cmocka_unit_test(set_replaces_sequence_items),
		cmocka_unit_test(set_replaces_a_block_scalar),
		cmocka_unit_test(set_sees_positions_after_multibyte_characters),
		cmocka_unit_test(
			set_adds_a_key_after_the_last_entry_of_a_block_mapping),
		cmocka_unit_test(
			set_creates_missing_mappings_with_the_indentation_of_the_file),
		cmocka_unit_test(set_adds_keys_to_mappings_in_sequences),
		cmocka_unit_test(set_adds_after_a_block_scalar),
		cmocka_unit_test(set_adds_to_flow_mappings),
		cmocka_unit_test(set_quotes_new_keys_when_needed),
		cmocka_unit_test(set_keeps_crlf_line_endings),
		cmocka_unit_test(
			set_at_the_end_of_a_file_without_a_final_newline),
		cmocka_unit_test(set_selects_the_document_by_identity_or_index),
		cmocka_unit_test(set_refuses_no_match_and_ambiguous_matches),
		cmocka_unit_test(set_refuses_anchors_aliases_and_merge_keys),
		cmocka_unit_test(
			set_refuses_what_is_not_a_scalar_or_not_a_mapping),
		cmocka_unit_test(set_refuses_broken_input),
		cmocka_unit_test(
			set_never_returns_a_file_that_reads_differently),
		cmocka_unit_test(remove_takes_out_block_entries),
		cmocka_unit_test(remove_takes_out_flow_entries),
		cmocka_unit_test(remove_refuses_what_it_cannot_do_simply),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
