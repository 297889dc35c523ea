"""The Python API, in-process (no subprocess), with the GIL released while Rust works.

``scan`` calls the ``lantern scan`` pipeline (``lantern_scan::scan``) directly; the other calls
run the CLI's subcommand (``lantern_cli``) with the same arguments as the command line and
read its output from a temporary file (never from standard output).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _native
from ._errors import Error, VerificationFailed
from ._report import Report, Severity

PathLike = Union[str, "os.PathLike[str]"]


def _severity(s: Union[str, Severity]) -> str:
    try:
        return str(Severity.parse(s))
    except ValueError as e:
        raise Error(str(e)) from None


def _paths(paths: Union[PathLike, Iterable[PathLike]]) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise Error("no paths given")
    return out


def _run(args: Sequence[str]) -> int:
    """Run ``lantern ARGS`` in-process; return 0 or 1, raise :class:`Error` on exit code 2."""
    code, message = _native.run_captured(["lantern", *args])
    if code == 2:
        raise Error(message.strip().removeprefix("lantern: error: ") if message else "lantern failed")
    return code


def _run_to_json(args: Sequence[str]) -> Tuple[int, Any]:
    """Run with ``-o FILE`` appended and return (exit code, the file's JSON)."""
    with tempfile.TemporaryDirectory(prefix="lantern-") as d:
        out = os.path.join(d, "out.json")
        code = _run([*args, "-o", out])
        try:
            with open(out, encoding="utf-8") as f:
                return code, json.load(f)
        except (OSError, ValueError) as e:
            raise Error(f"lantern wrote no readable report: {e}") from None


def scan(
    paths: Union[PathLike, Iterable[PathLike]],
    only: Optional[Iterable[str]] = None,
    fail_on: Optional[Union[str, Severity]] = None,
    config: Optional[PathLike] = None,
    *,
    git: bool = False,
    no_ignore: bool = False,
    min_severity: Optional[Union[str, Severity]] = None,
    baseline: Optional[PathLike] = None,
) -> Report:
    """Scan files, directories or archives, as ``lantern scan`` does.

    Args:
        paths: one path or several.
        only: analysers to run (``"secrets"``, ``"leaks"``, ``"models"``, ``"iac"``); all by default.
        fail_on: lowest severity that sets ``Report.failed`` (default: the config's, else ``"low"``).
        config: a ``lantern.toml`` to use instead of discovering one.
        git: scan every commit of each path's history instead of the tree.
        no_ignore: also scan files ignored by ``.gitignore``.
        min_severity: drop findings below this severity.
        baseline: suppress the findings recorded in this baseline file.

    Returns:
        A :class:`Report`; ``report.failed`` is True where the CLI would exit 1.

    Raises:
        Error: unreadable input, a bad config, unknown analysers or severities.
    """
    names: Optional[List[str]] = None
    if only is not None:
        names = [only] if isinstance(only, str) else list(only)
    try:
        text, failed = _native.scan(
            _paths(paths),
            names,
            _severity(fail_on) if fail_on is not None else None,
            os.fspath(config) if config is not None else None,
            git,
            no_ignore,
            _severity(min_severity) if min_severity is not None else None,
            os.fspath(baseline) if baseline is not None else None,
        )
    except ValueError as e:
        raise Error(str(e)) from None
    return Report.from_json(json.loads(text), failed=failed)


def verify(
    model: PathLike,
    signature: PathLike,
    key: PathLike,
    *,
    ignore_unsigned_files: bool = False,
) -> Dict[str, Any]:
    """Verify a model file or directory against an OpenSSF Model Signing bundle.

    Args:
        model: the model file or directory.
        signature: the signature bundle (``model.sig``).
        key: the public key (PEM) the signature must verify with.
        ignore_unsigned_files: do not report files the signature does not cover.

    Returns:
        Details (``files``, ``verified``: always True here).

    Raises:
        VerificationFailed: changed, added or missing files, a bad signature or the wrong key.
        Error: unreadable or malformed signature, key or model.
    """
    code, text = _native.verify_model(
        os.fspath(model), os.fspath(signature), os.fspath(key), ignore_unsigned_files
    )
    details = json.loads(text)
    if code == 2:
        raise Error(details.get("error", "verification could not run"))
    if code == 1:
        raise VerificationFailed(_not_verified_message(os.fspath(model), details), details)
    return details


def _not_verified_message(model: str, d: Dict[str, Any]) -> str:
    parts = [f"{model}: not verified"]
    if d.get("reason"):
        parts.append(str(d["reason"]))
    for label in ("changed", "added", "missing"):
        if d.get(label):
            parts.append(f"{label}: {', '.join(d[label][:5])}")
    return "; ".join(parts)


def sign(
    model: PathLike,
    key: PathLike,
    signature: Optional[PathLike] = None,
    *,
    ignore_paths: Iterable[PathLike] = (),
    password_file: Optional[PathLike] = None,
) -> str:
    """Sign a model file or directory (OpenSSF Model Signing bundle), as ``lantern sign``.

    Args:
        model: the model file or directory.
        key: the private key (PEM).
        signature: where to write the bundle (default: ``model.sig`` inside a directory model,
            ``<file>.sig`` beside a file model; where :func:`protect` looks for it).
        ignore_paths: paths to leave out of the signature.
        password_file: file holding an encrypted key's password (else ``LANTERN_KEY_PASSWORD``).

    Returns:
        The path of the signature written.
    """
    m = os.fspath(model)
    sig = os.fspath(signature) if signature is not None else default_signature_path(m)
    args = ["sign", m, "--key", os.fspath(key), "--signature", sig, "-q"]
    for p in ignore_paths:
        args += ["--ignore-paths", os.fspath(p)]
    if password_file is not None:
        args += ["--password-file", os.fspath(password_file)]
    _run(args)
    return sig


def default_signature_path(model: str) -> str:
    """Where a model's signature is expected: ``DIR/model.sig`` or ``FILE.sig``."""
    if os.path.isdir(model):
        return os.path.join(model, "model.sig")
    return model + ".sig"


def keygen(out: PathLike, *, kind: str = "p256", force: bool = False) -> Tuple[str, str]:
    """Generate a signing key pair: ``OUT.pem`` (private) and ``OUT.pub``; returns both paths.

    ``kind``: ``p256`` (interoperable with model_signing), ``p384`` or ``ed25519``.
    """
    o = os.fspath(out)
    args = ["keygen", "--out", o, "--type", kind]
    if force:
        args.append("--force")
    _run(args)
    return o + ".pem", o + ".pub"


def bom(path: PathLike, *, with_scan: bool = False, deterministic: bool = False) -> Dict[str, Any]:
    """An AI bill of materials (CycloneDX 1.6 JSON, as a dict) for a project or model directory.

    Args:
        path: the directory (or file) to inventory.
        with_scan: add the scan's findings on each model component.
        deterministic: reproducible output (timestamps from ``SOURCE_DATE_EPOCH``, no serial).
    """
    args = ["bom", os.fspath(path), "-q"]
    if with_scan:
        args.append("--with-scan")
    if deterministic:
        args.append("--deterministic")
    _, doc = _run_to_json(args)
    return doc
