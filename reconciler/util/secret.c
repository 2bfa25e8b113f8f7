#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

int
secret_resolve(char **out, const char *env, const char *file, const char *what,
	       struct err *e)
{
	struct strbuf sb;
	char buf[4096];
	size_t n;
	FILE *f;

	*out = NULL;
	if (env) {
		const char *v = getenv(env);

		if (!v || !*v)
			return err_set(e,
				       "secret for %s: environment variable "
				       "'%s' is not set; export it before running "
				       "pressctl",
				       what, env);
		*out = xstrdup(v);
		return 0;
	}
	if (!file)
		return err_set(e, "secret for %s: no reference given", what);
	if (!(f = fopen(file, "rb")))
		return err_set(e, "secret for %s: cannot read file '%s': %s",
			       what, file, strerror(errno));
	strbuf_init(&sb, 1 << 20);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (strbuf_add(&sb, buf, n) < 0)
			break;
	wipe(buf, sizeof(buf));
	if (ferror(f) || sb.overflow) {
		fclose(f);
		wipe(sb.buf, sb.len);
		strbuf_release(&sb);
		return err_set(e, "secret for %s: cannot read file '%s'%s",
			       what, file,
			       sb.overflow ? ": larger than 1 MiB" : "");
	}
	fclose(f);
	if (sb.len && sb.buf[sb.len - 1] == '\n')
		strbuf_setlen(&sb, sb.len - 1);
	if (sb.len && sb.buf[sb.len - 1] == '\r')
		strbuf_setlen(&sb, sb.len - 1);
	if (sb.len == 0) {
		strbuf_release(&sb);
		return err_set(e, "secret for %s: file '%s' is empty", what,
			       file);
	}
	*out = strbuf_detach(&sb, NULL);
	return 0;
}

void
secret_free(char *s)
{
	if (!s)
		return;
	wipe(s, strlen(s));
	free(s);
}
