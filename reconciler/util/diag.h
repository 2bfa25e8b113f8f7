/*
 * diag.h - diagnostics about input: a list of located messages.
 *
 * Validation reports every problem it finds, not just the first, so the
 * validator appends to a struct diags rather than returning a struct err.
 * Each diagnostic owns its strings.
 */
#ifndef PRESS_DIAG_H
#define PRESS_DIAG_H

#include <stddef.h>

enum diag_level {
	DIAG_ERROR,
	DIAG_WARNING,
};

struct diag {
	enum diag_level level;
	char *file;    /* source path as shown to the user */
	unsigned line; /* 1-based; 0 when unknown */
	unsigned col;  /* 1-based; 0 when unknown */
	int doc;       /* 0-based document index in the file; -1 if none */
	char *path;    /* JSON pointer in the document, or NULL */
	char *code;    /* stable category: "yaml", "schema", "ref", ... */
	char *message; /* lowercase, no trailing period */
	char *hint;    /* "did you mean 'x'?" and the like, or NULL */
};

struct diags {
	struct diag *v;
	size_t n, alloc;
	size_t errors;
};

void diags_init(struct diags *d);
void diags_release(struct diags *d);

/*
 * Append a diagnostic. file, path, code and hint are copied; hint and path
 * may be NULL. Returns the new entry (valid until the next add).
 */
struct diag *diags_add(struct diags *d, enum diag_level level, const char *file,
		       unsigned line, unsigned col, int doc, const char *path,
		       const char *code, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 10, 11)));

/* Sort by file, line, column, then message: the order users read. */
void diags_sort(struct diags *d);

#endif
