/*
 * sqltext.h - names and values quoted into SQL text.
 *
 * For SQL that pressctl writes as text and hands to psql or to a DO
 * block, where parameters ($1) are not available. The rules are
 * PostgreSQL's own (PQescapeIdentifier, PQescapeLiteral) and need no
 * connection: the results are safe whatever standard_conforming_strings
 * says, and psql reads them as one token (no backslash command, no
 * variable interpolation inside them).
 */
#ifndef PRESS_SQLTEXT_H
#define PRESS_SQLTEXT_H

#include "strbuf.h"

/* "name", embedded double quotes doubled. */
void sqltext_ident(struct strbuf *sb, const char *name);

/* 'text', embedded single quotes doubled; when text holds a backslash,
 * E'text' with the backslashes doubled too (so that neither setting of
 * standard_conforming_strings can read one as an escape). */
void sqltext_literal(struct strbuf *sb, const char *text);

/*
 * body dollar-quoted: $<base>$, a newline, body, a newline, $<base>$;
 * the tag is "$<base>$" unless body holds it, else "$<base>1$",
 * "$<base>2$"... the first that body does not hold (base: a short
 * identifier of letters and '_'). The newlines keep a body that ends in
 * part of the tag ("x $t") from closing the quote early; so whatever
 * body holds, PostgreSQL and psql read exactly body back (plus the two
 * newlines, which SQL and PL/pgSQL ignore).
 */
void sqltext_dollar_quote(struct strbuf *sb, const char *base,
			  const char *body);

#endif
