/* Threads: one program called from several threads while a poll is known to
 * be running (a host callback parks the poll on a condition variable), hot
 * swaps under continuous polling, unload and runtime_free racing polls, and
 * many programs polled in parallel.
 *
 * What the header promises, and what each test holds it to:
 * - poll: calls on one program are serialised; a second poll waits for the
 *   running one (test_second_poll_waits_for_the_running_one,
 *   test_one_program_polled_from_many_threads);
 * - state, stats, error, set_fuel, image_size, write_inputs, read_outputs,
 *   signal get/set of inputs and outputs, prepare_reload: never wait for a
 *   running poll (test_reads_and_inputs_do_not_wait_for_a_running_poll);
 *   retain signals do (test_retain_read_waits_for_a_running_poll);
 * - unload and runtime_free wait for a poll running on another thread, and
 *   never crash (test_unload_waits..., test_runtime_free_waits...,
 *   test_unload_and_free_racing_polls);
 * - reload swaps between two polls: a running poll finishes on the old
 *   version, the next runs the new one, never a mix
 *   (test_reload_during_a_long_poll, test_hot_swap_under_continuous_polling).
 * - polls look their program up without a lock: unloads, reloads and a
 *   runtime_free racing polls of many programs give OK or INVALID_HANDLE (or
 *   the program's own fault), never another program's callback, and the
 *   free_fn runs on the freeing thread
 *   (test_unload_reload_and_free_racing_lock_free_polls); a host callback
 *   may unload another program or free another runtime
 *   (test_a_callback_unloads_another_program).
 * Usage: test_threads [fixtures-dir] [name-filter] */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

/* How long a call that must wait is watched before it counts as waiting. */
#define WAIT_MS 300
/* How long a call that must not wait may take at most (valgrind is slow). */
#define PROMPT_MS 20000

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---- the parking callback ------------------------------------------------------- */

/* test.park(): each call counts itself and, unless the gate is open, waits
 * until it is. While a callback is parked its poll is running. */
struct park {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int open;
    int parked;  /* callbacks waiting now */
    int entries; /* callbacks entered in total */
    int freed;   /* free_fn calls */
    int parked_when_freed;
};

static void park_init(struct park *pk, int open) {
    pthread_mutex_init(&pk->mutex, NULL);
    pthread_cond_init(&pk->cond, NULL);
    pk->open = open;
    pk->parked = pk->entries = pk->freed = 0;
    pk->parked_when_freed = -1;
}

static void park_destroy(struct park *pk) {
    pthread_cond_destroy(&pk->cond);
    pthread_mutex_destroy(&pk->mutex);
}

static int32_t park_cb(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                       wasmcell_val *results, size_t nresults) {
    struct park *pk = user_data;
    (void)call; (void)args; (void)nargs; (void)results; (void)nresults;
    pthread_mutex_lock(&pk->mutex);
    pk->entries++;
    pk->parked++;
    pthread_cond_broadcast(&pk->cond);
    while (!pk->open) pthread_cond_wait(&pk->cond, &pk->mutex);
    pk->parked--;
    pthread_cond_broadcast(&pk->cond);
    pthread_mutex_unlock(&pk->mutex);
    return 0;
}

static void park_free(void *user_data) {
    struct park *pk = user_data;
    pthread_mutex_lock(&pk->mutex);
    pk->freed++;
    pk->parked_when_freed = pk->parked;
    pthread_mutex_unlock(&pk->mutex);
}

static void park_set(struct park *pk, int open) {
    pthread_mutex_lock(&pk->mutex);
    pk->open = open;
    pthread_cond_broadcast(&pk->cond);
    pthread_mutex_unlock(&pk->mutex);
}

static int park_get(struct park *pk, const int *field) {
    pthread_mutex_lock(&pk->mutex);
    int value = *field;
    pthread_mutex_unlock(&pk->mutex);
    return value;
}

/* Waits until `n` callbacks are parked; 0 on timeout. */
static int wait_parked(struct park *pk, int n) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += PROMPT_MS / 1000;
    pthread_mutex_lock(&pk->mutex);
    int ok = 1;
    while (pk->parked < n && ok) ok = pthread_cond_timedwait(&pk->cond, &pk->mutex, &deadline) == 0 || pk->parked >= n;
    ok = pk->parked >= n;
    pthread_mutex_unlock(&pk->mutex);
    return ok;
}

/* A runtime with test.park bound to `pk` (released with the runtime). */
static wasmcell_runtime *park_runtime(struct park *pk) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "park", "()", park_cb, pk, park_free), WASMCELL_OK);
    return rt;
}

/* ---- calls on other threads ------------------------------------------------------- */

struct async {
    pthread_t thread;
    wasmcell_status (*fn)(struct async *);
    wasmcell_program *p;
    wasmcell_runtime *rt;
    const uint8_t *bytes;
    size_t len;
    uint32_t id;
    int64_t value;
    wasmcell_status status;
    int done;
    int started;
};

static void *async_main(void *arg) {
    struct async *a = arg;
    a->status = a->fn(a);
    __atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void async_start(struct async *a, wasmcell_status (*fn)(struct async *)) {
    a->fn = fn;
    a->done = 0;
    a->status = -999;
    a->started = pthread_create(&a->thread, NULL, async_main, a) == 0;
    CHECK(a->started);
}

static int async_done(struct async *a) { return __atomic_load_n(&a->done, __ATOMIC_SEQ_CST); }

/* Waits up to `ms` for the call to return; 1 if it did. */
static int async_wait(struct async *a, int ms) {
    double until = now_ms() + ms;
    while (!async_done(a)) {
        if (now_ms() > until) return 0;
        sleep_ms(1);
    }
    return 1;
}

/* Joins the thread if its call returned (a stuck thread is left behind: the
 * watchdog reports the deadlock). */
static void async_join(struct async *a) {
    if (a->started && async_wait(a, PROMPT_MS)) pthread_join(a->thread, NULL);
    else if (a->started) CHECK_MSG(0, "a call never returned");
    a->started = 0;
}

static wasmcell_status do_poll(struct async *a) { return wasmcell_program_poll(a->p); }
static wasmcell_status do_unload(struct async *a) { return wasmcell_program_unload(a->p); }
static wasmcell_status do_free(struct async *a) { return wasmcell_runtime_free(a->rt); }
static wasmcell_status do_reload(struct async *a) { return wasmcell_program_reload(a->p, a->bytes, a->len); }
static wasmcell_status do_get_i64(struct async *a) { return wasmcell_program_signal_get_i64(a->p, a->id, &a->value); }

static uint32_t id_of(wasmcell_program *p, const char *name) {
    uint32_t id = UINT32_MAX;
    CHECK_STATUS(wasmcell_program_signal_lookup(p, name, &id, NULL, NULL, NULL), WASMCELL_OK);
    return id;
}

static int64_t signal_i64(wasmcell_program *p, const char *name) {
    int64_t value = -1;
    CHECK_STATUS(wasmcell_program_signal_get_i64(p, id_of(p, name), &value), WASMCELL_OK);
    return value;
}

/* Starts a poll of `p` on another thread and waits until it is parked. */
static int start_parked_poll(struct async *a, wasmcell_program *p, struct park *pk, int already_parked) {
    a->p = p;
    async_start(a, do_poll);
    int parked = wait_parked(pk, already_parked + 1);
    CHECK_MSG(parked, "the poll never reached its callback");
    return parked;
}

/* ---- one program, one long poll, other threads ----------------------------------------- */

static void test_second_poll_waits_for_the_running_one(void) {
    struct park pk;
    park_init(&pk, 0);
    wasmcell_runtime *rt = park_runtime(&pk);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
    struct async first = {0}, second = {0};
    if (start_parked_poll(&first, p, &pk, 0)) {
        second.p = p;
        async_start(&second, do_poll);
        sleep_ms(WAIT_MS);
        CHECK_MSG(!async_done(&second), "a second poll of the same program returned (%s) while the first was running",
                  wasmcell_status_str(second.status));
        CHECK(park_get(&pk, &pk.entries) == 1); /* it did not enter the guest either */
        CHECK(stats_of(p).polls == 0);
    }
    park_set(&pk, 1);
    async_join(&first);
    async_join(&second);
    CHECK(first.status == WASMCELL_OK && second.status == WASMCELL_OK);
    CHECK(pk.entries == 2 && stats_of(p).polls == 2);
    CHECK(signal_i64(p, "count") == 2);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    park_destroy(&pk);
}

/* The calls the header says never wait for a running poll, made on another
 * thread while the poll is parked. */
struct prompt_calls {
    wasmcell_program *p;
    uint32_t in, out;
    int stage; /* the call being made, for a report if one blocks */
    int done;
    double took_ms;
    wasmcell_status status[16];
    wasmcell_state state;
    wasmcell_stats stats;
    char error[64];
    size_t image_len;
    uint64_t published_by;
    int64_t out_value, out_via_signal, in_via_signal;
};

static const char *const prompt_call_names[] = {
    "state", "stats", "error", "set_fuel", "image_size", "write_inputs", "read_outputs",
    "signal_set_i64 (input)", "signal_get_i64 (input)", "signal_get_i64 (output)", "prepare_reload", "reload_discard",
};

static void *make_prompt_calls(void *arg) {
    struct prompt_calls *c = arg;
    double start = now_ms();
    static const char m[] = "(module (func (export \"poll\")))";
    wasmcell_reload *r = NULL;
    int64_t nine = 9;
    int s = 0;
    c->stage = s; c->status[s++] = wasmcell_program_state(c->p, &c->state);
    c->stage = s; c->status[s++] = wasmcell_program_stats(c->p, &c->stats);
    c->stage = s; c->status[s++] = wasmcell_program_error(c->p, c->error, sizeof c->error, NULL);
    c->stage = s; c->status[s++] = wasmcell_program_set_fuel(c->p, 50000000);
    c->stage = s; c->status[s++] = wasmcell_program_image_size(c->p, WASMCELL_AREA_INPUT, &c->image_len);
    c->stage = s; c->status[s++] = wasmcell_program_write_inputs(c->p, 0, (const uint8_t *)&nine, sizeof nine);
    c->stage = s; c->status[s++] = wasmcell_program_read_outputs(c->p, 0, (uint8_t *)&c->out_value, 8, &c->published_by);
    c->stage = s; c->status[s++] = wasmcell_program_signal_set_i64(c->p, c->in, 11);
    c->stage = s; c->status[s++] = wasmcell_program_signal_get_i64(c->p, c->in, &c->in_via_signal);
    c->stage = s; c->status[s++] = wasmcell_program_signal_get_i64(c->p, c->out, &c->out_via_signal);
    c->stage = s; c->status[s++] = wasmcell_program_prepare_reload(c->p, (const uint8_t *)m, sizeof m - 1, &r);
    c->stage = s; c->status[s++] = r ? wasmcell_reload_discard(r) : -999;
    c->stage = s;
    c->took_ms = now_ms() - start;
    __atomic_store_n(&c->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_reads_and_inputs_do_not_wait_for_a_running_poll(void) {
    struct park pk;
    park_init(&pk, 1);
    wasmcell_runtime *rt = park_runtime(&pk);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
    uint32_t in = id_of(p, "in"), out = id_of(p, "out");
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, in, 5), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK); /* publishes out = 5 + 1000 * 1 */
    CHECK_STATUS(wasmcell_program_signal_set_i64(p, in, 7), WASMCELL_OK);

    park_set(&pk, 0);
    struct async poll = {0};
    struct prompt_calls calls = {.p = p, .in = in, .out = out};
    pthread_t caller;
    int started = 0;
    if (start_parked_poll(&poll, p, &pk, 0)) {
        started = pthread_create(&caller, NULL, make_prompt_calls, &calls) == 0;
        double until = now_ms() + PROMPT_MS;
        while (!__atomic_load_n(&calls.done, __ATOMIC_SEQ_CST) && now_ms() < until) sleep_ms(1);
        int done = __atomic_load_n(&calls.done, __ATOMIC_SEQ_CST);
        CHECK_MSG(done, "wasmcell_program_%s waited for the running poll", prompt_call_names[calls.stage]);
        CHECK(park_get(&pk, &pk.parked) == 1); /* all of them returned while the poll was parked */
        if (done) printf("       %d calls during a parked poll took %.2f ms\n", calls.stage, calls.took_ms);
    }
    park_set(&pk, 1);
    async_join(&poll);
    if (started) pthread_join(caller, NULL);
    CHECK(poll.status == WASMCELL_OK);
    for (int i = 0; i < calls.stage; i++) {
        CHECK_MSG(calls.status[i] == WASMCELL_OK, "wasmcell_program_%s during the poll: %s", prompt_call_names[i],
                  wasmcell_status_str(calls.status[i]));
    }
    /* What they saw: the state before the running poll. */
    CHECK(calls.state == WASMCELL_STATE_READY);
    CHECK(calls.stats.polls == 1);
    CHECK(calls.error[0] == 0);
    CHECK(calls.image_len == 8);
    CHECK(calls.published_by == 1 && calls.out_value == 1005);
    CHECK(calls.out_via_signal == 1005); /* the output signal: last published */
    CHECK(calls.in_via_signal == 11);   /* the input signal: what the host wrote last */
    /* The running poll used the inputs it started with (7), the next one the
     * last written (11). */
    CHECK(signal_i64(p, "out") == 7 + 2000);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(signal_i64(p, "out") == 11 + 3000);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    park_destroy(&pk);
}

static void test_retain_read_waits_for_a_running_poll(void) {
    struct park pk;
    park_init(&pk, 0);
    wasmcell_runtime *rt = park_runtime(&pk);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
    struct async poll = {0}, read = {.p = p};
    read.id = id_of(p, "count");
    if (start_parked_poll(&poll, p, &pk, 0)) {
        async_start(&read, do_get_i64);
        sleep_ms(WAIT_MS);
        CHECK_MSG(!async_done(&read), "a retain signal was read while a poll was running");
    }
    park_set(&pk, 1);
    async_join(&poll);
    async_join(&read);
    CHECK(read.status == WASMCELL_OK && read.value == 1); /* read after the poll's increment */
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    park_destroy(&pk);
}

static void test_unload_waits_for_a_running_poll(void) {
    struct park pk;
    park_init(&pk, 0);
    wasmcell_runtime *rt = park_runtime(&pk);
    wasmcell_program *p = NULL, *other = NULL;
    CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "other", "(module (func (export \"poll\")))", &other), WASMCELL_OK);
    struct async poll = {0}, unload = {.p = p};
    if (start_parked_poll(&poll, p, &pk, 0)) {
        async_start(&unload, do_unload);
        sleep_ms(WAIT_MS);
        CHECK_MSG(!async_done(&unload), "unload returned (%s) while a poll of the program was running",
                  wasmcell_status_str(unload.status));
        CHECK(!async_done(&poll));
        CHECK_STATUS(wasmcell_program_poll(other), WASMCELL_OK); /* other programs are not held up */
    }
    park_set(&pk, 1);
    async_join(&poll);
    async_join(&unload);
    CHECK(poll.status == WASMCELL_OK);   /* the running poll finished normally */
    CHECK(unload.status == WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_poll(other), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK(pk.freed == 1);
    park_destroy(&pk);
}

static void test_runtime_free_waits_for_a_running_poll(void) {
    struct park pk;
    park_init(&pk, 0);
    wasmcell_runtime *rt = park_runtime(&pk);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
    struct async poll = {0}, free_rt = {.rt = rt};
    if (start_parked_poll(&poll, p, &pk, 0)) {
        async_start(&free_rt, do_free);
        sleep_ms(WAIT_MS);
        CHECK_MSG(!async_done(&free_rt), "runtime_free returned (%s) while a poll of its program was running",
                  wasmcell_status_str(free_rt.status));
        CHECK(park_get(&pk, &pk.freed) == 0); /* the callback's user_data is still in use */
    }
    park_set(&pk, 1);
    async_join(&poll);
    async_join(&free_rt);
    CHECK(poll.status == WASMCELL_OK);
    CHECK(free_rt.status == WASMCELL_OK);
    CHECK(pk.freed == 1 && pk.parked_when_freed == 0); /* released after the callback returned */
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_ERR_INVALID_HANDLE);
    park_destroy(&pk);
}

/* park.wat with its output scale changed from 1000 to 2000: version 2. */
static unsigned char *park_v2(size_t *len) {
    unsigned char *bytes = fixture_bytes("park.wat", len);
    char *scale = strstr((char *)bytes, "(i64.const 1000)");
    CHECK(scale != NULL);
    if (scale) memcpy(scale, "(i64.const 2000)", 16);
    return bytes;
}

static void test_reload_during_a_long_poll(void) {
    struct park pk;
    park_init(&pk, 1);
    wasmcell_runtime *rt = park_runtime(&pk);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(signal_i64(p, "out") == 1000);
    size_t len = 0;
    unsigned char *v2 = park_v2(&len);
    park_set(&pk, 0);
    struct async poll = {0}, reload = {.p = p, .bytes = v2, .len = len};
    if (start_parked_poll(&poll, p, &pk, 0)) {
        async_start(&reload, do_reload);
        sleep_ms(WAIT_MS);
        CHECK_MSG(!async_done(&reload), "reload swapped (%s) while a poll was running",
                  wasmcell_status_str(reload.status));
    }
    park_set(&pk, 1);
    async_join(&poll);
    async_join(&reload);
    CHECK(poll.status == WASMCELL_OK && reload.status == WASMCELL_OK);
    /* The running poll finished on version 1 (published 2 * 1000)... */
    uint64_t published_by = 0;
    int64_t out = 0;
    CHECK_STATUS(wasmcell_program_read_outputs(p, 0, (uint8_t *)&out, sizeof out, &published_by), WASMCELL_OK);
    CHECK(published_by == 2 && out == 2000);
    /* ... the next runs version 2 with the retained count. */
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_OK);
    CHECK(signal_i64(p, "out") == 3 * 2000);
    free(v2);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    park_destroy(&pk);
}

/* ---- many threads, one program ------------------------------------------------------ */

#define POLLERS 4
#define POLLS_EACH 500

struct poller {
    wasmcell_program *p;
    int failures;
};

static void *poll_many(void *arg) {
    struct poller *w = arg;
    for (int i = 0; i < POLLS_EACH; i++) w->failures += wasmcell_program_poll(w->p) != WASMCELL_OK;
    return NULL;
}

static void test_one_program_polled_from_many_threads(void) {
    struct park pk;
    park_init(&pk, 1);
    wasmcell_runtime *rt = park_runtime(&pk);
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
    struct poller pollers[POLLERS];
    pthread_t threads[POLLERS];
    for (int t = 0; t < POLLERS; t++) {
        pollers[t] = (struct poller){.p = p};
        pthread_create(&threads[t], NULL, poll_many, &pollers[t]);
    }
    for (int t = 0; t < POLLERS; t++) {
        pthread_join(threads[t], NULL);
        CHECK(pollers[t].failures == 0);
    }
    /* Serialised: no poll lost another's increment of the guest's counter. */
    CHECK(stats_of(p).polls == POLLERS * POLLS_EACH);
    CHECK(signal_i64(p, "count") == POLLERS * POLLS_EACH);
    CHECK(pk.entries == POLLERS * POLLS_EACH);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    park_destroy(&pk);
}

/* ---- hot swap under continuous polling ------------------------------------------------ */

#define SWAPS 40

struct swap_run {
    wasmcell_program *p;
    int32_t version, tick; /* written by the callbacks on the polling thread */
    int stop;
    int polls;                 /* atomic: polls done */
    int bad_polls, counter_breaks, switches;
    int last_version;
    const unsigned char *v1, *v2;
    size_t len1, len2;
    int swap_failures;
};

static int32_t sw_tick(void *u, wasmcell_call *c, const wasmcell_val *a, size_t n, wasmcell_val *r, size_t m) {
    (void)c; (void)n; (void)r; (void)m;
    ((struct swap_run *)u)->tick = a[0].i32;
    return 0;
}

static int32_t sw_version(void *u, wasmcell_call *c, const wasmcell_val *a, size_t n, wasmcell_val *r, size_t m) {
    (void)c; (void)n; (void)r; (void)m;
    ((struct swap_run *)u)->version = a[0].i32;
    return 0;
}

static void *swap_poller(void *arg) {
    struct swap_run *s = arg;
    int32_t expected_tick = 1;
    while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
        s->version = s->tick = 0;
        if (wasmcell_program_poll(s->p) != WASMCELL_OK) {
            s->bad_polls++;
            continue;
        }
        /* Each poll ran exactly one version, which counted on from the
         * retained value. */
        if (s->tick != expected_tick || (s->version != 1 && s->version != 2)) s->counter_breaks++;
        expected_tick = s->tick + 1;
        if (s->last_version && s->version != s->last_version) s->switches++;
        __atomic_store_n(&s->last_version, s->version, __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&s->polls, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_hot_swap_under_continuous_polling(void) {
    struct swap_run s = {0};
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", sw_tick, &s, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "version", "(i)", sw_version, &s, NULL), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "started", "(ii)", ignore_call, NULL, NULL), WASMCELL_OK);
    unsigned char *v1 = fixture_bytes("retain_counter_v1.wat", &s.len1);
    unsigned char *v2 = fixture_bytes("retain_counter_v2.wat", &s.len2);
    CHECK_STATUS(wasmcell_program_load(rt, "counter", v1, s.len1, &s.p), WASMCELL_OK);
    pthread_t poller;
    pthread_create(&poller, NULL, swap_poller, &s);
    for (int i = 0; i < SWAPS; i++) {
        /* Wait until the poller has run the current version, then swap to
         * the other one, alternating the one-call and the two-call forms. */
        int current = i % 2 == 0 ? 1 : 2;
        double until = now_ms() + PROMPT_MS;
        while (__atomic_load_n(&s.last_version, __ATOMIC_SEQ_CST) != current && now_ms() < until) sleep_ms(1);
        const unsigned char *bytes = i % 2 == 0 ? v2 : v1;
        size_t len = i % 2 == 0 ? s.len2 : s.len1;
        if (i % 4 < 2) {
            s.swap_failures += wasmcell_program_reload(s.p, bytes, len) != WASMCELL_OK;
        } else {
            wasmcell_reload *r = NULL;
            s.swap_failures += wasmcell_program_prepare_reload(s.p, bytes, len, &r) != WASMCELL_OK;
            s.swap_failures += r && wasmcell_program_commit_reload(s.p, r) != WASMCELL_OK;
        }
    }
    double until = now_ms() + PROMPT_MS;
    while (__atomic_load_n(&s.last_version, __ATOMIC_SEQ_CST) != 1 && now_ms() < until) sleep_ms(1);
    __atomic_store_n(&s.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(poller, NULL);
    printf("       %d polls, %d swaps, %d version switches seen\n", s.polls, SWAPS, s.switches);
    CHECK(s.swap_failures == 0);
    CHECK(s.bad_polls == 0);
    CHECK(s.counter_breaks == 0);
    CHECK_MSG(s.switches == SWAPS, "%d of %d swaps seen by the polling thread", s.switches, SWAPS);
    CHECK(s.last_version == 1); /* an even number of swaps ends on version 1 */
    free(v1);
    free(v2);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- unload and free racing polls ------------------------------------------------------ */

struct racer {
    wasmcell_program *p;
    int ok, gone, other;
};

static void *poll_until_gone(void *arg) {
    struct racer *r = arg;
    for (;;) {
        wasmcell_status s = wasmcell_program_poll(r->p);
        if (s == WASMCELL_OK) r->ok++;
        else if (s == WASMCELL_ERR_INVALID_HANDLE) { r->gone++; break; }
        else { r->other++; break; }
    }
    return NULL;
}

/* Polling threads see WASMCELL_OK until the program is gone, then
 * WASMCELL_ERR_INVALID_HANDLE: no crash, no other status. */
static void test_unload_and_free_racing_polls(void) {
    for (int round = 0; round < 12; round++) {
        struct park pk;
        park_init(&pk, 1);
        wasmcell_runtime *rt = park_runtime(&pk);
        wasmcell_program *p = NULL;
        CHECK_STATUS(load_fixture(rt, "park.wat", &p), WASMCELL_OK);
        struct racer racers[3];
        pthread_t threads[3];
        for (int t = 0; t < 3; t++) {
            racers[t] = (struct racer){.p = p};
            pthread_create(&threads[t], NULL, poll_until_gone, &racers[t]);
        }
        sleep_ms(2 + round);
        if (round % 2 == 0) CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_OK);
        CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
        for (int t = 0; t < 3; t++) {
            pthread_join(threads[t], NULL);
            CHECK_MSG(racers[t].other == 0 && racers[t].gone == 1, "round %d thread %d: %d ok, %d gone, %d other",
                      round, t, racers[t].ok, racers[t].gone, racers[t].other);
        }
        CHECK(pk.freed == 1 && pk.parked_when_freed == 0);
        park_destroy(&pk);
    }
}

/* ---- many programs in parallel ----------------------------------------------------------- */

/* 8 programs polled from 4 threads at once, one of them faulting every 5th
 * poll and being reset: every healthy program must see every one of its polls
 * succeed, in order, with its own state. */
#define THREADS 4
#define PROGRAMS_PER_THREAD 2
#define ROUNDS 2000

/* The callback stores the counter on the polling thread: each thread can
 * then check the value its own poll produced. */
static __thread int32_t thread_tick = 0;

static int32_t tick(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                    wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)nargs; (void)results; (void)nresults;
    thread_tick = args[0].i32;
    return 0;
}

struct worker {
    wasmcell_program *programs[PROGRAMS_PER_THREAD];
    int flaky; /* programs[0] is the flaky one */
    int missed;
    int wrong_values;
    int faults;
};

static void *work(void *arg) {
    struct worker *w = arg;
    for (int round = 1; round <= ROUNDS; round++) {
        for (int i = 0; i < PROGRAMS_PER_THREAD; i++) {
            wasmcell_status status = wasmcell_program_poll(w->programs[i]);
            if (w->flaky && i == 0) {
                if (status == WASMCELL_ERR_TRAP) {
                    w->faults++;
                    if (wasmcell_program_reset(w->programs[i]) != WASMCELL_OK) w->missed++;
                } else if (status != WASMCELL_OK) {
                    w->missed++;
                }
                continue;
            }
            if (status != WASMCELL_OK) {
                w->missed++;
            } else if (thread_tick != 100 + round) {
                w->wrong_values++;
            }
        }
    }
    return NULL;
}

static void test_programs_poll_in_parallel(void) {
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", tick, NULL, NULL), WASMCELL_OK);
    struct worker workers[THREADS] = {0};
    for (int t = 0; t < THREADS; t++) {
        workers[t].flaky = (t == 0);
        for (int i = 0; i < PROGRAMS_PER_THREAD; i++) {
            const char *file = (t == 0 && i == 0) ? "flaky.wat" : "counter.wat";
            CHECK_STATUS(load_fixture(rt, file, &workers[t].programs[i]), WASMCELL_OK);
        }
    }
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, work, &workers[t]);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

    for (int t = 0; t < THREADS; t++) {
        CHECK(workers[t].missed == 0);
        CHECK(workers[t].wrong_values == 0);
        for (int i = 0; i < PROGRAMS_PER_THREAD; i++) {
            wasmcell_stats stats = stats_of(workers[t].programs[i]);
            CHECK(stats.polls == ROUNDS);
            if (!(t == 0 && i == 0)) CHECK(stats.faults == 0);
        }
    }
    CHECK(workers[0].faults == ROUNDS / 5);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

/* ---- the handle table under churn ------------------------------------------------------ */

/* Polls look their program up without a lock or a reference count; an unload
 * waits for the polls running on other threads before it drops the table's
 * reference, on its own thread. Here 4 threads poll (and read the state and
 * statistics of) 8 programs flat out while another thread unloads, loads,
 * reloads and commits prepared reloads of them, then frees the runtime under
 * the pollers' feet. Each poll checks, from its callback, that the program
 * running is the one whose handle was polled (a reused slot never aliases a
 * stale handle). Statuses: OK, INVALID_HANDLE (unloaded or freed), TRAP and
 * FAULTED (the flaky versions), nothing else. */
#define CHURN_PROGRAMS 8
#define CHURN_POLLERS 4

struct churn {
    wasmcell_program *programs[CHURN_PROGRAMS]; /* read and written atomically */
    int stop;
    int aliased;      /* a callback ran in another program than the one polled */
    int freed;        /* free_fn calls */
    pthread_t freed_on;
};

struct churn_poller {
    struct churn *c;
    int index;
    long ok, gone, trapped, faulted, other;
    long reads_ok, reads_gone, reads_other;
    wasmcell_status other_status;
};

static __thread wasmcell_program *polled_now = NULL;

static int32_t whoami_cb(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                         wasmcell_val *results, size_t nresults) {
    struct churn *c = user_data;
    (void)args; (void)nargs; (void)results; (void)nresults;
    wasmcell_program *me = NULL;
    if (wasmcell_call_program(call, &me) != WASMCELL_OK || me != polled_now)
        __atomic_fetch_add(&c->aliased, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void whoami_free(void *user_data) {
    struct churn *c = user_data;
    __atomic_fetch_add(&c->freed, 1, __ATOMIC_SEQ_CST);
    c->freed_on = pthread_self();
}

static const char CHURN_STEADY[] =
    "(module (import \"test\" \"whoami\" (func $who)) (func (export \"poll\") (call $who)))";
/* Traps every 7th poll: the program is FAULTED until the churn reloads it. */
static const char CHURN_FLAKY[] =
    "(module (import \"test\" \"whoami\" (func $who)) (global $n (mut i32) (i32.const 0))"
    "  (func (export \"poll\") (call $who)"
    "    (global.set $n (i32.add (global.get $n) (i32.const 1)))"
    "    (if (i32.eqz (i32.rem_u (global.get $n) (i32.const 7))) (then unreachable))))";

static void *churn_poll(void *arg) {
    struct churn_poller *w = arg;
    struct churn *c = w->c;
    for (long n = 0; !__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST); n++) {
        int i = (int)((w->index + n) % CHURN_PROGRAMS);
        wasmcell_program *p = __atomic_load_n(&c->programs[i], __ATOMIC_SEQ_CST);
        polled_now = p;
        wasmcell_status s = wasmcell_program_poll(p);
        if (s == WASMCELL_OK) w->ok++;
        else if (s == WASMCELL_ERR_INVALID_HANDLE) w->gone++;
        else if (s == WASMCELL_ERR_TRAP) w->trapped++;
        else if (s == WASMCELL_ERR_FAULTED) w->faulted++;
        else { w->other++; w->other_status = s; }
        if (n % 4 == 0) {
            wasmcell_state state = 0;
            wasmcell_stats stats;
            wasmcell_status a = wasmcell_program_state(p, &state);
            wasmcell_status b = wasmcell_program_stats(p, &stats);
            for (int k = 0; k < 2; k++) {
                wasmcell_status r = k ? b : a;
                if (r == WASMCELL_OK) w->reads_ok++;
                else if (r == WASMCELL_ERR_INVALID_HANDLE) w->reads_gone++;
                else w->reads_other++;
            }
        }
    }
    return NULL;
}

struct churner {
    struct churn *c;
    wasmcell_runtime *rt;
    int ms;
    int min_rounds;
    int rounds, unloads, reloads, commits, failures;
    wasmcell_status free_status;
    pthread_t self;
};

static const char *churn_version(int round) { return round % 2 ? CHURN_FLAKY : CHURN_STEADY; }

static void *churn_main(void *arg) {
    struct churner *ch = arg;
    struct churn *c = ch->c;
    ch->self = pthread_self();
    double until = now_ms() + ch->ms;
    for (int round = 0; round < ch->min_rounds || now_ms() < until; round++) {
        int i = round % CHURN_PROGRAMS;
        wasmcell_program *old = __atomic_load_n(&c->programs[i], __ATOMIC_SEQ_CST);
        const char *wat = churn_version(round);
        switch (round % 3) {
        case 0: { /* unload and replace: the old handle goes stale under the pollers */
            wasmcell_program *fresh = NULL;
            if (load_wat(ch->rt, "churned", wat, &fresh) != WASMCELL_OK) { ch->failures++; break; }
            __atomic_store_n(&c->programs[i], fresh, __ATOMIC_SEQ_CST);
            if (wasmcell_program_unload(old) != WASMCELL_OK) ch->failures++;
            /* Unloaded means gone for every later call, on any thread. */
            if (wasmcell_program_poll(old) != WASMCELL_ERR_INVALID_HANDLE) ch->failures++;
            ch->unloads++;
            break;
        }
        case 1: /* hot swap in one step */
            if (wasmcell_program_reload(old, (const uint8_t *)wat, strlen(wat)) != WASMCELL_OK) ch->failures++;
            ch->reloads++;
            break;
        default: { /* prepared: committed or discarded */
            wasmcell_reload *r = NULL;
            if (wasmcell_program_prepare_reload(old, (const uint8_t *)wat, strlen(wat), &r) != WASMCELL_OK) {
                ch->failures++;
                break;
            }
            wasmcell_status s = round % 2 ? wasmcell_program_commit_reload(old, r) : wasmcell_reload_discard(r);
            if (s != WASMCELL_OK) ch->failures++;
            ch->commits++;
            break;
        }
        }
        ch->rounds++;
    }
    /* Freed under the pollers' feet: every program goes with it. */
    ch->free_status = wasmcell_runtime_free(ch->rt);
    return NULL;
}

static void test_unload_reload_and_free_racing_lock_free_polls(void) {
    static struct churn c;
    memset(&c, 0, sizeof c);
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "whoami", "()", whoami_cb, &c, whoami_free), WASMCELL_OK);
    for (int i = 0; i < CHURN_PROGRAMS; i++)
        CHECK_STATUS(load_wat(rt, "churned", churn_version(i), &c.programs[i]), WASMCELL_OK);
    int under_tool = getenv("WASMCELL_TEST_UNDER_TOOL") != NULL;
    struct churner ch = {.c = &c, .rt = rt, .ms = under_tool ? 2000 : 1000, .min_rounds = 6};
    struct churn_poller pollers[CHURN_POLLERS];
    pthread_t threads[CHURN_POLLERS], churn_thread;
    for (int t = 0; t < CHURN_POLLERS; t++) {
        pollers[t] = (struct churn_poller){.c = &c, .index = t * 2};
        CHECK(pthread_create(&threads[t], NULL, churn_poll, &pollers[t]) == 0);
    }
    CHECK(pthread_create(&churn_thread, NULL, churn_main, &ch) == 0);
    pthread_join(churn_thread, NULL);
    /* The pollers go on for a while against the freed runtime's handles. */
    sleep_ms(20);
    __atomic_store_n(&c.stop, 1, __ATOMIC_SEQ_CST);
    long ok = 0, gone = 0, faults = 0;
    for (int t = 0; t < CHURN_POLLERS; t++) {
        pthread_join(threads[t], NULL);
        struct churn_poller *w = &pollers[t];
        CHECK_MSG(w->other == 0, "poller %d: %ld polls returned another status, e.g. %s", t, w->other,
                  wasmcell_status_str(w->other_status));
        CHECK_MSG(w->reads_other == 0, "poller %d: %ld state/stats calls returned another status", t,
                  w->reads_other);
        ok += w->ok;
        gone += w->gone;
        faults += w->trapped + w->faulted;
    }
    printf("       %d churn rounds (%d unloads, %d reloads, %d prepared); polls: %ld ok, %ld invalid handle, %ld "
           "trap or faulted\n",
           ch.rounds, ch.unloads, ch.reloads, ch.commits, ok, gone, faults);
    CHECK(ch.failures == 0);
    CHECK(ch.free_status == WASMCELL_OK);
    CHECK(ok > 0 && gone > 0);
    CHECK_MSG(c.aliased == 0, "%d callbacks ran in a program other than the one polled", c.aliased);
    /* The host function's user_data was released once, by runtime_free, on
     * the thread that called it, not on a polling thread. */
    CHECK(__atomic_load_n(&c.freed, __ATOMIC_SEQ_CST) == 1);
    CHECK(pthread_equal(c.freed_on, ch.self));
    for (int i = 0; i < CHURN_PROGRAMS; i++) CHECK_STATUS(wasmcell_program_poll(c.programs[i]), WASMCELL_ERR_INVALID_HANDLE);
}

/* A host callback of program A unloads program B (and later frees another
 * runtime), from inside A's poll: that thread is in the middle of a poll and
 * cannot wait for other polls to finish, so the table's references are
 * released later. B's handle is stale at once; everything is released by
 * the runtime frees (AddressSanitizer and valgrind check that nothing
 * leaks). */
struct killer {
    wasmcell_program *victim;
    wasmcell_runtime *victim_rt;
    wasmcell_status unload_status, free_status;
    int calls, freed;
    pthread_t freed_on;
};

static int32_t killer_cb(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                         wasmcell_val *results, size_t nresults) {
    struct killer *k = user_data;
    (void)call; (void)args; (void)nargs; (void)results; (void)nresults;
    k->calls++;
    if (k->victim) k->unload_status = wasmcell_program_unload(k->victim);
    if (k->victim_rt) k->free_status = wasmcell_runtime_free(k->victim_rt);
    return 0;
}

static void killer_free(void *user_data) {
    struct killer *k = user_data;
    k->freed++;
    k->freed_on = pthread_self();
}

static void test_a_callback_unloads_another_program(void) {
    struct killer k = {0};
    wasmcell_runtime *rt = new_runtime();
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "kill", "()", killer_cb, &k, killer_free), WASMCELL_OK);
    wasmcell_program *a = NULL, *b = NULL, *c = NULL;
    CHECK_STATUS(load_wat(rt, "a", "(module (import \"test\" \"kill\" (func $k)) (func (export \"poll\") (call $k)))", &a),
                 WASMCELL_OK);
    CHECK_STATUS(load_wat(rt, "b", "(module (func (export \"poll\")))", &b), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(b), WASMCELL_OK);

    k.victim = b;
    CHECK_STATUS(wasmcell_program_poll(a), WASMCELL_OK);
    CHECK(k.calls == 1 && k.unload_status == WASMCELL_OK);
    char buf[160];
    CHECK_STATUS(wasmcell_program_poll(b), WASMCELL_ERR_INVALID_HANDLE);
    CHECK(strcmp(last_error(buf, sizeof buf), "stale program handle (already freed or unloaded)") == 0);
    CHECK_STATUS(wasmcell_program_unload(b), WASMCELL_ERR_INVALID_HANDLE);
    /* Loading and polling go on (the load may release what B left behind). */
    CHECK_STATUS(load_wat(rt, "c", "(module (func (export \"poll\")))", &c), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(c), WASMCELL_OK);
    /* A second unload of B from the callback: a stale handle. */
    CHECK_STATUS(wasmcell_program_poll(a), WASMCELL_OK);
    CHECK(k.calls == 2 && k.unload_status == WASMCELL_ERR_INVALID_HANDLE);

    /* The callback frees another runtime, with a program and a prepared reload. */
    wasmcell_runtime *other = new_runtime();
    wasmcell_program *d = NULL;
    wasmcell_reload *r = NULL;
    static const char empty[] = "(module (func (export \"poll\")))";
    CHECK_STATUS(load_wat(other, "d", empty, &d), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_prepare_reload(d, (const uint8_t *)empty, sizeof empty - 1, &r), WASMCELL_OK);
    k.victim = NULL;
    k.victim_rt = other;
    CHECK_STATUS(wasmcell_program_poll(a), WASMCELL_OK);
    CHECK(k.calls == 3 && k.free_status == WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(d), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_reload_discard(r), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_runtime_free(other), WASMCELL_ERR_INVALID_HANDLE);
    k.victim_rt = NULL;

    CHECK(k.freed == 0);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    CHECK(k.freed == 1 && pthread_equal(k.freed_on, pthread_self()));
    CHECK_STATUS(wasmcell_program_poll(a), WASMCELL_ERR_INVALID_HANDLE);
    CHECK_STATUS(wasmcell_program_poll(c), WASMCELL_ERR_INVALID_HANDLE);
}

int main(int argc, char **argv) {
    test_begin("test_threads", argc, argv);
    RUN(test_second_poll_waits_for_the_running_one);
    RUN(test_reads_and_inputs_do_not_wait_for_a_running_poll);
    RUN(test_retain_read_waits_for_a_running_poll);
    RUN(test_unload_waits_for_a_running_poll);
    RUN(test_runtime_free_waits_for_a_running_poll);
    RUN(test_reload_during_a_long_poll);
    RUN(test_one_program_polled_from_many_threads);
    RUN(test_hot_swap_under_continuous_polling);
    RUN(test_unload_and_free_racing_polls);
    RUN(test_programs_poll_in_parallel);
    RUN(test_unload_reload_and_free_racing_lock_free_polls);
    RUN(test_a_callback_unloads_another_program);
    return test_end();
}
