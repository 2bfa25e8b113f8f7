/*
 * testutil.h - helpers shared by the unit tests that work on files and
 * git repositories (test_source.c, test_watch.c, test_hooks.c). Include
 * after <cmocka.h>. Everything is static inline: each test binary uses
 * its own subset.
 */
#ifndef PRESS_TESTUTIL_H
#define PRESS_TESTUTIL_H

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The test's temporary root, made by the group setup and removed by the
 * group teardown; newdir() makes numbered directories under it. */
static char tmproot[PATH_MAX];
static int ntmp;

/* snprintf that fails the test instead of truncating. */
static inline void fmt(char *out, size_t size, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static inline void
fmt(char *out, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, size, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		fail_msg("path or message too long: %s", out);
}

/* Run a shell command; its exit status, or -1. */
static inline int sh(const char *f, ...) __attribute__((format(printf, 1, 2)));

static inline int
sh(const char *f, ...)
{
	char cmd[8192];
	va_list ap;
	int n, st;

	va_start(ap, f);
	n = vsnprintf(cmd, sizeof(cmd), f, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define SH_OK(...) assert_int_equal(sh(__VA_ARGS__), 0)

/* First line of a command's output, without the newline. */
static inline void sh_line(char *out, size_t n, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static inline void
sh_line(char *out, size_t n, const char *f, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;

	va_start(ap, f);
	vsnprintf(cmd, sizeof(cmd), f, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = '\0';
	if (fgets(out, (int)n, p) != NULL)
		out[strcspn(out, "\n")] = '\0';
	assert_int_equal(pclose(p), 0);
}

/* A fresh empty directory under tmproot; its path in out. */
static inline void
newdir(char out[PATH_MAX])
{
	fmt(out, PATH_MAX, "%s/d%d", tmproot, ++ntmp);
	SH_OK("mkdir -p '%s'", out);
}

#endif
