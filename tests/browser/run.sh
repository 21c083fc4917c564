#!/usr/bin/env bash
# Run the dashboard's browser test: installs what is missing (Debian's chromium, playwright-core
# from npm), then `node ui.test.mjs`. Needs AUTOML_BIN (the built `automl` binary) or
# AUTOML_UI_FIXTURE (the crates/ui serve_fixture example binary); see ui.test.mjs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null; then
  echo "node is needed for the browser test (apt-get install -y nodejs npm)" >&2
  exit 2
fi
cd "$here"
# playwright-core is pinned exactly in package.json and has no dependencies of its own.
if [ ! -d node_modules/playwright-core ]; then
  npm install --no-package-lock --no-audit --no-fund --silent
fi
exec node ui.test.mjs
