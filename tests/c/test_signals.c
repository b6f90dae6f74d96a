/* Signal handlers: a host that installs its own SIGSEGV handler before the
 * first runtime (as the header asks) must still receive the segmentation
 * faults of its own code after wasmer has installed its handlers (wasmer
 * chains to the earlier handler), while guest traps keep being turned into
 * statuses and never reach the host's handler.
 *
 * Its own binary: the handler must be installed before anything else in
 * the process touches wasmcell. The host fault is a write to a page the
 * test protected itself; its handler makes the page writable and returns,
 * so the write completes.
 * Usage: test_signals [fixtures-dir] [name-filter]
 *
 * Not on Windows: there are no POSIX signal handlers to chain (sigaction,
 * SIGSEGV, mprotect); wasmer catches guest traps with a vectored exception
 * handler, which the trap tests of the other binaries exercise. */
#ifdef _WIN32
#include <stdio.h>

int main(void) {
    printf("test_signals: skipped on Windows: POSIX signal handlers (sigaction, SIGSEGV chaining) "
           "do not exist there; guest traps are covered by the other binaries\n");
    return 0;
}
#else
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#include "check.h"

static char *host_page = NULL;
static long page_size = 0;
static volatile sig_atomic_t host_faults = 0;

static void host_handler(int sig, siginfo_t *info, void *context) {
    (void)sig; (void)context;
    char *address = info->si_addr;
    if (host_page != NULL && address >= host_page && address < host_page + page_size) {
        host_faults++;
        mprotect(host_page, (size_t)page_size, PROT_READ | PROT_WRITE);
        return;
    }
    /* Not the host's own fault: a guest trap leaked to the host handler. */
    static const char message[] =
        "test_signals: the host's SIGSEGV handler received a fault outside its own page "
        "(a guest trap was chained to it, or the host crashed)\n";
    ssize_t ignored = write(2, message, sizeof message - 1);
    (void)ignored;
    _exit(4);
}

/* Writes to the protected page: a real SIGSEGV raised by host code. */
static __attribute__((noinline)) void touch_host_page(int offset, char value) {
    volatile char *target = host_page;
    target[offset] = value;
}

static void protect_host_page(void) { CHECK(mprotect(host_page, (size_t)page_size, PROT_NONE) == 0); }

/* One host fault: the handler must run once and the write must land. */
static void check_host_fault_reaches_the_host(int offset, char value) {
    int before = host_faults;
    protect_host_page();
    touch_host_page(offset, value);
    CHECK_MSG(host_faults == before + 1, "the host handler ran %d times", host_faults - before);
    CHECK(host_page[offset] == value);
}

static void check_guest_traps(wasmcell_runtime *rt) {
    static const struct {
        const char *fixture;
        wasmcell_fault kind;
    } traps[] = {
        {"out_of_bounds.wat", WASMCELL_FAULT_MEMORY_OUT_OF_BOUNDS},
        {"recursion.wat", WASMCELL_FAULT_STACK_OVERFLOW},
        {"divide_by_zero.wat", WASMCELL_FAULT_INTEGER_DIVIDE_BY_ZERO},
        {"unreachable.wat", WASMCELL_FAULT_UNREACHABLE},
    };
    for (size_t i = 0; i < sizeof traps / sizeof traps[0]; i++) {
        wasmcell_program *p = NULL;
        int before = host_faults;
        CHECK_STATUS(load_fixture(rt, traps[i].fixture, &p), WASMCELL_OK);
        for (int round = 0; round < 2; round++) {
            CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
            CHECK_MSG(fault_of(p) == traps[i].kind, "%s: fault kind %d", traps[i].fixture, fault_of(p));
            CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
        }
        CHECK_MSG(host_faults == before, "%s: the guest's trap reached the host's handler", traps[i].fixture);
        CHECK_STATUS(wasmcell_program_unload(p), WASMCELL_OK);
    }
}

static void test_host_handler_alone(void) {
    /* Before any runtime exists: the handler works on its own. */
    check_host_fault_reaches_the_host(1, 11);
}

static void test_guest_traps_with_a_host_handler_installed(void) {
    wasmcell_runtime *rt = new_runtime();
    check_guest_traps(rt);
    /* Guest code has run: wasmer's handler is installed in front of ours. */
    struct sigaction current;
    sigaction(SIGSEGV, NULL, &current);
    CHECK_MSG((current.sa_flags & SA_SIGINFO) == 0 || current.sa_sigaction != host_handler,
              "the host's handler is still the installed one: wasmer did not install its own, so this test "
              "does not exercise chaining");
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

static void *fault_on_a_new_thread(void *arg) {
    (void)arg;
    check_host_fault_reaches_the_host(3, 33);
    return NULL;
}

static void *poll_then_fault(void *arg) {
    wasmcell_runtime *rt = arg;
    check_guest_traps(rt);
    check_host_fault_reaches_the_host(4, 44);
    return NULL;
}

static void test_host_faults_are_chained_to_the_host_handler(void) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = NULL;
    CHECK_STATUS(load_fixture(rt, "out_of_bounds.wat", &p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    /* On the thread that ran guest code ... */
    check_host_fault_reaches_the_host(2, 22);
    /* ... on a thread that never did ... */
    pthread_t t;
    pthread_create(&t, NULL, fault_on_a_new_thread, NULL);
    pthread_join(t, NULL);
    /* ... and on another thread that ran guest traps first. */
    pthread_create(&t, NULL, poll_then_fault, rt);
    pthread_join(t, NULL);
    /* Guest traps still work afterwards. */
    CHECK_STATUS(wasmcell_program_reset(p), WASMCELL_OK);
    CHECK_STATUS(wasmcell_program_poll(p), WASMCELL_ERR_TRAP);
    CHECK(fault_of(p) == WASMCELL_FAULT_MEMORY_OUT_OF_BOUNDS);
    check_guest_traps(rt);
    check_host_fault_reaches_the_host(5, 55);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
}

int main(int argc, char **argv) {
    /* First thing: the host's handler, before any runtime. */
    page_size = sysconf(_SC_PAGESIZE);
    host_page = mmap(NULL, (size_t)page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (host_page == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = host_handler;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, NULL) != 0) {
        perror("sigaction");
        return 2;
    }

    test_begin("test_signals", argc, argv);
    RUN(test_host_handler_alone);
    RUN(test_guest_traps_with_a_host_handler_installed);
    RUN(test_host_faults_are_chained_to_the_host_handler);
    int status = test_end();
    munmap(host_page, (size_t)page_size);
    return status;
}
#endif
