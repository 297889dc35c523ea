"""Safe loading: scan model files and pickles before any loader deserialises them.

:func:`protect` puts a check in front of ``pickle.load``/``loads``/``Unpickler``,
``torch.load``, ``joblib.load``, ``numpy.load(allow_pickle=True)``, Keras ``load_model`` and
Hugging Face ``from_pretrained``/``hf_hub_download``/``snapshot_download``. The check runs
lantern's model scanner (Rust, GIL released) on the file or bytes first: the scanner never
executes the pickle, and for checkpoints it reads only the pickle parts and headers, never the
tensor data. A file that fails raises :class:`lantern.UnsafeModel` before the loader runs.

Libraries imported after :func:`protect` are hooked when they are imported; a name bound with
``from torch import load`` before :func:`protect` is not: call :func:`protect` first (or set
``LANTERN_PROTECT=1``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import io
import json
import os
import pickle
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _native
from ._errors import UnsafeModel, VerificationFailed
from ._report import Finding, Severity

PathLike = Union[str, "os.PathLike[str]"]

#: Directory names never scanned when a whole model directory is checked.
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__"}
#: Most files checked in one model directory (a bound on a directory check).
_MAX_DIR_FILES = 10_000
#: Findings that mean the analysis stopped before the end of what a loader would run: a file
#: with one is not fully checked, whatever its severity (refused unless allow_incomplete).
_UNFINISHED_RULES = frozenset({"pickle.malformed", "scan.incomplete"})


@dataclass(frozen=True)
class _Settings:
    fail_on: Severity
    require_signature: Optional[str]
    allow_globals: Tuple[str, ...]
    allow_incomplete: bool


_lock = threading.RLock()
_settings: Optional[_Settings] = None
#: (owner object, attribute) -> original value, for every patch in place.
_originals: Dict[Tuple[Any, str], Any] = {}
#: Files (path, stat, settings) that passed, so a loader that reopens them is not slowed down.
_passed: set = set()


# --------------------------------------------------------------------------- checks


def _finding_message(where: str, f: Finding) -> str:
    detail = f" ({f.detail})" if f.detail else ""
    return f"{where}: {f.rule_id} [{f.severity}] {f.title}{detail}"


def _judge(where: str, doc: Dict[str, Any], s: _Settings) -> None:
    """Raise UnsafeModel for a finding at or above the threshold, or anything not checked."""
    findings = [Finding.from_dict(f) for f in doc.get("findings", [])]
    bad = [f for f in findings if f.severity >= s.fail_on]
    if bad:
        bad.sort(key=lambda f: -int(f.severity))
        raise UnsafeModel(_finding_message(where, bad[0]), where, bad)
    warnings = [f"{w.get('path', where)}: {w.get('message', '')}" for w in doc.get("warnings", [])]
    # The analysis stopped where these rules say; the loader may go on past that point.
    warnings += [
        _finding_message(where, f) for f in findings if f.rule_id in _UNFINISHED_RULES
    ]
    if warnings and not s.allow_incomplete:
        raise UnsafeModel(
            f"{where}: could not be fully checked: {warnings[0]} "
            "(protect(allow_incomplete=True) lets such files load)",
            where,
            [],
            warnings,
        )


def _stat_key(path: str, s: _Settings, as_pickle: bool) -> Optional[Tuple[Any, ...]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (path, st.st_ino, st.st_size, st.st_mtime_ns, s, as_pickle)


def check_file(
    path: PathLike, settings: Optional[_Settings] = None, *, as_pickle: bool = False
) -> None:
    """Check a model file or directory as :func:`protect` does; raise on failure.

    ``as_pickle``: the file is about to be unpickled, so one of no recognised model format is
    analysed as a pickle (the pickle-based loaders' hooks set it; directories never do).

    Raises:
        UnsafeModel: a finding at or above the threshold, or a file not fully checked.
        VerificationFailed: ``require_signature`` is set and the signature is absent or wrong.
    """
    s = settings or _settings or _Settings(Severity.HIGH, None, (), False)
    p = os.path.abspath(os.fspath(path))
    key = _stat_key(p, s, as_pickle)
    if key is not None and key in _passed:
        return
    if s.require_signature is not None:
        _check_signature(p, s.require_signature)
    if os.path.isdir(p):
        for f in _dir_files(p):
            check_file(f, s)
    elif os.path.exists(p):
        doc = json.loads(_native.scan_model_file(p, list(s.allow_globals), as_pickle))
        _judge(p, doc, s)
    # A missing file is left to the loader, which raises its own error.
    if key is not None:
        _passed.add(key)


def _dir_files(root: str) -> Iterator[str]:
    n = 0
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in _SKIP_DIRS)
        for name in sorted(files):
            n += 1
            if n > _MAX_DIR_FILES:
                raise UnsafeModel(
                    f"{root}: more than {_MAX_DIR_FILES} files: not checked", root, []
                )
            yield os.path.join(d, name)


def check_bytes(data: Any, name: str = "<bytes>", settings: Optional[_Settings] = None) -> None:
    """Check bytes about to be unpickled; raise :class:`UnsafeModel` on failure."""
    s = settings or _settings or _Settings(Severity.HIGH, None, (), False)
    doc = json.loads(_native.scan_model_bytes(bytes(data), name, list(s.allow_globals)))
    _judge(name, doc, s)


_verified: set = set()


def _signature_for(path: str) -> Tuple[str, str]:
    """(model, signature) covering ``path``: ``FILE.sig``, else ``DIR/model.sig``."""
    if os.path.isdir(path):
        return path, os.path.join(path, "model.sig")
    if os.path.exists(path + ".sig"):
        return path, path + ".sig"
    d = os.path.dirname(path)
    return d, os.path.join(d, "model.sig")


def _tree_state(path: str) -> Tuple[Tuple[str, int, int, int], ...]:
    """(path, inode, size, mtime) of a file or of every file under a directory."""
    files = list(_dir_files(path)) if os.path.isdir(path) else [path]
    out = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        out.append((f, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _check_signature(path: str, key: str) -> None:
    model, sig = _signature_for(path)
    if not os.path.isfile(sig):
        raise VerificationFailed(
            f"{path}: no signature ({sig} not found) and protect(require_signature=...) is set",
            {"model": model, "verified": False, "reason": "no signature"},
        )
    # Verified once per state of the files: any change to the signature or the model (size,
    # time, inode of any file) verifies again.
    vkey = (model, sig, key, _tree_state(sig), _tree_state(model))
    if vkey in _verified:
        return
    from ._api import verify

    verify(model, sig, key)
    _verified.add(vkey)


# --------------------------------------------------------------------------- streams


def _stream_name(f: Any) -> str:
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else "<stream>"


def _check_stream(f: Any) -> Any:
    """Check what ``f`` holds from its position on; return a stream positioned as before
    (``f`` itself when it can seek, else a BytesIO of what was read)."""
    seekable = False
    try:
        seekable = bool(f.seekable())
    except Exception:
        seekable = False
    if seekable:
        pos = f.tell()
        data = f.read()
        f.seek(pos)
        check_bytes(data, _stream_name(f))
        return f
    data = f.read()
    check_bytes(data, _stream_name(f))
    return io.BytesIO(data)


def _check_target(f: Any, as_pickle: bool = True) -> Any:
    """A path (str, bytes, PathLike) is checked as a file; a stream through its bytes."""
    if isinstance(f, (str, bytes, os.PathLike)):
        check_file(os.fsdecode(f), as_pickle=as_pickle)
        return f
    if hasattr(f, "read"):
        return _check_stream(f)
    return f


# --------------------------------------------------------------------------- hooks


def _patch(owner: Any, attr: str, make: Callable[[Any], Any]) -> None:
    if owner is None or (owner, attr) in _originals:
        return
    orig = getattr(owner, attr, None)
    if orig is None:
        return
    wrapped = make(orig)
    try:
        setattr(owner, attr, wrapped)
    except (AttributeError, TypeError):
        return
    _originals[(owner, attr)] = orig


def _wrap_first_arg(orig: Callable[..., Any]) -> Callable[..., Any]:
    """A loader whose first argument is a path or a stream."""

    @functools.wraps(orig)
    def guarded(f: Any, *args: Any, **kwargs: Any) -> Any:
        return orig(_check_target(f), *args, **kwargs)

    guarded.__lantern_original__ = orig  # type: ignore[attr-defined]
    return guarded


def _wrap_keras_load(orig: Callable[..., Any]) -> Callable[..., Any]:
    """Keras files (zip, HDF5, SavedModel directories) are not pickles."""

    @functools.wraps(orig)
    def guarded(f: Any, *args: Any, **kwargs: Any) -> Any:
        return orig(_check_target(f, as_pickle=False), *args, **kwargs)

    guarded.__lantern_original__ = orig  # type: ignore[attr-defined]
    return guarded


def _wrap_numpy_load(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
        allow = kwargs.get("allow_pickle", args[1] if len(args) > 1 else False)
        if allow:
            file = _check_target(file)
        return orig(file, *args, **kwargs)

    guarded.__lantern_original__ = orig  # type: ignore[attr-defined]
    return guarded


def _wrap_loads(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    def guarded(data: Any, *args: Any, **kwargs: Any) -> Any:
        check_bytes(data, "<pickle.loads>")
        return orig(data, *args, **kwargs)

    guarded.__lantern_original__ = orig  # type: ignore[attr-defined]
    return guarded


def _wrap_unpickler(orig: type) -> type:
    class Unpickler(orig):  # type: ignore[misc,valid-type]
        __doc__ = orig.__doc__

        def __init__(self, file: Any, *args: Any, **kwargs: Any) -> None:
            checked = _check_stream(file)
            super().__init__(checked, *args, **kwargs)

    Unpickler.__name__ = orig.__name__
    Unpickler.__qualname__ = orig.__qualname__
    Unpickler.__module__ = orig.__module__
    return Unpickler


def _wrap_dir_loader(orig: Callable[..., Any]) -> Callable[..., Any]:
    """``from_pretrained(name_or_path, ...)``: a local file or directory is checked whole."""

    @functools.wraps(orig)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        # Wrapped as the function of a classmethod: args[0] is the class.
        target = kwargs.get("pretrained_model_name_or_path", args[1] if len(args) > 1 else None)
        if isinstance(target, (str, os.PathLike)) and os.path.exists(os.fspath(target)):
            check_file(target)
        return orig(*args, **kwargs)

    guarded.__lantern_original__ = orig  # type: ignore[attr-defined]
    return guarded


def _wrap_download(orig: Callable[..., Any]) -> Callable[..., Any]:
    """``hf_hub_download``/``snapshot_download``: the local file or folder returned is
    checked before the caller gets its path."""

    @functools.wraps(orig)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        if isinstance(out, (str, os.PathLike)) and os.path.exists(os.fspath(out)):
            check_file(out)
        return out

    guarded.__lantern_original__ = orig  # type: ignore[attr-defined]
    return guarded


def _patch_pickle(m: Any) -> None:
    _patch(m, "load", _wrap_first_arg)
    _patch(m, "loads", _wrap_loads)
    _patch(m, "Unpickler", _wrap_unpickler)
    _patch(m, "_load", _wrap_first_arg)
    _patch(m, "_loads", _wrap_loads)
    _patch(m, "_Unpickler", _wrap_unpickler)


def _patch_from_pretrained(cls: Any) -> None:
    orig = cls.__dict__.get("from_pretrained") if cls is not None else None
    if orig is None or (cls, "from_pretrained") in _originals:
        return
    func = orig.__func__ if isinstance(orig, classmethod) else orig
    setattr(cls, "from_pretrained", classmethod(_wrap_dir_loader(func)))
    _originals[(cls, "from_pretrained")] = orig


def _patch_hf_hub(m: Any) -> None:
    _patch(m, "hf_hub_download", _wrap_download)
    _patch(m, "snapshot_download", _wrap_download)


#: Module name -> how to hook it once it is imported.
_HOOKS: Dict[str, Callable[[Any], None]] = {
    "pickle": _patch_pickle,
    "numpy": lambda m: _patch(m, "load", _wrap_numpy_load),
    "joblib": lambda m: _patch(m, "load", _wrap_first_arg),
    "joblib.numpy_pickle": lambda m: _patch(m, "load", _wrap_first_arg),
    "torch": lambda m: _patch(m, "load", _wrap_first_arg),
    "torch.serialization": lambda m: _patch(m, "load", _wrap_first_arg),
    "keras.models": lambda m: _patch(m, "load_model", _wrap_keras_load),
    "keras.saving": lambda m: _patch(m, "load_model", _wrap_keras_load),
    "transformers.modeling_utils": lambda m: _patch_from_pretrained(
        getattr(m, "PreTrainedModel", None)
    ),
    "transformers.modeling_tf_utils": lambda m: _patch_from_pretrained(
        getattr(m, "TFPreTrainedModel", None)
    ),
    "transformers.utils.hub": _patch_hf_hub,
    "huggingface_hub": _patch_hf_hub,
    "huggingface_hub.file_download": _patch_hf_hub,
    "huggingface_hub._snapshot_download": _patch_hf_hub,
}


class _HookLoader(importlib.abc.Loader):
    """Runs the real loader, then hooks the module."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner = inner
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._inner.exec_module(module)
        with _lock:
            if _settings is not None:
                _HOOKS[self._name](module)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)


class _HookFinder(importlib.abc.MetaPathFinder):
    """Hooks the libraries of :data:`_HOOKS` when they are imported after :func:`protect`."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in _HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _HookLoader(spec.loader, name)
                return spec
        return None


_finder = _HookFinder()


# --------------------------------------------------------------------------- public


def protect(
    fail_on: Union[str, Severity] = "high",
    require_signature: Optional[PathLike] = None,
    *,
    allow_globals: Sequence[str] = (),
    allow_incomplete: bool = False,
) -> None:
    """Check every model file and pickle before it is loaded, for the rest of the process.

    Args:
        fail_on: lowest severity that stops a load (``"high"``: dangerous calls and unknown
            callables; ``"medium"`` also stops unknown imports).
        require_signature: a public key (PEM): every model file must also verify against its
            OpenSSF Model Signing bundle, ``FILE.sig`` or ``model.sig`` in its directory.
        allow_globals: extra ``module.name`` globals a pickle may use (your own classes).
        allow_incomplete: let files load that could not be fully checked (default: refuse).

    Raises (later, from the hooked loaders):
        UnsafeModel: what was found, with ``findings``; nothing of the file ran.
        VerificationFailed: with ``require_signature``, a missing or wrong signature.
    """
    global _settings
    s = _Settings(
        Severity.parse(fail_on),
        os.fspath(require_signature) if require_signature is not None else None,
        tuple(allow_globals),
        bool(allow_incomplete),
    )
    with _lock:
        _settings = s
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
        for name, hook in _HOOKS.items():
            mod = sys.modules.get(name)
            if mod is not None:
                hook(mod)


def unprotect() -> None:
    """Remove every hook :func:`protect` installed."""
    global _settings
    with _lock:
        _settings = None
        if _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        for (owner, attr), orig in reversed(list(_originals.items())):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(owner, attr, orig)
        _originals.clear()


def is_protected() -> bool:
    """Whether :func:`protect` is in force."""
    return _settings is not None


@contextlib.contextmanager
def protected(
    fail_on: Union[str, Severity] = "high",
    require_signature: Optional[PathLike] = None,
    *,
    allow_globals: Sequence[str] = (),
    allow_incomplete: bool = False,
) -> Iterator[None]:
    """``with lantern.protected(): ...``: :func:`protect` for the block, then the previous
    state again (still protected if it was, with the earlier settings)."""
    with _lock:
        before = _settings
    protect(
        fail_on,
        require_signature,
        allow_globals=allow_globals,
        allow_incomplete=allow_incomplete,
    )
    try:
        yield
    finally:
        if before is None:
            unprotect()
        else:
            protect(
                before.fail_on,
                before.require_signature,
                allow_globals=before.allow_globals,
                allow_incomplete=before.allow_incomplete,
            )


def _from_environment() -> None:
    """``LANTERN_PROTECT=1`` (from the wheel's ``.pth`` file): protect the process at start.
    ``LANTERN_PROTECT_FAIL_ON`` and ``LANTERN_PROTECT_KEY`` set the threshold and the key."""
    if os.environ.get("LANTERN_PROTECT", "") not in ("1", "true", "yes", "on"):
        return
    protect(
        os.environ.get("LANTERN_PROTECT_FAIL_ON", "high"),
        os.environ.get("LANTERN_PROTECT_KEY") or None,
    )
