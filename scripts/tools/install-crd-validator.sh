#!/usr/bin/env bash
# Installs @kubernetes-models/prometheus-operator (validators generated from the
# prometheus-operator API types) into $APP_RUST_TOOLS, idempotently. kubernetes-validate has no
# schemas for CRDs, so the chart tests validate the ServiceMonitor with this instead
# (tests/chart/validate-crds.mjs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
ensure_npm_package crd-validator @kubernetes-models/prometheus-operator 6.0.0
