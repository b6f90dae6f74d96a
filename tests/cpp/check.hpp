// The C++ suite's harness: CHECK macros that count and report failures, a
// runner that prints each test's name, and helpers to expect an exception.
#ifndef WASMCELL_TEST_CPP_CHECK_HPP
#define WASMCELL_TEST_CPP_CHECK_HPP

#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>

#include "wasmcell.hpp"

namespace check {

inline std::atomic<int> failures{0};
inline std::atomic<int> count{0};
inline const char *current = "(none)";
inline int tests_run = 0;
inline int tests_failed = 0;

inline void report(bool ok, const char *file, int line, const std::string &what) {
    count++;
    if (!ok) {
        failures++;
        std::fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", file, line, current, what.c_str());
    }
}

inline bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

inline std::string show(const std::string &s) { return "\"" + s + "\""; }
inline std::string show(const char *s) { return show(std::string(s)); }
template <class T>
std::string show(const T &value) {
    if constexpr (std::is_pointer_v<T>) {
        return value == nullptr ? "nullptr" : "pointer";
    } else {
        return std::to_string(value);
    }
}

template <class F>
void run(const char *name, F &&test) {
    current = name;
    int before = failures.load();
    try {
        test();
    } catch (const std::exception &e) {
        failures++;
        std::fprintf(stderr, "[%s] unexpected exception: %s\n", name, e.what());
    }
    tests_run++;
    bool ok = failures.load() == before;
    if (!ok) {
        tests_failed++;
    }
    std::printf("%-44s %s\n", name, ok ? "ok" : "FAIL");
    std::fflush(stdout);
}

inline int finish(const char *suite) {
    std::printf("%s: %d tests, %d checks, %d failed tests\n", suite, tests_run, count.load(), tests_failed);
    return tests_failed == 0 && failures.load() == 0 ? 0 : 1;
}

} // namespace check

#define CHECK(cond) ::check::report(static_cast<bool>(cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b)                                                                                          \
    do {                                                                                                        \
        auto check_a_ = (a);                                                                                    \
        auto check_b_ = (b);                                                                                    \
        ::check::report(check_a_ == check_b_, __FILE__, __LINE__,                                               \
                        std::string(#a " == " #b " (") + ::check::show(check_a_) + " vs " +                    \
                            ::check::show(check_b_) + ")");                                                    \
    } while (0)
#define CHECK_CONTAINS(text, needle)                                                                            \
    do {                                                                                                        \
        std::string check_t_ = (text);                                                                          \
        ::check::report(::check::contains(check_t_, needle), __FILE__, __LINE__,                                \
                        std::string(#text " contains \"") + (needle) + "\" (it is \"" + check_t_ + "\")");      \
    } while (0)

// Runs `expr`, expecting wasmcell::Error with status `want`; evaluates to the
// error's what() (empty if nothing or something else was thrown).
#define CHECK_THROWS(want, expr)                                                                              \
    [&]() -> std::string {                                                                                      \
        try {                                                                                                   \
            expr;                                                                                               \
        } catch (const wasmcell::Error &check_e_) {                                                             \
            ::check::report(check_e_.status() == (want), __FILE__, __LINE__,                                  \
                            std::string(#expr " throws " #want " (got ") +                                    \
                                wasmcell_status_str(check_e_.status()) + ": " + check_e_.message() + ")");      \
            return check_e_.what();                                                                             \
        } catch (const std::exception &check_e_) {                                                              \
            ::check::report(false, __FILE__, __LINE__,                                                          \
                            std::string(#expr " throws wasmcell::Error, not ") + check_e_.what());              \
            return std::string();                                                                               \
        }                                                                                                       \
        ::check::report(false, __FILE__, __LINE__, #expr " throws " #want " (nothing thrown)");               \
        return std::string();                                                                                   \
    }()

#endif
