/* A C host built against the *installed* wasmcell, the way a user's project
 * builds: `cc consumer.c $(pkg-config --cflags --libs wasmcell)`, or through
 * the CMake package (tests/package/cmake). It checks that the header and the
 * library it found agree, loads a program from WAT text, polls it, and
 * checks a host callback and a fault. Exit status 0 means all went well. */
#include <stdio.h>
#include <string.h>

#include <wasmcell.h>

static const char *const program =
    "(module (import \"plant\" \"read_sensor\" (func $read (param i32) (result f64)))"
    " (import \"plant\" \"set_actuator\" (func $set (param i32 i32)))"
    " (func (export \"poll\")"
    "   (call $set (i32.const 3) (f64.lt (call $read (i32.const 3)) (f64.const 20.0)))))";

static const char *const faulty = "(module (func (export \"poll\") unreachable))";

static int32_t read_sensor(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    (void)call;
    if (nargs != 1 || nresults != 1 || args[0].i32 != 3) return 1;
    results[0].f64 = *(const double *)user_data;
    return 0;
}

static int32_t set_actuator(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                            wasmcell_val *results, size_t nresults) {
    (void)call;
    (void)results;
    if (nargs != 2 || nresults != 0) return 1;
    *(int32_t *)user_data = args[1].i32;
    return 0;
}

#define EXPECT(cond)                                                       \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "consumer: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                      \
        }                                                                  \
    } while (0)

int main(void) {
    double room = 18.0;
    int32_t heater = -1;
    wasmcell_runtime *rt = NULL;
    wasmcell_program *p = NULL;
    wasmcell_state state = 0;

    EXPECT(wasmcell_version_number() == WASMCELL_VERSION_NUMBER);
    EXPECT(wasmcell_runtime_new(&rt) == WASMCELL_OK);
    EXPECT(wasmcell_runtime_define(rt, "plant", "read_sensor", "(i)F", read_sensor, &room, NULL) == WASMCELL_OK);
    EXPECT(wasmcell_runtime_define(rt, "plant", "set_actuator", "(ii)", set_actuator, &heater, NULL) == WASMCELL_OK);
    EXPECT(wasmcell_program_load(rt, "consumer", (const uint8_t *)program, strlen(program), &p) == WASMCELL_OK);
    EXPECT(wasmcell_program_poll(p) == WASMCELL_OK);
    EXPECT(heater == 1);
    room = 25.0;
    EXPECT(wasmcell_program_poll(p) == WASMCELL_OK);
    EXPECT(heater == 0);
    EXPECT(wasmcell_program_reload(p, (const uint8_t *)faulty, strlen(faulty)) == WASMCELL_OK);
    EXPECT(wasmcell_program_poll(p) == WASMCELL_ERR_TRAP);
    EXPECT(wasmcell_program_state(p, &state) == WASMCELL_OK && state == WASMCELL_STATE_FAULTED);
    EXPECT(wasmcell_runtime_free(rt) == WASMCELL_OK);
    printf("consumer: wasmcell %s, header %d.%d.%d: ok\n", wasmcell_version(), WASMCELL_VERSION_MAJOR,
           WASMCELL_VERSION_MINOR, WASMCELL_VERSION_PATCH);
    return 0;
}
