"""Online change from Python: report before commit, shadow run, watchdog,
safe outputs."""

import struct
import time

import pytest

import wasmcell


def test_report_shadow_run_and_commit(fixture):
    with wasmcell.Runtime() as rt:
        running = rt.load(fixture("conveyor.wat"), name="conveyor")
        running.inputs["speed"] = 2.0
        running.inputs["enable"] = True
        for _ in range(5):
            running.poll()
        published = running.outputs["position"]
        with running.prepare(fixture("conveyor.wat")) as prepared:
            assert prepared.retain_summary == wasmcell.RetainSummary(kept=1, added=0, dropped=0, retyped=0)
            assert prepared.report == "distance f64: kept\n"
            for _ in range(10):
                prepared.shadow_poll()
            position = struct.unpack("<d", prepared.read_outputs(8, 8))[0]
            assert position == 20.0
            assert running.outputs["position"] == published, "the running program is untouched"
            prepared.commit()
        assert running.retain["distance"] == 10.0


def test_a_faulting_version_is_caught_in_the_shadow_run(fixture):
    with wasmcell.Runtime() as rt:
        running = rt.load(fixture("conveyor.wat"), name="conveyor")
        running.inputs["speed"] = -1.0  # the conveyor traps on a negative speed
        with running.prepare(fixture("conveyor.wat")) as prepared:
            with pytest.raises(wasmcell.TrapError):
                prepared.shadow_poll()
            with pytest.raises(wasmcell.FaultedError):
                prepared.shadow_poll()
        # Discarded on leaving the block; the running program never saw it.
        assert running.stats.faults == 0


def test_host_functions_know_a_shadow_poll(fixture):
    seen = []
    with wasmcell.Runtime() as rt:

        @rt.function("test", "tick", "(i)")
        def tick(count):
            seen.append(wasmcell.in_shadow_poll())

        running = rt.load(fixture("counter.wat"), name="counter")
        running.poll()
        with running.prepare(fixture("counter.wat")) as prepared:
            prepared.shadow_poll()
        running.poll()
    assert seen == [False, True, False]


def test_watchdog_and_safe_outputs(fixture):
    with wasmcell.Runtime() as rt:
        spin = rt.load(fixture("infinite_loop.wat"), name="spin")
        spin.fuel = 2**62
        spin.set_watchdog(0.05)
        started = time.monotonic()
        with pytest.raises(wasmcell.WatchdogError):
            spin.poll()
        assert time.monotonic() - started < 2.0
        assert spin.fault_kind == wasmcell.FaultKind.WATCHDOG
        assert spin.stats.overruns == 1

        conveyor = rt.load(fixture("conveyor.wat"), name="conveyor")
        conveyor.fault_outputs = "defaults"
        conveyor.inputs["speed"] = 1.0
        conveyor.inputs["enable"] = True
        conveyor.poll()
        assert conveyor.outputs["motor_on"] is True or conveyor.outputs["motor_on"] == 1
        conveyor.inputs["speed"] = -1.0
        with pytest.raises(wasmcell.TrapError):
            conveyor.poll()
        assert not conveyor.outputs["motor_on"]
        with pytest.raises(ValueError):
            conveyor.fault_outputs = "sometimes"


def test_deadline_mode_stops_calls_by_time_not_by_count(fixture):
    # fuel=10 would stop any loop at once; deadline mode does not count.
    with wasmcell.Runtime(fuel=10, deadline_ns=30_000_000) as rt:
        counter = rt.load(fixture("hello.wat"), name="hello")
        for _ in range(3):
            counter.poll()
        assert counter.stats.last_fuel_used == 0
        spin = rt.load(fixture("infinite_loop.wat"), name="spin")
        started = time.monotonic()
        with pytest.raises(wasmcell.WatchdogError):
            spin.poll()
        assert time.monotonic() - started < 2.0
        counter.poll()
        with pytest.raises(wasmcell.InvalidArgument, match="deadline mode"):
            spin.fuel = 1000
        with pytest.raises(wasmcell.InvalidArgument):
            spin.set_watchdog(0)
        spin.set_watchdog(0.01)
