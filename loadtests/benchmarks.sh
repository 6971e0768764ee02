#!/usr/bin/env bash
# The benchmark runs recorded in docs/BENCHMARKS.md (## Load). Not tests: minutes each, one at a time,
# on a machine nobody else is loading. Usage: loadtests/benchmarks.sh OUT_DIR [hold-100k|hundred-k|rooms-20k|curve|baselines|node-vs-hub|profile-hub|gen-cost|all]
# Needs the stack's Redis/PostgreSQL in the environment (REDIS_URL, DATABASE_URL, JWT_SECRET).
set -euo pipefail
out=${1:?results folder}
what=${2:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
spotctl="$root/.venv/bin/spotctl"
mkdir -p "$out"

environment() {
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "kernel: $(uname -r)"
    echo "cpus: $(nproc)  memory: $(free -g | awk '/Mem:/ {print $2}') GB"
    echo "ulimit -n: $(ulimit -n)"
    echo "somaxconn: $(sysctl -n net.core.somaxconn)  syn backlog: $(sysctl -n net.ipv4.tcp_max_syn_backlog)"
    echo "ephemeral ports: $(sysctl -n net.ipv4.ip_local_port_range | tr '\t' '-')"
    echo "python: $("$root/.venv/bin/python" -V 2>&1)  locust: $("$root/.venv/bin/python" -c 'import locust; print(locust.__version__)')"
    echo "websockets: $("$root/.venv/bin/python" -c 'import websockets; print(websockets.__version__)')  node: $(node --version)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$out/environment.txt"
}

run() {  # name, timeout seconds, spotctl load run args...
  local name=$1 limit=$2
  shift 2
  echo "$ spotctl load run $*" | tee "$out/$name.command"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/$name.command"
  set +e
  timeout "$limit" "$spotctl" load run "$@" --results "$out/$name" > "$out/$name.txt" 2>&1
  echo "exit code: $?" | tee -a "$out/$name.command"
  set -e
}

pyspy_native() {  # results dir, seconds, pids...: py-spy with native frames on each, in the background
  local dir=$1 secs=$2
  shift 2
  for pid in "$@"; do
    "$root/.venv/bin/py-spy" record --pid "$pid" --native --rate 200 --duration "$secs" --format raw \
        --output "$dir/pyspy-$pid.txt" > /dev/null 2>&1 &
  done
}

profile_step() {  # results dir, step (0-based), step seconds: perf -a and py-spy on two hub workers, 15 s
  local dir=$1 step=$2 secs=$3
  until [ -e "$dir/ramped" ]; do sleep 1; done
  sleep $((step * secs + 8))
  echo "load at profile: $(cut -d' ' -f1-3 /proc/loadavg)" > "$dir/profile.txt"
  local supervisor
  supervisor=$(grep -o 'pid [0-9]*' "$dir.txt" | head -1 | cut -d' ' -f2)
  for pid in $(pgrep -P "$supervisor" | head -2); do
    "$root/.venv/bin/py-spy" record --pid "$pid" --rate 100 --duration 15 --format raw \
        --output "$dir/pyspy-$pid.txt" > /dev/null 2>&1 &
  done
  perf record -a -F 199 -o "$dir/perf.data" -- sleep 15 > /dev/null 2>&1
  wait
  local hub locust redis
  hub=$(pgrep -P "$supervisor" | tr '\n' ' ') locust=$(pgrep -f 'locust -f' | tr '\n' ' ')
  redis=$(pgrep redis-server | tr '\n' ' ')
  perf report -i "$dir/perf.data" --sort pid,dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' \
      > "$dir/perf-by-process.txt" || true
  # the box's samples (both CPUs) by role: hub workers, Locust, Redis, the profilers, idle, the rest
  awk -v hub=" $hub" -v locust=" $locust" -v redis=" $redis" '
    { pct = $1; sub(/%/, "", pct); split($2, id, ":"); pid = id[1]; comm = id[2]
      role = index(hub, " " pid " ") ? "hub workers" : index(locust, " " pid " ") ? "Locust" \
           : index(redis, " " pid " ") || comm ~ /^redis/ ? "Redis" : comm == "swapper" ? "idle" \
           : comm ~ /^(py-spy|perf)/ ? "profilers" : "other"
      share[role] += pct }
    END { for (r in share) printf "%6.1f %%  %s\n", share[r], r }' "$dir/perf-by-process.txt" \
      | sort -rn >> "$dir/profile.txt" || true
  "$root/.venv/bin/python" "$root/benchmarks/profile_summary.py" "$dir"/pyspy-*.txt --top 30 \
      >> "$dir/profile.txt" 2>&1
}

environment
case $what in hold-100k|all)
  # 100k connections held for 90 s with the hub's pings as heartbeats; 80 connects/s leaves CPU for the
  # connections already held on a 2-core box (passed 2026-11-26: 0 drops, 0 failed handshakes). Six hub
  # workers: the fewest whose ~16.7k sockets each (+ Redis pool) fit 20,000 open files per process, and
  # each worker's base RSS counts once per worker (issue 18: benchmarks/hub_memory.py)
  run hold-100k 2700 connections --users 100000 --spawn-rate 80 --duration 90 --heartbeat 0 \
      --hub own --hub-workers "${HUB_WORKERS:-6}" ;;
esac
case $what in hundred-k|all)
  # 100k connections held while rooms of 50 carry rising traffic (2.5k-12.5k deliveries/s); heartbeats
  # are the hub's WebSocket pings (every 30 s, answered by every client); passive receivers read paced;
  # six hub workers as above: in rooms of 50 every worker holding a member
  # reads and decodes each message, so fewer workers also repeat less of it; six Locust workers too
  # (run.py sizes them at 17k connections each: every process costs ~1 % of a core, issue 18)
  # PROFILE_STEP=N: 15 s into step N (0-based), where the box's CPU goes (perf, every process) and where
  # two hub workers' goes (py-spy), summarised beside the results
  # SPAWN_RATE=R: connects/s of the ramp (100; 250 held 100k with 0 drops on 2026-12-03 and saves 10 min)
  mkdir -p "$out/hundred-k"
  [ -n "${PROFILE_STEP:-}" ] && profile_step "$out/hundred-k" "$PROFILE_STEP" 30 &
  run hundred-k 2700 latency --users 100000 --spawn-rate "${SPAWN_RATE:-100}" --room-size 50 --rate-steps "${STEPS:-50,100,150,200,250}" \
      --step-duration 30 --probe-every 10 --heartbeat 0 --passive-read-every 5 --hub own --hub-workers "${HUB_WORKERS:-6}" \
      --target-p99 50
  wait ;;
esac
case $what in rooms-20k|all)
  # rooms of 50 at 20k connections, 5k-20k deliveries/s: where p99 stays under 50 ms
  run rooms-20k 900 latency --users 20000 --spawn-rate 300 --room-size 50 --rate-steps 100,200,300,400 \
      --step-duration 20 --probe-every 10 --heartbeat 0 --passive-read-every 5 --hub own --hub-workers 4 \
      --target-p99 50 ;;
esac
case $what in curve|all)
  # one channel of 10,000 subscribers, publish rate stepped until the hub stops keeping up
  run curve 900 latency --users 10000 --spawn-rate 250 --room-size 10000 --rate-steps 0.5,1,2,3,4,6 \
      --step-duration 20 --probe-every 100 --workers 4 --hub own --hub-workers 4 --target-p99 50 ;;
esac
case $what in baselines|all)
  # the same latency scenario, same size (5k connections, rooms of 50, 400 msgs/s = 20k deliveries/s),
  # against the hub (its compose default of 2 workers) and its one-process peers
  for target in hub node-ws socketio; do
    extra=()
    [ "$target" = hub ] && extra=(--hub own --hub-workers 2)
    run "baseline-$target" 600 latency --target "$target" --users 5000 --spawn-rate 200 --duration 60 \
        --room-size 50 --msg-rate 400 --probe-every 20 --heartbeat 0 --workers 4 "${extra[@]}"
  done ;;
esac
case $what in node-vs-hub|all)
  # issue 18: one Node `ws` process and the hub (2 workers) in the same session, same generator and
  # scenario, rate stepped until both pass p99 50 ms (TARGETS=hub: the hub alone; TARGETS="node-ws relay-floor hub"
  # adds the floor of the hub's per-message duties on picows); each step's row in summary.json has the server's CPU
  # per delivery, the busiest generator's CPU and how busy the box was. STEPS overrides the rates.
  steps=${STEPS:-1200,1600,2000,2400,2800,3200}  # both past their knee by 2,400 (run 9)
  for target in ${TARGETS:-node-ws hub}; do
    extra=()
    [ "$target" = hub ] && extra=(--hub own --hub-workers 2)
    # the hub's per-connection limit (20 msgs/s) out of the way: past 2,000 msgs/s each of the 100 room
    # senders would exceed it and the hub would deliver less than offered (Node has no limit; run 8c)
    [ "$target" = hub ] && export HUB_CONN_RATE=${HUB_CONN_RATE:-100} HUB_CONN_BURST=${HUB_CONN_BURST:-200}
    run "node-vs-hub-$target" 900 latency --target "$target" --users 5000 --spawn-rate 250 --room-size 50 \
        --rate-steps "$steps" --step-duration 15 --probe-every 10 --heartbeat 0 --passive-read-every 2 \
        --workers 2 "${extra[@]}"
  done ;;
esac
case $what in profile-hub)
  # issue 18: py-spy (native frames) on each hub worker for 20 s in the middle of a fixed-rate run of
  # the node-vs-hub scenario at RATE msgs/s (the knee); summarised by benchmarks/profile_summary.py.
  # TARGET=relay-floor profiles the floor of the hub's per-message duties the same way
  rate=${RATE:-800}
  target=${TARGET:-hub}
  name="profile-$target-$rate"
  extra=()
  [ "$target" = hub ] && extra=(--hub own --hub-workers 2)
  mkdir -p "$out/$name"
  run "$name" 900 latency --target "$target" "${extra[@]}" --users 5000 --spawn-rate 250 \
      --room-size 50 --msg-rate "$rate" --duration 50 --probe-every 10 --heartbeat 0 \
      --passive-read-every 2 --workers 2 &
  runner=$!
  until [ -e "$out/$name/ramped" ] || ! kill -0 "$runner" 2>/dev/null; do sleep 1; done
  sleep 10
  supervisor=$(grep -o 'pid [0-9]*' "$out/$name.txt" | head -1 | cut -d' ' -f2)
  echo "load at profile: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/$name.command"
  pyspy_native "$out/$name" 20 $(pgrep -P "$supervisor")
  wait
  "$root/.venv/bin/python" "$root/benchmarks/profile_summary.py" "$out/$name"/pyspy-*.txt --top 30 \
      > "$out/$name/profile-summary.txt"
  cat "$out/$name/profile-summary.txt" ;;
esac
case $what in gen-cost)
  # issue 18: the generator's own CPU per delivery in the node-vs-hub scenario, one step of RATE msgs/s
  # (STEP_S long) against TARGET (node-ws: the simpler one); summary.json's step row has
  # generator_us_per_delivery (all Locust workers' CPU ÷ deliveries). PROFILE=1: py-spy (native) on
  # both Locust workers for 15 s in the middle of the step, summarised by benchmarks/profile_summary.py
  rate=${RATE:-900} secs=${STEP_S:-40} target=${TARGET:-node-ws}
  name="gen-cost-$target-$rate-$(date -u +%H%M%S)"
  extra=()
  [ "$target" = hub ] && extra=(--hub own --hub-workers 2)
  mkdir -p "$out/$name"
  run "$name" 600 latency --target "$target" --users 5000 --spawn-rate 250 --room-size 50 \
      --rate-steps "$rate" --step-duration "$secs" --probe-every 10 --heartbeat 0 --passive-read-every 2 \
      --workers 2 "${extra[@]}" &
  runner=$!
  if [ -n "${PROFILE:-}" ]; then
    until [ -e "$out/$name/ramped" ] || ! kill -0 "$runner" 2>/dev/null; do sleep 1; done
    sleep $(((secs - 15) / 2))
    echo "load at profile: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/$name.command"
    pyspy_native "$out/$name" 15 $(pgrep -f "locust -f .* --worker .*$out/$name/worker-")
  fi
  wait
  [ -n "${PROFILE:-}" ] && "$root/.venv/bin/python" "$root/benchmarks/profile_summary.py" \
      "$out/$name"/pyspy-*.txt --top 40 > "$out/$name/profile-summary.txt"
  "$root/.venv/bin/python" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["steps"], indent=1))' \
      "$out/$name/summary.json" ;;
esac
