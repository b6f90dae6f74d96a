// Compiles the C++ wrapper with a strict set of warnings a user's project
// may use (-Wshadow -Wconversion -Wold-style-cast ... -Werror), instantiating
// its templates. Compiled, not run.
#include <wasmcell.hpp>
#include <wasmcell.hpp>

int main() {
    wasmcell::Runtime rt;
    rt.define("m", "a", [](int32_t a, int64_t b, float c, double d) -> double { return a + static_cast<double>(b) + c + d; });
    rt.define("m", "b", [](wasmcell::Call &call, wasmcell::Bytes data) -> int32_t {
        return static_cast<int32_t>(data.size() + call.program_name().size());
    });
    rt.define("m", "c", [](uint32_t) noexcept {});
    rt.set_log([](std::string_view, wasmcell_log_level, std::string_view) {});
    rt.set_clock([]() -> int64_t { return 0; });
    wasmcell::Program p = rt.load("p", std::string("(module (func (export \"poll\")))"));
    p.poll();
    wasmcell::Reload r = p.prepare_reload(std::vector<uint8_t>());
    p.commit_reload(std::move(r));
    return p.try_poll() == WASMCELL_OK ? 0 : 1;
}
