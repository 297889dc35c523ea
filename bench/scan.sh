#!/usr/bin/env bash
# Whole-program benchmark of `lantern scan` against Kingfisher (PyPI kingfisher-bin) and
# detect-secrets (PyPI) on the same corpus, same thread count, in one run.
#
# The script builds its own corpus (>= 1 GB of real source): the crate sources in the cargo
# registry plus Python sdists downloaded from PyPI and npm package tarballs, extracted.
# Figures go to bench/results/scan.md.
#
# usage: bench/scan.sh [--corpus-mb N] [--threads N] [--ds-timeout SECONDS] [--corpus-only]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/work
CORPUS=$WORK/corpus-scan
VENV=$WORK/venv-scan
OUT=$ROOT/bench/results/scan.md
TARGET_MB=1100
THREADS=2
DS_TIMEOUT=3600
CORPUS_ONLY=0
while [ $# -gt 0 ]; do
  case $1 in
    --corpus-mb) TARGET_MB=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --ds-timeout) DS_TIMEOUT=$2; shift 2 ;;
    --corpus-only) CORPUS_ONLY=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$WORK"

# Peers.
if [ ! -x "$VENV/bin/kingfisher" ] || [ ! -x "$VENV/bin/detect-secrets" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check kingfisher-bin detect-secrets
fi
KF_VERSION=$("$VENV/bin/kingfisher" --version | awk '{print $2}')
DS_VERSION=$("$VENV/bin/detect-secrets" --version)

# Corpus.
corpus_mb() { du -sm "$CORPUS" 2>/dev/null | awk '{print $1}'; }
mkdir -p "$CORPUS"
if [ "$(corpus_mb)" -lt "$TARGET_MB" ]; then
  echo "building corpus in $CORPUS (target ${TARGET_MB} MB)" >&2
  if [ -d "$HOME/.cargo/registry/src" ] && [ ! -d "$CORPUS/cargo" ]; then
    cp -r "$HOME/.cargo/registry/src" "$CORPUS/cargo"
  fi
  mkdir -p "$WORK/sdists" "$CORPUS/pypi"
  for pkg in django numpy scipy pandas sympy matplotlib scikit-learn transformers botocore \
             boto3 sqlalchemy celery ansible-core setuptools pip cryptography pillow \
             requests flask fastapi pydantic langchain openai anthropic google-cloud-storage \
             azure-storage-blob kubernetes mypy black pylint astropy networkx statsmodels \
             jupyterlab notebook ipython tornado twisted salt google-api-python-client \
             plotly azure-mgmt-network azure-mgmt-compute moto awscli apache-airflow \
             sentry-sdk dask xarray bokeh; do
    [ "$(corpus_mb)" -ge "$TARGET_MB" ] && break
    [ -d "$CORPUS/pypi/$pkg" ] && continue
    # Fetch the sdist straight from PyPI's JSON API (`pip download --no-binary` would build metadata).
    url=$(curl -fsS "https://pypi.org/pypi/$pkg/json" | python3 -c 'import json,sys; d=json.load(sys.stdin); import urllib.parse as up; print(next((up.urljoin(sys.argv[1], u["url"]) for u in d["urls"] if u["packagetype"]=="sdist"), ""))' "https://pypi.org/pypi/$pkg/json" 2>/dev/null || true)
    [ -n "$url" ] || continue
    mkdir -p "$WORK/sdists/$pkg"
    if curl -fsSL -o "$WORK/sdists/$pkg/$(basename "$url")" "$url"; then
      mkdir -p "$CORPUS/pypi/$pkg"
      for f in "$WORK/sdists/$pkg"/*; do
        case $f in
          *.tar.gz|*.tgz) tar -xzf "$f" -C "$CORPUS/pypi/$pkg" ;;
          *.zip) python3 -m zipfile -e "$f" "$CORPUS/pypi/$pkg" ;;
        esac
      done
    fi
  done
  mkdir -p "$CORPUS/npm"
  for pkg in typescript @babel/core webpack eslint react-dom next aws-sdk @angular/core three lodash; do
    [ "$(corpus_mb)" -ge "$TARGET_MB" ] && break
    d="$CORPUS/npm/${pkg//\//_}"
    [ -d "$d" ] && continue
    mkdir -p "$d"
    (cd "$d" && npm pack -q "$pkg" >/dev/null 2>&1 && for t in *.tgz; do tar -xzf "$t" && rm "$t"; done) || true
  done
fi
# Nested git metadata would make peers treat sub-trees as repositories; keep plain files only.
find "$CORPUS" -name .git -prune -exec rm -rf {} + 2>/dev/null || true
BYTES=$(du -sb "$CORPUS" | awk '{print $1}')
FILES=$(find "$CORPUS" -type f | wc -l)
MB=$(python3 -c "print(round($BYTES/1e6,1))")
echo "corpus: $MB MB in $FILES files" >&2
[ "$CORPUS_ONLY" = 1 ] && exit 0

# Lantern.
cargo build --release -q -p lantern-cli
LANTERN=${CARGO_TARGET_DIR:-$ROOT/target}/release/lantern


# Warm the page cache so every tool reads from memory.
find "$CORPUS" -type f -print0 | xargs -0 cat > /dev/null

run() { # name, output file, command...
  local name=$1 out=$2; shift 2
  local tf; tf=$(mktemp)
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$tf" "$@" > "$out" 2> "$WORK/$name.stderr" || true
  end=$(date +%s.%N)
  local secs rss
  secs=$(python3 -c "print(round($end-$start,2))")
  rss=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print int($2/1024)}' "$tf")
  echo "$name $secs $rss"
  rm -f "$tf"
}

echo "running lantern" >&2
L=$(run lantern "$WORK/lantern.json" "$LANTERN" scan --no-ignore --no-progress -j "$THREADS" --format json --fail-on critical "$CORPUS")
echo "running kingfisher" >&2
K=$(run kingfisher "$WORK/kingfisher.json" "$VENV/bin/kingfisher" scan "$CORPUS" -j "$THREADS" --no-validate --format json --git-history none --no-update-check)
echo "running detect-secrets (timeout ${DS_TIMEOUT}s)" >&2
D=$(run detect-secrets "$WORK/detect-secrets.json" timeout "$DS_TIMEOUT" "$VENV/bin/detect-secrets" scan --all-files "$CORPUS")

count() {
  python3 - "$1" "$2" <<'PY'
import json, sys
tool, path = sys.argv[1], sys.argv[2]
try:
    text = open(path).read()
    if tool == "lantern":
        d = json.loads(text); print(sum(len(f["locations"]) for f in d["findings"]), len(d["findings"]))
    elif tool == "kingfisher":
        # Kingfisher's json format is a report object followed by a summary object.
        dec, i, n = json.JSONDecoder(), 0, 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            o, i = dec.raw_decode(text, i)
            if isinstance(o, dict) and "audit" in o:
                n += len(o.get("findings", []))
        print(n, "-")
    else:
        d = json.loads(text); r = d.get("results", {}); print(sum(len(v) for v in r.values()), "-")
except Exception as e:
    print("n/a", "-")
PY
}
read -r _ LS LR <<<"$L"; read -r _ KS KR <<<"$K"; read -r _ DS DR <<<"$D"
read -r LN LU <<<"$(count lantern "$WORK/lantern.json")"
read -r KN _ <<<"$(count kingfisher "$WORK/kingfisher.json")"
read -r DN _ <<<"$(count detect-secrets "$WORK/detect-secrets.json")"
mbps() { python3 -c "print(round($BYTES/1e6/$1,1))"; }
ratio() { python3 -c "print(round($1/$2,2))"; }

{
  echo "## lantern scan vs Kingfisher vs detect-secrets"
  echo
  echo "- date: $(date -u +%F), machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1048576)}' /proc/meminfo) GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "- corpus: $MB MB, $FILES files (cargo registry sources, PyPI sdists, npm packages), page cache warm"
  echo "- threads: $THREADS for every tool; Kingfisher $KF_VERSION (--no-validate), detect-secrets $DS_VERSION (--all-files, single-threaded by design)"
  echo "- command: \`bench/scan.sh --corpus-mb $TARGET_MB --threads $THREADS\`"
  echo
  echo "| tool | wall s | MB/s | peak RSS MB | findings (occurrences) | time vs lantern |"
  echo "|---|---|---|---|---|---|"
  echo "| lantern | $LS | $(mbps "$LS") | $LR | $LN ($LU unique) | 1.00 |"
  echo "| kingfisher | $KS | $(mbps "$KS") | $KR | $KN | $(ratio "$KS" "$LS") |"
  if python3 -c "import sys; sys.exit(0 if $DS >= $DS_TIMEOUT - 1 else 1)"; then
    echo "| detect-secrets | > $DS_TIMEOUT (killed at the timeout) | < $(mbps "$DS") | $DR | n/a | > $(ratio "$DS" "$LS") |"
  else
    echo "| detect-secrets | $DS | $(mbps "$DS") | $DR | $DN | $(ratio "$DS" "$LS") |"
  fi
  echo
} > "$OUT"
cat "$OUT"
