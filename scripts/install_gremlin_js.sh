#!/usr/bin/env bash
# Installs gremlin-javascript (npm, pinned in tests/graph/js/package-lock.json) for the test that runs
# TinkerPop's JavaScript driver, with its default settings, against graphserver.
set -euo pipefail
cd "$(dirname "$0")/../tests/graph/js"
if ! command -v npm >/dev/null; then
  echo "npm is missing: install Node.js 18 or newer (apt-get install -y nodejs npm) for the JavaScript driver test" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
