#!/usr/bin/env bash
# Installs the project's npm dependencies when they are missing or stale (fresh clone).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[switchboard] installing npm dependencies (npm ci)…" >&2
  if ! npm ci --no-audit --no-fund >&2 || [ ! -x node_modules/.bin/node ]; then
    echo "[switchboard] npm ci did not complete (see npm's messages above); fix the cause and run the command again" >&2
    exit 1
  fi
fi
# The admin web UI (packages/server/admin-ui → its git-ignored dist/), rebuilt when a source is newer.
node_modules/.bin/node packages/server/admin-ui/build.ts
