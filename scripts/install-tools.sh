#!/usr/bin/env bash
# Installs every tool the test suite needs, idempotently, on a fresh Debian machine.
# Each tool has its own script in scripts/tools/; this runs them all.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for installer in "$here"/tools/install-*.sh; do
  echo "==> ${installer##*/}"
  bash "$installer"
done
