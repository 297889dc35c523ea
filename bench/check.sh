#!/usr/bin/env bash
# `lantern check` against pip-audit on examples/check-project, and the false-alarm count of the
# code rules on real AI projects. Usage: bench/check.sh [LANTERN_BIN] [CORPUS_DIR]
#   LANTERN_BIN  default target/debug/lantern (build with `cargo build -p lantern-cli`)
#   CORPUS_DIR   directories of unpacked sdists (default /work/wt/corpus21/src); skipped if absent
# pip-audit is installed into bench/.venv. It cannot read a local OSV database: it queries
# PyPI's JSON API (-s pypi) or api.osv.dev (-s osv), so offline it audits nothing.
set -u
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/lantern}
CORPUS=${2:-/work/wt/corpus21/src}
OSV=crates/lantern-check/tests/fixtures/osv
EX=examples/check-project
OUT=$(mktemp -d)

echo "== lantern check $EX (fixture OSV data)"
"$BIN" check "$EX" --osv-db "$OSV" --osv-cache "$OUT/cache" --format json > "$OUT/check.json"
echo "exit $?"
python3 - "$OUT/check.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for f in v["findings"]:
    where = f"{f.get('file','')}:{f.get('line','')}"
    print(f"  {f['severity']:<8} {f['check']:<26} {f['component']:<22} {where}")
print(f"  ignored by policy: {[i['finding'].get('advisory') for i in v['ignored']]}")
PY

echo "== pip-audit on the pinned lines of $EX/requirements.txt"
if [ ! -x bench/.venv/bin/pip-audit ]; then
  python3 -m venv bench/.venv && bench/.venv/bin/pip install -q pip-audit
fi
bench/.venv/bin/pip-audit --version
grep '==' "$EX/requirements.txt" > "$OUT/pinned.txt"
bench/.venv/bin/pip-audit -r "$OUT/pinned.txt" --no-deps --disable-pip -s pypi --format json \
  > "$OUT/pa.json" 2> "$OUT/pa.err"
echo "exit $?"
python3 - "$OUT/pa.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for dep in d["dependencies"]:
    print(f"  {dep['name']:<14} {[v['id'] for v in dep.get('vulns', [])]} {dep.get('skip_reason', '')}")
PY
echo "  (the unpinned numpy>=1.24 line makes pip-audit --no-deps refuse the whole file)"
bench/.venv/bin/pip-audit -r "$EX/requirements.txt" --no-deps --disable-pip -s pypi 2>&1 | grep -m1 ERROR

if [ -d "$CORPUS" ]; then
  echo "== code rules on $CORPUS (runtime scope)"
  for p in "$CORPUS"/*/; do
    "$BIN" check "$p" --format json > "$OUT/$(basename "$p").json" 2>/dev/null
  done
  python3 - "$OUT" <<'PY'
import json, glob, sys, collections
c, files = collections.Counter(), 0
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    if f.endswith(("check.json", "pa.json")):
        continue
    v = json.load(open(f))
    files += v["stats"]["python_files"]
    for x in v["findings"]:
        if x["check"].startswith(("code.", "provenance.typosquat")):
            c[x["check"]] += 1
            print(f"  {f.split('/')[-1][:-5]:<18} {x['check']:<24} {x.get('file')}:{x.get('line')}")
print(f"  {sum(c.values())} findings in {files} Python files: {dict(c)}")
PY
fi
rm -rf "$OUT"
