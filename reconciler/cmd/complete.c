/*
 * pressctl complete envs|selectors [SRC]
 *
 * The words shell completion offers (completion/pressctl.bash): the
 * environments of a source, or every environment selector (SEL). Reads
 * the source only: no secret, no state, no backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../manifest/manifest.h"
#include "../util/err.h"

static const char usage_text[] =
	"usage: pressctl complete envs|selectors [DIR]\n"
	"       pressctl complete envs|selectors --git REPO [--ref REF] [--path SUBDIR]\n"
	"\n"
	"Prints one word per line for shell completion: envs the environments\n"
	"(SITE/ENV) of the manifests, selectors the environment selectors SEL\n"
	"(sites, environments, labels KEY=VALUE). Reads the manifests only.\n";

static int
by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sites, environments and labels, sorted, each once. */
static void
print_selectors(const struct model *m)
{
	size_t cap = m->nsites + m->nenvs, n = 0;
	char **w;

	for (size_t i = 0; i < m->nenvs; i++)
		cap += json_object_size(m->envs[i].labels);
	w = xcalloc(cap ? cap : 1, sizeof(*w));
	for (size_t i = 0; i < m->nsites; i++)
		w[n++] = xstrdup(m->sites[i].name);
	for (size_t i = 0; i < m->nenvs; i++) {
		const char *key;
		json_t *v;

		w[n++] = xstrdup(m->envs[i].id);
		json_object_foreach(m->envs[i].labels, key, v) {
			if (json_is_string(v))
				w[n++] = xprintf("%s=%s", key,
						 json_string_value(v));
		}
	}
	qsort(w, n, sizeof(*w), by_string);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(w[i], w[i - 1]) != 0)
			printf("%s\n", w[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

int
cmd_complete(int argc, char **argv)
{
	struct source_opts so = { 0 };
	struct manifest_stats st = { 0 };
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;
	const char *what;
	int rc, envs;
	const struct cmd_option opts[] = {
		{ OPT_SOURCE, NULL, &so, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	/* The word (envs, selectors) comes before the source's options. */
	if (argc < 2 || argv[1][0] == '-') {
		if (cmd_parse(argc, argv, opts, usage_text, &rc) < 0)
			return rc;
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	what = argv[1];
	if (strcmp(what, "envs") != 0 && strcmp(what, "selectors") != 0)
		return cmd_fail("unknown word list '%s' (use envs or selectors)",
				what);
	envs = strcmp(what, "envs") == 0;
	if (cmd_parse(argc - 1, argv + 1, opts, usage_text, &rc) < 0)
		return rc;

	source_init(&src);
	diags_init(&d);
	if (cmd_source_load(&src, &so, &e) < 0) {
		source_release(&src);
		return cmd_fail("%s", e.msg);
	}
	if (manifest_read(&m, &st, &src, &d) < 0) {
		rc = cmd_fail("%s is invalid (%zu error%s); pressctl validate "
			      "lists them",
			      src.label, d.errors, d.errors == 1 ? "" : "s");
	} else if (envs) {
		for (size_t i = 0; i < m->nenvs; i++)
			printf("%s\n", m->envs[i].id);
		rc = EXIT_OK;
	} else {
		print_selectors(m);
		rc = EXIT_OK;
	}
	model_free(m);
	diags_release(&d);
	source_release(&src);
	return rc;
}
