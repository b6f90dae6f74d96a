/* Host functions: define (every status), callbacks with scalars and
 * buffers, the wasmcell_call accessors, failing callbacks, definitions
 * overriding built-ins, user_data ownership, re-entry from a callback and
 * callbacks that poll other programs.
 * Usage: test_host [fixtures-dir] [name-filter] */
#include <stdint.h>

#include "check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- define -------------------------------------------------------------------------- */

static int freed_count = 0;
static void count_free(void *user_data) {
    CHECK(user_data == (void *)&freed_count);
    freed_count++;
}

static void test_define_statuses(void) {
    wasmcell_runtime *rt = new_runtime();
    freed_count = 0;
    struct {
        const char *module, *name, *signature;
        wasmcell_host_fn fn;
        const char *message;
    } bad[] = {
        {NULL, "f", "()", ignore_call, "module is NULL"},
        {"m", NULL, "()", ignore_call, "name is NULL"},
        {"m", "f", NULL, ignore_call, "signature is NULL"},
        {"", "f", "()", ignore_call, "must not be empty"},
        {"m", "", "()", ignore_call, "must not be empty"},
        {"m", "f", "()", NULL, "NULL"},
        {"m", "f", "(i", ignore_call, "bad signature \"(i\""},
        {"m", "f", "i)", ignore_call, "bad signature \"i)\""},
        {"m", "f", "(q)", ignore_call, "unknown parameter type 'q'"},
        {"m", "f", "(i)q", ignore_call, "unknown result type 'q'"},
        {"m", "f", "(*)", ignore_call, "bad signature \"(*)\""},
        {"m", "f", "()*~", ignore_call, "bad signature \"()*~\""},
        {"m", "\xff", "()", ignore_call, "UTF-8"},
    };
    char msg[512];
    for (size_t i = 0; i < COUNT(bad); i++) {
        wasmcell_status s = wasmcell_runtime_define(rt, bad[i].module, bad[i].name, bad[i].signature, bad[i].fn,
                                                    &freed_count, count_free);
        CHECK_MSG(s == WASMCELL_ERR_INVALID_ARGUMENT, "case %zu (%s): %s", i, bad[i].message, wasmcell_status_str(s));
        CHECK_CONTAINS(last_error(msg, sizeof msg), bad[i].message);
    }
    CHECK_STATUS(wasmcell_runtime_define(rt, "m", "f", "(iIfF*~)F", ignore_call, &freed_count, count_free), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "m", "f", "()", ignore_call, &freed_count, count_free),
                 WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "host function `m.f` is already defined");
    CHECK_STATUS(wasmcell_runtime_define(rt, "m", "g", "()", ignore_call, NULL, NULL), WASMCELL_OK); /* no user_data */
    CHECK(freed_count == 0); /* failed definitions kept nothing */
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK(freed_count == 1); /* exactly once, for the one that succeeded */
    CHECK_STATUS(wasmcell_runtime_define(rt, "m", "h", "()", ignore_call, &freed_count, count_free),
                 WASMCELL_ERR_INVALID_HANDLE);
    CHECK(freed_count == 1);
}

static void test_free_fn_runs_once_when_the_runtime_is_freed(void) {
    wasmcell_runtime *rt = new_runtime();
    freed_count = 0;
    int32_t tick = 0;
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", store_i32, &tick, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "other", "(i)", ignore_call, &freed_count, count_free), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "counter.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(tick == 101);
    CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_OK);
    CHECK(freed_count == 0); /* unloading a program does not release definitions */
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK(freed_count == 1);
}

/* ---- callbacks --------------------------------------------------------------------- */

struct plant {
    double sensor;
    int32_t actuator;
    char sent[64];
    int fail_send_with;
    const char *error_detail;
    int sends;
    wasmcell_call *stale_call;
    wasmcell_program *caller;
    char caller_name[32];
};

static int32_t read_sensor(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    (void)call;
    CHECK(nargs == 1 && nresults == 1 && args[0].i32 == 0);
    CHECK(results[0].f64 == 0.0); /* results arrive zero-initialised */
    results[0].f64 = plant->sensor;
    return 0;
}

static int32_t set_actuator(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                            wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    (void)call; (void)results;
    CHECK(nargs == 2 && nresults == 0 && args[0].i32 == 0);
    plant->actuator = args[1].i32;
    return 0;
}

static int32_t send_msg(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                        wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    CHECK(nargs == 1 && nresults == 1);
    plant->sends++;
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
        if (plant->error_detail) CHECK_STATUS(wasmcell_call_set_error(call, plant->error_detail), WASMCELL_OK);
        return plant->fail_send_with;
    }
    results[0].i32 = 0;
    return 0;
}

static wasmcell_runtime *plant_runtime(struct plant *plant) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "plant", "read_sensor", "(i)F", read_sensor, plant, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "plant", "set_actuator", "(ii)", set_actuator, plant, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "plant", "send", "(*~)i", send_msg, plant, NULL), WASMCELL_OK);
    return rt;
}

static void test_callbacks_with_scalars_and_buffers(void) {
    struct plant plant = {.sensor = 80.0, .actuator = -1};
    wasmcell_runtime *rt = plant_runtime(&plant);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture_named(rt, "oven-3", "callbacks.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(plant.actuator == 1);
    CHECK(strcmp(plant.sent, "cycle") == 0);
    CHECK(plant.caller == p);
    CHECK(strcmp(plant.caller_name, "oven-3") == 0);
    plant.sensor = 20.0;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(plant.actuator == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A non-zero return faults the program with HOST; the message names the
 * function, the code and the detail given with wasmcell_call_set_error. */
static void test_failing_callback_faults_the_program(void) {
    struct plant plant = {.sensor = 80.0};
    wasmcell_runtime *rt = plant_runtime(&plant);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "callbacks.wat", &p), WASMCELL_OK);
    plant.fail_send_with = 42;
    plant.error_detail = "queue full";
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_HOST);
    CHECK(fault_of(p) == WASMCELL_FAULT_HOST_ERROR);
    CHECK(state_of(p) == WASMCELL_STATE_FAULTED);
    char msg[512];
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "host function `plant.send` returned error 42: queue full");
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_FAULTED);

    /* Without a detail: the code alone; a negative code is an error too. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    plant.fail_send_with = -3;
    plant.error_detail = NULL;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_HOST);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "host function `plant.send` returned error -3");
    CHECK_NOT_CONTAINS(msg, "queue full");
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* wasmcell_call_set_error is ignored when the callback then returns 0, and
 * a message set in one call never leaks into a later failure. */
static int set_error_then_return = 0;
static int32_t set_error_cb(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                            wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)args; (void)nargs; (void)results; (void)nresults;
    if (set_error_then_return == 0) CHECK_STATUS(wasmcell_call_set_error(call, "must not appear"), WASMCELL_OK);
    return set_error_then_return;
}

static void test_set_error_is_ignored_on_success(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", set_error_cb, NULL, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "counter.wat", &p), WASMCELL_OK);
    set_error_then_return = 0;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    char msg[512];
    size_t len = 99;
    CHECK_STATUS(wasmcell_program_error(p, msg, sizeof msg, &len), WASMCELL_OK);
    CHECK(len == 0);
    CHECK(state_of(p) == WASMCELL_STATE_READY);
    set_error_then_return = 5;
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_HOST);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "host function `test.tick` returned error 5");
    CHECK_NOT_CONTAINS(msg, "must not appear");
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A buffer argument outside the guest's memory faults the program before
 * the callback runs. */
static void test_buffer_outside_memory_is_a_memory_fault(void) {
    struct plant plant = {0};
    wasmcell_runtime *rt = plant_runtime(&plant);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_wat(rt, "p1",
                          "(module (import \"plant\" \"send\" (func $send (param i32 i32) (result i32)))"
                          " (memory (export \"memory\") 1)"
                          " (func (export \"poll\") (drop (call $send (i32.const 65530) (i32.const 100)))))",
                          &p),
                 WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK(fault_of(p) == WASMCELL_FAULT_MEMORY_OUT_OF_BOUNDS);
    char msg[512];
    CHECK_CONTAINS(program_error(p, msg, sizeof msg),
                   "host function `plant.send`: buffer argument 0 (offset 65530, length 100) lies outside the guest's memory (65536 bytes)");
    CHECK(plant.sends == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* Every value type crosses in both directions, on the typed and the
 * dynamic call paths. */
struct values {
    int32_t i;
    int64_t I;
    float f;
    double F;
    double echoed;
    int calls;
};

static int32_t take_all(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                        wasmcell_val *results, size_t nresults) {
    struct values *v = user_data;
    (void)call;
    CHECK(nargs == 4 && nresults == 1);
    v->i = args[0].i32;
    v->I = args[1].i64;
    v->f = args[2].f32;
    v->F = args[3].f64;
    v->calls++;
    results[0].f64 = 2.5;
    return 0;
}

static int32_t echo(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                    wasmcell_val *results, size_t nresults) {
    struct values *v = user_data;
    (void)call; (void)nargs; (void)results; (void)nresults;
    v->echoed = args[0].f64;
    return 0;
}

static int32_t twice(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                     wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)nargs; (void)nresults;
    results[0].i64 = args[0].i64 * 2;
    return 0;
}

static void test_every_value_type_round_trips(void) {
    wasmcell_runtime *rt = new_runtime();
    struct values v = {0};
    CHECK_STATUS(wasmcell_runtime_define(rt, "t", "all", "(iIfF)F", take_all, &v, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "t", "echo", "(F)", echo, &v, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "t", "twice", "(I)I", twice, &v, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_wat(rt, "p1",
                          "(module"
                          " (import \"t\" \"all\" (func $all (param i32 i64 f32 f64) (result f64)))"
                          " (import \"t\" \"echo\" (func $echo (param f64)))"
                          " (import \"t\" \"twice\" (func $twice (param i64) (result i64)))"
                          " (func (export \"poll\")"
                          "  (call $echo (call $all (i32.const -7) (i64.const 0x123456789ab) (f32.const 1.5)"
                          "    (f64.const -2.25)))"
                          "  (call $echo (f64.convert_i64_s (call $twice (i64.const -21))))))",
                          &p),
                 WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(v.calls == 1 && v.i == -7 && v.I == 0x123456789abll && v.f == 1.5f && v.F == -2.25);
    CHECK(v.echoed == -42.0); /* the last echo: twice(-21) */
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- wasmcell_call accessors -------------------------------------------------------- */

struct call_probe {
    wasmcell_status program_null_out, memory_null_data, memory_null_len, set_error_null, set_error_utf8;
    wasmcell_program *program;
    int program_calls;
    uint8_t *memory;
    size_t memory_len;
    wasmcell_call *stale;
    size_t name_len;
};

static wasmcell_status get_call_name(void *ctx, char *buf, size_t cap, size_t *len) {
    return wasmcell_call_program_name(ctx, buf, cap, len);
}

static int32_t probe_call(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                          wasmcell_val *results, size_t nresults) {
    struct call_probe *probe = user_data;
    (void)args; (void)nargs; (void)results; (void)nresults;
    probe->program_calls++;
    probe->program = (wasmcell_program *)(uintptr_t)0x1;
    CHECK_STATUS(wasmcell_call_program(call, &probe->program), WASMCELL_OK);
    probe->program_null_out = wasmcell_call_program(call, NULL);
    size_t len = 0;
    probe->memory_null_data = wasmcell_call_memory(call, NULL, &len);
    probe->memory_null_len = wasmcell_call_memory(call, &probe->memory, NULL);
    probe->memory = (uint8_t *)(uintptr_t)0x1;
    probe->memory_len = 99;
    CHECK_STATUS(wasmcell_call_memory(call, &probe->memory, &probe->memory_len), WASMCELL_OK);
    probe->set_error_null = wasmcell_call_set_error(call, NULL);
    probe->set_error_utf8 = wasmcell_call_set_error(call, "\xff\xfe");
    probe->name_len = check_string_getter("wasmcell_call_program_name", get_call_name, call);
    probe->stale = call;
    return 0;
}

static void test_call_accessors(void) {
    wasmcell_runtime *rt = new_runtime();
    struct call_probe probe = {0};
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "probe", "()", probe_call, &probe, NULL), WASMCELL_OK);
    wasmcell_program *p = NULL;
    /* During the init of a load the handle does not exist yet: NULL. */
    CHECK_STATUS(load_wat(rt, "probed-program",
                          "(module (import \"test\" \"probe\" (func $probe))"
                          " (func (export \"init\") (call $probe)) (func (export \"poll\") (call $probe)))",
                          &p),
                 WASMCELL_OK);
    CHECK(probe.program_calls == 1);
    CHECK(probe.program == NULL);
    CHECK(probe.memory == NULL && probe.memory_len == 0); /* no memory exported */
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(probe.program_calls == 2);
    CHECK(probe.program == p);
    CHECK(probe.program_null_out == WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(probe.memory_null_data == WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(probe.memory_null_len == WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(probe.set_error_null == WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(probe.set_error_utf8 == WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK(probe.name_len == strlen("probed-program"));
    /* A reset's init sees the program's handle. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK(probe.program_calls == 3);
    CHECK(probe.program == p);

    /* Once the callback has returned, its call is refused. */
    wasmcell_program *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    char name[32];
    CHECK_STATUS(wasmcell_call_program(probe.stale, &out), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_program_name(probe.stale, name, sizeof name, &len), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_memory(probe.stale, &data, &len), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_set_error(probe.stale, "late"), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_program(NULL, &out), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_program_name(NULL, name, sizeof name, &len), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_memory(NULL, &data, &len), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_call_set_error(NULL, "x"), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- host definitions take precedence over built-ins ------------------------------------ */

struct printed {
    char text[64];
    int calls;
    int log_lines;
};

static int32_t my_print(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                        wasmcell_val *results, size_t nresults) {
    struct printed *out = user_data;
    (void)call; (void)nargs; (void)nresults;
    size_t n = args[0].buf.len < sizeof out->text - 1 ? args[0].buf.len : sizeof out->text - 1;
    memcpy(out->text, args[0].buf.ptr, n);
    out->text[n] = 0;
    out->calls++;
    results[0].i32 = 0;
    return 0;
}

static void count_lines(void *user_data, const char *program, wasmcell_log_level level, const char *message,
                        size_t len) {
    (void)program; (void)level; (void)message; (void)len;
    ((struct printed *)user_data)->log_lines++;
}

static int32_t fake_now(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                        wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)args; (void)nargs; (void)nresults;
    results[0].i64 = 424242;
    return 0;
}

static int32_t store_i64(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                         wasmcell_val *results, size_t nresults) {
    (void)call; (void)nargs; (void)results; (void)nresults;
    *(int64_t *)user_data = args[0].i64;
    return 0;
}

static void test_define_overrides_built_ins(void) {
    wasmcell_runtime *rt = new_runtime();
    struct printed printed = {0};
    CHECK_STATUS(wasmcell_runtime_set_log(rt, count_lines, &printed), WASMCELL_OK);
    wasmcell_program *before = NULL;
    CHECK_STATUS(load_fixture(rt, "hello.wat", &before), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(before), WASMCELL_OK);
    CHECK(printed.log_lines == 1); /* the built-in env.print */

    CHECK_STATUS(wasmcell_runtime_define(rt, "env", "print", "(*~)i", my_print, &printed, NULL), WASMCELL_OK);
    wasmcell_program *after = NULL;
    CHECK_STATUS(load_fixture(rt, "hello.wat", &after), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(after), WASMCELL_OK);
    CHECK(printed.calls == 1 && strcmp(printed.text, "Polling\n") == 0);
    CHECK(printed.log_lines == 1); /* the sink saw nothing */
    /* A running instance keeps what it was linked with; a reset relinks. */
    CHECK_STATUS(wasmcell_program_poll(before), WASMCELL_OK);
    CHECK(printed.log_lines == 2 && printed.calls == 1);
    CHECK_STATUS(wasmcell_program_reset(before), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(before), WASMCELL_OK);
    CHECK(printed.log_lines == 2 && printed.calls == 2);

    /* The clock built-in too. */
    int64_t seen = 0;
    CHECK_STATUS(wasmcell_runtime_define(rt, "wasmcell", "now_ns", "()I", fake_now, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "time", "(I)", store_i64, &seen, NULL), WASMCELL_OK);
    wasmcell_program *logger = NULL;
    CHECK_STATUS(load_fixture(rt, "logger.wat", &logger), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(logger), WASMCELL_OK);
    CHECK(seen == 424242);

    /* An override of another type than the guest imports: a link error
     * naming the host definition. */
    wasmcell_runtime *other = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(other, "env", "print", "(i)i", ignore_call, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(load_fixture(other, "hello.wat", &after), WASMCELL_ERR_LINK);
    char msg[512];
    CHECK_CONTAINS(last_error(msg, sizeof msg), "host function (signature \"(i)i\")");
    CHECK_STATUS(wasmcell_runtime_free(other), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- re-entry and nesting ---------------------------------------------------------------- */

struct reentry {
    wasmcell_runtime *rt;
    wasmcell_program *self, *other;
    wasmcell_reload *prepared_outside;
    wasmcell_status poll, reset, reload, prepare, commit, unload, free_rt, get_retain, get_input, state, stats,
        other_poll;
    int calls;
};

static int32_t reenter(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                       wasmcell_val *results, size_t nresults) {
    struct reentry *r = user_data;
    (void)call; (void)args; (void)nargs; (void)results; (void)nresults;
    if (r->calls++ > 0) return 0; /* only the first poll re-enters */
    static const char tiny[] = "(module (func (export \"poll\")))";
    wasmcell_reload *prepared = NULL;
    r->poll = wasmcell_program_poll(r->self);
    r->reset = wasmcell_program_reset(r->self);
    r->reload = wasmcell_program_reload(r->self, (const uint8_t *)tiny, sizeof tiny - 1);
    r->prepare = wasmcell_program_prepare_reload(r->self, (const uint8_t *)tiny, sizeof tiny - 1, &prepared);
    r->commit = wasmcell_program_commit_reload(r->self, r->prepared_outside);
    r->unload = wasmcell_program_unload(r->self);
    r->free_rt = wasmcell_runtime_free(r->rt);
    uint32_t count = 0, in = 0;
    int64_t value = 0;
    wasmcell_program_signal_lookup(r->self, "count", &count, NULL, NULL, NULL);
    wasmcell_program_signal_lookup(r->self, "in", &in, NULL, NULL, NULL);
    r->get_retain = wasmcell_program_signal_get_i64(r->self, count, &value);
    r->get_input = wasmcell_program_signal_get_i64(r->self, in, &value);
    wasmcell_state state;
    wasmcell_stats stats;
    r->state = wasmcell_program_state(r->self, &state);
    r->stats = wasmcell_program_stats(r->self, &stats);
    r->other_poll = wasmcell_program_poll(r->other);
    return 0;
}

/* A callback calling poll, reset, reload, prepare, commit, unload on its
 * own program, freeing its runtime or reading a retain signal gets BUSY and
 * nothing happens; reading state, stats and inputs works, and other
 * programs may be polled. */
static void test_reentry_is_busy(void) {
    wasmcell_runtime *rt = new_runtime();
    struct reentry r = {.rt = rt};
    int32_t tick = 0;
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "park", "()", reenter, &r, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", store_i32, &tick, NULL), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "park.wat", &r.self), WASMCELL_OK);
    CHECK_STATUS(load_fixture_named(rt, "other", "counter.wat", &r.other), WASMCELL_OK);
    static const char tiny[] = "(module (func (export \"poll\")))";
    CHECK_STATUS(wasmcell_program_prepare_reload(r.self, (const uint8_t *)tiny, sizeof tiny - 1, &r.prepared_outside),
                 WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(r.self), WASMCELL_OK);
    CHECK(r.poll == WASMCELL_ERR_BUSY);
    CHECK(r.reset == WASMCELL_ERR_BUSY);
    CHECK(r.reload == WASMCELL_ERR_BUSY);
    CHECK(r.prepare == WASMCELL_ERR_BUSY);
    CHECK(r.commit == WASMCELL_ERR_BUSY);
    CHECK(r.unload == WASMCELL_ERR_BUSY);
    CHECK(r.free_rt == WASMCELL_ERR_BUSY);
    CHECK(r.get_retain == WASMCELL_ERR_BUSY);
    CHECK(r.get_input == WASMCELL_OK);
    CHECK(r.state == WASMCELL_OK && r.stats == WASMCELL_OK);
    CHECK(r.other_poll == WASMCELL_OK && tick == 101);
    /* Nothing happened: the program polls on as itself, the reload prepared
     * outside was not consumed. */
    uint32_t count = 0;
    int64_t value = 0;
    CHECK_STATUS(wasmcell_program_poll(r.self), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_lookup(r.self, "count", &count, NULL, NULL, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_get_i64(r.self, count, &value), WASMCELL_OK);
    CHECK(value == 2);
    CHECK_STATUS(wasmcell_reload_discard(r.prepared_outside), WASMCELL_OK);
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
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *outer_program = NULL;
    struct nesting n = {0};
    CHECK_STATUS(wasmcell_runtime_define(rt, "nest", "outer", "()", nest_outer, &n, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "nest", "inner", "()", nest_inner, &n, NULL), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "outer", outer, &outer_program), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "inner", inner, &n.inner), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(outer_program), WASMCELL_OK);
    CHECK(n.inner_poll == WASMCELL_OK);
    CHECK(n.inner_len == 2 * 65536);                          /* the inner call sees its own program */
    CHECK(n.outer_len_seen_inside == 65536);                  /* the outer call is still active */
    CHECK(n.inner_call_after == WASMCELL_ERR_INVALID_HANDLE); /* returned: refused */
    CHECK(n.outer_len_after == 65536);                        /* the outer call survives the nesting */
    wasmcell_status after;
    call_memory_len(n.outer_call, &after);
    CHECK(after == WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    test_begin("test_host", argc, argv);
    RUN(test_define_statuses);
    RUN(test_free_fn_runs_once_when_the_runtime_is_freed);
    RUN(test_callbacks_with_scalars_and_buffers);
    RUN(test_failing_callback_faults_the_program);
    RUN(test_set_error_is_ignored_on_success);
    RUN(test_buffer_outside_memory_is_a_memory_fault);
    RUN(test_every_value_type_round_trips);
    RUN(test_call_accessors);
    RUN(test_define_overrides_built_ins);
    RUN(test_reentry_is_busy);
    RUN(test_nested_calls);
    return test_end();
}
