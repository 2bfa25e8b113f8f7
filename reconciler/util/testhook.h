/*
 * testhook.h - hooks that exist only in test builds (-DPRESS_TEST_HOOKS,
 * which `make SANITIZE=...` and `make TEST_HOOKS=1` set). A release
 * build compiles them to nothing and ignores their variables:
 *
 *   PRESSCTL_NOW=2026-12-01T00:00:00Z   the clock (util/clock.h)
 *   PRESSCTL_TEST_FAULT=ubsan|asan      a deliberate sanitizer report at
 *                                       start, to test the test harness
 *   PRESSCTL_TEST_WAIT=POINT:PATH       at POINT, create PATH.reached and
 *                                       wait (up to 120 s) until PATH
 *                                       exists: a test acts in between
 *   PRESSCTL_TEST_S3_TIMEOUT_MS=N       the S3 driver's timeout (default
 *                                       30 s), so that a test outlasts
 *                                       it in seconds
 *   PRESSCTL_TEST_CERT_DIR=DIR          a tls: selfsigned route's
 *                                       certificate and key, as
 *                                       DIR/<host>.crt and .key, for
 *                                       apply (made by the test with
 *                                       openssl)
 *   PRESSCTL_TEST_WATCH_PASSES=N        watch stops (as on SIGTERM) after
 *                                       its Nth pass
 *   PRESSCTL_TEST_FAULT=FAMILY:N        the Nth call of FAMILY fails, and
 *   PRESSCTL_TEST_FAULT_LOG=FILE        the calls are counted into FILE
 *                                       (util/fault.c, docs/reliability.md)
 */
#ifndef PRESS_TESTHOOK_H
#define PRESS_TESTHOOK_H

/* 1 in a test build, 0 in a release build. */
int testhook_enabled(void);

/* At start: raise the fault PRESSCTL_TEST_FAULT names (test builds). In
 * a release build, say once on stderr that the test variables set are
 * ignored. Only main() calls it. */
void testhook_start(void);

/* Wait at point as PRESSCTL_TEST_WAIT says (test builds). */
void testhook_wait(const char *point);

/* The test variable name (one of the above) as a number from 1 to
 * 86400000 (test builds); 0 when it is not set or not such a number,
 * and always in a release build. */
long testhook_number(const char *name);

/* The test variable name (a path) when set and not empty (test builds);
 * NULL otherwise, and always in a release build. */
const char *testhook_path(const char *name);

#endif
