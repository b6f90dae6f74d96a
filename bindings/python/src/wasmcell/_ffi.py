"""ctypes declarations of the wasmcell C API (include/wasmcell.h) and the
library loader. Internal: use the classes of the ``wasmcell`` package."""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    Union,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)

# Integer constants of include/wasmcell.h, named as there without the
# WASMCELL_ prefix. The enums of the package mirror the other groups
# (ProgramState: WASMCELL_STATE_*, FaultKind: WASMCELL_FAULT_*, SignalType:
# WASMCELL_SIGNAL_*, Area: WASMCELL_AREA_*). tests/test_header_constants.py
# parses the committed header and fails on any difference, either way: an
# integer constant of this module with an upper-case name is a header
# constant, so the binding's own constants start with an underscore.

# Status codes (wasmcell_status); errors.py has one exception per ERR_*.
OK = 0
ERR_INVALID_ARGUMENT = -1
ERR_INVALID_HANDLE = -2
ERR_COMPILE = -3
ERR_LINK = -4
ERR_INSTANTIATE = -5
ERR_TRAP = -6
ERR_BUDGET = -7
ERR_HOST = -8
ERR_FAULTED = -9
ERR_BUSY = -10
ERR_BUFFER_TOO_SMALL = -11
ERR_NOT_FOUND = -12
ERR_INTERNAL = -13
ERR_GUEST_FAULT = -14
ERR_LIMIT = -15
ERR_IO = -16
ERR_WATCHDOG = -17

# Log levels (wasmcell_log_level) passed to the log sink.
LOG_PRINT = 0
LOG_ERROR = 1
LOG_WARN = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_TRACE = 5

# Residency modes of wasmcell_runtime_set_memory_residency.
MEMORY_ON_DEMAND = 0
MEMORY_PREFAULT = 1
MEMORY_LOCK = 2

# Modes of wasmcell_program_set_fault_outputs.
FAULT_OUTPUTS_HOLD = 0
FAULT_OUTPUTS_DEFAULTS = 1


class Buf(Structure):
    _fields_ = [("ptr", POINTER(c_uint8)), ("len", c_size_t)]


class Val(Union):
    _fields_ = [("i32", c_int32), ("i64", c_int64), ("f32", c_float), ("f64", c_double), ("buf", Buf)]


class Stats(Structure):
    _fields_ = [
        ("polls", c_uint64),
        ("faults", c_uint64),
        ("last_poll_ns", c_uint64),
        ("max_poll_ns", c_uint64),
        ("mean_poll_ns", c_uint64),
        ("last_fuel_used", c_uint64),
        ("overruns", c_uint64),
    ]


class CacheStats(Structure):
    _fields_ = [
        ("compiles", c_uint64),
        ("memory_hits", c_uint64),
        ("disk_hits", c_uint64),
        ("rejected_files", c_uint64),
    ]


HOST_FN = CFUNCTYPE(c_int32, c_void_p, c_void_p, POINTER(Val), c_size_t, POINTER(Val), c_size_t)
FREE_FN = CFUNCTYPE(None, c_void_p)
LOG_FN = CFUNCTYPE(None, c_void_p, c_char_p, c_int32, POINTER(c_char), c_size_t)
CLOCK_FN = CFUNCTYPE(c_int64, c_void_p)

_status = c_int32
_handle = c_void_p

# name: (restype, argtypes)
_SIGNATURES = {
    "wasmcell_version": (c_char_p, []),
    "wasmcell_version_number": (c_uint32, []),
    "wasmcell_status_str": (c_char_p, [_status]),
    "wasmcell_last_error": (_status, [c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_runtime_new": (_status, [POINTER(_handle)]),
    "wasmcell_runtime_free": (_status, [_handle]),
    "wasmcell_runtime_error": (_status, [_handle, c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_runtime_set_default_fuel": (_status, [_handle, c_uint64]),
    "wasmcell_runtime_set_default_deadline": (_status, [_handle, c_uint64]),
    "wasmcell_runtime_set_default_memory_limit": (_status, [_handle, c_uint64]),
    "wasmcell_runtime_set_max_module_size": (_status, [_handle, c_uint64]),
    "wasmcell_runtime_set_default_stack_size": (_status, [_handle, c_uint64]),
    "wasmcell_runtime_set_default_table_limit": (_status, [_handle, c_uint32]),
    "wasmcell_runtime_set_nesting_limit": (_status, [_handle, c_uint32]),
    "wasmcell_runtime_set_random_seed": (_status, [_handle, c_uint64]),
    "wasmcell_runtime_set_memory_residency": (_status, [_handle, c_int32]),
    "wasmcell_runtime_set_compile_threads": (_status, [_handle, c_uint32]),
    "wasmcell_runtime_set_compile_priority": (_status, [_handle, c_int32]),
    "wasmcell_runtime_define": (_status, [_handle, c_char_p, c_char_p, c_char_p, HOST_FN, c_void_p, FREE_FN]),
    "wasmcell_runtime_set_log": (_status, [_handle, LOG_FN, c_void_p]),
    "wasmcell_runtime_set_clock": (_status, [_handle, CLOCK_FN, c_void_p]),
    "wasmcell_call_program": (_status, [c_void_p, POINTER(_handle)]),
    "wasmcell_call_program_name": (_status, [c_void_p, c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_call_memory": (_status, [c_void_p, POINTER(POINTER(c_uint8)), POINTER(c_size_t)]),
    "wasmcell_call_set_error": (_status, [c_void_p, c_char_p]),
    "wasmcell_program_load": (_status, [_handle, c_char_p, c_char_p, c_size_t, POINTER(_handle)]),
    "wasmcell_program_load_file": (_status, [_handle, c_char_p, c_char_p, POINTER(_handle)]),
    "wasmcell_program_poll": (_status, [_handle]),
    "wasmcell_program_reload": (_status, [_handle, c_char_p, c_size_t]),
    "wasmcell_program_prepare_reload": (_status, [_handle, c_char_p, c_size_t, POINTER(c_void_p)]),
    "wasmcell_program_commit_reload": (_status, [_handle, _handle]),
    "wasmcell_reload_discard": (_status, [_handle]),
    "wasmcell_reload_retain_summary": (
        _status,
        [_handle, POINTER(c_size_t), POINTER(c_size_t), POINTER(c_size_t), POINTER(c_size_t)],
    ),
    "wasmcell_reload_report": (_status, [_handle, c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_reload_shadow_poll": (_status, [_handle]),
    "wasmcell_reload_read_outputs": (_status, [_handle, c_size_t, c_char_p, c_size_t]),
    "wasmcell_call_is_shadow": (_status, [c_void_p, POINTER(c_int32)]),
    "wasmcell_program_reset": (_status, [_handle]),
    "wasmcell_program_unload": (_status, [_handle]),
    "wasmcell_program_state": (_status, [_handle, POINTER(c_int32)]),
    "wasmcell_program_error": (_status, [_handle, c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_program_fault_message": (_status, [_handle, c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_program_set_timing": (_status, [_handle, c_int32]),
    "wasmcell_program_fault_kind": (_status, [_handle, POINTER(c_int32)]),
    "wasmcell_program_set_fuel": (_status, [_handle, c_uint64]),
    "wasmcell_program_set_memory_limit": (_status, [_handle, c_uint64]),
    "wasmcell_program_set_table_limit": (_status, [_handle, c_uint32]),
    "wasmcell_program_set_watchdog": (_status, [_handle, c_uint64, c_uint32]),
    "wasmcell_program_set_fault_outputs": (_status, [_handle, c_int32]),
    "wasmcell_program_stats": (_status, [_handle, POINTER(Stats)]),
    "wasmcell_program_name": (_status, [_handle, c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_program_notice": (_status, [_handle, c_char_p, c_size_t, POINTER(c_size_t)]),
    "wasmcell_runtime_set_cache_dir": (_status, [_handle, c_char_p]),
    "wasmcell_runtime_cache_stats": (_status, [_handle, POINTER(CacheStats)]),
    "wasmcell_program_image_size": (_status, [_handle, c_int32, POINTER(c_size_t)]),
    "wasmcell_program_write_inputs": (_status, [_handle, c_size_t, c_char_p, c_size_t]),
    "wasmcell_program_read_outputs": (_status, [_handle, c_size_t, c_char_p, c_size_t, POINTER(c_uint64)]),
    "wasmcell_program_signal_count": (_status, [_handle, POINTER(c_size_t)]),
    "wasmcell_program_signal_info": (
        _status,
        [_handle, c_size_t, c_char_p, c_size_t, POINTER(c_size_t), POINTER(c_uint32), POINTER(c_int32), POINTER(c_int32), POINTER(c_uint32)],
    ),
    "wasmcell_program_signal_lookup": (
        _status,
        [_handle, c_char_p, POINTER(c_uint32), POINTER(c_int32), POINTER(c_int32), POINTER(c_uint32)],
    ),
    "wasmcell_program_signal_get_f64": (_status, [_handle, c_uint32, POINTER(c_double)]),
    "wasmcell_program_signal_get_i64": (_status, [_handle, c_uint32, POINTER(c_int64)]),
    "wasmcell_program_signal_set_f64": (_status, [_handle, c_uint32, c_double]),
    "wasmcell_program_signal_set_i64": (_status, [_handle, c_uint32, c_int64]),
}

def _candidates(platform: str | None = None) -> list[str]:
    """The library files to try, in order: WASMCELL_LIBRARY when set, then
    the library shipped in the package, then the system's search path. The
    file name depends on the platform: ``wasmcell.dll`` on Windows (where
    the package ships ``_native*.pyd``), ``libwasmcell.so`` elsewhere."""
    explicit = os.environ.get("WASMCELL_LIBRARY")
    if explicit:
        return [explicit]
    here = os.path.dirname(os.path.abspath(__file__))
    if (platform or sys.platform) == "win32":
        patterns, fallback = ["_native*.pyd", "_native*.dll", "wasmcell*.dll"], "wasmcell.dll"
    else:
        patterns, fallback = ["_native*.so", "libwasmcell*.so"], "libwasmcell.so"
    shipped = sorted(path for pattern in patterns for path in glob.glob(os.path.join(here, pattern)))
    return shipped + [fallback]


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            # CDLL (not PyDLL): the GIL is released during every call, so a
            # poll does not block other Python threads.
            lib = ctypes.CDLL(path)
            break
        except OSError as error:
            errors.append(f"{path}: {error}")
    else:
        raise ImportError(
            "cannot load the wasmcell library; install the package with pip, or set "
            "WASMCELL_LIBRARY to the path of libwasmcell.so (wasmcell.dll on Windows) (" + "; ".join(errors) + ")"
        )
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


lib = _load()


_FIRST_STRING_CAPACITY = 256


def read_string(reader, *args) -> str:
    """Calls a (buf, cap, &len) string getter, growing the buffer as needed:
    a first try with _FIRST_STRING_CAPACITY bytes, then one with the length
    the getter reported (again if the string grew meanwhile)."""
    length = c_size_t(0)
    cap = _FIRST_STRING_CAPACITY
    while True:
        buf = ctypes.create_string_buffer(cap)
        status = reader(*args, buf, cap, ctypes.byref(length))
        if status == ERR_BUFFER_TOO_SMALL and length.value + 1 > cap:
            cap = length.value + 1
            continue
        return buf.value.decode("utf-8", errors="replace")


def last_error() -> str:
    """The message of the last failed wasmcell call made on this thread
    (``wasmcell_last_error``). Read it right after the call that failed:
    ctypes runs the call on the calling thread, so this is the message of
    that call's status, whatever other threads do with the same handles."""
    return read_string(lib.wasmcell_last_error)
