/*
 * strbuf.h - a growable NUL-terminated byte buffer with a size cap.
 *
 * sb.buf is always a valid C string (never NULL after strbuf_init).
 * Appends beyond sb.cap fail with -1 and set sb.overflow; the buffer keeps
 * what fit. The cap protects against unbounded growth from untrusted input.
 */
#ifndef PRESS_STRBUF_H
#define PRESS_STRBUF_H

#include <stddef.h>

#define STRBUF_DEFAULT_CAP ((size_t)256 << 20)

struct strbuf {
	char *buf;
	size_t len, alloc, cap;
	int overflow;
};

/* cap 0 means STRBUF_DEFAULT_CAP. */
void strbuf_init(struct strbuf *sb, size_t cap);
/* Free the contents; sb may be reused after strbuf_init. */
void strbuf_release(struct strbuf *sb);
/* Hand the buffer to the caller (free() it); sb is re-initialized. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_reset(struct strbuf *sb);
void strbuf_setlen(struct strbuf *sb, size_t len);
int strbuf_add(struct strbuf *sb, const void *data, size_t n);
int strbuf_addstr(struct strbuf *sb, const char *s);
int strbuf_addch(struct strbuf *sb, int c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
