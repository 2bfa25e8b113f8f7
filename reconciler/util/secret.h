/*
 * secret.h - resolving secret references ({env: NAME} / {file: PATH}).
 *
 * Resolved values live only in memory, in buffers the caller owns and must
 * release with secret_free (which wipes them). They are never printed,
 * logged or put in a plan; errors name the reference, never the value.
 */
#ifndef PRESS_SECRET_H
#define PRESS_SECRET_H

#include <stddef.h>

#include "err.h"

/*
 * Resolve env (when not NULL) or else file into a new NUL-terminated
 * string in *out (one trailing newline of a file is dropped; relative
 * paths are relative to the working directory). what names the setting
 * for the error ("postgres.dsn"). Fails when the variable is unset or
 * empty, or the file is unreadable or empty.
 */
int secret_resolve(char **out, const char *env, const char *file,
		   const char *what, struct err *e);

/* Wipe and free a resolved value; accepts NULL. */
void secret_free(char *s);

#endif
