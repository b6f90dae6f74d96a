# wasmcell: build, demo and tests.
#
#   make demo   build everything and run the C host demo (the main job)
#   make test   Rust, C, C++, Python and packaging suites (what CI runs)
#   make deps   install what the build and the suites need (Debian packages,
#               the wasm32 Rust target when reachable, pytest in build/pyenv);
#               demo and test run it once by themselves (build/.deps-stamp)
#   make install / make uninstall  [PREFIX=/usr/local] [DESTDIR=]
#               libraries, headers, pkg-config file and CMake package
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
# The version lives in Cargo.toml only ([package] version = "X.Y.Z").
VERSION       := $(shell sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
# Set-up done once by demo and test (scripts/install-deps); Python test
# tools live in a project-local virtual environment.
PYENV      := build/pyenv
DEPS_STAMP := build/.deps-stamp
BUILD      := build
GUESTS     := $(BUILD)/guests
CFLAGS     ?= -O2 -g -Wall -Wextra -Werror -std=gnu11
C_FLAGS    := $(CFLAGS) -Iinclude
C_LIBS     := -L$(LIB_DIR) -lwasmcell -Wl,-rpath,$(LIB_DIR) -lpthread
# The C suite runs under AddressSanitizer (invalid accesses, leaks on the C
# side) and again under valgrind memcheck (no definite leaks, no invalid reads;
# fair scheduling, so a thread polling flat out cannot starve the others).
ASAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
VALGRIND   ?= valgrind --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --quiet

HAS_WASM32 := $(shell rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null | xargs -r test -d && echo yes)

.PHONY: all lib guests examples demo hot-reload test test-rust test-c test-python test-python-install bench bench-c deps check-header lint clean

all: lib examples guests

# The library's SONAME is libwasmcell.so.MAJOR (build.rs): hosts linked in
# the tree (-L$(LIB_DIR)) look for that name at run time, hence the link.
# cargo decides whether the library is stale; binaries linked against it
# depend on the file, so they relink only when cargo actually rewrote it.
lib: $(LIB)

$(LIB): FORCE
	$(CARGO) build --release --lib
	@ln -sfn libwasmcell.so $(LIB_DIR)/libwasmcell.so.$(VERSION_MAJOR)

.PHONY: FORCE
FORCE:

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

# Programs on the guest SDKs (guest-sdk/): guest/rust/*.rs and the Rust SDK's
# examples on the wasmcell-guest crate (built as an rlib, no_std, for
# wasm32-unknown-unknown; std_stats with the crate's std feature for
# wasm32-wasip1), guest/c/*.c and the C SDK's examples with clang + lld for
# wasm32 (freestanding, no libc; libc_median on wasi-libc, as a reactor).
# Into $(GUESTS) as NAME_rust.wasm and NAME_c.wasm. A missing toolchain is
# reported, loudly, every time; the SDK tests then report those programs
# NOT RUN and keep testing the WAT twins (guest/pid.wat, guest/sequencer.wat,
# guest/conveyor.wat).
.PHONY: sdk-guests test-guest-sdk
WASM_CC        ?= clang
HAS_WASM_CC    := $(shell printf 'int x;' | $(WASM_CC) --target=wasm32 -nostdlib -Wl,--no-entry -x c - -o /dev/null 2>/dev/null && echo yes)
HAS_WASIP1     := $(shell rustc --print target-libdir --target wasm32-wasip1 2>/dev/null | xargs -r test -d && echo yes)
HAS_WASI_LIBC  := $(shell printf '\043include <stdio.h>\nint x;' | $(WASM_CC) --target=wasm32-wasi -mexec-model=reactor -x c - -o /dev/null 2>/dev/null && echo yes)
WASM_CFLAGS    := --target=wasm32 -nostdlib -O2 -std=c11 -Wall -Wextra -Werror -Iguest-sdk/c -Wl,--no-entry -Wl,--export-dynamic
SDK_RUST_SRC   := $(wildcard guest-sdk/rust/src/*.rs)
SDK_RLIB       := $(BUILD)/guest-sdk/wasm32-unknown-unknown/libwasmcell_guest.rlib
SDK_STD_RLIB   := $(BUILD)/guest-sdk/wasm32-wasip1/libwasmcell_guest.rlib
SDK_RUSTC       = rustc --edition 2021 --crate-type cdylib -O -C strip=debuginfo
SDK_RUST_GUESTS := $(patsubst guest/rust/%.rs,$(GUESTS)/%_rust.wasm,$(wildcard guest/rust/*.rs)) \
                   $(GUESTS)/hello_rust.wasm $(GUESTS)/echo_types_rust.wasm
SDK_C_GUESTS   := $(patsubst guest/c/%.c,$(GUESTS)/%_c.wasm,$(wildcard guest/c/*.c)) \
                  $(patsubst guest-sdk/c/examples/%.c,$(GUESTS)/%_c.wasm,$(filter-out %/libc_median.c,$(wildcard guest-sdk/c/examples/*.c)))

guests: sdk-guests

sdk-guests: $(if $(HAS_WASM32),$(SDK_RUST_GUESTS)) $(if $(HAS_WASIP1),$(GUESTS)/std_stats_rust.wasm) $(if $(HAS_WASM_CC),$(SDK_C_GUESTS)) $(if $(HAS_WASI_LIBC),$(GUESTS)/libc_median_c.wasm)
ifneq ($(HAS_WASM32),yes)
	@echo "*** NOT BUILT: the Rust SDK guests ($(notdir $(SDK_RUST_GUESTS))): no wasm32-unknown-unknown Rust target."
	@echo "***            Run 'make deps' (or 'rustup target add wasm32-unknown-unknown')."
	@rm -f $(SDK_RUST_GUESTS)
endif
ifneq ($(HAS_WASIP1),yes)
	@echo "*** NOT BUILT: std_stats_rust.wasm (the Rust SDK with std): no wasm32-wasip1 Rust target."
	@echo "***            Run 'make deps' (or 'rustup target add wasm32-wasip1')."
	@rm -f $(GUESTS)/std_stats_rust.wasm
endif
ifneq ($(HAS_WASM_CC),yes)
	@echo "*** NOT BUILT: the C SDK guests ($(notdir $(SDK_C_GUESTS))): '$(WASM_CC)' cannot build wasm32."
	@echo "***            Run 'make deps' (or 'apt-get install clang lld')."
	@rm -f $(SDK_C_GUESTS)
endif
ifneq ($(HAS_WASI_LIBC),yes)
	@echo "*** NOT BUILT: libc_median_c.wasm (C on wasi-libc): '$(WASM_CC)' cannot build wasm32-wasi programs."
	@echo "***            Run 'make deps' (or 'apt-get install clang lld wasi-libc libclang-rt-N-dev-wasm32', N: clang's major version)."
	@rm -f $(GUESTS)/libc_median_c.wasm
endif

$(SDK_RLIB): $(SDK_RUST_SRC)
	@mkdir -p $(dir $@)
	rustc --edition 2021 --crate-type rlib --crate-name wasmcell_guest --target wasm32-unknown-unknown -O \
	  --cfg 'feature="panic-handler"' guest-sdk/rust/src/lib.rs -o $@

$(SDK_STD_RLIB): $(SDK_RUST_SRC)
	@mkdir -p $(dir $@)
	rustc --edition 2021 --crate-type rlib --crate-name wasmcell_guest --target wasm32-wasip1 -O \
	  --cfg 'feature="std"' guest-sdk/rust/src/lib.rs -o $@

$(GUESTS)/%_rust.wasm: guest/rust/%.rs $(SDK_RLIB)
	@mkdir -p $(GUESTS)
	$(SDK_RUSTC) --target wasm32-unknown-unknown --extern wasmcell_guest=$(SDK_RLIB) $< -o $@

$(GUESTS)/std_stats_rust.wasm: guest-sdk/rust/examples/std_stats.rs $(SDK_STD_RLIB)
	@mkdir -p $(GUESTS)
	$(SDK_RUSTC) --target wasm32-wasip1 --extern wasmcell_guest=$(SDK_STD_RLIB) $< -o $@

$(GUESTS)/%_rust.wasm: guest-sdk/rust/examples/%.rs $(SDK_RLIB)
	@mkdir -p $(GUESTS)
	$(SDK_RUSTC) --target wasm32-unknown-unknown --extern wasmcell_guest=$(SDK_RLIB) $< -o $@

$(GUESTS)/%_c.wasm: guest/c/%.c guest-sdk/c/wasmcell_guest.h
	@mkdir -p $(GUESTS)
	$(WASM_CC) $(WASM_CFLAGS) $< -o $@

$(GUESTS)/%_c.wasm: guest-sdk/c/examples/%.c guest-sdk/c/wasmcell_guest.h
	@mkdir -p $(GUESTS)
	$(WASM_CC) $(WASM_CFLAGS) $< -o $@

$(GUESTS)/libc_median_c.wasm: guest-sdk/c/examples/libc_median.c guest-sdk/c/wasmcell_guest.h
	@mkdir -p $(GUESTS)
	$(WASM_CC) --target=wasm32-wasi -mexec-model=reactor -O2 -std=c11 -Wall -Wextra -Werror -Iguest-sdk/c $< -o $@

# The guest SDK suite (bindings/python/tests/test_guest_sdk.py): every SDK
# program above and its WAT twin, checked against the process image it
# declares. Programs whose toolchain is missing are reported NOT RUN (they
# fail with WASMCELL_REQUIRE_GUEST_TOOLCHAINS=1, as in CI).
test-guest-sdk: lib guests
	@$(PYENV)/bin/python -c "import pytest" 2>/dev/null || { echo "pytest is missing from $(PYENV): run 'make deps'"; exit 1; }
	WASMCELL_LIBRARY=$(LIB) WASMCELL_GUESTS_DIR=$(GUESTS) PYTHONPATH=bindings/python/src \
	  $(PYENV)/bin/python -m pytest -q -rs bindings/python/tests/test_guest_sdk.py

# ---- C programs -------------------------------------------------------------

C_EXAMPLES := $(BUILD)/demo $(BUILD)/basic-runtime $(BUILD)/callbacks $(BUILD)/hot-reload $(BUILD)/process-image $(BUILD)/bench $(BUILD)/online-change
# One binary per concept (tests/README.md says what goes where); each runs
# plain, under AddressSanitizer and under valgrind memcheck in test-c.
C_TESTS    := $(BUILD)/test_runtime $(BUILD)/test_program $(BUILD)/test_host $(BUILD)/test_image \
              $(BUILD)/test_swap $(BUILD)/test_threads $(BUILD)/test_signals $(BUILD)/test_sandbox $(BUILD)/test_online \
              $(BUILD)/test_chaos $(BUILD)/test_labview_pattern $(BUILD)/test_messages

examples: lib $(C_EXAMPLES)

$(BUILD)/%: examples-c/%.c include/wasmcell.h $(LIB)
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) $< -o $@ $(C_LIBS)

$(BUILD)/test_%: tests/c/test_%.c tests/c/check.h include/wasmcell.h $(LIB)
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) $< -o $@ $(C_LIBS)

$(BUILD)/asan_test_%: tests/c/test_%.c tests/c/check.h include/wasmcell.h $(LIB)
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) $(ASAN_FLAGS) $< -o $@ $(C_LIBS)

# ---- the main job ---------------------------------------------------------

demo: $(DEPS_STAMP) all
	$(BUILD)/demo $(GUESTS)

# Online change under load: 1 kHz polling while another thread swaps versions.
HOT_RELOAD_SECONDS ?= 60
hot-reload: all
	$(BUILD)/hot-reload $(GUESTS) $(HOT_RELOAD_SECONDS)

# Online change the careful way (examples-c/online-change.c): a conveyor at
# 1 kHz gets a new version shadow-run on live inputs and committed, then a
# broken one caught in its shadow run and discarded; fails on a missed
# deadline beyond its tolerance or a fault of the running program.
.PHONY: online-change
online-change: all
	$(BUILD)/online-change $(GUESTS)

# ---- tests ----------------------------------------------------------------

test: $(DEPS_STAMP) test-rust test-c test-soak test-cpp test-python test-python-install test-package

# The soak in short (every phase, 1 000 cycles, 10 s of the 1 kHz loop over
# 100 programs): memory, descriptors, threads and mappings must stay flat.
.PHONY: test-soak
test-soak: $(BUILD)/soak
	$(BUILD)/soak tests/fixtures 10 1000

# Tests that need a guest toolchain (wasm32 Rust targets, clang with
# wasi-libc) say NOT RUN when it is missing; the list is printed at the end.
# With WASMCELL_REQUIRE_GUEST_TOOLCHAINS=1 (CI) they fail instead.
test-rust:
	@rm -f $(TARGET_DIR)/guest-tests-not-run.txt
	$(CARGO) test --release
	@if [ -s $(TARGET_DIR)/guest-tests-not-run.txt ]; then \
	  echo "==== Rust tests NOT RUN for lack of a guest toolchain (run 'make deps'):"; \
	  sort -u $(TARGET_DIR)/guest-tests-not-run.txt; fi

# test_sandbox's plain run has a bounded address space (each guest memory
# reserves ~6 GiB of it, and it has at most two at once, during a reset): a regression that
# lets a guest allocate gigabytes fails the test instead of exhausting the
# machine.
SANDBOX_VMEM_KIB ?= 25165824

# The chaos client also runs under ThreadSanitizer (C side: reports inside
# the uninstrumented Rust library are suppressed, tests/c/tsan.supp).
$(BUILD)/tsan_test_chaos: tests/c/test_chaos.c tests/c/check.h include/wasmcell.h $(LIB)
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) -fsanitize=thread $< -o $@ $(C_LIBS)

test-c: lib $(C_TESTS) $(C_TESTS:$(BUILD)/test_%=$(BUILD)/asan_test_%) $(BUILD)/tsan_test_chaos
	@command -v valgrind >/dev/null || { echo "valgrind not installed (run 'make deps'): the C suite needs it"; exit 1; }
	@failed=""; for t in $(C_TESTS:$(BUILD)/%=%); do \
	  vmem=unlimited; [ $$t = test_sandbox ] && vmem=$(SANDBOX_VMEM_KIB); \
	  echo "== $$t (ulimit -v $$vmem)"; \
	  (ulimit -v $$vmem && exec $(BUILD)/$$t tests/fixtures) || failed="$$failed $$t"; \
	  echo "== $$t under AddressSanitizer"; \
	  WASMCELL_TEST_UNDER_TOOL=AddressSanitizer ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:allow_user_segv_handler=1:detect_stack_use_after_return=0 \
	    $(BUILD)/asan_$$t tests/fixtures || failed="$$failed asan_$$t"; \
	  echo "== $$t under valgrind memcheck"; \
	  WASMCELL_TEST_UNDER_TOOL=valgrind $(VALGRIND) --suppressions=tests/c/valgrind.supp $(BUILD)/$$t tests/fixtures || failed="$$failed valgrind:$$t"; \
	done; \
	echo "== test_chaos under ThreadSanitizer"; \
	WASMCELL_TEST_UNDER_TOOL=ThreadSanitizer TSAN_OPTIONS="suppressions=tests/c/tsan.supp report_signal_unsafe=0 halt_on_error=1 exitcode=66" \
	  $(BUILD)/tsan_test_chaos tests/fixtures random || failed="$$failed tsan_test_chaos"; \
	if [ -n "$$failed" ]; then echo "C suite FAILED:$$failed"; exit 1; fi; \
	echo "C suite: every binary passed plain, under AddressSanitizer and under valgrind; the chaos client under ThreadSanitizer"

test-python: lib
	@if [ -d bindings/python/tests ]; then \
	  $(PYENV)/bin/python -c "import pytest" 2>/dev/null || { echo "pytest is missing from $(PYENV): run 'make deps'"; exit 1; }; \
	  WASMCELL_LIBRARY=$(LIB) PYTHONPATH=bindings/python/src $(PYENV)/bin/python -m pytest -q bindings/python/tests; \
	else echo "no Python suite yet"; fi

# ---- benchmarks (not part of make test: figures, not pass/fail) -------------

# Every figure README.md and docs/benchmarks.md quote comes from one run of
# this target (hot-reload last: it exits non-zero on a missed poll).
bench: bench-c
	$(CARGO) bench --bench ratios
	$(CARGO) bench --bench scale
	$(CARGO) bench --bench jitter
	$(BUILD)/hot-reload $(GUESTS) $(HOT_RELOAD_SECONDS)

# The C-ABI figures measured from C (examples-c/bench.c).
bench-c: all
	$(BUILD)/bench

# ---- reliability (not part of make test: see docs/reliability.md) ------------

# Module fuzzer (examples/fuzz_modules.rs): generated and broken modules
# through load, polls under small budgets, a differential check against raw
# wasmer, reset, hot swap and unload. Each failure names its seed;
# fuzz-replay runs that seed again and prints every step.
FUZZ_SECONDS ?= 60
FUZZ_SEED    ?= $(shell date +%s)
.PHONY: fuzz fuzz-replay soak
fuzz:
	$(CARGO) run --release --example fuzz_modules -- --seed $(FUZZ_SEED) --seconds $(FUZZ_SECONDS)

fuzz-replay:
	@test -n "$(SEED)" || { echo "usage: make fuzz-replay SEED=N (the seed a failure names)"; exit 2; }
	$(CARGO) run --release --example fuzz_modules -- --replay $(SEED)

# Soak (examples-c/soak.c): load/unload, reload and runtime new/free cycles,
# then a 1 kHz loop over 100 programs with faults and hot swaps; fails when
# resident memory, open descriptors, threads or mappings grow.
SOAK_SECONDS ?= 180
soak: lib $(BUILD)/soak
	$(BUILD)/soak tests/fixtures $(SOAK_SECONDS)

# The user's path: pip install the package into a fresh virtualenv (it builds
# the Rust library with setuptools-rust, sharing this target directory) and
# run an example with no PYTHONPATH or WASMCELL_LIBRARY.
test-python-install: lib
	rm -rf $(BUILD)/venv
	$(PYTHON) -m venv $(BUILD)/venv
	$(BUILD)/venv/bin/pip install -q ./bindings/python
	cd $(BUILD) && env -u WASMCELL_LIBRARY -u PYTHONPATH venv/bin/python $(CURDIR)/examples-python/basic.py $(CURDIR)/guest/hello.wat 3

# ---- C++ wrapper -------------------------------------------------------------

# tests/cpp: include/wasmcell.hpp against the built library, plain, under
# AddressSanitizer + UBSan, and under valgrind memcheck.
.PHONY: test-cpp
CXX_TEST_FLAGS := -std=c++17 -O1 -g -Wall -Wextra -Werror -pedantic -Iinclude
CPP_TEST_DEPS  := tests/cpp/test_wrapper.cpp tests/cpp/check.hpp include/wasmcell.hpp include/wasmcell.h $(LIB)
CPP_ASAN_RUN   := ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:allow_user_segv_handler=1:detect_stack_use_after_return=0

$(BUILD)/cpp_test_wrapper: $(CPP_TEST_DEPS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXX_TEST_FLAGS) $< -o $@ $(C_LIBS)

$(BUILD)/cpp_asan_test_wrapper: $(CPP_TEST_DEPS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXX_TEST_FLAGS) $(ASAN_FLAGS) -fsanitize=undefined $< -o $@ $(C_LIBS)

test-cpp: lib $(BUILD)/cpp_test_wrapper $(BUILD)/cpp_asan_test_wrapper
	$(BUILD)/cpp_test_wrapper tests/fixtures guest
	$(CPP_ASAN_RUN) $(BUILD)/cpp_asan_test_wrapper tests/fixtures guest
	@command -v valgrind >/dev/null || { echo "valgrind not installed (run 'make deps')"; exit 1; }
	$(VALGRIND) --suppressions=tests/c/valgrind.supp $(BUILD)/cpp_test_wrapper tests/fixtures guest

# ---- install (C and C++ projects) ----------------------------------------------

# make install [PREFIX=/usr/local] [DESTDIR=/staging] [LIBDIR=$(PREFIX)/lib]
# installs lib/libwasmcell.so.$(VERSION) (SONAME libwasmcell.so.$(VERSION_MAJOR))
# and its links, lib/libwasmcell.a, include/wasmcell.h and wasmcell.hpp,
# lib/pkgconfig/wasmcell.pc and lib/cmake/wasmcell/ (relocatable CMake
# package: wasmcell::wasmcell, wasmcell::wasmcell_static). make uninstall
# (same variables) removes exactly those files. See packaging/install.sh.
.PHONY: install uninstall test-package
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DESTDIR     ?=
# System libraries the static library needs (pkg-config Libs.private, CMake
# INTERFACE_LINK_LIBRARIES of wasmcell::wasmcell_static).
STATIC_LIBS := -lpthread -ldl -lm
INSTALL_ENV  = VERSION='$(VERSION)' PREFIX='$(PREFIX)' LIBDIR='$(LIBDIR)' INCLUDEDIR='$(INCLUDEDIR)' \
               DESTDIR='$(DESTDIR)' LIB_DIR='$(LIB_DIR)' STATIC_LIBS='$(STATIC_LIBS)'

install: lib
	$(INSTALL_ENV) ./packaging/install.sh install

uninstall:
	$(INSTALL_ENV) ./packaging/install.sh uninstall

# Installs into prefixes under build/package, builds and runs hosts the way
# users do (pkg-config, CMake shared and static, plain -lwasmcell), checks
# the headers in strict C99/C11/C++17 modes, uninstalls (tests/package/run).
test-package: lib
	VERSION='$(VERSION)' BUILD='$(BUILD)' MAKE_PROGRAM='$(MAKE_COMMAND)' CC='$(CC)' CXX='$(CXX)' ./tests/package/run

# ---- maintenance ------------------------------------------------------------

# `make deps` always runs the script; demo and test run it once, through the
# stamp (rerun when the script changes).
deps:
	PYTHON=$(PYTHON) PYENV=$(PYENV) ./scripts/install-deps
	@mkdir -p $(dir $(DEPS_STAMP)) && touch $(DEPS_STAMP)

$(DEPS_STAMP): scripts/install-deps
	PYTHON=$(PYTHON) PYENV=$(PYENV) ./scripts/install-deps
	@mkdir -p $(dir $@) && touch $@

check-header: lib
	@git diff --exit-code -- include/wasmcell.h || { echo "include/wasmcell.h is stale: commit the regenerated header"; exit 1; }

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

clean:
	rm -rf $(BUILD)
	$(CARGO) clean

# ---- Windows: wasmcell.dll cross-built with mingw, tested under Wine ------------

# make windows       build/windows/wasmcell.dll and its import library
#                    libwasmcell.dll.a (x86_64-pc-windows-gnu, wasmer 6.1.0)
# make test-windows  the Rust suite (cargo's target runner is Wine), the C
#                    suites and the demo cross-built against the DLL, under Wine
#
# Needs x86_64-w64-mingw32-gcc, wine and the x86_64-pc-windows-gnu Rust
# target (scripts/install-deps --windows installs them). Wine runs in a
# project-local prefix. Wine 8.0 lacks bcryptprimitives.dll (ProcessPrng,
# imported by every Rust >= 1.78 Windows binary): a stand-in built from
# tests/windows/bcryptprimitives.c is placed beside the test executables
# only, never in build/windows/.
.PHONY: windows test-windows test-windows-rust test-windows-c windows-deps
WIN_TARGET  := x86_64-pc-windows-gnu
WIN_CC      ?= x86_64-w64-mingw32-gcc
WIN_OBJDUMP ?= x86_64-w64-mingw32-objdump
WINE        ?= wine
WIN_REL     := $(TARGET_DIR)/$(WIN_TARGET)/release
WIN_OUT     := $(BUILD)/windows
WIN_TESTDIR := $(BUILD)/windows-tests
WIN_CFLAGS  := -O2 -g -Wall -Wextra -Werror -std=gnu11 -Iinclude
WIN_STANDIN := $(WIN_TESTDIR)/bcryptprimitives.dll
export WINEPREFIX ?= $(CURDIR)/$(BUILD)/wineprefix
export WINEDEBUG  ?= -all
# No Mono or Gecko install prompts when the prefix is created.
export WINEDLLOVERRIDES ?= mscoree,mshtml=
# DLLs wasmcell.dll may import: Windows system DLLs only, so LabVIEW can load
# it from any folder (no mingw runtime such as libgcc_s or libwinpthread).
WIN_SYSTEM_DLLS := kernel32.dll ntdll.dll advapi32.dll bcrypt.dll bcryptprimitives.dll \
                   ws2_32.dll userenv.dll msvcrt.dll ucrtbase.dll shell32.dll ole32.dll \
                   oleaut32.dll user32.dll psapi.dll dbghelp.dll synchronization.dll \
                   secur32.dll crypt32.dll
C_WIN_TESTS := $(patsubst tests/c/%.c,$(WIN_TESTDIR)/%.exe,$(wildcard tests/c/test_*.c))

windows-deps:
	@command -v $(WIN_CC) >/dev/null && command -v $(WINE) >/dev/null && \
	  rustc --print target-libdir --target $(WIN_TARGET) 2>/dev/null | xargs -r test -d || \
	  { echo "the Windows leg needs mingw, Wine and the $(WIN_TARGET) Rust target: run 'scripts/install-deps --windows'"; exit 1; }

windows: windows-deps
	$(CARGO) build --release --lib --target $(WIN_TARGET)
	@mkdir -p $(WIN_OUT)
	cp $(WIN_REL)/wasmcell.dll $(WIN_REL)/libwasmcell.dll.a include/wasmcell.h $(WIN_OUT)/
	@bad=$$($(WIN_OBJDUMP) -p $(WIN_OUT)/wasmcell.dll | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | \
	  while read -r dll; do case "$$dll" in api-ms-win-*) continue;; esac; \
	    case " $(WIN_SYSTEM_DLLS) " in *" $$dll "*) ;; *) echo "$$dll";; esac; done); \
	  if [ -n "$$bad" ]; then echo "wasmcell.dll imports non-system DLLs: $$bad"; exit 1; fi; \
	  echo "$(WIN_OUT)/wasmcell.dll imports system DLLs only:" \
	    $$($(WIN_OBJDUMP) -p $(WIN_OUT)/wasmcell.dll | sed -n 's/^[[:space:]]*DLL Name: //p' | tr '\n' ' ')

$(WIN_STANDIN): tests/windows/bcryptprimitives.c
	@mkdir -p $(WIN_TESTDIR)
	$(WIN_CC) -O2 -Wall -Wextra -Werror -shared $< -o $@ -ladvapi32

# The tests link against the import library; the demo links against the
# DLL itself, as a client with only wasmcell.h and wasmcell.dll would.
$(WIN_TESTDIR)/test_%.exe: tests/c/test_%.c tests/c/check.h include/wasmcell.h windows
	@mkdir -p $(WIN_TESTDIR)
	$(WIN_CC) $(WIN_CFLAGS) $< -o $@ $(WIN_OUT)/libwasmcell.dll.a -static -lpthread

$(WIN_TESTDIR)/demo.exe: examples-c/demo.c include/wasmcell.h windows
	@mkdir -p $(WIN_TESTDIR)
	$(WIN_CC) $(WIN_CFLAGS) $< -o $@ $(WIN_OUT)/wasmcell.dll -static -lpthread

test-windows: test-windows-rust test-windows-c

# cargo runs each test executable with Wine. The stand-in DLL goes beside
# them (target/.../deps). Tests that build guests with the Linux rustc or
# clang cannot reach them from inside Wine: they say NOT RUN here and run in
# the Linux leg (hence WASMCELL_REQUIRE_GUEST_TOOLCHAINS is unset).
test-windows-rust: windows-deps $(WIN_STANDIN)
	$(CARGO) test --release --target $(WIN_TARGET) --no-run
	@mkdir -p $(WIN_REL)/deps && cp $(WIN_STANDIN) $(WIN_REL)/deps/
	@rm -f $(TARGET_DIR)/$(WIN_TARGET)/guest-tests-not-run.txt
	env -u WASMCELL_REQUIRE_GUEST_TOOLCHAINS CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$(WINE) \
	  $(CARGO) test --release --target $(WIN_TARGET) --no-fail-fast
	@echo "==== Not built on Windows: tests/fuzz_smoke.rs and examples/fuzz_modules.rs (POSIX crash reporter; generator matched to wasmer 7)"
	@if [ -s $(TARGET_DIR)/$(WIN_TARGET)/guest-tests-not-run.txt ]; then \
	  echo "==== Rust tests NOT RUN under Wine (guest toolchains are Linux programs; the Linux leg runs them):"; \
	  sort -u $(TARGET_DIR)/$(WIN_TARGET)/guest-tests-not-run.txt; fi

test-windows-c: windows $(WIN_STANDIN) $(C_WIN_TESTS) $(WIN_TESTDIR)/demo.exe guests
	cp $(WIN_OUT)/wasmcell.dll $(WIN_TESTDIR)/
	@failed=""; for t in $(C_WIN_TESTS); do \
	  echo "== $$(basename $$t) under Wine"; \
	  $(WINE) $$t tests/fixtures || failed="$$failed $$(basename $$t)"; \
	done; \
	echo "== demo.exe under Wine"; \
	$(WINE) $(WIN_TESTDIR)/demo.exe $(GUESTS) || failed="$$failed demo.exe"; \
	if [ -n "$$failed" ]; then echo "Windows C suite FAILED:$$failed"; exit 1; fi; \
	echo "Windows C suite: every binary and the demo passed under Wine"
