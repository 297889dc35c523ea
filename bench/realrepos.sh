#!/usr/bin/env bash
# False-alarm check of the secret scanner on real AI projects (no real secrets expected): fetch
# the source distributions of well-known AI packages with pip (a wheel where the sdist cannot be
# prepared), unpack each into its own tree, scan each tree with `lantern scan` as a new user would
# (default threshold) and with Kingfisher (PyPI kingfisher-bin, when it installs), and count
# findings per rule. Every finding at the default threshold is a candidate false positive to
# classify (real / fixture / public sample / false positive) in bench/results/secrets-precision.md.
#
# usage: bench/realrepos.sh [--corpus DIR] [--no-kingfisher] [--lantern BIN]
#   DIR defaults to bench/work/realrepos (gitignored); the tarballs are kept there, so a rerun
#   fetches nothing. BIN defaults to target/release/lantern, else target/debug/lantern.
# Output: DIR/out/<pkg>.lantern.json, DIR/out/<pkg>.kingfisher.json, and a summary on stdout:
#   one line per package (exit code, findings at/above the threshold, below it), then per rule.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CORPUS=$ROOT/bench/work/realrepos
KINGFISHER=1
LANTERN=""
while [ $# -gt 0 ]; do
  case $1 in
    --corpus) CORPUS=$2; shift 2 ;;
    --no-kingfisher) KINGFISHER=0; shift ;;
    --lantern) LANTERN=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$LANTERN" ]; then
  for b in "$ROOT/target/release/lantern" "$ROOT/target/debug/lantern"; do
    [ -x "$b" ] && LANTERN=$b && break
  done
fi
[ -x "$LANTERN" ] || { echo "no lantern binary: cargo build -p lantern-cli first" >&2; exit 2; }

# Packages and pinned versions (the figures in bench/results/secrets-precision.md use these).
PKGS=(
  crewai==1.15.44 crewai-tools==1.15.30 haystack-ai==3.4.1 langgraph==1.2.24
  huggingface_hub==2.5.0 peft==0.22.0 trl==1.16.0 lm-eval==0.4.13 litgpt==0.5.13
  openai-whisper==20250625 joblib==1.6.0 langchain==1.5.2 langchain-community==0.4.2
  transformers==5.25.0 openai==3.63.0 anthropic==2.17.0 llama-index-core==0.14.25
  dspy==3.4.1 smolagents==1.26.0 litellm==1.110.2
)

DL=$CORPUS/dl
SRC=$CORPUS/src
OUT=$CORPUS/out
mkdir -p "$DL" "$SRC" "$OUT"

norm() { echo "$1" | tr 'A-Z-.' 'a-z__'; }

fetch() {
  local spec=$1 name ver key f
  name=${spec%%==*}; ver=${spec##*==}; key=$(norm "$name")
  f=$(ls "$DL" 2>/dev/null | while read -r x; do
        [ "$(norm "${x%%-[0-9]*}")" = "$key" ] && case $x in *"$ver"*) echo "$x";; esac
      done | head -1)
  if [ -z "$f" ]; then
    echo "fetching $spec" >&2
    pip download -q --disable-pip-version-check --no-deps --no-binary "$name" -d "$DL" "$spec" \
      >/dev/null 2>&1 \
      || pip download -q --disable-pip-version-check --no-deps --only-binary :all: -d "$DL" "$spec" \
      >/dev/null 2>&1 || { echo "cannot fetch $spec" >&2; return 1; }
    f=$(ls -t "$DL" | head -1)
  fi
  local dest=$SRC/$key
  if [ ! -d "$dest" ]; then
    mkdir -p "$dest"
    case $f in
      *.whl | *.zip) python3 -m zipfile -e "$DL/$f" "$dest" ;;
      *.tar.gz) tar -xzf "$DL/$f" -C "$dest" --strip-components=1 ;;
    esac
  fi
  echo "$key"
}

if [ "$KINGFISHER" = 1 ] && [ ! -x "$ROOT/bench/.venv/bin/kingfisher" ]; then
  python3 -m venv "$ROOT/bench/.venv" \
    && "$ROOT/bench/.venv/bin/pip" install -q --disable-pip-version-check kingfisher-bin \
    || KINGFISHER=0
fi

KEYS=()
for spec in "${PKGS[@]}"; do
  k=$(fetch "$spec") && KEYS+=("$k")
done

echo "lantern: $LANTERN ($("$LANTERN" --version 2>/dev/null || echo '?'))"
[ "$KINGFISHER" = 1 ] && echo "kingfisher: $("$ROOT/bench/.venv/bin/kingfisher" --version)"
for k in "${KEYS[@]}"; do
  rc=0
  "$LANTERN" scan --no-progress --only secrets --format json -o "$OUT/$k.lantern.json" "$SRC/$k" \
    || rc=$?
  echo "$rc" > "$OUT/$k.lantern.rc"
  if [ "$KINGFISHER" = 1 ]; then
    "$ROOT/bench/.venv/bin/kingfisher" scan "$SRC/$k" --no-validate --format json \
      --git-history none --no-update-check -o "$OUT/$k.kingfisher.json" >/dev/null 2>&1 || true
  fi
done

python3 - "$OUT" "${KEYS[@]}" <<'PY'
import collections, json, os, sys

out, keys = sys.argv[1], sys.argv[2:]
SEV = ["info", "low", "medium", "high", "critical"]
fail_rules, info_rules, kf_rules = (collections.Counter() for _ in range(3))
print(f"\n{'package':24} exit  fail-level  below  kingfisher")
tot = [0, 0, 0, 0]
for k in keys:
    d = json.load(open(f"{out}/{k}.lantern.json"))
    rc = open(f"{out}/{k}.lantern.rc").read().strip()
    hi = lo = 0
    for f in d["findings"]:
        n = len(f["locations"])
        # Default threshold: low and above fails the run (`--fail-on low`).
        if SEV.index(f["severity"]) >= 1:
            hi += n
            fail_rules[f["rule_id"]] += n
        else:
            lo += n
            info_rules[f["rule_id"]] += n
    kf = 0
    p = f"{out}/{k}.kingfisher.json"
    if os.path.exists(p):
        text, dec, i = open(p).read(), json.JSONDecoder(), 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            o, i = dec.raw_decode(text, i)
            if isinstance(o, dict) and "findings" in o:
                for f in o["findings"]:
                    kf += 1
                    rule = f.get("rule", {})
                    kf_rules[rule.get("id") or rule.get("name") or "?"] += 1
    tot = [tot[0] + (rc != "0"), tot[1] + hi, tot[2] + lo, tot[3] + kf]
    print(f"{k:24} {rc:4}  {hi:10}  {lo:5}  {kf:10}")
print(f"{'total':24} {tot[0]:4}  {tot[1]:10}  {tot[2]:5}  {tot[3]:10}  (exit column: repos exiting non-zero)")
for title, c in [("lantern, at/above the default threshold", fail_rules),
                 ("lantern, below it (info)", info_rules), ("kingfisher", kf_rules)]:
    print(f"\n{title}:")
    for r, n in c.most_common():
        print(f"  {n:6}  {r}")
PY
