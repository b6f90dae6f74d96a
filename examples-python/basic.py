"""The original example in Python: load a program and poll it in a loop.

Usage: python examples-python/basic.py [program] [polls]
(defaults: guest/hello.wat, 5 polls; Ctrl-C stops an endless run with polls=0)
"""

import logging
import pathlib
import sys

import wasmcell

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(name)s] %(message)s")
    path = sys.argv[1] if len(sys.argv) > 1 else ROOT / "guest" / "hello.wat"
    polls = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with wasmcell.Runtime() as rt:
        program = rt.load(path, name="example")
        count = 0
        try:
            while polls == 0 or count < polls:
                program.poll()
                count += 1
        except KeyboardInterrupt:
            pass
        except wasmcell.Error as error:
            print(f"poll failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        print(f"{program.stats.polls} polls, mean {program.stats.mean_poll_ns} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
