"""Type stubs of the Rust extension module (crates/lantern-py)."""

from typing import List, Optional, Tuple

__version__: str

def run(argv: List[str]) -> int:
    """Run the ``lantern`` command line in-process; returns its exit code."""

def run_captured(argv: List[str]) -> Tuple[int, str]:
    """Run the command line; returns (exit code, error message when the code is 2)."""

def scan_model_file(path: str, allow_globals: List[str] = ..., as_pickle: bool = ...) -> str:
    """Scan one model file (pickle parts and headers only); JSON findings and warnings.
    ``as_pickle``: a file of no recognised format is analysed as a pickle."""

def scan_model_bytes(data: bytes, name: str, allow_globals: List[str] = ...) -> str:
    """Scan bytes about to be unpickled; JSON findings and warnings."""

def verify_model(
    model: str, signature: str, key: str, ignore_unsigned_files: bool = ...
) -> Tuple[int, str]:
    """Verify an OpenSSF Model Signing bundle; (0 verified | 1 not | 2 error, JSON details)."""

def scan(
    paths: List[str],
    only: Optional[List[str]] = ...,
    fail_on: Optional[str] = ...,
    config: Optional[str] = ...,
    git: bool = ...,
    no_ignore: bool = ...,
    min_severity: Optional[str] = ...,
    baseline: Optional[str] = ...,
) -> Tuple[str, bool]:
    """The ``lantern scan`` pipeline: (report JSON, fails the threshold); ValueError on errors."""
