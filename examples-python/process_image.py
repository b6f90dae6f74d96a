"""A conveyor driven only through the process image, from Python: no host
functions, just named signals. A negative speed command faults the logic;
the published outputs stay those of the last good poll.

Usage: python examples-python/process_image.py
"""

import pathlib
import sys

import wasmcell

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    with wasmcell.Runtime(log=False) as rt:
        conveyor = rt.load(ROOT / "guest" / "conveyor.wat")
        print("signals:", ", ".join(f"{s.name} ({s.area.name.lower()} {s.type.name.lower()})" for s in conveyor.signals))
        for cycle in range(1, 11):
            conveyor.inputs["speed"] = -1.0 if cycle == 7 else 0.5
            conveyor.inputs["enable"] = cycle > 1
            try:
                conveyor.poll()
                status = "ok"
            except wasmcell.FaultError as error:
                status = type(error).__name__
                conveyor.reset()
            print(
                f"cycle {cycle:2d} {status:9s} motor {'on ' if conveyor.outputs['motor_on'] else 'off'} "
                f"position {conveyor.outputs['position']:4.1f} distance {conveyor.retain['distance']:4.1f} "
                f"(outputs of poll {conveyor.outputs.published_by})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
