#!/usr/bin/env bash
# `npm start`: the gateway with embedded defaults (dev mode) and the chat example beside it.
#   gateway  http://127.0.0.1:${SWITCHBOARD_PORT:-8080}  (switchboard serve --dev + examples/chat/switchboard.config.json)
#   chat     http://127.0.0.1:${CHAT_PORT:-3000}          (examples/chat: the page and its demo login)
# Installs what is missing, builds the SDK's browser bundle when stale, then runs
# scripts/start.ts: both servers supervised (a gateway that dies is restarted, the chat stays
# up), one JWT secret kept in data/dev-secrets.json across restarts. Ctrl-C stops both.
# Extra arguments go to the gateway (`npm start -- --log-level warn`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

bundle=packages/client/dist/switchboard.mjs
if [ ! -f "$bundle" ] || [ -n "$(find packages/client/src packages/protocol/src -name '*.ts' -newer "$bundle" | head -n 1)" ]; then
  echo "[switchboard] building the client SDK bundle…" >&2
  node packages/client/scripts/build.ts >&2
fi
exec node scripts/start.ts "$@"
