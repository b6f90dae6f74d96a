import gc
import logging
import threading
import time

import pytest

import wasmcell


def test_library_version_matches_package():
    assert wasmcell.library_version() == wasmcell.__version__


def test_load_poll_and_log_to_python_logging(rt, fixture, caplog):
    caplog.set_level(logging.INFO, logger="wasmcell")
    program = rt.load(fixture("hello.wat"))
    assert program.name == "hello"
    for _ in range(3):
        program.poll()
    lines = [r for r in caplog.records if r.name == "wasmcell.hello"]
    assert [r.getMessage() for r in lines] == ["Polling"] * 3
    assert program.stats.polls == 3
    assert program.state is wasmcell.ProgramState.READY


def test_load_from_bytes_with_a_name(rt, fixture):
    program = rt.load(fixture("hello.wat").read_bytes(), name="from-bytes")
    assert program.name == "from-bytes"
    program.poll()


def test_context_managers_and_closing_twice(fixture):
    with wasmcell.Runtime() as runtime:
        with runtime.load(fixture("hello.wat")) as program:
            program.poll()
        program.unload()  # second unload is harmless
        with pytest.raises(wasmcell.InvalidHandle):
            program.poll()
    runtime.close()
    assert runtime.closed
    with pytest.raises(wasmcell.InvalidHandle):
        runtime.load(fixture("hello.wat"))


def test_programs_are_invalid_after_their_runtime_closes(fixture):
    runtime = wasmcell.Runtime()
    program = runtime.load(fixture("hello.wat"))
    runtime.close()
    with pytest.raises(wasmcell.InvalidHandle, match="stale program handle") as info:
        program.poll()
    assert info.value.status == -2


@pytest.mark.parametrize(
    "source, error, needle",
    [
        (b"not wasm at all", wasmcell.CompileError, "not a WebAssembly module"),
        ("missing_import.wat", wasmcell.LinkError, "missing import `plant.read_valve`"),
        ("no_poll.wat", wasmcell.LinkError, "does not export a `poll` function"),
        ("bad_poll_signature.wat", wasmcell.LinkError, "export `poll` has type"),
        ("start_trap.wat", wasmcell.InstantiateError, "start function: unreachable executed"),
        ("init_trap.wat", wasmcell.InstantiateError, "init: unreachable executed"),
        ("huge_memory_minimum.wat", wasmcell.LimitError, "exceeds the program's memory limit"),
    ],
)
def test_load_errors_have_meaning(rt, fixture, source, error, needle):
    # Loaded under a neutral name: a program named after its fixture
    # ("init_trap") would put the needle in every message.
    if isinstance(source, str):
        source = fixture(source)
    with pytest.raises(error) as info:
        rt.load(source, name="p1")
    assert needle in str(info.value)
    assert "'p1'" in str(info.value)
    assert isinstance(info.value, wasmcell.Error)
    assert info.value.status == {
        wasmcell.CompileError: -3,
        wasmcell.LinkError: -4,
        wasmcell.InstantiateError: -5,
        wasmcell.LimitError: -15,
    }[error]


def test_missing_file_is_not_found(rt):
    with pytest.raises(wasmcell.NotFound):
        rt.load("/nonexistent/program.wasm")
    with pytest.raises(FileNotFoundError):
        rt.load("/nonexistent/program.wasm")


def test_bad_signature_is_invalid_argument(rt):
    with pytest.raises(wasmcell.InvalidArgument, match="unknown parameter type"):
        rt.define("m", "f", "(x)", lambda: None)


def test_runtime_limits_as_keywords(fixture):
    with wasmcell.Runtime(memory_limit=2 << 30, fuel=5000, max_module_size=1 << 20) as runtime:
        runtime.load(fixture("huge_memory_minimum.wat")).poll()
        spin = runtime.load(fixture("infinite_loop.wat"))
        with pytest.raises(wasmcell.BudgetExceeded):
            spin.poll()
        assert spin.stats.last_fuel_used == 5000
    with wasmcell.Runtime(max_module_size=10) as runtime:
        with pytest.raises(wasmcell.LimitError):
            runtime.load(fixture("hello.wat"))


def test_clock_can_be_replaced(rt, fixture):
    seen = []
    rt.function("test", "time", "(I)")(seen.append)
    rt.set_clock(lambda: 42_000)
    program = rt.load(fixture("logger.wat"))
    program.poll()
    rt.set_clock(None)
    program.poll()
    assert seen[0] == 42_000 and seen[1] != 42_000


def test_polls_of_different_programs_run_on_two_threads(fixture):
    with wasmcell.Runtime(log=False) as runtime:
        programs = [runtime.load(fixture("hello.wat"), name=f"p{i}") for i in range(2)]
        errors = []

        def run(program):
            try:
                for _ in range(200):
                    program.poll()
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=run, args=(p,)) for p in programs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [p.stats.polls for p in programs] == [200, 200]


def test_a_long_poll_releases_the_gil(fixture):
    """Python threads make progress *while* a guest poll runs: a thread
    records timestamps during a 300 ms poll (the guest calls no Python code),
    and some of them must fall well inside the poll. With the GIL held for
    the poll there would be none: the poll would run first, then the thread."""
    with wasmcell.Runtime(log=False) as runtime:
        program = runtime.load(fixture("busy_300ms.wat"), name="busy", fuel=10**12)
        stamps = []
        stop = threading.Event()

        def count():
            while not stop.is_set():
                stamps.append(time.perf_counter())

        counter = threading.Thread(target=count)
        counter.start()
        time.sleep(0.02)
        before = time.perf_counter()
        program.poll()
        after = time.perf_counter()
        stop.set()
        counter.join()

        assert after - before >= 0.25
        margin = 0.05  # a GIL switch takes at most 5 ms; stay far from both ends
        during = [t for t in stamps if before + margin < t < after - margin]
        assert len(during) > 100, f"{len(during)} steps of the other thread during a {after - before:.3f} s poll"
        # and the progress spans the poll, not one burst
        assert during[-1] - during[0] > (after - before - 2 * margin) / 2


def test_callbacks_survive_garbage_collection(fixture):
    with wasmcell.Runtime() as runtime:
        ticks = []

        def make():
            runtime.function("test", "tick", "(i)")(lambda n: ticks.append(n))

        make()
        gc.collect()
        program = runtime.load(fixture("counter.wat"))
        gc.collect()
        program.poll()
        assert ticks == [101]


LONG = "x" * 1000 + " END"  # longer than the binding's first 256-byte buffer, shorter than the 4096 cap


def test_a_long_host_error_message_arrives_whole(rt, fixture):
    @rt.function("test", "tick", "(i)")
    def tick(n: int) -> None:
        raise RuntimeError(LONG)

    program = rt.load(fixture("counter.wat"), name="p1")
    with pytest.raises(wasmcell.HostError) as info:
        program.poll()
    assert str(info.value).endswith("RuntimeError: " + LONG)
    assert program.error == str(info.value)
    assert len(program.error) > 1000


def test_a_long_link_error_message_arrives_whole(rt):
    name = "valve_" + "y" * 600 + "_end"
    wat = f'(module (import "plant" "{name}" (func)) (func (export "poll")))'
    with pytest.raises(wasmcell.LinkError) as info:
        rt.load(wat.encode(), name="p1")
    assert f"missing import `plant.{name}`" in str(info.value)


def test_a_long_runtime_error_message_arrives_whole(rt):
    signature = "(" + "i" * 700 + "q)"
    with pytest.raises(wasmcell.InvalidArgument) as info:
        rt.define("m", "f", signature, lambda *args: None)
    assert signature in str(info.value)
    assert "unknown parameter type 'q'" in str(info.value)
