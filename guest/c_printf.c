/* A guest written in C against wasi-libc, built as a reactor:
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -o c_printf.wasm c_printf.c
 * It prints with printf, allocates with malloc and reads the time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int polls;

__attribute__((export_name("poll"))) void poll(void) {
    polls++;
    char *text = malloc(64);
    snprintf(text, 64, "cycle %d", polls);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    printf("%s, clock running: %s\n", text, now.tv_sec >= 0 ? "yes" : "no");
    free(text);
}
