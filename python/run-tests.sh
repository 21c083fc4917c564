#!/usr/bin/env bash
# The Python package's tests on a clean machine (the .ci/run step, and the command to run them
# by hand): a throwaway venv from python/requirements-test.txt, the wheel built by maturin
# (`maturin build -m crates/python/Cargo.toml`, in cargo's target dir), installed, then pytest
# on python/tests. pytest's exit 5 (no test collected) is a failure. The wheel is built with the
# dev profile (AUTOML_PY_PROFILE=release for the release wheel): it mirrors the workspace's
# (optimised dependencies), so it reuses part of what `cargo build` compiled before it in CI
# (5.5 min from that state against 8.5 min for a cold release build, measured on a shared
# 2-core machine); the engine's crates are optimised either way. AUTOML_BIN: the `automl` binary the tests compare with (default:
# cargo builds it). AUTOML_PY_VENV: keep the venv there between runs.
# Needs python3 with venv (Debian: python3-venv, installed here when missing and root).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
venv="${AUTOML_PY_VENV:-$tmp/venv}"
if [ ! -x "$venv/bin/maturin" ]; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r python/requirements-test.txt
fi
# The workspace's target dir (CARGO_TARGET_DIR and build.target-dir honoured).
target_dir="$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
start=$(date +%s)
CARGO_TARGET_DIR="$target_dir" "$venv/bin/maturin" build --profile "${AUTOML_PY_PROFILE:-dev}" --quiet \
  -m crates/python/Cargo.toml -i "$venv/bin/python" --out "$tmp/wheels"
wheel="$(ls "$tmp"/wheels/*.whl)"
echo "python: built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB) in $(($(date +%s) - start)) s"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
cd python
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "python: pytest collected no test" >&2
  exit 1
fi
exit "$rc"
