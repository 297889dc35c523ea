#!/usr/bin/env bash
# Throughput of lantern-walk (the inputs of `lantern scan`) against peers measured in the same
# run, on this machine:
#   1. directory walk + read every file: lantern-walk vs ripgrep (`rg -uuu`, a literal that never
#      matches, so both read every byte);
#   2. .crate tarballs (gzip+tar): lantern-walk expanding them vs `rg -uuu -z` (which spawns
#      gzip per file);
#   3. git history, every blob of a generated repository: lantern-walk (gix) vs
#      `git cat-file --batch-all-objects --batch` and `git log -p --all` (what diff-based
#      history scanners read).
# Writes bench/results/walk.md. Peers are installed into bench/work/venv-walk (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/work
OUT=$ROOT/bench/results/walk.md
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-walk}
TREE=${WALK_TREE:-$HOME/.cargo/registry/src}
CRATES=${WALK_CRATES:-$HOME/.cargo/registry/cache}
RUNS=${RUNS:-3}
mkdir -p "$WORK" "$ROOT/bench/results"

if [ ! -x "$WORK/venv-walk/bin/rg" ]; then
  python3 -m venv "$WORK/venv-walk"
  "$WORK/venv-walk/bin/pip" install -q --only-binary=:all: ripgrep==14.1.0
fi
RG=$WORK/venv-walk/bin/rg
cargo build -q --release -p lantern-walk --example walk_throughput
BIN=$CARGO_TARGET_DIR/release/examples/walk_throughput

# A git history: 1500 commits, each rewriting 4 of 400 text files (~6 KiB each), packed.
REPO=$WORK/walk-history
if [ ! -d "$REPO/.git" ]; then
  rm -rf "$REPO"; mkdir -p "$REPO"; git -C "$REPO" init -q -b main
  python3 - <<'PY' | git -C "$REPO" fast-import --quiet
import random, sys
random.seed(7)
words = [("w%d" % i) for i in range(5000)]
out = sys.stdout.buffer
t = 1700000000
for c in range(1500):
    out.write(b"commit refs/heads/main\n")
    out.write(b"author Bench <bench@example.com> %d +0000\n" % (t + c * 60))
    out.write(b"committer Bench <bench@example.com> %d +0000\n" % (t + c * 60))
    msg = b"commit %d" % c
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    files = range(400) if c == 0 else random.sample(range(400), 4)
    for f in files:
        body = (" ".join(random.choice(words) for _ in range(1000)) + "\n").encode()
        out.write(b"M 100644 inline src/m%03d/f%03d.txt\n" % (f % 20, f))
        out.write(b"data %d\n%s\n" % (len(body), body))
PY
  git -C "$REPO" repack -adq
fi

# best-of-$RUNS wall seconds of a command
best() {
  local best=""
  for _ in $(seq "$RUNS"); do
    local s e d
    s=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; e=$(date +%s.%N)
    d=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$d < $best" | bc -l)" = 1 ]; then best=$d; fi
  done
  printf '%.3f' "$best"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

# Warm the page cache.
"$RG" -uuu -c -F LANTERN_NEVER_MATCHES "$TREE" > /dev/null 2>&1 || true
tree_bytes=$(du -sb "$TREE" | cut -f1); tree_files=$(find "$TREE" -type f | wc -l)
crate_files=$(find "$CRATES" -name '*.crate' | wc -l); crate_bytes=$(du -sb "$CRATES" | cut -f1)

l_tree=$(best "$BIN" --no-ignore --no-archives "$TREE")
l_tree_arch=$(best "$BIN" --no-ignore "$TREE")
r_tree=$(best "$RG" -uuu -c -F LANTERN_NEVER_MATCHES "$TREE")
l_crates=$(best "$BIN" --no-ignore "$CRATES")
# rg -z decompresses by file extension only: give it the tarballs under a .tgz name.
TGZ=$WORK/walk-crates-tgz
rm -rf "$TGZ"; mkdir -p "$TGZ"
find "$CRATES" -name '*.crate' | while read -r f; do ln -s "$f" "$TGZ/$(basename "$f" .crate).tgz"; done
r_crates=$(best "$RG" -L -uuu -z -c -F LANTERN_NEVER_MATCHES "$TGZ")
t_crates=$(best sh -c "for f in '$TGZ'/*.tgz; do tar -xzOf \"\$f\"; done")
l_git=$(best "$BIN" --git "$REPO")
g_cat=$(best git -C "$REPO" cat-file --batch-all-objects --batch --unordered)
g_log=$(best git -C "$REPO" log -p --all)
l_tree_line=$("$BIN" --no-ignore --no-archives "$TREE")
l_crates_line=$("$BIN" --no-ignore "$CRATES")
l_git_line=$("$BIN" --git "$REPO")

cat > "$OUT" <<MD
# lantern-walk throughput

- Date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); shared with other builds, so absolute times are noisy, ratios less so.
- Command: \`bash bench/walk.sh\` (best of $RUNS runs each, warm page cache, default threads).
- Lantern side: \`crates/lantern-walk/examples/walk_throughput.rs\` (release), a visitor that only counts, so this is the cost of walking, reading, decompressing and splitting, without analysers.
- Peers: ripgrep $("$RG" --version | head -1 | cut -d' ' -f2) (PyPI \`ripgrep\`), git $(git --version | cut -d' ' -f3).

| input | lantern-walk | peer | peer time | lantern / peer |
| --- | --- | --- | --- | --- |
| cargo registry sources, $tree_files files, $((tree_bytes / 1048576)) MiB, read every file (no ignore files, no archives) | ${l_tree} s | \`rg -uuu -c -F NEVER\` | ${r_tree} s | $(ratio "$l_tree" "$r_tree") |
| same, expanding the archives found in the tree | ${l_tree_arch} s | (rg does not open archives) | | |
| $crate_files .crate tarballs (gzip+tar), $((crate_bytes / 1048576)) MiB compressed, every member | ${l_crates} s | \`rg -L -uuu -z -c -F NEVER\` (spawns gzip per file) | ${r_crates} s | $(ratio "$l_crates" "$r_crates") |
| same | ${l_crates} s | \`tar -xzOf\` each, sequentially | ${t_crates} s | $(ratio "$l_crates" "$t_crates") |
| git history, 1500 commits, every unique blob once | ${l_git} s | \`git cat-file --batch-all-objects --batch\` | ${g_cat} s | $(ratio "$l_git" "$g_cat") |
| same | ${l_git} s | \`git log -p --all\` | ${g_log} s | $(ratio "$l_git" "$g_log") |

Counters of the lantern runs:
- tree: \`$l_tree_line\`
- crates: \`$l_crates_line\`
- git: \`$l_git_line\`
MD
# In-memory hot paths (criterion), when asked: CRITERION=1 bash bench/walk.sh
if [ "${CRITERION:-0}" = 1 ]; then
  {
    echo
    echo "Criterion, \`cargo bench -p lantern-walk --bench expand -- --warm-up-time 1 --measurement-time 3\` (throughput in bytes delivered to the visitor):"
    echo
    echo '```'
    cargo bench -q -p lantern-walk --bench expand -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
      | grep -E '^(expand|sniff)/|time:|thrpt:'
    echo '```'
  } >> "$OUT"
fi
cat "$OUT"
