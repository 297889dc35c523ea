"""Dataset manifests and poisoning audits (``lantern data``), in-process."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Optional, Union

from ._api import PathLike, _run_to_json, _severity
from ._report import Report, Severity


def manifest(
    path: PathLike,
    *,
    key: Optional[str] = None,
    label: Optional[str] = None,
    no_records: bool = False,
    input_format: Optional[str] = None,
) -> Dict[str, Any]:
    """A dataset manifest (record digests and Merkle root), as ``lantern data manifest``.

    Args:
        path: a CSV/TSV, JSON Lines or Parquet file, or a folder of files.
        key: column that identifies a record (for diffs).
        label: column holding the label (counted per class).
        no_records: keep only the root and counts.
        input_format: ``csv``, ``tsv``, ``jsonl``, ``parquet`` or ``folder`` (default: by name).
    """
    args = ["data", "manifest", os.fspath(path)]
    if key is not None:
        args += ["--key", key]
    if label is not None:
        args += ["--label", label]
    if no_records:
        args.append("--no-records")
    if input_format is not None:
        args += ["--input-format", input_format]
    _, doc = _run_to_json(args)
    return doc


def audit(
    path: PathLike,
    *,
    label: Optional[str] = None,
    text: Optional[Union[str, Iterable[str]]] = None,
    baseline: Optional[PathLike] = None,
    fail_on: Union[str, Severity] = "medium",
    no_pii: bool = False,
    no_secrets: bool = False,
) -> Report:
    """Audit a dataset for poisoning (triggers, label conflicts, PII, secrets), as
    ``lantern data audit``. ``Report.failed`` is True at or above ``fail_on``.
    """
    args = ["data", "audit", os.fspath(path), "--format", "json"]
    args += ["--fail-on", _severity(fail_on)]
    if label is not None:
        args += ["--label", label]
    if text is not None:
        cols = [text] if isinstance(text, str) else list(text)
        args += ["--text", ",".join(cols)]
    if baseline is not None:
        args += ["--baseline", os.fspath(baseline)]
    if no_pii:
        args.append("--no-pii")
    if no_secrets:
        args.append("--no-secrets")
    code, doc = _run_to_json(args)
    return Report.from_json(doc, failed=code == 1)
