#!/usr/bin/env bash
# `npm start`: the gateway with embedded defaults (dev mode) and the chat example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node packages/server/src/cli.ts serve --dev "$@"
