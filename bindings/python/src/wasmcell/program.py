"""A loaded program."""

from __future__ import annotations

import ctypes
import enum
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from . import _ffi
from .errors import last_call_error

if TYPE_CHECKING:
    from .image import Signal
    from .runtime import Runtime


def _check(status: int) -> None:
    """Raises the exception of a failed call that has no host functions to
    blame (see :meth:`Program._call` for the calls that do)."""
    if status != _ffi.OK:
        raise last_call_error(status)


class ProgramState(enum.IntEnum):
    """Program states reported by :attr:`Program.state` (``WASMCELL_STATE_*``).
    An unloaded program has no state: :attr:`Program.state` raises
    :class:`InvalidHandle`."""

    READY = 1
    FAULTED = 2


class FaultKind(enum.IntEnum):
    """What faulted a program, from :attr:`Program.fault_kind` (``WASMCELL_FAULT_*``)."""

    NONE = 0
    UNREACHABLE = 1
    MEMORY_OUT_OF_BOUNDS = 2
    INTEGER_DIVIDE_BY_ZERO = 3
    INTEGER_OVERFLOW = 4
    BAD_CONVERSION_TO_INTEGER = 5
    STACK_OVERFLOW = 6
    INDIRECT_CALL_MISMATCH = 7
    INDIRECT_CALL_NULL = 8
    BUDGET_EXHAUSTED = 9
    HOST_ERROR = 10
    GUEST_REPORTED = 11
    OTHER = 12
    WATCHDOG = 13


@dataclass(frozen=True)
class PollStats:
    """Counters since the program was loaded (durations in nanoseconds)."""

    polls: int
    faults: int
    last_poll_ns: int
    max_poll_ns: int
    mean_poll_ns: int
    last_fuel_used: int
    overruns: int = 0


class Program:
    """One sandboxed guest. Obtain it from :meth:`Runtime.load`.

    A context manager: leaving the block unloads it. Unloading twice is fine;
    any other use after unload raises :class:`InvalidHandle`.
    """

    def __init__(self, runtime: "Runtime", handle: Optional[int], name: str) -> None:
        self._runtime = runtime
        self._handle = handle
        self._name = name
        self._closed = False
        self._fault_outputs = "hold"
        self._timing = True
        from .image import Area, ImageArea

        #: Input signals: ``program.inputs["speed"] = 1.5`` (copied in before each poll).
        self.inputs = ImageArea(self, Area.INPUT)
        #: Output signals of the last poll that succeeded: ``program.outputs["motor_on"]``.
        self.outputs = ImageArea(self, Area.OUTPUT)
        #: Retained state (survives reset and reload): ``program.retain["distance"]``.
        self.retain = ImageArea(self, Area.RETAIN)

    def __repr__(self) -> str:
        state = "unloaded" if self._closed else self.state.name.lower()
        return f"<wasmcell.Program {self._name!r} {state}>"

    @property
    def name(self) -> str:
        return self._name

    def _mark_closed(self) -> None:
        self._closed = True

    def _call(self, function: Any, *args: Any) -> None:
        """Calls ``function(handle, *args)``; on failure raises the exception of
        its status with its own message (read on this thread right after the
        call), chained to the Python exception of a failed host function."""
        status = function(self._handle, *args)
        if status != _ffi.OK:
            raise self._runtime._with_host_cause(last_call_error(status))

    def poll(self) -> None:
        """Runs one cycle. Raises a :class:`FaultError` subclass when the poll
        faults the program (TrapError, BudgetExceeded, HostError, GuestFault),
        :class:`FaultedError` while it stays faulted. The GIL is released
        while the guest runs (and re-taken by Python host functions)."""
        self._call(_ffi.lib.wasmcell_program_poll)

    def reset(self) -> None:
        """Fresh instance of the same module (init runs again); clears a fault."""
        self._call(_ffi.lib.wasmcell_program_reset)

    def reload(self, source: Union[bytes, bytearray, memoryview, str]) -> None:
        """Hot swap to new code (bytes, or a path). On failure the old version
        keeps running and the error is raised."""
        if isinstance(source, str):
            with open(source, "rb") as file:
                data = file.read()
        else:
            data = bytes(source)
        self._call(_ffi.lib.wasmcell_program_reload, data, len(data))

    def prepare(self, source: Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]) -> "PreparedReload":
        """The slow half of a hot swap: compiles and instantiates the new
        version (bytes, or a path) without touching the running one. Inspect
        it (:attr:`PreparedReload.report`), shadow-run it on live inputs
        (:meth:`PreparedReload.shadow_poll`), then :meth:`PreparedReload.commit`
        or :meth:`PreparedReload.discard` it (also on leaving a ``with`` block)."""
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as file:
                data = file.read()
        else:
            data = bytes(source)
        handle = ctypes.c_void_p()
        self._call(_ffi.lib.wasmcell_program_prepare_reload, data, len(data), ctypes.byref(handle))
        return PreparedReload(self, handle.value)

    def unload(self) -> None:
        """Unloads the program. Safe to call twice."""
        if self._closed:
            return
        self._call(_ffi.lib.wasmcell_program_unload)
        self._closed = True
        self._runtime._forget(self)

    close = unload

    def __enter__(self) -> "Program":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._runtime.closed:
            self.unload()

    @property
    def state(self) -> ProgramState:
        value = ctypes.c_int32()
        self._call(_ffi.lib.wasmcell_program_state, ctypes.byref(value))
        return ProgramState(value.value)

    @property
    def fault_kind(self) -> FaultKind:
        value = ctypes.c_int32()
        self._call(_ffi.lib.wasmcell_program_fault_kind, ctypes.byref(value))
        return FaultKind(value.value)

    @property
    def error(self) -> str:
        """The message of the last call on this program that failed, from any
        thread (``wasmcell_program_error``): after a poll that faulted, the
        fault's message. '' once a reset, reload or commit succeeds, or if
        nothing failed. An exception always carries the message of the call
        that raised it."""
        if self._closed:
            return ""
        return _ffi.read_string(_ffi.lib.wasmcell_program_error, self._handle)

    @property
    def timing(self) -> bool:
        """Whether polls are timed for :attr:`stats` (on by default). Turn it
        off when the host times its own loop: the duration statistics then
        stop changing. A program with a watchdog is timed regardless."""
        return self._timing

    @timing.setter
    def timing(self, on: bool) -> None:
        self._call(_ffi.lib.wasmcell_program_set_timing, 1 if on else 0)
        self._timing = bool(on)

    @property
    def fault_message(self) -> str:
        """The message of the program's fault while it is FAULTED (the trap
        and the wasm function, or the callback and its code), kept whatever
        other calls fail meanwhile; '' when it is not faulted
        (``wasmcell_program_fault_message``)."""
        if self._closed:
            return ""
        return _ffi.read_string(_ffi.lib.wasmcell_program_fault_message, self._handle)

    @property
    def signals(self) -> "list[Signal]":
        """The signals the program declares in its process image."""
        from .image import Area, Signal, SignalType

        count = ctypes.c_size_t()
        self._call(_ffi.lib.wasmcell_program_signal_count, ctypes.byref(count))
        result = []
        for index in range(count.value):
            name = ctypes.create_string_buffer(256)
            area = ctypes.c_int32()
            kind = ctypes.c_int32()
            offset = ctypes.c_uint32()
            self._call(
                _ffi.lib.wasmcell_program_signal_info,
                index, name, 256, None, None, ctypes.byref(area), ctypes.byref(kind), ctypes.byref(offset),
            )
            result.append(Signal(name.value.decode(), Area(area.value), SignalType(kind.value), offset.value))
        return result

    @property
    def notice(self) -> str:
        """What happened to the retain area at the last reset or reload."""
        return _ffi.read_string(_ffi.lib.wasmcell_program_notice, self._handle)

    @property
    def stats(self) -> PollStats:
        raw = _ffi.Stats()
        self._call(_ffi.lib.wasmcell_program_stats, ctypes.byref(raw))
        return PollStats(
            polls=raw.polls,
            faults=raw.faults,
            last_poll_ns=raw.last_poll_ns,
            max_poll_ns=raw.max_poll_ns,
            mean_poll_ns=raw.mean_poll_ns,
            last_fuel_used=raw.last_fuel_used,
            overruns=raw.overruns,
        )

    @property
    def fuel(self) -> int:
        raise AttributeError("fuel is write-only; see stats.last_fuel_used")

    @fuel.setter
    def fuel(self, per_poll: int) -> None:
        """Instruction budget per poll."""
        self._call(_ffi.lib.wasmcell_program_set_fuel, per_poll)

    def set_watchdog(self, time_s: float, sensitivity: int = 1) -> None:
        """A poll longer than ``time_s * sensitivity`` is stopped while it runs,
        and ``sensitivity`` polls in a row longer than ``time_s`` fault the
        program (:class:`WatchdogError`); ``time_s=0`` turns it off."""
        self._call(_ffi.lib.wasmcell_program_set_watchdog, int(time_s * 1e9), sensitivity)

    @property
    def fault_outputs(self) -> str:
        """``"hold"`` (default: the last good outputs stay published on a
        fault) or ``"defaults"`` (the module's initial outputs are published)."""
        return self._fault_outputs

    @fault_outputs.setter
    def fault_outputs(self, mode: str) -> None:
        modes = {"hold": _ffi.FAULT_OUTPUTS_HOLD, "defaults": _ffi.FAULT_OUTPUTS_DEFAULTS}
        if mode not in modes:
            raise ValueError(f"fault_outputs must be 'hold' or 'defaults', not {mode!r}")
        self._call(_ffi.lib.wasmcell_program_set_fault_outputs, modes[mode])
        self._fault_outputs = mode

    def set_table_limit(self, max_elements: int) -> None:
        """Maximum elements of each table, applied at the next reset or reload."""
        self._call(_ffi.lib.wasmcell_program_set_table_limit, max_elements)

    def set_memory_limit(self, max_bytes: int) -> None:
        """Maximum linear memory, applied at the next reset or reload."""
        self._call(_ffi.lib.wasmcell_program_set_memory_limit, max_bytes)


@dataclass(frozen=True)
class RetainSummary:
    """What committing a prepared reload does to the retained signals."""

    kept: int
    added: int
    dropped: int
    retyped: int


class PreparedReload:
    """A new version of a program, compiled and instantiated, not yet running.

    Use it as a context manager: leaving the block discards it unless it was
    committed."""

    def __init__(self, program: Program, handle: Optional[int]) -> None:
        self._program = program
        self._handle = handle
        self._done = False

    def _check(self, status: int) -> None:
        if status != _ffi.OK:
            raise self._program._runtime._with_host_cause(last_call_error(status))

    @property
    def retain_summary(self) -> RetainSummary:
        counts = [ctypes.c_size_t() for _ in range(4)]
        self._check(_ffi.lib.wasmcell_reload_retain_summary(self._handle, *[ctypes.byref(c) for c in counts]))
        return RetainSummary(*(c.value for c in counts))

    @property
    def report(self) -> str:
        """One line per retain signal: kept, added, dropped or retyped."""
        return _ffi.read_string(_ffi.lib.wasmcell_reload_report, self._handle)

    def shadow_poll(self) -> None:
        """Runs the new version for one cycle on the running program's inputs
        and a private copy of its retain; nothing reaches the running program.
        Host functions can tell with :func:`wasmcell.in_shadow_poll` and must
        not actuate. Raises the new version's fault."""
        self._check(_ffi.lib.wasmcell_reload_shadow_poll(self._handle))

    def read_outputs(self, offset: int = 0, length: int = 1) -> bytes:
        """Bytes of the new version's output area after the last good shadow poll."""
        buf = ctypes.create_string_buffer(length)
        self._check(_ffi.lib.wasmcell_reload_read_outputs(self._handle, offset, buf, length))
        return buf.raw

    def commit(self) -> None:
        """Swaps the new version in (the running program's retain at this moment)."""
        self._done = True
        self._program._call(_ffi.lib.wasmcell_program_commit_reload, self._handle)

    def discard(self) -> None:
        """Releases the new version. Safe after commit."""
        if not self._done:
            self._done = True
            _ffi.lib.wasmcell_reload_discard(self._handle)

    def __enter__(self) -> "PreparedReload":
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
