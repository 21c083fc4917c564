#!/usr/bin/env bash
# Validate the Kubernetes recipe offline (no cluster here; `kubectl --dry-run=client` would
# still ask a server): every deploy/k8s/*.yaml against the Kubernetes API schemas with
# kubernetes-validate --strict (unknown fields are errors), then check_manifests.py for what the
# schemas cannot see. kubernetes-validate comes from PyPI, pinned in requirements.txt, into a
# venv in a temp dir (AUTOML_K8S_VENV to keep one between runs).
# Needs python3 with venv (Debian: python3-venv, installed here when missing and root).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# The oldest Kubernetes still commonly run and the newest the validator knows.
k8s_versions="${AUTOML_K8S_VERSIONS:-1.28.0 1.37.0}"
if [ -n "${AUTOML_K8S_VENV:-}" ]; then
  venv="$AUTOML_K8S_VENV"
else
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  venv="$tmp/venv"
fi
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
for version in $k8s_versions; do
  "$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$version" "$root"/deploy/k8s/*.yaml
  echo "k8s check: deploy/k8s/*.yaml valid against the Kubernetes $version schemas"
done
"$venv/bin/python" "$here/check_manifests.py" "$root/deploy"
