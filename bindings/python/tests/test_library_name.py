"""Which library file the package loads on each platform."""

import os

from wasmcell import _ffi


def test_windows_looks_for_wasmcell_dll(monkeypatch):
    monkeypatch.delenv("WASMCELL_LIBRARY", raising=False)
    candidates = _ffi._candidates(platform="win32")
    assert candidates[-1] == "wasmcell.dll"
    assert not any(name.endswith(".so") for name in candidates)


def test_other_platforms_look_for_libwasmcell_so(monkeypatch):
    monkeypatch.delenv("WASMCELL_LIBRARY", raising=False)
    candidates = _ffi._candidates(platform="linux")
    assert candidates[-1] == "libwasmcell.so"
    assert not any(name.endswith(".dll") for name in candidates)


def test_shipped_dll_comes_before_the_search_path(monkeypatch, tmp_path):
    monkeypatch.delenv("WASMCELL_LIBRARY", raising=False)
    here = os.path.dirname(os.path.abspath(_ffi.__file__))
    shipped = os.path.join(here, "_native.cp311-win_amd64.pyd")
    monkeypatch.setattr(_ffi.glob, "glob", lambda pattern: [shipped] if pattern.endswith("_native*.pyd") else [])
    assert _ffi._candidates(platform="win32") == [shipped, "wasmcell.dll"]


def test_wasmcell_library_wins_everywhere(monkeypatch):
    monkeypatch.setenv("WASMCELL_LIBRARY", "C:/plc/wasmcell.dll")
    assert _ffi._candidates(platform="win32") == ["C:/plc/wasmcell.dll"]
    assert _ffi._candidates(platform="linux") == ["C:/plc/wasmcell.dll"]
