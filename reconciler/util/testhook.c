/*
 * testhook.c - see testhook.h.
 */
#include "testhook.h"
#include "num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <unistd.h>

#ifdef PRESS_TEST_HOOKS

int
testhook_enabled(void)
{
	return 1;
}

/* Out of line and through volatile: the compiler cannot fold them. */
static int __attribute__((noinline)) overflow(volatile int a)
{
	return a + 1;
}

void
testhook_start(void)
{
	const char *f = getenv("PRESSCTL_TEST_FAULT");
	volatile int big = 2147483647;

	if (!f)
		return;
	if (strcmp(f, "ubsan") == 0) {
		fprintf(stderr, "pressctl: test fault: %d\n", overflow(big));
	} else if (strcmp(f, "asan") == 0) {
		volatile char *p = malloc(8);

		if (p) {
			free((void *)p);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free" /* the point */
#endif
			fprintf(stderr, "pressctl: test fault: %d\n", p[0]);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
		}
	}
}

void
testhook_wait(const char *point)
{
	const char *v = getenv("PRESSCTL_TEST_WAIT");
	size_t n = strlen(point);
	char reached[4096];
	int fd;

	if (!v || strncmp(v, point, n) != 0 || v[n] != ':' || !v[n + 1])
		return;
	snprintf(reached, sizeof(reached), "%s.reached", v + n + 1);
	fd = open(reached, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 1200 && access(v + n + 1, F_OK) != 0; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
}

long
testhook_number(const char *name)
{
	const char *v = getenv(name);
	long long n;

	if (!v || num_parse(v, 1, 86400000, &n) < 0)
		return 0;
	return (long)n;
}

const char *
testhook_path(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

#else

int
testhook_enabled(void)
{
	return 0;
}

const char *
testhook_path(const char *name)
{
	(void)name;
	return NULL;
}

void
testhook_start(void)
{
	static const char *const vars[] = {
		"PRESSCTL_NOW",		  "PRESSCTL_TEST_FAULT",
		"PRESSCTL_TEST_WAIT",	  "PRESSCTL_TEST_S3_TIMEOUT_MS",
		"PRESSCTL_TEST_CERT_DIR", "PRESSCTL_TEST_WATCH_PASSES",
		"PRESSCTL_TEST_FAULT_LOG"
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (getenv(vars[i]))
			fprintf(stderr,
				"pressctl: warning: %s is ignored: it "
				"works only in test builds\n",
				vars[i]);
}

void
testhook_wait(const char *point)
{
	(void)point;
}

long
testhook_number(const char *name)
{
	(void)name;
	return 0;
}

#endif
