#include "suggest.h"

#include <string.h>

#define MAXW 64

unsigned
suggest_distance(const char *a, const char *b)
{
	unsigned d[MAXW + 1][MAXW + 1];
	size_t n = strlen(a), m = strlen(b);

	if (n > MAXW || m > MAXW)
		return 255;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[n][m] > 255 ? 255 : d[n][m];
}

const char *
suggest(const char *word, const char *const *candidates, size_t n)
{
	size_t len = strlen(word);
	unsigned best = 255, limit = len / 3 > 1 ? (unsigned)(len / 3) : 1;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		unsigned dist = suggest_distance(word, candidates[i]);

		if (dist < best) {
			best = dist;
			pick = candidates[i];
		}
	}
	return best <= limit && best > 0 ? pick : NULL;
}
