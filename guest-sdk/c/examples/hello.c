/* The smallest C program: no process image; output, logging, the clock.
 *
 *   clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic \
 *         -Iguest-sdk/c guest-sdk/c/examples/hello.c -o hello_c.wasm */
#include "wasmcell_guest.h"

WASMCELL_EXPORT(init) void hello_init(void) {
    static const char *why[] = {"loaded", "reset", "reloaded"};
    int32_t kind = wasmcell_start_kind();
    wasmcell_line line = WASMCELL_LINE_INIT;
    wasmcell_line_str(&line, "hello: ");
    wasmcell_line_str(&line, kind >= 0 && kind <= 2 ? why[kind] : "started");
    wasmcell_line_log(&line, WASMCELL_LOG_INFO);
}

WASMCELL_EXPORT(poll) void hello_poll(void) {
    wasmcell_line line = WASMCELL_LINE_INIT;
    wasmcell_line_str(&line, "Polling at ");
    wasmcell_line_i64(&line, wasmcell_now_ns());
    wasmcell_line_str(&line, " ns\n");
    wasmcell_line_print(&line);
}
