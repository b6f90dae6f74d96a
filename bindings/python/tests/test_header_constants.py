"""The constants and the version typed in the Python package, checked against
the committed C header (include/wasmcell.h) and Cargo.toml; and the
functions the binding declares, against the header's prototypes.

The header is parsed here with a small regex parser; the Python side is
read from the package itself (``_ffi``'s constants and the enums), so there
is no third copy to keep in step. Any difference fails, either way: a
constant of the header the package lacks, a value that differs, or a Python
constant the header does not have.
"""

from __future__ import annotations

import enum
import pathlib
import re
from typing import Dict, List, Tuple, Type

import pytest

import wasmcell
from wasmcell import _ffi, errors

ROOT = pathlib.Path(__file__).resolve().parents[3]
HEADER = ROOT / "include" / "wasmcell.h"
CARGO_TOML = ROOT / "Cargo.toml"
PYPROJECT = ROOT / "bindings" / "python" / "pyproject.toml"

PREFIX = "WASMCELL_"

# The enums of the package and the header group each mirrors. Everything
# else the header defines is mirrored by a constant of ``_ffi`` of the same
# name without the prefix.
ENUM_GROUPS: List[Tuple[Type[enum.IntEnum], str]] = [
    (wasmcell.ProgramState, "STATE_"),
    (wasmcell.FaultKind, "FAULT_"),
    (wasmcell.SignalType, "SIGNAL_"),
    (wasmcell.Area, "AREA_"),
]

# The version macros are mirrored by wasmcell.__version__.
VERSION_MACROS = ("VERSION_MAJOR", "VERSION_MINOR", "VERSION_PATCH", "VERSION_NUMBER")

_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(WASMCELL_\w+)\b(?!\()[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_INTEGER = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*")
_ARITHMETIC = re.compile(r"[0-9\s()+*-]+")


def parse_header_constants(text: str) -> Dict[str, int]:
    """Every ``#define WASMCELL_*`` of the header with its integer value.

    Values are integer literals or arithmetic on earlier constants (as
    ``WASMCELL_VERSION_NUMBER`` is). The include guard (a define without a
    value) is left out; any other define that is not an integer fails, so a
    new kind of constant in the header cannot be skipped silently."""
    constants: Dict[str, int] = {}
    for name, body in _DEFINE.findall(text):
        body = re.sub(r"/\*.*?\*/|//.*$", "", body).strip()
        if not body:
            continue  # include guard
        if _INTEGER.fullmatch(body):
            constants[name] = int(re.sub(r"[uUlL]+$", "", body), 0)
            continue
        expression = re.sub(r"\bWASMCELL_\w+\b", lambda m: str(constants[m.group(0)]), body)
        if not _ARITHMETIC.fullmatch(expression):
            raise AssertionError(f"{name}: cannot evaluate {body!r}; teach parse_header_constants this form")
        constants[name] = int(eval(expression, {"__builtins__": {}}, {}))  # digits and + - * ( ) only
    return constants


def version_constants(version: str) -> Dict[str, int]:
    """The header's version macros for a "MAJOR.MINOR.PATCH" string."""
    major, minor, patch = (int(part) for part in version.split("."))
    return {
        PREFIX + "VERSION_MAJOR": major,
        PREFIX + "VERSION_MINOR": minor,
        PREFIX + "VERSION_PATCH": patch,
        PREFIX + "VERSION_NUMBER": major * 10000 + minor * 100 + patch,
    }


def python_constants() -> Dict[str, int]:
    """Every header constant the package mirrors, under its header name."""
    found: Dict[str, int] = {}

    def add(name: str, value: int, source: str) -> None:
        assert name not in found, f"{name} is mirrored twice (again by {source})"
        found[name] = value

    for name, value in vars(_ffi).items():
        if re.fullmatch(r"[A-Z][A-Z0-9_]*", name) and type(value) is int:
            add(PREFIX + name, value, f"_ffi.{name}")
    for cls, group in ENUM_GROUPS:
        for member in cls:
            add(PREFIX + group + member.name, int(member.value), f"{cls.__name__}.{member.name}")
    for name, value in version_constants(wasmcell.__version__).items():
        add(name, value, "wasmcell.__version__")
    return found


def differences(header: Dict[str, int], python: Dict[str, int]) -> List[str]:
    """Readable differences between the two sides, empty when they agree."""
    problems = []
    for name in sorted(header.keys() - python.keys()):
        problems.append(f"{name} = {header[name]} is in the header, not in the Python package")
    for name in sorted(python.keys() - header.keys()):
        problems.append(f"{name} = {python[name]} is in the Python package, not in the header")
    for name in sorted(header.keys() & python.keys()):
        if header[name] != python[name]:
            problems.append(f"{name} is {header[name]} in the header, {python[name]} in the Python package")
    return problems


_PROTOTYPE = re.compile(r"^[A-Za-z_][\w \t*]*?\b(wasmcell_\w+)\(([^()]*)\);", re.MULTILINE)


def parse_header_functions(text: str) -> Dict[str, int]:
    """Every function the header declares, with its number of parameters."""
    return {
        name: 0 if params.strip() in ("", "void") else params.count(",") + 1
        for name, params in _PROTOTYPE.findall(text)
    }


def section_value(toml: str, section: str, key: str) -> str | None:
    """The string value of ``key`` in ``[section]`` of a TOML file (enough for
    Cargo.toml and pyproject.toml; tomllib is not in Python 3.9/3.10)."""
    match = re.search(rf"^\[{re.escape(section)}\][ \t]*$(.*?)(?=^\[|\Z)", toml, re.MULTILINE | re.DOTALL)
    if match is None:
        return None
    value = re.search(rf"^{re.escape(key)}[ \t]*=[ \t]*\"([^\"]*)\"", match.group(1), re.MULTILINE)
    return value.group(1) if value else None


@pytest.fixture(scope="module")
def header() -> Dict[str, int]:
    return parse_header_constants(HEADER.read_text(encoding="utf-8"))


def test_the_parser_reads_the_header(header):
    # Guards the parser itself: a regex that matched nothing would make the
    # comparison below vacuous.
    assert header[PREFIX + "OK"] == 0
    assert header[PREFIX + "ERR_INVALID_ARGUMENT"] == -1
    assert header[PREFIX + "VERSION_NUMBER"] == (
        header[PREFIX + "VERSION_MAJOR"] * 10000 + header[PREFIX + "VERSION_MINOR"] * 100 + header[PREFIX + "VERSION_PATCH"]
    )
    assert len(header) > 50


def test_python_constants_match_the_header_both_ways(header):
    problems = differences(header, python_constants())
    assert not problems, "the Python binding and include/wasmcell.h disagree:\n" + "\n".join(problems)


def test_the_comparison_sees_each_kind_of_difference(header):
    python = python_constants()
    assert differences(header, python) == []
    missing = dict(python)
    del missing[PREFIX + "ERR_TRAP"]
    changed = dict(python, **{PREFIX + "ERR_TRAP": -99})
    extra = dict(python, **{PREFIX + "ERR_NOT_IN_HEADER": -100})
    assert differences(header, missing) == [f"{PREFIX}ERR_TRAP = -6 is in the header, not in the Python package"]
    assert differences(header, changed) == [f"{PREFIX}ERR_TRAP is -6 in the header, -99 in the Python package"]
    assert differences(header, extra) == [f"{PREFIX}ERR_NOT_IN_HEADER = -100 is in the Python package, not in the header"]


def test_every_error_status_of_the_header_has_its_exception(header):
    statuses = {value for name, value in header.items() if name.startswith(PREFIX + "ERR_")}
    assert set(errors._BY_STATUS) == statuses
    for status in statuses:
        error = errors.error_for(status, "message")
        assert type(error) is not errors.Error and error.status == status
        assert isinstance(error, getattr(wasmcell, type(error).__name__))


def test_the_library_names_every_status_of_the_header(header):
    for name, value in header.items():
        if name == PREFIX + "OK" or name.startswith(PREFIX + "ERR_"):
            assert _ffi.lib.wasmcell_status_str(value) != b"unknown status", name


def test_every_bound_function_is_declared_with_as_many_parameters():
    declared = parse_header_functions(HEADER.read_text(encoding="utf-8"))
    assert len(declared) > 50
    problems = []
    for name, (_restype, argtypes) in _ffi._SIGNATURES.items():
        if name not in declared:
            problems.append(f"{name} is bound but not declared in the header")
        elif declared[name] != len(argtypes):
            problems.append(f"{name} takes {declared[name]} parameters in the header, {len(argtypes)} in _ffi")
    assert not problems, "\n".join(problems)


def test_one_version_number(header):
    cargo = section_value(CARGO_TOML.read_text(encoding="utf-8"), "package", "version")
    assert cargo is not None, "no [package] version in Cargo.toml"
    # Cargo.toml is the source of truth: the Python package, the header and
    # the loaded library all carry its version.
    assert wasmcell.__version__ == cargo
    assert {name: header[name] for name in (PREFIX + m for m in VERSION_MACROS)} == version_constants(cargo)
    assert wasmcell.library_version() == cargo
    assert _ffi.lib.wasmcell_version_number() == header[PREFIX + "VERSION_NUMBER"]
    # pyproject.toml has no number of its own: setuptools reads __version__.
    pyproject = PYPROJECT.read_text(encoding="utf-8")
    assert section_value(pyproject, "project", "version") is None
    assert re.search(r'^dynamic[ \t]*=[ \t]*\[[^\]]*"version"', pyproject, re.MULTILINE)
    assert re.search(
        r'^\[tool\.setuptools\.dynamic\][^\[]*^version[ \t]*=[ \t]*\{[ \t]*attr[ \t]*=[ \t]*"wasmcell\.__version__"',
        pyproject,
        re.MULTILINE,
    )
