/* The C suite's harness: checks, a runner that prints each test's name and
 * result, a watchdog, and helpers to load fixtures.
 *
 * A test binary is a list of `static void test_x(void)` functions run from
 * main:
 *
 *     int main(int argc, char **argv) {
 *         test_begin("test_program", argc, argv);
 *         RUN(test_load_errors);
 *         return test_end();
 *     }
 *
 * Usage of every binary: test_x [fixtures-dir] [name-filter]; with a filter
 * only the tests whose name contains it run. A failing CHECK prints the
 * expression, its location and the running test, and the test is reported
 * FAIL; main returns non-zero if any check failed. A test that runs longer
 * than TEST_TIMEOUT_SECONDS (a deadlock) aborts the binary, naming the test. */
#ifndef WASMCELL_TEST_CHECK_H
#define WASMCELL_TEST_CHECK_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _WIN32
#include <windows.h>
#endif

#include "wasmcell.h"

#ifdef _WIN32
#include <direct.h>
/* mingw has no mkdtemp: the trailing XXXXXX becomes the process id and a
 * counter, and the directory is created (with its parent, e.g. /tmp, which
 * is \\tmp on the current drive). */
static __attribute__((unused)) char *mkdtemp(char *template_) {
    static unsigned counter = 0;
    size_t n = strlen(template_);
    if (n < 6 || strcmp(template_ + n - 6, "XXXXXX") != 0) return NULL;
    char *slash = strrchr(template_, '/');
    if (slash != NULL && slash != template_) {
        *slash = 0;
        _mkdir(template_);
        *slash = '/';
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(template_ + n - 6, 7, "%06lu",
                 (unsigned long)((GetCurrentProcessId() * 131u + counter++) % 1000000u));
        if (_mkdir(template_) == 0) return template_;
    }
    return NULL;
}
#endif

/* Prints why a test (or a part of one) does not run on Windows; used instead
 * of leaving it out silently. */
#define SKIP_ON_WINDOWS(reason) printf("  skipped on Windows: %s\n", reason)

#define TEST_UNUSED __attribute__((unused))

/* Generous: the suite also runs under valgrind, which is 20-50x slower. */
#ifndef TEST_TIMEOUT_SECONDS
#define TEST_TIMEOUT_SECONDS 300
#endif

/* Counters are updated atomically: callbacks and helper threads check too. */
static int check_failures = 0;
static int check_count = 0;
static const char *current_test = "(none)";
static const char *suite_name = "test";
static const char *test_filter = NULL;
static int tests_run = 0, tests_failed = 0;

static void check_failed_(void) { __atomic_fetch_add(&check_failures, 1, __ATOMIC_SEQ_CST); }
static void check_counted_(void) { __atomic_fetch_add(&check_count, 1, __ATOMIC_SEQ_CST); }

#define CHECK(cond)                                                             \
    do {                                                                        \
        check_counted_();                                                       \
        if (!(cond)) {                                                          \
            check_failed_();                                                    \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__,        \
                    __LINE__, current_test, #cond);                             \
        }                                                                       \
    } while (0)

/* Like CHECK, with a printf-style explanation printed on failure. */
#define CHECK_MSG(cond, ...)                                                    \
    do {                                                                        \
        check_counted_();                                                       \
        if (!(cond)) {                                                          \
            check_failed_();                                                    \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s: ", __FILE__,        \
                    __LINE__, current_test, #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* Checks that `expr` returns `expected`, printing both statuses and the
 * thread's last error message when it does not. */
#define CHECK_STATUS(expr, expected)                                            \
    do {                                                                        \
        wasmcell_status got_ = (expr);                                          \
        wasmcell_status want_ = (expected);                                     \
        check_counted_();                                                       \
        if (got_ != want_) {                                                    \
            char msg_[512] = "";                                                \
            wasmcell_last_error(msg_, sizeof msg_, NULL);                       \
            check_failed_();                                                    \
            fprintf(stderr, "%s:%d: [%s] %s returned %d (%s), expected %d (%s): %s\n", \
                    __FILE__, __LINE__, current_test, #expr, got_,              \
                    wasmcell_status_str(got_), want_,                           \
                    wasmcell_status_str(want_), msg_);                          \
        }                                                                       \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                        \
    do {                                                                        \
        const char *hay_ = (haystack);                                          \
        check_counted_();                                                       \
        if (strstr(hay_, (needle)) == NULL) {                                   \
            check_failed_();                                                    \
            fprintf(stderr, "%s:%d: [%s] \"%s\" does not contain \"%s\"\n",     \
                    __FILE__, __LINE__, current_test, hay_, (needle));          \
        }                                                                       \
    } while (0)

#define CHECK_NOT_CONTAINS(haystack, needle)                                    \
    do {                                                                        \
        const char *hay_ = (haystack);                                          \
        check_counted_();                                                       \
        if (strstr(hay_, (needle)) != NULL) {                                   \
            check_failed_();                                                    \
            fprintf(stderr, "%s:%d: [%s] \"%s\" contains \"%s\"\n",             \
                    __FILE__, __LINE__, current_test, hay_, (needle));          \
        }                                                                       \
    } while (0)

/* ---- the runner ------------------------------------------------------------ */

static void test_timeout_(int sig) {
    (void)sig;
    static const char head[] = "\nTIMEOUT: the test ";
    static const char tail[] = " did not finish (deadlock?); aborting\n";
    ssize_t ignored = write(2, head, sizeof head - 1);
    ignored = write(2, current_test, strlen(current_test));
    ignored = write(2, tail, sizeof tail - 1);
    (void)ignored;
    _exit(3);
}

#ifdef _WIN32
/* Windows has no SIGALRM: a one-shot timer-queue timer plays alarm(). */
static HANDLE test_timer_ = NULL;
static VOID CALLBACK test_timer_fired_(PVOID param, BOOLEAN fired) {
    (void)param;
    (void)fired;
    test_timeout_(0);
}
static void test_alarm_(unsigned seconds) {
    if (test_timer_ != NULL) {
        DeleteTimerQueueTimer(NULL, test_timer_, NULL);
        test_timer_ = NULL;
    }
    if (seconds > 0)
        CreateTimerQueueTimer(&test_timer_, NULL, test_timer_fired_, NULL, seconds * 1000u, 0,
                              WT_EXECUTEONLYONCE);
}
#else
static void test_alarm_(unsigned seconds) { alarm(seconds); }
#endif

static const char *fixtures_dir = "tests/fixtures";

static TEST_UNUSED void test_begin(const char *suite, int argc, char **argv) {
    suite_name = suite;
    if (argc > 1 && argv[1][0] != 0) fixtures_dir = argv[1];
    if (argc > 2) test_filter = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
#ifndef _WIN32
    signal(SIGALRM, test_timeout_);
#endif
    printf("%s (fixtures: %s)\n", suite, fixtures_dir);
}

static TEST_UNUSED void run_test_(const char *name, void (*fn)(void)) {
    if (test_filter != NULL && strstr(name, test_filter) == NULL) return;
    int failures_before = __atomic_load_n(&check_failures, __ATOMIC_SEQ_CST);
    int checks_before = __atomic_load_n(&check_count, __ATOMIC_SEQ_CST);
    current_test = name;
    test_alarm_(TEST_TIMEOUT_SECONDS);
    fn();
    test_alarm_(0);
    int failed = __atomic_load_n(&check_failures, __ATOMIC_SEQ_CST) - failures_before;
    int checks = __atomic_load_n(&check_count, __ATOMIC_SEQ_CST) - checks_before;
    tests_run++;
    if (failed) {
        tests_failed++;
        printf("  FAIL %s (%d of %d checks failed)\n", name, failed, checks);
    } else {
        printf("  ok   %s (%d checks)\n", name, checks);
    }
    current_test = "(between tests)";
}

#define RUN(fn) run_test_(#fn, fn)

static TEST_UNUSED int test_end(void) {
    if (tests_run == 0) {
        fprintf(stderr, "%s: no test matched the filter \"%s\"\n", suite_name,
                test_filter ? test_filter : "");
        return 1;
    }
    if (check_failures) {
        fprintf(stderr, "%s: %d of %d tests FAILED (%d of %d checks failed)\n", suite_name,
                tests_failed, tests_run, check_failures, check_count);
        return 1;
    }
    printf("%s: %d tests passed (%d checks)\n", suite_name, tests_run, check_count);
    return 0;
}

/* ---- fixtures ---------------------------------------------------------------- */

/* Reads a whole file; the caller frees the buffer. Exits on failure: the
 * fixtures are part of the suite. */
static TEST_UNUSED unsigned char *read_file(const char *path, size_t *len) {
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
    buf[size] = 0;
    *len = (size_t)size;
    return buf;
}

static TEST_UNUSED void fixture_path(const char *file, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", fixtures_dir, file);
}

/* The bytes of a fixture; the caller frees them. */
static TEST_UNUSED unsigned char *fixture_bytes(const char *file, size_t *len) {
    char path[512];
    fixture_path(file, path, sizeof path);
    return read_file(path, len);
}

/* The name fixtures are loaded under by load_fixture: neutral, so that a
 * message check can only succeed on words the error itself contains (a
 * program named after its fixture, "init_trap.wat", would make a check for
 * "init" pass whatever the message says). */
#define FIXTURE_PROGRAM_NAME "p1"

/* Loads a fixture by file name into `rt` under `name`. */
static TEST_UNUSED wasmcell_status load_fixture_named(wasmcell_runtime *rt, const char *name, const char *file,
                                                      wasmcell_program **out) {
    size_t len = 0;
    unsigned char *bytes = fixture_bytes(file, &len);
    wasmcell_status status = wasmcell_program_load(rt, name, bytes, len, out);
    free(bytes);
    return status;
}

/* Loads a fixture by file name into `rt` under the name "p1". */
static TEST_UNUSED wasmcell_status load_fixture(wasmcell_runtime *rt, const char *file, wasmcell_program **out) {
    return load_fixture_named(rt, FIXTURE_PROGRAM_NAME, file, out);
}

/* Loads WAT text given inline. */
static TEST_UNUSED wasmcell_status load_wat(wasmcell_runtime *rt, const char *name, const char *wat,
                                            wasmcell_program **out) {
    return wasmcell_program_load(rt, name, (const uint8_t *)wat, strlen(wat), out);
}

/* Reloads a program from a fixture. */
static TEST_UNUSED wasmcell_status reload_fixture(wasmcell_program *p, const char *file) {
    size_t len = 0;
    unsigned char *bytes = fixture_bytes(file, &len);
    wasmcell_status status = wasmcell_program_reload(p, bytes, len);
    free(bytes);
    return status;
}

/* A new runtime (the test fails if it cannot be created). */
static TEST_UNUSED wasmcell_runtime *new_runtime(void) {
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    return rt;
}

/* The program's error message, in a buffer of the caller's. */
static TEST_UNUSED const char *program_error(wasmcell_program *p, char *buf, size_t cap) {
    buf[0] = 0;
    wasmcell_program_error(p, buf, cap, NULL);
    return buf;
}

/* This thread's last error message, in a buffer of the caller's. */
static TEST_UNUSED const char *last_error(char *buf, size_t cap) {
    buf[0] = 0;
    wasmcell_last_error(buf, cap, NULL);
    return buf;
}

static TEST_UNUSED wasmcell_state state_of(wasmcell_program *p) {
    wasmcell_state state = -1;
    wasmcell_program_state(p, &state);
    return state;
}

static TEST_UNUSED wasmcell_fault fault_of(wasmcell_program *p) {
    wasmcell_fault kind = -1;
    wasmcell_program_fault_kind(p, &kind);
    return kind;
}

static TEST_UNUSED wasmcell_stats stats_of(wasmcell_program *p) {
    wasmcell_stats stats;
    memset(&stats, 0xff, sizeof stats);
    wasmcell_program_stats(p, &stats);
    return stats;
}

/* A host callback that does nothing, for imports a test does not observe. */
static TEST_UNUSED int32_t ignore_call(void *user_data, wasmcell_call *call, const wasmcell_val *args,
                                       size_t nargs, wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)args; (void)nargs; (void)results; (void)nresults;
    return 0;
}

/* A host callback for "(i)" that stores its argument in *(int32_t *)user_data. */
static TEST_UNUSED int32_t store_i32(void *user_data, wasmcell_call *call, const wasmcell_val *args,
                                     size_t nargs, wasmcell_val *results, size_t nresults) {
    (void)call; (void)results; (void)nresults;
    if (nargs == 1) *(int32_t *)user_data = args[0].i32;
    return 0;
}

/* ---- string getters ------------------------------------------------------------ */

/* A (buf, cap, &len) getter with its arguments bound in `ctx`. */
typedef wasmcell_status (*string_getter)(void *ctx, char *buf, size_t cap, size_t *len);

/* Checks the header's contract of a string getter whose current text is at
 * least 6 bytes long: `len` always receives the full length; a buffer too
 * small for the text and its NUL gives WASMCELL_ERR_BUFFER_TOO_SMALL with a
 * NUL-terminated prefix and nothing written past `cap`; NULL with cap 0 is a
 * length query; NULL with cap > 0 is WASMCELL_ERR_INVALID_ARGUMENT. Returns
 * the full length (0 if the getter failed). */
static TEST_UNUSED size_t check_string_getter(const char *what, string_getter get, void *ctx) {
    char full[2048];
    size_t len = 12345;
    wasmcell_status s = get(ctx, full, sizeof full, &len);
    CHECK_MSG(s == WASMCELL_OK, "%s with a large buffer returned %s", what, wasmcell_status_str(s));
    if (s != WASMCELL_OK) return 0;
    CHECK_MSG(len == strlen(full), "%s: len %zu, text \"%s\"", what, len, full);
    CHECK_MSG(len >= 6, "%s: the text \"%s\" is too short for this check", what, full);
    if (len < 6 || len + 2 > sizeof full) return 0;

    /* A length query. */
    size_t got = 0;
    s = get(ctx, NULL, 0, &got);
    CHECK_MSG(s == WASMCELL_ERR_BUFFER_TOO_SMALL && got == len,
              "%s(NULL, 0): %s, len %zu of %zu", what, wasmcell_status_str(s), got, len);

    /* NULL with a capacity is refused. */
    s = get(ctx, NULL, 5, &got);
    CHECK_MSG(s == WASMCELL_ERR_INVALID_ARGUMENT, "%s(NULL, 5): %s", what, wasmcell_status_str(s));

    /* Capacities 0, 1, 5, len (no room for the NUL), len + 1 (exact). */
    size_t caps[] = {0, 1, 5, len, len + 1};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t cap = caps[i];
        char buf[2048];
        memset(buf, '#', sizeof buf);
        got = 0;
        s = get(ctx, buf, cap, &got);
        wasmcell_status want = cap > len ? WASMCELL_OK : WASMCELL_ERR_BUFFER_TOO_SMALL;
        CHECK_MSG(s == want, "%s(cap %zu) returned %s, expected %s", what, cap, wasmcell_status_str(s),
                  wasmcell_status_str(want));
        CHECK_MSG(got == len, "%s(cap %zu) reported length %zu, expected %zu", what, cap, got, len);
        CHECK_MSG(buf[cap] == '#', "%s(cap %zu) wrote past the capacity", what, cap);
        if (cap == 0) continue;
        size_t kept = cap - 1 < len ? cap - 1 : len;
        CHECK_MSG(memchr(buf, 0, cap) == buf + kept && memcmp(buf, full, kept) == 0,
                  "%s(cap %zu) did not write a NUL-terminated prefix of \"%s\"", what, cap, full);
    }

    /* len may be NULL. */
    char again[2048];
    s = get(ctx, again, sizeof again, NULL);
    CHECK_MSG(s == WASMCELL_OK && strcmp(again, full) == 0, "%s without len: %s", what, wasmcell_status_str(s));
    return len;
}

#endif
