#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine. Installs what the tests need when missing:
# npm dependencies, Debian's redis-server and chromium (as root, with apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "[switchboard] installing ${need[*]} with apt-get…" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

node --version
exec node node_modules/vitest/vitest.mjs run "$@"
