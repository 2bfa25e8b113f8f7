/*
 * fuzz.h - what every fuzz target in tests/fuzz/ shares: libFuzzer's
 * entry point and check(), the way a target states an invariant (a
 * failed one aborts, and libFuzzer keeps the input as a crash).
 */
#ifndef PRESS_FUZZ_H
#define PRESS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void
check(int ok)
{
	if (!ok)
		abort();
}

#endif
