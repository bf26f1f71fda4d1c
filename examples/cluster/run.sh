#!/usr/bin/env bash
# Three Switchboard nodes on one machine, sharing one Redis: ws://127.0.0.1:8081/ws, :8082, :8083.
# Uses SWITCHBOARD_REDIS_URL when set; otherwise starts a throw-away redis-server on port 6390.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -z "${SWITCHBOARD_REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server (or set SWITCHBOARD_REDIS_URL)" >&2; exit 1; }
  redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  pids+=($!)
  export SWITCHBOARD_REDIS_URL=redis://127.0.0.1:6390
  sleep 0.5
fi

for port in 8081 8082 8083; do
  # --dev: anonymous users and open namespaces, for the demo. Production: a config file with
  # auth.jwtSecret (the same on every node), apiKeys and your namespaces.
  npx switchboard serve --dev --port "$port" --host 127.0.0.1 --log-level warn &
  pids+=($!)
done
for port in 8081 8082 8083; do
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.3; done
done
echo "three nodes on 8081-8083 sharing $SWITCHBOARD_REDIS_URL; try: npx node examples/cluster/demo.mjs"
wait
