"""Second-wave settings from Python: table and nesting limits, WASI output
and seeded random, memory residency and compile settings."""

import logging

import pytest

import wasmcell


def test_table_limit_refuses_larger_tables():
    with wasmcell.Runtime(table_limit=10) as rt:
        with pytest.raises(wasmcell.LimitError) as caught:
            rt.load('(module (table 11 funcref) (func (export "poll")))'.encode(), name="big")
        assert "11 table elements" in str(caught.value)
        rt.load('(module (table 10 funcref) (func (export "poll")))'.encode(), name="ok").poll()


def test_nesting_limit_refuses_deep_functions():
    deep = '(module (func (export "poll") ' + "(block " * 20 + ")" * 20 + "))"
    with wasmcell.Runtime(nesting_limit=10) as rt:
        with pytest.raises(wasmcell.LimitError) as caught:
            rt.load(deep.encode(), name="deep")
        assert "nesting limit" in str(caught.value)


def test_disabled_proposals_are_compile_errors():
    with wasmcell.Runtime() as rt:
        with pytest.raises(wasmcell.CompileError) as caught:
            rt.load('(module (memory 1 1 shared) (func (export "poll")))'.encode(), name="threads")
        assert "does not enable" in str(caught.value)


WASI_WRITER = r'''(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\40\00\00\00\0b\00\00\00")
  (data (i32.const 64) "from wasi\0a")
  (global $n (mut i32) (i32.const 0))
  (func (export "poll")
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 32)))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (if (i32.eq (global.get $n) (i32.const 3)) (then (call $exit (i32.const 7))))))'''


def test_wasi_stdout_reaches_the_python_logger_and_proc_exit_faults(caplog):
    with wasmcell.Runtime() as rt:
        program = rt.load(WASI_WRITER.encode(), name="wasi")
        with caplog.at_level(logging.DEBUG, logger="wasmcell"):
            program.poll()
            program.poll()
            with pytest.raises(wasmcell.GuestFault) as caught:
                program.poll()
        assert "proc_exit(7)" in str(caught.value)
        printed = [r.getMessage() for r in caplog.records if r.name == "wasmcell.wasi"]
        assert printed.count("from wasi") == 3, printed


def test_memory_residency_and_compile_settings_are_accepted():
    with wasmcell.Runtime(
        memory_residency="prefault", compile_threads=1, background_compiles=False, random_seed=5
    ) as rt:
        rt.load('(module (memory (export "memory") 4) (func (export "poll")))'.encode(), name="p").poll()
    with pytest.raises(ValueError):
        wasmcell.Runtime(memory_residency="sometimes")
