/* The API called the way LabVIEW's Call Library Function Nodes call it
 * (bindings/labview/README.md): every call on a fresh thread ("Run in any
 * thread": consecutive nodes may run on different threads), handles carried
 * as pointer-sized integers (uintptr_t), strings in and out through fixed
 * caller-allocated buffers, status as int32. Runs on Linux and, against
 * wasmcell.dll, under Wine.
 * Usage: test_labview_pattern [fixtures-dir] [name-filter] */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

/* One node: a function id and its arguments as pointer-sized integers, as a
 * LabVIEW diagram wires them. */
enum node_fn {
    RUNTIME_NEW, RUNTIME_FREE, RUNTIME_ERROR, LOAD_FILE, LOAD, POLL, RESET, RELOAD, UNLOAD, STATE,
    PROGRAM_ERROR, SIGNAL_LOOKUP, SET_F64, GET_F64, SET_I64, GET_I64, STATS, SET_FUEL,
};

typedef struct node {
    enum node_fn fn;
    uintptr_t a[6];
    double f;
    int64_t i;
    int32_t status;
} node;

static void *run_node(void *arg) {
    node *n = arg;
    uintptr_t *a = n->a;
    switch (n->fn) {
    case RUNTIME_NEW: n->status = wasmcell_runtime_new((wasmcell_runtime **)a[0]); break;
    case RUNTIME_FREE: n->status = wasmcell_runtime_free((wasmcell_runtime *)a[0]); break;
    case RUNTIME_ERROR:
        n->status = wasmcell_runtime_error((wasmcell_runtime *)a[0], (char *)a[1], (size_t)a[2], (size_t *)a[3]);
        break;
    case LOAD_FILE:
        n->status = wasmcell_program_load_file((wasmcell_runtime *)a[0], (const char *)a[1], (const char *)a[2],
                                               (wasmcell_program **)a[3]);
        break;
    case LOAD:
        n->status = wasmcell_program_load((wasmcell_runtime *)a[0], (const char *)a[1], (const uint8_t *)a[2],
                                          (size_t)a[3], (wasmcell_program **)a[4]);
        break;
    case POLL: n->status = wasmcell_program_poll((wasmcell_program *)a[0]); break;
    case RESET: n->status = wasmcell_program_reset((wasmcell_program *)a[0]); break;
    case RELOAD:
        n->status = wasmcell_program_reload((wasmcell_program *)a[0], (const uint8_t *)a[1], (size_t)a[2]);
        break;
    case UNLOAD: n->status = wasmcell_program_unload((wasmcell_program *)a[0]); break;
    case STATE: n->status = wasmcell_program_state((wasmcell_program *)a[0], (wasmcell_state *)a[1]); break;
    case PROGRAM_ERROR:
        n->status = wasmcell_program_error((wasmcell_program *)a[0], (char *)a[1], (size_t)a[2], (size_t *)a[3]);
        break;
    case SIGNAL_LOOKUP:
        n->status = wasmcell_program_signal_lookup((wasmcell_program *)a[0], (const char *)a[1], (uint32_t *)a[2],
                                                   (wasmcell_area *)a[3], (wasmcell_signal_type *)a[4],
                                                   (uint32_t *)a[5]);
        break;
    case SET_F64: n->status = wasmcell_program_signal_set_f64((wasmcell_program *)a[0], (uint32_t)a[1], n->f); break;
    case GET_F64:
        n->status = wasmcell_program_signal_get_f64((wasmcell_program *)a[0], (uint32_t)a[1], (double *)a[2]);
        break;
    case SET_I64: n->status = wasmcell_program_signal_set_i64((wasmcell_program *)a[0], (uint32_t)a[1], n->i); break;
    case GET_I64:
        n->status = wasmcell_program_signal_get_i64((wasmcell_program *)a[0], (uint32_t)a[1], (int64_t *)a[2]);
        break;
    case STATS: n->status = wasmcell_program_stats((wasmcell_program *)a[0], (wasmcell_stats *)a[1]); break;
    case SET_FUEL: n->status = wasmcell_program_set_fuel((wasmcell_program *)a[0], (uint64_t)a[1]); break;
    }
    return NULL;
}

/* Runs one node on a thread of its own, as LabVIEW may. */
static int32_t call_node(enum node_fn fn, uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3, uintptr_t a4,
                         uintptr_t a5, double f, int64_t i) {
    node n = {fn, {a0, a1, a2, a3, a4, a5}, f, i, 1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, run_node, &n) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    return n.status;
}

#define NODE(fn, ...) call_node(fn, __VA_ARGS__)
#define U(x) ((uintptr_t)(x))

/* A fixed string buffer wired into an output-string node. */
typedef struct { char text[1024]; uintptr_t len; } lv_string;

static void test_conveyor_loop_through_nodes(void) {
    uintptr_t rt = 0, p = 0;
    CHECK_STATUS(NODE(RUNTIME_NEW, U(&rt), 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK(rt != 0);
    char path[1024];
    fixture_path("conveyor.wat", path, sizeof path);
    CHECK_STATUS(NODE(LOAD_FILE, rt, U("conveyor"), U(path), U(&p), 0, 0, 0, 0), WASMCELL_OK);
    CHECK(p != 0);

    /* Look the signals up once, keep the ids. */
    uint32_t speed = 0, enable = 0, position = 0, pulses = 0, offset = 0;
    int32_t area = -1, type = -1;
    CHECK_STATUS(NODE(SIGNAL_LOOKUP, p, U("speed"), U(&speed), U(&area), U(&type), U(&offset), 0, 0), WASMCELL_OK);
    CHECK(area == WASMCELL_AREA_INPUT && type == WASMCELL_SIGNAL_F64);
    CHECK_STATUS(NODE(SIGNAL_LOOKUP, p, U("enable"), U(&enable), U(&area), U(&type), U(&offset), 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(SIGNAL_LOOKUP, p, U("position"), U(&position), U(&area), U(&type), U(&offset), 0, 0),
                 WASMCELL_OK);
    CHECK(area == WASMCELL_AREA_OUTPUT);
    CHECK_STATUS(NODE(SIGNAL_LOOKUP, p, U("pulses"), U(&pulses), U(&area), U(&type), U(&offset), 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(SIGNAL_LOOKUP, p, U("no_such_signal"), U(&pulses), U(&area), U(&type), U(&offset), 0, 0),
                 WASMCELL_ERR_NOT_FOUND);

    /* The loop: inputs, poll, outputs; every node on another thread. */
    CHECK_STATUS(NODE(SET_I64, p, enable, 0, 0, 0, 0, 0, 1), WASMCELL_OK);
    for (int cycle = 0; cycle < 10; cycle++) {
        CHECK_STATUS(NODE(SET_F64, p, speed, 0, 0, 0, 0, 0.5, 0), WASMCELL_OK);
        CHECK_STATUS(NODE(POLL, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    }
    double pos = 0;
    int64_t count = 0;
    CHECK_STATUS(NODE(GET_F64, p, position, U(&pos), 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(GET_I64, p, pulses, U(&count), 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK(pos == 5.0);
    CHECK(count == 10);

    /* A fault (negative speed traps): status, state and message, each read
     * by a different thread than the poll that faulted. */
    CHECK_STATUS(NODE(SET_F64, p, speed, 0, 0, 0, 0, -1.0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(POLL, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_ERR_TRAP);
    int32_t state = 0;
    CHECK_STATUS(NODE(STATE, p, U(&state), 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK(state == WASMCELL_STATE_FAULTED);
    lv_string msg = {"", 0};
    CHECK_STATUS(NODE(PROGRAM_ERROR, p, U(msg.text), sizeof msg.text, U(&msg.len), 0, 0, 0, 0), WASMCELL_OK);
    CHECK_CONTAINS(msg.text, "unreachable");
    CHECK(msg.len == strlen(msg.text));
    /* A buffer too small for the message: truncated, NUL-terminated. */
    char small[8];
    uintptr_t full = 0;
    CHECK_STATUS(NODE(PROGRAM_ERROR, p, U(small), sizeof small, U(&full), 0, 0, 0, 0), WASMCELL_ERR_BUFFER_TOO_SMALL);
    CHECK(full == msg.len && strlen(small) == sizeof small - 1);
    CHECK_STATUS(NODE(POLL, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_ERR_FAULTED);
    /* Faulted outputs were not published. */
    CHECK_STATUS(NODE(GET_F64, p, position, U(&pos), 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK(pos == 5.0);

    /* Reset, then a hot swap from bytes (Read from Binary File). */
    CHECK_STATUS(NODE(RESET, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(SET_F64, p, speed, 0, 0, 0, 0, 1.0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(SET_I64, p, enable, 0, 0, 0, 0, 0, 1), WASMCELL_OK);
    CHECK_STATUS(NODE(POLL, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    size_t len = 0;
    unsigned char *bytes = fixture_bytes("conveyor.wat", &len);
    CHECK_STATUS(NODE(RELOAD, p, U(bytes), len, 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(RELOAD, p, U("not wasm"), 8, 0, 0, 0, 0, 0), WASMCELL_ERR_COMPILE);
    CHECK_STATUS(NODE(POLL, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK); /* the old version keeps running */
    free(bytes);

    wasmcell_stats stats;
    memset(&stats, 0, sizeof stats);
    CHECK_STATUS(NODE(STATS, p, U(&stats), 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK(stats.polls >= 12 && stats.faults == 1);

    /* A runaway program is stopped by its budget. */
    uintptr_t loop = 0;
    CHECK_STATUS(NODE(LOAD_FILE, rt, U("loop"), U(""), U(&loop), 0, 0, 0, 0), WASMCELL_ERR_NOT_FOUND);
    fixture_path("infinite_loop.wat", path, sizeof path);
    CHECK_STATUS(NODE(LOAD_FILE, rt, U("loop"), U(path), U(&loop), 0, 0, 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(SET_FUEL, loop, 100000, 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(POLL, loop, 0, 0, 0, 0, 0, 0, 0), WASMCELL_ERR_BUDGET);
    CHECK_STATUS(NODE(POLL, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK); /* the neighbour is unaffected */

    /* A failed load: its message from the runtime, on another thread. */
    uintptr_t bad = 0;
    CHECK_STATUS(NODE(LOAD, rt, U("bad"), U("(module"), 7, U(&bad), 0, 0, 0), WASMCELL_ERR_COMPILE);
    lv_string rt_msg = {"", 0};
    CHECK_STATUS(NODE(RUNTIME_ERROR, rt, U(rt_msg.text), sizeof rt_msg.text, U(&rt_msg.len), 0, 0, 0, 0),
                 WASMCELL_OK);
    CHECK(rt_msg.len > 0);

    CHECK_STATUS(NODE(UNLOAD, loop, 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    CHECK_STATUS(NODE(UNLOAD, loop, 0, 0, 0, 0, 0, 0, 0), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(NODE(RUNTIME_FREE, rt, 0, 0, 0, 0, 0, 0, 0), WASMCELL_OK);
    /* Handles wired after the runtime is gone are rejected, not used. */
    CHECK_STATUS(NODE(POLL, p, 0, 0, 0, 0, 0, 0, 0), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(NODE(RUNTIME_FREE, rt, 0, 0, 0, 0, 0, 0, 0), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(NODE(POLL, 12345, 0, 0, 0, 0, 0, 0, 0), WASMCELL_ERR_INVALID_HANDLE);
}

int main(int argc, char **argv) {
    test_begin("test_labview_pattern", argc, argv);
    RUN(test_conveyor_loop_through_nodes);
    return test_end();
}
