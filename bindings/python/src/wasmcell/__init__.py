"""wasmcell: load, poll, hot-swap and unload sandboxed WebAssembly programs.

A thin ctypes wrapper over the wasmcell C library. Start with
:class:`Runtime`::

    with wasmcell.Runtime() as rt:
        program = rt.load("hello.wat")
        program.poll()
"""

from . import _ffi
from .errors import (
    BudgetExceeded,
    BufferTooSmall,
    BusyError,
    CompileError,
    Error,
    FaultedError,
    FaultError,
    GuestFault,
    HostError,
    InstantiateError,
    InternalError,
    InvalidArgument,
    InvalidHandle,
    IoError,
    WatchdogError,
    LimitError,
    LinkError,
    NotFound,
    TrapError,
)
from .image import Area, ImageArea, Signal, SignalType
from .program import FaultKind, PollStats, PreparedReload, Program, ProgramState, RetainSummary
from .runtime import Runtime, in_shadow_poll

# The package's only version number (pyproject.toml reads it from here); it
# is the C library's version, Cargo.toml's [package] version, which
# tests/test_header_constants.py checks.
__version__ = "0.2.0"


def library_version() -> str:
    """Version of the loaded C library."""
    return _ffi.lib.wasmcell_version().decode()


__all__ = [
    "Area",
    "ImageArea",
    "Signal",
    "SignalType",
    "BudgetExceeded",
    "BufferTooSmall",
    "BusyError",
    "CompileError",
    "Error",
    "FaultError",
    "FaultKind",
    "FaultedError",
    "GuestFault",
    "HostError",
    "InstantiateError",
    "InternalError",
    "InvalidArgument",
    "InvalidHandle",
    "IoError",
    "WatchdogError",
    "LimitError",
    "LinkError",
    "NotFound",
    "PollStats",
    "Program",
    "PreparedReload",
    "RetainSummary",
    "in_shadow_poll",
    "ProgramState",
    "Runtime",
    "TrapError",
    "library_version",
]
