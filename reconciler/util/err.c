#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The one formatter behind err_set and err_transient. */
static int
verr(struct err *e, int transient, const char *fmt, va_list ap)
{
	if (e == NULL)
		return -1;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	e->transient = transient;
	return -1;
}

int
err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(e, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
err_transient(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(e, 1, fmt, ap);
	va_end(ap);
	return -1;
}

int
err_wrap(struct err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	size_t n, m;
	va_list ap;
	int r;

	if (e == NULL)
		return -1;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	r = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = r < 0 ? 0 : (size_t)r;
	if (n + 3 >= sizeof(e->msg))
		return -1;
	memcpy(e->msg + n, ": ", 2);
	n += 2;
	m = strnlen(old, sizeof(old) - 1);
	if (m > sizeof(e->msg) - 1 - n)
		m = sizeof(e->msg) - 1 - n;
	memcpy(e->msg + n, old, m);
	e->msg[n + m] = '\0';
	return -1;
}

void
xoom(size_t n)
{
	/* Exit 1 (an error, docs/man/pressctl.md), not abort(): a signal
	 * says "crash" and leaves a core. _exit, not exit: the exit
	 * handlers of the libraries would allocate. What was in flight is
	 * left as after a kill -9: the next run marks it interrupted. */
	fprintf(stderr,
		"pressctl: fatal: out of memory allocating %zu bytes; "
		"nothing more was done: free memory and run again\n",
		n);
	_exit(1);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		xoom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		xoom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		xoom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return xstrdup("");
	p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void
xgrow(void *vp, size_t *alloc, size_t n, size_t sz)
{
	void **v = vp;
	size_t a = *alloc;

	if (n <= a)
		return;
	a = a ? a : 8;
	while (a < n)
		a *= 2;
	*v = xrealloc(*v, a * sz);
	*alloc = a;
}
