/* Programs: load (every status and what its message names), poll and the
 * fault kinds, reset, budgets (per poll, and in the start function, `init`
 * and `wasmcell_image`), statistics, names, error messages and unload.
 * Usage: test_program [fixtures-dir] [name-filter] */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- load ------------------------------------------------------------------------- */

struct load_case {
    const char *what;
    const char *fixture; /* or NULL: `text` is the module */
    const char *text;
    wasmcell_status expected;
    const char *message; /* words only this error's message contains */
};

static const struct load_case load_cases[] = {
    {"binary garbage", NULL, "\x00" "asm\x01\x00\x00\x00\xff\xff", WASMCELL_ERR_COMPILE, "invalid WebAssembly module"},
    {"not WAT", NULL, "hello", WASMCELL_ERR_COMPILE, "no \\0asm header, and not valid WAT"},
    {"not UTF-8", NULL, "\xff\xfe\xfd", WASMCELL_ERR_COMPILE, "not UTF-8 WAT text"},
    {"missing import", "missing_import.wat", NULL, WASMCELL_ERR_LINK, "missing import `plant.read_valve`"},
    {"no poll", "no_poll.wat", NULL, WASMCELL_ERR_LINK, "does not export a `poll` function"},
    {"poll with a parameter", "bad_poll_signature.wat", NULL, WASMCELL_ERR_LINK, "export `poll` has type"},
    {"poll that is a global", NULL, "(module (global (export \"poll\") i32 (i32.const 0)))", WASMCELL_ERR_LINK,
     "export `poll` has type"},
    {"init with a result", NULL, "(module (func (export \"init\") (result i32) (i32.const 0)) (func (export \"poll\")))",
     WASMCELL_ERR_LINK, "`init: () -> ()`"},
    {"memory import", NULL, "(module (import \"env\" \"mem\" (memory 1)) (func (export \"poll\")))", WASMCELL_ERR_LINK,
     "import `env.mem` is not a function"},
    {"built-in with the wrong type", NULL,
     "(module (import \"env\" \"print\" (func (param i32))) (func (export \"poll\")))", WASMCELL_ERR_LINK,
     "import `env.print` has type (i32) -> () but the built-in has type (i32, i32) -> (i32)"},
    {"image export that is not a function", NULL,
     "(module (memory (export \"memory\") 1) (global (export \"wasmcell_image\") i32 (i32.const 0))"
     " (func (export \"poll\")))",
     WASMCELL_ERR_LINK, "export `wasmcell_image` must be a function () -> i32"},
    {"image descriptor outside memory", NULL,
     "(module (memory (export \"memory\") 1) (func (export \"wasmcell_image\") (result i32) (i32.const 65530))"
     " (func (export \"poll\")))",
     WASMCELL_ERR_LINK, "invalid process image descriptor"},
    {"start function traps", "start_trap.wat", NULL, WASMCELL_ERR_INSTANTIATE, "start function: unreachable executed"},
    {"init traps", "init_trap.wat", NULL, WASMCELL_ERR_INSTANTIATE, "init: unreachable executed"},
    {"initial memory above the limit", "huge_memory_minimum.wat", NULL, WASMCELL_ERR_LIMIT,
     "initial memory (1073741824 bytes, 16384 pages) exceeds the program's memory limit"},
};

/* Every load error has its status, and a message that names the cause and
 * the program, on the thread and on the runtime; nothing is written to out. */
static void test_load_errors_say_what_failed(void) {
    wasmcell_runtime *rt = new_runtime();
    for (size_t i = 0; i < COUNT(load_cases); i++) {
        const struct load_case *c = &load_cases[i];
        wasmcell_program *p = (wasmcell_program *)(uintptr_t)0x1;
        wasmcell_status s;
        if (c->fixture) {
            s = load_fixture(rt, c->fixture, &p);
        } else {
            /* binary garbage contains NUL bytes: its length is known */
            size_t len = strcmp(c->what, "binary garbage") == 0 ? 10 : strlen(c->text);
            s = wasmcell_program_load(rt, "p1", (const uint8_t *)c->text, len, &p);
        }
        CHECK_MSG(s == c->expected, "%s: returned %s, expected %s", c->what, wasmcell_status_str(s),
                  wasmcell_status_str(c->expected));
        CHECK_MSG(p == (wasmcell_program *)(uintptr_t)0x1, "%s: out was written", c->what);
        char msg[1024], rt_msg[1024];
        last_error(msg, sizeof msg);
        wasmcell_runtime_error(rt, rt_msg, sizeof rt_msg, NULL);
        CHECK_MSG(strstr(msg, c->message) != NULL, "%s: \"%s\" does not contain \"%s\"", c->what, msg, c->message);
        CHECK_MSG(strcmp(msg, rt_msg) == 0, "%s: runtime error \"%s\" differs", c->what, rt_msg);
        CHECK_MSG(strstr(msg, "'p1'") != NULL, "%s: \"%s\" does not name the program", c->what, msg);
    }
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A host definition of a different type than the guest's import. */
static void test_import_type_mismatch_names_both_types(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(I)", ignore_call, NULL, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "counter.wat", &p), WASMCELL_ERR_LINK);
    char msg[512];
    CHECK_CONTAINS(last_error(msg, sizeof msg),
                   "import `test.tick` has type (i32) -> () but the host function (signature \"(I)\") has type (i64) -> ()");
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_load_invalid_arguments(void) {
    wasmcell_runtime *rt = new_runtime();
    static const char m[] = "(module (func (export \"poll\")))";
    wasmcell_program *p = NULL;
    char msg[256];
    CHECK_STATUS(wasmcell_program_load(rt, NULL, (const uint8_t *)m, sizeof m - 1, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "name is NULL");
    CHECK_STATUS(wasmcell_program_load(rt, "", (const uint8_t *)m, sizeof m - 1, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "non-empty name");
    CHECK_STATUS(wasmcell_program_load(rt, "\xff", (const uint8_t *)m, sizeof m - 1, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "UTF-8");
    CHECK_STATUS(wasmcell_program_load(rt, "p1", NULL, 10, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "bytes is NULL");
    CHECK_STATUS(wasmcell_program_load(rt, "p1", (const uint8_t *)m, sizeof m - 1, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_load_file(rt, "p1", NULL, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_load_file(rt, NULL, "x.wat", &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_load_file(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    char msg[512];
    CHECK_STATUS(wasmcell_program_load_file(rt, "p1", "/nonexistent/prog.wasm", &p), WASMCELL_ERR_NOT_FOUND);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "cannot read /nonexistent/prog.wasm");
    CHECK_STATUS(wasmcell_program_load_file(rt, "p1", "/", &p), WASMCELL_ERR_IO);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "cannot read /");
    char path[512];
    fixture_path("hello.wat", path, sizeof path);
    CHECK_STATUS(wasmcell_program_load_file(rt, "p1", path, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    /* Errors from the loaded bytes are the same as load's. */
    fixture_path("no_poll.wat", path, sizeof path);
    CHECK_STATUS(wasmcell_program_load_file(rt, "p2", path, &p), WASMCELL_ERR_LINK);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "does not export a `poll` function");
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- poll and faults ------------------------------------------------------------------ */

struct fault_case {
    const char *fixture;
    int good_polls; /* polls that succeed before the fault */
    wasmcell_status status;
    wasmcell_fault kind;
    const char *message;
};

static const struct fault_case fault_cases[] = {
    {"unreachable.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_UNREACHABLE, "poll: unreachable executed in wasm function `explode`"},
    {"divide_by_zero.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_INTEGER_DIVIDE_BY_ZERO, "integer divide by zero"},
    {"integer_overflow.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_INTEGER_OVERFLOW, "integer overflow"},
    {"bad_conversion.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_BAD_CONVERSION_TO_INTEGER, "invalid conversion to integer"},
    {"recursion.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_STACK_OVERFLOW, "stack overflow"},
    {"out_of_bounds.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_MEMORY_OUT_OF_BOUNDS, "out-of-bounds memory access"},
    {"indirect_mismatch.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_INDIRECT_CALL_MISMATCH, "indirect call signature mismatch"},
    {"indirect_null.wat", 0, WASMCELL_ERR_TRAP, WASMCELL_FAULT_INDIRECT_CALL_NULL, "indirect call to a null or missing table entry"},
    {"infinite_loop.wat", 0, WASMCELL_ERR_BUDGET, WASMCELL_FAULT_BUDGET_EXHAUSTED, "instruction budget exhausted"},
    {"guest_fault.wat", 2, WASMCELL_ERR_GUEST_FAULT, WASMCELL_FAULT_GUEST_REPORTED, "poll returned fault code 7"},
    {"flaky.wat", 4, WASMCELL_ERR_TRAP, WASMCELL_FAULT_UNREACHABLE, "unreachable executed"},
};

/* Each way a poll can fault: its status, kind and message; the program is
 * FAULTED and refuses polls until reset; a healthy program beside it keeps
 * polling. */
static void test_every_fault_kind(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *healthy = NULL;
    CHECK_STATUS(load_wat(rt, "healthy", "(module (func (export \"poll\")))", &healthy), WASMCELL_OK);
    for (size_t i = 0; i < COUNT(fault_cases); i++) {
        const struct fault_case *c = &fault_cases[i];
        wasmcell_program *p = NULL;
        CHECK_STATUS(load_fixture(rt, c->fixture, &p), WASMCELL_OK);
        /* a small budget for the endless loop; the default for the others
         * (the recursion needs it to reach the end of its stack) */
        if (c->status == WASMCELL_ERR_BUDGET) CHECK_STATUS(wasmcell_program_set_fuel(p, 100000), WASMCELL_OK);
        char msg[1024];
        size_t len = 99;
        CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, &len), WASMCELL_OK);
        CHECK(len == 0 && msg[0] == 0);
        CHECK(fault_of(p) == WASMCELL_FAULT_NONE);
        for (int round = 0; round < 2; round++) { /* the same after a reset */
            for (int g = 0; g < c->good_polls; g++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
            wasmcell_status s = wasmcell_program_poll(p);
            CHECK_MSG(s == c->status, "%s: poll returned %s", c->fixture, wasmcell_status_str(s));
            CHECK_MSG(fault_of(p) == c->kind, "%s: fault kind %d, expected %d", c->fixture, fault_of(p), c->kind);
            CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
            CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, &len), WASMCELL_OK);
            CHECK_MSG(strstr(msg, c->message) != NULL, "%s: \"%s\" lacks \"%s\"", c->fixture, msg, c->message);
            CHECK_CONTAINS(msg, "program 'p1'");
            CHECK(len == strlen(msg));
            /* The thread's last error is the same message. */
            char last[1024];
            CHECK(strcmp(last_error(last, sizeof last), msg) == 0);

            /* Refused while faulted; the refusal names the fault. */
            wasmcell_stats before = stats_of(p);
            CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);
            CHECK_CONTAINS(last_error(last, sizeof last), "is faulted");
            CHECK_CONTAINS(last, c->message);
            wasmcell_stats after = stats_of(p);
            CHECK(after.polls == before.polls && after.faults == before.faults);
            CHECK(fault_of(p) == c->kind); /* the refusal keeps the original fault */

            CHECK_STATUS(wasmcell_program_poll(healthy), WASMCELL_OK);
            CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
            CHECK(state_of(p) == WASMCELL_STATE_READY);
            CHECK(fault_of(p) == WASMCELL_FAULT_NONE);
            CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, &len), WASMCELL_OK);
            CHECK(len == 0);
        }
        wasmcell_stats stats = stats_of(p);
        CHECK(stats.faults == 2 && stats.polls == (uint64_t)(2 * (c->good_polls + 1)));
        CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_OK);
    }
    CHECK(stats_of(healthy).faults == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_poll_of_a_status_returning_guest(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_wat(rt, "p1", "(module (func (export \"poll\") (result i32) (i32.const 0)))", &p), WASMCELL_OK);
    for (int i = 0; i < 3; i++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "p2", "(module (func (export \"poll\") (result i32) (i32.const -1)))", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_GUEST_FAULT);
    char msg[256];
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "poll returned fault code -1");
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- reset ------------------------------------------------------------------------------ */

static int32_t ticked = 0;

static void test_reset_gives_a_fresh_instance(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", store_i32, &ticked, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "counter.wat", &p), WASMCELL_OK);
    for (int i = 0; i < 3; i++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(ticked == 103);
    /* A reset of a program that is not faulted is allowed: globals back to
     * their initial values, then init (counter = 100) runs again. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(ticked == 101);
    CHECK(stats_of(p).polls == 4); /* the statistics count since load */
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* reset returns WASMCELL_ERR_INSTANTIATE when the fresh instance's init
 * traps; the program is then FAULTED with the reason, and a reload recovers it. */
static void test_reset_returns_instantiate_when_init_traps(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "init_trap_on_reset.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_ERR_INSTANTIATE);
    CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
    CHECK(fault_of(p) == WASMCELL_FAULT_OTHER);
    char msg[512];
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "init: unreachable executed in wasm function `refuse_restart`");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_ERR_INSTANTIATE); /* the same again */
    /* A reload whose init traps (start kind 2) is refused too ... */
    CHECK_STATUS(reload_fixture(p, "init_trap_on_reset.wat"), WASMCELL_ERR_INSTANTIATE);
    CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
    /* ... a good one recovers the program. */
    CHECK_STATUS(reload_fixture(p, "hello.wat"), WASMCELL_OK);
    CHECK(state_of(p) == WASMCELL_STATE_READY);
    CHECK_STATUS(wasmcell_runtime_set_log(rt, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- budgets ------------------------------------------------------------------------- */

static void test_set_fuel(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_fuel(p, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    char msg[256];
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "at least 1"); /* a failed call's message */
    CHECK_STATUS(wasmcell_program_set_fuel(p, 1234), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_BUDGET);
    CHECK(stats_of(p).last_fuel_used == 1234);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "instruction budget exhausted");
    /* The budget applies from the next poll on, also after a reset. */
    CHECK_STATUS(wasmcell_program_set_fuel(p, 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_BUDGET);
    CHECK(stats_of(p).last_fuel_used == 1);

    /* A poll within its budget reports what it used, never more than the budget. */
    CHECK_STATUS(load_wat(rt, "p2",
                          "(module (func (export \"poll\") (local i32)"
                          " (loop $l (local.set 0 (i32.add (local.get 0) (i32.const 1)))"
                          "  (br_if $l (i32.lt_u (local.get 0) (i32.const 100))))))",
                          &p),
                 WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    uint64_t used = stats_of(p).last_fuel_used;
    CHECK_MSG(used >= 100 && used < 2000, "100 iterations used %llu", (unsigned long long)used);
    CHECK_STATUS(wasmcell_program_set_fuel(p, used), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK); /* exactly enough */
    CHECK(stats_of(p).last_fuel_used == used);
    CHECK_STATUS(wasmcell_program_set_fuel(p, used - 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_BUDGET);
    CHECK(stats_of(p).last_fuel_used == used - 1);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* The start function, `init` and `wasmcell_image` run under the budget too:
 * a runaway one fails the load (or reset, or reload) with
 * WASMCELL_ERR_INSTANTIATE and a message that says the budget ran out,
 * instead of hanging the host. */
static void test_budget_bounds_start_init_and_image(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 10000), WASMCELL_OK);
    struct {
        const char *what, *wat, *function;
    } cases[] = {
        {"start", "(module (func $s (loop $l (br $l))) (start $s) (func (export \"poll\")))", "start function"},
        {"init", "(module (func (export \"init\") (loop $l (br $l))) (func (export \"poll\")))", "init"},
        {"image",
         "(module (memory (export \"memory\") 1)"
         " (func (export \"wasmcell_image\") (result i32) (loop $l (br $l)) (i32.const 0))"
         " (func (export \"poll\")))",
         "wasmcell_image"},
    };
    char msg[512];
    for (size_t i = 0; i < COUNT(cases); i++) {
        wasmcell_program *p = NULL;
        wasmcell_status s = load_wat(rt, "p1", cases[i].wat, &p);
        CHECK_MSG(s == WASMCELL_ERR_INSTANTIATE, "%s: load returned %s", cases[i].what, wasmcell_status_str(s));
        last_error(msg, sizeof msg);
        CHECK_MSG(strstr(msg, cases[i].function) != NULL && strstr(msg, "budget") != NULL,
                  "%s: \"%s\" does not say that the budget of %s ran out", cases[i].what, msg, cases[i].function);
    }

    /* init on reset and reload runs under the program's own budget. */
    static const char loop_on_restart[] =
        "(module (import \"wasmcell\" \"start_kind\" (func $k (result i32)))"
        " (func (export \"init\") (if (call $k) (then (loop $l (br $l)))))"
        " (func (export \"poll\")))";
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 100000000), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_wat(rt, "p1", loop_on_restart, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_fuel(p, 5000), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)loop_on_restart, strlen(loop_on_restart)),
                 WASMCELL_ERR_INSTANTIATE);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "init: instruction budget exhausted");
    CHECK(state_of(p) == WASMCELL_STATE_READY); /* the old version keeps running */
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_ERR_INSTANTIATE);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "init: instruction budget exhausted");
    CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- statistics, state, names ---------------------------------------------------------- */

static void test_stats_and_state(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "guest_fault.wat", &p), WASMCELL_OK);
    wasmcell_stats s = stats_of(p);
    CHECK(s.polls == 0 && s.faults == 0 && s.last_poll_ns == 0 && s.max_poll_ns == 0 && s.mean_poll_ns == 0 &&
          s.last_fuel_used == 0);
    CHECK(state_of(p) == WASMCELL_STATE_READY);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    s = stats_of(p);
    CHECK(s.polls == 2 && s.faults == 0);
    CHECK(s.last_poll_ns > 0 && s.max_poll_ns >= s.last_poll_ns && s.mean_poll_ns > 0 && s.mean_poll_ns <= s.max_poll_ns);
    CHECK(s.last_fuel_used > 0);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_GUEST_FAULT);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);
    s = stats_of(p);
    CHECK(s.polls == 3 && s.faults == 1); /* the refused poll is not counted */

    CHECK_STATUS(wasmcell_program_stats(p, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_state(p, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_fault_kind(p, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_timing_off_keeps_durations(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    wasmcell_stats timed = stats_of(p);
    CHECK(timed.last_poll_ns > 0);
    CHECK_STATUS(wasmcell_program_set_timing(p, 0), WASMCELL_OK);
    for (int i = 0; i < 20; i++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    wasmcell_stats untimed = stats_of(p);
    CHECK(untimed.polls == timed.polls + 20);
    CHECK(untimed.last_poll_ns == timed.last_poll_ns && untimed.max_poll_ns == timed.max_poll_ns &&
          untimed.mean_poll_ns * untimed.polls <= timed.mean_poll_ns * timed.polls + untimed.polls);
    CHECK_STATUS(wasmcell_program_set_timing(p, 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_timing(NULL, 1), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_timing(p, 0), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

struct name_ctx {
    wasmcell_program *p;
};

static wasmcell_status get_name(void *ctx, char *buf, size_t cap, size_t *len) {
    return wasmcell_program_name(((struct name_ctx *)ctx)->p, buf, cap, len);
}

static wasmcell_status get_error(void *ctx, char *buf, size_t cap, size_t *len) {
    return wasmcell_program_error(((struct name_ctx *)ctx)->p, buf, cap, len);
}

static void test_program_name(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL, *q = NULL;
    static const char m[] = "(module (func (export \"poll\")))";
    CHECK_STATUS(wasmcell_program_load(rt, "conveyor-2", (const uint8_t *)m, sizeof m - 1, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_load(rt, "F\xc3\xb6rderband", (const uint8_t *)m, sizeof m - 1, &q), WASMCELL_OK);
    char name[64];
    size_t len = 0;
    CHECK_STATUS(wasmcell_program_name(p, name, sizeof name, &len), WASMCELL_OK);
    CHECK(strcmp(name, "conveyor-2") == 0 && len == 10);
    CHECK_STATUS(wasmcell_program_name(q, name, sizeof name, &len), WASMCELL_OK);
    CHECK(strcmp(name, "F\xc3\xb6rderband") == 0 && len == 11);
    struct name_ctx ctx = {p};
    CHECK(check_string_getter("wasmcell_program_name", get_name, &ctx) == 10);
    /* Reset and reload keep the name. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)m, sizeof m - 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_name(p, name, sizeof name, NULL), WASMCELL_OK);
    CHECK(strcmp(name, "conveyor-2") == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

struct error_elsewhere {
    wasmcell_program *p;
    char msg[512];
};

static void *read_program_error(void *arg) {
    struct error_elsewhere *e = arg;
    wasmcell_program_error(e->p, e->msg, sizeof e->msg, NULL);
    return NULL;
}

/* The program's error: the fault while faulted, else the last failed call
 * on it, else ""; the same from any thread; BUFFER_TOO_SMALL as documented. */
static void test_program_error(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "unreachable.wat", &p), WASMCELL_OK);
    char msg[512];
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)"junk", 4), WASMCELL_ERR_COMPILE);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "not valid WAT");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "unreachable executed"); /* the fault wins */
    struct name_ctx ctx = {p};
    check_string_getter("wasmcell_program_error", get_error, &ctx);

    struct error_elsewhere e = {.p = p};
    pthread_t t;
    pthread_create(&t, NULL, read_program_error, &e);
    pthread_join(t, NULL);
    CHECK(strcmp(e.msg, program_error(p, msg, sizeof msg)) == 0);

    /* A successful reset clears both. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK(strcmp(program_error(p, msg, sizeof msg), "") == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_unload(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *a = NULL, *b = NULL;
    CHECK_STATUS(load_fixture(rt, "unreachable.wat", &a), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "guest_fault.wat", &b), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(a), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_unload(a), WASMCELL_OK); /* a faulted program unloads */
    CHECK_STATUS(wasmcell_program_unload(a), WASMCELL_ERR_INVALID_HANDLE);
    char msg[256];
    CHECK_CONTAINS(last_error(msg, sizeof msg), "stale program handle");
    CHECK_STATUS(wasmcell_program_poll(b), WASMCELL_OK); /* the other program is untouched */
    CHECK_STATUS(wasmcell_program_unload(b), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    test_begin("test_program", argc, argv);
    RUN(test_load_errors_say_what_failed);
    RUN(test_import_type_mismatch_names_both_types);
    RUN(test_load_invalid_arguments);
    RUN(test_load_file);
    RUN(test_every_fault_kind);
    RUN(test_poll_of_a_status_returning_guest);
    RUN(test_reset_gives_a_fresh_instance);
    RUN(test_reset_returns_instantiate_when_init_traps);
    RUN(test_set_fuel);
    RUN(test_budget_bounds_start_init_and_image);
    RUN(test_stats_and_state);
    RUN(test_timing_off_keeps_durations);
    RUN(test_program_name);
    RUN(test_program_error);
    RUN(test_unload);
    return test_end();
}
