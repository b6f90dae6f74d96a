/* The process image: area sizes, byte ranges, signal lists and lookups,
 * typed get/set with range checks for every signal type, outputs published
 * only after good polls, retain across reset, stale signal ids.
 * Usage: test_image [fixtures-dir] [name-filter] */
#include <math.h>
#include <stdint.h>

#include "check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t id_of(wasmcell_program *p, const char *name) {
    uint32_t id = UINT32_MAX;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, name, &id, NULL, NULL, NULL), WASMCELL_OK);
    return id;
}

static void test_sizes_and_signal_list(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &p), WASMCELL_OK);
    size_t in_len = 0, out_len = 0, retain_len = 0, count = 0;
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_INPUT, &in_len), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_OUTPUT, &out_len), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_RETAIN, &retain_len), WASMCELL_OK);
    CHECK(in_len == 16 && out_len == 24 && retain_len == 8);
    CHECK_STATUS(wasmcell_program_image_size(p, 3, &in_len), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_image_size(p, -1, &in_len), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_INPUT, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_count(p, &count), WASMCELL_OK);
    CHECK(count == 6);
    CHECK_STATUS(wasmcell_program_signal_count(p, NULL), WASMCELL_ERR_INVALID_ARGUMENT);

    static const struct {
        const char *name;
        wasmcell_area area;
        wasmcell_signal_type type;
        uint32_t offset;
    } expected[] = {
        {"speed", WASMCELL_AREA_INPUT, WASMCELL_SIGNAL_F64, 0},     {"enable", WASMCELL_AREA_INPUT, WASMCELL_SIGNAL_BOOL, 8},
        {"motor_on", WASMCELL_AREA_OUTPUT, WASMCELL_SIGNAL_BOOL, 0}, {"position", WASMCELL_AREA_OUTPUT, WASMCELL_SIGNAL_F64, 8},
        {"pulses", WASMCELL_AREA_OUTPUT, WASMCELL_SIGNAL_U32, 16},   {"distance", WASMCELL_AREA_RETAIN, WASMCELL_SIGNAL_F64, 0},
    };
    for (size_t i = 0; i < COUNT(expected); i++) {
        char name[16];
        size_t name_len = 0;
        uint32_t id = UINT32_MAX, offset = UINT32_MAX, looked_up = UINT32_MAX, lookup_offset = UINT32_MAX;
        wasmcell_area area = -1, lookup_area = -1;
        wasmcell_signal_type type = -1, lookup_type = -1;
        CHECK_STATUS(wasmcell_program_signal_info(p, i, name, sizeof name, &name_len, &id, &area, &type, &offset),
                     WASMCELL_OK);
        CHECK(strcmp(name, expected[i].name) == 0 && name_len == strlen(expected[i].name));
        CHECK(area == expected[i].area && type == expected[i].type && offset == expected[i].offset);
        CHECK_STATUS(wasmcell_program_signal_lookup(p, expected[i].name, &looked_up, &lookup_area, &lookup_type,
                                                    &lookup_offset),
                     WASMCELL_OK);
        CHECK(looked_up == id && lookup_area == area && lookup_type == type && lookup_offset == offset);
    }
    char name[16];
    CHECK_STATUS(wasmcell_program_signal_info(p, 6, name, sizeof name, NULL, NULL, NULL, NULL, NULL), WASMCELL_ERR_NOT_FOUND);
    char msg[256];
    CHECK_CONTAINS(last_error(msg, sizeof msg), "no signal number 6 (6 declared)");
    /* BUFFER_TOO_SMALL still writes the other outputs. */
    char tiny[4];
    size_t name_len = 0;
    uint32_t id = UINT32_MAX, offset = UINT32_MAX;
    wasmcell_area area = -1;
    wasmcell_signal_type type = -1;
    CHECK_STATUS(wasmcell_program_signal_info(p, 3, tiny, sizeof tiny, &name_len, &id, &area, &type, &offset),
                 WASMCELL_ERR_BUFFER_TOO_SMALL);
    CHECK(strcmp(tiny, "pos") == 0 && name_len == 8);
    CHECK(id == id_of(p, "position") && area == WASMCELL_AREA_OUTPUT && type == WASMCELL_SIGNAL_F64 && offset == 8);
    CHECK_STATUS(wasmcell_program_signal_info(p, 3, NULL, 8, &name_len, NULL, NULL, NULL, NULL),
                 WASMCELL_ERR_INVALID_ARGUMENT);

    uint32_t found = 0;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "nope", &found, NULL, NULL, NULL), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "Speed", &found, NULL, NULL, NULL), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, NULL, &found, NULL, NULL, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "speed", NULL, NULL, NULL, NULL), WASMCELL_ERR_INVALID_ARGUMENT);

    /* A program without an image: everything is empty. */
    wasmcell_program *plain = NULL;
    CHECK_STATUS(load_fixture(rt, "unreachable.wat", &plain), WASMCELL_OK);
    for (wasmcell_area a = WASMCELL_AREA_INPUT; a <= WASMCELL_AREA_RETAIN; a++) {
        size_t len = 99;
        CHECK_STATUS(wasmcell_program_image_size(plain, a, &len), WASMCELL_OK);
        CHECK(len == 0);
    }
    CHECK_STATUS(wasmcell_program_signal_count(plain, &count), WASMCELL_OK);
    CHECK(count == 0);
    uint8_t byte = 1;
    CHECK_STATUS(wasmcell_program_write_inputs(plain, 0, &byte, 1), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_read_outputs(plain, 0, &byte, 1, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_write_inputs(plain, 0, NULL, 0), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

struct info_ctx {
    wasmcell_program *p;
    size_t index;
};

static wasmcell_status get_signal_name(void *ctx, char *buf, size_t cap, size_t *len) {
    struct info_ctx *c = ctx;
    return wasmcell_program_signal_info(c->p, c->index, buf, cap, len, NULL, NULL, NULL, NULL);
}

static void test_signal_name_buffer_contract(void) {
    wasmcell_runtime *rt = new_runtime();
    struct info_ctx ctx = {NULL, 3};
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &ctx.p), WASMCELL_OK);
    CHECK(check_string_getter("wasmcell_program_signal_info", get_signal_name, &ctx) == strlen("position"));
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* Set by id, poll, read by id and by bytes; a faulting poll publishes
 * nothing; retain survives a reset. */
static void test_drive_a_program_through_its_image(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &p), WASMCELL_OK);
    uint32_t speed = id_of(p, "speed"), enable = id_of(p, "enable"), position = id_of(p, "position"),
             pulses = id_of(p, "pulses"), distance = id_of(p, "distance"), motor = id_of(p, "motor_on");
    uint8_t outputs[24];
    uint64_t published_by = 99;
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, outputs, sizeof outputs, &published_by), WASMCELL_OK);
    CHECK(published_by == 0); /* no poll has succeeded yet */

    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, 1.5), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, enable, 1), WASMCELL_OK);
    double value = 0;
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, speed, &value), WASMCELL_OK);
    CHECK(value == 1.5); /* inputs read back what the host wrote */
    for (int i = 0; i < 2; i++) CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    int64_t integer = 0;
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, position, &value), WASMCELL_OK);
    CHECK(value == 3.0);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, pulses, &integer), WASMCELL_OK);
    CHECK(integer == 2);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, motor, &integer), WASMCELL_OK);
    CHECK(integer == 1);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, distance, &value), WASMCELL_OK);
    CHECK(value == 3.0);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, outputs, sizeof outputs, &published_by), WASMCELL_OK);
    CHECK(published_by == 2 && outputs[0] == 1);
    double raw_position = 0;
    memcpy(&raw_position, outputs + 8, sizeof raw_position);
    CHECK(raw_position == 3.0);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 8, outputs, 8, NULL), WASMCELL_OK); /* a sub-range */
    memcpy(&raw_position, outputs, sizeof raw_position);
    CHECK(raw_position == 3.0);

    /* Byte ranges: bounds and NULLs. */
    char msg[256];
    CHECK_STATUS(wasmcell_program_read_outputs(p, 20, outputs, 8, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_read_outputs(p, SIZE_MAX, outputs, 2, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, NULL, 8, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 24, NULL, 0, NULL), WASMCELL_OK);
    double raw_speed = 2.0;
    CHECK_STATUS(wasmcell_program_write_inputs(p, 0, (const uint8_t *)&raw_speed, sizeof raw_speed), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_write_inputs(p, 12, (const uint8_t *)&raw_speed, sizeof raw_speed),
                 WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "outside the 16-byte input area");
    CHECK_STATUS(wasmcell_program_write_inputs(p, SIZE_MAX - 2, (const uint8_t *)&raw_speed, sizeof raw_speed),
                 WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_write_inputs(p, 0, NULL, 8), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, speed, &value), WASMCELL_OK);
    CHECK(value == 2.0); /* bytes and signals are one image */

    /* A faulting poll publishes nothing (the guest half-wrote its outputs). */
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, -1.0), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, position, &value), WASMCELL_OK);
    CHECK(value == 3.0);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, outputs, sizeof outputs, &published_by), WASMCELL_OK);
    CHECK(published_by == 2);
    /* Retain survives the reset; outputs start again from the fresh instance. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, distance, &value), WASMCELL_OK);
    CHECK(value == 3.0);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, 0.5), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, distance, &value), WASMCELL_OK);
    CHECK(value == 3.5);
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, outputs, sizeof outputs, &published_by), WASMCELL_OK);
    CHECK(published_by == 4); /* the number of the poll since load */
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, position, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, position, NULL), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* Every type: in-range values reach the guest and come back encoded as the
 * guest ABI says; out-of-range, non-integral and wrong-area values are
 * refused with WASMCELL_ERR_INVALID_ARGUMENT and change nothing. */
static void test_typed_signals_are_range_checked(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "all_types.wat", &p), WASMCELL_OK);
    struct {
        const char *name;
        double low, high;  /* extremes that must be accepted (as doubles) */
        double below, above; /* just outside */
    } ranges[] = {
        {"b", 0, 1, -1, 2},
        {"i8", -128, 127, -129, 128},
        {"u8", 0, 255, -1, 256},
        {"i16", -32768, 32767, -32769, 32768},
        {"u16", 0, 65535, -1, 65536},
        {"i32", -2147483648.0, 2147483647.0, -2147483649.0, 2147483648.0},
        {"u32", 0, 4294967295.0, -1, 4294967296.0},
    };
    char msg[256];
    for (size_t i = 0; i < COUNT(ranges); i++) {
        uint32_t in = id_of(p, ranges[i].name);
        char out_name[8];
        snprintf(out_name, sizeof out_name, "o%s", ranges[i].name);
        uint32_t out = id_of(p, out_name);
        double edges[2] = {ranges[i].low, ranges[i].high};
        for (int e = 0; e < 2; e++) {
            CHECK_STATUS(wasmcell_program_signal_set_f64(p, in, edges[e]), WASMCELL_OK);
            CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
            double got = -12345;
            int64_t exact = -12345;
            CHECK_STATUS(wasmcell_program_signal_get_f64(p, out, &got), WASMCELL_OK);
            CHECK_STATUS(wasmcell_program_signal_get_i64(p, out, &exact), WASMCELL_OK);
            CHECK_MSG(got == edges[e] && exact == (int64_t)edges[e], "%s: set %g, read %g / %lld", ranges[i].name,
                      edges[e], got, (long long)exact);
            CHECK_STATUS(wasmcell_program_signal_set_i64(p, in, (int64_t)edges[e]), WASMCELL_OK);
        }
        CHECK_STATUS(wasmcell_program_signal_set_f64(p, in, ranges[i].below), WASMCELL_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(wasmcell_program_signal_set_f64(p, in, ranges[i].above), WASMCELL_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(wasmcell_program_signal_set_i64(p, in, (int64_t)ranges[i].below), WASMCELL_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(wasmcell_program_signal_set_i64(p, in, (int64_t)ranges[i].above), WASMCELL_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(wasmcell_program_signal_set_f64(p, in, 0.5), WASMCELL_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(wasmcell_program_signal_set_f64(p, in, NAN), WASMCELL_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(wasmcell_program_signal_set_f64(p, in, INFINITY), WASMCELL_ERR_INVALID_ARGUMENT);
        /* refused values left the last accepted one in place */
        double kept = 0;
        CHECK_STATUS(wasmcell_program_signal_get_f64(p, in, &kept), WASMCELL_OK);
        CHECK(kept == ranges[i].high);
        /* outputs are the program's: the host cannot set them */
        CHECK_STATUS(wasmcell_program_signal_set_f64(p, out, 0), WASMCELL_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(wasmcell_program_signal_set_i64(p, out, 0), WASMCELL_ERR_INVALID_ARGUMENT);
    }

    /* 64-bit integers: exact through the i64 functions. */
    uint32_t i64 = id_of(p, "i64"), u64 = id_of(p, "u64"), oi64 = id_of(p, "oi64"), ou64 = id_of(p, "ou64");
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, i64, INT64_MIN), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, u64, INT64_MAX), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, u64, -1), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    int64_t exact = 0;
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, oi64, &exact), WASMCELL_OK);
    CHECK(exact == INT64_MIN);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, ou64, &exact), WASMCELL_OK);
    CHECK(exact == INT64_MAX);
    /* A u64 above INT64_MAX: readable as a double, refused as an int64_t. */
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, u64, 18446744073709549568.0), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, u64, 18446744073709551616.0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, i64, 9223372036854775808.0), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    double big = 0;
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, ou64, &big), WASMCELL_OK);
    CHECK(big == 18446744073709549568.0);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, ou64, &exact), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "does not fit an int64_t");

    /* Floats: any value; the i64 getter refuses them. */
    uint32_t f32 = id_of(p, "f32"), f64 = id_of(p, "f64"), of32 = id_of(p, "of32"), of64 = id_of(p, "of64");
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, f32, -0.25), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, f64, 1e300), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, f64, 7), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    double real = 0;
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, of32, &real), WASMCELL_OK);
    CHECK(real == -0.25);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, of64, &real), WASMCELL_OK);
    CHECK(real == 7.0);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, of64, &exact), WASMCELL_ERR_INVALID_ARGUMENT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "float signal");

    /* The guest saw the documented little-endian encodings. */
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, id_of(p, "i16"), -2), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, id_of(p, "u32"), 0x01020304), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    uint8_t raw[48];
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, raw, sizeof raw, NULL), WASMCELL_OK);
    CHECK(raw[4] == 0xfe && raw[5] == 0xff);
    CHECK(raw[12] == 4 && raw[13] == 3 && raw[14] == 2 && raw[15] == 1);

    /* Unknown ids. */
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, 99999, 1.0), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, 99999, 1), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, 99999, &real), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, 99999, &exact), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* Ids stay valid across a reset (same table) and go stale when a reload
 * changes the table. */
static void test_signal_ids_go_stale_when_the_table_changes(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "conveyor.wat", &p), WASMCELL_OK);
    uint32_t speed = id_of(p, "speed");
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, 1.0), WASMCELL_OK);
    CHECK_STATUS(reload_fixture(p, "all_types.wat"), WASMCELL_OK);
    double value = 0;
    CHECK_STATUS(wasmcell_program_signal_set_f64(p, speed, 1.0), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_program_signal_get_f64(p, speed, &value), WASMCELL_ERR_NOT_FOUND);
    size_t in_len = 0;
    CHECK_STATUS(wasmcell_program_image_size(p, WASMCELL_AREA_INPUT, &in_len), WASMCELL_OK);
    CHECK(in_len == 48); /* the new version's image */
    uint32_t again = UINT32_MAX;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, "speed", &again, NULL, NULL, NULL), WASMCELL_ERR_NOT_FOUND);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A descriptor that does not fit the module is refused at load. */
static void test_bad_descriptors_fail_to_link(void) {
    wasmcell_runtime *rt = new_runtime();
    /* One f64 input signal at offset 12 of a 16-byte input area. */
    static const char crossing[] =
        "(module (memory (export \"memory\") 1)"
        " (data (i32.const 0) \"WCIM\" \"\\01\\00\\00\\00\" \"\\40\\00\\00\\00\" \"\\10\\00\\00\\00\""
        "   \"\\00\\00\\00\\00\" \"\\00\\00\\00\\00\" \"\\00\\00\\00\\00\" \"\\00\\00\\00\\00\" \"\\00\\00\\00\\00\""
        "   \"\\00\\01\\00\\00\" \"\\01\\00\\00\\00\")"
        " (data (i32.const 256) \"\\00\\02\\00\\00\" \"\\01\\00\\00\\00\" \"\\00\" \"\\0a\" \"\\00\\00\" \"\\0c\\00\\00\\00\")"
        " (data (i32.const 512) \"x\")"
        " (func (export \"wasmcell_image\") (result i32) (i32.const 0)) (func (export \"poll\")))";
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_wat(rt, "p1", crossing, &p), WASMCELL_ERR_LINK);
    char msg[512];
    CHECK_CONTAINS(last_error(msg, sizeof msg), "invalid process image descriptor");
    /* The same with the signal at offset 8 fits. */
    char *fits = strdup(crossing);
    char *offset = strstr(fits, "\\0c\\00\\00\\00");
    CHECK(offset != NULL);
    if (offset) memcpy(offset, "\\08", 3);
    CHECK_STATUS(load_wat(rt, "p1", fits, &p), WASMCELL_OK);
    free(fits);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    test_begin("test_image", argc, argv);
    RUN(test_sizes_and_signal_list);
    RUN(test_signal_name_buffer_contract);
    RUN(test_drive_a_program_through_its_image);
    RUN(test_typed_signals_are_range_checked);
    RUN(test_signal_ids_go_stale_when_the_table_changes);
    RUN(test_bad_descriptors_fail_to_link);
    return test_end();
}
