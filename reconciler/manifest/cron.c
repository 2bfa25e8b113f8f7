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

/*
 * cron_next and cron_prev walk the calendar one day at a time from the
 * minute they start at, in UTC: a month that cannot match is skipped in
 * one step, a day that cannot match costs one gmtime_r, and within a day
 * that matches, the hour and minute masks give the answer directly. The
 * walk stops CRON_HORIZON away, so an expression that never fires ("0 0
 * 30 2 *") costs a step per month, and per day of its months, for five
 * years.
 */

_Static_assert(sizeof(time_t) >= 8, "cron: time_t must have 64 bits");

/* Far enough from the ends of time_t and of struct tm's int year that
 * no arithmetic below overflows (35 million years). */
#define TIME_BOUND ((time_t)1 << 50)
#define DAY 86400

static time_t
floor_div(time_t a, time_t b)
{
	return a / b - (a % b < 0);
}

/* No minute at all (a struct cron that cron_parse did not fill). */
static int
never(const struct cron *c)
{
	return !c->minute || !c->hour || !c->month;
}

static int
day_matches(const struct cron *c, const struct tm *tm)
{
	int dom = (int)(c->dom >> tm->tm_mday & 1);
	int dow = (int)(c->dow >> tm->tm_wday & 1);

	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/* The lowest bit of mask in [from, to], or -1. */
static int
bit_at_or_after(uint64_t mask, int from, int to)
{
	for (int i = from; i <= to; i++)
		if (mask >> i & 1)
			return i;
	return -1;
}

/* The highest bit of mask in [from, to], or -1. */
static int
bit_at_or_before(uint64_t mask, int to, int from)
{
	for (int i = to; i >= from; i--)
		if (mask >> i & 1)
			return i;
	return -1;
}

/* The first hour:minute at or after *h:*m on a matching day; 0 if none
 * is left that day. */
static int
time_at_or_after(const struct cron *c, int *h, int *m)
{
	int hour = bit_at_or_after(c->hour, *h, 23), minute;

	if (hour < 0)
		return 0;
	if (hour == *h && (minute = bit_at_or_after(c->minute, *m, 59)) >= 0) {
		*m = minute;
		return 1;
	}
	if (hour == *h && (hour = bit_at_or_after(c->hour, *h + 1, 23)) < 0)
		return 0;
	*h = hour;
	*m = bit_at_or_after(c->minute, 0, 59);
	return 1;
}

/* The last hour:minute at or before *h:*m on a matching day; 0 if none. */
static int
time_at_or_before(const struct cron *c, int *h, int *m)
{
	int hour = bit_at_or_before(c->hour, *h, 0), minute;

	if (hour < 0)
		return 0;
	if (hour == *h && (minute = bit_at_or_before(c->minute, *m, 0)) >= 0) {
		*m = minute;
		return 1;
	}
	if (hour == *h && (hour = bit_at_or_before(c->hour, *h - 1, 0)) < 0)
		return 0;
	*h = hour;
	*m = bit_at_or_before(c->minute, 59, 0);
	return 1;
}

time_t
cron_next(const struct cron *c, time_t after)
{
	time_t t, day, limit;
	struct tm tm;
	int h, m;

	if (never(c) || after < -TIME_BOUND || after > TIME_BOUND)
		return -1;
	t = (floor_div(after, 60) + 1) * 60;
	limit = after + CRON_HORIZON;
	day = floor_div(t, DAY) * DAY;
	h = (int)((t - day) / 3600);
	m = (int)((t - day) % 3600 / 60);
	while (day <= limit) {
		if (!gmtime_r(&day, &tm))
			return -1;
		if (!(c->month >> (tm.tm_mon + 1) & 1)) {
			/* The 1st of the next month that can match. */
			int next = bit_at_or_after(c->month, tm.tm_mon + 2, 12);

			if (next < 0) {
				tm.tm_year++;
				next = bit_at_or_after(c->month, 1, 12);
			}
			tm.tm_mon = next - 1;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			day = timegm(&tm);
			h = m = 0;
			continue;
		}
		if (day_matches(c, &tm) && time_at_or_after(c, &h, &m)) {
			t = day + h * 3600 + m * 60;
			return t <= limit ? t : -1;
		}
		day += DAY;
		h = m = 0;
	}
	return -1;
}

time_t
cron_prev(const struct cron *c, time_t at)
{
	time_t t, day, limit;
	struct tm tm;
	int h, m;

	if (never(c) || at < -TIME_BOUND || at > TIME_BOUND)
		return -1;
	t = floor_div(at, 60) * 60;
	limit = at - CRON_HORIZON;
	day = floor_div(t, DAY) * DAY;
	h = (int)((t - day) / 3600);
	m = (int)((t - day) % 3600 / 60);
	while (day + DAY > limit) {
		if (!gmtime_r(&day, &tm))
			return -1;
		if (!(c->month >> (tm.tm_mon + 1) & 1)) {
			/* The last day of the previous month that can match:
			 * day 0 of the month after it. */
			int prev = bit_at_or_before(c->month, tm.tm_mon, 1);

			if (prev < 0) {
				tm.tm_year--;
				prev = bit_at_or_before(c->month, 12, 1);
			}
			tm.tm_mon = prev; /* 0-based: the month after prev */
			tm.tm_mday = 0;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			day = timegm(&tm);
			h = 23;
			m = 59;
			continue;
		}
		if (day_matches(c, &tm) && time_at_or_before(c, &h, &m)) {
			t = day + h * 3600 + m * 60;
			return t >= limit ? t : -1;
		}
		day -= DAY;
		h = 23;
		m = 59;
	}
	return -1;
}
