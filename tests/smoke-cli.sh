#!/usr/bin/env bash
# The CLI as `cargo build` makes it, not as `cargo test` does: test builds turn on the features
# dev-dependencies ask for, so a plain binary can lack one the tests had (a regex without
# Unicode case once panicked on its first log line while every test passed). Syncs the sandbox
# and reads the cache with the plain binary, and checks the sync reached the log file.
set -euo pipefail
bin=${1:?usage: tests/smoke-cli.sh path/to/opsdeck}
dir=$(mktemp -d)
"$bin" sandbox --token smoke-token --write-config "$dir/opsdeck.toml" >/dev/null 2>&1 &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/opsdeck.toml" ] && break; sleep 0.1; done
export OPSDECK_SANDBOX_TOKEN=smoke-token
run() { "$bin" --config "$dir/opsdeck.toml" --db "$dir/cache.sqlite" "$@"; }
run sync >/dev/null
run teams | grep -q checkout
run sources | grep -q fresh
run rollback checkout-api --env prod --dry-run | grep -q "to       v2.13.2"
grep -q "sync landed" "$dir"/logs/opsdeck.*.log
echo "smoke: the plain-built CLI synced, answered, planned a rollback and logged"
