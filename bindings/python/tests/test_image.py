import pytest

import wasmcell


def test_signals_are_listed(rt, fixture):
    program = rt.load(fixture("conveyor.wat"))
    names = [(s.name, s.area, s.type) for s in program.signals]
    assert names[0] == ("speed", wasmcell.Area.INPUT, wasmcell.SignalType.F64)
    assert ("distance", wasmcell.Area.RETAIN, wasmcell.SignalType.F64) in names
    assert list(program.outputs) == ["motor_on", "position", "pulses"]
    assert "speed" in program.inputs and "speed" not in program.outputs
    assert (program.inputs.size, program.outputs.size, program.retain.size) == (16, 24, 8)


def test_drive_a_program_through_named_signals(rt, fixture):
    program = rt.load(fixture("conveyor.wat"))
    program.inputs["speed"] = 1.5
    program.inputs["enable"] = True
    assert program.outputs.published_by == 0
    for _ in range(4):
        program.poll()
    assert program.outputs["motor_on"] is True
    assert program.outputs["position"] == 6.0
    assert program.outputs["pulses"] == 4
    assert program.retain["distance"] == 6.0
    assert program.inputs["speed"] == 1.5
    assert program.outputs.published_by == 4


def test_raw_byte_ranges(rt, fixture):
    import struct

    program = rt.load(fixture("conveyor.wat"))
    program.inputs.write(0, struct.pack("<d", 2.0))
    program.inputs.write(8, b"\x01")
    program.poll()
    raw = program.outputs.read()
    assert len(raw) == 24
    assert struct.unpack_from("<d", raw, 8)[0] == 2.0
    with pytest.raises(wasmcell.InvalidArgument, match="outside the 16-byte input area"):
        program.inputs.write(12, b"\x00" * 8)
    with pytest.raises(TypeError):
        program.outputs.write(0, b"\x00")


def test_type_and_name_errors(rt, fixture):
    program = rt.load(fixture("conveyor.wat"))
    with pytest.raises(KeyError):
        program.inputs["nope"]
    with pytest.raises(KeyError):
        program.inputs["position"]  # an output
    with pytest.raises(wasmcell.InvalidArgument):
        program.inputs["enable"] = 2
    with pytest.raises(wasmcell.InvalidArgument):
        program.outputs["position"] = 1.0


def test_a_faulting_poll_leaves_the_published_outputs(rt, fixture):
    program = rt.load(fixture("conveyor.wat"))
    program.inputs["speed"] = 2.0
    program.inputs["enable"] = 1
    program.poll()
    before = program.outputs.read()
    program.inputs["speed"] = -1.0
    with pytest.raises(wasmcell.TrapError):
        program.poll()
    assert program.outputs.read() == before
    assert program.outputs.published_by == 1
    program.reset()
    program.inputs["speed"] = 1.0
    program.poll()
    assert program.retain["distance"] == 3.0


def test_reload_keeps_retain_and_ids_refresh(rt, fixture):
    program = rt.load(fixture("conveyor.wat"))
    program.inputs["speed"] = 1.0
    program.inputs["enable"] = 1
    program.poll()
    program.reload(fixture("conveyor.wat").read_bytes())
    assert program.notice == "retain area carried over (8 bytes, layout id 1)"
    program.poll()
    assert program.retain["distance"] == 2.0


def test_the_cache_counts_compiles(fixture, tmp_path):
    with wasmcell.Runtime(cache_dir=tmp_path) as runtime:
        runtime.load(fixture("hello.wat"))
        runtime.load(fixture("hello.wat"))
        assert runtime.cache_stats["compiles"] == 1
        assert runtime.cache_stats["memory_hits"] == 1
    with wasmcell.Runtime(cache_dir=tmp_path) as runtime:
        runtime.load(fixture("hello.wat"))
        assert runtime.cache_stats == {"compiles": 0, "memory_hits": 0, "disk_hits": 1, "rejected_files": 0}
