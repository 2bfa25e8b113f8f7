/* Unit tests: YAML loading with positions and bounds (manifest/load.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest/manifest.h"
#include "util/strbuf.h"

struct fixture {
	struct source src;
	struct docset ds;
	struct diags d;
	int rc;
};

static void
load(struct fixture *f, const char *yaml)
{
	struct err e;

	memset(f, 0, sizeof(*f));
	source_init(&f->src);
	diags_init(&f->d);
	assert_int_equal(source_add(&f->src, "t.yaml", yaml, strlen(yaml), &e),
			 0);
	f->rc = manifest_load(&f->ds, &f->src, &f->d);
}

static void
done(struct fixture *f)
{
	docset_release(&f->ds);
	diags_release(&f->d);
	source_release(&f->src);
}

static void
positions_of_values_and_keys(void **state)
{
	struct fixture f;
	struct pos p;

	(void)state;
	load(&f, "kind: Site\nspec:\n  image: x\n  list:\n    - a\n    - b\n");
	assert_int_equal(f.rc, 0);
	assert_int_equal(f.ds.n, 1);
	doc_pos(&f.ds.v[0], "/spec/image", 0, &p);
	assert_int_equal(p.line, 3);
	assert_int_equal(p.col, 10);
	doc_pos(&f.ds.v[0], "/spec/image", 1, &p);
	assert_int_equal(p.line, 3);
	assert_int_equal(p.col, 3);
	doc_pos(&f.ds.v[0], "/spec/list/1", 0, &p);
	assert_int_equal(p.line, 6);
	assert_int_equal(p.col, 7);
	/* A missing node falls back to its nearest ancestor's key. */
	doc_pos(&f.ds.v[0], "/spec/nothing/here", 0, &p);
	assert_int_equal(p.line, 2);
	assert_int_equal(p.col, 1);
	done(&f);
}

static void
scalars_follow_yaml_1_2_core(void **state)
{
	struct fixture f;
	json_t *r;

	(void)state;
	load(&f, "a: yes\nb: true\nc: 010\nd: 0x1f\ne: 1.5\nf: ~\ng: '12'\n"
		 "h: 0o17\ni: -3\nj: on\n");
	assert_int_equal(f.rc, 0);
	r = f.ds.v[0].root;
	assert_string_equal(json_string_value(json_object_get(r, "a")), "yes");
	assert_true(json_is_true(json_object_get(r, "b")));
	assert_int_equal(json_integer_value(json_object_get(r, "c")), 10);
	assert_int_equal(json_integer_value(json_object_get(r, "d")), 31);
	assert_true(json_is_real(json_object_get(r, "e")));
	assert_true(json_is_null(json_object_get(r, "f")));
	assert_string_equal(json_string_value(json_object_get(r, "g")), "12");
	assert_int_equal(json_integer_value(json_object_get(r, "h")), 15);
	assert_int_equal(json_integer_value(json_object_get(r, "i")), -3);
	assert_string_equal(json_string_value(json_object_get(r, "j")), "on");
	done(&f);
}

static void
aliases_are_refused_at_the_anchor(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "a: &x [1, 2]\nb: *x\n");
	assert_int_equal(f.rc, -1);
	assert_int_equal(f.d.errors, 1);
	assert_int_equal(f.d.v[0].line, 1);
	assert_int_equal(f.d.v[0].col, 4);
	assert_non_null(strstr(f.d.v[0].message, "anchors and aliases"));
	done(&f);
}

static void
deep_nesting_is_refused(void **state)
{
	struct fixture f;
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	for (int i = 0; i < 10000; i++)
		strbuf_addch(&sb, '[');
	load(&f, sb.buf);
	assert_int_equal(f.rc, -1);
	assert_int_equal(f.d.errors, 1);
	assert_non_null(strstr(f.d.v[0].message, "nesting deeper"));
	strbuf_release(&sb);
	done(&f);
}

static void
duplicate_key_points_at_the_second(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "a: 1\nb: 2\na: 3\n");
	assert_int_equal(f.rc, -1);
	assert_int_equal(f.d.errors, 1);
	assert_int_equal(f.d.v[0].line, 3);
	assert_int_equal(f.d.v[0].col, 1);
	done(&f);
}

static void
several_documents_and_empty_ones(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "# only a comment\n---\na: 1\n---\n---\nb: 2\n...\n");
	assert_int_equal(f.rc, 0);
	assert_int_equal(f.ds.n, 2);
	assert_int_equal(f.ds.v[0].index, 0);
	assert_int_equal(f.ds.v[1].index, 2);
	done(&f);
}

static void
syntax_error_has_a_position(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "a: 1\nb: \"unclosed\n");
	assert_int_equal(f.rc, -1);
	assert_int_equal(f.d.errors, 1);
	assert_true(f.d.v[0].line >= 2);
	assert_string_equal(f.d.v[0].code, "yaml");
	done(&f);
}

static void
tags_other_than_str_are_reported(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "a: !!str 12\nb: !custom x\n");
	assert_int_equal(f.rc, -1);
	assert_int_equal(f.d.errors, 1);
	assert_int_equal(f.d.v[0].line, 2);
	assert_string_equal(json_string_value(
				    json_object_get(f.ds.v[0].root, "a")),
			    "12");
	done(&f);
}

static void
pointer_escapes_slash_and_tilde(void **state)
{
	struct fixture f;
	struct pos p;

	(void)state;
	load(&f, "labels:\n  a/b~c: x\n");
	assert_int_equal(f.rc, 0);
	doc_pos(&f.ds.v[0], "/labels/a~1b~0c", 1, &p);
	assert_int_equal(p.line, 2);
	assert_int_equal(p.col, 3);
	done(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(positions_of_values_and_keys),
		cmocka_unit_test(scalars_follow_yaml_1_2_core),
		cmocka_unit_test(aliases_are_refused_at_the_anchor),
		cmocka_unit_test(deep_nesting_is_refused),
		cmocka_unit_test(duplicate_key_points_at_the_second),
		cmocka_unit_test(several_documents_and_empty_ones),
		cmocka_unit_test(syntax_error_has_a_position),
		cmocka_unit_test(tags_other_than_str_are_reported),
		cmocka_unit_test(pointer_escapes_slash_and_tilde),
	};

	return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
