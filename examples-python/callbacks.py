"""Host I/O through Python host functions: a simulated room with a heater.

Usage: python examples-python/callbacks.py [cycles]
"""

import pathlib
import sys

import wasmcell

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    room = {"temperature": 18.0, "heater": 0}
    with wasmcell.Runtime(fuel=1_000_000) as rt:

        @rt.function("plant", "read_sensor", "(i)F")
        def read_sensor(channel: int) -> float:
            if channel != 0:
                raise ValueError(f"no sensor on channel {channel}")
            return room["temperature"]

        @rt.function("plant", "set_actuator", "(ii)")
        def set_actuator(channel: int, on: int) -> None:
            room["heater"] = on

        thermostat = rt.load(ROOT / "guest" / "thermostat_v1.wat", name="thermostat")
        for cycle in range(cycles):
            thermostat.poll()
            print(f"cycle {cycle:2d}: {room['temperature']:5.1f} C  heater {'on' if room['heater'] else 'off'}")
            room["temperature"] += 0.8 if room["heater"] else -0.3
    return 0


if __name__ == "__main__":
    sys.exit(main())
