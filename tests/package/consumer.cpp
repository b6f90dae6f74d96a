// A C++ host built against the installed package (wasmcell.hpp through the
// CMake target): a lambda host function, a poll, a fault as an exception.
#include <wasmcell.hpp>

#include <cstdio>
#include <string>

int main() {
    try {
        wasmcell::Runtime rt;
        double room = 18.0;
        int32_t heater = -1;
        rt.define("plant", "read_sensor", [&room](int32_t) -> double { return room; });
        rt.define("plant", "set_actuator", [&heater](int32_t, int32_t on) { heater = on; });
        wasmcell::Program p = rt.load("consumer",
                                      "(module (import \"plant\" \"read_sensor\" (func $read (param i32) (result f64)))"
                                      " (import \"plant\" \"set_actuator\" (func $set (param i32 i32)))"
                                      " (func (export \"poll\")"
                                      "   (call $set (i32.const 0) (f64.lt (call $read (i32.const 0)) (f64.const 20.0)))))");
        p.poll();
        if (heater != 1) {
            std::fprintf(stderr, "consumer++: heater %d, expected 1\n", static_cast<int>(heater));
            return 1;
        }
        p.reload(std::string("(module (func (export \"poll\") unreachable))"));
        try {
            p.poll();
            std::fprintf(stderr, "consumer++: the fault did not throw\n");
            return 1;
        } catch (const wasmcell::Error &e) {
            if (e.status() != WASMCELL_ERR_TRAP) {
                std::fprintf(stderr, "consumer++: unexpected %s\n", e.what());
                return 1;
            }
        }
        std::printf("consumer++: wasmcell %s: ok\n", wasmcell::version());
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "consumer++: %s\n", e.what());
        return 1;
    }
}
