"""Lantern: security toolkit for the AI supply chain, from Python.

Scan projects and model files, sign and verify models, build AI bills of materials, audit
datasets, and stop unsafe model files before they are loaded::

    import lantern
    report = lantern.scan(".")                 # same checks as `lantern scan .`
    lantern.protect()                          # pickle/torch/joblib/numpy/HF loads are checked

Everything runs in-process (Rust, GIL released); nothing shells out.
"""

from __future__ import annotations

from . import data
from ._api import bom, default_signature_path, keygen, scan, sign, verify
from ._errors import Error, UnsafeModel, VerificationFailed
from ._native import __version__
from ._protect import check_bytes, check_file, is_protected, protect, protected, unprotect
from ._report import Finding, Location, Report, ScanWarning, Severity

__all__ = [
    "Error",
    "Finding",
    "Location",
    "Report",
    "ScanWarning",
    "Severity",
    "UnsafeModel",
    "VerificationFailed",
    "__version__",
    "bom",
    "check_bytes",
    "check_file",
    "data",
    "default_signature_path",
    "is_protected",
    "keygen",
    "protect",
    "protected",
    "scan",
    "sign",
    "unprotect",
    "verify",
]
