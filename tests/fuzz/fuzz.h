/*
 * fuzz.h - what every fuzz target in tests/fuzz/ shares: libFuzzer's
 * entry point and check(), the way a target states an invariant (a
 * failed one says which, on standard error, and aborts; libFuzzer keeps
 * the input as a crash).
 */
#ifndef PRESS_FUZZ_H
#define PRESS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void
check_at(int ok, const char *file, int line, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
		abort();
	}
}

#define check(ok) check_at((ok) != 0, __FILE__, __LINE__, #ok)

#endif
