import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def fixture():
    def path(name: str) -> pathlib.Path:
        return FIXTURES / name

    return path


@pytest.fixture
def rt():
    import wasmcell

    with wasmcell.Runtime() as runtime:
        yield runtime
