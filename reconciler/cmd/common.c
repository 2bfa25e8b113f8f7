#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

int
cmd_format(const char *arg, unsigned allowed, enum format *out)
{
	static const struct {
		const char *name;
		enum format f;
	} names[] = {
		{ "text", FORMAT_TEXT }, { "json", FORMAT_JSON },
		{ "github", FORMAT_GITHUB }, { "markdown", FORMAT_MARKDOWN },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(arg, names[i].name) == 0 && (allowed & names[i].f)) {
			*out = names[i].f;
			return 0;
		}
	}
	return -1;
}

int
cmd_source_load(struct source *src, const struct source_opts *o,
		struct err *e)
{
	if (o->git)
		return source_load_git(src, o->git, o->ref ? o->ref : "HEAD",
				       o->path, e);
	if (o->ref || o->path)
		return err_set(e, "--ref and --path need --git");
	return source_load_dir(src, o->dir ? o->dir : ".", e);
}

json_t *
cmd_diags_json(const struct diags *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];

		json_array_append_new(a, json_pack(
			"{s:s, s:i, s:i, s:s, s:s, s:i, s:s?, s:s, s:s?}",
			"file", g->file, "line", (int)g->line,
			"column", (int)g->col,
			"severity", g->level == DIAG_ERROR ? "error" : "warning",
			"code", g->code, "document", g->doc, "path", g->path,
			"message", g->message, "hint", g->hint));
	}
	return a;
}

/* Workflow command values escape %, CR and LF (and , : in properties). */
static void
gh_escape(FILE *f, const char *s, int property)
{
	for (; *s; s++) {
		if (*s == '%')
			fputs("%25", f);
		else if (*s == '\r')
			fputs("%0D", f);
		else if (*s == '\n')
			fputs("%0A", f);
		else if (property && *s == ':')
			fputs("%3A", f);
		else if (property && *s == ',')
			fputs("%2C", f);
		else
			fputc(*s, f);
	}
}

void
cmd_print_diags(const struct diags *d, enum format f)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		const char *lvl = g->level == DIAG_ERROR ? "error" : "warning";

		if (f == FORMAT_GITHUB) {
			printf("::%s file=", lvl);
			gh_escape(stdout, g->file, 1);
			if (g->line)
				printf(",line=%u,col=%u", g->line, g->col);
			fputs("::", stdout);
			gh_escape(stdout, g->message, 0);
			if (g->hint) {
				fputs(" (", stdout);
				gh_escape(stdout, g->hint, 0);
				fputs(")", stdout);
			}
			fputc('\n', stdout);
		} else if (f == FORMAT_TEXT) {
			if (g->line)
				fprintf(stderr, "%s:%u:%u: %s: %s", g->file,
					g->line, g->col, lvl, g->message);
			else
				fprintf(stderr, "%s: %s: %s", g->file, lvl,
					g->message);
			if (g->hint)
				fprintf(stderr, " (%s)", g->hint);
			fputc('\n', stderr);
		}
	}
}

int
cmd_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("pressctl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

void
cmd_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
}
