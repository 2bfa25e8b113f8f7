/*
 * pressctl diff --git REPO --base REF --head REF [--path SUBDIR]
 *               [--format text|json|markdown]
 *
 * Desired state against desired state, for pull-request review. Exit 0
 * identical, 2 different, 1 error (either side invalid included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../manifest/manifest.h"
#include "../plan/diff.h"

static const char usage_text[] =
	"usage: pressctl diff --git REPO --base REF --head REF [--path SUBDIR]\n"
	"                     [--format text|json|markdown]\n"
	"\n"
	"Lists the objects added, removed and changed between two commits,\n"
	"field by field (environments with their site defaults resolved).\n"
	"Exit 0 identical, 2 different, 1 error.\n";

/* Load and validate one side; diagnostics printed on failure. */
static int
side(struct model **m, const char *repo, const char *ref, const char *path)
{
	struct source src;
	struct diags d;
	struct err e;
	int rc = 0;

	source_init(&src);
	diags_init(&d);
	if (source_load_git(&src, repo, ref, path, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
	} else if (manifest_read(m, NULL, &src, &d) < 0) {
		diags_sort(&d);
		cmd_print_diags(&d, FORMAT_TEXT);
		rc = cmd_fail("the manifests at '%s' are invalid (%zu error%s)",
			      ref, d.errors, d.errors == 1 ? "" : "s");
	}
	diags_release(&d);
	source_release(&src);
	return rc;
}

int
cmd_diff(int argc, char **argv)
{
	const char *repo = NULL, *base = NULL, *head = NULL, *path = NULL;
	struct model *mb = NULL, *mh = NULL;
	enum format fmt = FORMAT_TEXT;
	json_t *ob, *oh, *r;
	int first, rc;
	const struct cmd_option opts[] = {
		{ OPT_FORMAT, "format", &fmt, 0, 0,
		  FORMAT_TEXT | FORMAT_JSON | FORMAT_MARKDOWN },
		{ OPT_STRING, "git", &repo, 0, 0, 0 },
		{ OPT_STRING, "base", &base, 0, 0, 0 },
		{ OPT_STRING, "head", &head, 0, 0, 0 },
		{ OPT_STRING, "path", &path, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	if ((first = cmd_parse(argc, argv, opts, usage_text, &rc)) < 0)
		return rc;
	if (first < argc || !repo || !base || !head) {
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	if (side(&mb, repo, base, path) || side(&mh, repo, head, path)) {
		model_free(mb);
		model_free(mh);
		return EXIT_ERROR;
	}
	ob = model_objects(mb);
	oh = model_objects(mh);
	r = diff_objects(ob, oh);
	json_object_set_new(r, "base",
			    json_pack("{s:s, s:s}", "ref", base, "revision",
				      mb->revision));
	json_object_set_new(r, "head",
			    json_pack("{s:s, s:s}", "ref", head, "revision",
				      mh->revision));
	rc = json_is_true(json_object_get(r, "changed")) ? EXIT_CHANGES :
							   EXIT_OK;
	if (fmt == FORMAT_JSON) {
		cmd_print_json(r);
	} else {
		struct strbuf sb;

		strbuf_init(&sb, 0);
		if (fmt == FORMAT_MARKDOWN)
			diff_render_markdown(&sb, r);
		else
			diff_render_text(&sb, r);
		fwrite(sb.buf, 1, sb.len, stdout);
		strbuf_release(&sb);
	}
	json_decref(r);
	json_decref(ob);
	json_decref(oh);
	model_free(mb);
	model_free(mh);
	return rc;
}
