#!/usr/bin/env bash
# Whole-program benchmark of `lantern bom` against peers on one AI project fixture built here:
#   - cyclonedx-py (cyclonedx-bom on PyPI, the CycloneDX Python generator) for the Python libraries,
#   - ai-bom (PyPI), an AI-BOM generator that scans code for AI components.
# Installs the peers in bench/work/venv-bom, builds the fixture in bench/work/bom-corpus, runs
# every tool RUNS times, and writes the component counts side by side and the timings to
# bench/results/bom.md. Then:
#   - real projects: sdists of AI libraries (fetched with `pip download --no-deps --no-binary
#     :all:` into bench/work/sdists, or taken from $SDIST_DIR), each scored against its
#     hand-checked expected component list in bench/bom-expected/ by bench/bom-score.py for
#     wrong type, wrong scope, placeholders, misses and extras;
#   - lockfile scaling: crates/lantern-bom/examples/lock_scaling (4k to 120k packages).
# STAGES="peers real scaling" (default all) picks the stages.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/work
VENV=$WORK/venv-bom
CORPUS=$WORK/bom-corpus/ai-project
OUT=$WORK/bom-out
RUNS=${RUNS:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-bom}
mkdir -p "$WORK" "$OUT" "$ROOT/bench/results"
stage() { [[ " ${STAGES:-peers real scaling} " == *" $1 "* ]]; }

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stage peers && "$VENV/bin/pip" install --disable-pip-version-check -q "cyclonedx-bom==7.5.0" "ai-bom==3.6.0"

if [ -n "${LANTERN_BIN:-}" ]; then
  LANTERN=$LANTERN_BIN # another build (e.g. debug); the results say which binary ran
  BUILD="binary $LANTERN_BIN"
else
  cargo build --release -p lantern-cli
  LANTERN=$CARGO_TARGET_DIR/release/lantern
  BUILD="release build"
fi

# ---------------------------------------------------------------- fixture
if stage peers; then
rm -rf "$WORK/bom-corpus"
mkdir -p "$CORPUS"
"$VENV/bin/python" - "$CORPUS" <<'PY'
import json, os, struct, sys, hashlib, base64
root = sys.argv[1]
def w(rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)

reqs = ["torch==2.4.0", "transformers==4.44.2", "datasets==2.21.0", "peft==0.12.0",
        "accelerate==0.33.0", "safetensors==0.4.4", "tokenizers==0.19.1", "huggingface-hub==0.24.6",
        "sentence-transformers==3.0.1", "openai==1.42.0", "langchain==0.2.14", "langchain-community==0.2.12",
        "vllm==0.5.5", "numpy==1.26.4", "pandas==2.2.2", "scikit-learn==1.5.1", "evaluate==0.4.2",
        "wandb==0.17.7", "bitsandbytes==0.43.3", "trl==0.9.6"]
w("requirements.txt", "-r requirements-base.txt\n" + "\n".join(reqs[4:]) + "\n")
w("requirements-base.txt", "\n".join(reqs[:4]) + "\n")
w("pyproject.toml", '[project]\nname = "ai-project"\nversion = "0.1.0"\ndependencies = ["torch==2.4.0", "transformers==4.44.2"]\n')
w("train.py", """from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
from datasets import load_dataset
from sentence_transformers import SentenceTransformer
from huggingface_hub import hf_hub_download
import openai

base = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-Instruct")
tok = AutoTokenizer.from_pretrained("meta-llama/Llama-3.1-8B-Instruct")
ds = load_dataset("tatsu-lab/alpaca", split="train")
emb = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
clf = pipeline("text-classification", model="distilbert/distilbert-base-uncased-finetuned-sst-2-english")
lora = hf_hub_download(repo_id="org/lora-weights", filename="adapter.safetensors")
client = openai.OpenAI()
resp = client.chat.completions.create(model="gpt-4o-mini", messages=[])
""")
w("rag.py", """from langchain_community.llms import Ollama
llm = Ollama(model="llama3.1:8b")
""")
w("serve/vllm.yaml", "model: mistralai/Mistral-7B-Instruct-v0.3\ntensor-parallel-size: 1\n")
w("serve/Modelfile", "FROM llama3.2:3b\nPARAMETER temperature 0.1\n")
w("web/package.json", json.dumps({"name": "web", "dependencies": {"@xenova/transformers": "^2.17.0", "openai": "^4.52.0"}}))
pkgs = {"": {"name": "web", "dependencies": {"@xenova/transformers": "^2.17.0", "openai": "^4.52.0"}}}
for name, ver in [("@xenova/transformers", "2.17.2"), ("openai", "4.52.0"), ("onnxruntime-web", "1.14.0"),
                  ("onnxruntime-common", "1.14.0"), ("node-fetch", "2.7.0"), ("whatwg-url", "5.0.0"),
                  ("tr46", "0.0.3"), ("webidl-conversions", "3.0.1"), ("sharp", "0.32.6"), ("long", "4.0.0")]:
    integ = "sha512-" + base64.b64encode(hashlib.sha512(f"{name}@{ver}".encode()).digest()).decode()
    pkgs["node_modules/" + name] = {"version": ver, "integrity": integ}
w("web/package-lock.json", json.dumps({"name": "web", "lockfileVersion": 3, "packages": pkgs}, indent=2))
w("web/app.js", "import { pipeline } from '@xenova/transformers';\nconst c = await pipeline('sentiment-analysis', 'Xenova/distilbert-base-uncased-finetuned-sst-2-english');\n")

# A fine-tuned model directory: card, config, tokenizer, a 4 MiB safetensors file.
w("models/tiny-sft/README.md", "---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-3.1-8B-Instruct\ndatasets:\n- tatsu-lab/alpaca\npipeline_tag: text-generation\nlanguage: [en]\n---\n# tiny-sft\n")
w("models/tiny-sft/config.json", json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
w("models/tiny-sft/tokenizer.json", json.dumps({"version": "1.0"}))
header, off, tensors = {}, 0, []
for i in range(16):
    n = 256 * 256 * 2
    header[f"model.layers.{i}.mlp.weight"] = {"dtype": "F16", "shape": [256, 256], "data_offsets": [off, off + n]}
    off += n
h = json.dumps(header).encode()
w("models/tiny-sft/model.safetensors", struct.pack("<Q", len(h)) + h + bytes(off))
w("models/classifier.onnx", b"\x08\x07\x12\x07pytorch" + bytes(1024))
w("models/llm.gguf", b"GGUF\x03\x00\x00\x00" + bytes(2048))
w("checkpoints/step100.pkl", b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
# Datasets.
w("data/train.csv", "text,label\n" + "".join(f"example {i},{i % 2}\n" for i in range(5000)))
w("data/eval.jsonl", "".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(2000)))
w("data/features.parquet", b"PAR1" + bytes(4096) + b"PAR1")
for cls in ("cat", "dog"):
    for i in range(20):
        w(f"data/images/{cls}/{i}.png", b"\x89PNG\r\n\x1a\n" + bytes([i]) * 64)
PY

# ---------------------------------------------------------------- runs
median_ms() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_cmd() { # name cmd... -> prints median wall ms over RUNS
  local name=$1; shift
  local t=()
  for _ in $(seq "$RUNS"); do
    local s e
    s=$(date +%s%N)
    "$@" > "$OUT/$name.log" 2>&1 || { echo "$name failed:"; cat "$OUT/$name.log"; exit 1; }
    e=$(date +%s%N)
    t+=($(( (e - s) / 1000000 )))
  done
  printf '%s\n' "${t[@]}" | median_ms
}

T_LANTERN=$(time_cmd lantern "$LANTERN" bom "$CORPUS" --deterministic -q -o "$OUT/lantern.cdx.json")
T_CDXPY=$(time_cmd cyclonedx-py "$VENV/bin/cyclonedx-py" requirements --sv 1.6 --of JSON -o "$OUT/cyclonedx-py.cdx.json" "$CORPUS/requirements.txt")
T_AIBOM=$(time_cmd ai-bom "$VENV/bin/ai-bom" scan "$CORPUS" -f cyclonedx -o "$OUT/ai-bom.cdx.json" -q --no-telemetry --no-color)

# ---------------------------------------------------------------- compare
"$VENV/bin/python" - "$OUT" "$T_LANTERN" "$T_CDXPY" "$T_AIBOM" "$RUNS" "$LANTERN" "$BUILD" > "$OUT/peers.md" <<'PY'
import json, sys, os, platform, subprocess, datetime, re
out, t_l, t_c, t_a, runs, lantern, build = sys.argv[1:8]
def load(name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)
def flat(comps):
    for c in comps or []:
        yield c
        yield from flat(c.get("components"))
def norm(s):
    return re.sub(r"[-_.]+", "-", s.lower())
def key(c):
    p = c.get("purl")
    if p:
        p = p.split("?")[0]
        base = p.rsplit("@", 1)[0] if "@" in p[5:] else p
        return norm(base.replace("%40", "@"))
    return norm(c.get("type", "") + ":" + c.get("name", ""))
docs = {"lantern": load("lantern.cdx.json"), "cyclonedx-py": load("cyclonedx-py.cdx.json"), "ai-bom": load("ai-bom.cdx.json")}
kinds = ["library", "machine-learning-model", "data"]
rows = {}
for tool, d in docs.items():
    comps = [c for c in flat(d.get("components")) if c.get("type") != "file"]
    rows[tool] = comps
def count(tool, kind):
    return sum(1 for c in rows[tool] if c.get("type") == kind)
def other(tool):
    return sum(1 for c in rows[tool] if c.get("type") not in kinds)
# Lantern's nested file components (the files of a model directory) count as found too.
lall = list(flat(docs["lantern"].get("components")))
lkeys = {key(c) for c in lall}
lnames = {norm(c.get("name", "")) for c in lall} | {norm((c.get("group", "") + "/" + c.get("name", "")).strip("/")) for c in lall}
def prop(c, name):
    return next((p.get("value") for p in c.get("properties", []) if p.get("name") == name), None)
def missed_by_lantern(tool):
    miss = []
    for c in rows[tool]:
        # ai-bom names usages generically ("OpenAI Model") and puts the model in a property.
        names = [c.get("name", ""), prop(c, "trusera:model_name") or ""]
        if key(c) in lkeys or any(n and norm(n) in lnames for n in names):
            continue
        loc = prop(c, "trusera:source_location")
        where = f' ({os.path.relpath(loc, os.path.join(out, "..", "bom-corpus"))})' if loc else ""
        miss.append(f'{c.get("type")} "{c.get("name")}"{where}')
    return miss
cpu = ""
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    pass
ver = subprocess.run([lantern, "--version"], capture_output=True, text=True).stdout.strip()
print("# `lantern bom` vs peers\n")
print(f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
print(f"- Machine: {cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared machine)")
print(f"- Tools: {ver} ({build}), cyclonedx-bom 7.5.0 (`cyclonedx-py requirements`), ai-bom 3.6.0 (`ai-bom scan -f cyclonedx`)")
print("- Command: `bash bench/bom.sh` (fixture: bench/work/bom-corpus/ai-project, built by the script: 20 Python packages across 2 requirements files + pyproject, a package-lock with 10 npm packages, a fine-tuned model directory with card/config/4 MiB safetensors, ONNX, GGUF and pickle files, CSV/JSONL/Parquet files and a 40-image folder, 9 models (one a hosted API model) and 1 dataset referenced from code and configs)")
print(f"- Time: median wall time of {runs} runs each, same run\n")
print("| tool | libraries | models | datasets | other | median time (ms) | time vs lantern |")
print("|---|---:|---:|---:|---:|---:|---:|")
tl = int(t_l)
for tool, t in (("lantern", t_l), ("cyclonedx-py", t_c), ("ai-bom", t_a)):
    t = int(t)
    ratio = f"{t / tl:.1f}x" if tl else "-"
    print(f"| {tool} | {count(tool, 'library')} | {count(tool, 'machine-learning-model')} | {count(tool, 'data')} | {other(tool)} | {t} | {ratio} |")
print()
for tool in ("cyclonedx-py", "ai-bom"):
    miss = missed_by_lantern(tool)
    print(f"Components {tool} lists that lantern does not: {len(miss)}" + ("" if not miss else " — " + "; ".join(sorted(miss))))
    print()
print("Models and datasets lantern lists: " + "; ".join(sorted(f'{c.get("type")} {c.get("name")}' for c in rows["lantern"] if c.get("type") in ("machine-learning-model", "data"))))
PY
fi # stage peers

# ---------------------------------------------------------------- real projects
# name==version of each sdist; its expected list is bench/bom-expected/<name>.tsv.
REAL=(openai-whisper==20250625 huggingface_hub==2.5.0 lm_eval==0.4.13 peft==0.22.0 crewai==1.15.44)
if stage real; then
  SDISTS=${SDIST_DIR:-$WORK/sdists}
  mkdir -p "$SDISTS" "$WORK/real"
  {
    echo "## Real projects: expected components (issue #24)"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); lantern: $BUILD"
    echo "- Command: \`STAGES=real bash bench/bom.sh\` (sdists from \`pip download --no-deps --no-binary :all:\`; each BOM scored by \`bench/bom-score.py bench/bom-expected/<project>.tsv\`)"
    echo "- Expected lists: libraries from the sdist's PKG-INFO \`Requires-Dist\` (written by the build backend: no \`extra ==\` marker = required, else optional), models and datasets checked by hand where listed; \`extras\` counts components of a kind listed in full that the list does not have"
    echo
    echo "| project | expected | found | missed | wrong type | wrong scope | placeholders | extras | time (ms) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  } > "$OUT/real.md"
  : > "$OUT/real-details.md"
  for spec in "${REAL[@]}"; do
    name=${spec%%==*}; ver=${spec#*==}
    base=$(echo "$name" | tr '-' '_')
    tarball=$(ls "$SDISTS"/"$base"-"$ver".tar.gz 2>/dev/null || true)
    if [ -z "$tarball" ]; then
      python3 -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d "$SDISTS" "$spec"
      tarball=$(ls "$SDISTS"/"$base"-"$ver".tar.gz)
    fi
    rm -rf "$WORK/real/$base-$ver"
    tar xzf "$tarball" -C "$WORK/real"
    s=$(date +%s%N)
    "$LANTERN" bom "$WORK/real/$base-$ver" -q --deterministic -o "$OUT/$base.cdx.json"
    e=$(date +%s%N)
    score=$(python3 "$ROOT/bench/bom-score.py" "$ROOT/bench/bom-expected/$base.tsv" "$OUT/$base.cdx.json")
    python3 - "$base-$ver" "$score" "$(( (e - s) / 1000000 ))" >> "$OUT/real.md" <<'PY'
import json, sys
name, s, ms = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
n = lambda k: len(s[k])
print(f"| {name} | {s['expected']} | {s['found']} | {n('missed')} | {n('wrong_type')} | {n('wrong_scope')} | {n('placeholders')} | {n('extras')} | {ms} |")
PY
    python3 - "$base-$ver" "$score" >> "$OUT/real-details.md" <<'PY'
import json, sys
name, s = sys.argv[1], json.loads(sys.argv[2])
for k in ("missed", "wrong_type", "wrong_scope", "placeholders", "extras"):
    if s[k]:
        print(f"- {name} {k.replace('_', ' ')}: " + ", ".join(s[k][:40]) + (f" (+{len(s[k]) - 40} more)" if len(s[k]) > 40 else ""))
PY
  done
  { echo; cat "$OUT/real-details.md"; } >> "$OUT/real.md"
fi

# ---------------------------------------------------------------- lockfile scaling
if stage scaling; then
  {
    echo "## BOM time against lockfile size (issue #25)"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
    echo "- Command: \`cargo run --release -p lantern-bom --example lock_scaling -- 4000 16000 32000 120000\` (one generated lockfile of N packages in a temp dir; \`lantern_bom::generate\`, then CycloneDX JSON rendering; mimalloc as in the binary; CPU = this thread's CPU time from /proc, which the machine's load does not inflate as it does wall time)"
    echo
    cargo run -q --release -p lantern-bom --example lock_scaling -- 4000 16000 32000 120000
  } > "$OUT/scaling.md"
fi

for part in peers real scaling; do
  if [ -f "$OUT/$part.md" ]; then cat "$OUT/$part.md"; echo; fi
done > "$ROOT/bench/results/bom.md"
cat "$ROOT/bench/results/bom.md"
