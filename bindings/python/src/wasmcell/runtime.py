"""The Runtime: host functions, log routing, clock and default limits."""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import traceback
import weakref
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from . import _ffi
from .errors import Error, last_call_error
from .program import Program, _check

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_LEVELS = {
    _ffi.LOG_PRINT: logging.INFO,
    _ffi.LOG_ERROR: logging.ERROR,
    _ffi.LOG_WARN: logging.WARNING,
    _ffi.LOG_INFO: logging.INFO,
    _ffi.LOG_DEBUG: logging.DEBUG,
    _ffi.LOG_TRACE: 5,
}

_PARAM_KINDS = {"i": "i32", "I": "i64", "f": "f32", "F": "f64"}


def _parse_signature(signature: str) -> Tuple[List[str], List[str]]:
    """Splits "(i*~)F" into (["i32", "buf"], ["f64"]); the C library validates it too."""
    if not signature.startswith("(") or ")" not in signature:
        return [], []
    inside, results = signature[1:].split(")", 1)
    params: List[str] = []
    i = 0
    while i < len(inside):
        if inside[i] == "*":
            params.append("buf")
            i += 2
        else:
            params.append(_PARAM_KINDS.get(inside[i], "?"))
            i += 1
    return params, [_PARAM_KINDS.get(c, "?") for c in results]


def _guest_view(buf: "_ffi.Buf") -> memoryview:
    """A writable view of a guest buffer argument (valid during the call only)."""
    if buf.len == 0:
        return memoryview(bytearray())
    address = ctypes.cast(buf.ptr, ctypes.c_void_p).value
    return memoryview((ctypes.c_uint8 * buf.len).from_address(address)).cast("B")


_CALL = threading.local()


def in_shadow_poll() -> bool:
    """True inside a host function called from a shadow poll
    (:meth:`PreparedReload.shadow_poll`): answer reads, do not actuate."""
    return bool(getattr(_CALL, "shadow", False))


class Runtime:
    """A set of programs sharing host functions, a log destination and a clock.

    Use it as a context manager, or call :meth:`close`; closing twice is fine.
    Limits given here are the defaults of programs loaded afterwards:

    - ``fuel``: instruction budget per poll (an upper bound of wasm instructions);
    - ``deadline_ns``: deadline mode instead of the budget: programs are
      compiled without an instruction count, and every call into the guest
      (poll, ``init``, start function, shadow poll) is stopped by the watchdog
      after this many nanoseconds (:class:`WatchdogError`); their watchdog can
      then be changed but not turned off, and ``Program.fuel`` is refused;
    - ``memory_limit``: maximum linear memory per program, in bytes;
    - ``max_module_size``: largest module accepted by load and reload, in bytes;
    - ``stack_size``: wasm stack per call, in bytes;
    - ``table_limit``: maximum elements of each table (initial and grown);
    - ``nesting_limit``: deepest block nesting a function may have;
    - ``random_seed``: seed of the programs' WASI ``random_get`` (reproducible
      runs); by default each program is seeded from the operating system;
    - ``memory_residency``: ``"on-demand"`` (default), ``"prefault"`` (touch a
      new instance's memory up front, so polls take no page faults) or
      ``"lock"`` (prefault and mlock);
    - ``compile_threads``: threads compiles use (default: cores - 1);
    - ``background_compiles``: compile at background priority (default True);
    - ``cache_dir``: also keep compiled modules on disk (validated before use).

    Guest output (``env.print`` and ``wasmcell.log``) goes to the Python logger
    ``wasmcell.<program name>`` unless ``log=False``.
    """

    def __init__(
        self,
        *,
        fuel: Optional[int] = None,
        deadline_ns: Optional[int] = None,
        memory_limit: Optional[int] = None,
        max_module_size: Optional[int] = None,
        stack_size: Optional[int] = None,
        table_limit: Optional[int] = None,
        nesting_limit: Optional[int] = None,
        random_seed: Optional[int] = None,
        memory_residency: Optional[str] = None,
        compile_threads: Optional[int] = None,
        background_compiles: Optional[bool] = None,
        cache_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
        log: bool = True,
    ) -> None:
        handle = ctypes.c_void_p()
        _check(_ffi.lib.wasmcell_runtime_new(ctypes.byref(handle)))
        self._handle: Optional[int] = handle.value
        self._closed = False
        # ctypes callback objects must outlive every call into them: they are
        # kept here until the runtime is closed.
        self._keepalive: List[Any] = []
        # The programs loaded here and not unloaded, to mark them unloaded
        # when the runtime closes. Weak: the runtime does not keep a Program
        # object alive, and an unloaded one leaves at once (Program.unload).
        self._programs: "weakref.WeakSet[Program]" = weakref.WeakSet()
        self._pending = threading.local()
        if fuel is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_default_fuel, fuel)
        if deadline_ns is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_default_deadline, deadline_ns)
        if memory_limit is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_default_memory_limit, memory_limit)
        if max_module_size is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_max_module_size, max_module_size)
        if stack_size is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_default_stack_size, stack_size)
        if table_limit is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_default_table_limit, table_limit)
        if nesting_limit is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_nesting_limit, nesting_limit)
        if random_seed is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_random_seed, random_seed)
        if memory_residency is not None:
            modes = {
                "on-demand": _ffi.MEMORY_ON_DEMAND,
                "prefault": _ffi.MEMORY_PREFAULT,
                "lock": _ffi.MEMORY_LOCK,
            }
            if memory_residency not in modes:
                self.close()
                raise ValueError(f"memory_residency must be one of {sorted(modes)}, not {memory_residency!r}")
            self._call(_ffi.lib.wasmcell_runtime_set_memory_residency, modes[memory_residency])
        if compile_threads is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_compile_threads, compile_threads)
        if background_compiles is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_compile_priority, int(background_compiles))
        if cache_dir is not None:
            self._call(_ffi.lib.wasmcell_runtime_set_cache_dir, os.fspath(cache_dir).encode())
        if log:
            self._install_log()

    @property
    def cache_stats(self) -> "dict[str, int]":
        """Compiled-module cache counters: compiles, memory_hits, disk_hits, rejected_files."""
        raw = _ffi.CacheStats()
        self._call(_ffi.lib.wasmcell_runtime_cache_stats, ctypes.byref(raw))
        return {name: getattr(raw, name) for name, _ in raw._fields_}

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Unloads every program and frees the runtime. Safe to call twice."""
        if self._closed:
            return
        status = _ffi.lib.wasmcell_runtime_free(self._handle)
        if status == _ffi.ERR_BUSY:
            # Called from inside one of its host functions: nothing was freed.
            raise last_call_error(status)
        self._closed = True
        for program in list(self._programs):
            program._mark_closed()
        self._programs.clear()
        self._keepalive.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed and _ffi is not None:
                self.close()
        except Exception:
            pass

    def _call(self, function: Callable[..., int], *args: Any) -> None:
        """Calls ``function(handle, *args)``; on failure raises the exception
        of its status with its own message (read on this thread right after
        the call)."""
        status = function(self._handle, *args)
        if status != _ffi.OK:
            raise last_call_error(status)

    # -- programs ------------------------------------------------------------

    def _forget(self, program: Program) -> None:
        """Called by :meth:`Program.unload`: the program is gone."""
        self._programs.discard(program)

    def load(self, source: Source, *, name: Optional[str] = None, fuel: Optional[int] = None) -> Program:
        """Loads a program from a path (``.wasm`` or ``.wat``) or from bytes
        (binary wasm or WAT text), runs its ``init`` and returns it.

        Raises :class:`CompileError`, :class:`LinkError`,
        :class:`InstantiateError`, :class:`LimitError`, :class:`NotFound`...
        """
        handle = ctypes.c_void_p()
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            name = name or "program"
            status = _ffi.lib.wasmcell_program_load(
                self._handle, name.encode(), data, len(data), ctypes.byref(handle)
            )
        else:
            path = os.fspath(source)
            name = name or os.path.splitext(os.path.basename(path))[0]
            status = _ffi.lib.wasmcell_program_load_file(
                self._handle, name.encode(), path.encode(), ctypes.byref(handle)
            )
        if status != _ffi.OK:
            raise self._with_host_cause(last_call_error(status))
        program = Program(self, handle.value, name)
        self._programs.add(program)
        if fuel is not None:
            program.fuel = fuel
        return program

    # -- host functions --------------------------------------------------------

    def function(self, module: str, name: str, signature: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering a Python callable as the import ``module.name``.

        ``signature`` uses ``i I f F`` for i32, i64, f32, f64 and ``*~`` for a
        guest buffer, which arrives as a writable ``memoryview`` valid only
        during the call. Return ``None`` for no results, a number for one, a
        tuple for several. An exception traps the guest: ``poll()`` then raises
        :class:`HostError` whose ``__cause__`` is that exception.
        """

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self.define(module, name, signature, function)
            return function

        return register

    def define(self, module: str, name: str, signature: str, function: Callable[..., Any]) -> None:
        """Registers ``function`` as the import ``module.name`` (see :meth:`function`)."""
        params, results = _parse_signature(signature)
        label = f"{module}.{name}"
        pending = self._pending

        def trampoline(_user, call, args, nargs, out, nresults):  # type: ignore[no-untyped-def]
            views: List[memoryview] = []
            try:
                values: List[Any] = []
                for index, kind in enumerate(params[:nargs]):
                    arg = args[index]
                    if kind == "buf":
                        views.append(_guest_view(arg.buf))
                        values.append(views[-1])
                    else:
                        values.append(getattr(arg, kind))
                flag = ctypes.c_int32(0)
                _ffi.lib.wasmcell_call_is_shadow(call, ctypes.byref(flag))
                _CALL.shadow = bool(flag.value)
                try:
                    returned = function(*values)
                finally:
                    _CALL.shadow = False
                if nresults == 0:
                    return 0
                returned_values: Sequence[Any] = returned if isinstance(returned, (tuple, list)) else (returned,)
                if len(returned_values) != nresults:
                    raise TypeError(f"host function {label} returned {len(returned_values)} values, its signature says {nresults}")
                for index, (kind, value) in enumerate(zip(results, returned_values)):
                    setattr(out[index], kind, float(value) if kind in ("f32", "f64") else int(value))
                return 0
            except BaseException as error:  # noqa: BLE001 - every error must trap the guest, never unwind into C
                pending.error = error
                detail = f"{type(error).__name__}: {error}"
                _ffi.lib.wasmcell_call_set_error(call, detail.encode("utf-8", errors="replace"))
                return 1
            finally:
                # The guest memory behind a buffer is only valid during the
                # call: a view kept by the host function fails loudly after.
                for view in views:
                    view.release()

        callback = _ffi.HOST_FN(trampoline)
        self._call(
            _ffi.lib.wasmcell_runtime_define,
            module.encode(),
            name.encode(),
            signature.encode(),
            callback,
            None,
            _ffi.FREE_FN(),
        )
        self._keepalive.append(callback)

    def _take_host_error(self) -> Optional[BaseException]:
        error = getattr(self._pending, "error", None)
        self._pending.error = None
        return error

    def _with_host_cause(self, error: Error) -> Error:
        cause = self._take_host_error()
        if cause is not None:
            error.__cause__ = cause
        return error

    # -- log and clock -----------------------------------------------------------

    def _install_log(self) -> None:
        def sink(_user, program, level, message, length):  # type: ignore[no-untyped-def]
            try:
                text = ctypes.string_at(message, length).decode("utf-8", errors="replace").rstrip("\n")
                name = program.decode("utf-8", errors="replace")
                logging.getLogger(f"wasmcell.{name}").log(_LEVELS.get(level, logging.INFO), "%s", text)
            except BaseException:  # noqa: BLE001 - never unwind into C
                traceback.print_exc()

        callback = _ffi.LOG_FN(sink)
        self._call(_ffi.lib.wasmcell_runtime_set_log, callback, None)
        self._keepalive.append(callback)

    def set_clock(self, clock: Optional[Callable[[], int]]) -> None:
        """Replaces the clock guests read through ``wasmcell.now_ns`` (a callable
        returning nanoseconds), or restores the monotonic clock with ``None``."""
        if clock is None:
            self._call(_ffi.lib.wasmcell_runtime_set_clock, _ffi.CLOCK_FN(), None)
            return

        def read(_user):  # type: ignore[no-untyped-def]
            try:
                return int(clock())
            except BaseException:  # noqa: BLE001 - never unwind into C
                traceback.print_exc()
                return 0

        callback = _ffi.CLOCK_FN(read)
        self._call(_ffi.lib.wasmcell_runtime_set_clock, callback, None)
        self._keepalive.append(callback)
