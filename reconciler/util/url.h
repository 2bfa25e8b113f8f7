/*
 * url.h - percent-decoding (libcurl's curl_easy_unescape), for URL user
 * information and URI fragments.
 */
#ifndef PRESS_URL_H
#define PRESS_URL_H

#include <stddef.h>

/*
 * The percent-decoded copy of s[0..n) (free() it), or NULL when strict
 * and s is malformed: a '%' not followed by two hex digits, or an escape
 * that decodes a NUL. Not strict, malformed escapes stay as they are.
 */
char *url_unescape(const char *s, size_t n, int strict);

#endif
