#!/usr/bin/env bash
# Whole-program benchmark of the Lantern model scanner against modelscan, picklescan, fickling
# and ModelAudit (installed by this script into bench/work/venv-models). The corpus is the
# fixture generator's output (benign checkpoints + every malicious sample), the benign files
# written by real ML libraries (crates/lantern-models/tests/benign, counted separately in a
# precision table) and a multi-GB set of sparse synthetic PyTorch checkpoints. Writes
# bench/results/models.md.
#
# Usage: bench/models.sh            (BIG_GB=4 BIG_FILES=4 to change the big set)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/work/models
VENV=$ROOT/bench/work/venv-models
OUT=$ROOT/bench/results/models.md
BIG_FILES=${BIG_FILES:-4}
BIG_GB=${BIG_GB:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-models}

mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip >/dev/null
"$VENV/bin/pip" install -q picklescan modelscan fickling modelaudit numpy joblib h5py

# Lantern: `lantern scan` when wired, else the library's scan_model example (same code path).
(cd "$ROOT" && cargo build -q --release -p lantern-models --example scan_model)
LANTERN="$CARGO_TARGET_DIR/release/examples/scan_model"

rm -rf "$WORK/corpus" "$WORK/corpus-real" "$WORK/big"
python3 "$ROOT/crates/lantern-models/tests/gen_fixtures.py" "$WORK/corpus"
# Files written by numpy/joblib/h5py themselves, merged into the same manifest.
"$VENV/bin/python" "$ROOT/crates/lantern-models/tests/gen_real_fixtures.py" "$WORK/corpus-real"
cp -r "$WORK/corpus-real/real" "$WORK/corpus/real"
python3 - "$WORK" <<'MERGE'
import json, sys
w = sys.argv[1]
a = json.load(open(w + "/corpus/manifest.json"))
b = json.load(open(w + "/corpus-real/manifest.json"))
json.dump(a + b, open(w + "/corpus/manifest.json", "w"), indent=1)
MERGE
# Benign files written by real torch/scikit-learn/joblib/numpy/onnx (committed, see
# gen_benign_corpus.py): the precision table counts false alarms on them separately.
cp -r "$ROOT/crates/lantern-models/tests/benign" "$WORK/corpus/benign-real"
python3 - "$WORK/corpus" <<'REAL'
import json, os, sys
c = sys.argv[1]
m = json.load(open(c + "/manifest.json"))
for d, _, fs in sorted(os.walk(c + "/benign-real")):
    for f in sorted(fs):
        if f != "MANIFEST.txt":
            rel = os.path.relpath(os.path.join(d, f), c)
            m.append({"file": rel, "expect": "clean", "set": "real-benign"})
json.dump(m, open(c + "/manifest.json", "w"), indent=1)
REAL
mkdir -p "$WORK/big"
python3 - "$WORK/big" "$BIG_FILES" "$BIG_GB" <<'PY'
import struct, sys, os
out, n, gb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = gb << 30
def su(s):
    b = s.encode(); return b"X" + struct.pack("<I", len(b)) + b
def pkl(numel):
    p = b"\x80\x02}(" + su("weight") + b"ctorch._utils\n_rebuild_tensor_v2\n((" + su("storage")
    p += b"ctorch\nFloatStorage\n" + su("0") + su("cpu") + b"J" + struct.pack("<I", numel)
    p += b"tQK\x00J" + struct.pack("<I", numel) + b"\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu."
    return p
def lh(name, sz):
    return b"PK\x03\x04" + bytes([20,0,0,0,0,0,0,0,0,0,0,0,0,0]) + struct.pack("<IIHH", sz, sz, len(name), 0) + name.encode()
def ch(name, sz, off):
    return b"PK\x01\x02" + bytes([20,0,20,0,0,0,0,0,0,0,0,0,0,0,0,0]) + struct.pack("<IIH", sz, sz, len(name)) + bytes(12) + struct.pack("<I", off) + name.encode()
for i in range(n):
    p = pkl(size // 4)
    with open(os.path.join(out, "big_%d.pt" % i), "wb") as f:
        h1 = lh("archive/data.pkl", len(p)); f.write(h1 + p)
        off2 = len(h1) + len(p)
        f.write(lh("archive/data/0", size))
        f.seek(size, 1)
        cd_off = f.tell()
        cd = ch("archive/data.pkl", len(p), 0) + ch("archive/data/0", size, off2)
        f.write(cd + b"PK\x05\x06\x00\x00\x00\x00" + struct.pack("<HHII", 2, 2, len(cd), cd_off) + b"\x00\x00")
PY

"$VENV/bin/python" - "$WORK" "$LANTERN" "$VENV" "$OUT" "$BIG_FILES" "$BIG_GB" <<'PY'
import json, os, platform, subprocess, sys, time
work, lantern, venv, out, big_files, big_gb = sys.argv[1:7]
corpus = os.path.join(work, "corpus")
manifest = json.load(open(os.path.join(corpus, "manifest.json")))
bin_ = lambda n: os.path.join(venv, "bin", n)

def run(cmd, timeout=120):
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired:
        return -1, "timeout", time.monotonic() - t

def lantern_flag(path):
    rc, o, t = run([lantern, path])
    sev = [json.loads(l).get("severity") for l in o.splitlines() if l.startswith("{\"detail") or "\"severity\"" in l]
    flagged = any(s in ("low", "medium", "high", "critical") for s in sev)
    return ("flagged" if flagged else "clean"), t

def exit_tool(cmd_fn, flagged_codes, clean_codes):
    def f(path):
        rc, o, t = run(cmd_fn(path))
        if rc in flagged_codes:
            return "flagged", t
        if rc in clean_codes:
            return "clean", t
        return "error(rc=%s)" % rc, t
    return f

tools = {
    "lantern": lantern_flag,
    # exit codes as documented by each tool's CLI
    "picklescan": exit_tool(lambda p: [bin_("picklescan"), "--path", p], {1}, {0}),
    "modelscan": exit_tool(lambda p: [bin_("modelscan"), "-p", p], {1}, {0, 3}),
    "fickling": exit_tool(lambda p: [bin_("fickling"), "--check-safety", p], {1}, {0}),
    "modelaudit": exit_tool(lambda p: [bin_("modelaudit"), "scan", p], {1}, {0}),
}
versions = {}
for name in ("picklescan", "modelscan", "fickling", "modelaudit"):
    rc, o, _ = run([bin_("pip"), "show", name])
    versions[name] = next((l.split(": ")[1] for l in o.splitlines() if l.startswith("Version: ")), "?")

# ModelAudit takes ~27 s to start on this machine: scan the corpus directory once (JSON) and
# attribute its issues to files by path; a file is flagged when it has an issue of severity
# warning or above (what its per-file exit code 1 means).
rc, o, _ = run([bin_("modelaudit"), "scan", "--format", "json", "--output",
                os.path.join(work, "modelaudit.json"), corpus], timeout=3600)
ma_flagged = set()
ma_seen = set()
try:
    ma = json.load(open(os.path.join(work, "modelaudit.json")))
    files = sorted((os.path.join(corpus, e["file"]) for e in manifest), key=len, reverse=True)
    for iss in ma.get("issues", []):
        loc = str(iss.get("location") or (iss.get("details") or {}).get("pickle_source") or "")
        f = next((f for f in files if loc.startswith(f)), None)
        if f is None:
            continue
        ma_seen.add(f)
        if iss.get("severity") in ("critical", "error", "warning"):
            ma_flagged.add(f)
except (OSError, ValueError) as err:
    print("modelaudit JSON unreadable:", err, o[-500:])
def modelaudit_dir(path):
    return ("flagged" if path in ma_flagged else "clean"), 0.0
tools_corpus = dict(tools)
tools_corpus["modelaudit"] = modelaudit_dir

rows = {t: {"detected": 0, "missed": [], "fp": [], "fp_real": [], "errors": 0, "clean_ok": 0}
        for t in tools}
for e in manifest:
    path = os.path.join(corpus, e["file"])
    malicious = e["expect"] != "clean"
    for t, fn in tools_corpus.items():
        res, _ = fn(path)
        r = rows[t]
        if res.startswith("error"):
            r["errors"] += 1
        if malicious:
            if res == "flagged":
                r["detected"] += 1
            else:
                r["missed"].append(e["file"] + ("" if res == "clean" else " [" + res + "]"))
        else:
            if res == "flagged":
                r["fp_real" if e.get("set") == "real-benign" else "fp"].append(e["file"])
            elif res == "clean":
                r["clean_ok"] += 1

bigdir = os.path.join(work, "big")
bigs = sorted(os.path.join(bigdir, f) for f in os.listdir(bigdir))
times = {}
for t, fn in tools.items():
    total = 0.0
    res_all = []
    for b in bigs:
        res, dt = fn(b)
        total += dt
        res_all.append(res)
    times[t] = (total, res_all)

n_mal = sum(1 for e in manifest if e["expect"] != "clean")
n_real = sum(1 for e in manifest if e.get("set") == "real-benign")
n_ben = len(manifest) - n_mal - n_real
lines = ["# Model scanner benchmark", "",
         "- Machine: %s, %s, %d CPUs" % (platform.node(), platform.platform(), os.cpu_count() or 0),
         "- Date: %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "- Command: `bench/models.sh` (BIG_FILES=%s BIG_GB=%s)" % (big_files, big_gb),
         "- Lantern: `scan_model` example of lantern-models (release build), same code as `lantern scan`",
         "- Peers: " + ", ".join("%s %s" % kv for kv in versions.items()),
         "- Corpus: %d malicious and %d synthetic benign files from `crates/lantern-models/tests/gen_fixtures.py`"
         " and `gen_real_fixtures.py`, plus %d benign files written by real torch, scikit-learn, joblib,"
         " numpy and onnx (`crates/lantern-models/tests/benign/`, `gen_benign_corpus.py`)" % (n_mal, n_ben, n_real),
         "- A tool \"detects\" a file when it exits with its findings code (Lantern: any finding above info);"
         " an error exit on a malicious file counts as a miss. ModelAudit (about 27 s of start-up per"
         " process here) scans the corpus directory once with `--format json`; a file counts as"
         " detected when it has an issue of severity warning or above.",
         "- The machine was shared with other builds (load average above 20 on 2 cores): absolute"
         " times are inflated, ratios measured in the same run.", "",
         "| tool | detected | missed | false positives | errors |", "|---|---|---|---|---|"]
for t, r in rows.items():
    lines.append("| %s | %d/%d | %d | %d/%d | %d |" % (t, r["detected"], n_mal, len(r["missed"]), len(r["fp"]), n_ben, r["errors"]))
lines += ["", "## Precision next to recall", "",
          "Benign files flagged / benign files, per set; precision = detected / (detected + all benign flagged).", "",
          "| tool | recall | real-library benign flagged | synthetic benign flagged | precision |",
          "|---|---|---|---|---|"]
for t, r in rows.items():
    fp = len(r["fp"]) + len(r["fp_real"])
    prec = r["detected"] / (r["detected"] + fp) if r["detected"] + fp else 0.0
    lines.append("| %s | %d/%d | %d/%d | %d/%d | %.3f |" % (
        t, r["detected"], n_mal, len(r["fp_real"]), n_real, len(r["fp"]), n_ben, prec))
lines += ["", "## Time on %d sparse synthetic checkpoints of %s GiB each (one process per file)" % (len(bigs), big_gb), "",
          "| tool | total seconds | vs lantern | results |", "|---|---|---|---|"]
base = times["lantern"][0] or 1e-9
for t, (tot, res) in times.items():
    lines.append("| %s | %.2f | %.1fx | %s |" % (t, tot, tot / base, ", ".join(sorted(set(res)))))
for t, r in rows.items():
    if r["missed"] or r["fp"] or r["fp_real"]:
        lines += ["", "### %s" % t]
        if r["missed"]:
            lines += ["Missed: " + ", ".join("`%s`" % m for m in r["missed"])]
        if r["fp"] or r["fp_real"]:
            lines += ["", "False positives: " + ", ".join("`%s`" % m for m in r["fp"] + r["fp_real"])]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
