/*
 * cron.h - five-field cron expressions (minute hour day-of-month month
 * day-of-week), UTC. Supports '*', numbers, ranges a-b, lists, steps
 * (*\/n, a-b/n, a/n), month names JAN-DEC and weekday names SUN-SAT
 * (case-insensitive); 0 and 7 are both Sunday.
 */
#ifndef PRESS_CRON_H
#define PRESS_CRON_H

#include <stddef.h>
#include <stdint.h>

struct cron {
	uint64_t minute;	/* bit n: minute n */
	uint32_t hour, dom;	/* bit n: hour n / day n (1-31) */
	uint16_t month;		/* bit n: month n (1-12) */
	uint8_t dow;		/* bit n: weekday n (0-6, Sunday 0) */
	int dom_star, dow_star; /* field was '*' (for the dom/dow OR rule) */
};

/*
 * Parse expr into out. On error returns -1 and writes a message naming
 * the field and the offending part into msg (msgsz bytes).
 */
int cron_parse(struct cron *out, const char *expr, char *msg, size_t msgsz);

#endif
