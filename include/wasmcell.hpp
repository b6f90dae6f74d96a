/**
 * wasmcell.hpp: C++17 header-only wrapper of the wasmcell C API (wasmcell.h).
 *
 *   #include <wasmcell.hpp>
 *
 *   wasmcell::Runtime rt;
 *   double room = 18.0;
 *   rt.define("plant", "read_sensor", [&room](int32_t channel) -> double { return room; });
 *   rt.define("plant", "set_actuator", [](int32_t channel, int32_t on) { heater(channel, on); });
 *   wasmcell::Program p = rt.load_file("thermostat", "guest/thermostat_v1.wat");
 *   for (;;) {
 *       try {
 *           p.poll();                        // one control cycle
 *       } catch (const wasmcell::Error &e) { // only this program faulted
 *           std::cerr << e.what() << '\n';   // e.status() is the WASMCELL_ERR_* code
 *           p.reset();
 *       }
 *   }
 *
 * Link with -lwasmcell (pkg-config wasmcell, or the CMake target
 * wasmcell::wasmcell); nothing else to build.
 *
 * Conventions (they hold for every class below):
 *
 * - Ownership: Runtime and Program own their C handle and release it in their
 *   destructor (wasmcell_runtime_free, wasmcell_program_unload). Both are
 *   movable, not copyable; a moved-from object is empty and its calls throw
 *   Error(WASMCELL_ERR_INVALID_HANDLE). Freeing a runtime unloads its
 *   programs: a Program that outlives its Runtime is harmless (its handle is
 *   stale, every call throws WASMCELL_ERR_INVALID_HANDLE, its destructor does
 *   nothing). get() gives the C handle for calls this header does not wrap;
 *   release() gives up ownership of it.
 * - Errors: every failing call throws wasmcell::Error (a std::runtime_error)
 *   carrying status() (the WASMCELL_ERR_* code) and message() (wasmcell's
 *   message for that call, read on the calling thread right after it failed);
 *   what() is "<status text>: <message>". Functions marked noexcept, the
 *   destructors and moves never throw. A std::bad_alloc may escape where
 *   strings or vectors are built.
 * - Host functions: Runtime::define takes a lambda (or any callable with one
 *   fixed signature) and deduces the wasm signature from its C++ types:
 *   int32_t -> 'i', int64_t -> 'I' (any 4- or 8-byte integer type, signed or
 *   not, except bool and characters), float -> 'f', double -> 'F', and
 *   wasmcell::Bytes -> "*~" (a bounds-checked guest buffer, parameters only).
 *   The result is void or one of the scalar types. A first parameter of type
 *   wasmcell::Call& (not part of the signature) gives the calling program's
 *   name and memory. An exception thrown by the callable never crosses the C
 *   ABI: it becomes a host error of that poll (the poll throws Error with
 *   WASMCELL_ERR_HOST, the program is FAULTED and its error message holds the
 *   exception's what()); throw wasmcell::HostError to choose the error code.
 * - Threads: the C rules apply (wasmcell.h). Runtime and Program methods may
 *   be called from any thread; calls on one program are serialised, different
 *   programs poll in parallel. A host callable runs on the polling thread and
 *   may run concurrently on every thread that polls a program of its runtime,
 *   so it must be thread-safe if programs poll on several threads. The C++
 *   objects themselves are not synchronised: do not move, assign or destroy
 *   one while another thread calls it, and call set_log/set_clock from one
 *   thread at a time. Do not destroy a Runtime from inside one of its own
 *   callbacks.
 * - Real-time loops: poll() throws only when the program faults; try_poll()
 *   is noexcept and returns the status for loops that must not unwind.
 * - Signals: wasmer installs SIGSEGV, SIGBUS, SIGILL and SIGFPE handlers the
 *   first time guest code runs; install your own before the first Runtime.
 */

#ifndef WASMCELL_HPP
#define WASMCELL_HPP

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "wasmcell.hpp needs C++17 (-std=c++17); C code includes wasmcell.h"
#endif

#include "wasmcell.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace wasmcell {

/** Static text of a status ("ok", "guest trapped", ...). Never throws. */
inline const char *status_str(wasmcell_status status) noexcept { return wasmcell_status_str(status); }

/** Version of the loaded library ("0.2.0"); compare WASMCELL_VERSION_NUMBER
 *  with version_number() to detect a header/library mismatch. */
inline const char *version() noexcept { return wasmcell_version(); }
inline uint32_t version_number() noexcept { return wasmcell_version_number(); }

/** What every wrapper call throws on failure. Copying it never throws. */
class Error : public std::runtime_error {
public:
    Error(wasmcell_status status, std::string message)
        : std::runtime_error(message.empty() ? std::string(wasmcell_status_str(status))
                                             : std::string(wasmcell_status_str(status)) + ": " + message),
          status_(status), message_(std::make_shared<const std::string>(std::move(message))) {}

    /** The WASMCELL_ERR_* code of the failed call. */
    wasmcell_status status() const noexcept { return status_; }
    /** wasmcell's message for the failed call (may be empty). */
    const std::string &message() const noexcept { return *message_; }

private:
    wasmcell_status status_;
    std::shared_ptr<const std::string> message_;
};

/** Thrown by a host callable to fail the guest with a chosen error code
 *  (non-zero; 0 becomes 1). Any other exception fails it with code 1. */
class HostError : public std::runtime_error {
public:
    HostError(int32_t code, const std::string &message)
        : std::runtime_error(message), code_(code == 0 ? 1 : code) {}
    int32_t code() const noexcept { return code_; }

private:
    int32_t code_;
};

/** Program states (WASMCELL_STATE_*). */
enum class State : int32_t {
    ready = WASMCELL_STATE_READY,
    faulted = WASMCELL_STATE_FAULTED,
};

/** A guest buffer passed to a host callable for a "*~" parameter: size()
 *  bytes at data(), inside the calling program's memory, bounds-checked by
 *  wasmcell. Readable and writable only until the callable returns; copy
 *  what you keep (str(), or the iterators). */
class Bytes {
public:
    constexpr Bytes() noexcept = default;
    constexpr Bytes(uint8_t *data, size_t size) noexcept : data_(data), size_(size) {}

    constexpr uint8_t *data() const noexcept { return data_; }
    constexpr size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr uint8_t *begin() const noexcept { return data_; }
    constexpr uint8_t *end() const noexcept { return data_ + size_; }
    constexpr uint8_t &operator[](size_t i) const noexcept { return data_[i]; }
    /** The bytes as characters (e.g. a message the guest sent). */
    std::string_view view() const noexcept {
        return size_ == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char *>(data_), size_);
    }
    std::string str() const { return std::string(view()); }

private:
    uint8_t *data_ = nullptr;
    size_t size_ = 0;
};

namespace detail {

/** Reads a string through a (buf, cap, &len) C function, growing the buffer
 *  when it is too small. Returns the status of the last call. */
template <class Read>
wasmcell_status read_string(Read &&read, std::string &out) {
    out.assign(256, '\0');
    size_t len = 0;
    wasmcell_status s = read(&out[0], out.size(), &len);
    // The text may grow between two calls (another thread's failure): retry a few times.
    for (int tries = 0; s == WASMCELL_ERR_BUFFER_TOO_SMALL && tries < 4; tries++) {
        out.assign(len + 1, '\0');
        s = read(&out[0], out.size(), &len);
    }
    if (s == WASMCELL_OK) {
        out.resize(len);
    } else {
        out.clear();
    }
    return s;
}

/** This thread's message of the call that just failed. */
inline std::string last_error() {
    std::string message;
    read_string([](char *buf, size_t cap, size_t *len) { return wasmcell_last_error(buf, cap, len); }, message);
    return message;
}

[[noreturn]] inline void fail(wasmcell_status status) { throw Error(status, last_error()); }

inline void check(wasmcell_status status) {
    if (status != WASMCELL_OK) {
        fail(status);
    }
}

/** Sets a host error message, replacing bytes wasmcell refuses (not UTF-8)
 *  with '?'. Never throws. */
inline void set_call_error(wasmcell_call *call, const char *message) noexcept {
    if (wasmcell_call_set_error(call, message) == WASMCELL_OK) {
        return;
    }
    try {
        std::string ascii(message);
        for (char &c : ascii) {
            if (static_cast<unsigned char>(c) >= 0x80) {
                c = '?';
            }
        }
        wasmcell_call_set_error(call, ascii.c_str());
    } catch (...) {
        wasmcell_call_set_error(call, "C++ exception (message unavailable)");
    }
}

} // namespace detail

/** The call a host callable serves; declare it as the callable's first
 *  parameter (wasmcell::Call &) to use it. Valid only during the call, on
 *  the callback's thread. */
class Call {
public:
    explicit Call(wasmcell_call *call) noexcept : call_(call) {}

    /** The name the calling program was loaded with. Throws Error. */
    std::string program_name() const {
        std::string name;
        detail::check(detail::read_string(
            [this](char *buf, size_t cap, size_t *len) { return wasmcell_call_program_name(call_, buf, cap, len); },
            name));
        return name;
    }
    /** The calling program's C handle (nullptr during the init of a load);
     *  do not unload it from here. Throws Error. */
    wasmcell_program *program() const {
        wasmcell_program *p = nullptr;
        detail::check(wasmcell_call_program(call_, &p));
        return p;
    }
    /** The calling program's whole linear memory (empty if it exports none).
     *  Throws Error. */
    Bytes memory() const {
        uint8_t *data = nullptr;
        size_t len = 0;
        detail::check(wasmcell_call_memory(call_, &data, &len));
        return Bytes(data, len);
    }
    wasmcell_call *get() const noexcept { return call_; }

private:
    wasmcell_call *call_;
};

namespace detail {

template <class T, class = void>
struct val;  // a type a host callable cannot take or return: see the static_asserts in trampoline

template <class T>
struct is_plain_int
    : std::bool_constant<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                         !std::is_same_v<T, signed char> && !std::is_same_v<T, unsigned char> &&
                         !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> &&
                         !std::is_same_v<T, char32_t>> {};
template <class T>
struct has_wasm_size : std::bool_constant<sizeof(T) == 4 || sizeof(T) == 8> {};
/** Integer types passed as wasm i32/i64: 4 or 8 bytes, not bool or characters. */
template <class T>
struct is_wasm_int : std::conjunction<is_plain_int<T>, has_wasm_size<T>> {};

template <class T>
struct val<T, std::enable_if_t<is_wasm_int<T>::value && sizeof(T) == 4>> {
    static constexpr const char *code = "i";
    static constexpr bool result_ok = true;
    static T get(const wasmcell_val &v) noexcept { return static_cast<T>(v.i32); }
    static void put(wasmcell_val &v, T x) noexcept { v.i32 = static_cast<int32_t>(x); }
};
template <class T>
struct val<T, std::enable_if_t<is_wasm_int<T>::value && sizeof(T) == 8>> {
    static constexpr const char *code = "I";
    static constexpr bool result_ok = true;
    static T get(const wasmcell_val &v) noexcept { return static_cast<T>(v.i64); }
    static void put(wasmcell_val &v, T x) noexcept { v.i64 = static_cast<int64_t>(x); }
};
template <>
struct val<float> {
    static constexpr const char *code = "f";
    static constexpr bool result_ok = true;
    static float get(const wasmcell_val &v) noexcept { return v.f32; }
    static void put(wasmcell_val &v, float x) noexcept { v.f32 = x; }
};
template <>
struct val<double> {
    static constexpr const char *code = "F";
    static constexpr bool result_ok = true;
    static double get(const wasmcell_val &v) noexcept { return v.f64; }
    static void put(wasmcell_val &v, double x) noexcept { v.f64 = x; }
};
template <>
struct val<Bytes> {
    static constexpr const char *code = "*~";
    static constexpr bool result_ok = false;
    static Bytes get(const wasmcell_val &v) noexcept { return Bytes(v.buf.ptr, v.buf.len); }
};

template <class T, class = void>
struct has_val : std::false_type {};
template <class T>
struct has_val<T, std::void_t<decltype(val<T>::code)>> : std::true_type {};

template <class T, class = void>
struct is_result : std::false_type {};
template <class T>
struct is_result<T, std::enable_if_t<val<T>::result_ok>> : std::true_type {};

/** Parameter and result types of a callable with one fixed signature. */
template <class F, class = void>
struct callable {
    static constexpr bool ok = false;
};
template <class R, class... A>
struct callable<R (*)(A...)> {
    static constexpr bool ok = true;
    using result = R;
    using args = std::tuple<A...>;
};
template <class R, class... A>
struct callable<R (*)(A...) noexcept> : callable<R (*)(A...)> {};
template <class R, class... A>
struct callable<R(A...)> : callable<R (*)(A...)> {};
template <class R, class... A>
struct callable<R(A...) noexcept> : callable<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable<R (C::*)(A...)> : callable<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable<R (C::*)(A...) const> : callable<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable<R (C::*)(A...) noexcept> : callable<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable<R (C::*)(A...) const noexcept> : callable<R (*)(A...)> {};
template <class F>
struct callable<F, std::void_t<decltype(&F::operator())>> : callable<decltype(&F::operator())> {};

template <class F, class R, class Args>
struct host_adapter;

template <class F, class R, class... A>
struct host_adapter<F, R, std::tuple<A...>> {
    // A leading Call& is the call context, not a wasm parameter.
    template <class T, class... Rest>
    static constexpr bool leads_with_call() {
        return std::is_same_v<std::decay_t<T>, Call>;
    }
    static constexpr bool with_call = [] {
        if constexpr (sizeof...(A) == 0) {
            return false;
        } else {
            return leads_with_call<A...>();
        }
    }();

    template <class Tuple, size_t... I>
    static auto drop_first(std::index_sequence<I...>) -> std::tuple<std::tuple_element_t<I + 1, Tuple>...>;
    using wasm_args = std::conditional_t<with_call,
                                         decltype(drop_first<std::tuple<A...>>(
                                             std::make_index_sequence<(sizeof...(A) > 0 ? sizeof...(A) - 1 : 0)>())),
                                         std::tuple<A...>>;
};

template <class Fn, class R, class WasmArgs>
struct trampoline;

template <class Fn, class R, class... W>
struct trampoline<Fn, R, std::tuple<W...>> {
    static_assert((has_val<std::decay_t<W>>::value && ...),
                  "wasmcell: host function parameters must be int32_t, int64_t (or another 4- or 8-byte "
                  "integer), float, double or wasmcell::Bytes, after an optional leading wasmcell::Call&");
    static_assert(std::disjunction_v<std::is_void<R>, is_result<std::decay_t<R>>>,
                  "wasmcell: a host function returns void, int32_t, int64_t (or another 4- or 8-byte integer), "
                  "float or double");

    static std::string signature() {
        std::string sig = "(";
        ((sig += val<std::decay_t<W>>::code), ...);
        sig += ")";
        if constexpr (!std::is_void_v<R>) {
            sig += val<std::decay_t<R>>::code;
        }
        return sig;
    }

    template <bool WithCall, size_t... I>
    static void invoke(Fn &fn, Call &call, const wasmcell_val *args, wasmcell_val *results, std::index_sequence<I...>) {
        (void)args;
        (void)results;
        if constexpr (WithCall) {
            if constexpr (std::is_void_v<R>) {
                fn(call, val<std::decay_t<W>>::get(args[I])...);
            } else {
                val<std::decay_t<R>>::put(results[0], fn(call, val<std::decay_t<W>>::get(args[I])...));
            }
        } else {
            (void)call;
            if constexpr (std::is_void_v<R>) {
                fn(val<std::decay_t<W>>::get(args[I])...);
            } else {
                val<std::decay_t<R>>::put(results[0], fn(val<std::decay_t<W>>::get(args[I])...));
            }
        }
    }

    template <bool WithCall>
    static int32_t call(void *user_data, wasmcell_call *c, const wasmcell_val *args, size_t nargs,
                        wasmcell_val *results, size_t nresults) noexcept {
        try {
            if (nargs != sizeof...(W) || nresults != (std::is_void_v<R> ? 0u : 1u)) {
                detail::set_call_error(c, "wasmcell.hpp: argument count differs from the deduced signature");
                return 1;
            }
            Call call(c);
            invoke<WithCall>(*static_cast<Fn *>(user_data), call, args, results, std::index_sequence_for<W...>());
            return 0;
        } catch (const HostError &e) {
            detail::set_call_error(c, e.what());
            return e.code();
        } catch (const std::exception &e) {
            detail::set_call_error(c, e.what());
            return 1;
        } catch (...) {
            detail::set_call_error(c, "unknown C++ exception");
            return 1;
        }
    }

    static void destroy(void *user_data) noexcept { delete static_cast<Fn *>(user_data); }
};

struct LogSink {
    std::function<void(std::string_view, wasmcell_log_level, std::string_view)> fn;
    static void call(void *user_data, const char *program, wasmcell_log_level level, const char *message,
                     size_t len) noexcept {
        try {
            static_cast<LogSink *>(user_data)->fn(program ? std::string_view(program) : std::string_view(), level,
                                                  std::string_view(message, message ? len : 0));
        } catch (...) {
            // A log sink must not unwind into wasmcell: the line is dropped.
        }
    }
};

struct Clock {
    std::function<int64_t()> fn;
    std::atomic<int64_t> last{0};
    static int64_t call(void *user_data) noexcept {
        auto *self = static_cast<Clock *>(user_data);
        try {
            int64_t now = self->fn();
            self->last.store(now, std::memory_order_relaxed);
            return now;
        } catch (...) {
            return self->last.load(std::memory_order_relaxed);  // never unwinds, never goes backwards
        }
    }
};

} // namespace detail

/** One signal of a program's process image (see Program::signals). */
struct Signal {
    std::string name;
    uint32_t id = 0;                  // for get_*/set_* by id; stale after a reset or reload that changes the table
    wasmcell_area area = 0;           // WASMCELL_AREA_INPUT, _OUTPUT or _RETAIN
    wasmcell_signal_type type = 0;    // WASMCELL_SIGNAL_*
    uint32_t offset = 0;              // byte offset inside its area
};

class Program;

/** A prepared hot swap (Program::prepare_reload): compiled and instantiated,
 *  waiting for Program::commit_reload. Discarded by its destructor if never
 *  committed. Movable, not copyable. */
class Reload {
public:
    Reload() noexcept = default;
    explicit Reload(wasmcell_reload *r) noexcept : r_(r) {}
    ~Reload() {
        if (r_ != nullptr) {
            wasmcell_reload_discard(r_);
        }
    }
    Reload(Reload &&o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    Reload &operator=(Reload &&o) noexcept {
        if (this != &o) {
            if (r_ != nullptr) {
                wasmcell_reload_discard(r_);
            }
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    Reload(const Reload &) = delete;
    Reload &operator=(const Reload &) = delete;

    explicit operator bool() const noexcept { return r_ != nullptr; }
    wasmcell_reload *get() const noexcept { return r_; }
    wasmcell_reload *release() noexcept { return std::exchange(r_, nullptr); }

private:
    wasmcell_reload *r_ = nullptr;
};

/** One loaded guest (created by Runtime::load / load_file). The destructor
 *  unloads it, waiting for a poll running on another thread. */
class Program {
public:
    Program() noexcept = default;
    /** Adopts a C handle (the Program unloads it). */
    explicit Program(wasmcell_program *p) noexcept : p_(p) {}
    ~Program() {
        if (p_ != nullptr) {
            wasmcell_program_unload(p_);
        }
    }
    Program(Program &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Program &operator=(Program &&o) noexcept {
        if (this != &o) {
            if (p_ != nullptr) {
                wasmcell_program_unload(p_);
            }
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Program(const Program &) = delete;
    Program &operator=(const Program &) = delete;

    /** Runs one cycle. Throws Error: WASMCELL_ERR_TRAP, _BUDGET, _HOST,
     *  _GUEST_FAULT (the program is now FAULTED; error() keeps the message),
     *  _FAULTED (it already was), _BUSY (from one of its own callbacks). */
    void poll() { detail::check(wasmcell_program_poll(p_)); }
    /** poll() without exceptions: returns the status; the message is error(). */
    wasmcell_status try_poll() noexcept { return wasmcell_program_poll(p_); }

    /** Fresh instance of the current module, clearing a fault. Throws Error. */
    void reset() { detail::check(wasmcell_program_reset(p_)); }

    /** Hot swap to new code (wasm bytes or WAT text), compiled on this thread
     *  while other threads keep polling; on failure the old version keeps
     *  running and Error is thrown (_COMPILE, _LINK, _INSTANTIATE, _LIMIT...). */
    void reload(const std::vector<uint8_t> &bytes) { reload(bytes.data(), bytes.size()); }
    void reload(const std::string &module) { reload(module.data(), module.size()); }
    void reload(const void *data, size_t len) {
        detail::check(wasmcell_program_reload(p_, static_cast<const uint8_t *>(data), len));
    }

    /** The slow half of a hot swap (any thread): compile and instantiate the
     *  new code without touching the running version. Throws Error. */
    Reload prepare_reload(const std::vector<uint8_t> &bytes) { return prepare_reload(bytes.data(), bytes.size()); }
    Reload prepare_reload(const std::string &module) { return prepare_reload(module.data(), module.size()); }
    Reload prepare_reload(const void *data, size_t len) {
        wasmcell_reload *r = nullptr;
        detail::check(wasmcell_program_prepare_reload(p_, static_cast<const uint8_t *>(data), len, &r));
        return Reload(r);
    }
    /** The fast half (between two polls): swaps the prepared version in.
     *  Consumes `reload` (also on failure). Throws Error. */
    void commit_reload(Reload &&reload) {
        wasmcell_reload *r = reload.release();
        detail::check(wasmcell_program_commit_reload(p_, r));
    }

    /** Unloads now (the destructor would); the object becomes empty. Throws
     *  Error (_BUSY from its own callback, _INVALID_HANDLE). */
    void unload() {
        detail::check(wasmcell_program_unload(p_));
        p_ = nullptr;
    }

    /** READY or FAULTED. Throws Error. */
    State state() const {
        wasmcell_state s = 0;
        detail::check(wasmcell_program_state(p_, &s));
        return static_cast<State>(s);
    }
    bool faulted() const { return state() == State::faulted; }
    /** What faulted it (WASMCELL_FAULT_*; WASMCELL_FAULT_NONE if not faulted). Throws Error. */
    wasmcell_fault fault_kind() const {
        wasmcell_fault kind = 0;
        detail::check(wasmcell_program_fault_kind(p_, &kind));
        return kind;
    }
    /** The message of the last call on this program that failed (a poll that
     *  faulted leaves the fault's), "" if none or after a successful reset or
     *  reload. Throws Error. */
    std::string error() const { return text(wasmcell_program_error); }
    /** The fault's own message while FAULTED, kept whatever else fails
     *  meanwhile; "" otherwise. Throws Error. */
    std::string fault_message() const { return text(wasmcell_program_fault_message); }
    /** What happened to the retain area at the last reset or reload. Throws Error. */
    std::string notice() const { return text(wasmcell_program_notice); }
    /** The name it was loaded with. Throws Error. */
    std::string name() const { return text(wasmcell_program_name); }
    /** Poll counters and durations. Throws Error. */
    wasmcell_stats stats() const {
        wasmcell_stats s{};
        detail::check(wasmcell_program_stats(p_, &s));
        return s;
    }

    /** Instruction budget per poll (> 0), from the next poll on. Throws Error. */
    void set_fuel(uint64_t per_poll) { detail::check(wasmcell_program_set_fuel(p_, per_poll)); }
    /** Linear memory limit in bytes, applied at the next reset or reload. Throws Error. */
    void set_memory_limit(uint64_t bytes) { detail::check(wasmcell_program_set_memory_limit(p_, bytes)); }
    /** Table size limit (elements), applied at the next reset or reload. Throws Error. */
    void set_table_limit(uint32_t max_elements) { detail::check(wasmcell_program_set_table_limit(p_, max_elements)); }

    // ---- process image ----------------------------------------------------

    /** Size in bytes of an area (WASMCELL_AREA_*), 0 if not declared. Throws Error. */
    size_t image_size(wasmcell_area area) const {
        size_t len = 0;
        detail::check(wasmcell_program_image_size(p_, area, &len));
        return len;
    }
    /** Copies bytes into the input area at `offset` (seen by the next poll). Throws Error. */
    void write_inputs(size_t offset, const void *data, size_t len) {
        detail::check(wasmcell_program_write_inputs(p_, offset, static_cast<const uint8_t *>(data), len));
    }
    /** Copies published outputs (last good poll) at `offset`; returns that
     *  poll's number (0: none succeeded yet). Throws Error. */
    uint64_t read_outputs(size_t offset, void *data, size_t len) const {
        uint64_t poll = 0;
        detail::check(wasmcell_program_read_outputs(p_, offset, static_cast<uint8_t *>(data), len, &poll));
        return poll;
    }
    /** All declared signals. Throws Error. */
    std::vector<Signal> signals() const {
        size_t count = 0;
        detail::check(wasmcell_program_signal_count(p_, &count));
        std::vector<Signal> out(count);
        for (size_t i = 0; i < count; i++) {
            Signal &s = out[i];
            detail::check(detail::read_string(
                [&](char *buf, size_t cap, size_t *len) {
                    return wasmcell_program_signal_info(p_, i, buf, cap, len, &s.id, &s.area, &s.type, &s.offset);
                },
                s.name));
        }
        return out;
    }
    /** Looks a signal up by name (once, outside the control loop). Throws
     *  Error (WASMCELL_ERR_NOT_FOUND). */
    Signal signal(const std::string &name) const {
        Signal s;
        detail::check(wasmcell_program_signal_lookup(p_, name.c_str(), &s.id, &s.area, &s.type, &s.offset));
        s.name = name;
        return s;
    }
    /** A signal's id by name. Throws Error (WASMCELL_ERR_NOT_FOUND). */
    uint32_t signal_id(const std::string &name) const {
        uint32_t id = 0;
        detail::check(wasmcell_program_signal_lookup(p_, name.c_str(), &id, nullptr, nullptr, nullptr));
        return id;
    }
    /** Reads a signal as a double: inputs as written, outputs as last
     *  published, retain from the guest. Throws Error. */
    double get_f64(uint32_t id) const {
        double v = 0;
        detail::check(wasmcell_program_signal_get_f64(p_, id, &v));
        return v;
    }
    double get_f64(const std::string &name) const { return get_f64(signal_id(name)); }
    /** Reads an integer or bool signal exactly. Throws Error. */
    int64_t get_i64(uint32_t id) const {
        int64_t v = 0;
        detail::check(wasmcell_program_signal_get_i64(p_, id, &v));
        return v;
    }
    int64_t get_i64(const std::string &name) const { return get_i64(signal_id(name)); }
    /** Sets an input signal (range-checked; seen by the next poll). Throws Error. */
    void set_f64(uint32_t id, double value) { detail::check(wasmcell_program_signal_set_f64(p_, id, value)); }
    void set_f64(const std::string &name, double value) { set_f64(signal_id(name), value); }
    void set_i64(uint32_t id, int64_t value) { detail::check(wasmcell_program_signal_set_i64(p_, id, value)); }
    void set_i64(const std::string &name, int64_t value) { set_i64(signal_id(name), value); }

    // ---- the C handle ---------------------------------------------------------

    explicit operator bool() const noexcept { return p_ != nullptr; }
    wasmcell_program *get() const noexcept { return p_; }
    /** Gives up ownership: the caller unloads the returned handle. */
    wasmcell_program *release() noexcept { return std::exchange(p_, nullptr); }

private:
    template <class Read>
    std::string text(Read read) const {
        std::string out;
        detail::check(detail::read_string(
            [&](char *buf, size_t cap, size_t *len) { return read(p_, buf, cap, len); }, out));
        return out;
    }

    wasmcell_program *p_ = nullptr;
};

/** Host functions, log sink, clock and default limits shared by the programs
 *  loaded into it. The destructor frees it, unloading its programs. */
class Runtime {
public:
    /** A runtime with safe default limits. Throws Error. */
    Runtime() { detail::check(wasmcell_runtime_new(&rt_)); }
    /** Adopts a C handle (the Runtime frees it). */
    explicit Runtime(wasmcell_runtime *rt) noexcept : rt_(rt) {}
    ~Runtime() { free_handle(); }
    Runtime(Runtime &&o) noexcept
        : rt_(std::exchange(o.rt_, nullptr)), log_(std::move(o.log_)), clock_(std::move(o.clock_)) {}
    Runtime &operator=(Runtime &&o) noexcept {
        if (this != &o) {
            free_handle();
            rt_ = std::exchange(o.rt_, nullptr);
            log_ = std::move(o.log_);
            clock_ = std::move(o.clock_);
        }
        return *this;
    }
    Runtime(const Runtime &) = delete;
    Runtime &operator=(const Runtime &) = delete;

    // ---- programs --------------------------------------------------------

    /** Loads a program from wasm bytes or WAT text: compiles (milliseconds:
     *  keep it out of a real-time thread), links, instantiates, runs its init.
     *  Throws Error (_COMPILE, _LINK, _INSTANTIATE, _LIMIT, _INVALID_ARGUMENT). */
    Program load(const std::string &name, const std::vector<uint8_t> &bytes) {
        return load(name, bytes.data(), bytes.size());
    }
    Program load(const std::string &name, const std::string &module) {
        return load(name, module.data(), module.size());
    }
    Program load(const std::string &name, const void *data, size_t len) {
        wasmcell_program *p = nullptr;
        detail::check(wasmcell_program_load(rt_, name.c_str(), static_cast<const uint8_t *>(data), len, &p));
        return Program(p);
    }
    /** Loads a .wasm or .wat file. Throws Error (as load, plus _NOT_FOUND, _IO). */
    Program load_file(const std::string &name, const std::string &path) {
        wasmcell_program *p = nullptr;
        detail::check(wasmcell_program_load_file(rt_, name.c_str(), path.c_str(), &p));
        return Program(p);
    }

    // ---- host functions -----------------------------------------------------

    /** Registers a callable that guests import as module.name, its signature
     *  deduced from its parameter and result types (see the top of this file).
     *  The callable is moved (or copied) into the runtime and destroyed when
     *  the runtime is freed; what it captures by reference must outlive the
     *  runtime. Visible to programs loaded, reset or reloaded afterwards.
     *  Throws Error (_INVALID_ARGUMENT: already defined, empty names). */
    template <class F>
    void define(const std::string &module, const std::string &name, F &&fn) {
        using Fn = std::decay_t<F>;
        using traits = detail::callable<Fn>;
        static_assert(traits::ok,
                      "wasmcell: define() needs a callable with one fixed signature (a lambda without auto "
                      "parameters, a function pointer, a functor with one operator())");
        using adapter = detail::host_adapter<Fn, typename traits::result, typename traits::args>;
        using tramp = detail::trampoline<Fn, typename traits::result, typename adapter::wasm_args>;
        std::unique_ptr<Fn> holder(new Fn(std::forward<F>(fn)));
        const std::string sig = tramp::signature();
        detail::check(wasmcell_runtime_define(rt_, module.c_str(), name.c_str(), sig.c_str(),
                                              &tramp::template call<adapter::with_call>, holder.get(),
                                              &tramp::destroy));
        holder.release();  // owned by the runtime now: tramp::destroy frees it
    }
    /** The signature define() deduces for a callable type, e.g. "(i)F". */
    template <class F>
    static std::string signature_of() {
        using Fn = std::decay_t<F>;
        using traits = detail::callable<Fn>;
        static_assert(traits::ok, "wasmcell: signature_of() needs a callable with one fixed signature");
        using adapter = detail::host_adapter<Fn, typename traits::result, typename traits::args>;
        return detail::trampoline<Fn, typename traits::result, typename adapter::wasm_args>::signature();
    }
    /** The C form: an explicit signature, a C callback, its user_data and the
     *  function that frees it (see wasmcell_runtime_define). Throws Error. */
    void define(const std::string &module, const std::string &name, const std::string &signature,
                wasmcell_host_fn fn, void *user_data, wasmcell_free_fn free_fn) {
        detail::check(
            wasmcell_runtime_define(rt_, module.c_str(), name.c_str(), signature.c_str(), fn, user_data, free_fn));
    }

    // ---- guest output and time -------------------------------------------------

    /** Where guest print/log lines go: fn(program, level, message), called on
     *  polling threads (concurrently when programs poll on several threads);
     *  the views are valid during the call only. An empty function restores
     *  the default (standard error). Exceptions from fn drop the line. The
     *  previous function is destroyed once no thread is inside it. Throws
     *  Error (WASMCELL_ERR_BUSY from inside a callback or the sink itself). */
    void set_log(std::function<void(std::string_view program, wasmcell_log_level level, std::string_view message)> fn) {
        std::unique_ptr<detail::LogSink> sink;
        if (fn) {
            sink.reset(new detail::LogSink{std::move(fn)});
            detail::check(wasmcell_runtime_set_log(rt_, &detail::LogSink::call, sink.get()));
        } else {
            detail::check(wasmcell_runtime_set_log(rt_, nullptr, nullptr));
        }
        log_ = std::move(sink);  // wasmcell no longer uses the old one: destroyed here
    }
    /** The clock guests read through wasmcell.now_ns (nanoseconds, never
     *  going backwards), called on polling threads; an empty function
     *  restores the default monotonic clock. If fn throws, the last value is
     *  returned. Throws Error (WASMCELL_ERR_BUSY from inside a callback). */
    void set_clock(std::function<int64_t()> fn) {
        std::unique_ptr<detail::Clock> clock;
        if (fn) {
            clock.reset(new detail::Clock());
            clock->fn = std::move(fn);
            detail::check(wasmcell_runtime_set_clock(rt_, &detail::Clock::call, clock.get()));
        } else {
            detail::check(wasmcell_runtime_set_clock(rt_, nullptr, nullptr));
        }
        clock_ = std::move(clock);
    }

    // ---- limits and cache (for programs loaded from now on) -------------------------

    /** Instruction budget per poll (> 0). Throws Error. */
    void set_default_fuel(uint64_t per_poll) { detail::check(wasmcell_runtime_set_default_fuel(rt_, per_poll)); }
    /** Deadline mode for programs loaded from now on (0: the instruction
     *  budget): no instruction count, every call into the guest stopped by
     *  the watchdog after `deadline_ns`. See wasmcell_runtime_set_default_deadline.
     *  Throws Error. */
    void set_default_deadline(uint64_t deadline_ns) {
        detail::check(wasmcell_runtime_set_default_deadline(rt_, deadline_ns));
    }
    /** Linear memory limit in bytes. Throws Error. */
    void set_default_memory_limit(uint64_t bytes) {
        detail::check(wasmcell_runtime_set_default_memory_limit(rt_, bytes));
    }
    /** Largest module accepted by load and reload (> 0). Throws Error. */
    void set_max_module_size(uint64_t bytes) { detail::check(wasmcell_runtime_set_max_module_size(rt_, bytes)); }
    /** Wasm stack size in bytes (clamped to 8 KiB .. 100 MiB). Throws Error. */
    void set_default_stack_size(uint64_t bytes) {
        detail::check(wasmcell_runtime_set_default_stack_size(rt_, bytes));
    }
    /** Largest table (elements) of programs loaded from now on: larger initial
     *  tables fail to load with WASMCELL_ERR_LIMIT, table.grow past it
     *  returns -1 in the guest. Throws Error. */
    void set_default_table_limit(uint32_t max_elements) {
        detail::check(wasmcell_runtime_set_default_table_limit(rt_, max_elements));
    }
    /** Deepest block/loop/if nesting of a function, checked before compiling
     *  (WASMCELL_ERR_LIMIT). Throws Error. */
    void set_nesting_limit(uint32_t max_depth) { detail::check(wasmcell_runtime_set_nesting_limit(rt_, max_depth)); }
    /** Shape limits checked before compiling (functions, imports, table
     *  elements). Throws Error. */
    void set_module_limits(uint32_t max_functions, uint32_t max_imports, uint32_t max_table_elements) {
        detail::check(wasmcell_runtime_set_module_limits(rt_, max_functions, max_imports, max_table_elements));
    }
    /** Keeps compiled modules in `path` too (validated before use). Throws Error. */
    void set_cache_dir(const std::string &path) { detail::check(wasmcell_runtime_set_cache_dir(rt_, path.c_str())); }
    /** Turns the disk cache off. Throws Error. */
    void disable_cache_dir() { detail::check(wasmcell_runtime_set_cache_dir(rt_, nullptr)); }
    /** Compile and cache-hit counters. Throws Error. */
    wasmcell_cache_stats cache_stats() const {
        wasmcell_cache_stats s{};
        detail::check(wasmcell_runtime_cache_stats(rt_, &s));
        return s;
    }
    /** The message of the last failed call on this runtime (any thread). Throws Error. */
    std::string error() const {
        std::string out;
        detail::check(detail::read_string(
            [this](char *buf, size_t cap, size_t *len) { return wasmcell_runtime_error(rt_, buf, cap, len); }, out));
        return out;
    }

    // ---- the C handle ---------------------------------------------------------

    explicit operator bool() const noexcept { return rt_ != nullptr; }
    wasmcell_runtime *get() const noexcept { return rt_; }
    /** Gives up ownership: the caller frees the returned handle, and must keep
     *  this object alive until then if set_log or set_clock was used (they
     *  hold the functions). */
    wasmcell_runtime *release() noexcept { return std::exchange(rt_, nullptr); }

private:
    void free_handle() noexcept {
        if (rt_ == nullptr) {
            return;
        }
        if (wasmcell_runtime_free(rt_) != WASMCELL_OK) {
            // Not freed (e.g. called from one of its own callbacks): the runtime
            // may still call the log sink and clock, so they must live on.
            (void)log_.release();
            (void)clock_.release();
        }
        rt_ = nullptr;
    }

    wasmcell_runtime *rt_ = nullptr;
    std::unique_ptr<detail::LogSink> log_;
    std::unique_ptr<detail::Clock> clock_;
};

} // namespace wasmcell

#endif /* WASMCELL_HPP */
