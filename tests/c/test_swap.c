/* Hot swap: reload (every status; a failed reload leaves the old version
 * running), prepare/commit/discard (every status), the retain area carried
 * over or not (and the notice saying why), start kinds, the module cache.
 * Usage: test_swap [fixtures-dir] [name-filter] */
#include <stdint.h>

#include "check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What the retain_counter fixtures report through their imports. */
struct report {
    int32_t tick, version, start_kind, restored, starts;
};

static int32_t on_tick(void *u, wasmcell_call *c, const wasmcell_val *a, size_t n, wasmcell_val *r, size_t m) {
    (void)c; (void)n; (void)r; (void)m;
    ((struct report *)u)->tick = a[0].i32;
    return 0;
}

static int32_t on_version(void *u, wasmcell_call *c, const wasmcell_val *a, size_t n, wasmcell_val *r, size_t m) {
    (void)c; (void)n; (void)r; (void)m;
    ((struct report *)u)->version = a[0].i32;
    return 0;
}

static int32_t on_started(void *u, wasmcell_call *c, const wasmcell_val *a, size_t n, wasmcell_val *r, size_t m) {
    struct report *report = u;
    (void)c; (void)n; (void)r; (void)m;
    report->start_kind = a[0].i32;
    report->restored = a[1].i32;
    report->starts++;
    return 0;
}

static wasmcell_runtime *swap_runtime(struct report *report) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", on_tick, report, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "version", "(i)", on_version, report, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "started", "(ii)", on_started, report, NULL), WASMCELL_OK);
    return rt;
}

/* Polls once and checks which version ran and what it counted. */
#define CHECK_POLL(p, report, want_version, want_tick)                                                      \
    do {                                                                                                     \
        CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);                                                 \
        CHECK_MSG((report).version == (want_version) && (report).tick == (want_tick),                        \
                  "version %d tick %d, expected version %d tick %d", (report).version, (report).tick,        \
                  (want_version), (want_tick));                                                              \
    } while (0)

/* ---- reload ------------------------------------------------------------------------------ */

/* Every way a reload can fail: its status, a message naming the cause and
 * saying the previous version keeps running, and the previous version does
 * keep running with its state. */
static void test_failed_reloads_keep_the_old_version(void) {
    struct report report = {0};
    wasmcell_runtime *rt = swap_runtime(&report);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "retain_counter_v1.wat", &p), WASMCELL_OK);
    CHECK_POLL(p, report, 1, 1);
    struct {
        const char *what, *text;
        wasmcell_status expected;
        const char *message;
    } cases[] = {
        {"junk", "junk", WASMCELL_ERR_COMPILE, "not valid WAT"},
        {"missing import", "(module (import \"plant\" \"valve\" (func)) (func (export \"poll\")))", WASMCELL_ERR_LINK,
         "missing import `plant.valve`"},
        {"no poll", "(module (func (export \"run\")))", WASMCELL_ERR_LINK, "does not export a `poll` function"},
        {"start traps", "(module (func $s unreachable) (start $s) (func (export \"poll\")))", WASMCELL_ERR_INSTANTIATE,
         "start function: unreachable executed"},
        {"init traps", "(module (func (export \"init\") unreachable) (func (export \"poll\")))", WASMCELL_ERR_INSTANTIATE,
         "init: unreachable executed"},
        {"too large", NULL, WASMCELL_ERR_LIMIT, "more than the limit of 64 bytes"},
    };
    char msg[1024];
    for (size_t i = 0; i < COUNT(cases); i++) {
        wasmcell_status s;
        if (cases[i].text) {
            s = wasmcell_program_reload(p, (const uint8_t *)cases[i].text, strlen(cases[i].text));
        } else {
            /* A program's limits are copied at load: lower the default and
             * reload a program loaded under it. */
            CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, 64), WASMCELL_OK);
            wasmcell_program *small = NULL;
            CHECK_STATUS(load_wat(rt, "small", "(module (func (export \"poll\")))", &small), WASMCELL_OK);
            s = reload_fixture(small, "retain_counter_v2.wat");
            program_error(small, msg, sizeof msg);
            CHECK_STATUS(wasmcell_program_poll(small), WASMCELL_OK);
            CHECK_STATUS(wasmcell_program_unload(small), WASMCELL_OK);
            CHECK_MSG(s == cases[i].expected, "%s: %s", cases[i].what, wasmcell_status_str(s));
            CHECK_MSG(strstr(msg, cases[i].message) != NULL, "%s: \"%s\"", cases[i].what, msg);
            continue;
        }
        CHECK_MSG(s == cases[i].expected, "%s: reload returned %s, expected %s", cases[i].what, wasmcell_status_str(s),
                  wasmcell_status_str(cases[i].expected));
        program_error(p, msg, sizeof msg);
        CHECK_MSG(strstr(msg, cases[i].message) != NULL, "%s: \"%s\" lacks \"%s\"", cases[i].what, msg,
                  cases[i].message);
        CHECK_MSG(strstr(msg, "(the previous version keeps running)") != NULL, "%s: \"%s\"", cases[i].what, msg);
        CHECK(state_of(p) == WASMCELL_STATE_READY);
        CHECK_POLL(p, report, 1, (int32_t)i + 2); /* version 1, counting on */
    }
    CHECK_STATUS(wasmcell_program_reload(p, NULL, 10), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_reload(NULL, (const uint8_t *)"x", 1), WASMCELL_ERR_INVALID_HANDLE);
    /* A successful reload clears the last failure's message. */
    CHECK_STATUS(reload_fixture(p, "retain_counter_v2.wat"), WASMCELL_OK);
    size_t len = 99;
    CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, &len), WASMCELL_OK);
    CHECK(len == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A reload recovers a faulted program; a failed one leaves it faulted. */
static void test_reload_recovers_a_faulted_program(void) {
    struct report report = {0};
    wasmcell_runtime *rt = swap_runtime(&report);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "unreachable.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)"junk", 4), WASMCELL_ERR_COMPILE);
    CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
    char msg[512];
    size_t len = 0;
    /* The program's message is the failed reload's; the fault keeps its own. */
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "not a WebAssembly module");
    CHECK_STATUS(wasmcell_program_fault_message(p, msg, sizeof msg, &len), WASMCELL_OK);
    CHECK_CONTAINS(msg, "unreachable executed");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);
    CHECK_STATUS(reload_fixture(p, "retain_counter_v1.wat"), WASMCELL_OK);
    CHECK(state_of(p) == WASMCELL_STATE_READY && fault_of(p) == WASMCELL_FAULT_NONE);
    CHECK_POLL(p, report, 1, 1);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- retain, start kinds, notice ----------------------------------------------------------- */

struct notice_ctx {
    wasmcell_program *p;
};

static wasmcell_status get_notice(void *ctx, char *buf, size_t cap, size_t *len) {
    return wasmcell_program_notice(((struct notice_ctx *)ctx)->p, buf, cap, len);
}

static void test_retain_start_kinds_and_notice(void) {
    struct report report = {0};
    wasmcell_runtime *rt = swap_runtime(&report);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "retain_counter_v1.wat", &p), WASMCELL_OK);
    CHECK(report.starts == 1 && report.start_kind == 0 && report.restored == 0); /* cold */
    char notice[256];
    size_t len = 99;
    CHECK_STATUS(wasmcell_program_notice(p, notice, sizeof notice, &len), WASMCELL_OK);
    CHECK(len == 0); /* nothing happened yet */
    for (int i = 1; i <= 3; i++) CHECK_POLL(p, report, 1, i);

    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK(report.starts == 2 && report.start_kind == 1 && report.restored == 1);
    CHECK_STATUS(wasmcell_program_notice(p, notice, sizeof notice, NULL), WASMCELL_OK);
    CHECK_CONTAINS(notice, "retain area carried over (8 bytes, layout id 1)");
    CHECK_POLL(p, report, 1, 4); /* retain survived the reset */

    CHECK_STATUS(reload_fixture(p, "retain_counter_v2.wat"), WASMCELL_OK);
    CHECK(report.starts == 3 && report.start_kind == 2 && report.restored == 1);
    CHECK_POLL(p, report, 2, 5); /* and the swap */
    struct notice_ctx ctx = {p};
    check_string_getter("wasmcell_program_notice", get_notice, &ctx);

    /* A different layout id: the new version starts from its defaults. */
    CHECK_STATUS(reload_fixture(p, "retain_counter_v3.wat"), WASMCELL_OK);
    CHECK(report.starts == 4 && report.start_kind == 2 && report.restored == 0);
    CHECK_STATUS(wasmcell_program_notice(p, notice, sizeof notice, NULL), WASMCELL_OK);
    CHECK_CONTAINS(notice, "retain area not carried over: the new version declares 8 bytes with layout id 2, "
                           "the old one 8 bytes with layout id 1");
    CHECK_POLL(p, report, 3, 1);

    /* A version without a retain area: the notice is empty again. */
    CHECK_STATUS(reload_fixture(p, "hello.wat"), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_notice(p, notice, sizeof notice, &len), WASMCELL_OK);
    CHECK(len == 0);
    CHECK_STATUS(wasmcell_program_notice(p, NULL, 4, &len), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_notice(NULL, notice, sizeof notice, &len), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_set_log(rt, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- prepare, commit, discard --------------------------------------------------------------- */

static void test_prepare_statuses(void) {
    struct report report = {0};
    wasmcell_runtime *rt = swap_runtime(&report);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "retain_counter_v1.wat", &p), WASMCELL_OK);
    size_t len = 0;
    unsigned char *v2 = fixture_bytes("retain_counter_v2.wat", &len);
    wasmcell_reload *r = (wasmcell_reload *)(uintptr_t)0x1;
    char msg[512];
    CHECK_STATUS(wasmcell_program_prepare_reload(p, (const uint8_t *)"junk", 4, &r), WASMCELL_ERR_COMPILE);
    static const char missing[] = "(module (import \"a\" \"b\" (func)) (func (export \"poll\")))";
    CHECK_STATUS(wasmcell_program_prepare_reload(p, (const uint8_t *)missing, sizeof missing - 1, &r), WASMCELL_ERR_LINK);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "missing import `a.b`");
    static const char start_traps[] = "(module (func $s unreachable) (start $s) (func (export \"poll\")))";
    CHECK_STATUS(wasmcell_program_prepare_reload(p, (const uint8_t *)start_traps, sizeof start_traps - 1, &r),
                 WASMCELL_ERR_INSTANTIATE);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, NULL, 10, &r), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v2, len, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_prepare_reload(NULL, v2, len, &r), WASMCELL_ERR_INVALID_HANDLE);
    CHECK(r == (wasmcell_reload *)(uintptr_t)0x1); /* nothing written on failure */
    /* prepare runs no init: a version whose init traps prepares fine. */
    static const char init_traps[] = "(module (func (export \"init\") unreachable) (func (export \"poll\")))";
    CHECK_STATUS(wasmcell_program_prepare_reload(p, (const uint8_t *)init_traps, sizeof init_traps - 1, &r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_OK);
    /* The module size limit. */
    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, 64), WASMCELL_OK);
    wasmcell_program *small = NULL;
    CHECK_STATUS(load_wat(rt, "small", "(module (func (export \"poll\")))", &small), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_prepare_reload(small, v2, len, &r), WASMCELL_ERR_LIMIT);
    /* None of it disturbed the running version. */
    CHECK(report.starts == 1);
    CHECK_POLL(p, report, 1, 1);
    free(v2);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_commit_and_discard_statuses(void) {
    struct report report = {0};
    wasmcell_runtime *rt = swap_runtime(&report);
    size_t len1 = 0, len2 = 0;
    unsigned char *v1 = fixture_bytes("retain_counter_v1.wat", &len1);
    unsigned char *v2 = fixture_bytes("retain_counter_v2.wat", &len2);
    wasmcell_program *p = NULL, *other = NULL;
    CHECK_STATUS(wasmcell_program_load(rt, "counter", v1, len1, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_load(rt, "other", v1, len1, &other), WASMCELL_OK);
    for (int i = 1; i <= 3; i++) CHECK_POLL(p, report, 1, i);

    /* Prepare, keep polling the old version, then commit: between two polls. */
    wasmcell_reload *r = NULL;
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v2, len2, &r), WASMCELL_OK);
    CHECK_POLL(p, report, 1, 4);
    CHECK(report.starts == 2); /* other's cold start; prepare ran no init */
    CHECK_STATUS(wasmcell_program_commit_reload(p, r), WASMCELL_OK);
    CHECK(report.starts == 3 && report.start_kind == 2 && report.restored == 1);
    CHECK_POLL(p, report, 2, 5);
    /* A committed reload is used up. */
    CHECK_STATUS(wasmcell_program_commit_reload(p, r), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_ERR_INVALID_HANDLE);

    /* Prepared for another program: refused, and consumed. */
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v1, len1, &r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_commit_reload(other, r), WASMCELL_ERR_INVALID_ARGUMENT);
    char msg[512];
    CHECK_CONTAINS(program_error(other, msg, sizeof msg), "prepared for another program, not 'other'");
    CHECK_STATUS(wasmcell_program_commit_reload(p, r), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_POLL(p, report, 2, 6);

    /* The new init traps at commit: INSTANTIATE, the old version keeps
     * running (with its retained counter), the reload is consumed. */
    static const char init_traps[] =
        "(module (import \"test\" \"version\" (func $v (param i32)))"
        " (func (export \"init\") unreachable) (func (export \"poll\") (call $v (i32.const 9))))";
    CHECK_STATUS(wasmcell_program_prepare_reload(p, (const uint8_t *)init_traps, sizeof init_traps - 1, &r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_commit_reload(p, r), WASMCELL_ERR_INSTANTIATE);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "init: unreachable executed");
    CHECK_CONTAINS(msg, "(the previous version keeps running)");
    CHECK(state_of(p) == WASMCELL_STATE_READY);
    CHECK_POLL(p, report, 2, 7);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_ERR_INVALID_HANDLE);

    /* Commit on a faulted program recovers it (with the retained state). */
    static const char traps[] =
        "(module (import \"test\" \"version\" (func $v (param i32)))"
        " (memory (export \"memory\") 1)"
        " (data (i32.const 0) \"WCIM\" \"\\01\\00\\00\\00\" \"\\00\\00\\00\\00\" \"\\00\\00\\00\\00\""
        "   \"\\00\\00\\00\\00\" \"\\00\\00\\00\\00\" \"\\00\\04\\00\\00\" \"\\08\\00\\00\\00\" \"\\01\\00\\00\\00\""
        "   \"\\00\\00\\00\\00\" \"\\00\\00\\00\\00\")"
        " (func (export \"wasmcell_image\") (result i32) (i32.const 0))"
        " (func (export \"poll\") (call $v (i32.const 8)) unreachable))";
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)traps, sizeof traps - 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK(report.version == 8 && state_of(p) == WASMCELL_STATE_FAULTED);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v2, len2, &r), WASMCELL_OK); /* prepare while faulted */
    CHECK_STATUS(wasmcell_program_commit_reload(p, r), WASMCELL_OK);
    CHECK(state_of(p) == WASMCELL_STATE_READY && fault_of(p) == WASMCELL_FAULT_NONE);
    CHECK_POLL(p, report, 2, 8); /* the counter went on through the faulted version */

    /* Discard: once; NULL and stale handles refused; commit after discard refused. */
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v1, len1, &r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_commit_reload(p, r), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_commit_reload(p, NULL), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_reload_discard(NULL), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_commit_reload(p, (wasmcell_reload *)p), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_POLL(p, report, 2, 9);

    /* A reload left pending is released by freeing the runtime. */
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v1, len1, &r), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_ERR_INVALID_HANDLE);
    free(v1);
    free(v2);
}

/* Loads, reloads and prepares of bytes seen before come from the cache. */
static void test_swaps_use_the_module_cache(void) {
    struct report report = {0};
    wasmcell_runtime *rt = swap_runtime(&report);
    size_t len1 = 0, len2 = 0;
    unsigned char *v1 = fixture_bytes("retain_counter_v1.wat", &len1);
    unsigned char *v2 = fixture_bytes("retain_counter_v2.wat", &len2);
    wasmcell_program *p = NULL;
    CHECK_STATUS(wasmcell_program_load(rt, "p1", v1, len1, &p), WASMCELL_OK);
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(wasmcell_program_reload(p, v2, len2), WASMCELL_OK);
        wasmcell_reload *r = NULL;
        CHECK_STATUS(wasmcell_program_prepare_reload(p, v1, len1, &r), WASMCELL_OK);
        CHECK_STATUS(wasmcell_program_commit_reload(p, r), WASMCELL_OK);
    }
    wasmcell_cache_stats cache;
    CHECK_STATUS(wasmcell_runtime_cache_stats(rt, &cache), WASMCELL_OK);
    CHECK_MSG(cache.compiles == 2 && cache.memory_hits == 9, "compiles %llu, memory hits %llu",
              (unsigned long long)cache.compiles, (unsigned long long)cache.memory_hits);
    CHECK_POLL(p, report, 1, 1);
    free(v1);
    free(v2);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    test_begin("test_swap", argc, argv);
    RUN(test_failed_reloads_keep_the_old_version);
    RUN(test_reload_recovers_a_faulted_program);
    RUN(test_retain_start_kinds_and_notice);
    RUN(test_prepare_statuses);
    RUN(test_commit_and_discard_statuses);
    RUN(test_swaps_use_the_module_cache);
    return test_end();
}
