/*
 * num.h - integers from text, checked: "4x", "", " 4" and out-of-range
 * values are errors, never 4 or 0 (atoi is banned: util/banned.h).
 */
#ifndef PRESS_NUM_H
#define PRESS_NUM_H

#include <stddef.h>

/* s, a whole decimal integer (optional sign), within [min, max], into
 * *out. 0 ok; -1 otherwise (*out untouched). */
int num_parse(const char *s, long long min, long long max, long long *out);

/* A memory size as the manifests write it ("512Mi", "1Gi", "64Ki" or
 * plain bytes; binary units) into bytes. 0 ok; -1 malformed or absurd. */
int num_parse_bytes(const char *s, long long *out);

/* A CPU count as the manifests write it ("0.5", "2") into nano-CPUs,
 * without floating point. 0 ok; -1 malformed. */
int num_parse_cpus(const char *s, long long *out);

/* The reverse, for people: bytes in the largest of Gi, Mi, Ki that
 * divides them ("128Mi"), else plain; nano-CPUs as a decimal without
 * trailing zeros ("0.5", "2"). Into buf (n bytes). */
void num_format_bytes(char *buf, size_t n, long long bytes);
void num_format_cpus(char *buf, size_t n, long long nano);

#endif
