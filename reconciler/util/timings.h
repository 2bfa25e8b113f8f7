/*
 * timings.h - where the time of one pass goes (--timings, /metrics).
 *
 * A pass is a sequence of top-level phases (load, validate, state read,
 * observe, diff, render or apply) that follow each other, so their
 * durations add up to the pass's wall time; what no phase claims is
 * "other". Inside a phase, parts may overlap (the backends' observations
 * run at once, actions run on several workers): a part has its own
 * duration, a count and its slowest occurrence, and parts do not add up
 * to their phase.
 *
 * Durations come from a monotonic clock (CLOCK_BOOTTIME: CLOCK_MONOTONIC
 * that also counts a suspend, and the clock the kernel dates a process's
 * start with): a clock step, or the test clock (PRESSCTL_NOW,
 * util/clock.h), never moves them. Not thread-safe: a caller with threads serializes its calls
 * (the executor records under its own mutex).
 */
#ifndef PRESS_TIMINGS_H
#define PRESS_TIMINGS_H

#include <stddef.h>

#include "strbuf.h"

struct timing {
	char *phase;	/* owned: "observe" */
	char *part;	/* owned: "docker"; NULL for the phase itself */
	double seconds; /* summed over its occurrences */
	double max;	/* the slowest occurrence */
	size_t count;
};

struct timings {
	struct timing *v; /* in the order first recorded */
	size_t n, alloc;
	double start; /* timings_now() at timings_init */
	double mark;  /* where the next phase starts */
};

/* Seconds on the monotonic clock (since boot). */
double timings_now(void);

/* Start measuring now. */
void timings_init(struct timings *t);
/* Start measuring at the start of the process (a command's --timings):
 * the time from exec until now becomes the phase "start" (loading the
 * libraries, parsing arguments). Where /proc does not tell, as
 * timings_init. */
void timings_init_process(struct timings *t);
/* Free the contents; t may be reused after timings_init. Accepts NULL. */
void timings_release(struct timings *t);
/* Make dst (uninitialized) a deep copy of src. */
void timings_copy(struct timings *dst, const struct timings *src);

/*
 * The phase that ran from the mark until now ends: its time is added to
 * phase (created or summed) and the mark moves to now. Every function
 * below accepts t == NULL and then does nothing, so code that may or may
 * not be measured calls them unconditionally. phase is copied.
 */
void timings_phase(struct timings *t, const char *phase);
/* The same, split in two: the last `second` seconds of the lap go to
 * phase b, the rest to phase a (load then validate, measured inside
 * the loader). second is clamped to the lap. */
void timings_phase_split(struct timings *t, const char *a, const char *b,
			 double second);
/* One occurrence of part (inside phase) that took seconds: summed,
 * counted, its maximum kept. A negative or non-finite value counts as 0.
 * part NULL adds to the phase itself (a phase measured elsewhere).
 * Strings are copied. */
void timings_part(struct timings *t, const char *phase, const char *part,
		  double seconds);

/* Seconds since timings_init (the wall time of the pass so far). */
double timings_wall(const struct timings *t);
/* The sum of the top-level phases. */
double timings_phases_sum(const struct timings *t);

/*
 * Append the table --timings prints, for a pass of wall seconds: a
 * header, one line per phase in the order measured with its parts
 * indented under it ("  docker   0.201   1   0.201"), then "other" (wall
 * minus the phases, never below 0) and "total" (wall). Columns: name,
 * seconds, count, slowest; seconds with 3 decimals.
 */
void timings_render(const struct timings *t, double wall, struct strbuf *out);

#endif
