/*
 * pressctl validate [SRC] [--format text|json|github] [--list]
 *
 * Needs no secret values and no live backend. Exit 0 valid, 1 invalid.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "../manifest/manifest.h"

static const char usage_text[] =
	"usage: pressctl validate [DIR|FILE] [--format text|json|github] [--list]\n"
	"       pressctl validate --git REPO [--ref REF] [--path SUBDIR] [...]\n"
	"\n"
	"Checks every manifest under DIR (default .): YAML, the JSON Schema,\n"
	"references, derived live names, hosts, secrets, cron schedules.\n"
	"Reports all problems as file:line:col. --list prints the live\n"
	"objects each environment maps to.\n";

static json_t *
counts(const struct manifest_stats *st)
{
	json_t *c = json_pack("{s:I}", "documents", (json_int_t)st->documents);

	for (size_t i = 0; i < 5; i++)
		json_object_set_new(c, manifest_kinds[i],
				    json_integer((json_int_t)st->kinds[i]));
	return c;
}

static void
print_list(const struct model *m)
{
	printf("%-28s %-11s %-24s %-34s %s\n", "ENVIRONMENT", "STAGE",
	       "SCHEMA/ROLE", "BUCKET", "SPEC");
	for (size_t i = 0; i < m->nenvs; i++) {
		const struct environment *e = &m->envs[i];

		printf("%-28s %-11s %-24s %-34s %.12s\n", e->id,
		       stage_name(e->stage), e->schema, e->bucket,
		       e->spec_hash);
	}
}

int
cmd_validate(int argc, char **argv)
{
	struct source_opts so = { 0 };
	enum format fmt = FORMAT_TEXT;
	struct manifest_stats st = { 0 };
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;
	int list = 0, rc;
	const struct cmd_option opts[] = {
		{ OPT_FORMAT, "format", &fmt, 0, 0,
		  FORMAT_TEXT | FORMAT_JSON | FORMAT_GITHUB },
		{ OPT_FLAG, "list", &list, 0, 0, 0 },
		{ OPT_SOURCE, NULL, &so, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	if (cmd_parse(argc, argv, opts, usage_text, &rc) < 0)
		return rc;

	source_init(&src);
	diags_init(&d);
	if (cmd_source_load(&src, &so, &e) < 0) {
		source_release(&src);
		return cmd_fail("%s", e.msg);
	}
	rc = manifest_read(&m, &st, &src, &d) < 0 ? EXIT_ERROR : EXIT_OK;
	diags_sort(&d);
	if (fmt == FORMAT_JSON) {
		json_t *out = json_pack("{s:s, s:s, s:b, s:o, s:o}", "source",
					src.label, "revision", src.revision,
					"valid", rc == EXIT_OK, "counts",
					counts(&st), "diagnostics",
					cmd_diags_json(&d));

		cmd_print_json(out);
		json_decref(out);
	} else {
		cmd_print_diags(&d, fmt);
		if (rc != EXIT_OK) {
			fprintf(stderr, "%s: %zu error%s\n", src.label,
				d.errors, d.errors == 1 ? "" : "s");
		} else if (fmt == FORMAT_TEXT) {
			printf("%s: valid: %zu documents: %d Platform, %zu Site%s, "
			       "%zu Environment%s, %zu BackupPolic%s, %zu Domain%s "
			       "(revision %s)\n",
			       src.label, m->docs.n, m->has_platform, m->nsites,
			       m->nsites == 1 ? "" : "s", m->nenvs,
			       m->nenvs == 1 ? "" : "s", m->npolicies,
			       m->npolicies == 1 ? "y" : "ies", m->ndomains,
			       m->ndomains == 1 ? "" : "s", src.revision);
			if (list)
				print_list(m);
		}
	}
	model_free(m);
	diags_release(&d);
	source_release(&src);
	return rc;
}
