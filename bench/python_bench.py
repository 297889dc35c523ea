"""Driver of bench/python.sh: builds the corpus, times each tool, writes the table."""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import pickle
import platform
import shutil
import subprocess
import sys
import time

import joblib
import numpy as np


class Payload:
    """Unpickling runs os.system (never done here: the tools only scan)."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def build_corpus(root: pathlib.Path) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """Benign files (state dicts of 1 KiB..64 MiB, joblib, npy/npz) and malicious pickles."""
    if root.exists():
        shutil.rmtree(root)
    (root / "benign").mkdir(parents=True)
    (root / "malicious").mkdir()
    rng = np.random.default_rng(0)
    benign, bad = [], []
    for i, n in enumerate([256, 4096, 65536, 1 << 20, 4 << 20, 16 << 20]):
        sd = {f"layer{j}.weight": rng.standard_normal(n // 4 // 4, dtype=np.float32) for j in range(4)}
        p = root / "benign" / f"state{i}.pkl"
        p.write_bytes(pickle.dumps(sd, protocol=4))
        j = root / "benign" / f"state{i}.joblib"
        joblib.dump(sd, j, compress=3 if n <= (1 << 20) else 0)
        z = root / "benign" / f"state{i}.npz"
        np.savez(z, **sd)
        benign += [p, j, z]
    for i in range(20):
        p = root / "malicious" / f"evil{i}.pkl"
        p.write_bytes(pickle.dumps({"w": np.zeros(10), "x": Payload()}, protocol=i % 5 + 1))
        bad.append(p)
        j = root / "malicious" / f"evil{i}.joblib"
        joblib.dump({"x": Payload()}, j, compress=i % 2 * 3)
        bad.append(j)
    return benign, bad


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def lantern_scan(root, files):
    import lantern

    r = lantern.scan(root, only=["models"])
    flagged = {pathlib.Path(l.path).resolve() for f in r if f.severity >= lantern.Severity.HIGH for l in f.locations}
    return flagged


def lantern_check(root, files):
    import lantern
    from lantern import _protect

    flagged = set()
    _protect._passed.clear()
    for f in files:
        try:
            lantern.check_file(f)
        except lantern.UnsafeModel:
            flagged.add(f.resolve())
    return flagged


def lantern_cli(root, files):
    exe = os.path.join(os.path.dirname(sys.executable), "lantern")
    subprocess.run([exe, "scan", "--only", "models", "--no-progress", "-f", "json", "-o", os.devnull, str(root)], check=False)
    return None


def picklescan_api(root, files):
    from picklescan.scanner import scan_file_path

    flagged = set()
    for f in files:
        r = scan_file_path(str(f))
        if r.infected_files:
            flagged.add(f.resolve())
    return flagged


def modelscan_api(root, files):
    from modelscan.modelscan import ModelScan

    ms = ModelScan()
    out = ms.scan(str(root))
    flagged = set()
    for issue in out.get("issues", []):
        src = issue.get("source", "").split(":")[0]
        flagged.add((pathlib.Path(root) / src).resolve())
    return flagged


TOOLS = [
    ("lantern.scan(dir, only=['models']) (Python API)", lantern_scan),
    ("lantern.check_file per file (what protect() runs)", lantern_check),
    ("`lantern scan --only models dir` (wheel's command)", lantern_cli),
    ("picklescan scan_file_path per file (Python API)", picklescan_api),
    ("modelscan ModelScan().scan(dir) (Python API)", modelscan_api),
]


def torch_overhead(root: pathlib.Path, repeat: int) -> list[str]:
    """protect()'s check on PyTorch checkpoints of growing size vs torch.load itself."""
    try:
        import torch
    except ImportError:
        return []
    import lantern
    from lantern import _protect

    d = root / "torch"
    d.mkdir(exist_ok=True)
    out = [
        "",
        f"Overhead of protect() on safe PyTorch checkpoints (torch {torch.__version__}, "
        "`torch.save` of one float32 tensor; best of the runs; page cache warm):",
        "",
        "| checkpoint | lantern.check_file (ms) | torch.load(weights_only=True) (ms) |",
        "|---:|---:|---:|",
    ]
    for mib in (1, 64, 1024):
        p = d / f"w{mib}.pt"
        torch.save({"w": torch.zeros(mib * 256 * 1024)}, p)

        def check() -> None:
            _protect._passed.clear()
            lantern.check_file(p)

        t_check = best(check, repeat)
        t_load = best(lambda: torch.load(p, weights_only=True), repeat)
        out.append(f"| {mib} MiB | {t_check * 1000:.2f} | {t_load * 1000:.1f} |")
        p.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=pathlib.Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--command", default="bench/python.sh")
    a = ap.parse_args()
    benign, bad = build_corpus(a.corpus)
    files = benign + bad
    size = sum(f.stat().st_size for f in files)
    bad_set = {p.resolve() for p in bad}
    rows = []
    for name, fn in TOOLS:
        flagged = fn(a.corpus, files)
        t = best(lambda: fn(a.corpus, files), a.repeat)
        if flagged is None:
            caught, false = "-", "-"
        else:
            caught = f"{len(flagged & bad_set)}/{len(bad_set)}"
            false = f"{len(flagged - bad_set)}/{len(benign)}"
        rows.append((name, t, caught, false))
        print(f"{name}: {t * 1000:.1f} ms, malicious flagged {caught}, benign flagged {false}", flush=True)
    base = rows[0][1]
    cpu = platform.processor() or platform.machine()
    lines = [
        "# lantern from Python vs the CLI vs modelscan / picklescan",
        "",
        f"{datetime.date.today()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}; "
        f"`{a.command}` (REPEAT={a.repeat}, best run).",
        "",
        f"Corpus: {len(benign)} benign files (pickled state dicts of 1 KiB to 16 MiB, joblib raw and "
        f"zlib, npz; made by pickle/joblib/numpy) and {len(bad)} malicious pickles and joblib files "
        f"(os.system on load), {size / 1e6:.0f} MB in all.",
        "",
        "| tool | time (ms) | vs lantern.scan | malicious flagged | benign flagged |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t, caught, false in rows:
        lines.append(f"| {name} | {t * 1000:.1f} | {t / base:.2f}x | {caught} | {false} |")
    lines += [
        "",
        "Flagged: lantern at high or above; picklescan `infected_files`; modelscan any issue",
        "(modelscan's own errors and skipped files, such as the npz members its NumPy version cannot",
        "read, are not counted as flagged).",
        "The command row includes starting Python and loading the extension.",
        "",
    ]
    lines += torch_overhead(a.corpus, a.repeat)
    a.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    sys.exit(main())
