"""The message of an exception is the message of the call that failed.

After a failing call the binding reads ``wasmcell_last_error`` on the same
thread (ctypes runs the call there), so the message belongs to the status:
a rejected argument names the argument even on a faulted program, whose
fault message stays in ``Program.fault_message``."""

import ctypes
import threading

import pytest

import wasmcell
from wasmcell import _ffi

FAULT_TEXT = "unreachable executed"


@pytest.fixture
def faulted(rt, fixture):
    program = rt.load(fixture("unreachable.wat"), name="p1")
    with pytest.raises(wasmcell.TrapError) as info:
        program.poll()
    assert FAULT_TEXT in str(info.value)
    assert program.error == str(info.value)
    return program


def test_a_bad_argument_on_a_faulted_program_names_the_argument(faulted):
    with pytest.raises(wasmcell.InvalidArgument) as info:
        faulted.inputs.write(1_000_000, b"x")
    assert "1000000" in str(info.value) and "input area" in str(info.value)
    assert FAULT_TEXT not in str(info.value)

    with pytest.raises(wasmcell.InvalidArgument) as info:
        faulted.outputs.read(2_000_000, 4)
    assert "2000000" in str(info.value) and "output area" in str(info.value)
    assert FAULT_TEXT not in str(info.value)

    with pytest.raises(wasmcell.InvalidArgument) as info:
        faulted.fuel = 0
    assert "budget" in str(info.value)
    assert FAULT_TEXT not in str(info.value)

    # The rejected calls changed nothing: still faulted by the same trap,
    # whose message is kept apart from the last failed call's.
    assert "budget" in faulted.error and FAULT_TEXT not in faulted.error
    assert FAULT_TEXT in faulted.fault_message
    assert faulted.state is wasmcell.ProgramState.FAULTED
    assert faulted.fault_kind is wasmcell.FaultKind.UNREACHABLE
    with pytest.raises(wasmcell.FaultedError) as info:
        faulted.poll()
    assert FAULT_TEXT in str(info.value)


def test_an_unknown_signal_id_on_a_faulted_program_names_the_id(faulted):
    value = ctypes.c_int64()
    with pytest.raises(wasmcell.NotFound) as info:
        faulted._call(_ffi.lib.wasmcell_program_signal_get_i64, 4242, ctypes.byref(value))
    assert "4242" in str(info.value)
    assert FAULT_TEXT not in str(info.value)


def test_each_thread_gets_the_message_of_its_own_call(faulted):
    """Two threads make failing calls on the same faulted program: each
    exception names that thread's own offset (a message read from the
    program, shared by the threads, would mix them up or name the fault)."""
    wrong: list = []
    start = threading.Barrier(2)

    def hammer(offset: int) -> None:
        start.wait()
        for _ in range(300):
            try:
                faulted.inputs.write(offset, b"x")
            except wasmcell.InvalidArgument as error:
                if str(offset) not in str(error) or FAULT_TEXT in str(error):
                    wrong.append((offset, str(error)))
            else:
                wrong.append((offset, "no exception"))

    threads = [threading.Thread(target=hammer, args=(offset,)) for offset in (1_111_111, 2_222_222)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_a_runtime_call_raises_with_its_own_message(rt):
    with pytest.raises(wasmcell.InvalidArgument) as info:
        rt.define("plant", "valve", "(q)", lambda: None)
    assert "'q'" in str(info.value)


def _reported_length() -> int:
    """The length of this thread's last error as wasmcell reports it."""
    length = ctypes.c_size_t()
    status = _ffi.lib.wasmcell_last_error(None, 0, ctypes.byref(length))
    assert status in (_ffi.OK, _ffi.ERR_BUFFER_TOO_SMALL)
    return length.value


def test_a_message_over_4_kib_arrives_whole(rt):
    name = "valve_" + "y" * 6000 + "_end"
    wat = f'(module (import "plant" "{name}" (func)) (func (export "poll")))'
    with pytest.raises(wasmcell.LinkError) as info:
        rt.load(wat.encode(), name="p1")
    message = str(info.value)
    assert f"`plant.{name}`" in message
    assert len(message.encode()) == _reported_length() > 4096 > _ffi._FIRST_STRING_CAPACITY


def test_a_long_program_name_in_a_load_error_arrives_whole(rt):
    name = "controller_" + "n" * 5000 + "_end"
    with pytest.raises(wasmcell.CompileError) as info:
        rt.load(b"not a module", name=name)
    assert name in str(info.value)
    assert len(str(info.value).encode()) == _reported_length()


def test_a_fault_message_of_the_largest_size_arrives_whole(rt, fixture):
    """Fault messages are cut at 4096 bytes by the library; one that long
    reaches the exception and Program.error with every byte."""
    program = rt.load(fixture("unreachable.wat"), name="q" * 5000)
    with pytest.raises(wasmcell.TrapError) as info:
        program.poll()
    message = str(info.value)
    assert len(message.encode()) == _reported_length() == 4096
    assert message.startswith("program 'qqqq") and message.endswith("...")
    assert program.error == message
