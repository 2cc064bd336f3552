#!/usr/bin/env bash
# Installs @bitnami/readme-generator-for-helm (the parameters table of charts/*/README.md is
# generated from the `## @param` comments in values.yaml) into $APP_RUST_TOOLS, idempotently.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
ensure_npm_package readme-generator @bitnami/readme-generator-for-helm 2.7.2
mkdir -p "$APP_RUST_TOOLS/bin"
ln -sfn "$APP_RUST_TOOLS/npm/readme-generator/node_modules/.bin/readme-generator" \
  "$APP_RUST_TOOLS/bin/readme-generator"
