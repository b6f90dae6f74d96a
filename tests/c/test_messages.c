/* Error messages, the header's one rule, function by function: every call
 * that fails records its message for the calling thread (wasmcell_last_error)
 * and, when the handle it was given is live, on that handle (a program:
 * wasmcell_program_error; a runtime: wasmcell_runtime_error); calls on a
 * prepared reload (wasmcell_reload_*) and the callback accessors
 * (wasmcell_call_*) record per thread only; the three error getters and
 * wasmcell_program_fault_message never record their own failures; a
 * program's fault message is kept while it is FAULTED, whatever else fails.
 *
 * The core is a table: one row per function of the header that takes a
 * wasmcell_program * or a wasmcell_runtime *, each a small function that
 * makes that call fail with a live handle, and the status the header lists
 * for that failure. Each row runs in a fresh runtime holding the row's
 * program "p1" and a bystander program "other", once on a healthy "p1" and,
 * where the call can be made then, once on a FAULTED "p1".
 * Usage: test_messages [fixtures-dir] [name-filter] */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MSG_CAP 2048

/* A module that loads and polls and does nothing else: the bystander. */
static const char trivial_wat[] = "(module (func (export \"poll\")))";
/* init_trap_on_reset.wat with a poll that spends budget, so that a budget
 * of 1 can fault it before the reset (the fixture's empty poll cannot run
 * out). */
static const char init_trap_on_reset_counting_wat[] =
    "(module (import \"wasmcell\" \"start_kind\" (func $start_kind (result i32)))"
    " (global $n (mut i32) (i32.const 0))"
    " (func $refuse_restart unreachable)"
    " (func (export \"init\") (if (i32.ne (call $start_kind) (i32.const 0)) (then (call $refuse_restart))))"
    " (func (export \"poll\") (global.set $n (i32.add (global.get $n) (i32.const 1)))))";
/* Bytes that are neither wasm nor WAT. */
static const uint8_t garbage[] = {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00, 0xff, 0xff};

/* ---- message helpers ------------------------------------------------------------- */

/* Each returns "" when the getter fails (with a check that it did not). */
static const char *prog_msg(wasmcell_program *p, char *buf) {
    buf[0] = 0;
    CHECK_STATUS(wasmcell_program_error(p, buf, MSG_CAP, NULL), WASMCELL_OK);
    return buf;
}

static const char *fault_msg(wasmcell_program *p, char *buf) {
    buf[0] = 0;
    CHECK_STATUS(wasmcell_program_fault_message(p, buf, MSG_CAP, NULL), WASMCELL_OK);
    return buf;
}

static const char *rt_msg(wasmcell_runtime *rt, char *buf) {
    buf[0] = 0;
    CHECK_STATUS(wasmcell_runtime_error(rt, buf, MSG_CAP, NULL), WASMCELL_OK);
    return buf;
}

static const char *thread_msg(char *buf) {
    buf[0] = 0;
    CHECK_STATUS(wasmcell_last_error(buf, MSG_CAP, NULL), WASMCELL_OK);
    return buf;
}

/* Makes this thread's last error a known message that no row produces (a
 * NULL program handle), so that a row that records nothing is caught. */
static void set_thread_sentinel(char *buf) {
    CHECK_STATUS(wasmcell_program_poll(NULL), WASMCELL_ERR_INVALID_HANDLE);
    thread_msg(buf);
    CHECK(buf[0] != 0);
}

/* Faults `p` by a budget of 1 instruction per poll, then gives it a
 * budget large enough for any `init` a later reset or reload runs. */
static void make_faulted(wasmcell_program *p) {
    CHECK_STATUS(wasmcell_program_set_fuel(p, 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_BUDGET);
    CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
    CHECK_STATUS(wasmcell_program_set_fuel(p, 10000000), WASMCELL_OK);
}

/* ---- the rows ----------------------------------------------------------------------- */

/* What a row's call gets: the runtime, its program "p1" (the row's fixture),
 * the bystander "other", and for calls made from inside p1's own host
 * callback (reenter.wat calls test.reenter on every poll) the call to make
 * there and its status. */
struct row_ctx {
    wasmcell_runtime *rt;
    wasmcell_program *p;
    wasmcell_program *other;
    wasmcell_status (*inner)(struct row_ctx *);
    wasmcell_status inner_status;
    int inner_ran;
};

static int32_t reenter_cb(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                          wasmcell_val *results, size_t nresults) {
    (void)call; (void)args; (void)nargs; (void)results; (void)nresults;
    struct row_ctx *c = user_data;
    if (c->inner != NULL && !c->inner_ran) {
        c->inner_ran = 1;
        c->inner_status = c->inner(c);
    }
    return 0;
}

/* Polls p1 (reenter.wat) so that `inner` runs inside its own callback;
 * returns inner's status. The outer poll itself succeeds. */
static wasmcell_status from_own_callback(struct row_ctx *c, wasmcell_status (*inner)(struct row_ctx *)) {
    c->inner = inner;
    c->inner_ran = 0;
    c->inner_status = 12345;
    CHECK_STATUS(wasmcell_program_poll(c->p), WASMCELL_OK);
    CHECK_MSG(c->inner_ran, "the callback did not run");
    c->inner = NULL;
    return c->inner_status;
}

/* Runtime rows. */
static wasmcell_status inner_runtime_free(struct row_ctx *c) { return wasmcell_runtime_free(c->rt); }
static wasmcell_status row_runtime_free(struct row_ctx *c) { return from_own_callback(c, inner_runtime_free); }
static wasmcell_status row_set_default_fuel(struct row_ctx *c) { return wasmcell_runtime_set_default_fuel(c->rt, 0); }
static wasmcell_status row_set_max_module_size(struct row_ctx *c) { return wasmcell_runtime_set_max_module_size(c->rt, 0); }
static wasmcell_status row_set_memory_residency(struct row_ctx *c) {
    return wasmcell_runtime_set_memory_residency(c->rt, 99);
}
static wasmcell_status row_load(struct row_ctx *c) {
    wasmcell_program *out = NULL;
    wasmcell_status s = wasmcell_program_load(c->rt, "p2", garbage, sizeof garbage, &out);
    CHECK(out == NULL);
    return s;
}
static wasmcell_status row_load_null_out(struct row_ctx *c) {
    return wasmcell_program_load(c->rt, "p2", (const uint8_t *)trivial_wat, strlen(trivial_wat), NULL);
}
static wasmcell_status row_load_file(struct row_ctx *c) {
    wasmcell_program *out = NULL;
    wasmcell_status s = wasmcell_program_load_file(c->rt, "p2", "/nonexistent/wasmcell/p2.wat", &out);
    CHECK(out == NULL);
    return s;
}
static wasmcell_status row_define(struct row_ctx *c) {
    return wasmcell_runtime_define(c->rt, NULL, "f", "()", ignore_call, NULL, NULL);
}
static wasmcell_status row_define_twice(struct row_ctx *c) {
    return wasmcell_runtime_define(c->rt, "test", "reenter", "()", ignore_call, NULL, NULL);
}
static wasmcell_status inner_set_log(struct row_ctx *c) { return wasmcell_runtime_set_log(c->rt, NULL, NULL); }
static wasmcell_status row_set_log(struct row_ctx *c) { return from_own_callback(c, inner_set_log); }
static wasmcell_status inner_set_clock(struct row_ctx *c) { return wasmcell_runtime_set_clock(c->rt, NULL, NULL); }
static wasmcell_status row_set_clock(struct row_ctx *c) { return from_own_callback(c, inner_set_clock); }
/* A directory below a regular file cannot be created (on Windows too). */
static wasmcell_status row_set_cache_dir(struct row_ctx *c) {
    char dir[] = "/tmp/wasmcell-messages-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[128], cache[160];
    snprintf(file, sizeof file, "%s/plain", dir);
    snprintf(cache, sizeof cache, "%s/cache", file);
    FILE *f = fopen(file, "wb");
    CHECK(f != NULL);
    if (f != NULL) fclose(f);
    wasmcell_status s = wasmcell_runtime_set_cache_dir(c->rt, cache);
    remove(file);
    rmdir(dir);
    return s;
}
static wasmcell_status row_set_cache_dir_not_utf8(struct row_ctx *c) {
    return wasmcell_runtime_set_cache_dir(c->rt, "/tmp/\xff\xfe");
}
static wasmcell_status row_cache_stats(struct row_ctx *c) { return wasmcell_runtime_cache_stats(c->rt, NULL); }

/* Program rows. */
static wasmcell_status inner_poll(struct row_ctx *c) { return wasmcell_program_poll(c->p); }
static wasmcell_status row_poll_busy(struct row_ctx *c) { return from_own_callback(c, inner_poll); }
static wasmcell_status row_poll(struct row_ctx *c) { return wasmcell_program_poll(c->p); }
static wasmcell_status row_reset(struct row_ctx *c) { return wasmcell_program_reset(c->p); }
static wasmcell_status inner_reset(struct row_ctx *c) { return wasmcell_program_reset(c->p); }
static wasmcell_status row_reset_busy(struct row_ctx *c) { return from_own_callback(c, inner_reset); }
static wasmcell_status inner_unload(struct row_ctx *c) { return wasmcell_program_unload(c->p); }
static wasmcell_status row_unload_busy(struct row_ctx *c) { return from_own_callback(c, inner_unload); }
static wasmcell_status row_state(struct row_ctx *c) { return wasmcell_program_state(c->p, NULL); }
static wasmcell_status row_fault_kind(struct row_ctx *c) { return wasmcell_program_fault_kind(c->p, NULL); }
static wasmcell_status row_set_fuel(struct row_ctx *c) { return wasmcell_program_set_fuel(c->p, 0); }
static wasmcell_status row_set_fuel_deadline(struct row_ctx *c) { return wasmcell_program_set_fuel(c->p, 1000); }
static wasmcell_status row_watchdog_off_deadline(struct row_ctx *c) {
    return wasmcell_program_set_watchdog(c->p, 0, 1);
}
static wasmcell_status row_set_fault_outputs(struct row_ctx *c) { return wasmcell_program_set_fault_outputs(c->p, 99); }
static wasmcell_status row_stats(struct row_ctx *c) { return wasmcell_program_stats(c->p, NULL); }
static wasmcell_status row_name(struct row_ctx *c) {
    char tiny[2]; /* "p1" needs 3 bytes */
    size_t len = 0;
    wasmcell_status s = wasmcell_program_name(c->p, tiny, sizeof tiny, &len);
    CHECK(len == 2);
    return s;
}
static wasmcell_status row_name_null(struct row_ctx *c) { return wasmcell_program_name(c->p, NULL, 8, NULL); }
static wasmcell_status row_image_size(struct row_ctx *c) {
    size_t len = 0;
    return wasmcell_program_image_size(c->p, 3, &len);
}
/* conveyor.wat: inputs 16 bytes, outputs 24 bytes. */
static wasmcell_status row_write_inputs(struct row_ctx *c) {
    uint8_t bytes[8] = {0};
    return wasmcell_program_write_inputs(c->p, 12, bytes, sizeof bytes);
}
static wasmcell_status row_read_outputs(struct row_ctx *c) {
    uint8_t bytes[8];
    return wasmcell_program_read_outputs(c->p, 20, bytes, sizeof bytes, NULL);
}
static wasmcell_status row_signal_count(struct row_ctx *c) { return wasmcell_program_signal_count(c->p, NULL); }
static wasmcell_status row_signal_info(struct row_ctx *c) {
    char name[16];
    return wasmcell_program_signal_info(c->p, 99, name, sizeof name, NULL, NULL, NULL, NULL, NULL);
}
static wasmcell_status row_signal_info_small(struct row_ctx *c) {
    char name[4]; /* signal 3 is "position" */
    return wasmcell_program_signal_info(c->p, 3, name, sizeof name, NULL, NULL, NULL, NULL, NULL);
}
static wasmcell_status row_signal_lookup(struct row_ctx *c) {
    uint32_t id = 0;
    return wasmcell_program_signal_lookup(c->p, "no_such_signal", &id, NULL, NULL, NULL);
}
static wasmcell_status row_signal_get_f64(struct row_ctx *c) {
    double v = 0;
    return wasmcell_program_signal_get_f64(c->p, 0x7fff0000u, &v);
}
static uint32_t signal_id(wasmcell_program *p, const char *name) {
    uint32_t id = UINT32_MAX;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, name, &id, NULL, NULL, NULL), WASMCELL_OK);
    return id;
}
static wasmcell_status row_signal_get_i64(struct row_ctx *c) {
    int64_t v = 0;
    return wasmcell_program_signal_get_i64(c->p, signal_id(c->p, "speed"), &v); /* an f64 signal */
}
static wasmcell_status row_signal_set_f64(struct row_ctx *c) {
    return wasmcell_program_signal_set_f64(c->p, signal_id(c->p, "position"), 1.0); /* an output */
}
static wasmcell_status row_signal_set_i64(struct row_ctx *c) {
    return wasmcell_program_signal_set_i64(c->p, signal_id(c->p, "enable"), 2); /* a bool */
}
static wasmcell_status row_reload(struct row_ctx *c) { return wasmcell_program_reload(c->p, garbage, sizeof garbage); }
static wasmcell_status inner_reload(struct row_ctx *c) {
    return wasmcell_program_reload(c->p, (const uint8_t *)trivial_wat, strlen(trivial_wat));
}
static wasmcell_status row_reload_busy(struct row_ctx *c) { return from_own_callback(c, inner_reload); }
static wasmcell_status row_prepare_reload(struct row_ctx *c) {
    wasmcell_reload *r = NULL;
    wasmcell_status s = wasmcell_program_prepare_reload(c->p, garbage, sizeof garbage, &r);
    CHECK(r == NULL);
    return s;
}
/* A reload prepared for the bystander, committed to p1 (it is consumed). */
static wasmcell_status row_commit_reload(struct row_ctx *c) {
    wasmcell_reload *r = NULL;
    CHECK_STATUS(wasmcell_program_prepare_reload(c->other, (const uint8_t *)trivial_wat, strlen(trivial_wat), &r),
                 WASMCELL_OK);
    return wasmcell_program_commit_reload(c->p, r);
}
/* p1 is live; the reload handle is NULL. */
static wasmcell_status row_commit_reload_null(struct row_ctx *c) { return wasmcell_program_commit_reload(c->p, NULL); }
static wasmcell_status row_notice(struct row_ctx *c) { return wasmcell_program_notice(c->p, NULL, 8, NULL); }

enum { ON_RUNTIME, ON_PROGRAM };
enum { HEALTHY = 1, FAULTED = 2, BOTH = HEALTHY | FAULTED };

struct row {
    const char *function;
    const char *how;
    int on;              /* which handle the message must be on */
    const char *fixture; /* p1's module: a fixture file, or WAT text when it starts with '(' */
    wasmcell_status (*call)(struct row_ctx *);
    wasmcell_status expected;
    int modes; /* HEALTHY, FAULTED or BOTH: the state p1 is in before the call */
    int faults; /* the call itself faults p1: its message becomes the fault's */
    int deadline; /* p1 is loaded in deadline mode (wasmcell_runtime_set_default_deadline) */
};

/* p1 is conveyor.wat unless a row needs another module: its poll spends
 * more than 1 instruction, so make_faulted can fault it. FAULTED is left
 * out where p1 must be polling (calls from its own callback), where the
 * call needs a healthy program to fail the way the row says (a trapping
 * poll), and for init_trap_on_reset.wat, whose empty poll cannot run out of
 * budget (its twin row covers a faulted program). */
static const struct row rows[] = {
    /* runtime rows: p1 and the bystander must keep their messages */
    {"wasmcell_runtime_free", "from p1's own callback", ON_RUNTIME, "reenter.wat",
     row_runtime_free, WASMCELL_ERR_BUSY, HEALTHY, 0, 0},
    {"wasmcell_runtime_set_default_fuel", "budget 0", ON_RUNTIME, "conveyor.wat",
     row_set_default_fuel, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_runtime_set_max_module_size", "size 0", ON_RUNTIME, "conveyor.wat",
     row_set_max_module_size, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_runtime_set_memory_residency", "unknown mode 99", ON_RUNTIME, "conveyor.wat",
     row_set_memory_residency, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_load", "garbage bytes", ON_RUNTIME, "conveyor.wat",
     row_load, WASMCELL_ERR_COMPILE, BOTH, 0, 0},
    {"wasmcell_program_load", "NULL out", ON_RUNTIME, "conveyor.wat",
     row_load_null_out, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_load_file", "a file that does not exist", ON_RUNTIME, "conveyor.wat",
     row_load_file, WASMCELL_ERR_NOT_FOUND, BOTH, 0, 0},
    {"wasmcell_runtime_define", "NULL module", ON_RUNTIME, "conveyor.wat",
     row_define, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_runtime_define", "a name already defined", ON_RUNTIME, "conveyor.wat",
     row_define_twice, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_runtime_set_log", "from p1's own callback", ON_RUNTIME, "reenter.wat",
     row_set_log, WASMCELL_ERR_BUSY, HEALTHY, 0, 0},
    {"wasmcell_runtime_set_clock", "from p1's own callback", ON_RUNTIME, "reenter.wat",
     row_set_clock, WASMCELL_ERR_BUSY, HEALTHY, 0, 0},
    {"wasmcell_runtime_set_cache_dir", "a directory below a regular file", ON_RUNTIME, "conveyor.wat",
     row_set_cache_dir, WASMCELL_ERR_IO, BOTH, 0, 0},
    {"wasmcell_runtime_set_cache_dir", "a path that is not UTF-8", ON_RUNTIME, "conveyor.wat",
     row_set_cache_dir_not_utf8, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_runtime_cache_stats", "NULL stats", ON_RUNTIME, "conveyor.wat",
     row_cache_stats, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},

    /* program rows: the runtime and the bystander must keep theirs */
    {"wasmcell_program_poll", "from its own callback", ON_PROGRAM, "reenter.wat",
     row_poll_busy, WASMCELL_ERR_BUSY, HEALTHY, 0, 0},
    {"wasmcell_program_poll", "a trap (unreachable.wat)", ON_PROGRAM, "unreachable.wat",
     row_poll, WASMCELL_ERR_TRAP, HEALTHY, 1, 0},
    {"wasmcell_program_poll", "already faulted", ON_PROGRAM, "conveyor.wat",
     row_poll, WASMCELL_ERR_FAULTED, FAULTED, 0, 0},
    {"wasmcell_program_reset", "init traps on reset (init_trap_on_reset.wat)", ON_PROGRAM, "init_trap_on_reset.wat",
     row_reset, WASMCELL_ERR_INSTANTIATE, HEALTHY, 1, 0},
    {"wasmcell_program_reset", "init traps on reset (its twin with a poll that spends budget)", ON_PROGRAM,
     init_trap_on_reset_counting_wat,
     row_reset, WASMCELL_ERR_INSTANTIATE, BOTH, 1, 0},
    {"wasmcell_program_reset", "from its own callback", ON_PROGRAM, "reenter.wat",
     row_reset_busy, WASMCELL_ERR_BUSY, HEALTHY, 0, 0},
    {"wasmcell_program_unload", "from its own callback", ON_PROGRAM, "reenter.wat",
     row_unload_busy, WASMCELL_ERR_BUSY, HEALTHY, 0, 0},
    {"wasmcell_program_state", "NULL state", ON_PROGRAM, "conveyor.wat",
     row_state, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_fault_kind", "NULL kind", ON_PROGRAM, "conveyor.wat",
     row_fault_kind, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_set_fuel", "budget 0", ON_PROGRAM, "conveyor.wat",
     row_set_fuel, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_set_fuel", "p1 in deadline mode", ON_PROGRAM, "conveyor.wat",
     row_set_fuel_deadline, WASMCELL_ERR_INVALID_ARGUMENT, HEALTHY, 0, 1},
    {"wasmcell_program_set_watchdog", "time 0 with p1 in deadline mode", ON_PROGRAM, "conveyor.wat",
     row_watchdog_off_deadline, WASMCELL_ERR_INVALID_ARGUMENT, HEALTHY, 0, 1},
    {"wasmcell_program_set_fault_outputs", "unknown mode 99", ON_PROGRAM, "conveyor.wat",
     row_set_fault_outputs, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_stats", "NULL stats", ON_PROGRAM, "conveyor.wat",
     row_stats, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_name", "a 2-byte buffer for \"p1\"", ON_PROGRAM, "conveyor.wat",
     row_name, WASMCELL_ERR_BUFFER_TOO_SMALL, BOTH, 0, 0},
    {"wasmcell_program_name", "NULL buf with cap 8", ON_PROGRAM, "conveyor.wat",
     row_name_null, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_image_size", "unknown area 3", ON_PROGRAM, "conveyor.wat",
     row_image_size, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_write_inputs", "8 bytes at 12 of 16", ON_PROGRAM, "conveyor.wat",
     row_write_inputs, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_read_outputs", "8 bytes at 20 of 24", ON_PROGRAM, "conveyor.wat",
     row_read_outputs, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_signal_count", "NULL count", ON_PROGRAM, "conveyor.wat",
     row_signal_count, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_signal_info", "index 99 of 6", ON_PROGRAM, "conveyor.wat",
     row_signal_info, WASMCELL_ERR_NOT_FOUND, BOTH, 0, 0},
    {"wasmcell_program_signal_info", "a 4-byte name buffer", ON_PROGRAM, "conveyor.wat",
     row_signal_info_small, WASMCELL_ERR_BUFFER_TOO_SMALL, BOTH, 0, 0},
    {"wasmcell_program_signal_lookup", "an unknown name", ON_PROGRAM, "conveyor.wat",
     row_signal_lookup, WASMCELL_ERR_NOT_FOUND, BOTH, 0, 0},
    {"wasmcell_program_signal_get_f64", "an unknown signal id", ON_PROGRAM, "conveyor.wat",
     row_signal_get_f64, WASMCELL_ERR_NOT_FOUND, BOTH, 0, 0},
    {"wasmcell_program_signal_get_i64", "an f64 signal", ON_PROGRAM, "conveyor.wat",
     row_signal_get_i64, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_signal_set_f64", "an output signal", ON_PROGRAM, "conveyor.wat",
     row_signal_set_f64, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_signal_set_i64", "2 for a bool", ON_PROGRAM, "conveyor.wat",
     row_signal_set_i64, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_reload", "garbage bytes", ON_PROGRAM, "conveyor.wat",
     row_reload, WASMCELL_ERR_COMPILE, BOTH, 0, 0},
    {"wasmcell_program_reload", "from its own callback", ON_PROGRAM, "reenter.wat",
     row_reload_busy, WASMCELL_ERR_BUSY, HEALTHY, 0, 0},
    {"wasmcell_program_prepare_reload", "garbage bytes", ON_PROGRAM, "conveyor.wat",
     row_prepare_reload, WASMCELL_ERR_COMPILE, BOTH, 0, 0},
    {"wasmcell_program_commit_reload", "a reload prepared for another program", ON_PROGRAM, "conveyor.wat",
     row_commit_reload, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
    {"wasmcell_program_commit_reload", "a NULL reload", ON_PROGRAM, "conveyor.wat",
     row_commit_reload_null, WASMCELL_ERR_INVALID_HANDLE, BOTH, 0, 0},
    {"wasmcell_program_notice", "NULL buf with cap 8", ON_PROGRAM, "conveyor.wat",
     row_notice, WASMCELL_ERR_INVALID_ARGUMENT, BOTH, 0, 0},
};

/* Left out of the table because they cannot fail with a live handle (their
 * "Returns:" lists only WASMCELL_OK and WASMCELL_ERR_INVALID_HANDLE, and
 * every value of their arguments is accepted; test_calls_that_cannot_fail
 * holds them to that):
 *   wasmcell_runtime_set_default_memory_limit  (any byte count, rounded down to pages)
 *   wasmcell_runtime_set_default_stack_size    (clamped to 8 KiB .. 100 MiB)
 *   wasmcell_runtime_set_default_table_limit   (any element count)
 *   wasmcell_runtime_set_nesting_limit         (any depth)
 *   wasmcell_runtime_set_compile_threads       (0 is the default, any other count)
 *   wasmcell_runtime_set_compile_priority      (any value: 0 or background)
 *   wasmcell_runtime_set_random_seed           (any seed)
 *   wasmcell_runtime_set_module_limits         (any three counts)
 *   wasmcell_runtime_set_default_deadline      (0 is the budget, any other time)
 *   wasmcell_program_set_timing                (0 is off, anything else on)
 *   wasmcell_program_set_table_limit           (any element count)
 *   wasmcell_program_set_memory_limit          (any byte count)
 * and wasmcell_program_set_watchdog on a program loaded without deadline mode
 * (time 0 is off, sensitivity 0 counts as 1; its row covers deadline mode).
 * Not rows either, because their own failures must NOT record (they have
 * tests of their own below): wasmcell_runtime_error, wasmcell_program_error,
 * wasmcell_program_fault_message (and wasmcell_last_error, which takes no
 * handle). wasmcell_runtime_new takes no handle (an out-pointer only). */

static void run_row(const struct row *r, int mode) {
    const char *label = mode == FAULTED ? "faulted p1" : "healthy p1";
    struct row_ctx c;
    memset(&c, 0, sizeof c);
    c.rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(c.rt, "test", "reenter", "()", reenter_cb, &c, NULL), WASMCELL_OK);
    CHECK_STATUS(load_wat(c.rt, "other", trivial_wat, &c.other), WASMCELL_OK);
    if (r->deadline) CHECK_STATUS(wasmcell_runtime_set_default_deadline(c.rt, 100 * 1000 * 1000), WASMCELL_OK);
    if (r->fixture[0] == '(')
        CHECK_STATUS(load_wat(c.rt, FIXTURE_PROGRAM_NAME, r->fixture, &c.p), WASMCELL_OK);
    else
        CHECK_STATUS(load_fixture(c.rt, r->fixture, &c.p), WASMCELL_OK);

    static char fault_before[MSG_CAP], p_before[MSG_CAP], rt_before[MSG_CAP], sentinel[MSG_CAP];
    static char last[MSG_CAP], on_handle[MSG_CAP], buf[MSG_CAP];
    if (mode == FAULTED) {
        make_faulted(c.p);
        fault_msg(c.p, fault_before);
        CHECK_MSG(fault_before[0] != 0, "%s (%s): no fault message after a faulting poll", r->function, label);
        CHECK_MSG(strcmp(prog_msg(c.p, buf), fault_before) == 0,
                  "%s (%s): after the faulting poll program_error \"%s\" is not the fault's \"%s\"", r->function,
                  label, buf, fault_before);
    } else {
        fault_before[0] = 0;
    }
    prog_msg(c.p, p_before);
    rt_msg(c.rt, rt_before);
    CHECK_MSG(rt_before[0] == 0, "%s (%s): runtime message before the call: \"%s\"", r->function, label, rt_before);
    set_thread_sentinel(sentinel);

    wasmcell_status s = r->call(&c);

    /* 1. the status */
    CHECK_MSG(s == r->expected, "%s (%s, %s): returned %d (%s), expected %s", r->function, r->how, label, s,
              wasmcell_status_str(s), wasmcell_status_str(r->expected));
    /* 2. the thread's message, non-empty, new, and the same on the handle */
    thread_msg(last);
    if (r->on == ON_PROGRAM)
        prog_msg(c.p, on_handle);
    else
        rt_msg(c.rt, on_handle);
    CHECK_MSG(last[0] != 0 && strcmp(last, sentinel) != 0, "%s (%s, %s): the thread's message was not recorded (\"%s\")",
              r->function, r->how, label, last);
    CHECK_MSG(strcmp(last, on_handle) == 0, "%s (%s, %s): last_error \"%s\" but %s \"%s\"", r->function, r->how, label,
              last, r->on == ON_PROGRAM ? "program_error" : "runtime_error", on_handle);

    /* 3. the fault message and the state */
    fault_msg(c.p, buf);
    if (r->on == ON_PROGRAM && r->faults) {
        /* The call faulted p1: its message is the fault's. */
        CHECK_MSG(state_of(c.p) == WASMCELL_STATE_FAULTED, "%s (%s, %s): not FAULTED", r->function, r->how, label);
        CHECK_MSG(strcmp(buf, on_handle) == 0, "%s (%s, %s): fault message \"%s\", program_error \"%s\"", r->function,
                  r->how, label, buf, on_handle);
    } else {
        CHECK_MSG(strcmp(buf, fault_before) == 0, "%s (%s, %s): fault message became \"%s\", was \"%s\"", r->function,
                  r->how, label, buf, fault_before);
        CHECK_MSG(state_of(c.p) == (mode == FAULTED ? WASMCELL_STATE_FAULTED : WASMCELL_STATE_READY),
                  "%s (%s, %s): the state changed", r->function, r->how, label);
        if (mode == FAULTED && r->on == ON_PROGRAM)
            CHECK_MSG(strcmp(on_handle, fault_before) != 0,
                      "%s (%s, %s): program_error is still the fault's message \"%s\"", r->function, r->how, label,
                      fault_before);
    }

    /* 4. no leak to the other handles */
    CHECK_MSG(prog_msg(c.other, buf)[0] == 0, "%s (%s, %s): the bystander's program_error is \"%s\"", r->function,
              r->how, label, buf);
    if (r->on == ON_PROGRAM)
        CHECK_MSG(strcmp(rt_msg(c.rt, buf), rt_before) == 0, "%s (%s, %s): runtime_error became \"%s\"", r->function,
                  r->how, label, buf);
    else
        CHECK_MSG(strcmp(prog_msg(c.p, buf), p_before) == 0, "%s (%s, %s): p1's program_error became \"%s\", was \"%s\"",
                  r->function, r->how, label, buf, p_before);

    CHECK_STATUS(wasmcell_runtime_free(c.rt), WASMCELL_OK);
}

static void test_every_failing_call_records_on_thread_and_handle(void) {
    for (size_t i = 0; i < COUNT(rows); i++) {
        if (rows[i].modes & HEALTHY) run_row(&rows[i], HEALTHY);
        if (rows[i].modes & FAULTED) run_row(&rows[i], FAULTED);
    }
}

/* ---- the rest of the rule ----------------------------------------------------------- */

/* "For the calling thread": a failure on another thread leaves this
 * thread's last error alone, and the handle's message is the same from
 * every thread. */
struct other_thread {
    wasmcell_program *p;
    wasmcell_status status;
    char last[MSG_CAP];
};

static void *fail_on_other_thread(void *arg) {
    struct other_thread *t = arg;
    t->status = wasmcell_program_set_fault_outputs(t->p, 99);
    wasmcell_last_error(t->last, sizeof t->last, NULL);
    return NULL;
}

static void test_thread_message_stays_on_its_thread(void) {
    wasmcell_runtime *rt = new_runtime();
    struct other_thread t;
    memset(&t, 0, sizeof t);
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &t.p), WASMCELL_OK);
    char sentinel[MSG_CAP], buf[MSG_CAP];
    set_thread_sentinel(sentinel);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_on_other_thread, &t) == 0);
    pthread_join(thread, NULL);
    CHECK_STATUS(t.status, WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(t.last[0] != 0 && strcmp(t.last, sentinel) != 0);
    CHECK_MSG(strcmp(thread_msg(buf), sentinel) == 0, "this thread's last error became \"%s\"", buf);
    CHECK_MSG(strcmp(prog_msg(t.p, buf), t.last) == 0, "program_error \"%s\", the other thread's \"%s\"", buf, t.last);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* The functions left out of the table accept every argument value with a
 * live handle and record nothing. */
static void test_calls_that_cannot_fail(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_wat(rt, "p1", trivial_wat, &p), WASMCELL_OK);
    static const uint64_t u64s[] = {0, 1, UINT64_MAX};
    static const uint32_t u32s[] = {0, 1, UINT32_MAX};
    for (size_t i = 0; i < 3; i++) {
        CHECK_STATUS(wasmcell_runtime_set_default_memory_limit(rt, u64s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_default_stack_size(rt, u64s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_default_table_limit(rt, u32s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_nesting_limit(rt, u32s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_compile_threads(rt, u32s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_compile_priority(rt, (int32_t)u32s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_random_seed(rt, u64s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_module_limits(rt, u32s[i], u32s[i], u32s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_set_default_deadline(rt, u64s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_program_set_watchdog(p, u64s[i], u32s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_program_set_table_limit(p, u32s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_program_set_memory_limit(p, u64s[i]), WASMCELL_OK);
        CHECK_STATUS(wasmcell_program_set_timing(p, (int32_t)u32s[i]), WASMCELL_OK);
    }
    CHECK_STATUS(wasmcell_program_set_watchdog(p, 0, 0), WASMCELL_OK); /* off again */
    char buf[MSG_CAP];
    CHECK(rt_msg(rt, buf)[0] == 0);
    CHECK(prog_msg(p, buf)[0] == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* Failing calls with NULL, stale and wrong-kind handles record for the
 * thread only: no live handle's message changes. */
static void test_dead_handles_record_per_thread_only(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL, *faulted = NULL, *gone = NULL;
    CHECK_STATUS(load_wat(rt, "p1", trivial_wat, &p), WASMCELL_OK);
    CHECK_STATUS(load_fixture_named(rt, "f1", "unreachable.wat", &faulted), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "gone", trivial_wat, &gone), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_unload(gone), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(faulted), WASMCELL_ERR_TRAP);
    /* Give every live handle a message of its own. */
    CHECK_STATUS(wasmcell_program_set_fuel(p, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_state(faulted, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    char p_msg[MSG_CAP], f_msg[MSG_CAP], f_fault[MSG_CAP], r_msg[MSG_CAP], buf[MSG_CAP], last[MSG_CAP];
    prog_msg(p, p_msg);
    prog_msg(faulted, f_msg);
    fault_msg(faulted, f_fault);
    rt_msg(rt, r_msg);
    CHECK(p_msg[0] != 0 && f_msg[0] != 0 && f_fault[0] != 0 && r_msg[0] != 0);
    CHECK(strcmp(f_msg, f_fault) != 0);

    wasmcell_runtime *freed = new_runtime();
    wasmcell_program *orphan = NULL;
    CHECK_STATUS(load_wat(freed, "orphan", trivial_wat, &orphan), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(freed), WASMCELL_OK);

    struct {
        const char *what;
        wasmcell_status status;
    } calls[12];
    size_t n = 0;
#define DEAD(call)                                                                      \
    do {                                                                                \
        calls[n].what = #call;                                                          \
        calls[n].status = (call);                                                       \
        CHECK_MSG(thread_msg(last)[0] != 0, "%s: no thread message", calls[n].what);    \
        n++;                                                                            \
    } while (0)
    DEAD(wasmcell_program_set_fuel(NULL, 0));
    DEAD(wasmcell_program_set_fuel(gone, 0));
    DEAD(wasmcell_program_poll(gone));
    DEAD(wasmcell_program_set_fuel(orphan, 0));
    DEAD(wasmcell_program_set_fuel((wasmcell_program *)rt, 0)); /* a runtime is not a program */
    DEAD(wasmcell_program_reload(gone, garbage, sizeof garbage));
    DEAD(wasmcell_runtime_set_default_fuel(NULL, 0));
    DEAD(wasmcell_runtime_set_default_fuel(freed, 0));
    DEAD(wasmcell_runtime_set_default_fuel((wasmcell_runtime *)p, 0)); /* a program is not a runtime */
    DEAD(wasmcell_runtime_define((wasmcell_runtime *)faulted, NULL, "f", "()", ignore_call, NULL, NULL));
    DEAD(wasmcell_program_load(freed, "p9", garbage, sizeof garbage, &orphan));
    DEAD(wasmcell_program_commit_reload(gone, NULL));
#undef DEAD
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(calls[i].status == WASMCELL_ERR_INVALID_HANDLE, "%s returned %s", calls[i].what,
                  wasmcell_status_str(calls[i].status));
    CHECK(strcmp(prog_msg(p, buf), p_msg) == 0);
    CHECK(strcmp(prog_msg(faulted, buf), f_msg) == 0);
    CHECK(strcmp(fault_msg(faulted, buf), f_fault) == 0);
    CHECK(strcmp(rt_msg(rt, buf), r_msg) == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A getter that fails (NULL buffer with a capacity, a buffer too small, a
 * dead handle) leaves every message as it was, the thread's included. */
static void test_error_getters_never_record_their_own_failures(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "unreachable.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_set_fuel(p, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    wasmcell_program *gone = NULL;
    CHECK_STATUS(load_wat(rt, "gone", trivial_wat, &gone), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_unload(gone), WASMCELL_OK);
    wasmcell_runtime *freed = new_runtime();
    CHECK_STATUS(wasmcell_runtime_free(freed), WASMCELL_OK);

    char last[MSG_CAP], pm[MSG_CAP], fm[MSG_CAP], rm[MSG_CAP], buf[MSG_CAP];
    thread_msg(last);
    prog_msg(p, pm);
    fault_msg(p, fm);
    rt_msg(rt, rm);
    CHECK(last[0] != 0 && strcmp(last, pm) == 0 && fm[0] != 0 && rm[0] != 0);

    char tiny[2];
    size_t len = 0;
    struct {
        const char *what;
        wasmcell_status status, expected;
    } calls[] = {
        {"program_error(NULL buf, cap 5)", wasmcell_program_error(p, NULL, 5, &len), WASMCELL_ERR_INVALID_ARGUMENT},
        {"program_error(cap 2)", wasmcell_program_error(p, tiny, sizeof tiny, &len), WASMCELL_ERR_BUFFER_TOO_SMALL},
        {"program_error(unloaded)", wasmcell_program_error(gone, buf, sizeof buf, &len), WASMCELL_ERR_INVALID_HANDLE},
        {"program_error(NULL)", wasmcell_program_error(NULL, buf, sizeof buf, &len), WASMCELL_ERR_INVALID_HANDLE},
        {"fault_message(NULL buf, cap 5)", wasmcell_program_fault_message(p, NULL, 5, &len), WASMCELL_ERR_INVALID_ARGUMENT},
        {"fault_message(cap 2)", wasmcell_program_fault_message(p, tiny, sizeof tiny, &len), WASMCELL_ERR_BUFFER_TOO_SMALL},
        {"fault_message(unloaded)", wasmcell_program_fault_message(gone, buf, sizeof buf, &len), WASMCELL_ERR_INVALID_HANDLE},
        {"fault_message(a runtime)", wasmcell_program_fault_message((wasmcell_program *)rt, buf, sizeof buf, &len),
         WASMCELL_ERR_INVALID_HANDLE},
        {"runtime_error(NULL buf, cap 5)", wasmcell_runtime_error(rt, NULL, 5, &len), WASMCELL_ERR_INVALID_ARGUMENT},
        {"runtime_error(cap 2)", wasmcell_runtime_error(rt, tiny, sizeof tiny, &len), WASMCELL_ERR_BUFFER_TOO_SMALL},
        {"runtime_error(freed)", wasmcell_runtime_error(freed, buf, sizeof buf, &len), WASMCELL_ERR_INVALID_HANDLE},
        {"runtime_error(a program)", wasmcell_runtime_error((wasmcell_runtime *)p, buf, sizeof buf, &len),
         WASMCELL_ERR_INVALID_HANDLE},
        {"last_error(NULL buf, cap 5)", wasmcell_last_error(NULL, 5, &len), WASMCELL_ERR_INVALID_ARGUMENT},
        {"last_error(cap 2)", wasmcell_last_error(tiny, sizeof tiny, &len), WASMCELL_ERR_BUFFER_TOO_SMALL},
    };
    for (size_t i = 0; i < COUNT(calls); i++)
        CHECK_MSG(calls[i].status == calls[i].expected, "%s returned %s, expected %s", calls[i].what,
                  wasmcell_status_str(calls[i].status), wasmcell_status_str(calls[i].expected));
    CHECK_MSG(strcmp(thread_msg(buf), last) == 0, "last_error became \"%s\", was \"%s\"", buf, last);
    CHECK(strcmp(prog_msg(p, buf), pm) == 0);
    CHECK(strcmp(fault_msg(p, buf), fm) == 0);
    CHECK(strcmp(rt_msg(rt, buf), rm) == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* Calls on a prepared reload record for the thread only: neither the
 * program it was prepared for nor the runtime gets the message. */
static void test_reload_calls_record_per_thread_only(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &p), WASMCELL_OK);
    wasmcell_reload *r = NULL, *trapping = NULL, *discarded = NULL;
    size_t len = 0;
    unsigned char *bytes = fixture_bytes("conveyor.wat", &len);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, bytes, len, &r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, bytes, len, &discarded), WASMCELL_OK);
    free(bytes);
    bytes = fixture_bytes("unreachable.wat", &len);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, bytes, len, &trapping), WASMCELL_OK);
    free(bytes);
    CHECK_STATUS(wasmcell_reload_discard(discarded), WASMCELL_OK);

    char sentinel[MSG_CAP], last[MSG_CAP], buf[MSG_CAP];
    uint8_t out[8];
    size_t kept = 0;
    struct {
        const char *what;
        wasmcell_status expected;
    } cases[] = {
        {"wasmcell_reload_report(NULL buf, cap 5)", WASMCELL_ERR_INVALID_ARGUMENT},
        {"wasmcell_reload_read_outputs(before a shadow poll)", WASMCELL_ERR_INVALID_ARGUMENT},
        {"wasmcell_reload_shadow_poll(a version that traps)", WASMCELL_ERR_TRAP},
        {"wasmcell_reload_shadow_poll(after its fault)", WASMCELL_ERR_FAULTED},
        {"wasmcell_reload_retain_summary(discarded)", WASMCELL_ERR_INVALID_HANDLE},
        {"wasmcell_reload_discard(twice)", WASMCELL_ERR_INVALID_HANDLE},
        {"wasmcell_reload_read_outputs(outside the output area)", WASMCELL_ERR_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        set_thread_sentinel(sentinel);
        wasmcell_status s = WASMCELL_OK;
        switch (i) {
        case 0: s = wasmcell_reload_report(r, NULL, 5, &len); break;
        case 1: s = wasmcell_reload_read_outputs(r, 0, out, sizeof out); break;
        case 2: s = wasmcell_reload_shadow_poll(trapping); break;
        case 3: s = wasmcell_reload_shadow_poll(trapping); break;
        case 4: s = wasmcell_reload_retain_summary(discarded, &kept, NULL, NULL, NULL); break;
        case 5: s = wasmcell_reload_discard(discarded); break;
        case 6:
            CHECK_STATUS(wasmcell_reload_shadow_poll(r), WASMCELL_OK);
            set_thread_sentinel(sentinel);
            s = wasmcell_reload_read_outputs(r, 20, out, sizeof out);
            break;
        }
        CHECK_MSG(s == cases[i].expected, "%s returned %s, expected %s", cases[i].what, wasmcell_status_str(s),
                  wasmcell_status_str(cases[i].expected));
        thread_msg(last);
        CHECK_MSG(last[0] != 0 && strcmp(last, sentinel) != 0, "%s: the thread's message was not recorded",
                  cases[i].what);
        CHECK_MSG(prog_msg(p, buf)[0] == 0, "%s: the program's error became \"%s\"", cases[i].what, buf);
        CHECK_MSG(fault_msg(p, buf)[0] == 0, "%s: the program's fault message became \"%s\"", cases[i].what, buf);
        CHECK_MSG(rt_msg(rt, buf)[0] == 0, "%s: the runtime's error became \"%s\"", cases[i].what, buf);
    }
    CHECK(state_of(p) == WASMCELL_STATE_READY);
    CHECK_STATUS(wasmcell_reload_discard(trapping), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A shadow poll from the program's own callback: WASMCELL_ERR_BUSY, recorded
 * for the thread only. */
struct shadow_probe {
    wasmcell_reload *reload;
    wasmcell_status status;
    char sentinel[MSG_CAP], message[MSG_CAP];
    int ran;
};

static int32_t shadow_from_callback(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                                    wasmcell_val *results, size_t nresults) {
    (void)call; (void)args; (void)nargs; (void)results; (void)nresults;
    struct shadow_probe *probe = user_data;
    if (probe->ran || probe->reload == NULL) return 0;
    probe->ran = 1;
    set_thread_sentinel(probe->sentinel);
    probe->status = wasmcell_reload_shadow_poll(probe->reload);
    thread_msg(probe->message);
    return 0;
}

static void test_shadow_poll_from_own_callback_records_per_thread_only(void) {
    wasmcell_runtime *rt = new_runtime();
    struct shadow_probe probe;
    memset(&probe, 0, sizeof probe);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "reenter", "()", shadow_from_callback, &probe, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "reenter.wat", &p), WASMCELL_OK);
    size_t len = 0;
    unsigned char *bytes = fixture_bytes("reenter.wat", &len);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, bytes, len, &probe.reload), WASMCELL_OK);
    free(bytes);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(probe.ran);
    CHECK_MSG(probe.status == WASMCELL_ERR_BUSY, "wasmcell_reload_shadow_poll from the program's own callback: %s",
              wasmcell_status_str(probe.status));
    CHECK_MSG(probe.message[0] != 0 && strcmp(probe.message, probe.sentinel) != 0,
              "the thread's message was not recorded (\"%s\")", probe.message);
    char buf[MSG_CAP];
    CHECK_MSG(prog_msg(p, buf)[0] == 0, "the program's error became \"%s\"", buf);
    CHECK_MSG(rt_msg(rt, buf)[0] == 0, "the runtime's error became \"%s\"", buf);
    CHECK_STATUS(wasmcell_reload_discard(probe.reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* The callback accessors record for the thread only, inside the callback
 * and after it (a stale wasmcell_call). */
struct accessor_probe {
    wasmcell_call *call;
    wasmcell_status status[5];
    char message[5][256];
    int ran;
};

static int32_t probe_accessors(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                               wasmcell_val *results, size_t nresults) {
    (void)args; (void)nargs; (void)results; (void)nresults;
    struct accessor_probe *probe = user_data;
    if (probe->ran) return 0;
    probe->ran = 1;
    probe->call = call;
    char tiny[2];
    size_t len = 0;
    for (int i = 0; i < 5; i++) {
        wasmcell_program_poll(NULL); /* a sentinel message */
        switch (i) {
        case 0: probe->status[i] = wasmcell_call_program(call, NULL); break;
        case 1: probe->status[i] = wasmcell_call_program_name(call, tiny, sizeof tiny, &len); break;
        case 2: probe->status[i] = wasmcell_call_memory(call, NULL, &len); break;
        case 3: probe->status[i] = wasmcell_call_is_shadow(call, NULL); break;
        case 4: probe->status[i] = wasmcell_call_set_error(call, NULL); break;
        }
        wasmcell_last_error(probe->message[i], sizeof probe->message[i], NULL);
    }
    return 0;
}

static void test_call_accessors_record_per_thread_only(void) {
    wasmcell_runtime *rt = new_runtime();
    struct accessor_probe probe;
    memset(&probe, 0, sizeof probe);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "reenter", "()", probe_accessors, &probe, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "reenter.wat", &p), WASMCELL_OK);
    char sentinel[MSG_CAP], buf[MSG_CAP];
    set_thread_sentinel(sentinel);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(probe.ran);
    static const char *names[5] = {"wasmcell_call_program(NULL out)", "wasmcell_call_program_name(cap 2)",
                                   "wasmcell_call_memory(NULL data)", "wasmcell_call_is_shadow(NULL flag)",
                                   "wasmcell_call_set_error(NULL message)"};
    static const wasmcell_status expected[5] = {WASMCELL_ERR_INVALID_ARGUMENT, WASMCELL_ERR_BUFFER_TOO_SMALL,
                                                WASMCELL_ERR_INVALID_ARGUMENT, WASMCELL_ERR_INVALID_ARGUMENT,
                                                WASMCELL_ERR_INVALID_ARGUMENT};
    for (int i = 0; i < 5; i++) {
        CHECK_MSG(probe.status[i] == expected[i], "%s returned %s, expected %s", names[i],
                  wasmcell_status_str(probe.status[i]), wasmcell_status_str(expected[i]));
        CHECK_MSG(probe.message[i][0] != 0 && strcmp(probe.message[i], sentinel) != 0,
                  "%s: the thread's message was not recorded (\"%s\")", names[i], probe.message[i]);
    }
    CHECK_MSG(prog_msg(p, buf)[0] == 0, "the calling program's error became \"%s\"", buf);
    CHECK_MSG(rt_msg(rt, buf)[0] == 0, "the runtime's error became \"%s\"", buf);
    /* After the callback the call is stale. */
    set_thread_sentinel(sentinel);
    wasmcell_program *out = NULL;
    CHECK_STATUS(wasmcell_call_program(probe.call, &out), WASMCELL_ERR_INVALID_HANDLE);
    CHECK(strcmp(thread_msg(buf), sentinel) != 0 && buf[0] != 0);
    set_thread_sentinel(sentinel);
    CHECK_STATUS(wasmcell_call_set_error(probe.call, "late"), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_MSG(strcmp(thread_msg(buf), sentinel) != 0 && buf[0] != 0,
              "wasmcell_call_set_error(stale call): the thread's message was not recorded (\"%s\")", buf);
    CHECK(prog_msg(p, buf)[0] == 0);
    CHECK(rt_msg(rt, buf)[0] == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* One faulted program through a series of failing calls: program_error
 * follows each call, the fault message stays the fault's, until a reset
 * clears both. */
static void test_fault_message_is_kept_until_recovery(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "flaky.wat", &p), WASMCELL_OK);
    for (int i = 0; i < 4; i++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    char fault[MSG_CAP], buf[MSG_CAP], last[MSG_CAP], previous[MSG_CAP];
    fault_msg(p, fault);
    CHECK_CONTAINS(fault, "unreachable");
    strcpy(previous, fault);
    char tiny[2];
    for (int i = 0; i < 6; i++) {
        wasmcell_status s = WASMCELL_OK;
        switch (i) {
        case 0: s = wasmcell_program_poll(p); break;
        case 1: s = wasmcell_program_set_fuel(p, 0); break;
        case 2: s = wasmcell_program_reload(p, garbage, sizeof garbage); break;
        case 3: s = wasmcell_program_name(p, tiny, sizeof tiny, NULL); break;
        case 4: s = wasmcell_program_stats(p, NULL); break;
        case 5: s = wasmcell_program_poll(p); break;
        }
        CHECK_MSG(s != WASMCELL_OK, "call %d succeeded", i);
        thread_msg(last);
        CHECK_MSG(strcmp(prog_msg(p, buf), last) == 0, "call %d: program_error \"%s\", last_error \"%s\"", i, buf, last);
        if (i != 5) /* 0 and 5 are the same call: the same message */
            CHECK_MSG(strcmp(buf, previous) != 0, "call %d: program_error did not change from \"%s\"", i, previous);
        strcpy(previous, buf);
        CHECK_MSG(strcmp(fault_msg(p, buf), fault) == 0, "call %d: fault message \"%s\", was \"%s\"", i, buf, fault);
        CHECK(fault_of(p) == WASMCELL_FAULT_UNREACHABLE);
    }
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK(prog_msg(p, buf)[0] == 0);
    CHECK(fault_msg(p, buf)[0] == 0);
    CHECK(state_of(p) == WASMCELL_STATE_READY);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    test_begin("test_messages", argc, argv);
    RUN(test_every_failing_call_records_on_thread_and_handle);
    RUN(test_thread_message_stays_on_its_thread);
    RUN(test_calls_that_cannot_fail);
    RUN(test_dead_handles_record_per_thread_only);
    RUN(test_error_getters_never_record_their_own_failures);
    RUN(test_reload_calls_record_per_thread_only);
    RUN(test_shadow_poll_from_own_callback_records_per_thread_only);
    RUN(test_call_accessors_record_per_thread_only);
    RUN(test_fault_message_is_kept_until_recovery);
    return test_end();
}
