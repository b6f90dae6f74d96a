/* Fault handling the way a PLC does it, from C: the watchdog stops a poll
 * while it runs and counts overruns; safe outputs are published on a fault. */
#include "check.h"

#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void test_watchdog_stops_an_endless_loop(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *spin = NULL;
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &spin), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_fuel(spin, UINT64_MAX / 4), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_watchdog(spin, 50 * 1000 * 1000, 1), WASMCELL_OK);
    double started = now_ms();
    CHECK_STATUS(wasmcell_program_poll(spin), WASMCELL_ERR_WATCHDOG);
    double took = now_ms() - started;
    /* Generous under valgrind; the Rust suite holds the 2x bound. */
    CHECK_MSG(took >= 50 && took < 5000, "stopped after %.1f ms", took);
    wasmcell_fault kind = -1;
    CHECK_STATUS(wasmcell_program_fault_kind(spin, &kind), WASMCELL_OK);
    CHECK(kind == WASMCELL_FAULT_WATCHDOG);
    char msg[256];
    CHECK_CONTAINS(program_error(spin, msg, sizeof msg), "watchdog");
    wasmcell_stats stats;
    CHECK_STATUS(wasmcell_program_stats(spin, &stats), WASMCELL_OK);
    CHECK(stats.overruns == 1);
    CHECK_STATUS(wasmcell_program_set_watchdog(NULL, 1, 1), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_set_watchdog(spin, 0, 0), WASMCELL_OK); /* off */
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static uint8_t motor_on(wasmcell_program *p, uint64_t *poll) {
    uint8_t out = 0xff;
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, &out, 1, poll), WASMCELL_OK);
    return out;
}

static void set_speed(wasmcell_program *p, double speed) {
    CHECK_STATUS(wasmcell_program_write_inputs(p, 0, (const uint8_t *)&speed, sizeof speed), WASMCELL_OK);
    uint8_t enable = 1;
    CHECK_STATUS(wasmcell_program_write_inputs(p, 8, &enable, 1), WASMCELL_OK);
}

/* Deadline mode: nothing is counted (a budget of 10 would stop any loop),
 * every poll is stopped by time, and the watchdog cannot be turned off. */
static void test_deadline_mode(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_set_default_fuel(rt, 10), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_deadline(rt, 30 * 1000 * 1000), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_set_default_deadline(NULL, 1), WASMCELL_ERR_INVALID_HANDLE);
    wasmcell_program *hello = NULL, *spin = NULL;
    CHECK_STATUS(load_fixture(rt, "hello.wat", &hello), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &spin), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(hello), WASMCELL_OK);
    wasmcell_stats stats;
    CHECK_STATUS(wasmcell_program_stats(hello, &stats), WASMCELL_OK);
    CHECK(stats.last_fuel_used == 0);
    double started = now_ms();
    CHECK_STATUS(wasmcell_program_poll(spin), WASMCELL_ERR_WATCHDOG);
    double took = now_ms() - started;
    CHECK_MSG(took >= 30 && took < 5000, "stopped after %.1f ms", took);
    CHECK_STATUS(wasmcell_program_poll(hello), WASMCELL_OK);
    char msg[256];
    CHECK_STATUS(wasmcell_program_set_fuel(spin, 1000), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(program_error(spin, msg, sizeof msg), "deadline mode");
    CHECK_STATUS(wasmcell_program_set_watchdog(spin, 0, 1), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_set_watchdog(spin, 10 * 1000 * 1000, 1), WASMCELL_OK);
    /* Back to the budget for programs loaded from now on. */
    CHECK_STATUS(wasmcell_runtime_set_default_deadline(rt, 0), WASMCELL_OK);
    wasmcell_program *counted = NULL;
    CHECK_STATUS(load_fixture(rt, "infinite_loop.wat", &counted), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(counted), WASMCELL_ERR_BUDGET);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_safe_outputs(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    uint64_t poll = 0;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_fault_outputs(p, 7), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_set_fault_outputs(p, WASMCELL_FAULT_OUTPUTS_DEFAULTS), WASMCELL_OK);
    set_speed(p, 1.0);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(motor_on(p, &poll) == 1 && poll == 1);
    set_speed(p, -1.0); /* the conveyor traps on a negative speed */
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK(motor_on(p, &poll) == 0 && poll == 2);
    /* Hold: the last good outputs stay. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_fault_outputs(p, WASMCELL_FAULT_OUTPUTS_HOLD), WASMCELL_OK);
    set_speed(p, 1.0);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    set_speed(p, -1.0);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK(motor_on(p, &poll) == 1 && poll == 3);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_retain_by_name_report(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "retain_by_name_a.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    size_t len = 0;
    unsigned char *b = fixture_bytes("retain_by_name_b.wat", &len);
    wasmcell_reload *reload = NULL;
    CHECK_STATUS(wasmcell_program_prepare_reload(p, b, len, &reload), WASMCELL_OK);
    free(b);
    size_t kept = 9, added = 9, dropped = 9, retyped = 9;
    CHECK_STATUS(wasmcell_reload_retain_summary(reload, &kept, &added, &dropped, &retyped), WASMCELL_OK);
    CHECK(kept == 2 && added == 1 && dropped == 1 && retyped == 1);
    CHECK_STATUS(wasmcell_reload_retain_summary(reload, NULL, NULL, NULL, NULL), WASMCELL_OK);
    char report[512];
    size_t report_len = 0;
    CHECK_STATUS(wasmcell_reload_report(reload, report, sizeof report, &report_len), WASMCELL_OK);
    CHECK_CONTAINS(report, "total f64: kept\nbig i64: kept\ncount f64: retyped from u32");
    CHECK_CONTAINS(report, "gone u8: dropped\n");
    char tiny[8];
    CHECK_STATUS(wasmcell_reload_report(reload, tiny, sizeof tiny, &len), WASMCELL_ERR_BUFFER_TOO_SMALL);
    CHECK(len == report_len);
    CHECK_STATUS(wasmcell_program_commit_reload(p, reload), WASMCELL_OK);
    /* Used up: the reload handle is stale now. */
    CHECK_STATUS(wasmcell_reload_report(reload, report, sizeof report, &len), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_reload_retain_summary(NULL, &kept, NULL, NULL, NULL), WASMCELL_ERR_INVALID_HANDLE);
    char notice[1024];
    CHECK_STATUS(wasmcell_program_notice(p, notice, sizeof notice, NULL), WASMCELL_OK);
    CHECK_CONTAINS(notice, "2 kept, 1 added, 1 dropped, 1 retyped\ntotal f64: kept");
    uint32_t id = 0;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "fresh", &id, NULL, NULL, NULL), WASMCELL_OK);
    int64_t fresh = 0;
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, id, &fresh), WASMCELL_OK);
    CHECK(fresh == 77);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    test_begin("test_online", argc, argv);
    RUN(test_watchdog_stops_an_endless_loop);
    RUN(test_deadline_mode);
    RUN(test_safe_outputs);
    RUN(test_retain_by_name_report);
    return test_end();
}
