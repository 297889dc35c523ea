#!/usr/bin/env bash
# Memory of `lantern data` on rows with no end: a 1 GiB CSV and a 1 GiB JSON Lines file with
# no newline (one row of 1 GiB). Rows longer than the record cap (64 MiB) are digested
# streaming as raw bytes, so peak RSS must stay near the cap, not the row. Also checks the
# root against a digest computed here with Python's hashlib (RFC 9162 leaf of
# sha256("U" || column names || row)). Replaces the "## Rows with no end" section of
# bench/results/data.md (appended when missing).
#
# Usage: bench/data-rows.sh   (LANTERN_BIN overrides the binary; default target/debug/lantern)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LANTERN_BIN:-target/debug/lantern}
WORK=bench/work/data-rows
OUT=bench/results/data.md
mkdir -p "$WORK"
[ -x "$BIN" ] || cargo build -p lantern-cli >/dev/null
if [ ! -s "$WORK/nonl.csv" ]; then
  { printf 'text,label\n'; head -c 1073741824 /dev/zero | tr '\0' 'a'; } > "$WORK/nonl.csv"
  head -c 1073741824 /dev/zero | tr '\0' 'a' > "$WORK/nonl.jsonl"
fi
row() {  # step, command...
  local step=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" > "$WORK/out" 2>&1 || true
  read -r secs kb < <(tail -1 "$WORK/t")
  printf '| %s | %s s | %.0f MB |\n' "$step" "$secs" "$(echo "$kb/1024" | bc -l)"
}
want=$(python3 - "$WORK/nonl.csv" <<'PY'
import hashlib, struct, sys
h = hashlib.sha256(b"U")
names = [b"text", b"label"]
h.update(struct.pack("<Q", len(names)))
for n in names:
    h.update(struct.pack("<Q", len(n)) + n)
with open(sys.argv[1], "rb") as f:
    f.readline()
    for chunk in iter(lambda: f.read(1 << 24), b""):
        h.update(chunk)
print(hashlib.sha256(b"\0" + h.digest()).hexdigest())
PY
)
{
  echo "## Rows with no end: 1 GiB CSV and JSON Lines without a newline"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), binary $BIN, load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
  echo "- command: \`bench/data-rows.sh\`; time and peak RSS from \`/usr/bin/time\` (%e, %M)"
  echo
  echo "| step | wall time | peak RSS |"
  echo "|---|---|---|"
  row "data manifest nonl.csv --no-records" "$BIN" data manifest "$WORK/nonl.csv" --no-records -o "$WORK/m.json"
  got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["merkle_root"])' "$WORK/m.json")
  row "data manifest nonl.jsonl --no-records" "$BIN" data manifest "$WORK/nonl.jsonl" --no-records -o "$WORK/m2.json"
  row "data audit nonl.csv" "$BIN" data audit "$WORK/nonl.csv"
  row "data diff nonl.csv nonl.jsonl" "$BIN" data diff "$WORK/nonl.csv" "$WORK/nonl.jsonl" --no-git
  echo
  echo "Root of nonl.csv: $got; recomputed with hashlib: $want ($([ "$got" = "$want" ] && echo match || echo MISMATCH))."
  echo "Before (issue 26, parquet 53 build, csv crate): 5.2 GB peak for the CSV manifest; the row was left out of the root."
  echo
} > "$WORK/section.md"
if [ -f "$OUT" ] && grep -q '^## Rows with no end' "$OUT"; then
  awk -v f="$WORK/section.md" '
    /^## Rows with no end/ {while ((getline l < f) > 0) print l; skip=1; next}
    skip && /^## / {skip=0}
    !skip {print}' "$OUT" > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
else
  { echo; cat "$WORK/section.md"; } >> "$OUT"
fi
cat "$WORK/section.md"
