/*
 * clock.h - the time pressctl decides by: preview expiry, soft-delete
 * windows, rollout backoffs, every time the state records.
 */
#ifndef PRESS_CLOCK_H
#define PRESS_CLOCK_H

#include <time.h>

/*
 * The current time. In a test build (util/testhook.h), PRESSCTL_NOW
 * (RFC 3339 UTC, e.g. 2026-12-01T00:00:00Z; fractional seconds and a
 * numeric offset accepted) replaces it; a value that does not parse is
 * ignored. A release build always reads the system clock.
 */
time_t clock_now(void);

#endif
