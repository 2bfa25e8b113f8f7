/*
 * internal.h - shared between the files of manifest/ only.
 */
#ifndef PRESS_MANIFEST_INTERNAL_H
#define PRESS_MANIFEST_INTERNAL_H

#include "manifest.h"

/* JSON helpers that tolerate missing or wrongly typed members. */
json_t *jget(json_t *o, const char *k1, const char *k2, const char *k3);
const char *jstr(json_t *o, const char *k1, const char *k2, const char *k3);
int jint(json_t *o, const char *k1, const char *k2, const char *k3, int def);

/* Binary search among the (sorted) sites; NULL if none. */
const struct site *model_find_site(const struct model *m, const char *name);

/* JSON Schema pass over every document; valid[i] set for docs that pass. */
int schema_check(const struct docset *ds, int *valid, struct diags *d);

/* The semantic rules of docs/manifest.md over a collected model, which
 * they only read. label names the source for "no Platform"; NULL when
 * the source did not load cleanly (the Platform may be in a file that
 * failed). */
void model_check(const struct model *m, const char *label, struct diags *d);

/* "file:line:col" of a node, for "first declared at ..." notes. */
void where(char *buf, size_t n, const struct doc *doc, const char *pointer);

#endif
