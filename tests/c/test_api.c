/* The C API as a user calls it: the committed header and the built shared
 * library. Every status code is produced and checked here.
 * Usage: test_api [fixtures-dir] */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

/* ---- callbacks used by the tests ---------------------------------------- */

static int32_t last_tick = 0;
static int32_t tick(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                    wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)results; (void)nresults;
    CHECK(nargs == 1);
    last_tick = args[0].i32;
    return 0;
}

static int freed_count = 0;
static void count_free(void *user_data) {
    CHECK(user_data == (void *)&freed_count);
    freed_count++;
}

struct plant {
    double sensor;
    int32_t actuator;
    char sent[64];
    int fail_send_with;
    wasmcell_call *stale_call;
    wasmcell_program *caller;
    char caller_name[32];
};

static int32_t read_sensor(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    (void)call; (void)args;
    CHECK(nargs == 1 && nresults == 1);
    results[0].f64 = plant->sensor;
    return 0;
}

static int32_t set_actuator(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                            wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    (void)call; (void)results; (void)nresults;
    CHECK(nargs == 2 && args[0].i32 == 0);
    plant->actuator = args[1].i32;
    return 0;
}

static int32_t send_msg(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                        wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    CHECK(nargs == 1 && nresults == 1);
    size_t n = args[0].buf.len < sizeof plant->sent - 1 ? args[0].buf.len : sizeof plant->sent - 1;
    memcpy(plant->sent, args[0].buf.ptr, n);
    plant->sent[n] = 0;

    /* The call gives the calling program, its name and its memory. */
    CHECK_STATUS(wasmcell_call_program(call, &plant->caller), WASMCELL_OK);
    size_t len = 0;
    CHECK_STATUS(wasmcell_call_program_name(call, plant->caller_name, sizeof plant->caller_name, &len), WASMCELL_OK);
    uint8_t *memory = NULL;
    size_t memory_len = 0;
    CHECK_STATUS(wasmcell_call_memory(call, &memory, &memory_len), WASMCELL_OK);
    CHECK(memory_len == 65536);
    CHECK(memory != NULL && args[0].buf.ptr == memory + 32);
    plant->stale_call = call;

    if (plant->fail_send_with) {
        CHECK_STATUS(wasmcell_call_set_error(call, "queue full"), WASMCELL_OK);
        return plant->fail_send_with;
    }
    results[0].i32 = 0;
    return 0;
}

struct reentry {
    wasmcell_program *self;
    wasmcell_program *other;
    wasmcell_status poll, reset, reload, unload, other_poll;
    wasmcell_runtime *rt;
    wasmcell_status free_rt;
};

static int32_t reenter(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                       wasmcell_val *results, size_t nresults) {
    struct reentry *r = user_data;
    (void)call; (void)args; (void)nargs; (void)results; (void)nresults;
    r->poll = wasmcell_program_poll(r->self);
    r->reset = wasmcell_program_reset(r->self);
    static const char tiny[] = "(module (func (export \"poll\")))";
    r->reload = wasmcell_program_reload(r->self, (const uint8_t *)tiny, sizeof tiny - 1);
    r->unload = wasmcell_program_unload(r->self);
    r->free_rt = wasmcell_runtime_free(r->rt);
    r->other_poll = r->other ? wasmcell_program_poll(r->other) : WASMCELL_OK;
    return 0;
}

struct log_capture {
    int lines;
    char last_program[32];
    int last_level;
    char last_message[64];
};

static void capture_log(void *user_data, const char *program, wasmcell_log_level level,
                        const char *message, size_t len) {
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

/* ---- tests ---------------------------------------------------------------- */

static void test_version(void) {
    CHECK(wasmcell_version_number() == WASMCELL_VERSION_NUMBER);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", WASMCELL_VERSION_MAJOR, WASMCELL_VERSION_MINOR,
             WASMCELL_VERSION_PATCH);
    CHECK(strcmp(wasmcell_version(), expected) == 0);
}

static void test_status_strings(void) {
    CHECK(strcmp(wasmcell_status_str(WASMCELL_OK), "ok") == 0);
    CHECK(strcmp(wasmcell_status_str(WASMCELL_ERR_BUDGET), "instruction budget exhausted") == 0);
    CHECK(strcmp(wasmcell_status_str(12345), "unknown status") == 0);
    for (int s = WASMCELL_ERR_IO; s <= WASMCELL_OK; s++) {
        CHECK(strcmp(wasmcell_status_str(s), "unknown status") != 0);
    }
}

static void test_invalid_arguments_and_handles(void) {
    CHECK_STATUS(wasmcell_runtime_new(NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_free(NULL), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_poll(NULL), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_poll((wasmcell_program *)(uintptr_t)0xdeadbeef), WASMCELL_ERR_INVALID_HANDLE);

    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "hello.wat", &p), WASMCELL_OK);

    /* Wrong kind both ways. */
    CHECK_STATUS(wasmcell_program_poll((wasmcell_program *)rt), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free((wasmcell_runtime *)p), WASMCELL_ERR_INVALID_HANDLE);
    char msg[256];
    CHECK_STATUS(wasmcell_last_error(msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "program handle was passed where a runtime handle is expected");

    /* NULL arguments. */
    CHECK_STATUS(wasmcell_program_load(rt, NULL, (const uint8_t *)"x", 1, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_load(rt, "x", NULL, 10, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_load(rt, "", (const uint8_t *)"x", 1, &p), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_state(p, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_set_fuel(p, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_define(rt, "m", "f", "(i)i", NULL, NULL, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_define(rt, "m", "f", "(q)i", tick, NULL, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_error(rt, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "unknown parameter type 'q'");

    /* Double unload, stale handle. */
    CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_last_error(msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "stale");

    /* A program of a freed runtime, and a double free. */
    CHECK_STATUS(load_fixture(rt, "hello.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_load(rt, "x", (const uint8_t *)"x", 1, &p), WASMCELL_ERR_INVALID_HANDLE);
}

static void test_load_errors(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    wasmcell_program *p = NULL;
    char msg[512];

    static const unsigned char garbage[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff};
    CHECK_STATUS(wasmcell_program_load(rt, "garbage", garbage, sizeof garbage, &p), WASMCELL_ERR_COMPILE);
    CHECK_STATUS(wasmcell_program_load(rt, "text", (const uint8_t *)"hello", 5, &p), WASMCELL_ERR_COMPILE);
    CHECK_STATUS(wasmcell_program_load(rt, "truncated", garbage, 6, &p), WASMCELL_ERR_COMPILE);
    CHECK(p == NULL);

    CHECK_STATUS(load_fixture(rt, "missing_import.wat", &p), WASMCELL_ERR_LINK);
    CHECK_STATUS(wasmcell_last_error(msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "missing import `plant.read_valve`");
    CHECK_STATUS(load_fixture(rt, "no_poll.wat", &p), WASMCELL_ERR_LINK);
    CHECK_STATUS(load_fixture(rt, "bad_poll_signature.wat", &p), WASMCELL_ERR_LINK);
    CHECK_STATUS(load_fixture(rt, "start_trap.wat", &p), WASMCELL_ERR_INSTANTIATE);
    CHECK_STATUS(load_fixture(rt, "init_trap.wat", &p), WASMCELL_ERR_INSTANTIATE);
    CHECK_STATUS(wasmcell_runtime_error(rt, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "init");
    CHECK_STATUS(load_fixture(rt, "huge_memory_minimum.wat", &p), WASMCELL_ERR_LIMIT);

    /* A signature mismatch between the guest's import and the definition. */
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(I)", tick, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "counter.wat", &p), WASMCELL_ERR_LINK);
    CHECK_STATUS(wasmcell_last_error(msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "test.tick");

    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, 16), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "hello.wat", &p), WASMCELL_ERR_LIMIT);
    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_set_max_module_size(rt, 1 << 20), WASMCELL_OK);

    CHECK_STATUS(wasmcell_program_load_file(rt, "nope", "/nonexistent/prog.wasm", &p), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_load_file(rt, "dir", "/", &p), WASMCELL_ERR_IO);
    char path[512];
    snprintf(path, sizeof path, "%s/hello.wat", fixtures_dir);
    CHECK_STATUS(wasmcell_program_load_file(rt, "file", path, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_faults_and_messages(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    wasmcell_program *p = NULL;
    char msg[512];
    size_t len = 0;
    wasmcell_state state = 0;
    wasmcell_fault kind = -1;

    CHECK_STATUS(load_fixture(rt, "unreachable.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, &len), WASMCELL_OK);
    CHECK(len == 0 && msg[0] == 0);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_state(p, &state), WASMCELL_OK);
    CHECK(state == WASMCELL_STATE_FAULTED);
    CHECK_STATUS(wasmcell_program_fault_kind(p, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_UNREACHABLE);
    CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, &len), WASMCELL_OK);
    CHECK_CONTAINS(msg, "unreachable");
    CHECK_CONTAINS(msg, "explode");
    CHECK(len == strlen(msg));
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);

    /* Too-small buffers: truncated, NUL-terminated, full length reported. */
    char small[8];
    size_t full = 0;
    CHECK_STATUS(wasmcell_program_error(p, small, sizeof small, &full), WASMCELL_ERR_BUFFER_TOO_SMALL);
    CHECK(full == len && strlen(small) == sizeof small - 1 && strncmp(small, msg, sizeof small - 1) == 0);
    CHECK_STATUS(wasmcell_program_error(p, NULL, 0, &full), WASMCELL_ERR_BUFFER_TOO_SMALL);
    CHECK(full == len);
    CHECK_STATUS(wasmcell_program_error(p, NULL, 5, &full), WASMCELL_ERR_INVALID_ARGUMENT);
    /* Reading an error does not overwrite the thread's last error. */
    CHECK_STATUS(wasmcell_last_error(msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "faulted");

    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_state(p, &state), WASMCELL_OK);
    CHECK(state == WASMCELL_STATE_READY);
    CHECK_STATUS(wasmcell_program_fault_kind(p, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_NONE);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);

    /* Budget. */
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_fuel(p, 100000), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_BUDGET);
    CHECK_STATUS(wasmcell_program_fault_kind(p, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_BUDGET_EXHAUSTED);
    wasmcell_stats stats;
    CHECK_STATUS(wasmcell_program_stats(p, &stats), WASMCELL_OK);
    CHECK(stats.polls == 1 && stats.faults == 1 && stats.last_fuel_used == 100000);

    /* Guest-reported fault. */
    CHECK_STATUS(load_fixture(rt, "guest_fault.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_GUEST_FAULT);
    CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "fault code 7");

    /* Other traps. */
    CHECK_STATUS(load_fixture(rt, "divide_by_zero.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_fault_kind(p, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_INTEGER_DIVIDE_BY_ZERO);
    CHECK_STATUS(load_fixture(rt, "recursion.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_fault_kind(p, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_STACK_OVERFLOW);
    CHECK_STATUS(load_fixture(rt, "out_of_bounds.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_fault_kind(p, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_MEMORY_OUT_OF_BOUNDS);

    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_callbacks(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    struct plant plant = {.sensor = 80.0, .actuator = -1};
    CHECK_STATUS(wasmcell_runtime_define(rt, "plant", "read_sensor", "(i)F", read_sensor, &plant, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "plant", "set_actuator", "(ii)", set_actuator, &plant, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "plant", "send", "(*~)i", send_msg, &plant, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "plant", "send", "(*~)i", send_msg, &plant, NULL),
                 WASMCELL_ERR_INVALID_ARGUMENT);

    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "callbacks.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(plant.actuator == 1);
    CHECK(strcmp(plant.sent, "cycle") == 0);
    CHECK(plant.caller == p);
    CHECK(strcmp(plant.caller_name, "callbacks.wat") == 0);
    plant.sensor = 20.0;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(plant.actuator == 0);

    /* The call handle is dead once its callback returned. */
    uint8_t *memory = NULL;
    size_t memory_len = 0;
    CHECK_STATUS(wasmcell_call_memory(plant.stale_call, &memory, &memory_len), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_memory(NULL, &memory, &memory_len), WASMCELL_ERR_INVALID_HANDLE);

    /* A failing callback faults the program with HOST and a message. */
    plant.fail_send_with = 42;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_HOST);
    char msg[512];
    CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "plant.send");
    CHECK_CONTAINS(msg, "error 42: queue full");
    wasmcell_fault kind = 0;
    CHECK_STATUS(wasmcell_program_fault_kind(p, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_HOST_ERROR);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_free_fn_ownership(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    freed_count = 0;
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", tick, &freed_count, count_free), WASMCELL_OK);
    /* A failed define keeps ownership with the caller: no free. */
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", tick, &freed_count, count_free),
                 WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "bad", "(i", tick, &freed_count, count_free),
                 WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(freed_count == 0);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "counter.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(last_tick == 101);
    CHECK(freed_count == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK(freed_count == 1);
}

static void test_reentry_is_busy(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    struct reentry r = {.rt = rt};
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "reenter", "()", reenter, &r, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", tick, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "reenter.wat", &r.self), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "counter.wat", &r.other), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(r.self), WASMCELL_OK);
    CHECK(r.poll == WASMCELL_ERR_BUSY);
    CHECK(r.reset == WASMCELL_ERR_BUSY);
    CHECK(r.reload == WASMCELL_ERR_BUSY);
    CHECK(r.unload == WASMCELL_ERR_BUSY);
    CHECK(r.free_rt == WASMCELL_ERR_BUSY);
    CHECK(r.other_poll == WASMCELL_OK); /* other programs may be polled */
    CHECK_STATUS(wasmcell_program_poll(r.self), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_log_and_clock(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    struct log_capture cap = {0};
    CHECK_STATUS(wasmcell_runtime_set_log(rt, capture_log, &cap), WASMCELL_OK);
    wasmcell_program *hello = NULL;
    CHECK_STATUS(load_fixture(rt, "hello.wat", &hello), WASMCELL_OK);
    for (int i = 0; i < 5; i++) CHECK_STATUS(wasmcell_program_poll(hello), WASMCELL_OK);
    CHECK(cap.lines == 5);
    CHECK(strcmp(cap.last_program, "hello.wat") == 0);
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
    CHECK_STATUS(wasmcell_runtime_set_clock(rt, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(logger), WASMCELL_OK);
    CHECK(last_time != 987654321);
    CHECK_STATUS(wasmcell_runtime_set_log(rt, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_limits(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_memory_limit(rt, 2ull << 30), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "huge_memory_minimum.wat", &p), WASMCELL_OK);
    /* The lower limit applies at the next reset, which then fails: the program
     * is faulted with the reason, and stays usable after raising the limit. */
    CHECK_STATUS(wasmcell_program_set_memory_limit(p, 1 << 20), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_ERR_LIMIT);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);
    CHECK_STATUS(wasmcell_program_set_memory_limit(p, 2ull << 30), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);

    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 5000), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_BUDGET);
    wasmcell_stats stats;
    CHECK_STATUS(wasmcell_program_stats(p, &stats), WASMCELL_OK);
    CHECK(stats.last_fuel_used == 5000);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_reload(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", tick, NULL, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "unreachable.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)"junk", 4), WASMCELL_ERR_COMPILE);
    wasmcell_state state = 0;
    CHECK_STATUS(wasmcell_program_state(p, &state), WASMCELL_OK);
    CHECK(state == WASMCELL_STATE_FAULTED);
    char path[512];
    snprintf(path, sizeof path, "%s/counter.wat", fixtures_dir);
    size_t len = 0;
    unsigned char *bytes = read_file(path, &len);
    CHECK_STATUS(wasmcell_program_reload(p, bytes, len), WASMCELL_OK);
    free(bytes);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(last_tick == 101);
    CHECK_STATUS(wasmcell_program_reload(p, (const uint8_t *)"junk", 4), WASMCELL_ERR_COMPILE);
    char msg[512];
    CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, NULL), WASMCELL_OK);
    CHECK_CONTAINS(msg, "previous version keeps running");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(last_tick == 102);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static int32_t ignore_i(void *u, wasmcell_call *c, const wasmcell_val *a, size_t n, wasmcell_val *r, size_t m) {
    (void)u; (void)c; (void)a; (void)n; (void)r; (void)m;
    return 0;
}

static unsigned char *fixture_bytes(const char *file, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixtures_dir, file);
    return read_file(path, len);
}

static void test_hot_swap(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", tick, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "version", "(i)", ignore_i, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "started", "(ii)", ignore_i, NULL, NULL), WASMCELL_OK);
    size_t len1 = 0, len2 = 0, len3 = 0;
    unsigned char *v1 = fixture_bytes("retain_counter_v1.wat", &len1);
    unsigned char *v2 = fixture_bytes("retain_counter_v2.wat", &len2);
    unsigned char *v3 = fixture_bytes("retain_counter_v3.wat", &len3);
    wasmcell_program *p = NULL, *other = NULL;
    CHECK_STATUS(wasmcell_program_load(rt, "counter", v1, len1, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_load(rt, "other", v1, len1, &other), WASMCELL_OK);
    for (int i = 0; i < 3; i++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);

    /* Prepare on one side, commit on the other; the program polls in between. */
    wasmcell_reload *reload = NULL;
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v2, len2, &reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(last_tick == 4);
    CHECK_STATUS(wasmcell_program_commit_reload(other, reload), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_commit_reload(p, reload), WASMCELL_ERR_INVALID_HANDLE); /* consumed */
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v2, len2, &reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_commit_reload(p, reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(last_tick == 5); /* the retained counter went on */
    char notice[256];
    CHECK_STATUS(wasmcell_program_notice(p, notice, sizeof notice, NULL), WASMCELL_OK);
    CHECK_CONTAINS(notice, "carried over (8 bytes, layout id 1)");

    CHECK_STATUS(wasmcell_program_prepare_reload(p, v1, len1, &reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(reload), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_prepare_reload(p, (const uint8_t *)"junk", 4, &reload), WASMCELL_ERR_COMPILE);

    /* A different retain layout: fresh defaults, and the notice says why. */
    CHECK_STATUS(wasmcell_program_reload(p, v3, len3), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_notice(p, notice, sizeof notice, NULL), WASMCELL_OK);
    CHECK_CONTAINS(notice, "not carried over");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(last_tick == 1);

    wasmcell_cache_stats cache;
    CHECK_STATUS(wasmcell_runtime_cache_stats(rt, &cache), WASMCELL_OK);
    CHECK(cache.compiles == 3);   /* v1, v2, v3 once each */
    CHECK(cache.memory_hits == 3); /* other, second v2 prepare, v1 prepare */
    CHECK_STATUS(wasmcell_runtime_cache_stats(rt, NULL), WASMCELL_ERR_INVALID_ARGUMENT);

    /* A prepared reload left pending is released by freeing the runtime. */
    CHECK_STATUS(wasmcell_program_prepare_reload(p, v1, len1, &reload), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_cache_dir(rt, "/proc/wasmcell-cannot-create-this"), WASMCELL_ERR_IO);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_reload_discard(reload), WASMCELL_ERR_INVALID_HANDLE);
    free(v1);
    free(v2);
    free(v3);
}

static void test_process_image(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &p), WASMCELL_OK);
    size_t in_len = 0, out_len = 0, retain_len = 0, count = 0;
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_INPUT, &in_len), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_OUTPUT, &out_len), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_RETAIN, &retain_len), WASMCELL_OK);
    CHECK(in_len == 16 && out_len == 24 && retain_len == 8);
    CHECK_STATUS(wasmcell_program_image_size(p, 7, &in_len), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_count(p, &count), WASMCELL_OK);
    CHECK(count == 6);

    char name[16];
    size_t name_len = 0;
    uint32_t id = 0, offset = 0;
    wasmcell_area area = -1;
    wasmcell_signal_type type = -1;
    CHECK_STATUS(wasmcell_program_signal_info(p, 3, name, sizeof name, &name_len, &id, &area, &type, &offset), WASMCELL_OK);
    CHECK(strcmp(name, "position") == 0 && name_len == 8);
    CHECK(area == WASMCELL_AREA_OUTPUT && type == WASMCELL_SIGNAL_F64 && offset == 8);
    CHECK_STATUS(wasmcell_program_signal_info(p, 6, name, sizeof name, NULL, NULL, NULL, NULL, NULL), WASMCELL_ERR_NOT_FOUND);
    char tiny[4];
    CHECK_STATUS(wasmcell_program_signal_info(p, 3, tiny, sizeof tiny, &name_len, NULL, NULL, NULL, NULL),
                 WASMCELL_ERR_BUFFER_TOO_SMALL);

    uint32_t speed = 0, enable = 0, position = 0, pulses = 0, distance = 0;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "speed", &speed, NULL, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "enable", &enable, NULL, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "position", &position, &area, &type, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "pulses", &pulses, NULL, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "distance", &distance, NULL, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "nope", &id, NULL, NULL, NULL), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, NULL, &id, NULL, NULL, NULL), WASMCELL_ERR_INVALID_ARGUMENT);

    /* Set by id, poll, read by id and by bytes. */
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, 1.5), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, enable, 1), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, enable, 2), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, position, 1.0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, 99999, 1.0), WASMCELL_ERR_NOT_FOUND);
    for (int i = 0; i < 2; i++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    double value = 0;
    int64_t count_value = 0;
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, position, &value), WASMCELL_OK);
    CHECK(value == 3.0);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, pulses, &count_value), WASMCELL_OK);
    CHECK(count_value == 2);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, position, &count_value), WASMCELL_ERR_INVALID_ARGUMENT);
    uint8_t outputs[24];
    uint64_t published_by = 0;
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, outputs, sizeof outputs, &published_by), WASMCELL_OK);
    CHECK(published_by == 2 && outputs[0] == 1);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 20, outputs, 8, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, NULL, 8, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    double raw_speed = 2.0;
    CHECK_STATUS(wasmcell_program_write_inputs(p, 0, (const uint8_t *)&raw_speed, sizeof raw_speed), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_write_inputs(p, 12, (const uint8_t *)&raw_speed, sizeof raw_speed),
                 WASMCELL_ERR_INVALID_ARGUMENT);

    /* A faulting poll publishes nothing; retain survives the reset. */
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, -1.0), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, position, &value), WASMCELL_OK);
    CHECK(value == 3.0);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, 0.5), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, distance, &value), WASMCELL_OK);
    CHECK(value == 3.5);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A callback that polls another program: both calls are active on the thread
 * while the inner one runs; each call handle reaches its own program's memory;
 * once a callback returns, its call handle is refused. */
struct nesting {
    wasmcell_program *inner;
    wasmcell_call *outer_call, *inner_call;
    size_t outer_len_seen_inside, inner_len, outer_len_after;
    wasmcell_status inner_poll, inner_call_after;
};

static size_t call_memory_len(wasmcell_call *call, wasmcell_status *status) {
    uint8_t *data = NULL;
    size_t len = 0;
    *status = wasmcell_call_memory(call, &data, &len);
    return len;
}

static int32_t nest_inner(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                          wasmcell_val *results, size_t nresults) {
    struct nesting *n = user_data;
    wasmcell_status s;
    (void)args; (void)nargs; (void)results; (void)nresults;
    n->inner_call = call;
    n->inner_len = call_memory_len(call, &s);
    CHECK(s == WASMCELL_OK);
    n->outer_len_seen_inside = call_memory_len(n->outer_call, &s);
    CHECK(s == WASMCELL_OK);
    return 0;
}

static int32_t nest_outer(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                          wasmcell_val *results, size_t nresults) {
    struct nesting *n = user_data;
    wasmcell_status s;
    (void)args; (void)nargs; (void)results; (void)nresults;
    n->outer_call = call;
    n->inner_poll = wasmcell_program_poll(n->inner);
    call_memory_len(n->inner_call, &n->inner_call_after);
    n->outer_len_after = call_memory_len(call, &s);
    CHECK(s == WASMCELL_OK);
    return 0;
}

static void test_nested_calls(void) {
    static const char outer[] =
        "(module (import \"nest\" \"outer\" (func $f)) (memory (export \"memory\") 1)"
        " (func (export \"poll\") (call $f)))";
    static const char inner[] =
        "(module (import \"nest\" \"inner\" (func $f)) (memory (export \"memory\") 2)"
        " (func (export \"poll\") (call $f)))";
    wasmcell_runtime *rt = NULL;
    wasmcell_program *outer_program = NULL;
    struct nesting n = {0};
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "nest", "outer", "()", nest_outer, &n, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "nest", "inner", "()", nest_inner, &n, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_load(rt, "outer", (const uint8_t *)outer, strlen(outer), &outer_program),
                 WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_load(rt, "inner", (const uint8_t *)inner, strlen(inner), &n.inner),
                 WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(outer_program), WASMCELL_OK);
    CHECK(n.inner_poll == WASMCELL_OK);
    CHECK(n.inner_len == 2 * 65536);             /* the inner call sees its own program */
    CHECK(n.outer_len_seen_inside == 65536);     /* the outer call is still active */
    CHECK(n.inner_call_after == WASMCELL_ERR_INVALID_HANDLE); /* returned: refused */
    CHECK(n.outer_len_after == 65536);           /* the outer call survives the nesting */
    wasmcell_status after;
    call_memory_len(n.outer_call, &after);
    CHECK(after == WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    if (argc > 1) fixtures_dir = argv[1];
    test_version();
    test_status_strings();
    test_invalid_arguments_and_handles();
    test_load_errors();
    test_faults_and_messages();
    test_callbacks();
    test_free_fn_ownership();
    test_reentry_is_busy();
    test_nested_calls();
    test_log_and_clock();
    test_limits();
    test_reload();
    test_hot_swap();
    test_process_image();
    return check_summary("test_api");
}
