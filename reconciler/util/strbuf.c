#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static char empty[1];

void
strbuf_init(struct strbuf *sb, size_t cap)
{
	sb->buf = empty;
	sb->len = sb->alloc = 0;
	sb->cap = cap ? cap : STRBUF_DEFAULT_CAP;
	sb->overflow = 0;
}

void
strbuf_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	strbuf_init(sb, sb->cap);
}

char *
strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *p = sb->alloc ? sb->buf : xstrdup("");

	if (len)
		*len = sb->len;
	strbuf_init(sb, sb->cap);
	return p;
}

void
strbuf_reset(struct strbuf *sb)
{
	strbuf_setlen(sb, 0);
}

void
strbuf_setlen(struct strbuf *sb, size_t len)
{
	if (len > sb->len)
		return;
	sb->len = len;
	if (sb->alloc)
		sb->buf[len] = '\0';
}

static int
grow(struct strbuf *sb, size_t extra)
{
	size_t want;

	if (extra > sb->cap || sb->len > sb->cap - extra) {
		sb->overflow = 1;
		return -1;
	}
	want = sb->len + extra + 1;
	if (want <= sb->alloc)
		return 0;
	if (sb->alloc == 0) {
		size_t a = 64;

		while (a < want)
			a *= 2;
		sb->buf = xmalloc(a);
		sb->buf[0] = '\0';
		sb->alloc = a;
		return 0;
	}
	xgrow(&sb->buf, &sb->alloc, want, 1);
	return 0;
}

int
strbuf_add(struct strbuf *sb, const void *data, size_t n)
{
	if (grow(sb, n) < 0)
		return -1;
	if (n)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	if (sb->alloc)
		sb->buf[sb->len] = '\0';
	return 0;
}

int
strbuf_addstr(struct strbuf *sb, const char *s)
{
	return strbuf_add(sb, s, strlen(s));
}

int
strbuf_addch(struct strbuf *sb, int c)
{
	char ch = (char)c;

	return strbuf_add(sb, &ch, 1);
}

int
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(sb, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}
