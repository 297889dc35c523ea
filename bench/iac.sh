#!/usr/bin/env bash
# Whole-program benchmark of `lantern scan --only iac` against Checkov (PyPI) on an
# AI-infrastructure corpus this script writes (our own cases: misconfigurations under bad/,
# near-miss correct configurations under good/, one directory per case), plus the time to scan a
# generated 10,000-file Terraform/Kubernetes monorepo.
#
# A case counts as caught when a tool reports at least one finding at low or above on it (Lantern's
# `info` website notice does not count); a finding on a good/ case is a false alarm.
# Trivy is not run: no registry package reachable here ships its binary (PyPI trivy-py downloads
# it at build time). Figures go to bench/results/iac.md.
#
# usage: bench/iac.sh [--no-checkov] [--files N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/work/iac
CORPUS=$WORK/corpus
MONO=$WORK/monorepo
VENV=$ROOT/bench/.venv
OUT=$ROOT/bench/results/iac.md
CHECKOV=1
FILES=10000
while [ $# -gt 0 ]; do
  case $1 in
    --no-checkov) CHECKOV=0; shift ;;
    --files) FILES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [ "$CHECKOV" = 1 ] && [ ! -x "$VENV/bin/checkov" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check checkov
fi
cargo build -q --release -p lantern-cli
LANTERN=$ROOT/target/release/lantern

rm -rf "$CORPUS" && mkdir -p "$CORPUS"
# case bad|good NAME FILE: the case's file from standard input.
case_file() {
  mkdir -p "$CORPUS/$1/$2/$(dirname "$3")"
  cat > "$CORPUS/$1/$2/$3"
}
. "$ROOT/bench/iac-cases.sh"

# Lantern: one run over the corpus, findings grouped by case directory.
start=$(date +%s.%N)
"$LANTERN" scan --only iac --format json --no-progress --no-ignore "$CORPUS" > "$WORK/lantern.json" || true
lantern_s=$(echo "$(date +%s.%N) - $start" | bc)

if [ "$CHECKOV" = 1 ]; then
  start=$(date +%s.%N)
  "$VENV/bin/checkov" -d "$CORPUS" -o json --quiet --compact --skip-download \
    --framework terraform cloudformation kubernetes dockerfile \
    > "$WORK/checkov.json" 2> "$WORK/checkov.err" || true
  checkov_s=$(echo "$(date +%s.%N) - $start" | bc)
  CHECKOV_VERSION=$("$VENV/bin/checkov" --version)
else
  echo '[]' > "$WORK/checkov.json"; checkov_s=0; CHECKOV_VERSION="not run"
fi

# Monorepo: FILES files, half Terraform modules, half Kubernetes manifests, 1 in 50 bad.
if [ ! -f "$MONO/.count-$FILES" ]; then
  rm -rf "$MONO" && mkdir -p "$MONO"
  python3 - "$MONO" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"svc{i // 20:04d}")
    os.makedirs(d, exist_ok=True)
    bad = i % 50 == 0
    if i % 2 == 0:
        acl = "public-read" if bad else "private"
        body = f'''variable "env" {{
  default = "prod"
}}
locals {{
  name = "team-{i}-${{var.env}}"
}}
resource "aws_s3_bucket" "b{i}" {{
  bucket = local.name
  tags   = {{ team = "t{i % 97}" }}
}}
resource "aws_s3_bucket_acl" "a{i}" {{
  bucket = aws_s3_bucket.b{i}.id
  acl    = "{acl}"
}}
resource "aws_security_group" "sg{i}" {{
  name = "web-{i}"
  ingress {{
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }}
}}
'''
        open(os.path.join(d, f"m{i}.tf"), "w").write(body)
    else:
        ty = "LoadBalancer" if bad else "ClusterIP"
        body = f'''apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
spec:
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:{i}
          ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
spec:
  type: {ty}
  selector: {{app: app-{i}}}
  ports: [{{port: 8265}}]
'''
        open(os.path.join(d, f"k{i}.yaml"), "w").write(body)
PY
  touch "$MONO/.count-$FILES"
fi
# Warm the page cache, then time three runs and keep the best.
"$LANTERN" scan --only iac --format json --no-progress "$MONO" > /dev/null || true
best=999
for _ in 1 2 3; do
  start=$(date +%s.%N)
  "$LANTERN" scan --only iac --format json --no-progress "$MONO" > "$WORK/mono.json" || true
  t=$(echo "$(date +%s.%N) - $start" | bc)
  best=$(echo "if ($t < $best) $t else $best" | bc)
done
mono_findings=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['findings']))" "$WORK/mono.json")

# Real benign input made by real tools: the Ray wheel (cluster launcher configs, KubeRay
# manifests), the MLflow and Gradio sdists, and the Checkov venv itself. Every finding here is a
# false alarm unless the file really configures an exposure.
BENIGN=$WORK/benign
if [ ! -f "$BENIGN/.done" ]; then
  mkdir -p "$BENIGN"
  "$VENV/bin/pip" download -q --no-deps --only-binary :all: --python-version 3.11 \
    --platform manylinux2014_x86_64 ray==2.9.0 -d "$BENIGN"
  "$VENV/bin/pip" download -q --no-deps --no-binary :all: mlflow==2.16.0 gradio==4.44.0 -d "$BENIGN"
  touch "$BENIGN/.done"
fi
"$LANTERN" scan --only iac --format json --no-progress --no-ignore "$BENIGN" "$VENV/lib" > "$WORK/benign.json" || true
benign=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(len(r['findings']), r['stats']['blobs'], len(r['warnings']))" "$WORK/benign.json")
export BENIGN_STATS="$benign"

python3 "$ROOT/bench/iac-score.py" "$CORPUS" "$WORK/lantern.json" "$WORK/checkov.json" \
  "$lantern_s" "$checkov_s" "$CHECKOV_VERSION" "$FILES" "$best" "$mono_findings" \
  "$(nproc)" "$(uname -m)" > "$OUT"
cat "$OUT"
