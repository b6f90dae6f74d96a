# wasmcell: build, demo and tests.
#
#   make demo   build everything and run the C host demo (the main job)
#   make test   Rust, C and Python suites (what CI runs)
#   make deps   install what the build and the suites need (pytest, the
#               wasm32 Rust target when reachable, Debian packages)
#
# Everything is built once, in the release profile, in one target directory
# shared by the Rust tests, the C programs and the Python package.

CARGO      ?= cargo
PYTHON     ?= python3
CC         ?= cc
TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR := $(TARGET_DIR)
LIB_DIR    := $(TARGET_DIR)/release
LIB        := $(LIB_DIR)/libwasmcell.so
BUILD      := build
GUESTS     := $(BUILD)/guests
CFLAGS     ?= -O2 -g -Wall -Wextra -Werror -std=gnu11
C_FLAGS    := $(CFLAGS) -Iinclude
C_LIBS     := -L$(LIB_DIR) -lwasmcell -Wl,-rpath,$(LIB_DIR) -lpthread
# The C suite runs under AddressSanitizer (invalid accesses, leaks on the C
# side) and again under valgrind memcheck (no definite leaks, no invalid reads).
ASAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
VALGRIND   ?= valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --quiet

HAS_WASM32 := $(shell rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null | xargs -r test -d && echo yes)

.PHONY: all lib guests examples demo hot-reload test test-rust test-c test-python test-python-install bench bench-c deps check-header lint clean

all: lib examples guests

lib:
	$(CARGO) build --release --lib

# ---- guest programs -----------------------------------------------------

guests: $(GUESTS)/.stamp

$(GUESTS)/.stamp: $(wildcard guest/*) Makefile
	@mkdir -p $(GUESTS)
	cp guest/*.wat $(GUESTS)/
ifeq ($(HAS_WASM32),yes)
	rustc guest/example-program.rs --target wasm32-unknown-unknown --crate-type cdylib -O -C strip=debuginfo -o $(GUESTS)/example_program.wasm
else
	@echo "note: the wasm32-unknown-unknown Rust target is not installed (run 'make deps');"
	@echo "      the demo uses guest/hello.wat, the WAT twin of guest/example-program.rs"
	rm -f $(GUESTS)/example_program.wasm
endif
	@touch $@

# ---- C programs -------------------------------------------------------------

C_EXAMPLES := $(BUILD)/demo $(BUILD)/basic-runtime $(BUILD)/callbacks $(BUILD)/hot-reload $(BUILD)/process-image $(BUILD)/bench
C_TESTS    := $(BUILD)/test_api $(BUILD)/test_threads

examples: lib $(C_EXAMPLES)

$(BUILD)/%: examples-c/%.c include/wasmcell.h lib
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) $< -o $@ $(C_LIBS)

$(BUILD)/test_%: tests/c/test_%.c tests/c/check.h include/wasmcell.h lib
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) $< -o $@ $(C_LIBS)

$(BUILD)/asan_test_%: tests/c/test_%.c tests/c/check.h include/wasmcell.h lib
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) $(ASAN_FLAGS) $< -o $@ $(C_LIBS)

# ---- the main job ---------------------------------------------------------

demo: all
	$(BUILD)/demo $(GUESTS)

# Online change under load: 1 kHz polling while another thread swaps versions.
HOT_RELOAD_SECONDS ?= 60
hot-reload: all
	$(BUILD)/hot-reload $(GUESTS) $(HOT_RELOAD_SECONDS)

# ---- tests ----------------------------------------------------------------

test: test-rust test-c test-python test-python-install

test-rust:
	$(CARGO) test --release

test-c: lib $(C_TESTS) $(BUILD)/asan_test_api
	$(BUILD)/test_api tests/fixtures
	$(BUILD)/test_threads tests/fixtures
	ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:allow_user_segv_handler=1:detect_stack_use_after_return=0 \
	  $(BUILD)/asan_test_api tests/fixtures
	@if command -v valgrind >/dev/null; then \
	  echo "valgrind memcheck: test_api"; \
	  $(VALGRIND) --suppressions=tests/c/valgrind.supp $(BUILD)/test_api tests/fixtures; \
	else echo "valgrind not installed (run 'make deps'): memcheck run skipped"; exit 1; fi

test-python: lib
	@if [ -d bindings/python/tests ]; then \
	  $(PYTHON) -c "import pytest" 2>/dev/null || { echo "pytest is missing: run 'make deps'"; exit 1; }; \
	  WASMCELL_LIBRARY=$(LIB) PYTHONPATH=bindings/python/src $(PYTHON) -m pytest -q bindings/python/tests; \
	else echo "no Python suite yet"; fi

# ---- benchmarks (not part of make test: figures, not pass/fail) -------------

bench: bench-c
	$(CARGO) bench --bench ratios
	$(CARGO) bench --bench scale

# The C-ABI figures measured from C (examples-c/bench.c).
bench-c: all
	$(BUILD)/bench

# The user's path: pip install the package into a fresh virtualenv (it builds
# the Rust library with setuptools-rust, sharing this target directory) and
# run an example with no PYTHONPATH or WASMCELL_LIBRARY.
test-python-install: lib
	rm -rf $(BUILD)/venv
	$(PYTHON) -m venv $(BUILD)/venv
	$(BUILD)/venv/bin/pip install -q ./bindings/python
	cd $(BUILD) && env -u WASMCELL_LIBRARY -u PYTHONPATH venv/bin/python $(CURDIR)/examples-python/basic.py $(CURDIR)/guest/hello.wat 3

# ---- maintenance ------------------------------------------------------------

deps:
	./scripts/install-deps

check-header: lib
	@git diff --exit-code -- include/wasmcell.h || { echo "include/wasmcell.h is stale: commit the regenerated header"; exit 1; }

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
