/* Every signal type, in every area: each poll copies each input to the
 * output of the same type and adds into retain. The twin of
 * guest-sdk/rust/examples/echo_types.rs (same fields, same layout): the
 * SDK tests check the declared image against what the host sees. An in_i32
 * of -1 makes poll report a fault of the program's own (returns 1).
 *
 *   clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic \
 *         -Iguest-sdk/c guest-sdk/c/examples/echo_types.c -o echo_types_c.wasm */
#include "wasmcell_guest.h"

struct inputs {
    bool in_bool;
    int8_t in_i8;
    uint8_t in_u8;
    int16_t in_i16;
    uint16_t in_u16;
    int32_t in_i32;
    uint32_t in_u32;
    int64_t in_i64;
    uint64_t in_u64;
    float in_f32;
    double in_f64;
};

struct outputs {
    double out_f64;
    bool out_bool;
    int8_t out_i8;
    uint8_t out_u8;
    int16_t out_i16;
    uint16_t out_u16;
    int32_t out_i32;
    uint32_t out_u32;
    int64_t out_i64;
    uint64_t out_u64;
    float out_f32;
    uint32_t polls;
};

struct retain {
    int64_t sum_i64;
    double sum_f64;
    uint8_t last_u8;
};

static struct inputs in;
static struct outputs out;
static struct retain keep = {.last_u8 = 7};

WASMCELL_PROCESS_IMAGE(in, out, keep, 0x5eed,
    WASMCELL_INPUT(in_bool), WASMCELL_INPUT(in_i8), WASMCELL_INPUT(in_u8), WASMCELL_INPUT(in_i16),
    WASMCELL_INPUT(in_u16), WASMCELL_INPUT(in_i32), WASMCELL_INPUT(in_u32), WASMCELL_INPUT(in_i64),
    WASMCELL_INPUT(in_u64), WASMCELL_INPUT(in_f32), WASMCELL_INPUT(in_f64),
    WASMCELL_OUTPUT(out_f64), WASMCELL_OUTPUT(out_bool), WASMCELL_OUTPUT(out_i8), WASMCELL_OUTPUT(out_u8),
    WASMCELL_OUTPUT(out_i16), WASMCELL_OUTPUT(out_u16), WASMCELL_OUTPUT(out_i32), WASMCELL_OUTPUT(out_u32),
    WASMCELL_OUTPUT(out_i64), WASMCELL_OUTPUT(out_u64), WASMCELL_OUTPUT(out_f32), WASMCELL_OUTPUT(polls),
    WASMCELL_RETAIN(sum_i64), WASMCELL_RETAIN(sum_f64), WASMCELL_RETAIN(last_u8));

WASMCELL_EXPORT(poll) int32_t echo_poll(void) {
    if (in.in_i32 == -1) {
        wasmcell_error("poll failed: in_i32 is -1");
        return 1;
    }
    out.out_bool = in.in_bool;
    out.out_i8 = in.in_i8;
    out.out_u8 = in.in_u8;
    out.out_i16 = in.in_i16;
    out.out_u16 = in.in_u16;
    out.out_i32 = in.in_i32;
    out.out_u32 = in.in_u32;
    out.out_i64 = in.in_i64;
    out.out_u64 = in.in_u64;
    out.out_f32 = in.in_f32;
    out.out_f64 = in.in_f64;
    out.polls++;
    keep.sum_i64 = (int64_t)((uint64_t)keep.sum_i64 + (uint64_t)in.in_i64);
    keep.sum_f64 += in.in_f64;
    keep.last_u8 = in.in_u8;
    return 0;
}
