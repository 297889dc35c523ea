"""Shared fixtures: payloads that write a marker file when unpickled, and a clean slate of
hooks around every test."""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

import lantern

REPO = pathlib.Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this runs ``os.system("echo pwned > MARKER")``."""

    def __init__(self, marker: pathlib.Path, how: str = "system") -> None:
        self.marker = marker
        self.how = how

    def __reduce__(self):  # noqa: D105
        if self.how == "exec":
            return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))
        return (os.system, (f"echo pwned > '{self.marker}'",))


@pytest.fixture
def marker(tmp_path: pathlib.Path) -> pathlib.Path:
    """Where a payload would write: the test checks it never exists."""
    return tmp_path / "PWNED"


@pytest.fixture(autouse=True)
def no_hooks():
    """Every test starts and ends without hooks."""
    lantern.unprotect()
    yield
    lantern.unprotect()


@pytest.fixture
def python() -> str:
    """The interpreter of this venv (for tests that start a fresh process)."""
    return sys.executable


class Plain:
    """A harmless class of the caller's own (an import outside the allowlist)."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plain) and other.x == self.x
