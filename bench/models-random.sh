#!/usr/bin/env bash
# False alarms of the model scanner on random `.bin` files (what raw weight blobs look like
# to a sniffer): N plain random 1 MiB files, and N that start like a long first pickle value
# that fits in the file (X/B/T + 4-byte length, or `(S'`), and N/5 float32 weight blobs
# (normal, sigma 0.02), with a fixed seed. Counts the files
# with any finding or warning for each binary given.
#
# Usage: bench/models-random.sh BINARY...     (N=500 to change the count per set)
set -euo pipefail
N=${N:-500}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK" "$N" <<'PY'
import os, random, struct, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(20)
import array
for d in ("plain", "long-start", "float32"):
    os.makedirs(os.path.join(out, d))
for i in range(n):
    open(os.path.join(out, "plain", f"w{i}.bin"), "wb").write(rng.randbytes(1 << 20))
    b = bytearray(rng.randbytes(1 << 20))
    k = i % 4
    if k == 3:
        b[:3] = b"(S'"
    else:
        b[0] = b"XBT"[k]
        b[1:5] = struct.pack("<I", rng.randrange(70_000, 1_000_000))
    open(os.path.join(out, "long-start", f"w{i}.bin"), "wb").write(bytes(b))
    if i % 5 == 0:
        w = array.array("f", (rng.gauss(0, 0.02) for _ in range(1 << 18)))
        open(os.path.join(out, "float32", f"w{i}.bin"), "wb").write(w.tobytes())
PY
for bin in "$@"; do
  for d in plain long-start float32; do
    flagged=$(cd "$WORK/$d" && "$bin" scan --only models --no-progress --format json . \
      | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len({f["locations"][0]["path"] for f in r["findings"]} | {w["path"] for w in r["warnings"]}))')
    echo "$bin $d: $flagged of $(ls "$WORK/$d" | wc -l) files flagged"
  done
done
