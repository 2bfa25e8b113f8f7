/*
 * num.c - see num.h.
 */
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
num_parse(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
num_parse_bytes(const char *s, long long *out)
{
	unsigned long long v = 0, mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (unsigned long long)INT64_MAX / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (!strcmp(s, "Ki"))
		mul = 1ULL << 10;
	else if (!strcmp(s, "Mi"))
		mul = 1ULL << 20;
	else if (!strcmp(s, "Gi"))
		mul = 1ULL << 30;
	else if (*s)
		return -1;
	if (v > (unsigned long long)INT64_MAX / mul)
		return -1;
	*out = (long long)(v * mul);
	return 0;
}

int
num_parse_cpus(const char *s, long long *out)
{
	long long whole = 0, frac = 0, scale = 100000000;

	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (whole > 1000000)
			return -1;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += scale * (*s - '0');
	}
	if (*s)
		return -1;
	*out = whole * 1000000000LL + frac;
	return 0;
}

void
num_format_bytes(char *buf, size_t n, long long bytes)
{
	static const char *const units[] = { "Gi", "Mi", "Ki" };
	static const int shifts[] = { 30, 20, 10 };

	for (int i = 0; i < 3 && bytes > 0; i++)
		if (bytes % (1LL << shifts[i]) == 0) {
			snprintf(buf, n, "%lld%s", bytes >> shifts[i],
				 units[i]);
			return;
		}
	snprintf(buf, n, "%lld", bytes);
}

void
num_format_cpus(char *buf, size_t n, long long nano)
{
	char frac[16];
	int len;

	if (nano < 0) {
		snprintf(buf, n, "%lld", nano);
		return;
	}
	len = snprintf(frac, sizeof(frac), "%09lld", nano % 1000000000LL);
	while (len > 0 && frac[len - 1] == '0')
		frac[--len] = '\0';
	snprintf(buf, n, "%lld%s%s", nano / 1000000000LL, len ? "." : "", frac);
}
