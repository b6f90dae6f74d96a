"""Online change from Python: poll a thermostat at 100 Hz in one thread while
another swaps its code between two versions; count polls that failed.

Usage: python examples-python/hot_reload.py [seconds]
"""

import pathlib
import sys
import threading
import time

import wasmcell

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    versions = [(ROOT / "guest" / f"thermostat_v{v}.wat").read_bytes() for v in (1, 2)]
    room = {"temperature": 20.0, "heater": 0}
    with wasmcell.Runtime(log=False) as rt:
        rt.function("plant", "read_sensor", "(i)F")(lambda channel: room["temperature"])
        rt.function("plant", "set_actuator", "(ii)")(lambda channel, on: room.update(heater=on))
        program = rt.load(versions[0], name="thermostat")
        stop = threading.Event()
        swaps = 0

        def swapper() -> None:
            nonlocal swaps
            while not stop.is_set():
                program.reload(versions[(swaps + 1) % 2])
                swaps += 1
                time.sleep(0.1)

        thread = threading.Thread(target=swapper)
        thread.start()
        failed = polls = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                program.poll()
            except wasmcell.Error:
                failed += 1
            polls += 1
            time.sleep(0.01)
        stop.set()
        thread.join()
        print(f"{polls} polls, {swaps} hot swaps, {failed} failed polls")
        return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
