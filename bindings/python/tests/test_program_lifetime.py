"""A Runtime does not keep its programs alive: unloaded and dropped Program
objects leave it, so a long-running controller that loads and unloads
programs does not grow."""

import gc
import weakref

import pytest

import wasmcell


def test_a_thousand_loads_and_unloads_leave_nothing_behind(rt, fixture):
    source = fixture("hello.wat").read_bytes()
    kept = rt.load(source, name="kept")
    for index in range(1000):
        program = rt.load(source, name=f"p{index}")
        program.poll()
        program.unload()
        assert len(rt._programs) == 1
    assert set(rt._programs) == {kept}
    kept.poll()


def test_an_unloaded_program_object_dies(rt, fixture):
    program = rt.load(fixture("hello.wat"))
    program.poll()
    program.unload()
    ref = weakref.ref(program)
    del program
    gc.collect()
    assert ref() is None
    assert len(rt._programs) == 0


def test_a_program_left_by_its_with_block_dies(rt, fixture):
    with rt.load(fixture("hello.wat")) as program:
        program.poll()
    ref = weakref.ref(program)
    del program
    gc.collect()
    assert ref() is None
    assert len(rt._programs) == 0


def test_a_dropped_program_object_leaves_the_runtime(rt, fixture):
    """A Program nobody refers to any more is collected; the C library
    frees the program itself when the runtime closes."""
    ref = weakref.ref(rt.load(fixture("hello.wat")))
    gc.collect()
    assert ref() is None
    assert len(rt._programs) == 0


def test_programs_still_loaded_are_marked_unloaded_when_the_runtime_closes(fixture):
    runtime = wasmcell.Runtime()
    loaded = runtime.load(fixture("hello.wat"), name="loaded")
    unloaded = runtime.load(fixture("hello.wat"), name="unloaded")
    unloaded.unload()
    runtime.close()
    assert repr(loaded) == "<wasmcell.Program 'loaded' unloaded>"
    loaded.unload()  # a no-op, as after any unload
    with pytest.raises(wasmcell.InvalidHandle):
        loaded.poll()
