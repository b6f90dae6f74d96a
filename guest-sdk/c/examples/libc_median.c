/* A C program on wasi-libc with the C guest SDK: printf, malloc and qsort
 * beside the process image macros. wasmcell provides the WASI subset libc
 * needs (stdout to the log, the clock, random, no files).
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 \
 *         -Iguest-sdk/c guest-sdk/c/examples/libc_median.c -o libc_median_c.wasm
 *
 * Each poll takes one sample and publishes the count, the mean and the
 * median of the last WINDOW samples. */
#include <stdio.h>
#include <stdlib.h>

#include "wasmcell_guest.h"

#define WINDOW 5

struct inputs {
    double sample;
};

struct outputs {
    uint32_t count;
    double mean;
    double median;
};

static struct inputs in;
static struct outputs out;

WASMCELL_PROCESS_IMAGE_NO_RETAIN(in, out,
    WASMCELL_INPUT(sample),
    WASMCELL_OUTPUT(count),
    WASMCELL_OUTPUT(mean),
    WASMCELL_OUTPUT(median));

static double window[WINDOW];

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

WASMCELL_EXPORT(init) void median_init(void) { printf("libc_median: online\n"); }

WASMCELL_EXPORT(poll) int32_t median_poll(void) {
    window[out.count % WINDOW] = in.sample;
    out.count++;
    size_t n = out.count < WINDOW ? out.count : WINDOW;
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        wasmcell_error("libc_median: out of memory");
        return 1;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += sorted[i] = window[i];
    qsort(sorted, n, sizeof *sorted, by_value);
    out.mean = sum / (double)n;
    out.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    free(sorted);
    printf("libc_median: %u samples, median %.2f\n", (unsigned)out.count, out.median);
    return 0;
}
