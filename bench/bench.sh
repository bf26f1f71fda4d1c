#!/usr/bin/env bash
# `npm run bench -- <scenario> …`: raises the open-file limit as far as this shell may
# (every connection is a file descriptor on each side), then runs the harness on Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || true
if [ "$hard" != unlimited ] && [ "$hard" -lt 120000 ]; then
  echo "[bench] open-file limit is $hard: scenarios above ~$((hard - 1500)) connections per process will refuse to run." >&2
  echo "[bench] to raise it: as root 'ulimit -Hn 1048576' before npm run bench, or LimitNOFILE / docker --ulimit nofile=1048576:1048576." >&2
fi
exec node bench/run.ts "$@"
