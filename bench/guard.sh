#!/usr/bin/env bash
# Whole-program benchmark of `lantern guard` as a reverse proxy, in one run on loopback:
#   direct     wrk -> mock upstream
#   nginx      wrk -> nginx proxy_pass (keepalive) -> mock upstream      (the floor for a proxy hop)
#   guard      wrk -> lantern guard (all detectors, monitor=redact, audit log with fsync) -> mock
#   litellm    wrk -> LiteLLM proxy (PyPI) with master key + rpm limit -> mock
# The mock upstream is the `guard-bench mock` example of lantern-guard (Rust, in this repo; not
# part of the user binary), answering instantly.
# Added latency = proxy percentile - direct percentile at one connection (c=1); throughput at
# c=32 for 10 s. Plain and streaming (SSE) chat completions. Figures: bench/results/guard.md.
# Every target gets the same placement: wrk with one thread, the mock upstream with one thread,
# nginx with one worker process, the guard with one tokio worker thread (plus its audit-log writer
# thread, which mostly waits on fdatasync), LiteLLM with one worker. During the c=32 runs the CPU
# time each proxy process consumed is read from /proc and reported per request: on a shared
# machine that figure is steadier than req/s, which depends on what else runs.
#
# usage: bench/guard.sh [--duration S] [--conns N] [--rounds N] [--no-litellm] [--lean]
#   --rounds  interleaved c=N rounds per target, the median one reported (default 3)
#        bench/guard.sh --ab OLD_LANTERN NEW_LANTERN [--rounds N] [--duration S] [--conns N]
#   --lean  build and run only the gateway library (example `guard-bench` of lantern-guard, the
#           same code as `lantern guard`) instead of the whole `lantern` CLI in release mode
#        bench/guard.sh --parts [--rounds N] [--duration S] [--conns N]
#   --parts nginx and the guard with parts of it changed or switched off (monitor logging instead
#           of redacting, monitor off, monitor and audit log off, audit writer at niceness 0),
#           alternated for N rounds (default 3); prints the median req/s of each at c=N, plain and
#           streamed, against nginx's. Writes no file.
#   --ab    compare two `lantern` binaries (e.g. a copy built from an older commit and the current
#           one): same guard set-up as below, the two guards alternated for N rounds (default 3),
#           each round a c=N run of plain then streamed requests; prints the guard's CPU µs per
#           request (user+system, and user alone), the CPU µs per request of the guard, the mock
#           upstream and wrk together (they share the cores, so a change in how the guard writes
#           can move the others' share), and req/s per run, and the means. Writes no file.
#        bench/guard.sh --profile [--rounds N] [--duration S] [--conns N]
#   --profile  nginx and the guard alternated for N rounds (default 3), plain and streamed, each a
#           c=N run with the machine's counters read before and after: per request, the CPU
#           (user/system) and context switches (voluntary/involuntary, all threads) of the proxy
#           and of the mock upstream, wrk's CPU, the machine's busy and idle time (/proc/stat)
#           and what of the busy time none of the three processes accounts for (kernel threads,
#           interrupts), and TCP segments sent on loopback (/proc/net/snmp). Writes no file.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/work/guard
VENV=$ROOT/bench/work/venv-guard
OUT=$ROOT/bench/results/guard.md
DUR=10
CONNS=32
LITELLM=1
LEAN=0
AB=()
PARTS=0
PROFILE=0
ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in
    --ab) AB=("$2" "$3"); shift 3 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --no-litellm) LITELLM=0; shift ;;
    --lean) LEAN=1; shift ;;
    --parts) PARTS=1; LITELLM=0; shift ;;
    --profile) PROFILE=1; LITELLM=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$WORK" "$ROOT/bench/results"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-guard}
TCK=$(getconf CLK_TCK)
# "user system" CPU ticks of process $1 and its descendants (nginx master + worker, litellm),
# all threads
proc_ticks() {
  local u=0 s=0 p pu ps
  for p in $1 $(pgrep -P "$1" 2>/dev/null) $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
    if [ -r /proc/$p/stat ] && read -r pu ps < <(awk '{print $14, $15}' /proc/$p/stat); then
      u=$((u + pu)); s=$((s + ps))
    fi
  done
  echo $u $s
}
# CPU ticks (user + system) of a process and its descendants
cpu_ticks() { local u s; read -r u s < <(proc_ticks "$1"); echo $((u + s)); }
# one c=CONNS wrk run of script $1 against port $2, output in $WORK/wrk.out; prints wrk's own
# "user system" CPU seconds
wrk_timed() {
  { TIMEFORMAT='%U %S'; time wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$1" "http://127.0.0.1:$2/v1/chat/completions" >"$WORK/wrk.out"; } 2>&1 | tail -1
}

# Tools and peers.
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get install -y -qq wrk nginx-light >/dev/null
fi
if [ "$LITELLM" = 1 ] && [ ! -x "$VENV/bin/litellm" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'litellm[proxy]'
fi
if [ ${#AB[@]} = 2 ]; then
  LITELLM=0
  BIN=${AB[1]}
  cargo build --release -p lantern-guard --example guard-bench
  GB=$CARGO_TARGET_DIR/release/examples/guard-bench
  mock_up() { exec "$GB" mock "$1" 1; }
  build_index() { "$BIN" guard index "$1" -o "$2"; }
  new_key() { "$BIN" guard keys create --config "$1" --owner bench --ttl 1d; }
elif [ "$LEAN" = 1 ]; then
  cargo build --release -p lantern-guard --example guard-bench
  GB=$CARGO_TARGET_DIR/release/examples/guard-bench
  # exec: the background job's PID is the server's own (for cleanup and CPU accounting)
  mock_up() { exec "$GB" mock "$1" 1; }
  build_index() { "$GB" index "$1" "$2"; }
  new_key() { "$GB" key "$(dirname "$1")/keys.json"; }
  serve() { exec "$GB" serve "$1" 1; }
else
  cargo build --release -p lantern-cli
  BIN=$CARGO_TARGET_DIR/release/lantern
  cargo build --release -p lantern-guard --example guard-bench
  GB=$CARGO_TARGET_DIR/release/examples/guard-bench
  mock_up() { exec "$GB" mock "$1" 1; }
  build_index() { "$BIN" guard index "$1" -o "$2"; }
  new_key() { "$BIN" guard keys create --config "$1" --owner bench --ttl 1d; }
  serve() { exec "$BIN" guard serve --config "$1" --threads 1; }
fi

UP=19100; NGX=19101; GRD=19102; LIT=19103
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
wait_port() { for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }
# a server left over from an earlier run would answer instead of the one started here
for p in $UP $NGX $GRD $LIT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p is already in use; stop what listens there" >&2; exit 1; fi
done

# Guard with everything on: hardening, detectors, output monitoring (redact, secrets + PII +
# canaries + corpus index), drift, metrics and the fsync'ed, signed audit log. $1: a fresh
# directory for its corpus, index, config, keys and audit log.
guard_setup() {
  rm -rf "$1" && mkdir -p "$1/corpus"
  for i in $(seq 1 200); do echo "Protected document $i: the quick brown fox jumps over the lazy dog near river bank number $i while the archive keeps record $((i*7))." ; done > "$1/corpus/doc.txt"
  build_index "$1/corpus" "$1/corpus.idx" 2>/dev/null
  cat > "$1/guard.toml" <<TOML
listen = "127.0.0.1:$GRD"
keys_file = "keys.json"
[upstream]
url = "http://127.0.0.1:$UP"
api_key_env = "BENCH_UPSTREAM_KEY"
[limits]
requests_per_minute = 100000000
tokens_per_minute = 10000000000
burst = 1000000
[detect]
action = "log"
[monitor]
action = "redact"
canaries = ["CANARY-9f2c41"]
corpus_index = "corpus.idx"
[audit]
dir = "audit"
signing_key = "audit.key"
TOML
}

if [ ${#AB[@]} = 2 ]; then
  mock_up 127.0.0.1:$UP 2>/dev/null & PIDS+=($!); UPID=$!
  guard_setup "$WORK/ab"
  TOKEN=$(new_key "$WORK/ab/guard.toml" 2>/dev/null)
  for mode in plain stream; do
    body='{"model":"mock-model",'$([ $mode = stream ] && echo '"stream":true,' || true)'"messages":[{"role":"user","content":"Summarise the plot of a short story about a lighthouse keeper in two sentences."}],"max_tokens":64}'
    printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\n' "'$body'" "$TOKEN" > "$WORK/ab/$mode.lua"
  done
  wait_port $UP
  declare -A SUM
  echo "| round | binary | plain CPU µs/req | plain user µs/req | plain with mock and wrk µs/req | plain req/s | stream CPU µs/req | stream user µs/req | stream with mock and wrk µs/req | stream req/s | load avg |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for r in $(seq 1 "$ROUNDS"); do
    for b in 0 1; do
      rm -rf "$WORK/ab/audit"
      (cd "$WORK/ab" && BENCH_UPSTREAM_KEY=sk-upstream exec "${AB[$b]}" guard serve --config guard.toml --threads 1 2>/dev/null) & G=$!; PIDS+=($G)
      wait_port $GRD
      row="| $r | $(basename "${AB[$b]}")"
      for mode in plain stream; do
        read -r u0 s0 < <(proc_ticks $G); m0=$(cpu_ticks "$UPID")
        wt=$(wrk_timed "$WORK/ab/$mode.lua" "$GRD")
        read -r u1 s1 < <(proc_ticks $G); m1=$(cpu_ticks "$UPID")
        n=$(awk '/requests in/{print $1}' "$WORK/wrk.out")
        rps=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$WORK/wrk.out")
        cpu=$(awk -v a=$((u1 + s1 - u0 - s0)) -v n="$n" -v t="$TCK" 'BEGIN{printf "%.1f", a*1e6/t/n}')
        usr=$(awk -v a=$((u1 - u0)) -v n="$n" -v t="$TCK" 'BEGIN{printf "%.1f", a*1e6/t/n}')
        # the guard, the mock upstream and wrk together: they share the two cores
        all=$(awk -v a=$((u1 + s1 - u0 - s0 + m1 - m0)) -v wt="$wt" -v n="$n" -v t="$TCK" 'BEGIN{split(wt, w, " "); printf "%.1f", (a/t + w[1] + w[2])*1e6/n}')
        SUM[$b.$mode]=$(awk -v a="${SUM[$b.$mode]:-0}" -v c="$cpu" 'BEGIN{print a + c}')
        SUM[$b.$mode.all]=$(awk -v a="${SUM[$b.$mode.all]:-0}" -v c="$all" 'BEGIN{print a + c}')
        row="$row | $cpu | $usr | $all | $rps"
      done
      kill $G; wait $G 2>/dev/null || true
      echo "$row | $(cut -d' ' -f1 /proc/loadavg) |"
    done
  done
  for b in 0 1; do
    mean() { awk -v a="${SUM[$1]}" -v n="$ROUNDS" 'BEGIN{printf "%.1f", a/n}'; }
    echo "mean CPU µs/req of $(basename "${AB[$b]}") (${AB[$b]}): plain $(mean $b.plain), stream $(mean $b.stream); with the mock and wrk: plain $(mean $b.plain.all), stream $(mean $b.stream.all)"
  done
  exit 0
fi

mock_up 127.0.0.1:$UP 2>/dev/null & PIDS+=($!); UPID=$!

cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream mock { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$NGX;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer sk-upstream";
      proxy_buffering off;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -g 'daemon off;' & PIDS+=($!); NPID=$!

guard_setup "$WORK/guard"
TOKEN=$(new_key "$WORK/guard/guard.toml" 2>/dev/null)
BENCH_UPSTREAM_KEY=sk-upstream serve "$WORK/guard/guard.toml" 2>/dev/null & PIDS+=($!); GPID=$!

if [ "$LITELLM" = 1 ]; then
  cat > "$WORK/litellm.yaml" <<YAML
model_list:
  - model_name: mock-model
    litellm_params:
      model: openai/mock-model
      api_base: http://127.0.0.1:$UP/v1
      api_key: sk-upstream
      rpm: 100000000
general_settings:
  master_key: sk-litellm-master
litellm_settings:
  drop_params: true
YAML
  "$VENV/bin/litellm" --config "$WORK/litellm.yaml" --host 127.0.0.1 --port $LIT --num_workers 1 >"$WORK/litellm.log" 2>&1 & PIDS+=($!); LPID=$!
fi
wait_port $UP; wait_port $NGX; wait_port $GRD
[ "$LITELLM" = 1 ] && wait_port $LIT

BODY='{"model":"mock-model","messages":[{"role":"user","content":"Summarise the plot of a short story about a lighthouse keeper in two sentences."}],"max_tokens":64}'
SBODY='{"model":"mock-model","stream":true,"messages":[{"role":"user","content":"Summarise the plot of a short story about a lighthouse keeper in two sentences."}],"max_tokens":64}'
mklua() { # $1 file, $2 body, $3 key
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $3"
LUA
}
mklua "$WORK/plain-guard.lua" "$BODY" "$TOKEN"; mklua "$WORK/stream-guard.lua" "$SBODY" "$TOKEN"
mklua "$WORK/plain-none.lua" "$BODY" "sk-upstream"; mklua "$WORK/stream-none.lua" "$SBODY" "sk-upstream"
mklua "$WORK/plain-lit.lua" "$BODY" "sk-litellm-master"; mklua "$WORK/stream-lit.lua" "$SBODY" "sk-litellm-master"

# sanity: every target answers 200
check() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$BODY" "http://127.0.0.1:$1/v1/chat/completions"; }
for pair in "$UP sk-upstream" "$NGX sk-upstream" "$GRD $TOKEN"; do
  set -- $pair; code=$(check "$1" "$2"); [ "$code" = 200 ] || { echo "target $1 answered $code" >&2; exit 1; }
done
if [ "$LITELLM" = 1 ]; then
  code=$(check $LIT sk-litellm-master); [ "$code" = 200 ] || { echo "litellm answered $code; see $WORK/litellm.log" >&2; exit 1; }
fi

if [ "$PARTS" = 1 ]; then
  kill $GPID; wait $GPID 2>/dev/null || true
  # each variant: a copy of the benchmark's guard directory with its configuration edited
  variant() { # $1 name, $2 sed script for guard.toml
    rm -rf "$WORK/parts-$1"; cp -r "$WORK/guard" "$WORK/parts-$1"; rm -rf "$WORK/parts-$1/audit"
    sed -i -e "$2" "$WORK/parts-$1/guard.toml"
  }
  monitor_off='/^canaries/d; /^corpus_index/d; s/^action = "redact"/action = "log"\nsecrets = false\npii = false/'
  variant all ''
  variant monitor-log 's/^action = "redact"/action = "log"/'
  variant monitor-off "$monitor_off"
  variant monitor-audit-off "$monitor_off; /^\[audit\]/,\$d"
  variant writer-nice-0 's/^signing_key = "audit.key"/&\nwriter_nice = 0/'
  VARIANTS="all monitor-log monitor-off monitor-audit-off writer-nice-0"
  declare -A R
  rps_of() { wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$1" "$2" | awk '/Non-2xx/{bad=1} /Requests\/sec/{r=$2} END{if (bad) print "non-2xx"; else printf "%.0f", r}'; }
  for r in $(seq 1 "$ROUNDS"); do
    for mode in plain stream; do
      R[nginx.$mode]="${R[nginx.$mode]:-} $(rps_of "$WORK/$mode-none.lua" "http://127.0.0.1:$NGX/v1/chat/completions")"
      for v in $VARIANTS; do
        (cd "$WORK/parts-$v" && BENCH_UPSTREAM_KEY=sk-upstream serve guard.toml 2>/dev/null) & G=$!; PIDS+=($G)
        wait_port $GRD
        R[$v.$mode]="${R[$v.$mode]:-} $(rps_of "$WORK/$mode-guard.lua" "http://127.0.0.1:$GRD/v1/chat/completions")"
        kill $G; wait $G 2>/dev/null || true
      done
    done
  done
  median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
  echo "| target | plain req/s (median of $ROUNDS) | vs nginx | stream req/s | vs nginx | plain rounds | stream rounds |"
  echo "|---|---|---|---|---|---|---|"
  np=$(echo "${R[nginx.plain]}" | median); ns=$(echo "${R[nginx.stream]}" | median)
  for v in nginx $VARIANTS; do
    p=$(echo "${R[$v.plain]}" | median); st=$(echo "${R[$v.stream]}" | median)
    echo "| $v | $p | $(awk -v a="$p" -v b="$np" 'BEGIN{printf "%.2f×", a/b}') | $st | $(awk -v a="$st" -v b="$ns" 'BEGIN{printf "%.2f×", a/b}') |${R[$v.plain]} |${R[$v.stream]} |"
  done
  exit 0
fi

if [ "$PROFILE" = 1 ]; then
  # "voluntary involuntary" context switches of process $1 and its children, summed over their
  # threads
  switches() { for p in $1 $(pgrep -P "$1"); do cat /proc/"$p"/task/*/status; done 2>/dev/null | awk '/^voluntary_ctxt/{v+=$2} /^nonvoluntary_ctxt/{n+=$2} END{print v+0, n+0}'; }
  # "busy idle" jiffies of the machine (busy: user nice system irq softirq steal; idle: idle iowait)
  machine() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
  segs() { awk '/^Tcp:/{if (h) print $12; else h=1}' /proc/net/snmp; }
  echo "| round | mode | target | req/s | proxy CPU µs/req (user / sys) | proxy switches/req (vol / invol) | upstream CPU µs/req | upstream switches/req (vol / invol) | wrk CPU µs/req | machine busy µs/req | machine idle µs/req | busy outside the three µs/req | TCP segments/req |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for r in $(seq 1 "$ROUNDS"); do
    for mode in plain stream; do
      for target in nginx guard; do
        case $target in
          nginx) P=$NPID; port=$NGX; lua=$WORK/$mode-none.lua ;;
          guard) P=$GPID; port=$GRD; lua=$WORK/$mode-guard.lua ;;
        esac
        read -r pu0 ps0 < <(proc_ticks "$P"); read -r pv0 pn0 < <(switches "$P")
        read -r mu0 ms0 < <(proc_ticks "$UPID"); read -r mv0 mn0 < <(switches "$UPID")
        read -r b0 i0 < <(machine); s0=$(segs)
        wt=$(wrk_timed "$lua" "$port")
        read -r pu1 ps1 < <(proc_ticks "$P"); read -r pv1 pn1 < <(switches "$P")
        read -r mu1 ms1 < <(proc_ticks "$UPID"); read -r mv1 mn1 < <(switches "$UPID")
        read -r b1 i1 < <(machine); s1=$(segs)
        n=$(awk '/requests in/{print $1}' "$WORK/wrk.out")
        rps=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$WORK/wrk.out")
        awk -v n="$n" -v t="$TCK" -v r="$r" -v mode="$mode" -v target="$target" -v rps="$rps" \
          -v pu=$((pu1 - pu0)) -v ps=$((ps1 - ps0)) -v pv=$((pv1 - pv0)) -v pn=$((pn1 - pn0)) \
          -v mu=$((mu1 - mu0)) -v ms=$((ms1 - ms0)) -v mv=$((mv1 - mv0)) -v mn=$((mn1 - mn0)) \
          -v wt="$wt" -v b=$((b1 - b0)) -v i=$((i1 - i0)) -v sg=$((s1 - s0)) 'BEGIN{
            split(wt, w, " "); us = 1e6 / t / n
            proxy = (pu + ps) * us; up = (mu + ms) * us; wrk = (w[1] + w[2]) * 1e6 / n
            printf "| %s | %s | %s | %s | %.1f (%.1f / %.1f) | %.2f / %.2f | %.1f | %.2f / %.2f | %.1f | %.1f | %.1f | %.1f | %.2f |\n",
              r, mode, target, rps, proxy, pu * us, ps * us, pv / n, pn / n, up, mv / n, mn / n,
              wrk, b * us, i * us, b * us - proxy - up - wrk, sg / n }'
      done
    done
  done
  exit 0
fi

# wrk output -> "p50_us p99_us rps"
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); print v+0} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000} else print v}'; }
# per request: CPU ticks difference $1 -> $2 over $3 requests, in µs
per_req() { awk -v a="$1" -v b="$2" -v r="${3:-0}" -v t="$TCK" 'BEGIN{if (r > 0) printf "%.1f", (b - a) * 1e6 / t / r; else print "-"}'; }
# $1 conns $2 lua $3 port [$4 pid]
#   -> "p50 p99 rps non2xx cpu_us_per_req load1 upstream_cpu_us_per_req wrk_cpu_us_per_req"
# With a pid, the CPU time of the target, of the mock upstream and of wrk itself are measured: the
# upstream's and wrk's per-request cost is not fixed but moves with the proxy in front of them.
run_wrk() {
  local c0=0 c1=0 m0=0 m1=0
  [ -n "${4:-}" ] && { c0=$(cpu_ticks "$4"); m0=$(cpu_ticks "$UPID"); }
  local out times
  times=$( { TIMEFORMAT='%U %S'; time wrk -t1 -c"$1" -d"${DUR}s" --latency -s "$2" "http://127.0.0.1:$3/v1/chat/completions" >"$WORK/wrk.out"; } 2>&1 | tail -1)
  out=$(cat "$WORK/wrk.out")
  [ -n "${4:-}" ] && { c1=$(cpu_ticks "$4"); m1=$(cpu_ticks "$UPID"); }
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local reqs; reqs=$(echo "$out" | awk '/requests in/{print $1}')
  local cpr mpr wpr
  cpr=$(per_req "$c0" "$c1" "$reqs")
  mpr=$(per_req "$m0" "$m1" "$reqs")
  wpr=$(awk -v x="$times" -v r="${reqs:-0}" 'BEGIN{split(x, a, " "); if (r > 0) printf "%.1f", (a[1] + a[2]) * 1e6 / r; else print "-"}')
  [ -z "${4:-}" ] && { mpr="-"; wpr="-"; }
  local p50 p99 rps bad
  p50=$(echo "$out" | awk '$1=="50%"{print $2}' | to_us)
  p99=$(echo "$out" | awk '$1=="99%"{print $2}' | to_us)
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  bad=$(echo "$out" | awk '/Non-2xx/{print $5}'); bad=${bad:-0}
  echo "$p50 $p99 $rps $bad $cpr $load $mpr $wpr"
}

LOAD0=$(cut -d" " -f1 /proc/loadavg)
declare -A R
targets=("direct:$UP:none:$UPID" "nginx:$NGX:none:$NPID" "guard:$GRD:guard:$GPID")
[ "$LITELLM" = 1 ] && targets+=("litellm:$LIT:lit:$LPID")
for mode in plain stream; do
  # c=1 latency: three interleaved rounds, keep the median round per target
  for round in 1 2 3; do
    for t in "${targets[@]}"; do
      IFS=: read -r name port key _ <<<"$t"
      R[$mode.$name.c1.$round]=$(run_wrk 1 "$WORK/$mode-$key.lua" "$port")
    done
  done
  # c=N throughput: --rounds interleaved rounds (default 3); the round with the median req/s is
  # kept per target (one 5-10 s run moves by several percent with what else the 2 cores serve)
  for round in $(seq 1 "$ROUNDS"); do
    for t in "${targets[@]}"; do
      IFS=: read -r name port key pid <<<"$t"
      R[$mode.$name.load.$round]=$(run_wrk "$CONNS" "$WORK/$mode-$key.lua" "$port" "$pid")
    done
  done
  for t in "${targets[@]}"; do
    IFS=: read -r name _ _ _ <<<"$t"
    R[$mode.$name.load]=$(for r in $(seq 1 "$ROUNDS"); do printf '%s\n' "${R[$mode.$name.load.$r]}"; done | sort -g -k3,3 | sed -n "$(( (ROUNDS + 1) / 2 ))p")
    R[$mode.$name.rounds]=$(for r in $(seq 1 "$ROUNDS"); do read -r _ _ x _ <<<"${R[$mode.$name.load.$r]}"; printf '%.0f ' "$x"; done)
  done
done

median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
{
  echo "# lantern guard: proxy overhead benchmark"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); load average (1 min) at the start: $LOAD0, at the end: $(cut -d' ' -f1 /proc/loadavg)"
  echo "- machine: $(nproc) cores, $(awk '/model name/{$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GB RAM (shared with other jobs)"
  echo "- command: \`bench/guard.sh --duration $DUR --conns $CONNS --rounds $ROUNDS$([ "$LEAN" = 1 ] && echo ' --lean')$([ "$LITELLM" = 0 ] && echo ' --no-litellm')\`$([ "$LEAN" = 1 ] && echo ' (gateway built as the guard-bench example of lantern-guard: same library code as `lantern guard serve`)')"
  echo "- load generator: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), one thread; nginx $(nginx -v 2>&1 | awk -F/ '{print $2}'); LiteLLM $([ "$LITELLM" = 1 ] && "$VENV/bin/pip" show litellm 2>/dev/null | awk '/^Version/{print $2}' || echo 'not run')"
  echo "- upstream: \`guard-bench mock\` (example of lantern-guard, 1 thread); guard: 1 worker thread, all detectors on, monitor=redact, corpus index, audit log (group-commit fsync, signed checkpoints)"
  echo "- nginx: 1 worker, keepalive upstream, proxy_buffering off; LiteLLM: 1 worker, master key, per-deployment rpm limit (virtual keys need its Prisma client, whose engine binaries download from binaries.prisma.sh, which this network does not reach)"
  echo
  for mode in plain stream; do
    echo "## $mode chat completions"
    echo
    echo "| target | p50 c=1 (µs) | p99 c=1 (µs) | added p50 (µs) | added p99 (µs) | req/s at c=$CONNS (median round) | non-2xx | vs nginx | vs LiteLLM | CPU µs/req at c=$CONNS | upstream CPU µs/req | wrk CPU µs/req | load avg | req/s of the $ROUNDS rounds |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    dp50=(); dp99=()
    for r in 1 2 3; do read -r a b _ _ <<<"${R[$mode.direct.c1.$r]}"; dp50+=("$a"); dp99+=("$b"); done
    D50=$(median3 "${dp50[@]}"); D99=$(median3 "${dp99[@]}")
    read -r _ _ NRPS _ <<<"${R[$mode.nginx.load]}"
    LRPS=""
    [ "$LITELLM" = 1 ] && read -r _ _ LRPS _ <<<"${R[$mode.litellm.load]}"
    for t in "${targets[@]}"; do
      IFS=: read -r name _ _ _ <<<"$t"
      p50s=(); p99s=()
      for r in 1 2 3; do read -r a b _ _ <<<"${R[$mode.$name.c1.$r]}"; p50s+=("$a"); p99s+=("$b"); done
      P50=$(median3 "${p50s[@]}"); P99=$(median3 "${p99s[@]}")
      read -r _ _ RPS BAD CPR LOAD MPR WPR <<<"${R[$mode.$name.load]}"
      vsn=$(awk -v a="$RPS" -v b="$NRPS" 'BEGIN{printf "%.2f×", a/b}')
      vsl=$([ -n "$LRPS" ] && awk -v a="$RPS" -v b="$LRPS" 'BEGIN{printf "%.1f×", a/b}' || echo "-")
      add50=$(awk -v a="$P50" -v b="$D50" 'BEGIN{printf "%.0f", a-b}')
      add99=$(awk -v a="$P99" -v b="$D99" 'BEGIN{printf "%.0f", a-b}')
      [ "$name" = direct ] && { add50="-"; add99="-"; }
      [ "$name" = direct ] && MPR="(=CPU)"
      echo "| $name | $P50 | $P99 | $add50 | $add99 | $RPS | $BAD | $vsn | $vsl | $CPR | $MPR | $WPR | $LOAD | ${R[$mode.$name.rounds]% } |"
    done
    echo
  done
  echo "c=1 figures are the median of three interleaved $DUR s rounds; c=$CONNS figures are those of the round with the median req/s of $ROUNDS interleaved $DUR s rounds (direct, nginx, guard, LiteLLM, then again), all of them listed in the last column; added latency = target − direct at the same percentile. wrk measures complete responses, so for streams it is the time to the last SSE event. CPU µs/req: user+system CPU time of the target's processes (all threads; nginx master and worker; for direct, the mock upstream) during that c=$CONNS run, divided by the requests wrk completed; upstream and wrk CPU µs/req: the same for the mock upstream and for wrk during that run (the two cores are shared, so what the upstream and the load generator spend per request behind a proxy counts against its throughput too); load avg: 1-minute load average at the end of that run."
} > "$OUT"
cat "$OUT"
