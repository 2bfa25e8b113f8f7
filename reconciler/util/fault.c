/*
 * fault.c - fault injection for test builds, in the style of curl's
 * torture tests: the Nth call of one family of calls fails the way the
 * library or the kernel itself fails.
 *
 * Compiled only into test builds (TEST_HOOKS=1, SANITIZE=...): the
 * Makefile links pressctl with -Wl,--wrap=SYMBOL for each wrapped call,
 * so that pressctl's own objects call __wrap_SYMBOL here, which counts
 * the call and either fails it or calls the library (__real_SYMBOL).
 * Calls the libraries make among themselves are not wrapped. A release
 * build contains none of this (the Makefile leaves the file out).
 *
 *   PRESSCTL_TEST_FAULT=FAMILY:N   the Nth call of FAMILY fails (N >= 1);
 *                                  every other call goes through
 *   PRESSCTL_TEST_FAULT=FAMILY@ADDR
 *                                  the first call of FAMILY from the call
 *                                  site ADDR (hex, as the log names it)
 *                                  fails, whatever its number: a site
 *                                  whose calls' numbers depend on timing
 *                                  is reached all the same
 *   PRESSCTL_TEST_FAULT_LOG=FILE   append to FILE, at exit, the number of
 *                                  calls of each family ("calls FAMILY N
 *                                  DROPPED") and of each call site ("site
 *                                  FAMILY ADDR CALLS FIRST": the caller's
 *                                  address relative to the binary, for
 *                                  addr2line, and the family's count at
 *                                  the site's first call), and at once
 *                                  the failure injected ("injected KIND
 *                                  N ADDR")
 *
 * The families and how their failure looks (see docs/reliability.md):
 *
 *   pq-connect   PQconnectdbParams: a connection in CONNECTION_BAD with
 *                libpq's own message (a socket that does not exist)
 *   pq-exec      PQexec/PQexecParams: NULL (what libpq answers when it
 *                cannot even allocate the result or the connection is
 *                gone)
 *   pq-result    PQexec/PQexecParams: a PGRES_FATAL_ERROR result
 *   curl         curl_easy_perform: CURLE_COULDNT_CONNECT, no transfer
 *   http500, http503, http404, http403, http409
 *                curl_easy_perform: CURLE_OK with that status (what
 *                CURLINFO_RESPONSE_CODE answers) and an empty body; the
 *                request is not sent
 *   open         open, openat, fopen, mkstemp: -1/NULL, errno EIO
 *   read         read: -1, errno EIO
 *   write        write: -1, errno ENOSPC
 *   rename       rename: -1, errno EIO
 *   fsync        fsync: -1, errno EIO
 *   malloc       malloc, calloc, realloc: NULL, errno ENOMEM
 *
 * pq-exec and pq-result count the same calls (the family "pq"), and so
 * do curl and the http families (the family "curl"). Counters are atomic:
 * the Nth call is well defined with one worker (apply --parallel 1) and
 * may differ from run to run with several.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

/* The counted families; the injectable ones map onto them. */
enum fam {
	F_PQCONNECT,
	F_PQ,
	F_CURL,
	F_OPEN,
	F_READ,
	F_WRITE,
	F_RENAME,
	F_FSYNC,
	F_MALLOC,
	F_COUNT
};

static const char *const fam_names[F_COUNT] = {
	"pq-connect", "pq",	"curl",	 "open",   "read",
	"write",      "rename", "fsync", "malloc",
};

/* What PRESSCTL_TEST_FAULT may name: the family it counts on and how the
 * failure looks (an HTTP status for the http kinds). */
static const struct kind {
	const char *name;
	enum fam fam;
	long status;
} kinds[] = {
	{ "pq-connect", F_PQCONNECT, 0 },
	{ "pq-exec", F_PQ, 0 },
	{ "pq-result", F_PQ, 0 },
	{ "curl", F_CURL, 0 },
	{ "http500", F_CURL, 500 },
	{ "http503", F_CURL, 503 },
	{ "http404", F_CURL, 404 },
	{ "http403", F_CURL, 403 },
	{ "http409", F_CURL, 409 },
	{ "open", F_OPEN, 0 },
	{ "read", F_READ, 0 },
	{ "write", F_WRITE, 0 },
	{ "rename", F_RENAME, 0 },
	{ "fsync", F_FSYNC, 0 },
	{ "malloc", F_MALLOC, 0 },
};

/* Call sites per family: an open-addressed table of caller addresses.
 * A site that finds the table full is counted in `dropped` (and the log
 * says so): nothing is lost silently. */
#define SITES 2048

struct site {
	uintptr_t addr;
	unsigned long calls;
	unsigned long first; /* the family's count at its first call */
};

static struct site sites[F_COUNT][SITES];
static unsigned long calls[F_COUNT];
static unsigned long dropped[F_COUNT];

static int state; /* 0 not read yet, 1 ready */
static const struct kind *armed;
static unsigned long armed_n;
static uintptr_t armed_site; /* FAMILY@ADDR: the site, relative */
static int armed_fired;	     /* ... and whether it failed a call yet */
static const char *log_path;
static pid_t main_pid;

/* The kind named by the len bytes at name, or NULL. */
static const struct kind *
kind_named(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].name) == len &&
		    memcmp(kinds[i].name, name, len) == 0)
			return &kinds[i];
	return NULL;
}

/* Read the variables once. An unknown kind or a bad N arms nothing: the
 * walk's clean runs catch a typo (no failure is ever injected). */
static void
setup(void)
{
	const char *v, *colon;
	char *end;
	unsigned long n;

	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE))
		return;
	log_path = getenv("PRESSCTL_TEST_FAULT_LOG");
	if (log_path && !*log_path)
		log_path = NULL;
	v = getenv("PRESSCTL_TEST_FAULT");
	if (v && (colon = strpbrk(v, ":@")) && colon[1]) {
		errno = 0;
		n = strtoul(colon + 1, &end, *colon == '@' ? 16 : 10);
		if (!errno && !*end && n > 0 &&
		    (armed = kind_named(v, (size_t)(colon - v)))) {
			if (*colon == '@')
				armed_site = (uintptr_t)n;
			else
				armed_n = n;
		}
	}
	main_pid = getpid();
	__atomic_store_n(&state, 1, __ATOMIC_RELEASE);
}

/* The ELF header of pressctl itself (the linker defines the symbol):
 * where the binary was loaded. */
extern const char __ehdr_start[];

/* The caller's address relative to the binary, so that addr2line -e
 * pressctl finds it in a position-independent binary. */
static uintptr_t
relative(const void *addr)
{
	return (uintptr_t)addr - (uintptr_t)__ehdr_start;
}

static void
site_count(enum fam f, uintptr_t addr, unsigned long n)
{
	size_t h = (size_t)((addr * 0x9E3779B97F4A7C15ull) >> 40) % SITES;

	for (size_t i = 0; i < SITES; i++) {
		struct site *s = &sites[f][(h + i) % SITES];
		uintptr_t seen = __atomic_load_n(&s->addr, __ATOMIC_ACQUIRE);

		if (seen == 0 &&
		    __atomic_compare_exchange_n(&s->addr, &seen, addr, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_store_n(&s->first, n, __ATOMIC_RELAXED);
			seen = addr;
		}
		if (seen == addr) {
			__atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
			return;
		}
	}
	__atomic_add_fetch(&dropped[f], 1, __ATOMIC_RELAXED);
}

/* Write text to the log with plain system calls (no allocation, no
 * stdio: this runs inside malloc's and write's own wrappers). */
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_open(const char *path, int flags, ...);

static void
log_text(const char *text)
{
	int fd;

	if (!log_path)
		return;
	fd = __real_open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			 0644);
	if (fd < 0)
		return;
	(void)!__real_write(fd, text, strlen(text));
	close(fd);
}

/* Count one call of family f from addr; nonzero when it is to fail. The
 * failure of the log line is written at once: the process may not reach
 * its exit handlers (an out-of-memory exit). */
static int
call(enum fam f, const void *addr, long *status)
{
	unsigned long n;
	char line[160];

	setup();
	n = __atomic_add_fetch(&calls[f], 1, __ATOMIC_RELAXED);
	if (log_path)
		site_count(f, (uintptr_t)addr, n);
	if (!armed || armed->fam != f)
		return 0;
	if (armed_site ? relative(addr) != armed_site ||
				 __atomic_exchange_n(&armed_fired, 1,
						     __ATOMIC_ACQ_REL) :
			 n != armed_n)
		return 0;
	if (status)
		*status = armed->status;
	snprintf(line, sizeof(line), "injected %s %lu 0x%lx\n", armed->name, n,
		 (unsigned long)relative(addr));
	log_text(line);
	return 1;
}

#define CALLER __builtin_return_address(0)

static int
armed_is(const char *name)
{
	return armed && strcmp(armed->name, name) == 0;
}

__attribute__((destructor)) static void
fault_report(void)
{
	char line[160];

	if (!log_path || getpid() != main_pid)
		return;
	for (int f = 0; f < F_COUNT; f++) {
		snprintf(line, sizeof(line), "calls %s %lu %lu\n", fam_names[f],
			 calls[f], dropped[f]);
		log_text(line);
		for (size_t i = 0; i < SITES; i++) {
			if (!sites[f][i].addr)
				continue;
			snprintf(line, sizeof(line), "site %s 0x%lx %lu %lu\n",
				 fam_names[f],
				 (unsigned long)relative(
					 (const void *)sites[f][i].addr),
				 sites[f][i].calls, sites[f][i].first);
			log_text(line);
		}
	}
}

/* --- libpq ------------------------------------------------------------- */

PGconn *__real_PQconnectdbParams(const char *const *k, const char *const *v,
				 int expand);
PGconn *__wrap_PQconnectdbParams(const char *const *k, const char *const *v,
				 int expand);
PGresult *__real_PQexec(PGconn *c, const char *q);
PGresult *__wrap_PQexec(PGconn *c, const char *q);
PGresult *__real_PQexecParams(PGconn *c, const char *q, int n, const Oid *types,
			      const char *const *vals, const int *lens,
			      const int *fmts, int rfmt);
PGresult *__wrap_PQexecParams(PGconn *c, const char *q, int n, const Oid *types,
			      const char *const *vals, const int *lens,
			      const int *fmts, int rfmt);

PGconn *
__wrap_PQconnectdbParams(const char *const *k, const char *const *v, int expand)
{
	if (call(F_PQCONNECT, CALLER, NULL))
		/* libpq's own CONNECTION_BAD and message. */
		return PQconnectdb("host=/nonexistent/press-test-fault "
				   "connect_timeout=1");
	return __real_PQconnectdbParams(k, v, expand);
}

/* NULL, or a PGRES_FATAL_ERROR result of the connection. */
static PGresult *
pq_fault(PGconn *c)
{
	if (armed_is("pq-exec"))
		return NULL;
	return PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
}

PGresult *
__wrap_PQexec(PGconn *c, const char *q)
{
	if (call(F_PQ, CALLER, NULL))
		return pq_fault(c);
	return __real_PQexec(c, q);
}

PGresult *
__wrap_PQexecParams(PGconn *c, const char *q, int n, const Oid *types,
		    const char *const *vals, const int *lens, const int *fmts,
		    int rfmt)
{
	if (call(F_PQ, CALLER, NULL))
		return pq_fault(c);
	return __real_PQexecParams(c, q, n, types, vals, lens, fmts, rfmt);
}

/* --- libcurl ----------------------------------------------------------- */

CURLcode __real_curl_easy_perform(CURL *h);
CURLcode __wrap_curl_easy_perform(CURL *h);
CURLcode __real_curl_easy_getinfo(CURL *h, CURLINFO info, ...);
CURLcode __wrap_curl_easy_getinfo(CURL *h, CURLINFO info, ...);

/* The handles whose last transfer was answered with an injected status.
 * One fault per run: a few slots are plenty. */
static struct {
	CURL *h;
	long status;
} faked[8];
static pthread_mutex_t faked_lock = PTHREAD_MUTEX_INITIALIZER;

static void
faked_set(CURL *h, long status)
{
	pthread_mutex_lock(&faked_lock);
	for (size_t i = 0; i < sizeof(faked) / sizeof(faked[0]); i++)
		if (faked[i].h == h || (!faked[i].h && status)) {
			faked[i].h = status ? h : NULL;
			faked[i].status = status;
			break;
		}
	pthread_mutex_unlock(&faked_lock);
}

static long
faked_get(CURL *h)
{
	long status = 0;

	pthread_mutex_lock(&faked_lock);
	for (size_t i = 0; i < sizeof(faked) / sizeof(faked[0]); i++)
		if (faked[i].h == h)
			status = faked[i].status;
	pthread_mutex_unlock(&faked_lock);
	return status;
}

CURLcode
__wrap_curl_easy_perform(CURL *h)
{
	long status = 0;

	faked_set(h, 0);
	if (call(F_CURL, CALLER, &status)) {
		if (!status)
			return CURLE_COULDNT_CONNECT;
		faked_set(h, status);
		return CURLE_OK;
	}
	return __real_curl_easy_perform(h);
}

CURLcode
__wrap_curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	void *out;
	long status;

	va_start(ap, info);
	out = va_arg(ap, void *);
	va_end(ap);
	if (info == CURLINFO_RESPONSE_CODE && (status = faked_get(h))) {
		*(long *)out = status;
		return CURLE_OK;
	}
	return __real_curl_easy_getinfo(h, info, out);
}

/* --- the file system --------------------------------------------------- */

int __real_openat(int dir, const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_openat(int dir, const char *path, int flags, ...);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
int __real_mkstemp(char *tmpl);
int __wrap_mkstemp(char *tmpl);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
int __real_fsync(int fd);
int __wrap_fsync(int fd);

/* The mode argument exists only when the flags create a file. */
#define OPEN_MODE(flags, last, mode)                              \
	do {                                                      \
		if ((flags)&O_CREAT) {                            \
			va_list ap_;                              \
			va_start(ap_, last);                      \
			mode = (mode_t)va_arg(ap_, unsigned int); \
			va_end(ap_);                              \
		}                                                 \
	} while (0)

int
__wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, flags, mode);
	if (call(F_OPEN, CALLER, NULL))
		return errno = EIO, -1;
	return __real_open(path, flags, mode);
}

int
__wrap_openat(int dir, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, flags, mode);
	if (call(F_OPEN, CALLER, NULL))
		return errno = EIO, -1;
	return __real_openat(dir, path, flags, mode);
}

FILE *
__wrap_fopen(const char *path, const char *mode)
{
	if (call(F_OPEN, CALLER, NULL))
		return errno = EIO, NULL;
	return __real_fopen(path, mode);
}

int
__wrap_mkstemp(char *tmpl)
{
	if (call(F_OPEN, CALLER, NULL))
		return errno = EIO, -1;
	return __real_mkstemp(tmpl);
}

ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
	if (call(F_READ, CALLER, NULL))
		return errno = EIO, -1;
	return __real_read(fd, buf, n);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	if (call(F_WRITE, CALLER, NULL))
		return errno = ENOSPC, -1;
	return __real_write(fd, buf, n);
}

int
__wrap_rename(const char *from, const char *to)
{
	if (call(F_RENAME, CALLER, NULL))
		return errno = EIO, -1;
	return __real_rename(from, to);
}

int
__wrap_fsync(int fd)
{
	if (call(F_FSYNC, CALLER, NULL))
		return errno = EIO, -1;
	return __real_fsync(fd);
}

/* --- memory ------------------------------------------------------------ */

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

void *
__wrap_malloc(size_t n)
{
	if (call(F_MALLOC, CALLER, NULL))
		return errno = ENOMEM, NULL;
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	if (call(F_MALLOC, CALLER, NULL))
		return errno = ENOMEM, NULL;
	return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	if (call(F_MALLOC, CALLER, NULL))
		return errno = ENOMEM, NULL;
	return __real_realloc(p, n);
}
