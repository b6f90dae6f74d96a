"""The guest SDKs (guest-sdk/): programs built with the Rust crate
``wasmcell-guest`` and with the C header ``wasmcell_guest.h``, and their WAT
twins in guest/.

Each program runs in every flavour that exists here: ``wat`` (guest/*.wat,
always), ``rust`` and ``c`` (built by ``make guests`` into build/guests as
NAME_rust.wasm and NAME_c.wasm), ``rust-std`` (the crate's ``std`` feature
on wasm32-wasip1). The checks:

- the process image the SDK macros declare matches, field by field, what the
  host sees through wasmcell_program_signal_info (name, area, type, offset)
  and the area sizes, with offsets computed here from the declaration by C's
  layout rules;
- outputs computed from inputs are right, poll by poll, against a reference
  model written here (PID, conveyor, sequencer, every signal type);
- retained state carries over a hot swap between flavours (same layout id);
- a panic in a no_std Rust program (and WASMCELL_PANIC in C) logs its
  message and location at level error and faults the poll.

The SDK programs are built with ``make guests`` (run once here unless
WASMCELL_GUESTS_DIR names a directory someone built already). A program
whose toolchain is missing is reported NOT RUN, with the reason and the
command that installs it; with WASMCELL_REQUIRE_GUEST_TOOLCHAINS set (CI)
that is a failure instead.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Tuple

import pytest

import wasmcell
from wasmcell import Area, SignalType

ROOT = pathlib.Path(__file__).resolve().parents[3]
REQUIRE = os.environ.get("WASMCELL_REQUIRE_GUEST_TOOLCHAINS", "") not in ("", "0")

# ---- toolchains and built programs --------------------------------------------


def _rust_target(target: str) -> bool:
    try:
        out = subprocess.run(
            ["rustc", "--print", "target-libdir", "--target", target],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and pathlib.Path(out.stdout.strip()).is_dir()


def _clang(*flags: str, source: str = "int x;") -> bool:
    clang = os.environ.get("WASM_CC", "clang")
    if shutil.which(clang) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            out = subprocess.run(
                [clang, *flags, "-x", "c", "-", "-o", f"{tmp}/probe.wasm"],
                input=source, capture_output=True, text=True, timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return out.returncode == 0


# flavour -> (what builds it, how to check for it, how to install it)
TOOLCHAINS = {
    "rust": ("the wasm32-unknown-unknown Rust target", lambda: _rust_target("wasm32-unknown-unknown"),
             "make deps, or: rustup target add wasm32-unknown-unknown"),
    "rust-std": ("the wasm32-wasip1 Rust target", lambda: _rust_target("wasm32-wasip1"),
                 "make deps, or: rustup target add wasm32-wasip1"),
    "c": ("clang with wasm32 support (clang + lld)",
          lambda: _clang("--target=wasm32", "-nostdlib", "-Wl,--no-entry"),
          "make deps, or: apt-get install clang lld"),
    "c-wasi": ("clang with wasi-libc (clang, lld, wasi-libc, clang's wasm32 builtins)",
               lambda: _clang("--target=wasm32-wasi", "-mexec-model=reactor", source="#include <stdio.h>\nint x;"),
               "make deps, or: apt-get install clang lld wasi-libc libclang-rt-N-dev-wasm32, N: clang's major version"),
}
_available: Dict[str, bool] = {}


def toolchain_available(flavour: str) -> bool:
    if flavour not in _available:
        _available[flavour] = TOOLCHAINS[flavour][1]()
    return _available[flavour]


@pytest.fixture(scope="session")
def guests_dir() -> pathlib.Path:
    """build/guests after `make guests` (or WASMCELL_GUESTS_DIR as given)."""
    given = os.environ.get("WASMCELL_GUESTS_DIR")
    if given:
        return pathlib.Path(given).resolve()
    if shutil.which("make") is None:
        pytest.fail("make is not installed: cannot build the SDK programs (apt-get install make)")
    # Not the flags of a make that may be running this suite (-n, -k, -j...).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    build = subprocess.run(
        ["make", "--no-print-directory", "guests"], cwd=ROOT, env=env, capture_output=True, text=True,
    )
    # The Makefile says loudly what it could not build; show it with the results.
    sys.stderr.write(build.stdout + build.stderr)
    if build.returncode != 0:
        pytest.fail(f"`make guests` failed:\n{build.stdout}\n{build.stderr}")
    return ROOT / "build" / "guests"


_said: set = set()


def not_run(request, what: str) -> None:
    """Skips loudly, or fails when WASMCELL_REQUIRE_GUEST_TOOLCHAINS is set.
    The reason goes to the terminal past pytest's output capture (once per
    reason), and is in the summary with -rs."""
    message = f"NOT RUN: {what}"
    if REQUIRE:
        pytest.fail(f"{message}, but WASMCELL_REQUIRE_GUEST_TOOLCHAINS is set")
    if message not in _said:
        _said.add(message)
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\n*** {message}\n")
            sys.stderr.flush()
    pytest.skip(message)


@pytest.fixture
def program_path(request, guests_dir):
    """program_path(name, flavour) -> path of that program, or NOT RUN."""

    def path(name: str, flavour: str) -> pathlib.Path:
        if flavour == "wat":
            return ROOT / "guest" / f"{name}.wat"
        suffix = "rust" if flavour.startswith("rust") else "c"
        built = guests_dir / f"{name}_{suffix}.wasm"
        if built.exists():
            return built
        what, _, install = TOOLCHAINS[flavour]
        if not toolchain_available(flavour):
            not_run(request, f"{name} built with the {flavour} guest SDK: {what} is missing ({install})")
        pytest.fail(f"{built} was not built although {what} is installed: run 'make guests' and read its errors")

    return path


@pytest.fixture
def guest_log(caplog):
    """guest_log(program) -> [(level name, text)] logged by that program."""
    caplog.set_level(logging.DEBUG, logger="wasmcell")

    def lines(program: wasmcell.Program) -> List[Tuple[str, str]]:
        return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == f"wasmcell.{program.name}"]

    return lines


# ---- the declarations, and C's layout rules ---------------------------------------

SIZE = {
    SignalType.BOOL: 1, SignalType.I8: 1, SignalType.U8: 1, SignalType.I16: 2, SignalType.U16: 2,
    SignalType.I32: 4, SignalType.U32: 4, SignalType.I64: 8, SignalType.U64: 8,
    SignalType.F32: 4, SignalType.F64: 8,
}
T = SignalType


@dataclass
class Declared:
    """An image as the program's source declares it: field names and types
    per area, in declaration order."""

    inputs: List[Tuple[str, SignalType]]
    outputs: List[Tuple[str, SignalType]]
    retain: List[Tuple[str, SignalType]]

    @staticmethod
    def layout(fields: List[Tuple[str, SignalType]]) -> Tuple[List[int], int]:
        """Offsets and size of a #[repr(C)] / C struct of these fields on
        wasm32 (every scalar aligned to its size)."""
        offsets, end, align = [], 0, 1
        for _, kind in fields:
            size = SIZE[kind]
            end = (end + size - 1) // size * size
            offsets.append(end)
            end += size
            align = max(align, size)
        return offsets, (end + align - 1) // align * align if fields else 0

    def signals(self) -> List[Tuple[str, Area, SignalType, int]]:
        result = []
        for area, fields in ((Area.INPUT, self.inputs), (Area.OUTPUT, self.outputs), (Area.RETAIN, self.retain)):
            offsets, _ = self.layout(fields)
            result += [(name, area, kind, offset) for (name, kind), offset in zip(fields, offsets)]
        return result

    def sizes(self) -> Tuple[int, int, int]:
        return tuple(self.layout(f)[1] for f in (self.inputs, self.outputs, self.retain))  # type: ignore[return-value]


PID = Declared(
    inputs=[("setpoint", T.F64), ("temperature", T.F64), ("enable", T.BOOL)],
    outputs=[("heater", T.F64), ("error", T.F64), ("saturated", T.BOOL)],
    retain=[("integral", T.F64), ("last_temperature", T.F64), ("primed", T.BOOL)],
)
CONVEYOR = Declared(
    inputs=[("speed", T.F64), ("enable", T.BOOL)],
    outputs=[("motor_on", T.BOOL), ("position", T.F64), ("pulses", T.U32)],
    retain=[("distance", T.F64)],
)
SEQUENCER = Declared(
    inputs=[("start", T.BOOL), ("stop", T.BOOL), ("level", T.F64), ("temperature", T.F64)],
    outputs=[("state", T.U8), ("inlet", T.BOOL), ("heater", T.BOOL), ("outlet", T.BOOL), ("step_polls", T.U32)],
    retain=[("step", T.U8), ("polls_in_step", T.U32), ("batches", T.U32)],
)
ECHO_TYPES = Declared(
    inputs=[("in_bool", T.BOOL), ("in_i8", T.I8), ("in_u8", T.U8), ("in_i16", T.I16), ("in_u16", T.U16),
            ("in_i32", T.I32), ("in_u32", T.U32), ("in_i64", T.I64), ("in_u64", T.U64), ("in_f32", T.F32),
            ("in_f64", T.F64)],
    outputs=[("out_f64", T.F64), ("out_bool", T.BOOL), ("out_i8", T.I8), ("out_u8", T.U8), ("out_i16", T.I16),
             ("out_u16", T.U16), ("out_i32", T.I32), ("out_u32", T.U32), ("out_i64", T.I64), ("out_u64", T.U64),
             ("out_f32", T.F32), ("polls", T.U32)],
    retain=[("sum_i64", T.I64), ("sum_f64", T.F64), ("last_u8", T.U8)],
)
LIBC_MEDIAN = Declared(
    inputs=[("sample", T.F64)],
    outputs=[("count", T.U32), ("mean", T.F64), ("median", T.F64)],
    retain=[],
)
STD_STATS = Declared(
    inputs=[("sample", T.F64), ("fail", T.BOOL)],
    outputs=[("samples", T.U32), ("distinct", T.U32), ("log_mean", T.F64)],
    retain=[],
)

IMAGES = [
    ("pid", PID, ["wat", "rust", "c"]),
    ("conveyor", CONVEYOR, ["wat", "rust", "c"]),
    ("sequencer", SEQUENCER, ["wat", "rust", "c"]),
    ("echo_types", ECHO_TYPES, ["rust", "c"]),
    ("std_stats", STD_STATS, ["rust-std"]),
    ("libc_median", LIBC_MEDIAN, ["c-wasi"]),
]
EVERY_IMAGE = [pytest.param(name, declared, flavour, id=f"{name}-{flavour}")
               for name, declared, flavours in IMAGES for flavour in flavours]
TWINS = ["wat", "rust", "c"]
SDK = ["rust", "c"]


# ---- the image the macros declare is the image the host sees --------------------


@pytest.mark.parametrize("name, declared, flavour", EVERY_IMAGE)
def test_the_declared_image_is_what_the_host_sees(rt, program_path, name, declared, flavour):
    program = rt.load(program_path(name, flavour), name="p1")
    seen = [(s.name, s.area, s.type, s.offset) for s in program.signals]
    expected = declared.signals()
    for index, (got, want) in enumerate(zip(seen, expected)):
        assert got == want, f"signal {index}: the host sees {got}, the source declares {want}"
    assert len(seen) == len(expected), f"the host sees {len(seen)} signals, the source declares {len(expected)}"
    assert (program.inputs.size, program.outputs.size, program.retain.size) == declared.sizes()


def test_the_declared_initial_values_are_in_the_image(rt, program_path):
    for flavour in SDK:
        program = rt.load(program_path("echo_types", flavour), name=f"echo_{flavour}")
        assert program.retain["last_u8"] == 7, flavour  # `last_u8: u8 = 7` / `.last_u8 = 7`
        assert program.retain["sum_i64"] == 0


# ---- every signal type goes where the host puts it ---------------------------------

ECHO_VALUES = {
    "bool": True, "i8": -128, "u8": 255, "i16": -32768, "u16": 65535, "i32": -(2**31), "u32": 2**32 - 1,
    "i64": -(2**63), "u64": 2**62 + 5, "f32": 1.5, "f64": -2.25,
}


@pytest.mark.parametrize("flavour", SDK)
def test_every_signal_type_reaches_the_program_and_comes_back(rt, program_path, flavour):
    program = rt.load(program_path("echo_types", flavour), name="p1")
    for kind, value in ECHO_VALUES.items():
        program.inputs[f"in_{kind}"] = value
    program.poll()
    program.inputs["in_i64"] = 5
    program.inputs["in_f64"] = 0.25
    program.poll()
    for kind, value in ECHO_VALUES.items():
        if kind in ("i64", "f64"):
            continue
        assert program.outputs[f"out_{kind}"] == value, kind
    assert program.outputs["out_i64"] == 5
    assert program.outputs["out_f64"] == 0.25
    assert program.outputs["polls"] == 2
    assert program.retain["sum_i64"] == -(2**63) + 5
    assert program.retain["sum_f64"] == -2.0
    assert program.retain["last_u8"] == 255


def test_a_rust_bool_input_holding_another_byte_reads_as_true(rt, program_path):
    """Raw input bytes can hold anything; a Rust bool may only be 0 or 1:
    the SDK turns any non-zero byte into true before the program sees it."""
    program = rt.load(program_path("echo_types", "rust"), name="p1")
    program.inputs.write(0, b"\x02")  # in_bool @0
    program.poll()
    out_bool = dict((s.name, s.offset) for s in program.signals if s.area == Area.OUTPUT)["out_bool"]
    assert program.outputs.read(out_bool, 1) == b"\x01"


@pytest.mark.parametrize("flavour", SDK)
def test_an_entry_point_error_is_a_fault_of_the_programs_own(rt, program_path, guest_log, flavour):
    """poll may return Err(e) (Rust) or non-zero (C): logged, GUEST_FAULT."""
    program = rt.load(program_path("echo_types", flavour), name="p1")
    program.inputs["in_i32"] = -1
    with pytest.raises(wasmcell.GuestFault, match="fault code 1"):
        program.poll()
    assert ("ERROR", "poll failed: in_i32 is -1") in guest_log(program)


# ---- PID: the output responds to the error ---------------------------------------------

KP, KI, KD, DT = 4.0, 0.5, 10.0, 0.1


def pid_reference(setpoint: float, temperature: float, enable: bool, state: dict) -> dict:
    """The controller of guest/rust/pid.rs, guest/c/pid.c and guest/pid.wat,
    operation for operation (IEEE doubles give the same bits)."""
    e = setpoint - temperature
    if not enable:
        state.update(integral=0.0, primed=False)
        return {"heater": 0.0, "error": e, "saturated": False}
    slope = (temperature - state["last_temperature"]) / DT if state["primed"] else 0.0
    state["last_temperature"] = temperature
    state["primed"] = True
    p = KP * e
    i = state["integral"] + KI * e * DT
    d = -KD * slope
    u = p + i + d
    if not ((u > 100.0 and e > 0.0) or (u < 0.0 and e < 0.0)):
        state["integral"] = i
    heater = 100.0 if u > 100.0 else 0.0 if u < 0.0 else u
    return {"heater": heater, "error": e, "saturated": u > 100.0 or u < 0.0}


def plant(temperature: float, heater: float) -> float:
    """A tank heated by the controller, losing heat to a 20 degC room."""
    return temperature + DT * (0.03 * heater - 0.01 * (temperature - 20.0))


def run_pid(program, model_state: dict, temperature: float, polls: int, setpoint: float = 60.0) -> Tuple[float, list]:
    outputs = []
    for _ in range(polls):
        program.inputs["setpoint"] = setpoint
        program.inputs["temperature"] = temperature
        program.poll()
        want = pid_reference(setpoint, temperature, True, model_state)
        got = {k: program.outputs[k] for k in ("heater", "error", "saturated")}
        assert got == want, f"poll {program.outputs.published_by}: the program gives {got}, the reference {want}"
        assert program.retain["integral"] == model_state["integral"]
        outputs.append(got)
        temperature = plant(temperature, got["heater"])
    return temperature, outputs


@pytest.mark.parametrize("flavour", TWINS)
def test_pid_responds_to_the_error(rt, program_path, guest_log, flavour):
    program = rt.load(program_path("pid", flavour), name="p1")
    assert ("INFO", "pid: cold start") in guest_log(program)
    program.inputs["enable"] = True
    state = {"integral": 0.0, "last_temperature": 0.0, "primed": False}
    temperature, outputs = run_pid(program, state, 20.0, 400)
    # 40 K below the setpoint: full heat, saturated, no wind-up.
    assert outputs[0] == {"heater": 100.0, "error": 40.0, "saturated": True}
    # Closing in: the command comes off the limit, and goes down while the
    # tank overshoots.
    assert any(0.0 < o["heater"] < 100.0 for o in outputs)
    overshoot = min(outputs, key=lambda o: o["error"])
    assert overshoot["error"] < 0 and overshoot["heater"] < 50.0
    assert abs(outputs[-1]["error"]) < abs(outputs[0]["error"]) / 4
    # Disabled: heater off, integral cleared.
    program.inputs["enable"] = False
    program.poll()
    assert program.outputs["heater"] == 0.0 and program.retain["integral"] == 0.0


@pytest.mark.parametrize("flavour", SDK)
def test_pid_hot_swap_from_its_wat_twin_is_bumpless(rt, program_path, guest_log, flavour):
    """Same retain layout id and size: the integral carries over into the
    SDK build, which goes on exactly where the WAT version stopped."""
    program = rt.load(program_path("pid", "wat"), name="p1")
    program.inputs["enable"] = True
    state = {"integral": 0.0, "last_temperature": 0.0, "primed": False}
    temperature, _ = run_pid(program, state, 20.0, 120)
    integral = program.retain["integral"]
    assert integral > 0
    program.reload(program_path("pid", flavour).read_bytes())
    assert program.notice == "retain area carried over (24 bytes, layout id 1)"
    assert program.retain["integral"] == integral
    assert any(level == "INFO" and text.startswith("pid: restarted, integral ") and text.endswith(" % kept")
               for level, text in guest_log(program)), guest_log(program)
    run_pid(program, state, temperature, 120)


# ---- conveyor: counts; a panic faults the poll with its message ---------------------


@pytest.mark.parametrize("flavour", TWINS)
def test_conveyor_counts(rt, program_path, flavour):
    program = rt.load(program_path("conveyor", flavour), name="p1")
    program.inputs["speed"] = 1.5
    program.inputs["enable"] = True
    for _ in range(4):
        program.poll()
    assert program.outputs["motor_on"] is True
    assert (program.outputs["position"], program.outputs["pulses"], program.retain["distance"]) == (6.0, 4, 6.0)
    program.inputs["enable"] = False
    program.poll()
    assert program.outputs["motor_on"] is False
    assert program.outputs["pulses"] == 4
    program.inputs["enable"] = True
    program.inputs["speed"] = 0.5
    program.poll()
    assert (program.outputs["position"], program.outputs["pulses"], program.retain["distance"]) == (6.5, 5, 6.5)


PANIC_SOURCE = {"rust": "guest/rust/conveyor.rs", "c": "guest/c/conveyor.c"}
PANIC_MESSAGE = {"rust": "negative speed command: -1.5", "c": "negative speed command"}


@pytest.mark.parametrize("flavour", SDK)
def test_a_panic_faults_the_poll_with_its_message_and_location(rt, program_path, guest_log, flavour):
    program = rt.load(program_path("conveyor", flavour), name="p1")
    program.inputs["speed"] = 2.0
    program.inputs["enable"] = True
    program.poll()
    published = program.outputs.read()
    program.inputs["speed"] = -1.5
    with pytest.raises(wasmcell.TrapError) as fault:
        program.poll()
    assert program.fault_kind == wasmcell.FaultKind.UNREACHABLE
    assert program.outputs.read() == published  # the half-written outputs were not published
    errors = [text for level, text in guest_log(program) if level == "ERROR"]
    assert errors, "the panic logged nothing"
    line = errors[-1]
    assert line.startswith(f"panicked at {PANIC_SOURCE[flavour]}:"), line
    assert line.endswith(f": {PANIC_MESSAGE[flavour]}"), line
    # The host names the panic in the fault message, not only in the log.
    assert PANIC_MESSAGE[flavour] in str(fault.value), str(fault.value)


@pytest.mark.parametrize("flavour", SDK)
def test_the_sdk_conveyor_hot_swaps_with_the_wat_one(rt, program_path, flavour):
    """guest/conveyor.wat and the SDK builds share signals and retain layout:
    the distance goes on across swaps both ways."""
    program = rt.load(program_path("conveyor", "wat"), name="p1")
    program.inputs["speed"] = 1.0
    program.inputs["enable"] = True
    program.poll()
    for step, source in enumerate((program_path("conveyor", flavour), program_path("conveyor", "wat"))):
        program.reload(source.read_bytes())
        assert program.notice == "retain area carried over (8 bytes, layout id 1)", source
        program.poll()
        assert program.retain["distance"] == 2.0 + step, source


# ---- sequencer: steps through its states --------------------------------------------

IDLE, FILLING, HEATING, HOLDING, DRAINING = range(5)
NAMES = ["IDLE", "FILLING", "HEATING", "HOLDING", "DRAINING"]


def sequencer_reference(inputs: dict, state: dict) -> dict:
    step = state["step"]
    nxt = step
    if inputs["stop"]:
        nxt = IDLE
    elif step == IDLE and inputs["start"]:
        nxt = FILLING
    elif step == FILLING and inputs["level"] >= 80.0:
        nxt = HEATING
    elif step == HEATING and inputs["temperature"] >= 70.0:
        nxt = HOLDING
    elif step == HOLDING and state["polls_in_step"] >= 5:
        nxt = DRAINING
    elif step == DRAINING and inputs["level"] <= 5.0:
        state["batches"] += 1
        nxt = IDLE
    elif step > DRAINING:
        nxt = IDLE
    if nxt != step:
        state.update(step=nxt, polls_in_step=0)
    else:
        state["polls_in_step"] += 1
    s = state["step"]
    return {"state": s, "inlet": s == FILLING, "heater": s in (HEATING, HOLDING), "outlet": s == DRAINING,
            "step_polls": state["polls_in_step"]}


def tank(inputs: dict, outputs: dict) -> None:
    """The tank the sequencer drives: fills, heats, cools and drains."""
    if outputs["inlet"]:
        inputs["level"] = min(100.0, inputs["level"] + 10.0)
    if outputs["outlet"]:
        inputs["level"] = max(0.0, inputs["level"] - 15.0)
    if outputs["heater"]:
        inputs["temperature"] += 8.0
    else:
        inputs["temperature"] = max(20.0, inputs["temperature"] - 1.0)


def run_sequencer(program, inputs: dict, state: dict, polls: int) -> List[int]:
    states = []
    for _ in range(polls):
        for name in ("start", "stop", "level", "temperature"):
            program.inputs[name] = inputs[name]
        program.poll()
        want = sequencer_reference(inputs, state)
        got = {k: program.outputs[k] for k in want}
        assert got == want, f"poll {program.outputs.published_by} with {inputs}: got {got}, want {want}"
        assert program.retain["batches"] == state["batches"]
        states.append(got["state"])
        tank(inputs, got)
    return states


@pytest.mark.parametrize("flavour", TWINS)
def test_sequencer_steps_through_its_states(rt, program_path, guest_log, flavour):
    program = rt.load(program_path("sequencer", flavour), name="p1")
    inputs = {"start": False, "stop": False, "level": 0.0, "temperature": 20.0}
    state = {"step": IDLE, "polls_in_step": 0, "batches": 0}
    assert run_sequencer(program, inputs, state, 3) == [IDLE] * 3
    inputs["start"] = True  # a start pulse of one poll
    states = run_sequencer(program, inputs, state, 1)
    inputs["start"] = False
    states += run_sequencer(program, inputs, state, 34)
    # Every state in order, then idle with one batch done.
    assert states == [FILLING] * 8 + [HEATING] * 7 + [HOLDING] * 6 + [DRAINING] * 5 + [IDLE] * 9
    assert program.retain["batches"] == 1
    # stop: back to IDLE from the middle of a batch, without counting it.
    inputs["start"] = True
    run_sequencer(program, inputs, state, 2)
    assert program.outputs["state"] != IDLE
    batches = program.retain["batches"]
    inputs.update(start=False, stop=True)
    run_sequencer(program, inputs, state, 1)
    assert program.outputs["state"] == IDLE and program.retain["batches"] == batches
    if flavour != "wat":
        log = guest_log(program)
        for a, b in zip(NAMES[:4], NAMES[1:5]):
            assert ("INFO", f"sequencer: {a} -> {b}") in log, log
        assert ("INFO", "sequencer: DRAINING -> IDLE") in log


@pytest.mark.parametrize("flavour", SDK)
def test_sequencer_hot_swap_continues_the_batch(rt, program_path, guest_log, flavour):
    program = rt.load(program_path("sequencer", "wat"), name="p1")
    inputs = {"start": True, "stop": False, "level": 0.0, "temperature": 20.0}
    state = {"step": IDLE, "polls_in_step": 0, "batches": 0}
    while state["step"] != HEATING:
        run_sequencer(program, inputs, state, 1)
    program.reload(program_path("sequencer", flavour).read_bytes())
    assert program.notice == "retain area carried over (12 bytes, layout id 1)"
    assert ("INFO", "sequencer: continuing in HEATING (0 batches done)") in guest_log(program)
    inputs["start"] = False
    states = run_sequencer(program, inputs, state, 30)
    assert HOLDING in states and DRAINING in states and state["batches"] == 1


# ---- the rest of the SDK: output, the clock, start kinds, std --------------------------


@pytest.mark.parametrize("flavour", SDK)
def test_hello_prints_logs_reads_the_clock_and_knows_why_it_started(rt, program_path, guest_log, flavour):
    rt.set_clock(lambda: 1_234_567)
    program = rt.load(program_path("hello", flavour), name="p1")
    program.poll()
    program.reset()
    program.reload(program_path("hello", flavour).read_bytes())
    assert guest_log(program) == [
        ("INFO", "hello: loaded"),
        ("INFO", "Polling at 1234567 ns"),
        ("INFO", "hello: reset"),
        ("INFO", "hello: reloaded"),
    ]


def test_a_rust_std_program_with_the_sdk(rt, program_path, guest_log):
    """The std feature on wasm32-wasip1: HashMap, String, f64::ln, println!
    through WASI beside the SDK's log!, and the SDK's panic hook."""
    program = rt.load(program_path("std_stats", "rust-std"), name="p1")
    program.inputs["sample"] = 10.0
    for _ in range(3):
        program.poll()
    assert (program.outputs["samples"], program.outputs["distinct"]) == (3, 3)
    assert program.outputs["log_mean"] == pytest.approx(2.302585092994046)
    program.inputs["fail"] = True
    with pytest.raises(wasmcell.TrapError):
        program.poll()
    log = guest_log(program)
    assert log[0] == ("INFO", "std_stats: online")
    assert ("INFO", "std_stats: 3 samples, 3 distinct") in log
    assert log[-1][0] == "ERROR"
    assert log[-1][1].startswith("panicked at guest-sdk/rust/examples/std_stats.rs:")
    assert log[-1][1].endswith(": std_stats: asked to fail")


def test_a_c_program_on_wasi_libc_with_the_sdk(rt, program_path, guest_log):
    """printf, malloc and qsort beside the C SDK's process image macros."""
    program = rt.load(program_path("libc_median", "c-wasi"), name="p1")
    for sample in (3, 1, 4, 1, 5, 9, 2):
        program.inputs["sample"] = sample
        program.poll()
    assert (program.outputs["count"], program.outputs["mean"], program.outputs["median"]) == (7, 4.2, 4.0)
    log = guest_log(program)
    assert log[0] == ("INFO", "libc_median: online")
    assert log[-1] == ("INFO", "libc_median: 7 samples, median 4.00")
