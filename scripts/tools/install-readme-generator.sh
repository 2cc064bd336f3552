#!/usr/bin/env bash
# Installs @bitnami/readme-generator-for-helm (the parameters table of charts/*/README.md is
# generated from the `## @param` comments in values.yaml) into $APP_RUST_TOOLS, idempotently.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# Node and npm come with the machine image; on a bare Debian 12 take them from Debian.
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
version="2.7.2"
prefix="$APP_RUST_TOOLS/npm/readme-generator"
bin="$APP_RUST_TOOLS/bin"
mkdir -p "$bin" "$prefix"
installed="$(node -p "require('$prefix/node_modules/@bitnami/readme-generator-for-helm/package.json').version" 2>/dev/null || true)"
if [ "$installed" = "$version" ]; then
  echo "readme-generator-for-helm $version already installed"
else
  npm install --silent --no-audit --no-fund --prefix "$prefix" "@bitnami/readme-generator-for-helm@$version"
  echo "readme-generator-for-helm $version installed"
fi
ln -sfn "$prefix/node_modules/.bin/readme-generator" "$bin/readme-generator"
