/* wasmcell_guest.h: write wasmcell programs in C.
 *
 * One header, no library: the wasmcell imports (env.print, wasmcell.log,
 * now_ns, start_kind, retain_restored) with their import attributes, print
 * and log helpers (with a small line builder for numbers, since freestanding
 * programs have no printf), WASMCELL_EXPORT for the exports, and macros that
 * declare the process image from plain C structs: the descriptor, its signal
 * table (names, areas, type codes deduced from the field types, offsetof
 * offsets) and the wasmcell_image export. The guest ABI is described in
 * docs/guest-abi.md of the wasmcell repository.
 *
 * Build a freestanding program (no libc) with clang and lld:
 *
 *     clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic \
 *           -I path/to/guest-sdk/c program.c -o program.wasm
 *
 * or against wasi-libc (printf, malloc, ...; wasmcell provides the WASI
 * subset) as a reactor:
 *
 *     clang --target=wasm32-wasi -mexec-model=reactor -O2 \
 *           -I path/to/guest-sdk/c program.c -o program.wasm
 *
 * A complete program:
 *
 *     #include "wasmcell_guest.h"
 *
 *     struct inputs  { double speed; bool enable; };
 *     struct outputs { bool motor_on; double position; uint32_t pulses; };
 *     struct retain  { double distance; };
 *
 *     static struct inputs  in;          // the host writes these before each poll
 *     static struct outputs out;         // published after each poll that succeeds
 *     static struct retain  keep;        // survives reset and hot swap
 *
 *     WASMCELL_PROCESS_IMAGE(in, out, keep, 1,      // 1: retain layout id
 *         WASMCELL_INPUT(speed),
 *         WASMCELL_INPUT(enable),
 *         WASMCELL_OUTPUT(motor_on),
 *         WASMCELL_OUTPUT(position),
 *         WASMCELL_OUTPUT(pulses),
 *         WASMCELL_RETAIN(distance));
 *
 *     WASMCELL_EXPORT(poll) void cycle(void) {
 *         if (in.speed < 0) WASMCELL_PANIC("negative speed command");
 *         out.motor_on = in.enable;
 *         if (in.enable) { out.position += in.speed; out.pulses++; keep.distance += in.speed; }
 *     }
 *
 * Needs C11 (_Generic, _Static_assert) and clang's wasm attributes.
 */
#ifndef WASMCELL_GUEST_H
#define WASMCELL_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm32__)
#error "wasmcell_guest.h is for wasm32 programs: build with clang --target=wasm32 (or wasm32-wasi)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memset, memcpy, memmove, memcmp for programs without libc ----------- */

/* clang emits calls to these for struct copies, zero-initialised locals and
 * loops it recognises, even with -nostdlib. Freestanding programs get weak
 * byte-loop versions here (a libc's, when linked, takes precedence);
 * wasi-libc programs use the libc's. Define WASMCELL_NO_MEM_FUNCTIONS to
 * bring your own. (-mbulk-memory makes clang use memory.fill/memory.copy
 * instead, for sizes it knows.) */
#if !defined(__wasi__) && !defined(WASMCELL_NO_MEM_FUNCTIONS)
#define WASMCELL_MEM_FN(name) __attribute__((weak, no_builtin(name)))
WASMCELL_MEM_FN("memset") void *memset(void *dest, int c, size_t n) {
    unsigned char *d = (unsigned char *)dest;
    while (n--) *d++ = (unsigned char)c;
    return dest;
}
WASMCELL_MEM_FN("memcpy") void *memcpy(void *restrict dest, const void *restrict src, size_t n) {
    unsigned char *d = (unsigned char *)dest;
    const unsigned char *s = (const unsigned char *)src;
    while (n--) *d++ = *s++;
    return dest;
}
WASMCELL_MEM_FN("memmove") void *memmove(void *dest, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dest;
    const unsigned char *s = (const unsigned char *)src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dest;
}
WASMCELL_MEM_FN("memcmp") int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (; n--; x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}
#undef WASMCELL_MEM_FN
#endif

/* ---- exports ---------------------------------------------------------- */

/* Exports the function that follows under `name`, whatever its C name:
 *     WASMCELL_EXPORT(poll) void cycle(void) { ... }
 *     WASMCELL_EXPORT(init) void start(void) { ... }
 * poll: void (void), or int32_t (void) where non-zero reports a fault of the
 * program's own; init: void (void). Giving the C function another name
 * avoids clashing with libc's poll() in wasi-libc programs. */
#define WASMCELL_EXPORT(name) __attribute__((export_name(#name), visibility("default"), used))

/* ---- the imports -------------------------------------------------------- */

#define WASMCELL_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

/* env.print(ptr, len) -> i32: UTF-8 text to the host's log (level PRINT),
 * unchanged; 0, or -1 if the range is outside memory or not UTF-8. */
WASMCELL_IMPORT("env", "print") int32_t wasmcell_import_print(const char *text, uint32_t len);
/* wasmcell.log(level, ptr, len) -> i32: one log line; 0, or -1 for a bad level or range. */
WASMCELL_IMPORT("wasmcell", "log") int32_t wasmcell_import_log(int32_t level, const char *text, uint32_t len);
/* wasmcell.now_ns() -> i64: the runtime's monotonic clock (the host may replace it). */
WASMCELL_IMPORT("wasmcell", "now_ns") int64_t wasmcell_now_ns(void);
/* wasmcell.start_kind() -> i32: why this instance started (enum below). */
WASMCELL_IMPORT("wasmcell", "start_kind") int32_t wasmcell_start_kind(void);
/* wasmcell.retain_restored() -> i32: 1 if the retain area was carried over
 * from the previous instance (reset, or reload with the same layout id and size). */
WASMCELL_IMPORT("wasmcell", "retain_restored") int32_t wasmcell_retain_restored(void);

enum wasmcell_start_kind {
    WASMCELL_START_COLD = 0,   /* loaded for the first time */
    WASMCELL_START_RESET = 1,  /* reset by the host (after a fault) */
    WASMCELL_START_RELOAD = 2, /* new code swapped in (hot swap) */
};

enum wasmcell_level {
    WASMCELL_LOG_ERROR = 1,
    WASMCELL_LOG_WARN = 2,
    WASMCELL_LOG_INFO = 3,
    WASMCELL_LOG_DEBUG = 4,
    WASMCELL_LOG_TRACE = 5,
};

/* ---- print and log -------------------------------------------------------- */

static inline uint32_t wasmcell_strlen(const char *text) {
    uint32_t len = 0;
    while (text[len]) len++;
    return len;
}

/* Text to the host's log, unchanged (add the "\n" yourself). */
static inline void wasmcell_print(const char *text) { wasmcell_import_print(text, wasmcell_strlen(text)); }
static inline void wasmcell_print_n(const char *text, uint32_t len) { wasmcell_import_print(text, len); }

/* One log line at a level. */
static inline void wasmcell_log(enum wasmcell_level level, const char *text) {
    wasmcell_import_log((int32_t)level, text, wasmcell_strlen(text));
}
static inline void wasmcell_log_n(enum wasmcell_level level, const char *text, uint32_t len) {
    wasmcell_import_log((int32_t)level, text, len);
}
static inline void wasmcell_error(const char *text) { wasmcell_log(WASMCELL_LOG_ERROR, text); }
static inline void wasmcell_warn(const char *text) { wasmcell_log(WASMCELL_LOG_WARN, text); }
static inline void wasmcell_info(const char *text) { wasmcell_log(WASMCELL_LOG_INFO, text); }
static inline void wasmcell_debug(const char *text) { wasmcell_log(WASMCELL_LOG_DEBUG, text); }

/* A line built piece by piece on the stack, for programs without printf:
 *
 *     wasmcell_line line = WASMCELL_LINE_INIT;
 *     wasmcell_line_str(&line, "heater ");
 *     wasmcell_line_f64(&line, out.heater, 1);
 *     wasmcell_line_str(&line, " %");
 *     wasmcell_line_log(&line, WASMCELL_LOG_INFO);
 *
 * What does not fit in WASMCELL_LINE_CAPACITY bytes is cut, and the line
 * then ends with "...". */
#ifndef WASMCELL_LINE_CAPACITY
#define WASMCELL_LINE_CAPACITY 256
#endif

typedef struct wasmcell_line {
    char text[WASMCELL_LINE_CAPACITY];
    uint32_t len;
    bool cut;
} wasmcell_line;

#define WASMCELL_LINE_INIT {{0}, 0, false}

static inline void wasmcell_line_bytes(wasmcell_line *line, const char *bytes, uint32_t len) {
    for (uint32_t i = 0; i < len && !line->cut; i++) {
        if (line->len == WASMCELL_LINE_CAPACITY) {
            uint32_t end = WASMCELL_LINE_CAPACITY - 3;
            while (end > 0 && ((unsigned char)line->text[end] & 0xC0) == 0x80) end--; /* UTF-8 boundary */
            line->text[end] = '.';
            line->text[end + 1] = '.';
            line->text[end + 2] = '.';
            line->len = end + 3;
            line->cut = true;
            return;
        }
        line->text[line->len++] = bytes[i];
    }
}

static inline void wasmcell_line_str(wasmcell_line *line, const char *text) {
    wasmcell_line_bytes(line, text, wasmcell_strlen(text));
}

static inline void wasmcell_line_u64(wasmcell_line *line, uint64_t value) {
    char digits[20];
    uint32_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    char text[20];
    for (uint32_t i = 0; i < n; i++) text[i] = digits[n - 1 - i];
    wasmcell_line_bytes(line, text, n);
}

static inline void wasmcell_line_i64(wasmcell_line *line, int64_t value) {
    if (value < 0) {
        wasmcell_line_bytes(line, "-", 1);
        wasmcell_line_u64(line, (uint64_t)0 - (uint64_t)value);
    } else {
        wasmcell_line_u64(line, (uint64_t)value);
    }
}

/* A double with a fixed number of decimals (0..9), rounded half away from
 * zero; "nan", "inf", "-inf"; magnitudes of 1e19 and more as "huge". */
static inline void wasmcell_line_f64(wasmcell_line *line, double value, int decimals) {
    if (value != value) { wasmcell_line_str(line, "nan"); return; }
    if (value < 0) { wasmcell_line_bytes(line, "-", 1); value = -value; }
    if (value > 1.7976931348623157e308) { wasmcell_line_str(line, "inf"); return; }
    if (value >= 1e19) { wasmcell_line_str(line, "huge"); return; }
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9;
    uint64_t scale = 1;
    for (int i = 0; i < decimals; i++) scale *= 10;
    double scaled = value * (double)scale + 0.5;
    if (scaled >= 1.8e19) { wasmcell_line_str(line, "huge"); return; }
    uint64_t fixed = (uint64_t)scaled;
    wasmcell_line_u64(line, fixed / scale);
    if (decimals > 0) {
        char frac[9];
        uint64_t rest = fixed % scale;
        for (int i = decimals - 1; i >= 0; i--) { frac[i] = (char)('0' + rest % 10); rest /= 10; }
        wasmcell_line_bytes(line, ".", 1);
        wasmcell_line_bytes(line, frac, (uint32_t)decimals);
    }
}

static inline void wasmcell_line_print(const wasmcell_line *line) { wasmcell_import_print(line->text, line->len); }
static inline void wasmcell_line_log(const wasmcell_line *line, enum wasmcell_level level) {
    wasmcell_import_log((int32_t)level, line->text, line->len);
}

/* ---- faults ---------------------------------------------------------------- */

/* Logs "panicked at FILE:LINE: MESSAGE" at level error, then traps: the host
 * reports the poll (or init) as faulted, and its log says why. Like a Rust
 * panic!. */
__attribute__((noreturn, cold)) static inline void wasmcell_panic_at(const char *file, int line_number,
                                                                     const char *message) {
    wasmcell_line line = WASMCELL_LINE_INIT;
    wasmcell_line_str(&line, "panicked at ");
    wasmcell_line_str(&line, file);
    wasmcell_line_str(&line, ":");
    wasmcell_line_i64(&line, line_number);
    wasmcell_line_str(&line, ": ");
    wasmcell_line_str(&line, message);
    wasmcell_line_log(&line, WASMCELL_LOG_ERROR);
    __builtin_trap();
}

#define WASMCELL_PANIC(message) wasmcell_panic_at(__FILE__, __LINE__, (message))
/* Panics with the condition's text when it does not hold. */
#define WASMCELL_ASSERT(condition) \
    ((condition) ? (void)0 : wasmcell_panic_at(__FILE__, __LINE__, "assertion failed: " #condition))

/* ---- the process image ------------------------------------------------------ */

enum wasmcell_area { WASMCELL_AREA_INPUT = 0, WASMCELL_AREA_OUTPUT = 1, WASMCELL_AREA_RETAIN = 2 };

enum wasmcell_type {
    WASMCELL_TYPE_BOOL = 0,
    WASMCELL_TYPE_I8 = 1,
    WASMCELL_TYPE_U8 = 2,
    WASMCELL_TYPE_I16 = 3,
    WASMCELL_TYPE_U16 = 4,
    WASMCELL_TYPE_I32 = 5,
    WASMCELL_TYPE_U32 = 6,
    WASMCELL_TYPE_I64 = 7,
    WASMCELL_TYPE_U64 = 8,
    WASMCELL_TYPE_F32 = 9,
    WASMCELL_TYPE_F64 = 10,
};

/* One entry of the signal table (16 bytes). */
typedef struct wasmcell_signal {
    const char *name;   /* UTF-8, not NUL-terminated for the host */
    uint32_t name_len;  /* 1..128 */
    uint8_t area;       /* enum wasmcell_area */
    uint8_t type;       /* enum wasmcell_type */
    uint16_t reserved;  /* 0 */
    uint32_t offset;    /* byte offset inside its area */
} wasmcell_signal;

/* The descriptor wasmcell_image returns (44 bytes). */
typedef struct wasmcell_image_descriptor {
    char magic[4]; /* "WCIM" */
    uint32_t version; /* 1 */
    const void *inputs;
    uint32_t inputs_len;
    const void *outputs;
    uint32_t outputs_len;
    const void *retain;
    uint32_t retain_len;
    uint32_t retain_layout; /* change it when the retain layout changes */
    const wasmcell_signal *signals;
    uint32_t signal_count;
} wasmcell_image_descriptor;

_Static_assert(sizeof(wasmcell_signal) == 16, "wasmcell_signal is 16 bytes");
_Static_assert(sizeof(wasmcell_image_descriptor) == 44, "the descriptor is 44 bytes");

/* The type code of an expression's type. A field of any other type (a
 * struct, an array, a pointer, plain char) does not compile: "controlling
 * expression type ... not compatible with any generic association type".
 * On wasm32, long is 32 bits and long long 64. */
#define WASMCELL_TYPE_OF(expr)                                                                  \
    _Generic((expr),                                                                            \
        _Bool: WASMCELL_TYPE_BOOL, signed char: WASMCELL_TYPE_I8, unsigned char: WASMCELL_TYPE_U8, \
        short: WASMCELL_TYPE_I16, unsigned short: WASMCELL_TYPE_U16,                             \
        int: WASMCELL_TYPE_I32, unsigned int: WASMCELL_TYPE_U32,                                 \
        long: WASMCELL_TYPE_I32, unsigned long: WASMCELL_TYPE_U32,                               \
        long long: WASMCELL_TYPE_I64, unsigned long long: WASMCELL_TYPE_U64,                     \
        float: WASMCELL_TYPE_F32, double: WASMCELL_TYPE_F64)

/* A signal named after a field of the given struct type, in an area, with
 * its type code deduced from the field's type. */
#define WASMCELL_SIGNAL(struct_type, field, area)                                       \
    {#field, (uint32_t)(sizeof(#field) - 1), (uint8_t)(area),                            \
     (uint8_t)WASMCELL_TYPE_OF(((struct_type *)0)->field), 0, (uint32_t)offsetof(struct_type, field)}

/* The same, named `name` (a string literal) instead of after the field. */
#define WASMCELL_SIGNAL_NAMED(name, struct_type, field, area)                           \
    {name, (uint32_t)(sizeof(name) - 1), (uint8_t)(area),                                \
     (uint8_t)WASMCELL_TYPE_OF(((struct_type *)0)->field), 0, (uint32_t)offsetof(struct_type, field)}

/* Inside WASMCELL_PROCESS_IMAGE: a field of the inputs, outputs or retain
 * variable as a signal named after the field. */
#define WASMCELL_INPUT(field) WASMCELL_SIGNAL(wasmcell_inputs_type, field, WASMCELL_AREA_INPUT)
#define WASMCELL_OUTPUT(field) WASMCELL_SIGNAL(wasmcell_outputs_type, field, WASMCELL_AREA_OUTPUT)
#define WASMCELL_RETAIN(field) WASMCELL_SIGNAL(wasmcell_retain_type, field, WASMCELL_AREA_RETAIN)

/* Declares the process image: `inputs`, `outputs` and `retain` are your
 * static struct variables (retain may have initial values), `layout_id` the
 * retain layout id (retained state is carried over on reset and reload only
 * to a version with the same id and retain size: change it when the retain
 * struct changes), then the signals, WASMCELL_INPUT(field) etc. Defines the
 * signal table, the descriptor and the wasmcell_image export. Once per
 * program, at file scope. Signal names must be unique across the areas (the
 * host refuses the load otherwise).
 *
 * _Bool fields hold 0 or 1: the host's typed setters only write those; raw
 * byte writes (wasmcell_program_write_inputs) must too. */
#define WASMCELL_PROCESS_IMAGE(inputs, outputs, retain, layout_id, ...)                         \
    typedef __typeof__(inputs) wasmcell_inputs_type;                                            \
    typedef __typeof__(outputs) wasmcell_outputs_type;                                          \
    typedef __typeof__(retain) wasmcell_retain_type;                                            \
    static const wasmcell_signal wasmcell_signal_table[] = {__VA_ARGS__};                       \
    static const wasmcell_image_descriptor wasmcell_descriptor = {                              \
        {'W', 'C', 'I', 'M'}, 1,                                                                \
        &(inputs), (uint32_t)sizeof(inputs),                                                    \
        &(outputs), (uint32_t)sizeof(outputs),                                                  \
        &(retain), (uint32_t)sizeof(retain),                                                    \
        (uint32_t)(layout_id),                                                                  \
        wasmcell_signal_table, (uint32_t)(sizeof(wasmcell_signal_table) / sizeof(wasmcell_signal)), \
    };                                                                                          \
    WASMCELL_EXPORT(wasmcell_image) const wasmcell_image_descriptor *wasmcell_image(void) {     \
        return &wasmcell_descriptor;                                                            \
    }                                                                                           \
    _Static_assert(sizeof(wasmcell_signal_table) / sizeof(wasmcell_signal) <= 4096, "at most 4096 signals")

/* The same without a retain area. */
typedef struct wasmcell_no_retain { char unused; } wasmcell_no_retain;
#define WASMCELL_PROCESS_IMAGE_NO_RETAIN(inputs, outputs, ...)                                  \
    typedef __typeof__(inputs) wasmcell_inputs_type;                                            \
    typedef __typeof__(outputs) wasmcell_outputs_type;                                          \
    typedef wasmcell_no_retain wasmcell_retain_type;                                            \
    static const wasmcell_signal wasmcell_signal_table[] = {__VA_ARGS__};                       \
    static const wasmcell_image_descriptor wasmcell_descriptor = {                              \
        {'W', 'C', 'I', 'M'}, 1,                                                                \
        &(inputs), (uint32_t)sizeof(inputs),                                                    \
        &(outputs), (uint32_t)sizeof(outputs),                                                  \
        0, 0, 0,                                                                                \
        wasmcell_signal_table, (uint32_t)(sizeof(wasmcell_signal_table) / sizeof(wasmcell_signal)), \
    };                                                                                          \
    WASMCELL_EXPORT(wasmcell_image) const wasmcell_image_descriptor *wasmcell_image(void) {     \
        return &wasmcell_descriptor;                                                            \
    }                                                                                           \
    _Static_assert(sizeof(wasmcell_signal_table) / sizeof(wasmcell_signal) <= 4096, "at most 4096 signals")

#ifdef __cplusplus
}
#endif

#endif /* WASMCELL_GUEST_H */
