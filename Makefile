# tulle build. `make` builds build/bin/{tulle,tulle-cni}; `make test` installs what is
# missing, builds everything (plus an ASan+UBSan flavour) and runs every test.

.DEFAULT_GOAL := all
CC      ?= gcc
CLANG   ?= clang
BUILD   ?= build
# Error paths are formatted into 256-byte buffers; a longer path is cut, never overrun.
WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -MMD -MP -I$(BUILD)/gen
LIBS    := -lyaml -ljansson -lsqlite3 -lbpf -lelf -lz -lssl -lcrypto -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Every module but the entry points is one library, built once per flavour.
LIB_DIRS := src/lib src/api src/store src/client src/server src/policy src/datapath src/dns src/agent src/cli
LIB_SRCS := $(filter-out %_test.c src/cli/main.c,$(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
TEST_SRCS := $(wildcard $(addsuffix /*_test.c,$(LIB_DIRS)))
SCHEMAS := $(sort $(wildcard src/api/schema/*.schema))

# The eBPF programs: clang -target bpf, then a libbpf skeleton that embeds the object,
# so the tulle binary carries its datapath.
BPF_SRCS := $(wildcard src/bpf/*.bpf.c)
BPF_HDRS := $(wildcard src/bpf/lib/*.h src/bpf/include/*.h)
$(BUILD)/bpf/%.bpf.o: src/bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) -g -O2 -target bpf -Wall -Werror -I/usr/include/$(shell gcc -print-multiarch) -c $< -o $@

$(BUILD)/gen/tl_datapath.skel.h: $(BUILD)/bpf/datapath.bpf.o
	@mkdir -p $(dir $@)
	bpftool gen skeleton $< name tl_datapath > $@.tmp && mv $@.tmp $@

define flavour
# $(1) = output dir, $(2) = extra flags
$(1)/gen/schema_text.c: $(SCHEMAS) scripts/embed.sh
	@mkdir -p $$(dir $$@)
	sh scripts/embed.sh tulle_schema_text $(SCHEMAS) > $$@

$(patsubst %.c,$(1)/obj/%.o,$(wildcard src/datapath/*.c)): $(BUILD)/gen/tl_datapath.skel.h

$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $(2) -c $$< -o $$@

$(1)/libtulle.a: $(patsubst %.c,$(1)/obj/%.o,$(LIB_SRCS)) $(1)/obj/gen/schema_text.o
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/obj/gen/schema_text.o: $(1)/gen/schema_text.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $(2) -c $$< -o $$@

$(1)/bin/tulle: $(1)/obj/src/cli/main.o $(1)/libtulle.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS)

$(1)/bin/tulle-cni: $(patsubst %.c,$(1)/obj/%.o,$(filter-out %_test.c,$(wildcard src/cni/*.c))) $(1)/libtulle.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS)

$(1)/test/%: $(1)/obj/%.o $(1)/libtulle.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS)
endef

$(eval $(call flavour,$(BUILD),))
$(eval $(call flavour,$(BUILD)/asan,$(SAN)))

BINS      := $(BUILD)/bin/tulle $(BUILD)/bin/tulle-cni
ASAN_BINS := $(BUILD)/asan/bin/tulle $(BUILD)/asan/bin/tulle-cni
UNIT_TESTS := $(patsubst %.c,$(BUILD)/asan/test/%,$(TEST_SRCS))

all: $(BINS)

setup:
	@bash scripts/setup.sh

# libFuzzer harnesses (clang only).
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_LIB_SRCS := $(LIB_SRCS) $(BUILD)/gen/schema_text.c
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(BUILD)/gen/schema_text.c $(BUILD)/gen/tl_datapath.skel.h
	@mkdir -p $(dir $@)
	$(CLANG) -std=gnu11 -g -O1 -D_GNU_SOURCE -I$(BUILD)/gen -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(FUZZ_LIB_SRCS) $(LIBS)

build-tests: $(BINS) $(ASAN_BINS) $(UNIT_TESTS) $(FUZZ_BINS)

# The ASan+UBSan flavour alone (what make test runs the e2e tests with):
# TULLE_BIN=$PWD/build/asan/bin/tulle bash tests/e2e/NAME.sh
asan: $(ASAN_BINS) $(UNIT_TESTS)

test: setup
	@$(MAKE) --no-print-directory build-tests
	@BUILD=$(BUILD) bash tests/run.sh

$(BUILD)/bench/%: bench/%.c $(BUILD)/libtulle.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -pthread -o $@ $^ $(LIBS)

# Longer suites: every upstream policy scenario on a live cluster.
test-long: setup build-tests
	@TULLE_BIN=$(PWD)/$(BUILD)/asan/bin/tulle POLICY_LIVE_ALL=1 bash tests/e2e/policy_live.sh | tee /dev/stderr | \
	  awk '/^PASS /{p++} /^FAIL /{f++} /^SKIP /{s++} END {printf "%d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0)}'

bench: setup $(BINS)
	@BUILD=$(BUILD) bash bench/run.sh

# The README's first command.
demo: setup
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

clean:
	rm -rf $(BUILD)

.PHONY: all setup test test-long build-tests asan bench demo clean
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
