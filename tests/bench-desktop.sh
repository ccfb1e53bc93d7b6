#!/usr/bin/env bash
# Desktop benchmark (see BENCHMARKS.md): time from launch to the first team list drawn in demo
# mode with a warm cache, and idle memory (PSS of the app and its WebKit processes) beside a
# hello-world Tauri window built from the same dependencies and measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p opsdeck-desktop --features custom-protocol --bins --example hello_window
APP=target/release/opsdeck-desktop
HELLO=target/release/examples/hello_window
RUNS=${RUNS:-5}
IDLE_SECONDS=${IDLE_SECONDS:-8}
SETTLED_SECONDS=${SETTLED_SECONDS:-30}
IDLE_RUNS=${IDLE_RUNS:-3}

if [ -z "${DISPLAY:-}" ]; then
  Xvfb :97 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  XVFB=$!
  trap 'kill $XVFB 2>/dev/null || true' EXIT
  export DISPLAY=:97
  for _ in $(seq 50); do [ -e /tmp/.X11-unix/X97 ] && break; sleep 0.1; done
fi
export HOME; HOME=$(mktemp -d)   # a private data dir: the demo cache starts cold

# PSS in kB of a process and all its descendants (the app spawns WebKit's web and network processes).
pss_tree() {
  local all="$1" level="$1" next
  while [ -n "$level" ]; do
    next=$(for p in $level; do pgrep -P "$p" || true; done)
    all="$all $next"; level=$next
  done
  local total=0 kb
  for p in $all; do
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# Idle PSS in MB at IDLE_SECONDS and at SETTLED_SECONDS after launch, one launch: the first is
# just past start-up; by the second the allocator has given back what start-up freed (jemalloc
# returns pages unused for ten seconds).
idle_pss_mb() {
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$IDLE_SECONDS"
  local early; early=$(pss_tree "$pid")
  sleep $((SETTLED_SECONDS - IDLE_SECONDS))
  local settled; settled=$(pss_tree "$pid")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  awk -v a="$early" -v b="$settled" 'BEGIN { printf "%.0f %.0f\n", a / 1024, b / 1024 }'
}

# The app's line also says when the cache and engine were open and the page loaded: printed
# to stderr, so where a launch's time went shows beside the table.
first_list_ms() {
  local line
  line=$(OPSDECK_EXIT_AFTER_READY=1 timeout 60 "$APP" --demo 2>&1 >/dev/null | grep 'first team list drawn')
  echo "$line" >&2
  echo "$line" | sed -n 's/.*first team list drawn \([0-9]*\) ms after launch.*/\1/p'
}

median_of() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# What WebKit and Tauri alone take to show a page on this machine, in the same run.
hello_page_ms() {
  OPSDECK_EXIT_AFTER_READY=1 timeout 60 "$HELLO" 2>&1 >/dev/null \
    | sed -n 's/.*page loaded \([0-9]*\) ms after launch.*/\1/p'
}

cold=$(first_list_ms)
warm=()
for _ in $(seq "$RUNS"); do warm+=("$(first_list_ms)"); done
median=$(median_of "${warm[@]}")
hello=()
for _ in $(seq "$RUNS"); do hello+=("$(hello_page_ms)"); done
hello_median=$(median_of "${hello[@]}")
# Idle launches of the two, interleaved so a slow quarter hour weighs on both alike, and a
# median of each: the web process of one build varies by 20 MB between launches, which moves
# the ratio of single launches by a tenth.
hello_early=(); hello_settled=(); app_early=(); app_settled=()
for _ in $(seq "$IDLE_RUNS"); do
  read -r early settled < <(idle_pss_mb "$HELLO")
  hello_early+=("$early"); hello_settled+=("$settled")
  read -r early settled < <(idle_pss_mb "$APP" --demo)
  app_early+=("$early"); app_settled+=("$settled")
done
hello_mb=$(median_of "${hello_early[@]}"); hello_settled_mb=$(median_of "${hello_settled[@]}")
app_mb=$(median_of "${app_early[@]}"); app_settled_mb=$(median_of "${app_settled[@]}")
ratio=$(awk -v a="$app_settled_mb" -v b="$hello_settled_mb" 'BEGIN { printf "%.2f", a / b }')

echo "## Desktop (release build, demo mode)"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| launch → first team list drawn, cold cache (first sync included) | ${cold} ms |"
echo "| launch → first team list drawn, warm cache (median of $RUNS: ${warm[*]}) | ${median} ms |"
echo "| hello-world Tauri window: launch → its page loaded (median of $RUNS: ${hello[*]}) | ${hello_median} ms |"
echo "| idle PSS after ${IDLE_SECONDS} s, Opsdeck (app + WebKit processes; median of $IDLE_RUNS: ${app_early[*]}) | ${app_mb} MB |"
echo "| idle PSS after ${IDLE_SECONDS} s, hello-world Tauri window (median of $IDLE_RUNS: ${hello_early[*]}) | ${hello_mb} MB |"
echo "| idle PSS after ${SETTLED_SECONDS} s, Opsdeck (median of $IDLE_RUNS: ${app_settled[*]}) | ${app_settled_mb} MB |"
echo "| idle PSS after ${SETTLED_SECONDS} s, hello-world Tauri window (median of $IDLE_RUNS: ${hello_settled[*]}) | ${hello_settled_mb} MB |"
echo "| Opsdeck over the hello-world window after ${SETTLED_SECONDS} s | $((app_settled_mb - hello_settled_mb)) MB (${ratio}×) |"
