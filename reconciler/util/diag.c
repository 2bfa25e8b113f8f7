#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void
diags_init(struct diags *d)
{
	memset(d, 0, sizeof(*d));
}

void
diags_release(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].path);
		free(d->v[i].code);
		free(d->v[i].message);
		free(d->v[i].hint);
	}
	free(d->v);
	diags_init(d);
}

struct diag *
diags_add(struct diags *d, enum diag_level level, const char *file,
	  unsigned line, unsigned col, int doc, const char *path,
	  const char *code, const char *hint, const char *fmt, ...)
{
	struct diag *g;
	va_list ap;
	int n;

	xgrow(&d->v, &d->alloc, d->n + 1, sizeof(*d->v));
	g = &d->v[d->n++];
	g->level = level;
	g->file = xstrdup(file ? file : "");
	g->line = line;
	g->col = col;
	g->doc = doc;
	g->path = path ? xstrdup(path) : NULL;
	g->code = xstrdup(code ? code : "error");
	g->hint = hint ? xstrdup(hint) : NULL;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		char *m = xmalloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(m, (size_t)n + 1, fmt, ap);
		va_end(ap);
		g->message = m;
	} else {
		g->message = xstrdup("(unprintable message)");
	}
	if (level == DIAG_ERROR)
		d->errors++;
	return g;
}

static int
cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->message, y->message);
}

void
diags_sort(struct diags *d)
{
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), cmp);
}
