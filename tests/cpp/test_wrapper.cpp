// Tests of the C++17 wrapper include/wasmcell.hpp against the real library.
//
// Usage: test_wrapper [fixtures-dir] [guest-dir]
// (defaults: tests/fixtures and guest, from the repository root)
#include "check.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace {

std::string fixtures = "tests/fixtures";
std::string guests = "guest";

std::string fixture(const std::string &name) { return fixtures + "/" + name; }

std::vector<uint8_t> read_bytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every wrapper type owns a handle: movable, never copyable.
static_assert(!std::is_copy_constructible_v<wasmcell::Runtime>);
static_assert(!std::is_copy_assignable_v<wasmcell::Runtime>);
static_assert(std::is_nothrow_move_constructible_v<wasmcell::Runtime>);
static_assert(std::is_nothrow_move_assignable_v<wasmcell::Runtime>);
static_assert(!std::is_copy_constructible_v<wasmcell::Program>);
static_assert(!std::is_copy_assignable_v<wasmcell::Program>);
static_assert(std::is_nothrow_move_constructible_v<wasmcell::Program>);
static_assert(std::is_nothrow_move_assignable_v<wasmcell::Program>);
static_assert(!std::is_copy_constructible_v<wasmcell::Reload>);
static_assert(std::is_nothrow_move_constructible_v<wasmcell::Reload>);
static_assert(std::is_base_of_v<std::runtime_error, wasmcell::Error>);
static_assert(std::is_nothrow_copy_constructible_v<wasmcell::Error>);

const char *const kEmpty = "(module (func (export \"poll\")))";

void test_version() {
    CHECK_EQ(wasmcell::version_number(), static_cast<uint32_t>(WASMCELL_VERSION_NUMBER));
    std::string expected = std::to_string(WASMCELL_VERSION_MAJOR) + "." + std::to_string(WASMCELL_VERSION_MINOR) +
                           "." + std::to_string(WASMCELL_VERSION_PATCH);
    CHECK_EQ(std::string(wasmcell::version()), expected);
    CHECK_EQ(std::string(wasmcell::status_str(WASMCELL_OK)), std::string("ok"));
}

void test_signature_deduction() {
    using wasmcell::Runtime;
    CHECK_EQ(Runtime::signature_of<double (*)(int32_t)>(), std::string("(i)F"));
    CHECK_EQ(Runtime::signature_of<void (*)(int32_t, int32_t)>(), std::string("(ii)"));
    CHECK_EQ(Runtime::signature_of<int32_t (*)(wasmcell::Bytes)>(), std::string("(*~)i"));
    CHECK_EQ(Runtime::signature_of<int64_t (*)(wasmcell::Call &, int64_t, float, double)>(), std::string("(IfF)I"));
    CHECK_EQ(Runtime::signature_of<float (*)(uint32_t, uint64_t, const wasmcell::Bytes &)>(), std::string("(iI*~)f"));
    CHECK_EQ(Runtime::signature_of<void (*)()>(), std::string("()"));
    auto lambda = [](int32_t channel) -> double { return channel * 0.5; };
    CHECK_EQ(Runtime::signature_of<decltype(lambda)>(), std::string("(i)F"));
    auto mutable_lambda = [n = 0](wasmcell::Call &, int32_t) mutable noexcept { n++; };
    CHECK_EQ(Runtime::signature_of<decltype(mutable_lambda)>(), std::string("(i)"));
    std::function<int32_t(int64_t)> fn = [](int64_t x) { return static_cast<int32_t>(x); };
    CHECK_EQ(Runtime::signature_of<decltype(fn)>(), std::string("(I)i"));
}

void test_load_and_poll() {
    wasmcell::Runtime rt;
    // WAT text as std::string, and as a string literal
    wasmcell::Program a = rt.load("a", std::string(kEmpty));
    wasmcell::Program b = rt.load("b", kEmpty);
    // bytes as std::vector<uint8_t>, and as pointer + length
    std::vector<uint8_t> bytes(kEmpty, kEmpty + std::strlen(kEmpty));
    wasmcell::Program c = rt.load("c", bytes);
    wasmcell::Program d = rt.load("d", bytes.data(), bytes.size());
    // a file
    wasmcell::Program e = rt.load_file("e", fixture("hello.wat"));
    rt.set_log([](std::string_view, wasmcell_log_level, std::string_view) {});  // keep the output quiet

    for (wasmcell::Program *p : {&a, &b, &c, &d, &e}) {
        CHECK(static_cast<bool>(*p));
        p->poll();
        p->poll();
        CHECK(p->state() == wasmcell::State::ready);
        CHECK(!p->faulted());
        CHECK_EQ(p->fault_kind(), WASMCELL_FAULT_NONE);
        CHECK_EQ(p->stats().polls, uint64_t{2});
        CHECK_EQ(p->try_poll(), WASMCELL_OK);
    }
    CHECK_EQ(a.name(), std::string("a"));
    CHECK_EQ(e.name(), std::string("e"));
    CHECK_EQ(a.error(), std::string(""));
}

void test_load_errors() {
    wasmcell::Runtime rt;
    std::string what = CHECK_THROWS(WASMCELL_ERR_COMPILE, rt.load("bad", std::string("(module (func")));
    CHECK_CONTAINS(what, wasmcell_status_str(WASMCELL_ERR_COMPILE));
    what = CHECK_THROWS(WASMCELL_ERR_LINK, rt.load_file("missing", fixture("missing_import.wat")));
    CHECK_CONTAINS(what, "import");
    CHECK_CONTAINS(rt.error(), "import");  // also kept on the runtime
    CHECK_THROWS(WASMCELL_ERR_NOT_FOUND, rt.load_file("nofile", fixture("no-such-file.wat")));
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, rt.load("", std::string(kEmpty)));
    CHECK_THROWS(WASMCELL_ERR_LINK, rt.load_file("nopoll", fixture("no_poll.wat")));
    CHECK_THROWS(WASMCELL_ERR_INSTANTIATE, rt.load_file("init", fixture("init_trap.wat")));
    // the wasmcell::Error carries status and message separately
    try {
        rt.load("bad", std::string("not wasm"));
        CHECK(false);
    } catch (const wasmcell::Error &error) {
        CHECK_EQ(error.status(), WASMCELL_ERR_COMPILE);
        CHECK(!error.message().empty());
        CHECK_EQ(std::string(error.what()),
                 std::string(wasmcell_status_str(WASMCELL_ERR_COMPILE)) + ": " + error.message());
    }
}

void test_host_lambdas() {
    wasmcell::Runtime rt;
    double room = 18.0;
    std::vector<int32_t> channels;
    std::vector<int32_t> actuator;
    rt.define("plant", "read_sensor", [&](int32_t channel) -> double {
        channels.push_back(channel);
        return room;
    });
    rt.define("plant", "set_actuator", [&](int32_t channel, int32_t on) {
        channels.push_back(channel);
        actuator.push_back(on);
    });
    rt.set_log([](std::string_view, wasmcell_log_level, std::string_view) {});
    wasmcell::Program p = rt.load_file("thermostat", guests + "/thermostat_v1.wat");
    p.poll();  // 18.0 < 20.0: heater on
    room = 25.0;
    p.poll();  // off
    CHECK_EQ(actuator.size(), size_t{2});
    CHECK_EQ(actuator.at(0), 1);
    CHECK_EQ(actuator.at(1), 0);
    CHECK_EQ(channels.size(), size_t{4});
    for (int32_t ch : channels) {
        CHECK_EQ(ch, 0);
    }
    // defining the same import twice is refused
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, rt.define("plant", "read_sensor", [](int32_t) -> double { return 0; }));
}

void test_buffers_and_call() {
    wasmcell::Runtime rt;
    std::string sent;
    std::string caller;
    size_t memory_size = 0;
    rt.define("plant", "read_sensor", [](int32_t) -> double { return 60.0; });
    int32_t actuator = -1;
    rt.define("plant", "set_actuator", [&](int32_t, int32_t on) { actuator = on; });
    rt.define("plant", "send", [&](wasmcell::Call &call, wasmcell::Bytes message) -> int32_t {
        sent = message.str();
        caller = call.program_name();
        memory_size = call.memory().size();
        CHECK(call.program() != nullptr);
        // the buffer lies inside the guest's memory
        CHECK(message.data() >= call.memory().data());
        CHECK(message.end() <= call.memory().end());
        return static_cast<int32_t>(message.size());
    });
    wasmcell::Program p = rt.load_file("cb", fixture("callbacks.wat"));
    p.poll();
    CHECK_EQ(sent, std::string("cycle"));
    CHECK_EQ(caller, std::string("cb"));
    CHECK_EQ(memory_size, size_t{65536});
    CHECK_EQ(actuator, 1);
}

void test_all_value_types() {
    // i32, i64, f32 and f64 in both directions, and the Call& context.
    const char *wat = R"((module
      (import "t" "mix" (func $mix (param i32 i64 f32 f64) (result i64)))
      (import "t" "half" (func $half (param f32) (result f32)))
      (import "t" "scale" (func $scale (param f64) (result f64)))
      (import "t" "report" (func $report (param i64 f32 f64)))
      (func (export "poll")
        (call $report
          (call $mix (i32.const -7) (i64.const 0x100000000) (f32.const 1.5) (f64.const 2.25))
          (call $half (f32.const 3.0))
          (call $scale (f64.const -1.5)))))
    )";
    wasmcell::Runtime rt;
    int32_t got_i = 0;
    int64_t got_I = 0;
    float got_f = 0;
    double got_F = 0;
    int64_t reported_I = 0;
    float reported_f = 0;
    double reported_F = 0;
    rt.define("t", "mix", [&](int32_t i, int64_t I, float f, double F) -> int64_t {
        got_i = i;
        got_I = I;
        got_f = f;
        got_F = F;
        return I + i;
    });
    rt.define("t", "half", [](float x) { return x / 2; });
    rt.define("t", "scale", [](wasmcell::Call &, double x) { return x * 4; });
    rt.define("t", "report", [&](int64_t I, float f, double F) {
        reported_I = I;
        reported_f = f;
        reported_F = F;
    });
    wasmcell::Program p = rt.load("types", std::string(wat));
    p.poll();
    CHECK_EQ(got_i, -7);
    CHECK_EQ(got_I, int64_t{0x100000000});
    CHECK(got_f == 1.5f);
    CHECK(got_F == 2.25);
    CHECK_EQ(reported_I, int64_t{0x100000000} - 7);
    CHECK(reported_f == 1.5f);
    CHECK(reported_F == -6.0);
}

void test_fault_throws() {
    wasmcell::Runtime rt;
    wasmcell::Program p = rt.load_file("boom", fixture("unreachable.wat"));
    std::string what = CHECK_THROWS(WASMCELL_ERR_TRAP, p.poll());
    CHECK_CONTAINS(what, wasmcell_status_str(WASMCELL_ERR_TRAP));
    CHECK(p.faulted());
    CHECK(p.state() == wasmcell::State::faulted);
    CHECK_EQ(p.fault_kind(), WASMCELL_FAULT_UNREACHABLE);
    CHECK_CONTAINS(p.error(), "unreachable");
    CHECK_CONTAINS(p.fault_message(), "unreachable");
    // faulted until reset
    CHECK_THROWS(WASMCELL_ERR_FAULTED, p.poll());
    CHECK_CONTAINS(p.error(), "is faulted");             // the refused poll's message
    CHECK_CONTAINS(p.fault_message(), "unreachable");  // the fault keeps its own
    CHECK_EQ(p.try_poll(), WASMCELL_ERR_FAULTED);
    p.reset();
    CHECK(!p.faulted());
    CHECK_EQ(p.try_poll(), WASMCELL_ERR_TRAP);

    // a runaway program: the budget stops it
    wasmcell::Program loop = rt.load_file("loop", fixture("infinite_loop.wat"));
    loop.set_fuel(10000);
    CHECK_THROWS(WASMCELL_ERR_BUDGET, loop.poll());
    CHECK_EQ(loop.fault_kind(), WASMCELL_FAULT_BUDGET_EXHAUSTED);
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, loop.set_fuel(0));

    // other programs are not affected
    wasmcell::Program ok = rt.load("ok", std::string(kEmpty));
    ok.poll();
    CHECK(!ok.faulted());
}

void test_lambda_exceptions() {
    wasmcell::Runtime rt;
    int mode = 0;
    rt.define("test", "tick", [&](int32_t count) {
        if (mode == 1) {
            throw std::runtime_error("sensor " + std::to_string(count) + " offline");
        }
        if (mode == 2) {
            throw wasmcell::HostError(42, "valve stuck");
        }
        if (mode == 3) {
            throw 7;  // not a std::exception
        }
    });
    wasmcell::Program p = rt.load_file("counter", fixture("counter.wat"));
    p.poll();  // mode 0: fine (count 101)

    mode = 1;
    std::string what = CHECK_THROWS(WASMCELL_ERR_HOST, p.poll());  // count 102
    CHECK_CONTAINS(what, "sensor 102 offline");
    CHECK_CONTAINS(what, "test.tick");
    CHECK_CONTAINS(p.error(), "sensor 102 offline");
    CHECK_EQ(p.fault_kind(), WASMCELL_FAULT_HOST_ERROR);
    CHECK(p.faulted());

    mode = 2;
    p.reset();
    what = CHECK_THROWS(WASMCELL_ERR_HOST, p.poll());
    CHECK_CONTAINS(what, "valve stuck");
    CHECK_CONTAINS(what, "42");

    mode = 3;
    p.reset();
    what = CHECK_THROWS(WASMCELL_ERR_HOST, p.poll());
    CHECK_CONTAINS(what, "unknown C++ exception");

    mode = 0;
    p.reset();
    p.poll();
    CHECK(!p.faulted());
}

void test_reentry_is_a_host_error() {
    // A lambda that polls its own program gets Error(BUSY) thrown at it; left
    // uncaught, it becomes the host error of the outer poll.
    wasmcell::Runtime rt;
    wasmcell::Program *self = nullptr;
    wasmcell_status inner = WASMCELL_OK;
    rt.define("test", "reenter", [&]() {
        try {
            self->poll();
        } catch (const wasmcell::Error &e) {
            inner = e.status();
            throw;
        }
    });
    wasmcell::Program p = rt.load_file("reenter", fixture("reenter.wat"));
    self = &p;
    std::string what = CHECK_THROWS(WASMCELL_ERR_HOST, p.poll());
    CHECK_EQ(inner, WASMCELL_ERR_BUSY);
    CHECK_CONTAINS(what, wasmcell_status_str(WASMCELL_ERR_BUSY));
}

void test_move_semantics() {
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> watch = token;
    int ticks = 0;
    wasmcell_program *raw = nullptr;
    {
        wasmcell::Runtime rt0;
        rt0.define("test", "tick", [token, &ticks](int32_t) { ticks++; });
        token.reset();
        CHECK(!watch.expired());  // the runtime holds the lambda (and its captures)

        wasmcell::Runtime rt = std::move(rt0);  // the runtime moves, with its functions
        CHECK(!rt0);
        CHECK(static_cast<bool>(rt));
        CHECK_THROWS(WASMCELL_ERR_INVALID_HANDLE, rt0.load("x", std::string(kEmpty)));

        wasmcell::Program p1 = rt.load_file("counter", fixture("counter.wat"));
        raw = p1.get();
        wasmcell::Program p2 = std::move(p1);
        CHECK(!p1);
        CHECK_EQ(p2.get(), raw);
        p2.poll();
        CHECK_EQ(ticks, 1);
        CHECK_THROWS(WASMCELL_ERR_INVALID_HANDLE, p1.poll());
        CHECK_EQ(p1.try_poll(), WASMCELL_ERR_INVALID_HANDLE);

        // move-assigning over a program unloads the one it held
        wasmcell::Program p3 = rt.load("other", std::string(kEmpty));
        wasmcell_program *other = p3.get();
        p3 = std::move(p2);
        CHECK_EQ(wasmcell_program_poll(other), WASMCELL_ERR_INVALID_HANDLE);
        CHECK_EQ(p3.get(), raw);
        p3.poll();
        CHECK_EQ(ticks, 2);

        // programs in a vector survive reallocation
        std::vector<wasmcell::Program> programs;
        for (int i = 0; i < 8; i++) {
            programs.push_back(rt.load("p" + std::to_string(i), std::string(kEmpty)));
        }
        for (auto &p : programs) {
            p.poll();
        }

        // explicit unload empties the object
        programs[0].unload();
        CHECK(!programs[0]);

        // release() hands the handle over
        wasmcell_program *released = programs[1].release();
        CHECK(!programs[1]);
        CHECK_EQ(wasmcell_program_poll(released), WASMCELL_OK);
        CHECK_EQ(wasmcell_program_unload(released), WASMCELL_OK);

        // moving a runtime into one that holds programs frees the old one
        wasmcell::Runtime spare;
        wasmcell::Program orphan = spare.load("orphan", std::string(kEmpty));
        spare = wasmcell::Runtime();
        CHECK_THROWS(WASMCELL_ERR_INVALID_HANDLE, orphan.poll());

        CHECK(!watch.expired());
    }
    // the Runtime's destructor freed the lambda; the destructors of programs
    // destroyed after it (a stale handle) are harmless
    CHECK(watch.expired());
    CHECK_EQ(wasmcell_program_poll(raw), WASMCELL_ERR_INVALID_HANDLE);
}

void test_program_outlives_runtime() {
    wasmcell::Program p;
    CHECK(!p);
    {
        wasmcell::Runtime rt;
        p = rt.load("survivor", std::string(kEmpty));
        p.poll();
    }
    CHECK_THROWS(WASMCELL_ERR_INVALID_HANDLE, p.poll());
    CHECK_THROWS(WASMCELL_ERR_INVALID_HANDLE, p.state());
}  // ~Program on a stale handle: nothing happens

void test_reload() {
    wasmcell::Runtime rt;
    std::vector<int32_t> ticks;
    rt.define("test", "tick", [&](int32_t n) { ticks.push_back(n); });
    wasmcell::Program p = rt.load_file("counter", fixture("counter.wat"));
    p.poll();
    CHECK_EQ(ticks.back(), 101);

    // v2 counts by 1000, starting from 0
    const std::string v2 = R"((module
      (import "test" "tick" (func $tick (param i32)))
      (global $n (mut i32) (i32.const 0))
      (func (export "poll")
        (global.set $n (i32.add (global.get $n) (i32.const 1000)))
        (call $tick (global.get $n)))))";
    p.reload(v2);
    p.poll();
    CHECK_EQ(ticks.back(), 1000);

    // a reload that does not compile leaves the running version in place
    std::string what = CHECK_THROWS(WASMCELL_ERR_COMPILE, p.reload(std::string("(module (func")));
    CHECK(!what.empty());
    CHECK(!p.error().empty());
    p.poll();
    CHECK_EQ(ticks.back(), 2000);
    // a reload that does not link neither
    CHECK_THROWS(WASMCELL_ERR_LINK, p.reload(read_bytes(fixture("missing_import.wat"))));
    p.poll();
    CHECK_EQ(ticks.back(), 3000);

    // back to v1 from bytes (vector), then the two halves
    p.reload(read_bytes(fixture("counter.wat")));
    p.poll();
    CHECK_EQ(ticks.back(), 101);
    wasmcell::Reload prepared = p.prepare_reload(v2);
    CHECK(static_cast<bool>(prepared));
    p.poll();  // still v1 until committed
    CHECK_EQ(ticks.back(), 102);
    p.commit_reload(std::move(prepared));
    CHECK(!prepared);
    p.poll();
    CHECK_EQ(ticks.back(), 1000);
    // a prepared reload that is never committed is discarded by its destructor
    {
        wasmcell::Reload unused = p.prepare_reload(std::string(kEmpty));
        CHECK(static_cast<bool>(unused));
    }
    p.poll();
    CHECK_EQ(ticks.back(), 2000);

    // reload recovers a faulted program
    wasmcell::Program boom = rt.load_file("boom", fixture("unreachable.wat"));
    CHECK_THROWS(WASMCELL_ERR_TRAP, boom.poll());
    boom.reload(std::string(kEmpty));
    boom.poll();
    CHECK(!boom.faulted());
}

void test_process_image() {
    wasmcell::Runtime rt;
    wasmcell::Program p = rt.load_file("conveyor", guests + "/conveyor.wat");
    std::vector<wasmcell::Signal> signals = p.signals();
    CHECK_EQ(signals.size(), size_t{6});
    CHECK_EQ(signals.at(0).name, std::string("speed"));
    CHECK_EQ(signals.at(0).area, WASMCELL_AREA_INPUT);
    CHECK_EQ(signals.at(0).type, WASMCELL_SIGNAL_F64);
    CHECK_EQ(signals.at(5).name, std::string("distance"));
    CHECK_EQ(signals.at(5).area, WASMCELL_AREA_RETAIN);
    CHECK_EQ(p.image_size(WASMCELL_AREA_INPUT), size_t{16});
    CHECK_EQ(p.image_size(WASMCELL_AREA_OUTPUT), size_t{24});

    wasmcell::Signal position = p.signal("position");
    CHECK_EQ(position.area, WASMCELL_AREA_OUTPUT);
    CHECK_EQ(position.offset, uint32_t{8});
    uint32_t speed = p.signal_id("speed");

    // by name and by id
    p.set_f64(speed, 1.5);
    p.set_i64("enable", 1);
    p.poll();
    p.poll();
    CHECK(p.get_f64(position.id) == 3.0);
    CHECK(p.get_f64("position") == 3.0);
    CHECK_EQ(p.get_i64("pulses"), int64_t{2});
    CHECK_EQ(p.get_i64("motor_on"), int64_t{1});
    CHECK(p.get_f64("distance") == 3.0);
    CHECK(p.get_f64("speed") == 1.5);

    // raw byte ranges
    uint8_t outputs[24] = {};
    uint64_t poll = p.read_outputs(0, outputs, sizeof outputs);
    CHECK_EQ(poll, uint64_t{2});
    double pos = 0;
    std::memcpy(&pos, outputs + 8, sizeof pos);
    CHECK(pos == 3.0);
    double negative = -1.0;
    p.write_inputs(0, &negative, sizeof negative);

    // a faulting poll publishes nothing
    CHECK_THROWS(WASMCELL_ERR_TRAP, p.poll());
    CHECK(p.get_f64("position") == 3.0);

    // errors
    CHECK_THROWS(WASMCELL_ERR_NOT_FOUND, p.signal("no_such_signal"));
    CHECK_THROWS(WASMCELL_ERR_NOT_FOUND, p.get_f64("no_such_signal"));
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, p.set_f64("position", 1.0));  // an output
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, p.set_i64("enable", 2));      // a bool
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, p.write_inputs(10, outputs, 10));

    // the retain area survives a reset
    p.set_f64(speed, 0.5);
    p.reset();
    CHECK(p.get_f64("distance") == 3.0);
    CHECK(!p.notice().empty());
}

void test_log_and_clock() {
    wasmcell::Runtime rt;
    std::mutex lock;
    std::vector<std::string> lines;
    rt.set_log([&](std::string_view program, wasmcell_log_level level, std::string_view message) {
        std::lock_guard<std::mutex> guard(lock);
        lines.push_back(std::string(program) + "|" + std::to_string(level) + "|" + std::string(message));
    });
    int64_t now = 1234567;
    rt.set_clock([&]() { return now; });
    int64_t reported = 0;
    rt.define("test", "time", [&](int64_t t) { reported = t; });
    wasmcell::Program logger = rt.load_file("logger", fixture("logger.wat"));
    wasmcell::Program hello = rt.load_file("hello", fixture("hello.wat"));
    logger.poll();
    hello.poll();
    CHECK_EQ(reported, int64_t{1234567});
    now = 2000000;
    logger.poll();
    CHECK_EQ(reported, int64_t{2000000});
    {
        std::lock_guard<std::mutex> guard(lock);
        CHECK_EQ(lines.size(), size_t{3});
        CHECK_EQ(lines.at(0), std::string("logger|2|warn line"));
        CHECK_EQ(lines.at(1), std::string("hello|0|Polling\n"));
    }
    // a clock that throws repeats its last value; a sink that throws drops the line
    rt.set_clock([]() -> int64_t { throw std::runtime_error("clock lost"); });
    rt.set_log([](std::string_view, wasmcell_log_level, std::string_view) { throw std::runtime_error("full"); });
    logger.poll();
    hello.poll();
    CHECK(!logger.faulted());
    CHECK(!hello.faulted());
    // a replaced function is destroyed (with what it captured)
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> watch = token;
    rt.set_log([token](std::string_view, wasmcell_log_level, std::string_view) {});
    token.reset();
    CHECK(!watch.expired());
    rt.set_log([](std::string_view, wasmcell_log_level, std::string_view) {});
    CHECK(watch.expired());
    // replacing the sink from inside a callback is refused (BUSY), and that
    // exception becomes the poll's host error
    wasmcell::Runtime *runtime = &rt;
    rt.define("test", "reenter", [runtime]() { runtime->set_log(nullptr); });
    wasmcell::Program reenter = rt.load_file("reenter", fixture("reenter.wat"));
    std::string what = CHECK_THROWS(WASMCELL_ERR_HOST, reenter.poll());
    CHECK_CONTAINS(what, wasmcell_status_str(WASMCELL_ERR_BUSY));
    // back to the defaults
    rt.set_clock(nullptr);
    rt.set_log([](std::string_view, wasmcell_log_level, std::string_view) {});
    logger.poll();
    CHECK(reported != int64_t{2000000});
}

void test_runtime_settings() {
    wasmcell::Runtime rt;
    rt.set_default_fuel(5000);
    rt.set_default_memory_limit(1 << 20);
    rt.set_max_module_size(1 << 20);
    rt.set_default_stack_size(64 * 1024);
    rt.set_module_limits(1000, 100, 1000);
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, rt.set_default_fuel(0));
    CHECK_THROWS(WASMCELL_ERR_INVALID_ARGUMENT, rt.set_max_module_size(0));

    wasmcell::Program loop = rt.load_file("loop", fixture("infinite_loop.wat"));
    CHECK_THROWS(WASMCELL_ERR_BUDGET, loop.poll());
    CHECK(loop.stats().last_fuel_used <= 5000);

    // Deadline mode: the same loop is stopped by time, not by the budget.
    rt.set_default_deadline(20 * 1000 * 1000);
    wasmcell::Program timed = rt.load_file("timed", fixture("infinite_loop.wat"));
    CHECK_THROWS(WASMCELL_ERR_WATCHDOG, timed.poll());
    rt.set_default_deadline(0);

    rt.set_max_module_size(8);
    CHECK_THROWS(WASMCELL_ERR_LIMIT, rt.load("big", std::string(kEmpty)));
    rt.set_max_module_size(1 << 20);

    wasmcell_cache_stats before = rt.cache_stats();
    wasmcell::Program a = rt.load("a", std::string(kEmpty));
    wasmcell::Program b = rt.load("b", std::string(kEmpty));
    wasmcell_cache_stats after = rt.cache_stats();
    CHECK_EQ(after.compiles - before.compiles, uint64_t{1});
    CHECK_EQ(after.memory_hits - before.memory_hits, uint64_t{1});
    a.set_memory_limit(2 << 20);

    // tables and nesting, checked before compiling
    const std::string table_100 = "(module (table 100 funcref) (func (export \"poll\")))";
    const std::string nested_3 = "(module (func (export \"poll\") (block (block (block)))))";
    wasmcell::Runtime limits;
    wasmcell::Program t = limits.load("t", table_100);
    limits.set_default_table_limit(10);
    CHECK_THROWS(WASMCELL_ERR_LIMIT, limits.load("t2", table_100));
    limits.set_nesting_limit(2);
    CHECK_THROWS(WASMCELL_ERR_LIMIT, limits.load("n", nested_3));
    limits.set_nesting_limit(10);
    limits.load("n", nested_3).poll();
    // a program's own table limit applies at its next reset
    t.set_table_limit(10);
    CHECK_THROWS(WASMCELL_ERR_LIMIT, t.reset());
    CHECK(t.faulted());
    t.set_table_limit(1000);
    t.reset();
    t.poll();
}

} // namespace

int main(int argc, char **argv) {
    if (argc > 1) {
        fixtures = argv[1];
    }
    if (argc > 2) {
        guests = argv[2];
    }
    check::run("version", test_version);
    check::run("signature_deduction", test_signature_deduction);
    check::run("load_and_poll", test_load_and_poll);
    check::run("load_errors", test_load_errors);
    check::run("host_lambdas", test_host_lambdas);
    check::run("buffers_and_call", test_buffers_and_call);
    check::run("all_value_types", test_all_value_types);
    check::run("fault_throws", test_fault_throws);
    check::run("lambda_exceptions", test_lambda_exceptions);
    check::run("reentry_is_a_host_error", test_reentry_is_a_host_error);
    check::run("move_semantics", test_move_semantics);
    check::run("program_outlives_runtime", test_program_outlives_runtime);
    check::run("reload", test_reload);
    check::run("process_image", test_process_image);
    check::run("log_and_clock", test_log_and_clock);
    check::run("runtime_settings", test_runtime_settings);
    return check::finish("test_wrapper");
}
