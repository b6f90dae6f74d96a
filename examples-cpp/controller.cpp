// A C++ machine controller on wasmcell.hpp: one control loop polls three
// user programs every cycle.
//
//   thermostat  talks to the plant through host functions (C++ lambdas) and
//               is hot-swapped from v1 to v2 while the loop runs
//   conveyor    is driven only through its process image (named signals)
//   faulty      divides by zero on its 3rd poll: the exception names the
//               fault, the loop resets it and goes on; then the operator
//               uploads the runaway program, which the budget stops
//
// The other programs keep their cycle throughout.
//
// Usage: controller [guest-dir]   (default: guest, from the repository root)
// Build: see examples-cpp/README.md (CMake against the installed package, or
//        c++ -std=c++17 controller.cpp $(pkg-config --cflags --libs wasmcell)).
#include <wasmcell.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

// A simulated room: the heater warms it, the outside cools it.
struct Room {
    double temperature = 18.0;
    int32_t heater = 0;
    void step() { temperature += heater ? 0.35 : -0.2; }
};

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One cycle of a program: a fault is reported and the program reset, so the
// next cycle runs it again from a fresh instance. Never throws.
void cycle(wasmcell::Program &p, const char *name, int cycle_number) {
    try {
        p.poll();
    } catch (const wasmcell::Error &e) {
        std::printf("  cycle %2d  ! %-10s %s\n", cycle_number, name, e.what());
        try {
            p.reset();
        } catch (const wasmcell::Error &reset_error) {
            std::printf("             %s stays faulted: %s\n", name, reset_error.what());
        }
    }
}

} // namespace

int main(int argc, char **argv) {
    const std::string dir = argc > 1 ? argv[1] : "guest";
    try {
        wasmcell::Runtime rt;
        rt.set_default_fuel(1'000'000);  // a runaway poll stops after ~1M instructions

        Room room;
        rt.define("plant", "read_sensor", [&room](int32_t channel) -> double {
            if (channel != 0) {
                throw std::out_of_range("no sensor on channel " + std::to_string(channel));
            }
            return room.temperature;
        });
        rt.define("plant", "set_actuator", [&room](int32_t channel, int32_t on) {
            if (channel == 0) {
                room.heater = on;
            }
        });
        rt.set_log([](std::string_view program, wasmcell_log_level, std::string_view line) {
            std::printf("    [%.*s] %.*s\n", static_cast<int>(program.size()), program.data(),
                        static_cast<int>(line.size()), line.data());
        });

        wasmcell::Program thermostat = rt.load_file("thermostat", dir + "/thermostat_v1.wat");
        wasmcell::Program conveyor = rt.load_file("conveyor", dir + "/conveyor.wat");
        wasmcell::Program faulty = rt.load_file("faulty", dir + "/faulty.wat");

        // Process image: look the signals up once, use their ids in the loop.
        const uint32_t speed = conveyor.signal_id("speed");
        const uint32_t enable = conveyor.signal_id("enable");
        const uint32_t position = conveyor.signal_id("position");
        conveyor.set_f64(speed, 0.25);
        conveyor.set_i64(enable, 1);

        std::printf("wasmcell %s: 3 programs loaded\n", wasmcell::version());
        for (int n = 1; n <= 24; n++) {
            if (n == 9) {
                std::printf("  cycle %2d  hot swap: thermostat v1 -> v2 (hysteresis)\n", n);
                thermostat.reload(read_file(dir + "/thermostat_v2.wat"));
            }
            if (n == 14) {
                std::printf("  cycle %2d  operator uploads a runaway program in place of 'faulty'\n", n);
                faulty.reload(read_file(dir + "/runaway.wat"));
            }
            if (n == 19) {
                std::printf("  cycle %2d  operator uploads a fixed program\n", n);
                faulty.reload(std::string("(module (func (export \"poll\")))"));
            }
            cycle(thermostat, "thermostat", n);
            cycle(conveyor, "conveyor", n);
            cycle(faulty, "faulty", n);
            room.step();
            if (n % 4 == 0) {
                std::printf("  cycle %2d  room %.2f C, heater %s, conveyor at %.2f m\n", n, room.temperature,
                            room.heater ? "on " : "off", conveyor.get_f64(position));
            }
        }

        wasmcell_stats t = thermostat.stats();
        wasmcell_stats f = faulty.stats();
        std::printf("thermostat: %llu polls, %llu faults, longest %llu ns\n",
                    static_cast<unsigned long long>(t.polls), static_cast<unsigned long long>(t.faults),
                    static_cast<unsigned long long>(t.max_poll_ns));
        std::printf("faulty:     %llu polls, %llu faults\n", static_cast<unsigned long long>(f.polls),
                    static_cast<unsigned long long>(f.faults));
        std::printf("conveyor:   distance %.2f m (retain)\n", conveyor.get_f64("distance"));
        return t.faults == 0 ? 0 : 1;  // the thermostat was never disturbed
    } catch (const std::exception &e) {
        std::fprintf(stderr, "controller: %s\n", e.what());
        return 1;
    }
}
