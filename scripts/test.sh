#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine. Installs what the tests need when missing:
# npm dependencies, Debian's redis-server, nats-server, postgresql and chromium (as root, with apt-get).
# PostgreSQL and NATS tests start their own servers on free ports (never the machine's own on
# 5432 or 4222).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "[switchboard] installing ${need[*]} with apt-get…" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

node --version
mkdir -p test-results
status=0
node node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@" || status=$?
# The plain closing line CI reads: "N passed, N failed, N skipped".
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (process.env.CI === "true" && skipped > 0) { console.error("CI: skipped tests are not allowed"); process.exit(1); }
' || status=1
exit $status
