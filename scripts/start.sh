#!/usr/bin/env bash
# `npm start`: the gateway with embedded defaults (dev mode) and the chat example beside it.
#   gateway  http://127.0.0.1:${SWITCHBOARD_PORT:-8080}  (switchboard serve --dev + examples/chat/switchboard.config.json)
#   chat     http://127.0.0.1:${CHAT_PORT:-3000}          (examples/chat: the page and its demo login)
# Both share one JWT secret (SWITCHBOARD_JWT_SECRET, random unless set). Ctrl-C stops both.
# Extra arguments go to the gateway (`npm start -- --log-level warn`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

bundle=packages/client/dist/switchboard.browser.js
if [ ! -f "$bundle" ] || [ -n "$(find packages/client/src packages/protocol/src -name '*.ts' -newer "$bundle" | head -n 1)" ]; then
  echo "[switchboard] building the client SDK bundle…" >&2
  node packages/client/scripts/build.ts >&2
fi
if [ -z "${SWITCHBOARD_JWT_SECRET:-}" ]; then
  SWITCHBOARD_JWT_SECRET="$(node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url'))")"
fi
export SWITCHBOARD_JWT_SECRET

node packages/server/src/cli.ts serve --dev --config examples/chat/switchboard.config.json "$@" &
gateway=$!
node examples/chat/src/main.ts &
chat=$!

stop() {
  trap - INT TERM
  kill -TERM "$gateway" "$chat" 2>/dev/null || true
  wait "$gateway" "$chat" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
# Either one exiting (a port in use, a bad flag) stops the other.
status=0
wait -n "$gateway" "$chat" || status=$?
stop
exit "$status"
