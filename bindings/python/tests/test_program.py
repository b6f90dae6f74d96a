import pytest

import wasmcell


@pytest.mark.parametrize(
    "fixture_name, kind, needle",
    [
        ("unreachable.wat", wasmcell.FaultKind.UNREACHABLE, "unreachable executed in wasm function `explode`"),
        ("divide_by_zero.wat", wasmcell.FaultKind.INTEGER_DIVIDE_BY_ZERO, "integer divide by zero"),
        ("out_of_bounds.wat", wasmcell.FaultKind.MEMORY_OUT_OF_BOUNDS, "out-of-bounds memory access"),
        ("recursion.wat", wasmcell.FaultKind.STACK_OVERFLOW, "stack overflow"),
    ],
)
def test_traps_raise_trap_error_and_fault_the_program(rt, fixture, fixture_name, kind, needle):
    program = rt.load(fixture(fixture_name), name="p1")
    with pytest.raises(wasmcell.TrapError) as info:
        program.poll()
    assert info.value.status == -6
    assert needle in str(info.value)
    assert program.state is wasmcell.ProgramState.FAULTED
    assert program.fault_kind is kind
    assert program.error == str(info.value)
    with pytest.raises(wasmcell.FaultedError):
        program.poll()
    program.reset()
    assert program.state is wasmcell.ProgramState.READY
    assert program.error == ""


def test_budget_exceeded(rt, fixture):
    program = rt.load(fixture("infinite_loop.wat"), fuel=20_000)
    with pytest.raises(wasmcell.BudgetExceeded):
        program.poll()
    assert program.fault_kind is wasmcell.FaultKind.BUDGET_EXHAUSTED
    assert program.stats.last_fuel_used == 20_000
    assert program.stats.faults == 1


def test_guest_fault(rt, fixture):
    program = rt.load(fixture("guest_fault.wat"))
    program.poll()
    program.poll()
    with pytest.raises(wasmcell.GuestFault, match="fault code 7"):
        program.poll()


def test_host_functions_with_scalars_and_buffers(rt, fixture):
    plant = {"sensor": 80.0, "actuator": None, "sent": []}

    @rt.function("plant", "read_sensor", "(i)F")
    def read_sensor(channel: int) -> float:
        assert channel == 0
        return plant["sensor"]

    @rt.function("plant", "set_actuator", "(ii)")
    def set_actuator(channel: int, value: int) -> None:
        plant["actuator"] = value

    @rt.function("plant", "send", "(*~)i")
    def send(message: memoryview) -> int:
        plant["sent"].append(bytes(message))
        return 0

    program = rt.load(fixture("callbacks.wat"))
    program.poll()
    assert plant["actuator"] == 1
    plant["sensor"] = 10.0
    program.poll()
    assert plant["actuator"] == 0
    assert plant["sent"] == [b"cycle", b"cycle"]


def test_a_raising_host_function_becomes_host_error_with_cause(rt, fixture):
    class SensorOffline(RuntimeError):
        pass

    @rt.function("test", "tick", "(i)")
    def tick(n: int) -> None:
        raise SensorOffline(f"sensor offline at tick {n}")

    program = rt.load(fixture("counter.wat"))
    with pytest.raises(wasmcell.HostError) as info:
        program.poll()
    assert isinstance(info.value.__cause__, SensorOffline)
    assert info.value.__cause__.__traceback__ is not None
    assert "test.tick" in str(info.value)
    assert "SensorOffline: sensor offline at tick 101" in str(info.value)
    assert program.fault_kind is wasmcell.FaultKind.HOST_ERROR


def test_a_buffer_view_kept_after_the_call_is_released(rt, fixture):
    kept = []

    @rt.function("plant", "send", "(*~)i")
    def send(message: memoryview) -> int:
        kept.append(message)
        return 0

    rt.function("plant", "read_sensor", "(i)F")(lambda c: 0.0)
    rt.function("plant", "set_actuator", "(ii)")(lambda c, v: None)
    rt.load(fixture("callbacks.wat")).poll()
    with pytest.raises(ValueError):
        bytes(kept[0])


def test_wrong_number_of_results_is_a_host_error(rt, fixture):
    rt.function("plant", "read_sensor", "(i)F")(lambda c: (1.0, 2.0))
    rt.function("plant", "set_actuator", "(ii)")(lambda c, v: None)
    rt.function("plant", "send", "(*~)i")(lambda m: 0)
    program = rt.load(fixture("callbacks.wat"))
    with pytest.raises(wasmcell.HostError) as info:
        program.poll()
    assert isinstance(info.value.__cause__, TypeError)
    assert "host function plant.read_sensor returned 2 values, its signature says 1" in str(info.value)


def test_reentering_the_program_is_busy(rt, fixture):
    seen = []
    holder = {}

    @rt.function("test", "reenter", "()")
    def reenter() -> None:
        try:
            holder["program"].poll()
        except wasmcell.BusyError as error:
            seen.append(error)

    holder["program"] = rt.load(fixture("reenter.wat"), name="p1")
    holder["program"].poll()
    assert len(seen) == 1 and seen[0].status == -10
    assert "cannot poll from inside one of its own host callbacks" in str(seen[0])


def test_reload_swaps_and_failed_reload_keeps_old(rt, fixture):
    ticks = []
    rt.function("test", "tick", "(i)")(ticks.append)
    program = rt.load(fixture("unreachable.wat"))
    with pytest.raises(wasmcell.TrapError):
        program.poll()
    with pytest.raises(wasmcell.CompileError):
        program.reload(b"garbage")
    assert program.state is wasmcell.ProgramState.FAULTED
    program.reload(fixture("counter.wat").read_bytes())
    program.poll()
    assert ticks == [101]
    with pytest.raises(wasmcell.CompileError):
        program.reload(b"garbage")
    assert "previous version keeps running" in program.error
    program.poll()
    assert ticks == [101, 102]


def test_stats_and_repr(rt, fixture):
    program = rt.load(fixture("hello.wat"), name="hello")
    program.poll()
    stats = program.stats
    assert stats.polls == 1 and stats.faults == 0
    assert stats.last_fuel_used > 0
    assert stats.max_poll_ns >= stats.last_poll_ns > 0
    assert repr(program) == "<wasmcell.Program 'hello' ready>"
    program.unload()
    assert repr(program) == "<wasmcell.Program 'hello' unloaded>"


def test_memory_limit_applies_at_reset(fixture):
    with wasmcell.Runtime(memory_limit=2 << 30) as runtime:
        program = runtime.load(fixture("huge_memory_minimum.wat"))
        program.set_memory_limit(1 << 20)
        with pytest.raises(wasmcell.LimitError, match="exceeds the program's memory limit"):
            program.reset()
        assert program.state is wasmcell.ProgramState.FAULTED
        assert "exceeds the program's memory limit" in program.error


def test_timing_off_leaves_the_durations_alone(rt, fixture):
    program = rt.load(fixture("conveyor.wat"))
    assert program.timing is True
    program.poll()
    timed = program.stats
    program.timing = False
    for _ in range(20):
        program.poll()
    untimed = program.stats
    assert untimed.polls == timed.polls + 20
    assert (untimed.last_poll_ns, untimed.max_poll_ns) == (timed.last_poll_ns, timed.max_poll_ns)
    program.timing = True
    assert program.timing is True
