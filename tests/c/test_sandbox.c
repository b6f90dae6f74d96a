/* Hostile guests through the C API: every guest-driven host resource is
 * bounded (tables, bulk memory, output, proposals, nesting, address space)
 * and a healthy neighbour keeps every poll.
 *
 * make test runs this binary under `ulimit -v` (see the Makefile), so a
 * regression that makes a guest allocate gigabytes fails here instead of
 * exhausting the machine. */
#include "check.h"

#ifdef _WIN32
#include <psapi.h>

/* The working set: what /proc/self/statm's resident size is on Linux. */
static long resident_kib(void) {
    PROCESS_MEMORY_COUNTERS counters;
    memset(&counters, 0, sizeof counters);
    if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &counters, sizeof counters)) return 0;
    return (long)(counters.WorkingSetSize / 1024);
}
#else
#include <sys/resource.h>

static long resident_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
#endif

static const char *neighbour_wat =
    "(module (global $n (mut i32) (i32.const 0))"
    " (func (export \"poll\") (global.set $n (i32.add (global.get $n) (i32.const 1)))))";

static uint64_t polls_of(wasmcell_program *p) {
    wasmcell_stats stats;
    memset(&stats, 0, sizeof stats);
    CHECK_STATUS(wasmcell_program_stats(p, &stats), WASMCELL_OK);
    return stats.polls;
}

/* The module of the report: table.grow by 2,000,000,000 elements. */
static void test_table_grow_bomb(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *bomb = NULL, *neighbour = NULL;
    CHECK_STATUS(load_wat(rt, "neighbour", neighbour_wat, &neighbour), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "table_grow_bomb.wat", &bomb), WASMCELL_OK);
    long before = resident_kib();
    for (int i = 0; i < 20; i++) {
        CHECK_STATUS(wasmcell_program_poll(bomb), WASMCELL_OK); /* grow returned -1 */
        CHECK_STATUS(wasmcell_program_poll(neighbour), WASMCELL_OK);
    }
    long grown = resident_kib() - before;
    CHECK_MSG(grown < 8 * 1024, "resident memory grew by %ld KiB", grown);
    CHECK(polls_of(neighbour) == 20);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_table_limits(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    char msg[512];
    CHECK_STATUS(wasmcell_runtime_set_default_table_limit(rt, 10), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "big", "(module (table 11 funcref) (func (export \"poll\")))", &p),
                 WASMCELL_ERR_LIMIT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "11 table elements");
    CHECK_STATUS(load_fixture(rt, "many_tables.wat", &p), WASMCELL_ERR_LIMIT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "5 tables");
    /* Within the limit it loads; a lower program limit applies at reset. */
    CHECK_STATUS(load_wat(rt, "ok", "(module (table 10 funcref) (func (export \"poll\")))", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_table_limit(p, 5), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_ERR_LIMIT);
    CHECK_CONTAINS(program_error(p, msg, sizeof msg), "table limit");
    CHECK_STATUS(wasmcell_program_set_table_limit(NULL, 5), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_set_default_table_limit(NULL, 5), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_disabled_proposals(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    char msg[1024];
    static const char *files[] = {"atomic_wait.wat", "exceptions.wat", "multi_memory.wat"};
    static const char *features[] = {"threads", "exceptions", "multiple memories"};
    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(load_fixture(rt, files[i], &p), WASMCELL_ERR_COMPILE);
        CHECK_CONTAINS(last_error(msg, sizeof msg), features[i]);
        CHECK_CONTAINS(last_error(msg, sizeof msg), "does not enable");
    }
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void test_bulk_memory_is_charged(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *bomb = NULL, *neighbour = NULL;
    CHECK_STATUS(load_wat(rt, "neighbour", neighbour_wat, &neighbour), WASMCELL_OK);
    CHECK_STATUS(load_fixture(rt, "fill_bomb.wat", &bomb), WASMCELL_OK);
    /* 64 MiB at 8 bytes per unit is 8 Mi units: a budget of 1 M stops the
     * first fill before it runs. */
    CHECK_STATUS(wasmcell_program_set_fuel(bomb, 1000000), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(bomb), WASMCELL_ERR_BUDGET);
    /* The default budget stops the endless fill loop too. */
    CHECK_STATUS(wasmcell_program_set_fuel(bomb, 100000000), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_reset(bomb), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(bomb), WASMCELL_ERR_BUDGET);
    CHECK_STATUS(wasmcell_program_poll(neighbour), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

struct output_count {
    size_t lines, longest, bytes, warnings;
};

static void count_output(void *user_data, const char *program, wasmcell_log_level level, const char *message,
                         size_t len) {
    struct output_count *count = user_data;
    (void)message;
    if (strcmp(program, "chatty") != 0) return;
    if (level == WASMCELL_LOG_WARN) {
        count->warnings++;
        return;
    }
    count->lines++;
    count->bytes += len;
    if (len > count->longest) count->longest = len;
}

static void test_output_is_capped(void) {
    wasmcell_runtime *rt = new_runtime();
    struct output_count count = {0, 0, 0, 0};
    CHECK_STATUS(wasmcell_runtime_set_log(rt, count_output, &count), WASMCELL_OK);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture_named(rt, "chatty", "print_bomb.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_set_fuel(p, 400000000), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_BUDGET);
    CHECK(count.longest == 4096);
    CHECK(count.bytes == 64 * 1024);
    CHECK(count.warnings == 1);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* A module whose poll nests `depth` blocks; free() the result. */
static char *nested_blocks(int depth) {
    size_t cap = (size_t)depth * 8 + 64;
    char *wat = malloc(cap);
    size_t at = (size_t)snprintf(wat, cap, "(module (func (export \"poll\") ");
    for (int i = 0; i < depth; i++) at += (size_t)snprintf(wat + at, cap - at, "(block ");
    for (int i = 0; i < depth + 2; i++) wat[at++] = ')';
    wat[at] = 0;
    return wat;
}

static void test_deep_nesting_is_refused(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    char msg[512];
    char *deep = nested_blocks(50000);
    CHECK_STATUS(load_wat(rt, "deep", deep, &p), WASMCELL_ERR_LIMIT);
    CHECK_CONTAINS(last_error(msg, sizeof msg), "nesting limit");
    free(deep);
    /* The limit is the host's to choose. */
    CHECK_STATUS(wasmcell_runtime_set_nesting_limit(rt, 10), WASMCELL_OK);
    char *eleven = nested_blocks(11), *ten = nested_blocks(10);
    CHECK_STATUS(load_wat(rt, "eleven", eleven, &p), WASMCELL_ERR_LIMIT);
    CHECK_STATUS(load_wat(rt, "ten", ten, &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    free(eleven);
    free(ten);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* Out of address space: with RLIMIT_AS lowered below one memory reservation,
 * a program with a memory fails with LIMIT (not LINK), and one without
 * memory still loads. Skipped under valgrind and ASan, which need the
 * address space themselves. */
static void test_address_space_exhaustion_is_a_limit(void) {
#ifdef _WIN32
    SKIP_ON_WINDOWS("no RLIMIT_AS: a Windows process's address space cannot be lowered with setrlimit");
    return;
#else
    if (getenv("WASMCELL_TEST_UNDER_TOOL")) {
        printf("  (skipped under %s: it reserves its own address space)\n", getenv("WASMCELL_TEST_UNDER_TOOL"));
        return;
    }
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *warm = NULL, *p = NULL;
    /* Warm up the engine before the limit: its first use maps what it needs. */
    CHECK_STATUS(load_wat(rt, "warm", "(module (func (export \"poll\")))", &warm), WASMCELL_OK);
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_AS, &old) == 0);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)3 << 30; /* 3 GiB: less than one 4 GiB + guard reservation */
    CHECK(setrlimit(RLIMIT_AS, &low) == 0);
    wasmcell_status status = load_wat(rt, "mem", "(module (memory 1) (func (export \"poll\")))", &p);
    char msg[512];
    last_error(msg, sizeof msg);
    wasmcell_status without = load_wat(rt, "nomem", "(module (func (export \"poll\")))", &p);
    CHECK(setrlimit(RLIMIT_AS, &old) == 0);
    CHECK_STATUS(status, WASMCELL_ERR_LIMIT);
    CHECK_CONTAINS(msg, "address space");
    CHECK_STATUS(without, WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
#endif
}

int main(int argc, char **argv) {
    test_begin("test_sandbox", argc, argv);
    RUN(test_table_grow_bomb);
    RUN(test_table_limits);
    RUN(test_disabled_proposals);
    RUN(test_bulk_memory_is_charged);
    RUN(test_output_is_capped);
    RUN(test_deep_nesting_is_refused);
    RUN(test_address_space_exhaustion_is_a_limit);
    return test_end();
}
