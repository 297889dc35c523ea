"""Exceptions raised by the lantern package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:
    from ._report import Finding


class Error(Exception):
    """A lantern operation could not run: bad arguments, unreadable input, malformed files.

    Exit code 2 of the ``lantern`` command.
    """


class UnsafeModel(Error):
    """A model file (or pickle) failed the scan and was not loaded.

    ``findings`` lists what was found; ``path`` names the file. Nothing of the file was
    executed: the check runs before any deserialisation.
    """

    def __init__(self, message: str, path: str, findings: "List[Finding]", incomplete: Optional[List[str]] = None):
        super().__init__(message)
        self.path = path
        self.findings = findings
        self.incomplete = incomplete or []


class VerificationFailed(Error):
    """A model did not verify against its signature (changed, added or missing files, bad
    signature, wrong key), or a required signature was absent.

    ``details`` holds what the verifier reported (``changed``, ``added``, ``missing``,
    ``reason``).
    """

    def __init__(self, message: str, details: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.details = details or {}
