/* A minimal test harness for the C suite: each CHECK prints the failing
 * expression with its location and counts the failure; main returns non-zero
 * if any check failed. */
#ifndef WASMCELL_TEST_CHECK_H
#define WASMCELL_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasmcell.h"

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                             \
    do {                                                                        \
        check_count++;                                                          \
        if (!(cond)) {                                                          \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,    \
                    #cond);                                                     \
        }                                                                       \
    } while (0)

/* Checks that `expr` returns `expected`, printing both statuses and the last
 * error message when it does not. */
#define CHECK_STATUS(expr, expected)                                            \
    do {                                                                        \
        wasmcell_status got_ = (expr);                                          \
        check_count++;                                                          \
        if (got_ != (expected)) {                                               \
            char msg_[512] = "";                                                \
            wasmcell_last_error(msg_, sizeof msg_, NULL);                       \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s): %s\n", \
                    __FILE__, __LINE__, #expr, got_, wasmcell_status_str(got_), \
                    (expected), wasmcell_status_str(expected), msg_);           \
        }                                                                       \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                        \
    do {                                                                        \
        check_count++;                                                          \
        if (strstr((haystack), (needle)) == NULL) {                             \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",          \
                    __FILE__, __LINE__, (haystack), (needle));                  \
        }                                                                       \
    } while (0)

/* Reads a whole file; the caller frees the buffer. Exits on failure: the
 * fixtures are part of the suite. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static const char *fixtures_dir = "tests/fixtures";

/* Loads a fixture by file name into `rt`, returning the status. */
static wasmcell_status load_fixture(wasmcell_runtime *rt, const char *file, wasmcell_program **out) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixtures_dir, file);
    size_t len = 0;
    unsigned char *bytes = read_file(path, &len);
    wasmcell_status status = wasmcell_program_load(rt, file, bytes, len, out);
    free(bytes);
    return status;
}

static int check_summary(const char *suite) {
    if (check_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", suite, check_failures, check_count);
        return 1;
    }
    printf("%s: all %d checks passed\n", suite, check_count);
    return 0;
}

#endif
