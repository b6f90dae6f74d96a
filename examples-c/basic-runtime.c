/* The original example, in C: load a program from a file and poll it in a
 * loop until Ctrl-C (or, with a second argument, for that many polls).
 * Usage: basic-runtime <program.wasm|program.wat> [polls] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "wasmcell.h"

static volatile sig_atomic_t stop = 0;
static void on_sigint(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "Usage: basic-runtime <wasm-file> [polls]\n");
        return 2;
    }
    long limit = argc > 2 ? atol(argv[2]) : -1;
    signal(SIGINT, on_sigint);

    wasmcell_runtime *rt = NULL;
    wasmcell_program *program = NULL;
    wasmcell_status status = wasmcell_runtime_new(&rt);
    if (status == WASMCELL_OK) status = wasmcell_program_load_file(rt, "example", argv[1], &program);
    if (status != WASMCELL_OK) {
        char message[512] = "";
        wasmcell_last_error(message, sizeof message, NULL);
        fprintf(stderr, "basic-runtime: %s: %s\n", wasmcell_status_str(status), message);
        wasmcell_runtime_free(rt);
        return 1;
    }
    /* The original printed straight to stdout: so does this host. */
    for (long n = 0; !stop && (limit < 0 || n < limit); n++) {
        status = wasmcell_program_poll(program);
        if (status != WASMCELL_OK) {
            char message[512] = "";
            wasmcell_program_error(program, message, sizeof message, NULL);
            fprintf(stderr, "basic-runtime: poll: %s: %s\n", wasmcell_status_str(status), message);
            break;
        }
    }
    wasmcell_runtime_free(rt);
    return status == WASMCELL_OK ? 0 : 1;
}
