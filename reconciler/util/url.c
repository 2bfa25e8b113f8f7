/*
 * url.c - see url.h.
 */
#include "url.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>

#include <curl/curl.h>

#include "err.h"

static int
well_formed(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '%' &&
		    (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
		     !isxdigit((unsigned char)s[i + 2])))
			return 0;
	return 1;
}

char *
url_unescape(const char *s, size_t n, int strict)
{
	char *dec, *out;
	int len = 0;

	if (n > INT_MAX || (strict && !well_formed(s, n)))
		return strict ? NULL : xstrndup(s, n);
	dec = curl_easy_unescape(NULL, s, (int)n, &len);
	if (!dec)
		xoom(n);
	if (strict && strlen(dec) != (size_t)len) { /* decoded a NUL */
		curl_free(dec);
		return NULL;
	}
	out = xstrndup(dec, (size_t)len);
	curl_free(dec);
	return out;
}
