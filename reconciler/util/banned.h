/*
 * banned.h - functions that have no place in pressctl (git's banned.h
 * is the model): every compilation unit includes this file first (the
 * Makefile's -include), after the system headers that declare them, so
 * that a use is a compile error that names the function.
 *
 *   strcpy, strcat, strncpy, strncat  -> struct strbuf, or snprintf
 *   sprintf, vsprintf                 -> snprintf, strbuf_addf, xprintf
 *   gets                              -> fgets
 *   strtok                            -> strcspn / strspn
 *   atoi, atol, atoll                 -> num_parse (util/num.h): "4x"
 *                                        is not 4
 */
#ifndef PRESS_BANNED_H
#define PRESS_BANNED_H
#ifndef __ASSEMBLER__ /* the embedded schemas (.S) are not C */

/* Declared first, so that the macros below do not rewrite them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)

#endif /* __ASSEMBLER__ */
#endif
