#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] is value lo + i, or NULL */
};

static const char *const months[] = { "jan", "feb", "mar", "apr", "may",
				      "jun", "jul", "aug", "sep", "oct",
				      "nov", "dec", NULL };
static const char *const days[] = { "sun", "mon", "tue", "wed",
				    "thu", "fri", "sat", NULL };

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL },	 { "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL }, { "month", 1, 12, months },
	{ "day-of-week", 0, 7, days },
};

/* Parse a number or a name at *s; -1 if neither. */
static int
value(const struct field *f, const char **s)
{
	const char *p = *s;

	if (isdigit((unsigned char)*p)) {
		long v = 0;

		while (isdigit((unsigned char)*p) && v < 1000)
			v = v * 10 + (*p++ - '0');
		*s = p;
		return (int)v;
	}
	if (f->names) {
		for (int i = 0; f->names[i]; i++) {
			if (strncasecmp(p, f->names[i], 3) == 0 &&
			    !isalpha((unsigned char)p[3])) {
				*s = p + 3;
				return f->lo + i;
			}
		}
	}
	return -1;
}

static int
fail(char *msg, size_t n, const struct field *f, const char *part, size_t len,
     const char *why)
{
	snprintf(msg, n, "invalid %s field '%.*s': %s", f->name, (int)len, part,
		 why);
	return -1;
}

/* One comma-separated item of a field into *bits. */
static int
item(const struct field *f, const char *s, size_t len, uint64_t *bits,
     char *msg, size_t msgsz)
{
	const char *p = s, *end = s + len;
	int a, b, step = 1;
	char range[48];

	if (*p == '*') {
		a = f->lo;
		b = f->hi;
		p++;
	} else {
		if ((a = value(f, &p)) < 0)
			return fail(msg, msgsz, f, s, len, "not a number");
		b = a;
		if (p < end && *p == '-') {
			p++;
			if ((b = value(f, &p)) < 0)
				return fail(msg, msgsz, f, s, len,
					    "bad range end");
			/* A weekday range may end on Sunday as 0 or SUN
			 * (FRI-SUN), as in croniter: Sunday is also 7. */
			if (f == &fields[4] && b == 0 && a > 0)
				b = 7;
		} else if (p < end && *p == '/') {
			b = f->hi; /* "a/n" means a-hi/n */
		}
	}
	if (p < end && *p == '/') {
		p++;
		if ((step = value(&(struct field){ f->name, 0, 0, NULL },
				  &p)) <= 0)
			return fail(msg, msgsz, f, s, len, "bad step");
	}
	if (p != end)
		return fail(msg, msgsz, f, s, len, "unexpected character");
	snprintf(range, sizeof(range), "out of range %d-%d", f->lo, f->hi);
	if (a < f->lo || a > f->hi || b < f->lo || b > f->hi)
		return fail(msg, msgsz, f, s, len, range);
	if (a > b)
		return fail(msg, msgsz, f, s, len, "range start after end");
	if (step > f->hi - f->lo + 1)
		return fail(msg, msgsz, f, s, len,
			    "step larger than the range");
	for (int v = a; v <= b; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

int
cron_parse(struct cron *out, const char *expr, char *msg, size_t msgsz)
{
	uint64_t bits[5] = { 0 };
	const char *p = expr;
	int n = 0;

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *start, *q;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == 5) {
			snprintf(msg, msgsz,
				 "too many fields: a schedule has "
				 "5 (minute hour day-of-month month day-of-week)");
			return -1;
		}
		start = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (n == 2)
			out->dom_star = *start == '*';
		if (n == 4)
			out->dow_star = *start == '*';
		for (q = start; q < p;) {
			const char *c = memchr(q, ',', (size_t)(p - q));
			const char *e = c ? c : p;

			if (e == q)
				return fail(msg, msgsz, &fields[n], start,
					    (size_t)(p - start),
					    "empty list item");
			if (item(&fields[n], q, (size_t)(e - q), &bits[n], msg,
				 msgsz) < 0)
				return -1;
			q = c ? c + 1 : p;
			if (c && q == p)
				return fail(msg, msgsz, &fields[n], start,
					    (size_t)(p - start),
					    "empty list item");
		}
		n++;
	}
	if (n != 5) {
		snprintf(msg, msgsz,
			 "%d field%s, expected 5 (minute hour "
			 "day-of-month month day-of-week)",
			 n, n == 1 ? "" : "s");
		return -1;
	}
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	out->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);
	/* Unrestricted: starts with '*' (cron(8)) and admits every value
	 * (croniter); see cron.h. */
	out->dom_star = out->dom_star && out->dom == 0xfffffffeu;
	out->dow_star = out->dow_star && out->dow == 0x7f;
	return 0;
}

