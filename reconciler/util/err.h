/*
 * err.h - error values with context.
 *
 * A function that can fail returns int (0 ok, -1 error) and, on error,
 * describes what failed in a caller-provided struct err. The message is
 * lowercase, names the object in quotes and carries the library's own
 * message; only cmd/ and main.c print it.
 */
#ifndef PRESS_ERR_H
#define PRESS_ERR_H

#include <stddef.h>

struct err {
	char msg[1024];
	int transient; /* 1: worth retrying (connection refused, timeout,
			 * HTTP 5xx/429, serialization failure) */
};

/* Format a message into e (which may be NULL) and return -1; the error
 * is permanent (e->transient = 0). */
int err_set(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same for a transient error (e->transient = 1). */
int err_transient(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prepend "fmt: " to the message already in e; returns -1. */
int err_wrap(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Allocation helpers that end the process on out-of-memory: an
 * allocation failure in a reconcile pass has no useful recovery. */
void *xmalloc(size_t n);
/* Print "out of memory allocating n bytes" and exit 1 at once (no exit
 * handlers, no signal): what the helpers do when an allocation fails (a
 * library reporting one calls it too). The journal's open intents are
 * then those of an interrupted run, as after kill -9. */
void xoom(size_t n) __attribute__((noreturn));
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A new formatted string (free() it). */
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grow *v (element size sz) so that it holds at least n elements. */
void xgrow(void *vp, size_t *alloc, size_t n, size_t sz);

#endif
