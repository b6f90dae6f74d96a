import gc
import logging
import threading

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
    with pytest.raises(wasmcell.InvalidHandle) as info:
        program.poll()
    assert info.value.status == wasmcell.InvalidHandle.status


@pytest.mark.parametrize(
    "source, error, needle",
    [
        (b"not wasm at all", wasmcell.CompileError, "not a WebAssembly module"),
        ("missing_import.wat", wasmcell.LinkError, "plant.read_valve"),
        ("no_poll.wat", wasmcell.LinkError, "poll"),
        ("start_trap.wat", wasmcell.InstantiateError, "start function"),
        ("init_trap.wat", wasmcell.InstantiateError, "init"),
        ("huge_memory_minimum.wat", wasmcell.LimitError, "memory limit"),
    ],
)
def test_load_errors_have_meaning(rt, fixture, source, error, needle):
    if isinstance(source, str):
        source = fixture(source)
    with pytest.raises(error) as info:
        rt.load(source)
    assert needle in str(info.value)
    assert isinstance(info.value, wasmcell.Error)


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


def test_polls_release_the_gil(fixture):
    """Two programs polled from two Python threads make progress together."""
    with wasmcell.Runtime() as runtime:
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
