/* The C-ABI figures, measured from C as users call wasmcell: each beside a
 * baseline measured in the same run (a native call through a function
 * pointer, or a native loop doing the same work), best of several rounds.
 * The raw-wasmer baselines are in `cargo bench --bench ratios` (make bench).
 *
 * Usage: bench [rounds]     (make bench-c) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wasmcell.h"

#define CALLS_PER_POLL 1000

static const char EMPTY[] = "(module (func (export \"poll\")))";

/* The original example program: "Polling\n" through env.print each poll. */
static const char HELLO[] =
    "(module (import \"env\" \"print\" (func $print (param i32 i32) (result i32)))"
    "  (memory (export \"memory\") 1) (data (i32.const 16) \"Polling\\n\")"
    "  (func (export \"poll\") (drop (call $print (i32.const 16) (i32.const 8)))))";

/* Calls h.f CALLS_PER_POLL times per poll, with an i32 or a buffer. */
static const char CALLER_I[] =
    "(module (import \"h\" \"f\" (func $f (param i32) (result i32)))"
    "  (memory (export \"memory\") 1)"
    "  (func (export \"poll\") (local $i i32)"
    "    (loop $next (drop (call $f (local.get $i)))"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))"
    "      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000))))))";
/* (iiI)i: not a shape wasmcell links typed, so wasmer's dynamic path. */
static const char CALLER_WIDE[] =
    "(module (import \"h\" \"f\" (func $f (param i32 i32 i64) (result i32)))"
    "  (memory (export \"memory\") 1)"
    "  (func (export \"poll\") (local $i i32)"
    "    (loop $next (drop (call $f (local.get $i) (i32.const 2) (i64.const 3)))"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))"
    "      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000))))))";
static const char CALLER_BUF[] =
    "(module (import \"h\" \"f\" (func $f (param i32 i32) (result i32)))"
    "  (memory (export \"memory\") 1) (data (i32.const 16) \"Polling\\n\")"
    "  (func (export \"poll\") (local $i i32)"
    "    (loop $next (drop (call $f (i32.const 16) (i32.const 8)))"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))"
    "      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000))))))";

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int rounds = 5;

/* Best time per operation of `rounds` rounds of `ops` operations. */
#define BEST(result, ops, body)                                          \
    do {                                                                 \
        double best_ = 1e300;                                            \
        for (int round_ = 0; round_ <= rounds; round_++) {               \
            double start_ = now_ns();                                    \
            for (long op_ = 0; op_ < (ops); op_++) { body; }             \
            double per_ = (now_ns() - start_) / (ops);                   \
            if (round_ > 0 && per_ < best_) best_ = per_; /* 0: warm-up */ \
        }                                                                \
        (result) = best_;                                                \
    } while (0)

static void row(const char *what, double ours, double baseline, const char *baseline_name) {
    printf("%-50s %10.1f ns %10.1f ns %7.2fx  (%s)\n", what, ours, baseline, ours / baseline,
           baseline_name);
}

/* Exits with the status and message when a wasmcell call did not succeed. */
static void must(const char *what, wasmcell_status status) {
    if (status == WASMCELL_OK) return;
    char message[512] = "";
    wasmcell_last_error(message, sizeof message, NULL);
    fprintf(stderr, "bench: %s: %s: %s\n", what, wasmcell_status_str(status), message);
    exit(1);
}

/* A poll inside a timing loop; a fault ends the benchmark with its message. */
static void poll_ok(wasmcell_program *p) {
    wasmcell_status status = wasmcell_program_poll(p);
    if (status == WASMCELL_OK) return;
    char message[512] = "";
    wasmcell_program_error(p, message, sizeof message, NULL);
    fprintf(stderr, "bench: poll: %s: %s\n", wasmcell_status_str(status), message);
    exit(1);
}

static wasmcell_program *load(wasmcell_runtime *rt, const char *wat) {
    wasmcell_program *p = NULL;
    must("load", wasmcell_program_load(rt, "bench", (const uint8_t *)wat, strlen(wat), &p));
    return p;
}

__attribute__((noinline)) static void native_poll(void) { __asm__ volatile(""); }
__attribute__((noinline)) static int native_increment(int x) {
    __asm__ volatile("");
    return x + 1;
}

static int32_t increment(void *ud, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                         wasmcell_val *results, size_t nresults) {
    (void)ud; (void)call; (void)nargs; (void)nresults;
    results[0].i32 = args[0].i32 + 1;
    return 0;
}

static int32_t buffer_len(void *ud, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                          wasmcell_val *results, size_t nresults) {
    (void)ud; (void)call; (void)nargs; (void)nresults;
    results[0].i32 = (int32_t)args[0].buf.len + args[0].buf.ptr[0];
    return 0;
}

static int32_t wide_sum(void *ud, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                        wasmcell_val *results, size_t nresults) {
    (void)ud; (void)call; (void)nargs; (void)nresults;
    results[0].i32 = args[0].i32 + args[1].i32 + (int32_t)args[2].i64;
    return 0;
}

/* write(2) calls of the guest's print that did not write the whole line:
 * any makes the benchmark fail (a failed write is not a printed line). */
static long failed_writes;

/* env.print as the original example defined it, into the file in ud. */
static int32_t print_to_fd(void *ud, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    (void)call; (void)nargs; (void)nresults;
    int fd = (int)(intptr_t)ud;
    ssize_t written = write(fd, args[0].buf.ptr, args[0].buf.len);
    if (written == (ssize_t)args[0].buf.len) {
        results[0].i32 = 0;
    } else {
        failed_writes++;
        results[0].i32 = -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atoi(argv[1]) > 0 ? atoi(argv[1]) : rounds;
    printf("%-50s %13s %13s %8s\n", "", "measured", "baseline", "ratio");
    void (*volatile native)(void) = native_poll;
    int (*volatile native_inc)(int) = native_increment;
    double t_native, t_poll, t_callback, t_native_inc;
    const long polls = 2000000;

    /* empty poll */
    wasmcell_runtime *rt = NULL;
    must("runtime", wasmcell_runtime_new(&rt));
    wasmcell_program *empty = load(rt, EMPTY);
    BEST(t_native, polls, native());
    BEST(t_poll, polls, poll_ok(empty));
    row("empty poll (default budget, statistics)", t_poll, t_native, "native fn pointer call");

    /* host callback round trips, per call */
    must("define", wasmcell_runtime_define(rt, "h", "f", "(i)i", increment, NULL, NULL));
    wasmcell_program *caller = load(rt, CALLER_I);
    BEST(t_callback, 2000, poll_ok(caller));
    int acc = 0;
    BEST(t_native_inc, polls, acc = native_inc(acc));
    row("guest -> C callback (i)i -> guest, per call", t_callback / CALLS_PER_POLL, t_native_inc,
        "native fn pointer call");
    wasmcell_runtime *rt_buf = NULL;
    must("runtime", wasmcell_runtime_new(&rt_buf));
    must("define", wasmcell_runtime_define(rt_buf, "h", "f", "(*~)i", buffer_len, NULL, NULL));
    wasmcell_program *buf_caller = load(rt_buf, CALLER_BUF);
    BEST(t_callback, 2000, poll_ok(buf_caller));
    row("guest -> C callback (*~)i -> guest, per call", t_callback / CALLS_PER_POLL, t_native_inc,
        "native fn pointer call");
    wasmcell_runtime *rt_wide = NULL;
    must("runtime", wasmcell_runtime_new(&rt_wide));
    must("define", wasmcell_runtime_define(rt_wide, "h", "f", "(iiI)i", wide_sum, NULL, NULL));
    wasmcell_program *wide_caller = load(rt_wide, CALLER_WIDE);
    BEST(t_callback, 2000, poll_ok(wide_caller));
    row("guest -> C callback (iiI)i -> guest (dynamic path)", t_callback / CALLS_PER_POLL,
        t_native_inc, "native fn pointer call");

    /* print throughput: the original design's figure, write(2) per line */
    FILE *file = tmpfile(); /* a real file, removed when closed */
    if (file == NULL) { perror("bench: tmpfile"); return 1; }
    int fd = fileno(file);
    wasmcell_runtime *rt_print = NULL;
    must("runtime", wasmcell_runtime_new(&rt_print));
    must("define", wasmcell_runtime_define(rt_print, "env", "print", "(*~)i", print_to_fd,
                                           (void *)(intptr_t)fd, NULL));
    wasmcell_program *hello = load(rt_print, HELLO);
    const long lines = 200000;
    double t_native_write, t_guest_write;
    BEST(t_native_write, lines,
         if (write(fd, "Polling\n", 8) != 8) { perror("bench: write"); return 1; });
    BEST(t_guest_write, lines, poll_ok(hello));
    row("guest print \"Polling\\n\" per poll, write(2) per line", t_guest_write, t_native_write,
        "native loop, write(2) per line");
    printf("  throughput: guest %.1f MB/s, native %.1f MB/s: %.2f of native "
           "(the original design: 0.70)\n",
           8e3 / t_guest_write, 8e3 / t_native_write, t_native_write / t_guest_write);
    printf("  failed write(2) calls in the guest's print: %ld\n", failed_writes);
    fclose(file);
    if (failed_writes != 0) {
        fprintf(stderr, "bench: %ld write(2) calls of the guest's print failed: the print figure "
                        "would count them as lines\n", failed_writes);
        return 1;
    }

    /* statistics the poll kept */
    wasmcell_stats stats;
    must("stats", wasmcell_program_stats(empty, &stats));
    printf("empty program: %llu polls, mean %llu ns, max %llu ns (timer included)\n",
           (unsigned long long)stats.polls, (unsigned long long)stats.mean_poll_ns,
           (unsigned long long)stats.max_poll_ns);

    must("free", wasmcell_runtime_free(rt_print));
    must("free", wasmcell_runtime_free(rt_wide));
    must("free", wasmcell_runtime_free(rt_buf));
    must("free", wasmcell_runtime_free(rt));
    return 0;
}
