/* Runtimes: creation and freeing, the handle table (every function refuses
 * NULL, stale and wrong-kind handles), error messages per runtime and per
 * thread, default limits (budget, memory, module size and shape, stack),
 * the log sink, the clock and the module cache.
 * Usage: test_runtime [fixtures-dir] [name-filter] */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"

/* ---- version and statuses -------------------------------------------------- */

static void test_version(void) {
    CHECK(wasmcell_version_number() == WASMCELL_VERSION_NUMBER);
    CHECK(WASMCELL_VERSION_NUMBER ==
          WASMCELL_VERSION_MAJOR * 10000 + WASMCELL_VERSION_MINOR * 100 + WASMCELL_VERSION_PATCH);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", WASMCELL_VERSION_MAJOR, WASMCELL_VERSION_MINOR,
             WASMCELL_VERSION_PATCH);
    CHECK(strcmp(wasmcell_version(), expected) == 0);
}

static void test_status_strings(void) {
    CHECK(strcmp(wasmcell_status_str(WASMCELL_OK), "ok") == 0);
    CHECK(strcmp(wasmcell_status_str(WASMCELL_ERR_BUDGET), "instruction budget exhausted") == 0);
    CHECK(strcmp(wasmcell_status_str(12345), "unknown status") == 0);
    CHECK(strcmp(wasmcell_status_str(WASMCELL_ERR_WATCHDOG - 1), "unknown status") == 0);
    /* Every status has its own description. */
    for (int s = WASMCELL_ERR_WATCHDOG; s <= WASMCELL_OK; s++) {
        CHECK(wasmcell_status_str(s) != NULL);
        CHECK(strcmp(wasmcell_status_str(s), "unknown status") != 0);
        for (int t = WASMCELL_ERR_WATCHDOG; t < s; t++) CHECK(strcmp(wasmcell_status_str(s), wasmcell_status_str(t)) != 0);
    }
}

/* ---- runtime lifecycle --------------------------------------------------------- */

static void test_runtime_new_and_free(void) {
    CHECK_STATUS(wasmcell_runtime_new(NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    CHECK(rt != NULL);
    wasmcell_program *a = NULL, *b = NULL;
    CHECK_STATUS(load_fixture(rt, "hello.wat", &a), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "hello.wat", &b), WASMCELL_OK);
    CHECK(a != b);
    CHECK_STATUS(wasmcell_program_unload(a), WASMCELL_OK);
    /* Freeing unloads the remaining programs; every handle becomes invalid. */
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(b), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_unload(b), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_ERR_INVALID_HANDLE);
    char msg[256];
    CHECK_CONTAINS(last_error(msg, sizeof msg), "stale runtime handle");

    /* A new runtime never revives an old handle, even if it reuses its slot. */
    wasmcell_runtime *again = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&again), WASMCELL_OK);
    CHECK(again != rt);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 10), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(again), WASMCELL_OK);
}

/* ---- the handle table ------------------------------------------------------------ */

static char scratch[64];

static wasmcell_status pc_poll(wasmcell_program *p) { return wasmcell_program_poll(p); }
static wasmcell_status pc_reload(wasmcell_program *p) {
    static const char m[] = "(module (func (export \"poll\")))";
    return wasmcell_program_reload(p, (const uint8_t *)m, sizeof m - 1);
}
static wasmcell_status pc_reset(wasmcell_program *p) { return wasmcell_program_reset(p); }
static wasmcell_status pc_unload(wasmcell_program *p) { return wasmcell_program_unload(p); }
static wasmcell_status pc_state(wasmcell_program *p) {
    wasmcell_state s;
    return wasmcell_program_state(p, &s);
}
static wasmcell_status pc_error(wasmcell_program *p) { return wasmcell_program_error(p, scratch, sizeof scratch, NULL); }
static wasmcell_status pc_fault_kind(wasmcell_program *p) {
    wasmcell_fault k;
    return wasmcell_program_fault_kind(p, &k);
}
static wasmcell_status pc_set_fuel(wasmcell_program *p) { return wasmcell_program_set_fuel(p, 1000); }
static wasmcell_status pc_set_memory_limit(wasmcell_program *p) { return wasmcell_program_set_memory_limit(p, 1 << 20); }
static wasmcell_status pc_set_table_limit(wasmcell_program *p) { return wasmcell_program_set_table_limit(p, 1000); }
static wasmcell_status pc_stats(wasmcell_program *p) {
    wasmcell_stats s;
    return wasmcell_program_stats(p, &s);
}
static wasmcell_status pc_name(wasmcell_program *p) { return wasmcell_program_name(p, scratch, sizeof scratch, NULL); }
static wasmcell_status pc_notice(wasmcell_program *p) { return wasmcell_program_notice(p, scratch, sizeof scratch, NULL); }
static wasmcell_status pc_prepare(wasmcell_program *p) {
    static const char m[] = "(module (func (export \"poll\")))";
    wasmcell_reload *r = NULL;
    wasmcell_status s = wasmcell_program_prepare_reload(p, (const uint8_t *)m, sizeof m - 1, &r);
    if (s == WASMCELL_OK) wasmcell_reload_discard(r);
    return s;
}
static wasmcell_status pc_commit(wasmcell_program *p) { return wasmcell_program_commit_reload(p, NULL); }
static wasmcell_status pc_image_size(wasmcell_program *p) {
    size_t n;
    return wasmcell_program_image_size(p, WASMCELL_AREA_INPUT, &n);
}
static wasmcell_status pc_write_inputs(wasmcell_program *p) { return wasmcell_program_write_inputs(p, 0, NULL, 0); }
static wasmcell_status pc_read_outputs(wasmcell_program *p) { return wasmcell_program_read_outputs(p, 0, NULL, 0, NULL); }
static wasmcell_status pc_signal_count(wasmcell_program *p) {
    size_t n;
    return wasmcell_program_signal_count(p, &n);
}
static wasmcell_status pc_signal_info(wasmcell_program *p) {
    return wasmcell_program_signal_info(p, 0, scratch, sizeof scratch, NULL, NULL, NULL, NULL, NULL);
}
static wasmcell_status pc_signal_lookup(wasmcell_program *p) {
    uint32_t id;
    return wasmcell_program_signal_lookup(p, "speed", &id, NULL, NULL, NULL);
}
static wasmcell_status pc_get_f64(wasmcell_program *p) {
    double v;
    return wasmcell_program_signal_get_f64(p, 1, &v);
}
static wasmcell_status pc_get_i64(wasmcell_program *p) {
    int64_t v;
    return wasmcell_program_signal_get_i64(p, 1, &v);
}
static wasmcell_status pc_set_f64(wasmcell_program *p) { return wasmcell_program_signal_set_f64(p, 1, 1.0); }
static wasmcell_status pc_set_i64(wasmcell_program *p) { return wasmcell_program_signal_set_i64(p, 1, 1); }

static const struct {
    const char *name;
    wasmcell_status (*fn)(wasmcell_program *);
} program_calls[] = {
    {"poll", pc_poll}, {"reload", pc_reload}, {"reset", pc_reset}, {"unload", pc_unload},
    {"state", pc_state}, {"error", pc_error}, {"fault_kind", pc_fault_kind}, {"set_fuel", pc_set_fuel},
    {"set_memory_limit", pc_set_memory_limit}, {"set_table_limit", pc_set_table_limit}, {"stats", pc_stats}, {"name", pc_name},
    {"notice", pc_notice}, {"prepare_reload", pc_prepare}, {"commit_reload", pc_commit},
    {"image_size", pc_image_size}, {"write_inputs", pc_write_inputs}, {"read_outputs", pc_read_outputs},
    {"signal_count", pc_signal_count}, {"signal_info", pc_signal_info}, {"signal_lookup", pc_signal_lookup},
    {"signal_get_f64", pc_get_f64}, {"signal_get_i64", pc_get_i64}, {"signal_set_f64", pc_set_f64},
    {"signal_set_i64", pc_set_i64},
};

static int64_t zero_clock(void *u) { (void)u; return 0; }
static void drop_log(void *u, const char *p, wasmcell_log_level l, const char *m, size_t n) {
    (void)u; (void)p; (void)l; (void)m; (void)n;
}

static wasmcell_status rc_error(wasmcell_runtime *rt) { return wasmcell_runtime_error(rt, scratch, sizeof scratch, NULL); }
static wasmcell_status rc_fuel(wasmcell_runtime *rt) { return wasmcell_runtime_set_default_fuel(rt, 1000); }
static wasmcell_status rc_memory(wasmcell_runtime *rt) { return wasmcell_runtime_set_default_memory_limit(rt, 1 << 20); }
static wasmcell_status rc_module_size(wasmcell_runtime *rt) { return wasmcell_runtime_set_max_module_size(rt, 1 << 20); }
static wasmcell_status rc_stack(wasmcell_runtime *rt) { return wasmcell_runtime_set_default_stack_size(rt, 1 << 20); }
static wasmcell_status rc_module_limits(wasmcell_runtime *rt) { return wasmcell_runtime_set_module_limits(rt, 10, 10, 10); }
static wasmcell_status rc_table_limit(wasmcell_runtime *rt) { return wasmcell_runtime_set_default_table_limit(rt, 1000); }
static wasmcell_status rc_nesting_limit(wasmcell_runtime *rt) { return wasmcell_runtime_set_nesting_limit(rt, 100); }
static wasmcell_status rc_log(wasmcell_runtime *rt) { return wasmcell_runtime_set_log(rt, drop_log, NULL); }
static wasmcell_status rc_clock(wasmcell_runtime *rt) { return wasmcell_runtime_set_clock(rt, zero_clock, NULL); }
static wasmcell_status rc_define(wasmcell_runtime *rt) {
    return wasmcell_runtime_define(rt, "m", "f", "()", ignore_call, NULL, NULL);
}
static wasmcell_status rc_load(wasmcell_runtime *rt) {
    wasmcell_program *p = NULL;
    return load_wat(rt, "x", "(module (func (export \"poll\")))", &p);
}
static wasmcell_status rc_load_file(wasmcell_runtime *rt) {
    char path[512];
    fixture_path("hello.wat", path, sizeof path);
    wasmcell_program *p = NULL;
    return wasmcell_program_load_file(rt, "x", path, &p);
}
static wasmcell_status rc_cache_dir(wasmcell_runtime *rt) { return wasmcell_runtime_set_cache_dir(rt, NULL); }
static wasmcell_status rc_cache_stats(wasmcell_runtime *rt) {
    wasmcell_cache_stats s;
    return wasmcell_runtime_cache_stats(rt, &s);
}
static wasmcell_status rc_free(wasmcell_runtime *rt) { return wasmcell_runtime_free(rt); }

static const struct {
    const char *name;
    wasmcell_status (*fn)(wasmcell_runtime *);
} runtime_calls[] = {
    {"runtime_error", rc_error}, {"set_default_fuel", rc_fuel}, {"set_default_memory_limit", rc_memory},
    {"set_max_module_size", rc_module_size}, {"set_default_stack_size", rc_stack},
    {"set_module_limits", rc_module_limits}, {"set_default_table_limit", rc_table_limit},
    {"set_nesting_limit", rc_nesting_limit}, {"set_log", rc_log}, {"set_clock", rc_clock},
    {"define", rc_define}, {"program_load", rc_load}, {"program_load_file", rc_load_file},
    {"set_cache_dir", rc_cache_dir}, {"cache_stats", rc_cache_stats}, {"runtime_free", rc_free},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Every function taking a handle refuses NULL, garbage, stale, wrong-kind
 * handles and programs of a freed runtime with WASMCELL_ERR_INVALID_HANDLE,
 * and the same calls on valid handles do not. */
static void test_every_function_refuses_bad_handles(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *live = NULL, *unloaded = NULL, *orphan = NULL;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &live), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &unloaded), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_unload(unloaded), WASMCELL_OK);
    wasmcell_runtime *freed = new_runtime();
    CHECK_STATUS(load_fixture(freed, "conveyor.wat", &orphan), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(freed), WASMCELL_OK);
    wasmcell_reload *reload = NULL;
    static const char m[] = "(module (func (export \"poll\")))";
    CHECK_STATUS(wasmcell_program_prepare_reload(live, (const uint8_t *)m, sizeof m - 1, &reload), WASMCELL_OK);

    struct {
        const char *what;
        wasmcell_program *p;
        const char *why;
    } bad_programs[] = {
        {"NULL", NULL, "NULL"},
        {"garbage", (wasmcell_program *)(uintptr_t)0xdeadbeef, "not a program handle"},
        {"unloaded", unloaded, "stale"},
        {"program of a freed runtime", orphan, "stale"},
        {"a runtime", (wasmcell_program *)rt, "a runtime handle was passed where a program handle is expected"},
        {"a reload", (wasmcell_program *)reload, "a reload handle was passed where a program handle is expected"},
    };
    for (size_t b = 0; b < COUNT(bad_programs); b++) {
        for (size_t i = 0; i < COUNT(program_calls); i++) {
            wasmcell_status s = program_calls[i].fn(bad_programs[b].p);
            CHECK_MSG(s == WASMCELL_ERR_INVALID_HANDLE, "wasmcell_program_%s(%s) returned %s", program_calls[i].name,
                      bad_programs[b].what, wasmcell_status_str(s));
            char msg[256];
            last_error(msg, sizeof msg);
            /* the getters that read messages leave the last error alone */
            if (program_calls[i].fn != pc_error) {
                CHECK_MSG(strstr(msg, bad_programs[b].why) != NULL, "wasmcell_program_%s(%s): message \"%s\"",
                          program_calls[i].name, bad_programs[b].what, msg);
            }
        }
    }
    /* The valid program still works after all that. */
    for (size_t i = 0; i < COUNT(program_calls); i++) {
        if (program_calls[i].fn == pc_unload || program_calls[i].fn == pc_commit) continue;
        wasmcell_status s = program_calls[i].fn(live);
        CHECK_MSG(s != WASMCELL_ERR_INVALID_HANDLE, "wasmcell_program_%s(live) returned %s", program_calls[i].name,
                  wasmcell_status_str(s));
    }
    CHECK_STATUS(wasmcell_program_poll(live), WASMCELL_OK);

    wasmcell_runtime *stale_rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_free(stale_rt), WASMCELL_OK);
    struct {
        const char *what;
        wasmcell_runtime *rt;
    } bad_runtimes[] = {
        {"NULL", NULL},
        {"garbage", (wasmcell_runtime *)(uintptr_t)0x12345678},
        {"freed", stale_rt},
        {"a program", (wasmcell_runtime *)live},
        {"a reload", (wasmcell_runtime *)reload},
    };
    for (size_t b = 0; b < COUNT(bad_runtimes); b++) {
        for (size_t i = 0; i < COUNT(runtime_calls); i++) {
            wasmcell_status s = runtime_calls[i].fn(bad_runtimes[b].rt);
            CHECK_MSG(s == WASMCELL_ERR_INVALID_HANDLE, "wasmcell_%s(%s) returned %s", runtime_calls[i].name,
                      bad_runtimes[b].what, wasmcell_status_str(s));
        }
    }
    /* Nothing above freed the live program or the pending reload. */
    CHECK_STATUS(wasmcell_program_poll(live), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard((wasmcell_reload *)live), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_reload_discard(NULL), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_poll(live), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- error messages --------------------------------------------------------------- */

struct error_ctx {
    wasmcell_runtime *rt;
};

static wasmcell_status get_runtime_error(void *ctx, char *buf, size_t cap, size_t *len) {
    return wasmcell_runtime_error(((struct error_ctx *)ctx)->rt, buf, cap, len);
}

static wasmcell_status get_last_error(void *ctx, char *buf, size_t cap, size_t *len) {
    (void)ctx;
    return wasmcell_last_error(buf, cap, len);
}

struct other_thread_read {
    wasmcell_runtime *rt;
    char runtime_error[256];
    char last_error[256];
    size_t last_error_len;
};

static void *read_errors_elsewhere(void *arg) {
    struct other_thread_read *r = arg;
    wasmcell_runtime_error(r->rt, r->runtime_error, sizeof r->runtime_error, NULL);
    r->last_error_len = 999;
    wasmcell_last_error(r->last_error, sizeof r->last_error, &r->last_error_len);
    return NULL;
}

static void test_error_messages_per_runtime_and_thread(void) {
    wasmcell_runtime *a = new_runtime(), *b = new_runtime();
    char msg[512];
    size_t len = 99;
    /* Nothing failed yet: empty. */
    CHECK_STATUS(wasmcell_runtime_error(a, msg, sizeof msg, &len), WASMCELL_OK);
    CHECK(len == 0 && msg[0] == 0);

    CHECK_STATUS(wasmcell_runtime_define(a, "m", "f", "(i)q", ignore_call, NULL, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_error(a, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "unknown result type 'q'");
    CHECK_STATUS(wasmcell_runtime_error(b, msg, sizeof msg, &len), WASMCELL_OK);
    CHECK(len == 0); /* per runtime */
    CHECK_CONTAINS(last_error(msg, sizeof msg), "unknown result type 'q'");

    /* Successful calls clear neither; reading does not change them. */
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(a, 1000), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(a, "m", "g", "()", ignore_call, NULL, NULL), WASMCELL_OK);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "unknown result type 'q'");
    CHECK_STATUS(wasmcell_runtime_error(a, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "unknown result type 'q'");

    /* The runtime's message is the same from another thread (LabVIEW may
     * run consecutive calls on different threads); the last error is not. */
    struct other_thread_read r = {.rt = a};
    pthread_t t;
    pthread_create(&t, NULL, read_errors_elsewhere, &r);
    pthread_join(t, NULL);
    CHECK_CONTAINS(r.runtime_error, "unknown result type 'q'");
    CHECK(r.last_error_len == 0 && r.last_error[0] == 0);

    /* A failed load: its message is on the runtime and the thread. */
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(a, "missing_import.wat", &p), WASMCELL_ERR_LINK);
    CHECK_STATUS(wasmcell_runtime_error(a, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "missing import `plant.read_valve`");

    /* BUFFER_TOO_SMALL and the length, for both getters. */
    struct error_ctx ctx = {a};
    check_string_getter("wasmcell_runtime_error", get_runtime_error, &ctx);
    check_string_getter("wasmcell_last_error", get_last_error, NULL);
    CHECK_STATUS(wasmcell_runtime_error(NULL, msg, sizeof msg, NULL), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(a), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(b), WASMCELL_OK);
}

/* ---- default limits ------------------------------------------------------------------ */

static void test_limit_setters_statuses(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, UINT64_MAX), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_memory_limit(rt, 0), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_memory_limit(rt, UINT64_MAX), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_stack_size(rt, 0), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_stack_size(rt, UINT64_MAX), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_module_limits(rt, 0, 0, 0), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_module_limits(rt, UINT32_MAX, UINT32_MAX, UINT32_MAX), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_default_fuel_applies_to_programs_loaded_later(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *before = NULL, *after = NULL;
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &before), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 5000), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &after), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(after), WASMCELL_ERR_BUDGET);
    CHECK(stats_of(after).last_fuel_used == 5000);
    /* The program loaded before keeps the default budget of 100 000 000. */
    CHECK_STATUS(wasmcell_program_poll(before), WASMCELL_ERR_BUDGET);
    CHECK(stats_of(before).last_fuel_used == 100000000);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static int32_t grew = 0;

static void test_memory_limits(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "grew", "(i)", store_i32, &grew, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;

    /* The default (64 MiB) refuses a 1 GiB initial memory and 4 GiB growth. */
    CHECK_STATUS(load_fixture(rt, "huge_memory_minimum.wat", &p), WASMCELL_ERR_LIMIT);
    char msg[512];
    CHECK_CONTAINS(last_error(msg, sizeof msg), "exceeds the program's memory limit");
    CHECK_STATUS(load_fixture(rt, "memory_bomb.wat", &p), WASMCELL_OK);
    grew = 0;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(grew == -1); /* memory.grow failed inside the guest; no fault */

    /* Rounded down to whole pages: 1 page + 100 bytes allows no growth. */
    static const char grow_one[] =
        "(module (import \"test\" \"grew\" (func $g (param i32))) (memory 1)"
        " (func (export \"poll\") (call $g (memory.grow (i32.const 1)))))";
    CHECK_STATUS(wasmcell_runtime_set_default_memory_limit(rt, 65536 + 100), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "grow", grow_one, &p), WASMCELL_OK);
    grew = 0;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(grew == -1);
    CHECK_STATUS(wasmcell_runtime_set_default_memory_limit(rt, 2 * 65536), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "grow", grow_one, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(grew == 1); /* the old size in pages: growth succeeded */
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(grew == -1); /* a third page is over the limit */

    /* A program's own limit applies at its next reset; a failed reset leaves
     * it faulted with the reason, and raising the limit recovers it. */
    CHECK_STATUS(wasmcell_runtime_set_default_memory_limit(rt, 2ull << 30), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "huge_memory_minimum.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_memory_limit(p, 1 << 20), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK); /* the running instance keeps its memory */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_ERR_LIMIT);
    CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "exceeds the program's memory limit");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);
    CHECK_STATUS(wasmcell_program_set_memory_limit(p, 2ull << 30), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_module_size_limit(void) {
    wasmcell_runtime *rt = new_runtime();
    size_t len = 0;
    unsigned char *hello = fixture_bytes("hello.wat", &len);
    wasmcell_program *p = NULL;
    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, len - 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_load(rt, "p1", hello, len, &p), WASMCELL_ERR_LIMIT);
    char msg[512];
    char expected[128];
    snprintf(expected, sizeof expected, "module is %zu bytes, more than the limit of %zu bytes", len, len - 1);
    CHECK_CONTAINS(last_error(msg, sizeof msg), expected);
    wasmcell_cache_stats cache;
    CHECK_STATUS(wasmcell_runtime_cache_stats(rt, &cache), WASMCELL_OK);
    CHECK(cache.compiles == 0); /* refused before any parsing */
    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, len), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_load(rt, "p1", hello, len, &p), WASMCELL_OK); /* exactly at the limit */
    free(hello);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A module with `functions` defined functions, `imports` imported ones and a
 * table of `table` elements, as WAT text. */
static char *shaped_module(int functions, int imports, int table) {
    size_t cap = 256 + 64 * (size_t)(functions + imports);
    char *wat = malloc(cap);
    size_t n = (size_t)snprintf(wat, cap, "(module");
    for (int i = 0; i < imports; i++) n += (size_t)snprintf(wat + n, cap - n, " (import \"m\" \"f%d\" (func))", i);
    if (table > 0) n += (size_t)snprintf(wat + n, cap - n, " (table %d funcref)", table);
    n += (size_t)snprintf(wat + n, cap - n, " (func (export \"poll\"))");
    for (int i = 1; i < functions; i++) n += (size_t)snprintf(wat + n, cap - n, " (func)");
    snprintf(wat + n, cap - n, ")");
    return wat;
}

static void test_module_shape_limits(void) {
    wasmcell_runtime *rt = new_runtime();
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%d", i);
        CHECK_STATUS(wasmcell_runtime_define(rt, "m", name, "()", ignore_call, NULL, NULL), WASMCELL_OK);
    }
    CHECK_STATUS(wasmcell_runtime_set_module_limits(rt, 5, 2, 10), WASMCELL_OK);
    char msg[512];
    wasmcell_program *p = NULL;
    struct {
        int functions, imports, table;
        wasmcell_status expected;
        const char *message;
    } cases[] = {
        {3, 2, 10, WASMCELL_OK, NULL},               /* 5 functions counting imports: at every limit */
        {4, 2, 0, WASMCELL_ERR_LIMIT, "the module declares 6 functions, more than the limit of 5"},
        {6, 0, 0, WASMCELL_ERR_LIMIT, "the module declares 6 functions, more than the limit of 5"},
        {1, 3, 0, WASMCELL_ERR_LIMIT, "the module declares 3 imports, more than the limit of 2"},
        {1, 0, 11, WASMCELL_ERR_LIMIT, "the module declares 11 table elements, more than the limit of 10"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char *wat = shaped_module(cases[i].functions, cases[i].imports, cases[i].table);
        wasmcell_status s = load_wat(rt, "p1", wat, &p);
        CHECK_MSG(s == cases[i].expected, "case %zu returned %s", i, wasmcell_status_str(s));
        if (cases[i].message) CHECK_CONTAINS(last_error(msg, sizeof msg), cases[i].message);
        free(wat);
    }
    /* Refused modules were never compiled: only the first case was. */
    wasmcell_cache_stats cache;
    CHECK_STATUS(wasmcell_runtime_cache_stats(rt, &cache), WASMCELL_OK);
    CHECK(cache.compiles == 1);

    /* The limits apply to reloads too; the old version keeps running. */
    CHECK_STATUS(load_fixture(rt, "hello.wat", &p), WASMCELL_OK);
    char *big = shaped_module(6, 0, 0);
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)big, strlen(big)), WASMCELL_ERR_LIMIT);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "6 functions, more than the limit of 5");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    free(big);

    /* Raised limits admit larger modules. */
    CHECK_STATUS(wasmcell_runtime_set_module_limits(rt, 50000, 1000, 100000), WASMCELL_OK);
    char *many = shaped_module(200, 4, 1000);
    CHECK_STATUS(load_wat(rt, "p2", many, &p), WASMCELL_OK);
    free(many);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* How deep the recursion fixture gets with a given wasm stack size (0 if it
 * did not stop with a stack overflow). */
static int64_t recursion_depth(uint64_t stack_bytes) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_set_default_stack_size(rt, stack_bytes), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 4000000000ull), WASMCELL_OK);
    wasmcell_program *p = NULL;
    int64_t depth = 0;
    CHECK_STATUS(load_fixture(rt, "recursion_depth.wat", &p), WASMCELL_OK);
    wasmcell_status s = wasmcell_program_poll(p);
    CHECK_MSG(s == WASMCELL_ERR_TRAP && fault_of(p) == WASMCELL_FAULT_STACK_OVERFLOW,
              "stack of %llu bytes: poll returned %s, fault kind %d", (unsigned long long)stack_bytes,
              wasmcell_status_str(s), fault_of(p));
    uint32_t id = 0;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "depth", &id, NULL, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, id, &depth), WASMCELL_OK);
    if (s != WASMCELL_ERR_TRAP) depth = 0;
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    return depth;
}

static int close_to(int64_t a, int64_t b) {
    int64_t d = a > b ? a - b : b - a;
    return d * 100 <= (a > b ? a : b); /* within 1 % */
}

/* The stack size is clamped to 8 KiB .. 100 MiB: sizes below give the depth
 * of 8 KiB, sizes above that of 100 MiB, and runaway recursion always ends
 * in a stack-overflow fault, never a crash. The sizes are probed in
 * ascending order: wasmer reuses a thread's last coroutine stack when it is
 * at least as large as the one asked for (see the next test). */
static void test_stack_size_is_clamped(void) {
#ifdef _WIN32
    SKIP_ON_WINDOWS("per-program stack sizes are not exact with wasmer 6.1, which reuses any pooled stack "
                    "whatever its size (README, Windows / LabVIEW)");
    return;
#endif
    int64_t zero = recursion_depth(0);
    int64_t one = recursion_depth(1);
    int64_t at_min = recursion_depth(8 << 10);
    int64_t twice_min = recursion_depth(16 << 10);
    int64_t default_depth = recursion_depth(512 << 10);
    int64_t at_max = recursion_depth(100ull << 20);
    int64_t above = recursion_depth(1ull << 40);
    printf("       recursion depth: 0 B %lld, 1 B %lld, 8 KiB %lld, 16 KiB %lld, 512 KiB %lld, "
           "100 MiB %lld, 1 TiB %lld\n",
           (long long)zero, (long long)one, (long long)at_min, (long long)twice_min, (long long)default_depth,
           (long long)at_max, (long long)above);
    CHECK(at_min > 0);
    CHECK_MSG(close_to(zero, at_min) && close_to(one, at_min), "0 B: %lld, 1 B: %lld, 8 KiB: %lld",
              (long long)zero, (long long)one, (long long)at_min);
    CHECK_MSG(twice_min > at_min + at_min / 2, "16 KiB: %lld, 8 KiB: %lld", (long long)twice_min, (long long)at_min);
    CHECK(default_depth > 16 * twice_min);
    CHECK(at_max > 100 * default_depth);
    CHECK_MSG(close_to(above, at_max), "1 TiB: %lld, 100 MiB: %lld", (long long)above, (long long)at_max);
}

/* A program's stack is its own limit, whatever ran on the thread before: a
 * program with the default 512 KiB stack must not recurse as deep as one
 * with 100 MiB that ran earlier (nor one with 8 KiB as deep as 512 KiB). */
static void test_stack_size_does_not_depend_on_earlier_programs(void) {
#ifdef _WIN32
    SKIP_ON_WINDOWS("per-program stack sizes are not exact with wasmer 6.1, which reuses any pooled stack "
                    "whatever its size (README, Windows / LabVIEW)");
    return;
#endif
    int64_t large = recursion_depth(100ull << 20);
    int64_t default_after_large = recursion_depth(512 << 10);
    int64_t small_after_default = recursion_depth(8 << 10);
    printf("       recursion depth: 100 MiB %lld, then 512 KiB %lld, then 8 KiB %lld\n", (long long)large,
           (long long)default_after_large, (long long)small_after_default);
    CHECK_MSG(default_after_large * 100 < large,
              "a 512 KiB program reached depth %lld after a 100 MiB one (%lld): it ran on the larger stack",
              (long long)default_after_large, (long long)large);
    CHECK_MSG(small_after_default * 16 < default_after_large || small_after_default * 16 < large,
              "an 8 KiB program reached depth %lld after larger ones", (long long)small_after_default);
}

/* ---- log sink and clock ---------------------------------------------------------------- */

struct log_capture {
    int lines;
    char last_program[32];
    int last_level;
    char last_message[64];
};

static void capture_log(void *user_data, const char *program, wasmcell_log_level level, const char *message,
                        size_t len) {
    struct log_capture *cap = user_data;
    cap->lines++;
    snprintf(cap->last_program, sizeof cap->last_program, "%s", program);
    cap->last_level = level;
    size_t n = len < sizeof cap->last_message - 1 ? len : sizeof cap->last_message - 1;
    memcpy(cap->last_message, message, n);
    cap->last_message[n] = 0;
}

static int64_t fixed_clock(void *user_data) { return *(int64_t *)user_data; }

static int64_t last_time = 0;
static int32_t record_time(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)nargs; (void)results; (void)nresults;
    last_time = args[0].i64;
    return 0;
}

/* Runs `p`'s poll with standard error redirected into `out`. */
static wasmcell_status poll_capturing_stderr(wasmcell_program *p, char *out, size_t cap) {
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    wasmcell_status s = wasmcell_program_poll(p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, cap - 1, tmp);
    out[n] = 0;
    fclose(tmp);
    return s;
}

static void test_log_sink_and_clock(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *hello = NULL;
    CHECK_STATUS(load_fixture_named(rt, "greeter", "hello.wat", &hello), WASMCELL_OK);
    /* The default sink: standard error, prefixed with the program's name. */
    char err[256];
    CHECK_STATUS(poll_capturing_stderr(hello, err, sizeof err), WASMCELL_OK);
    CHECK_CONTAINS(err, "[greeter] Polling");

    struct log_capture cap = {0};
    CHECK_STATUS(wasmcell_runtime_set_log(rt, capture_log, &cap), WASMCELL_OK);
    for (int i = 0; i < 5; i++) CHECK_STATUS(wasmcell_program_poll(hello), WASMCELL_OK);
    CHECK(cap.lines == 5);
    CHECK(strcmp(cap.last_program, "greeter") == 0);
    CHECK(cap.last_level == WASMCELL_LOG_PRINT);
    CHECK(strcmp(cap.last_message, "Polling\n") == 0);

    int64_t now = 987654321;
    CHECK_STATUS(wasmcell_runtime_set_clock(rt, fixed_clock, &now), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "time", "(I)", record_time, NULL, NULL), WASMCELL_OK);
    wasmcell_program *logger = NULL;
    CHECK_STATUS(load_fixture(rt, "logger.wat", &logger), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(logger), WASMCELL_OK);
    CHECK(last_time == 987654321);
    CHECK(cap.last_level == WASMCELL_LOG_WARN);
    CHECK(strcmp(cap.last_message, "warn line") == 0);
    now = 5;
    CHECK_STATUS(wasmcell_program_poll(logger), WASMCELL_OK);
    CHECK(last_time == 5); /* the host's clock is read at every call */
    CHECK_STATUS(wasmcell_runtime_set_clock(rt, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(logger), WASMCELL_OK);
    int64_t first = last_time;
    CHECK(first != 5 && first > 0);
    CHECK_STATUS(wasmcell_program_poll(logger), WASMCELL_OK);
    CHECK(last_time >= first); /* monotonic */

    /* NULL restores the default sink. */
    int lines = cap.lines;
    CHECK_STATUS(wasmcell_runtime_set_log(rt, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(poll_capturing_stderr(hello, err, sizeof err), WASMCELL_OK);
    CHECK(cap.lines == lines);
    CHECK_CONTAINS(err, "[greeter] Polling");
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- module cache --------------------------------------------------------------------- */

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_cache_dir_and_stats(void) {
#ifdef _WIN32
    /* No mkdtemp: a directory named after the process in the temp folder. */
    char dir[MAX_PATH + 64];
    char temp[MAX_PATH + 1];
    CHECK(GetTempPathA(sizeof temp, temp) > 0);
    snprintf(dir, sizeof dir, "%swasmcell-c-cache-%lu", temp, (unsigned long)GetCurrentProcessId());
    CHECK(CreateDirectoryA(dir, NULL) || GetLastError() == ERROR_ALREADY_EXISTS);
#else
    char dir[] = "/tmp/wasmcell-c-cache-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
#endif
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/sub", dir); /* created when missing */

    wasmcell_runtime *first = new_runtime();
    CHECK_STATUS(wasmcell_runtime_set_cache_dir(first, sub), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(first, "hello.wat", &p), WASMCELL_OK);
    CHECK_STATUS(load_fixture(first, "hello.wat", &p), WASMCELL_OK);
    wasmcell_cache_stats stats;
    CHECK_STATUS(wasmcell_runtime_cache_stats(first, &stats), WASMCELL_OK);
    CHECK(stats.compiles == 1 && stats.memory_hits == 1 && stats.disk_hits == 0 && stats.rejected_files == 0);
    CHECK_STATUS(wasmcell_runtime_free(first), WASMCELL_OK);

    wasmcell_runtime *second = new_runtime();
    CHECK_STATUS(wasmcell_runtime_set_cache_dir(second, sub), WASMCELL_OK);
    CHECK_STATUS(load_fixture(second, "hello.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_cache_stats(second, &stats), WASMCELL_OK);
    CHECK(stats.compiles == 0 && stats.disk_hits == 1);
    CHECK(count_files(sub) == 1);
    /* NULL turns the disk cache off: a new module is compiled, not stored. */
    CHECK_STATUS(wasmcell_runtime_set_cache_dir(second, NULL), WASMCELL_OK);
    CHECK_STATUS(load_fixture(second, "infinite_loop.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_cache_stats(second, &stats), WASMCELL_OK);
    CHECK(stats.compiles == 1);
    CHECK(count_files(sub) == 1);
    CHECK_STATUS(wasmcell_runtime_free(second), WASMCELL_OK);

    wasmcell_runtime *rt = new_runtime();
#ifdef _WIN32
    /* A directory under a regular file cannot be created. */
    char under_file[MAX_PATH + 128];
    snprintf(under_file, sizeof under_file, "%s/file", dir);
    FILE *f = fopen(under_file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    snprintf(under_file, sizeof under_file, "%s/file/cannot-create-this", dir);
    CHECK_STATUS(wasmcell_runtime_set_cache_dir(rt, under_file), WASMCELL_ERR_IO);
    snprintf(under_file, sizeof under_file, "%s/file", dir);
    unlink(under_file);
#else
    CHECK_STATUS(wasmcell_runtime_set_cache_dir(rt, "/proc/wasmcell-cannot-create-this"), WASMCELL_ERR_IO);
#endif
    CHECK_STATUS(wasmcell_runtime_set_cache_dir(rt, "/tmp/\xff\xfe"), WASMCELL_ERR_INVALID_ARGUMENT);
    char msg[256];
    CHECK_CONTAINS(last_error(msg, sizeof msg), "UTF-8");
    CHECK_STATUS(wasmcell_runtime_cache_stats(rt, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    remove_dir(sub);
    remove_dir(dir);
}

int main(int argc, char **argv) {
    test_begin("test_runtime", argc, argv);
    /* First: the stack tests depend on which stacks wasmer has pooled. */
    RUN(test_stack_size_is_clamped);
    RUN(test_stack_size_does_not_depend_on_earlier_programs);
    RUN(test_version);
    RUN(test_status_strings);
    RUN(test_runtime_new_and_free);
    RUN(test_every_function_refuses_bad_handles);
    RUN(test_error_messages_per_runtime_and_thread);
    RUN(test_limit_setters_statuses);
    RUN(test_default_fuel_applies_to_programs_loaded_later);
    RUN(test_memory_limits);
    RUN(test_module_size_limit);
    RUN(test_module_shape_limits);
    RUN(test_log_sink_and_clock);
    RUN(test_cache_dir_and_stats);
    return test_end();
}
