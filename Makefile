# pressctl - see README.md. `make` builds bin/pressctl.
#
#   make                  build bin/pressctl
#   make test             install deps, then every suite (what CI runs)
#   make check            unit + integration tests of the current build
#   make SANITIZE=address,undefined check   the same under ASan+UBSan
#   make bench            benchmarks (tests/bench/)
#   make scale            1,000 environments behind the ingress, no host
#                         ports (SCALE_ENVS=N for another count; ~20 min)
#   make fuzz             a fuzzing campaign: FUZZ_SECONDS of CPU per target
#   make crash            kill -9 trials, CRASH_TRIALS per operation
#   make soak             an hour of watch against 100 environments under
#                         pushes, removals and restarts (SOAK_SECONDS, SOAK_ENVS)
#   make faults           the fault-injection walk with the sanitized build
#                         (docs/reliability.md; FAULTS_ARGS="--stride 1"
#                         for every call, not only every call site)
#   make golden           regenerate golden files for review
#   make man              roff man pages from docs/man (build/man/)
#   make install PREFIX=/usr/local [DESTDIR=...]   binary, man pages, completion
#   make image            pressctl:VERSION and :latest (scripts/image.sh)
#   make test-image       the image and the compose stack, tested (slow: tests/image/)

PREFIX ?= /usr/local
CC ?= cc
PYTHON ?= /usr/bin/python3
SANITIZE ?=
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_RUNS ?= 100000
# ...or this many seconds per target, whichever comes first (the crypt
# target runs a few hundred inputs a second).
FUZZ_SMOKE_SECONDS ?= 20

PKGS = yaml-0.1 jansson libgit2 libcrypto libssl libpq libcurl expat libmicrohttpd \
	libpcre2-8

WARN = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings -fno-common \
	-Wno-format-nonliteral
CFLAGS ?= -O2 -g
# Every unit starts with util/banned.h: strcpy, sprintf, atoi and friends
# are compile errors (see that file).
BANNED = -include reconciler/util/banned.h
ALL_CFLAGS = $(WARN) -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(BANNED) \
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
# Release builds are hardened.
ALL_CFLAGS += -D_FORTIFY_SOURCE=2 -fstack-protector-strong
endif
ifneq ($(TEST_HOOKS),)
ALL_CFLAGS += -DPRESS_TEST_HOOKS
endif

# util/fault.c (fault injection: docs/reliability.md) is in test builds
# only; they link with -Wl,--wrap for each call it wraps.
SRCS := $(sort $(shell find reconciler -name '*.c' ! -name main.c ! -name fault.c))
FAULT_WRAPS = PQconnectdbParams PQexec PQexecParams curl_easy_perform \
	curl_easy_getinfo open openat fopen mkstemp read write rename fsync \
	malloc calloc realloc
ifneq ($(TEST_HOOKS),)
SRCS += reconciler/util/fault.c
FAULT_LDFLAGS = $(foreach s,$(FAULT_WRAPS),-Wl,--wrap=$(s))
endif
ASMS := $(sort $(shell find reconciler -name '*.S'))
OBJS := $(SRCS:%.c=$(BUILD)/%.o) $(ASMS:%.S=$(BUILD)/%.o)
MAIN := $(BUILD)/reconciler/main.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
SCHEMAS := $(sort $(wildcard schema/*.json))
ASSETS := $(sort $(wildcard reconciler/serve/assets/*))

.PHONY: all deps test check unit integration bench scale fuzz fuzz-smoke golden crash \
	build-tests faults soak \
	install clean lint demo services-stop smoke format-check tools man image \
	test-image

all: $(BIN) man

$(BIN): $(MAIN) $(OBJS) | lint
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(FAULT_LDFLAGS) -o $@ $(MAIN) $(OBJS) $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Schemas and the dashboard's files are embedded in the binary (no files
# are read at run time).
$(BUILD)/%.o: %.S $(SCHEMAS) $(ASSETS)
	@mkdir -p $(dir $@)
	$(CC) $(filter -fsanitize%,$(ALL_CFLAGS)) -I. -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -Ireconciler \
		-o $@ $< $(OBJS) $(LIBS) $(shell pkg-config --libs cmocka) $(LDFLAGS) \
		$(FAULT_LDFLAGS)

# Helpers that the integration tests drive (tests/tools/), each linked
# with only the objects it needs.
TOOLS := $(BUILD)/tests/tools/cron_next $(BUILD)/tests/tools/clone_sql
CRON_NEXT_OBJS := $(BUILD)/reconciler/manifest/cron.o \
	$(BUILD)/reconciler/util/num.o
CLONE_SQL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard reconciler/clone/*.c)) \
	$(BUILD)/reconciler/util/sqltext.o $(BUILD)/reconciler/util/strbuf.o \
	$(BUILD)/reconciler/util/err.o $(BUILD)/reconciler/util/hash.o

$(BUILD)/tests/tools/cron_next: tests/tools/cron_next.c $(CRON_NEXT_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ireconciler -o $@ $< $(CRON_NEXT_OBJS) $(LDFLAGS)

$(BUILD)/tests/tools/clone_sql: tests/tools/clone_sql.c $(CLONE_SQL_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ireconciler -o $@ $< $(CLONE_SQL_OBJS) \
		$(shell pkg-config --libs jansson libcrypto) $(LDFLAGS)

tools: $(TOOLS)

# Everything the suites of this build run, built (make test builds it
# with -j, then runs the suites one at a time).
build-tests: $(BIN) $(TOOLS) $(UNIT_BINS)

# Proof that util/banned.h bites: each of these must fail to compile.
BANNED_USES = 'char b[8]; sprintf(b, "x");' 'return atoi("4");' \
	'char b[8]; strcpy(b, "x");' 'return atol("4") > 0;'
lint:
	@bad=$$(grep -rnE '(^|[^_a-z0-9])(malloc|calloc|realloc)\(' reconciler \
		--include='*.c' | grep -vE '^reconciler/util/(err|fault|testhook)\.c:'); \
	if [ -n "$$bad" ]; then echo "$$bad" >&2; echo "error: allocate with" \
		"xmalloc, xcalloc or xrealloc (util/err.h): out of memory then exits 1" \
		"with a message instead of going on with NULL" >&2; exit 1; fi
	@for use in $(BANNED_USES); do \
		printf 'int f(void);\nint f(void) { %s return 0; }\n' "$$use" | \
		$(CC) $(filter-out -fsanitize%,$(ALL_CFLAGS)) -fsyntax-only -x c - \
			>/dev/null 2>&1 && { echo "error: util/banned.h lets" \
			"'$$use' compile" >&2; exit 1; }; \
	done; true

deps:
	scripts/deps.sh

unit: $(UNIT_BINS) $(TOOLS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The integration tests need a test build (the test clock and hooks):
# without SANITIZE or TEST_HOOKS, they run against TEST_HOOKS=1's.
ifneq ($(TEST_HOOKS),)
integration: $(BIN) $(TOOLS)
	PRESSCTL=$(abspath $(BIN)) PRESS_TOOLS_DIR=$(abspath $(BUILD)/tests/tools) \
		$(PYTHON) -m pytest -q -p no:cacheprovider -m "not image" --durations=40 tests/integration

# The container image and the compose stack, for real (tests marked
# "image"): not in `make test`, whose CI budget the first image build
# alone (a Debian base downloaded by debootstrap) would exceed.
test-image: deps $(BIN) $(TOOLS)
	PRESSCTL=$(abspath $(BIN)) PRESS_TOOLS_DIR=$(abspath $(BUILD)/tests/tools) \
		$(PYTHON) -m pytest -q -p no:cacheprovider -m image tests/integration
else
integration:
	$(MAKE) --no-print-directory TEST_HOOKS=1 integration
test-image:
	$(MAKE) --no-print-directory TEST_HOOKS=1 test-image
endif

# kill -9 trials (docs/reliability.md "Kill -9 trials"): the tests that
# kill backup, restore, clone and promotion at seeded random moments,
# CRASH_TRIALS each (make test runs a few), with the test build or, with
# SANITIZE=address,undefined, the sanitized one. CRASH_SEED (empty: each
# test's own) seeds all four; their "kill9 ..." lines are the figures.
CRASH_TRIALS ?= 25
CRASH_SEED ?=
CRASH_TESTS = tests/integration/test_backup.py tests/integration/test_clone.py \
	tests/integration/test_promote.py
ifneq ($(TEST_HOOKS),)
crash: $(BIN) $(TOOLS)
	@t0=$$(date +%s); \
	PRESSCTL=$(abspath $(BIN)) PRESS_TOOLS_DIR=$(abspath $(BUILD)/tests/tools) \
	PRESS_KILL_TRIALS=$(CRASH_TRIALS) $(if $(CRASH_SEED),PRESS_KILL_SEED=$(CRASH_SEED)) \
		$(PYTHON) -m pytest -q -s -p no:cacheprovider -k kill9 $(CRASH_TESTS) \
		>$(BUILD)/crash.log 2>&1; rc=$$?; tail -n 40 $(BUILD)/crash.log; \
	echo "== make crash: $$(($$(date +%s) - t0)) s (log: $(BUILD)/crash.log)"; \
	grep '^kill9 ' $(BUILD)/crash.log; exit $$rc
else
crash:
	$(MAKE) --no-print-directory TEST_HOOKS=1 crash
endif

# The soak (docs/reliability.md "Soak"): one `pressctl watch` for
# SOAK_SECONDS against SOAK_ENVS environments under pushes, removed
# containers, webhook bursts and backend restarts (SOAK_SEED), judged on
# RSS, descriptors and push -> converged latency; report in
# $(BUILD)/soak.json. Not in test: it takes an hour.
SOAK_SECONDS ?= 3600
SOAK_ENVS ?= 100
SOAK_SEED ?= 1
ifneq ($(TEST_HOOKS),)
soak: $(BIN) $(TOOLS)
	PRESSCTL=$(abspath $(BIN)) PRESS_TOOLS_DIR=$(abspath $(BUILD)/tests/tools) \
	PRESS_SOAK_SECONDS=$(SOAK_SECONDS) PRESS_SOAK_ENVS=$(SOAK_ENVS) \
	PRESS_SOAK_SEED=$(SOAK_SEED) PRESS_SOAK_REPORT=$(abspath $(BUILD)/soak.json) \
		$(PYTHON) -m pytest -q -s -p no:cacheprovider tests/integration/soak_watch.py
else
soak:
	$(MAKE) --no-print-directory TEST_HOOKS=1 soak
endif

check: unit integration

# What CI runs (the README's test command): dependencies, the checks of
# the house rules, a short fuzz run, the unit and integration suites once
# under ASan+UBSan (the stronger check), then the release build's unit
# suite and a smoke run. The time is printed at the end.
JOBS ?= $(shell nproc)
test: deps
	@t0=$$(date +%s); \
	$(MAKE) --no-print-directory lint format-check && \
	$(MAKE) --no-print-directory -j$(JOBS) fuzz-smoke && \
	$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=address,undefined build-tests && \
	$(MAKE) --no-print-directory SANITIZE=address,undefined check && \
	$(MAKE) --no-print-directory -j$(JOBS) build-tests && \
	$(MAKE) --no-print-directory unit smoke; rc=$$?; \
	t=$$(($$(date +%s) - t0)); \
	if [ $$rc -eq 0 ]; then word=passed; else word=FAILED; fi; \
	echo "make test: $$word in $$((t / 60)) min $$((t % 60)) s"; exit $$rc

# The release binary runs: version, validation of the demo and the
# examples, and it ignores the test clock and fault injection (and says
# so), whose code it does not contain.
smoke: $(BIN)
	$(BIN) version
	$(BIN) validate --list manifests >/dev/null
	@set -e; for d in examples/*/; do [ "$$d" = examples/ci/ ] || \
		$(BIN) validate "$$d" >/dev/null; done
	@out=$$(PRESSCTL_NOW=2000-01-01T00:00:00Z $(BIN) version 2>&1); \
	case "$$out" in *"PRESSCTL_NOW is ignored"*) ;; \
	*) echo "smoke: the release build did not refuse PRESSCTL_NOW: $$out" >&2; \
	   exit 1 ;; esac
	@out=$$(PRESSCTL_TEST_FAULT=malloc:1 $(BIN) version 2>&1); \
	case "$$out" in *"PRESSCTL_TEST_FAULT is ignored"*) ;; \
	*) echo "smoke: the release build did not refuse PRESSCTL_TEST_FAULT: $$out" >&2; \
	   exit 1 ;; esac
	@if nm $(BIN) | grep -q ' __wrap_' || grep -q 'press-test-fault' $(BIN); then \
		echo "smoke: the release build carries fault injection (util/fault.c)" >&2; \
		exit 1; fi
	@echo "smoke: ok"

# clang-format on the lines the last commit changed (the tree was
# formatted once with .clang-format; new lines keep it).
FORMAT_BASE ?= HEAD~1
format-check:
	@if ! git rev-parse -q --verify $(FORMAT_BASE) >/dev/null 2>&1; then \
		echo "format-check: no $(FORMAT_BASE) to compare with; skipped"; \
		exit 0; fi; \
	out=$$(git clang-format --diff --extensions c,h $(FORMAT_BASE) -- \
		reconciler tests/unit tests/fuzz 2>&1); \
	case "$$out" in ""|*"no modified files"*|*"did not modify"*) \
		echo "format-check: ok";; \
	*) printf "%s\n" "$$out"; echo "format-check: lines above differ from" \
		".clang-format (git clang-format $(FORMAT_BASE))" >&2; exit 1;; esac

FUZZ_BUILD = build/fuzz
FUZZ_CFLAGS = $(WARN) -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -O1 \
	$(BANNED) $(shell pkg-config --cflags $(PKGS)) -fsanitize=address,undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))
# The sources are compiled once (instrumented, without libFuzzer's main)
# and linked into every target.
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(filter-out reconciler/util/fault.c,$(SRCS))) $(ASMS:%.S=$(FUZZ_BUILD)/obj/%.o)
.SECONDARY: $(FUZZ_OBJS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/obj/%.o: %.S $(SCHEMAS) $(ASSETS)
	@mkdir -p $(dir $@)
	clang -fsanitize=address,undefined -I. -c -o $@ $<

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -Ireconciler -I. -o $@ $< \
		$(FUZZ_OBJS) $(LIBS)

# A fixed seed keeps CI's short run repeatable; `make fuzz` explores.
# One rule per target, so that -j runs them side by side.
fuzz-smoke: $(FUZZ_TARGETS:$(FUZZ_BUILD)/%=fuzz-smoke-%)

fuzz-smoke-%: $(FUZZ_BUILD)/%
	@corpus=$(FUZZ_BUILD)/corpus-$*; tests/fuzz/seed.sh $* $$corpus; \
	$< -seed=1 -runs=$(FUZZ_SMOKE_RUNS) -max_total_time=$(FUZZ_SMOKE_SECONDS) \
		-max_len=65536 -rss_limit_mb=1024 $$corpus 2>$(FUZZ_BUILD)/smoke-$*.log || \
		{ tail -40 $(FUZZ_BUILD)/smoke-$*.log; echo "fuzz-smoke: $* failed" \
		  "(whole output: $(FUZZ_BUILD)/smoke-$*.log)" >&2; exit 1; }; \
	tail -1 $(FUZZ_BUILD)/smoke-$*.log

# A campaign: FUZZ_SECONDS of CPU time per target (measured, not wall
# time), FUZZ_JOBS targets at once, at most FUZZ_WALL seconds in all (0:
# no limit), then a report of executions, coverage, corpus and crashes
# (tests/fuzz/campaign.sh; docs/reliability.md "Fuzzing").
FUZZ_JOBS ?= 1
FUZZ_WALL ?= 0
FUZZ_OUT ?= $(FUZZ_BUILD)/campaign
fuzz: $(FUZZ_TARGETS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_WALL=$(FUZZ_WALL) \
		tests/fuzz/campaign.sh $(FUZZ_BUILD) $(FUZZ_OUT) $(notdir $(FUZZ_TARGETS))

bench: $(BIN)
	PRESSCTL=$(abspath $(BIN)) tests/bench/run.sh

# The fault-injection walk (tests/faults/walk.py, docs/reliability.md):
# every call site of every family failed once in apply, backup, restore,
# promote and a watch pass, under ASan+UBSan. Not in test: it takes about
# an hour; test runs its smoke (tests/integration/test_faults.py).
FAULTS_ARGS ?=
faults:
	$(MAKE) --no-print-directory SANITIZE=address,undefined
	PRESSCTL=$(abspath build/san/bin/pressctl) $(PYTHON) tests/faults/walk.py \
		--report build/faults.json $(FAULTS_ARGS)

# Not in test or bench: it starts SCALE_ENVS containers (default 1,000).
scale: $(BIN)
	PRESSCTL=$(abspath $(BIN)) tests/bench/scale-ingress.sh

golden: $(BIN)
	PRESSCTL=$(abspath $(BIN)) PRESS_GOLDEN_UPDATE=1 $(PYTHON) -m pytest -q \
		-p no:cacheprovider tests/integration -k golden

# The README's first command: everything from a fresh machine.
demo: deps
	$(MAKE) all
	$(BIN) validate --list manifests
	PRESSCTL=$(BIN) scripts/demo.sh

# The container image, on DOCKER_HOST's engine or the private one
# (docs/deploy.md).
image:
	scripts/image.sh all

services-stop:
	scripts/services.sh stop

# The man pages are made from docs/man/*.md (scripts/md2man.sh, with
# lowdown); each page's first line names it and its section.
VERSION := $(shell sed -n 's/^\#define PRESSCTL_VERSION "\(.*\)"/\1/p' \
	reconciler/cmd/cmd.h)
MAN_SRCS := $(sort $(wildcard docs/man/*.md))
MAN_PAGES := $(foreach f,$(MAN_SRCS),build/man/$(basename $(notdir $(f))).$(shell \
	sed -n '1s/^\# .*(\([1-8]\))$$/\1/p' $(f)))

man: $(MAN_PAGES)

define man_rule
build/man/%.$(1): docs/man/%.md scripts/md2man.sh reconciler/cmd/cmd.h
	@mkdir -p $$(dir $$@)
	scripts/md2man.sh $$< $$@ $$(VERSION)
endef
$(foreach n,1 5 7,$(eval $(call man_rule,$(n))))

# Files under $(DESTDIR)$(PREFIX): bin/pressctl, share/man/manN/ (the
# pages of docs/man), share/bash-completion/completions/pressctl.
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: $(BIN) man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pressctl
	@set -e; for p in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${p##*.}; \
		echo "install -m 644 $$p $$d/"; \
		install -d $$d; install -m 644 $$p $$d/; done
	install -m 644 completion/pressctl.bash $(DESTDIR)$(BASHCOMPDIR)/pressctl

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
