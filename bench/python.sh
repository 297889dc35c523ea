#!/usr/bin/env bash
# lantern from Python: time of lantern.scan (in-process API) and lantern.check_file (what
# protect() runs before a load) vs the wheel's `lantern scan` command vs the Python APIs of
# modelscan and picklescan, on the same model files (written by pickle, joblib and numpy in
# bench/work/python/corpus: benign state dicts of several sizes and malicious pickles).
# Builds the release wheel (maturin) into bench/work/wheels unless WHEEL=path is given, and
# installs it with the peers into bench/work/venv-python. Writes bench/results/python.md.
#
# Usage: bench/python.sh            (REPEAT=5 runs per tool, the best reported; TORCH=1)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/work/python
VENV=${VENV:-$ROOT/bench/work/venv-python}
OUT=$ROOT/bench/results/python.md
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-py-release}
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check maturin picklescan modelscan numpy joblib
# TORCH=1: also time protect()'s check on PyTorch checkpoints of 1 MiB to 1 GiB (installs
# torch: the PyPI wheel brings the CUDA libraries, several GB).
if [ "${TORCH:-0}" = 1 ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check torch
fi
if [ -z "${WHEEL:-}" ]; then
  (cd "$ROOT" && PATH="$VENV/bin:$PATH" maturin build --release --strip -o bench/work/wheels)
  WHEEL=$(ls -t "$ROOT"/bench/work/wheels/lantern_sec-*.whl | head -1)
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
cd "$WORK"
"$VENV/bin/python" "$ROOT/bench/python_bench.py" --corpus "$WORK/corpus" --repeat "${REPEAT:-5}" \
  --out "$OUT" --command "bench/python.sh"
