/*
 * libFuzzer target: BackupPolicy schedules (manifest/cron.h), which come
 * from the config repository.
 *
 * Input layout: 8 bytes of a time (little-endian seconds, folded into
 * 1970-2100), then the expression (up to the first NUL).
 *
 * An expression is parsed or refused with a message; a parsed one must
 * keep the contract of cron_next and cron_prev: the next firing is after
 * the time, on a whole minute, and fires (its own previous firing is
 * itself); the previous one is at or before the time, on a whole minute,
 * and the firing after it is the next one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/cron.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cron c;
	char expr[256], msg[256];
	uint64_t raw = 0;
	time_t t, next, prev;
	size_t n;

	if (size < 8)
		return 0;
	for (int i = 7; i >= 0; i--)
		raw = raw << 8 | data[i];
	t = (time_t)(raw % 4102444800u); /* before 2100-01-01 */
	n = size - 8 < sizeof(expr) - 1 ? size - 8 : sizeof(expr) - 1;
	memcpy(expr, data + 8, n);
	expr[n] = '\0';
	msg[0] = '\0';
	if (cron_parse(&c, expr, msg, sizeof(msg)) < 0) {
		check(msg[0] != '\0' && memchr(msg, '\0', sizeof(msg)));
		return 0;
	}
	next = cron_next(&c, t);
	prev = cron_prev(&c, t);
	if (next != -1) {
		check(next > t && next % 60 == 0);
		check(cron_prev(&c, next) == next);
	}
	if (prev != -1) {
		check(prev <= t && prev % 60 == 0);
		/* Nothing fires after prev up to t: the firing after prev is
		 * next (when both lie within the search horizon). */
		if (next != -1 && next - prev <= CRON_HORIZON)
			check(cron_next(&c, prev) == next);
	}
	return 0;
}
