"""Exceptions raised by wasmcell, one per status code of the C API."""

from __future__ import annotations

from typing import Dict, Type

from . import _ffi


class Error(Exception):
    """Base class of every wasmcell error. ``status`` is the C status code."""

    status: int = _ffi.ERR_INTERNAL

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidArgument(Error, ValueError):
    """An argument is out of range or malformed (e.g. a bad signature)."""

    status = _ffi.ERR_INVALID_ARGUMENT


class InvalidHandle(Error):
    """The runtime or program was closed, unloaded or freed."""

    status = _ffi.ERR_INVALID_HANDLE


class CompileError(Error):
    """The bytes are neither valid WebAssembly nor valid WAT text."""

    status = _ffi.ERR_COMPILE


class LinkError(Error):
    """A missing or mistyped import, or no valid ``poll`` export."""

    status = _ffi.ERR_LINK


class InstantiateError(Error):
    """The start function or ``init`` trapped."""

    status = _ffi.ERR_INSTANTIATE


class FaultError(Error):
    """Base of the errors that fault a program during a poll."""


class TrapError(FaultError):
    """The guest trapped (unreachable, out-of-bounds, divide by zero, stack overflow...)."""

    status = _ffi.ERR_TRAP


class BudgetExceeded(FaultError):
    """The poll used up its instruction budget."""

    status = _ffi.ERR_BUDGET


class HostError(FaultError):
    """A host function failed; ``__cause__`` is the Python exception it raised, if any."""

    status = _ffi.ERR_HOST


class GuestFault(FaultError):
    """``poll`` returned a non-zero status: the guest reported its own fault."""

    status = _ffi.ERR_GUEST_FAULT


class FaultedError(Error):
    """The program is faulted; reset or reload it before polling again."""

    status = _ffi.ERR_FAULTED


class BusyError(Error):
    """A host function tried to re-enter the program it was called from."""

    status = _ffi.ERR_BUSY


class LimitError(Error):
    """A configured limit was exceeded (module size, initial memory)."""

    status = _ffi.ERR_LIMIT


class BufferTooSmall(Error):
    """An output buffer was too small. The binding grows its string buffers
    and retries, so this is not expected to reach callers."""

    status = _ffi.ERR_BUFFER_TOO_SMALL


class NotFound(Error, FileNotFoundError):
    """A program file does not exist."""

    status = _ffi.ERR_NOT_FOUND


class IoError(Error, OSError):
    """A program file could not be read."""

    status = _ffi.ERR_IO


class WatchdogError(FaultError):
    """The program's watchdog stopped a poll that ran too long (or counted
    too many overruns in a row)."""

    status = _ffi.ERR_WATCHDOG


class InternalError(Error):
    """A bug in wasmcell (a caught panic); the process is still usable."""

    status = _ffi.ERR_INTERNAL


_BY_STATUS: Dict[int, Type[Error]] = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        InvalidHandle,
        CompileError,
        LinkError,
        InstantiateError,
        TrapError,
        BudgetExceeded,
        HostError,
        GuestFault,
        FaultedError,
        BusyError,
        BufferTooSmall,
        LimitError,
        NotFound,
        IoError,
        WatchdogError,
        InternalError,
    )
}


def error_for(status: int, message: str) -> Error:
    """The exception for a non-OK status."""
    cls = _BY_STATUS.get(status, Error)
    if cls is Error:
        return Error(message, status)
    return cls(message)


def last_call_error(status: int) -> Error:
    """The exception for the non-OK ``status`` a wasmcell call just returned
    on this thread, with the message wasmcell recorded for that call
    (``wasmcell_last_error``). Call it right after the failing call, before
    any other wasmcell call on the thread.

    The message is always the failed call's own: a rejected argument on a
    faulted program names the argument, not the fault, and a poll that
    faults carries the fault's message (which ``Program.error`` keeps)."""
    return error_for(status, _ffi.last_error())
