/*
 * timings.c - phase and part durations of a pass (timings.h).
 */
#include "timings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

double
timings_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
timings_init(struct timings *t)
{
	memset(t, 0, sizeof(*t));
	t->start = t->mark = timings_now();
}

/* When this process started, on the clock of timings_now (field 22 of
 * /proc/self/stat, in clock ticks since boot); 0 when unknown. */
static double
process_start(void)
{
	char buf[1024], *p;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	int field = 2;

	if (f)
		fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces: skip past its ')'. */
	if (hz <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	while (field < 22 && (p = strchr(p + 1, ' ')))
		field++;
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	return (double)ticks / (double)hz;
}

void
timings_init_process(struct timings *t)
{
	double started = process_start();

	timings_init(t);
	if (started > 0 && started <= t->start) {
		t->start = t->mark = started;
		timings_phase(t, "start");
	}
}

void
timings_release(struct timings *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].phase);
		free(t->v[i].part);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

void
timings_copy(struct timings *dst, const struct timings *src)
{
	*dst = *src;
	dst->v = src->n ? xcalloc(src->n, sizeof(*dst->v)) : NULL;
	dst->alloc = src->n;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = src->v[i];
		dst->v[i].phase = xstrdup(src->v[i].phase);
		dst->v[i].part = src->v[i].part ? xstrdup(src->v[i].part) :
						  NULL;
	}
}

static int
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The entry of (phase, part), made when missing. */
static struct timing *
entry(struct timings *t, const char *phase, const char *part)
{
	struct timing *x;

	for (size_t i = 0; i < t->n; i++)
		if (same(t->v[i].phase, phase) && same(t->v[i].part, part))
			return &t->v[i];
	xgrow(&t->v, &t->alloc, t->n + 1, sizeof(*t->v));
	x = &t->v[t->n++];
	memset(x, 0, sizeof(*x));
	x->phase = xstrdup(phase);
	x->part = part ? xstrdup(part) : NULL;
	return x;
}

static void
add(struct timings *t, const char *phase, const char *part, double seconds)
{
	struct timing *x = entry(t, phase, part);

	if (!isfinite(seconds) || seconds < 0)
		seconds = 0;
	x->seconds += seconds;
	x->count++;
	if (seconds > x->max)
		x->max = seconds;
}

void
timings_phase(struct timings *t, const char *phase)
{
	double now;

	if (!t)
		return;
	now = timings_now();
	add(t, phase, NULL, now - t->mark);
	t->mark = now;
}

void
timings_phase_split(struct timings *t, const char *a, const char *b,
		    double second)
{
	double now, lap;

	if (!t)
		return;
	now = timings_now();
	lap = now - t->mark;
	if (!isfinite(second) || second < 0)
		second = 0;
	if (second > lap)
		second = lap;
	add(t, a, NULL, lap - second);
	add(t, b, NULL, second);
	t->mark = now;
}

void
timings_part(struct timings *t, const char *phase, const char *part,
	     double seconds)
{
	if (t)
		add(t, phase, part, seconds);
}

double
timings_wall(const struct timings *t)
{
	return t ? timings_now() - t->start : 0;
}

double
timings_phases_sum(const struct timings *t)
{
	double sum = 0;

	for (size_t i = 0; t && i < t->n; i++)
		if (!t->v[i].part)
			sum += t->v[i].seconds;
	return sum;
}

#define NAME_WIDTH 24

static void
line(struct strbuf *out, const char *indent, const char *name, double seconds,
     size_t count, double max)
{
	int w = NAME_WIDTH - (int)strlen(indent);

	strbuf_addf(out, "%s%-*s %9.3f", indent, w, name, seconds);
	if (count)
		strbuf_addf(out, " %7zu %9.3f", count, max);
	strbuf_addch(out, '\n');
}

void
timings_render(const struct timings *t, double wall, struct strbuf *out)
{
	double other;

	if (!t)
		return;
	other = wall - timings_phases_sum(t);
	strbuf_addf(out, "%-*s %9s %7s %9s\n", NAME_WIDTH, "timings", "seconds",
		    "count", "slowest");
	for (size_t i = 0; i < t->n; i++) {
		const struct timing *p = &t->v[i];

		if (p->part)
			continue;
		line(out, "", p->phase, p->seconds, 0, 0);
		for (size_t j = 0; j < t->n; j++) {
			const struct timing *q = &t->v[j];

			if (q->part && strcmp(q->phase, p->phase) == 0)
				line(out, "  ", q->part, q->seconds, q->count,
				     q->max);
		}
	}
	line(out, "", "other", other > 0 ? other : 0, 0, 0);
	line(out, "", "total", wall, 0, 0);
}
