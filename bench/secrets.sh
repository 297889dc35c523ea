#!/usr/bin/env bash
# Engine benchmark of lantern-secrets against Kingfisher (PyPI kingfisher-bin, Vectorscan-based)
# in the same run, on the same generated source-like corpus file, one thread each.
#
# Lantern side: `examples/profile` loads every bundled rule, reads the file and runs
# Scanner::scan once (whole process timed, and the scan alone as printed by the example).
# Kingfisher side: `kingfisher scan FILE --no-validate -j 1` (whole process timed, after one
# warm-up run so its compiled rule cache is hot).
# Figures go to bench/results/secrets-engine.md.
#
# usage: bench/secrets.sh [CORPUS_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MIB=${1:-64}
RUNS=${2:-3}
WORK=$ROOT/bench/work/secrets
VENV=$ROOT/bench/work/venv-secrets
OUT=$ROOT/bench/results/secrets-engine.md
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-secrets}
mkdir -p "$WORK"

if [ ! -x "$VENV/bin/kingfisher" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check kingfisher-bin
fi
KF=$VENV/bin/kingfisher
KF_VERSION=$("$KF" --version | awk '{print $2}')

cargo build -q --release -p lantern-secrets --example profile
PROFILE=$CARGO_TARGET_DIR/release/examples/profile
CORPUS=$WORK/corpus-${MIB}MiB.txt
[ -f "$CORPUS" ] || "$PROFILE" --write-corpus "$CORPUS" "$MIB"
BYTES=$(stat -c %s "$CORPUS")

now() { date +%s.%N; }
best() { sort -g | head -1; }

"$KF" scan "$CORPUS" --no-validate -j 1 --format json -o "$WORK/kf.json" >/dev/null 2>&1 || true
lt_total=(); lt_scan=(); kf_total=()
for _ in $(seq "$RUNS"); do
  t0=$(now)
  "$PROFILE" --scan-only "$CORPUS" > "$WORK/lantern.txt"
  t1=$(now)
  lt_total+=("$(echo "$t1 - $t0" | bc -l)")
  lt_scan+=("$(awk '/^scan:/ {print $5}' "$WORK/lantern.txt" | sed 's/s$//')")
  t0=$(now)
  "$KF" scan "$CORPUS" --no-validate -j 1 --format json -o "$WORK/kf.json" >/dev/null 2>&1 || true
  t1=$(now)
  kf_total+=("$(echo "$t1 - $t0" | bc -l)")
done
LT_TOTAL=$(printf '%s\n' "${lt_total[@]}" | best)
LT_SCAN=$(printf '%s\n' "${lt_scan[@]}" | best)
KF_TOTAL=$(printf '%s\n' "${kf_total[@]}" | best)
LT_FINDINGS=$(awk '/^scan:/ {print $(NF-1)}' "$WORK/lantern.txt")
LT_DISTINCT=$(awk -F': ' '/^distinct/ {print $2}' "$WORK/lantern.txt")
LT_RULES=$(awk '/^loaded/ {print $2}' "$WORK/lantern.txt")
KF_FINDINGS=$(python3 -c "import json,sys
d=json.load(open(sys.argv[1]))
f=d.get('findings', d) if isinstance(d, dict) else d
print(len(f))" "$WORK/kf.json" 2>/dev/null || echo "?")
mbs() { echo "scale=1; $BYTES / 1048576 / $1" | bc -l; }

cat > "$OUT" <<MD
# lantern-secrets engine vs Kingfisher

- machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ //'), load average at start $(cut -d' ' -f1-3 /proc/loadavg)
- date: $(date -u +%Y-%m-%dT%H:%MZ)
- command: \`bench/secrets.sh $MIB $RUNS\` (best of $RUNS runs, one thread each)
- corpus: generated source-like text (Python/Rust/JS/YAML/JSON lines, hex hashes, a planted secret every MiB), $BYTES bytes
- Lantern: $LT_RULES bundled rules, \`examples/profile\` (load rules + read + Scanner::scan)
- Kingfisher $KF_VERSION: \`kingfisher scan FILE --no-validate -j 1 --format json\`, rule cache warm

| tool | wall time (s) | MiB/s | findings |
|---|---|---|---|
| Lantern (whole process) | $LT_TOTAL | $(mbs "$LT_TOTAL") | $LT_FINDINGS occurrences, $LT_DISTINCT distinct (rule, secret) |
| Lantern (Scanner::scan only) | $LT_SCAN | $(mbs "$LT_SCAN") | |
| Kingfisher (whole process) | $KF_TOTAL | $(mbs "$KF_TOTAL") | $KF_FINDINGS (deduplicated by Kingfisher) |

Lantern's distinct findings on this corpus:

\`\`\`
$(sed -n '/^distinct/,$p' "$WORK/lantern.txt" | sed '1d')
\`\`\`

Kingfisher's findings: $(python3 -c "import json,sys
d=json.load(open(sys.argv[1]))
print(', '.join(sorted(f['rule']['id'] for f in d['findings'])))" "$WORK/kf.json" 2>/dev/null || echo "?")

Ratio Kingfisher / Lantern wall time (whole process): $(echo "scale=2; $KF_TOTAL / $LT_TOTAL" | bc -l)

Lantern's whole-process time includes parsing the $LT_RULES bundled rules; their regexes compile on
first keyword hit (here only the rules whose keywords occur in the corpus).

Criterion (\`cargo bench -p lantern-secrets --bench scan\`) measures Scanner::scan alone on the
same corpus in memory.
MD
cat "$OUT"
