# pressctl - see README.md. `make` builds bin/pressctl.
#
#   make                  build bin/pressctl
#   make test             install deps, then every suite (what CI runs)
#   make check            unit + integration tests of the current build
#   make SANITIZE=address,undefined check   the same under ASan+UBSan
#   make bench            benchmarks (tests/bench/)
#   make fuzz             a longer libFuzzer run of every fuzz target
#   make golden           regenerate golden files for review
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
CC ?= cc
PYTHON ?= /usr/bin/python3
SANITIZE ?=
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_RUNS ?= 100000

PKGS = yaml-0.1 jansson libgit2 libcrypto libpq libcurl expat libmicrohttpd \
	libpcre2-8

WARN = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings -fno-common \
	-Wno-format-nonliteral
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(WARN) -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
	$(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
LIBS = $(shell pkg-config --libs $(PKGS)) -lpthread

# Test builds carry the test hooks (reconciler/util/testhook.h: the test
# clock PRESSCTL_NOW, deliberate faults, waits); a sanitizer build is one.
TEST_HOOKS ?= $(if $(SANITIZE),1,)

# Sanitizer builds use clang: its ASan+UBSan runtime is one library, so
# both write their reports where ASAN_OPTIONS/UBSAN_OPTIONS log_path say
# (the test harness collects them); GCC's separate libubsan ignores it.
SAN_CC ?= clang

ifneq ($(SANITIZE),)
CC := $(SAN_CC)
BUILD ?= build/san
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
BIN = $(BUILD)/bin/pressctl
else ifneq ($(TEST_HOOKS),)
BUILD ?= build/test
BIN = $(BUILD)/bin/pressctl
else
BUILD ?= build/release
BIN = bin/pressctl
endif
ifneq ($(TEST_HOOKS),)
ALL_CFLAGS += -DPRESS_TEST_HOOKS
endif

SRCS := $(sort $(shell find reconciler -name '*.c' ! -name main.c))
ASMS := $(sort $(shell find reconciler -name '*.S'))
OBJS := $(SRCS:%.c=$(BUILD)/%.o) $(ASMS:%.S=$(BUILD)/%.o)
MAIN := $(BUILD)/reconciler/main.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
SCHEMAS := $(sort $(wildcard schema/*.json))

.PHONY: all deps test check unit integration bench fuzz fuzz-smoke golden \
	install clean lint demo services-stop

all: $(BIN)

$(BIN): $(MAIN) $(OBJS) | lint
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(MAIN) $(OBJS) $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Schemas are embedded in the binary (validate needs no files at run time).
$(BUILD)/%.o: %.S $(SCHEMAS)
	@mkdir -p $(dir $@)
	$(CC) $(filter -fsanitize%,$(ALL_CFLAGS)) -I. -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -Ireconciler \
		-o $@ $< $(OBJS) $(LIBS) $(shell pkg-config --libs cmocka) $(LDFLAGS)

# Banned functions (git's banned.h, as a check): use strbuf or snprintf.
lint:
	@if grep -nE '\<(strcpy|strcat|strncpy|strncat|strtok|sprintf|vsprintf|gets)[[:space:]]*\(' \
		$$(find reconciler tests/unit tests/fuzz -name '*.[ch]'); then \
		echo "error: banned function used (see Makefile lint)" >&2; exit 1; fi

deps:
	scripts/deps.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: $(BIN)
	PRESSCTL=$(abspath $(BIN)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

check: unit integration

# What CI runs (the README's test command): dependencies, a short fuzz
# run, the ASan+UBSan build of both suites, then the plain build.
test: deps
	$(MAKE) fuzz-smoke
	$(MAKE) SANITIZE=address,undefined check
	$(MAKE) check

FUZZ_BUILD = build/fuzz
FUZZ_CFLAGS = $(WARN) -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -O1 \
	$(shell pkg-config --cflags $(PKGS)) -fsanitize=address,undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(SRCS) $(ASMS) $(SCHEMAS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -Ireconciler -I. -o $@ $< \
		$(SRCS) $(ASMS) $(LIBS)

# A fixed seed keeps CI's short run repeatable; `make fuzz` explores.
fuzz-smoke: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$$(basename $$t); corpus=$(FUZZ_BUILD)/corpus-$$n; \
		tests/fuzz/seed.sh $$n $$corpus; \
		$$t -seed=1 -runs=$(FUZZ_SMOKE_RUNS) -max_len=65536 -rss_limit_mb=1024 $$corpus; done

fuzz: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$$(basename $$t); corpus=$(FUZZ_BUILD)/corpus-$$n; \
		tests/fuzz/seed.sh $$n $$corpus; \
		$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 $$corpus; done

bench: $(BIN)
	PRESSCTL=$(abspath $(BIN)) tests/bench/run.sh

golden: $(BIN)
	PRESSCTL=$(abspath $(BIN)) PRESS_GOLDEN_UPDATE=1 $(PYTHON) -m pytest -q \
		-p no:cacheprovider tests/integration -k golden

# The README's first command: everything from a fresh machine.
demo: deps
	$(MAKE) all
	$(BIN) validate --list manifests
	PRESSCTL=$(BIN) scripts/demo.sh

services-stop:
	scripts/services.sh stop

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pressctl

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
