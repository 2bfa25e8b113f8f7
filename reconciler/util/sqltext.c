#include "sqltext.h"

#include <stdio.h>
#include <string.h>

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
sqltext_dollar_tag(char *tag, size_t size, const char *base, const char *body)
{
	snprintf(tag, size, "$%s$", base);
	for (unsigned n = 1; strstr(body, tag); n++)
		snprintf(tag, size, "$%s%u$", base, n);
}
