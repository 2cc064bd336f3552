#!/usr/bin/env bash
# Installs @kubernetes-models/prometheus-operator (validators generated from the
# prometheus-operator API types) into $APP_RUST_TOOLS, idempotently. kubernetes-validate has no
# schemas for CRDs, so the chart tests validate the ServiceMonitor with this instead
# (tests/chart/validate-crds.mjs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# Node and npm come with the machine image; on a bare Debian 12 take them from Debian.
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
version="6.0.0"
prefix="$APP_RUST_TOOLS/npm/crd-validator"
mkdir -p "$prefix"
installed="$(node -p "require('$prefix/node_modules/@kubernetes-models/prometheus-operator/package.json').version" 2>/dev/null || true)"
if [ "$installed" = "$version" ]; then
  echo "@kubernetes-models/prometheus-operator $version already installed"
else
  npm install --silent --no-audit --no-fund --prefix "$prefix" "@kubernetes-models/prometheus-operator@$version"
  echo "@kubernetes-models/prometheus-operator $version installed"
fi
