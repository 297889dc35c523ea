#!/usr/bin/env bash
# Peak memory (GNU time, max RSS) of `lantern scan` on a 2 GiB single-line text file, read from
# disk and from standard input, with --max-file-size raised so the whole input is scanned.
# Big text is scanned as 16 MiB windows overlapping by 128 KiB (lantern_walk::window), so the
# figure should not depend on the input size. Figures go to bench/results/scan.md by hand.
#
# usage: bench/scan-memory.sh [path/to/lantern]   (default: target/release/lantern)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/lantern}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK/one-line.txt" <<'PY'
import sys
chunk = b"abcdefghijklmnopqrstuvwxyz0123456789" * 30000
n = 2 * 1024**3
with open(sys.argv[1], "wb") as f:
    w = 0
    while w < n:
        c = chunk[: min(len(chunk), n - w)]
        f.write(c)
        w += len(c)
PY
for mode in file stdin; do
  if [ $mode = file ]; then
    /usr/bin/time -f "$mode: max RSS %M kB, %e s" "$BIN" scan --no-progress --max-file-size 3000000000 "$WORK/one-line.txt" >/dev/null
  else
    /usr/bin/time -f "$mode: max RSS %M kB, %e s" "$BIN" scan --no-progress --max-file-size 3000000000 - <"$WORK/one-line.txt" >/dev/null
  fi
done
