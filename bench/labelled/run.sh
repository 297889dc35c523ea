#!/usr/bin/env bash
# Recall/precision of Lantern's secret rules vs Kingfisher and detect-secrets on the labelled set,
# plus a coverage check on random strings matching every Kingfisher rule. Installs the peers into
# bench/work/venv-rules, builds the rule-set scanner (bench/labelled/lscan, the bundled
# rules/*.toml through lantern-secrets), and writes bench/results/rules.md.
#
# usage: bench/labelled/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$ROOT/bench/work
VENV=$WORK/venv-rules
OUT=$ROOT/bench/results/rules.md
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-rules}
mkdir -p "$WORK" "$ROOT/bench/results"

if [ ! -x "$VENV/bin/kingfisher" ] || [ ! -x "$VENV/bin/detect-secrets" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check kingfisher-bin detect-secrets
fi
KF="$VENV/bin/kingfisher"
DS="$VENV/bin/detect-secrets"
KF_VERSION=$("$KF" --version | awk '{print $2}')
DS_VERSION=$("$DS" --version)

(cd bench/labelled/lscan && cargo build --release -q)
LSCAN=$CARGO_TARGET_DIR/release/lantern-labelled-scan

# 1. Labelled set.
LAB=$WORK/labelled
python3 bench/labelled/make.py "$LAB"
(cd "$LAB/corpus" && find . -type f | sed 's|^\./||' | sort > "$LAB/files.txt")
(cd "$LAB/corpus" && "$LSCAN" < "$LAB/files.txt" > "$LAB/lantern.jsonl" 2> "$LAB/lantern.err")
"$KF" scan "$LAB/corpus" --no-update-check --no-validate --format json --git-history none > "$LAB/kingfisher.json" 2> /dev/null || true
(cd "$LAB/corpus" && "$DS" scan --all-files . > "$LAB/detect-secrets.json")
SCORE=$(python3 bench/labelled/score.py "$LAB" lantern=jsonl:"$LAB/lantern.jsonl" \
  "kingfisher $KF_VERSION"=kingfisher:"$LAB/kingfisher.json" "detect-secrets $DS_VERSION"=detect-secrets:"$LAB/detect-secrets.json")

# 2. Kingfisher's rules: random matching strings for every pattern.
VAR=$WORK/kingfisher-variants
"$KF" rules list --no-update-check --format json > "$WORK/kingfisher-rules.json" 2> /dev/null
python3 bench/labelled/kingfisher_variants.py gen "$WORK/kingfisher-rules.json" "$VAR/files" 2> "$VAR.skipped" | tail -1
find "$VAR/files" -type f | sort > "$VAR/files.txt"
"$LSCAN" < "$VAR/files.txt" > "$VAR/lantern.jsonl" 2> /dev/null
"$KF" scan "$VAR/files" --no-update-check --no-validate --format json --git-history none > "$VAR/kingfisher.json" 2> /dev/null || true
COVER=$(python3 bench/labelled/kingfisher_variants.py compare "$VAR/kingfisher.json" "$VAR/lantern.jsonl")

# 3. Real code without planted secrets: every finding is a false positive or a test fixture.
REAL=${REAL_CORPUS:-$HOME/.cargo/registry/src}
RW=$WORK/real-code
mkdir -p "$RW"
find "$REAL" -type f -size -2M | sort > "$RW/files.txt"
REAL_MB=$(xargs -d '\n' cat < "$RW/files.txt" | wc -c | awk '{printf "%.0f", $1/1e6}')
START=$(date +%s.%N)
"$LSCAN" < "$RW/files.txt" > "$RW/lantern.jsonl" 2> /dev/null
LS_SECS=$(python3 -c "import time; print(round(time.time() - $START, 1))")
"$KF" scan "$REAL" --no-update-check --no-validate --format json --git-history none > "$RW/kingfisher.json" 2> /dev/null || true
REALSUM=$(python3 - "$RW" crates/lantern-secrets/rules/core.toml <<'PY'
import collections, json, sys, tomllib
rw, core = sys.argv[1], sys.argv[2]
core_ids = {r["id"] for r in tomllib.load(open(core, "rb"))["rules"]}
rows = [json.loads(l) for l in open(f"{rw}/lantern.jsonl")]
prov = collections.Counter(r["rule"] for r in rows if r["rule"] not in core_ids)
eng = collections.Counter(r["rule"] for r in rows if r["rule"] in core_ids)
d, _ = json.JSONDecoder().raw_decode(open(f"{rw}/kingfisher.json").read() or "{}")
kf = collections.Counter(f["rule"]["id"] for f in d.get("findings", []))
fmt = lambda c: ", ".join(f"{k} {v}" for k, v in c.most_common(8)) or "none"
print(f"| lantern provider rules (rules/*.toml except core) | {sum(prov.values())} | {fmt(prov)} |")
print(f"| lantern core.toml rules | {sum(eng.values())} | {fmt(eng)} |")
print(f"| kingfisher | {sum(kf.values())} | {fmt(kf)} |")
PY
)

NRULES=$(cat crates/lantern-secrets/rules/*.toml | grep -c '^\[\[rules\]\]')
NCORE=$(grep -c '^\[\[rules\]\]' crates/lantern-secrets/rules/core.toml)
NFILES=$(ls crates/lantern-secrets/rules/*.toml | wc -l)
{
  echo "# Secret rules: coverage and accuracy"
  echo
  echo "Machine: $(uname -srm), $(nproc) cores. Date: $(date -u +%Y-%m-%dT%H:%MZ). Commit: $(git rev-parse --short HEAD)."
  echo "Command: \`bench/labelled/run.sh\`. Peers: Kingfisher $KF_VERSION ($("$KF" rules list --no-update-check --format json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') built-in rules), detect-secrets $DS_VERSION (default plugins)."
  echo
  echo "Lantern rule set: $NRULES rules in $NFILES files (\`rules/*.toml\`: $NCORE engine rules in core.toml, $((NRULES - NCORE)) provider rules), every rule's examples checked by \`cargo test -p lantern-secrets\`."
  echo
  echo "## Labelled set (\`bench/labelled/make.py\`, scored by \`bench/labelled/score.py\`)"
  echo
  echo "$SCORE"
  echo
  echo "Lantern here is the rule set through \`lantern-secrets\` (\`bench/labelled/lscan\`), without the walker."
  echo "The labelled set was written by the author of the rules: it shows the rules work on realistic"
  echo "files, not an independent estimate of real-world recall."
  echo
  echo "## Kingfisher's own rules (\`bench/labelled/kingfisher_variants.py\`)"
  echo
  echo "Up to four random strings matching each Kingfisher pattern, one file each, scanned by both tools:"
  echo
  echo "$COVER"
  echo
  echo "Not matched by design: Facebook app tokens and Z.ai keys without a provider word nearby (their"
  echo "patterns have no literal a keyword prefilter could use), legacy Vault \`s.\` tokens without \"vault\""
  echo "nearby, credential URLs whose password is shorter than 6 chars or of entropy < 3 (test URLs). The"
  echo "GitHub, JWT, private-key and GCP service-account strings come from core.toml, which checks"
  echo "structure (random strings matching Kingfisher's looser patterns are not real tokens)."
  echo
  echo "## Real code without planted secrets"
  echo
  echo "\`$REAL\` ($(wc -l < "$RW/files.txt") files, $REAL_MB MB); every finding here is a test fixture or a false positive."
  echo "Lantern scanned it in $LS_SECS s (lscan, all $NRULES rules, one thread)."
  echo
  echo "| tool | findings | by rule |"
  echo "|---|---|---|"
  echo "$REALSUM"
} > "$OUT"
cat "$OUT"
