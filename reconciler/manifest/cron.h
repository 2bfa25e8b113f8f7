/*
 * cron.h - five-field cron expressions (minute hour day-of-month month
 * day-of-week), UTC. Supports '*', numbers, ranges a-b, lists, steps
 * (*\/n, a-b/n, a/n = a-max/n), month names JAN-DEC and weekday names
 * SUN-SAT (case-insensitive); 0 and 7 are both Sunday, and a weekday
 * range may end on Sunday (FRI-SUN = 5-7).
 *
 * Refused, though some crons accept them: @-macros (@daily), a seconds
 * field, L, W, #, ?, H/R (hashed or random values), a range that wraps
 * (22-2; only weekday ranges may end on Sunday) and a step larger than
 * the field's whole range (*\/61: it names one value, write that value).
 */
#ifndef PRESS_CRON_H
#define PRESS_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cron {
	uint64_t minute;	/* bit n: minute n */
	uint32_t hour, dom;	/* bit n: hour n / day n (1-31) */
	uint16_t month;		/* bit n: month n (1-12) */
	uint8_t dow;		/* bit n: weekday n (0-6, Sunday 0) */
	int dom_star, dow_star; /* field is unrestricted (the dom/dow rule) */
};

/*
 * Parse expr into out. On error returns -1 and writes a message naming
 * the field and the offending part into msg (msgsz bytes).
 *
 * The day rule: when both day fields are restricted, a day matches if
 * EITHER matches; when one is unrestricted, the other alone decides. A
 * field is unrestricted when it starts with '*' and admits every value:
 * '*', '*\/1'. cron(8) (Vixie cron, Debian's) counts every field that
 * starts with '*' as unrestricted, so that '*\/2' in day-of-month makes
 * the rule AND; croniter counts it as restricted, and so does
 * pressctl. croniter also counts a field that admits every value as
 * unrestricted however it is written ('1-31'); cron(8) does not, and
 * neither does pressctl ("0 0 1-31 * MON" runs every day).
 */
int cron_parse(struct cron *out, const char *expr, char *msg, size_t msgsz);

/* How far cron_next and cron_prev look: 5 years (of 366 days). */
#define CRON_HORIZON ((time_t)5 * 366 * 86400)

/*
 * The first minute strictly after `after` (UTC, seconds ignored) at
 * which c fires, or -1 if none within CRON_HORIZON of `after` (e.g.
 * "0 0 30 2 *"). The search skips whole months, days and hours that
 * cannot match: a few thousand steps at most.
 */
time_t cron_next(const struct cron *c, time_t after);

/*
 * The last minute at or before `at` at which c fired, or -1 if none
 * within CRON_HORIZON before `at`: used to find a window missed while no
 * watcher ran.
 */
time_t cron_prev(const struct cron *c, time_t at);

#endif
