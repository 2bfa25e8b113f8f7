#include "sqltext.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void
sqltext_ident(struct strbuf *sb, const char *name)
{
	strbuf_addch(sb, '"');
	for (const char *s = name; *s; s++) {
		if (*s == '"')
			strbuf_addch(sb, '"');
		strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '"');
}

void
sqltext_literal(struct strbuf *sb, const char *text)
{
	if (strchr(text, '\\'))
		strbuf_addch(sb, 'E');
	strbuf_addch(sb, '\'');
	for (const char *s = text; *s; s++) {
		if (*s == '\'' || *s == '\\')
			strbuf_addch(sb, *s);
		strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '\'');
}

void
sqltext_dollar_quote(struct strbuf *sb, const char *base, const char *body)
{
	char *tag = xprintf("$%s$", base);

	for (unsigned n = 1; strstr(body, tag); n++) {
		free(tag);
		tag = xprintf("$%s%u$", base, n);
	}
	strbuf_addf(sb, "%s\n%s\n%s", tag, body, tag);
	free(tag);
}
