"""Process image access: named signals and raw byte ranges, no callbacks."""

from __future__ import annotations

import ctypes
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterator, List, Union

from . import _ffi
from .errors import NotFound

if TYPE_CHECKING:
    from .program import Program

Value = Union[bool, int, float]


class Area(enum.IntEnum):
    """Areas of the process image (``WASMCELL_AREA_*``)."""

    INPUT = 0
    OUTPUT = 1
    RETAIN = 2


class SignalType(enum.IntEnum):
    """Signal types, the values a guest writes in its descriptor (``WASMCELL_SIGNAL_*``)."""

    BOOL = 0
    I8 = 1
    U8 = 2
    I16 = 3
    U16 = 4
    I32 = 5
    U32 = 6
    I64 = 7
    U64 = 8
    F32 = 9
    F64 = 10


@dataclass(frozen=True)
class Signal:
    """A named, typed value of the process image."""

    name: str
    area: Area
    type: SignalType
    offset: int


class ImageArea:
    """One area of a program's process image, as a mapping of its signals.

    ``program.inputs["speed"] = 1.5`` sets an input for the next poll;
    ``program.outputs["motor_on"]`` reads the last published output;
    ``program.retain["distance"]`` reads retained state. Raw bytes:
    :meth:`write` (inputs) and :meth:`read`.
    """

    def __init__(self, program: "Program", area: Area) -> None:
        self._program = program
        self._area = area
        self._ids: Dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<wasmcell.ImageArea {self._area.name.lower()} of {self._program.name!r}>"

    @property
    def size(self) -> int:
        """Size of the area in bytes (0 if the program declares none)."""
        length = ctypes.c_size_t()
        self._program._call(_ffi.lib.wasmcell_program_image_size, int(self._area), ctypes.byref(length))
        return length.value

    def keys(self) -> List[str]:
        return [s.name for s in self._program.signals if s.area == self._area]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        return name in self.keys()

    def _lookup(self, name: str, refresh: bool = False) -> "tuple[int, SignalType]":
        if refresh or name not in self._ids:
            signal_id = ctypes.c_uint32()
            area = ctypes.c_int32()
            signal_type = ctypes.c_int32()
            try:
                self._program._call(
                    _ffi.lib.wasmcell_program_signal_lookup,
                    name.encode(),
                    ctypes.byref(signal_id),
                    ctypes.byref(area),
                    ctypes.byref(signal_type),
                    None,
                )
            except NotFound:
                raise KeyError(name) from None
            if area.value != self._area:
                raise KeyError(f"{name} is an {Area(area.value).name.lower()} signal, not {self._area.name.lower()}")
            self._ids[name] = (signal_id.value << 8) | signal_type.value
        packed = self._ids[name]
        return packed >> 8, SignalType(packed & 0xFF)

    def _with_id(self, name: str, action):  # type: ignore[no-untyped-def]
        signal_id, signal_type = self._lookup(name)
        try:
            return action(signal_id, signal_type)
        except NotFound:
            # The program was reloaded with a new signal table: look again.
            signal_id, signal_type = self._lookup(name, refresh=True)
            return action(signal_id, signal_type)

    def __getitem__(self, name: str) -> Value:
        def get(signal_id: int, signal_type: SignalType) -> Value:
            if signal_type in (SignalType.F32, SignalType.F64):
                value = ctypes.c_double()
                self._program._call(_ffi.lib.wasmcell_program_signal_get_f64, signal_id, ctypes.byref(value))
                return value.value
            number = ctypes.c_int64()
            self._program._call(_ffi.lib.wasmcell_program_signal_get_i64, signal_id, ctypes.byref(number))
            return bool(number.value) if signal_type == SignalType.BOOL else number.value

        return self._with_id(name, get)

    def __setitem__(self, name: str, value: Value) -> None:
        def set_(signal_id: int, signal_type: SignalType) -> None:
            if isinstance(value, float):
                self._program._call(_ffi.lib.wasmcell_program_signal_set_f64, signal_id, value)
            else:
                self._program._call(_ffi.lib.wasmcell_program_signal_set_i64, signal_id, int(value))

        self._with_id(name, set_)

    def write(self, offset: int, data: bytes) -> None:
        """Writes raw input bytes (input area only)."""
        if self._area != Area.INPUT:
            raise TypeError("only the input area can be written")
        data = bytes(data)
        self._program._call(_ffi.lib.wasmcell_program_write_inputs, offset, data, len(data))

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """Reads raw bytes of the published outputs (output area only)."""
        if self._area != Area.OUTPUT:
            raise TypeError("raw reads are for the output area")
        if length is None:
            length = self.size - offset
        buffer = ctypes.create_string_buffer(length)
        self._program._call(_ffi.lib.wasmcell_program_read_outputs, offset, buffer, length, None)
        return buffer.raw

    @property
    def published_by(self) -> int:
        """Number of the poll whose outputs are published (0: none yet)."""
        poll = ctypes.c_uint64()
        self._program._call(_ffi.lib.wasmcell_program_read_outputs, 0, None, 0, ctypes.byref(poll))
        return poll.value
