#!/usr/bin/env bash
# The chart test stage (called by scripts/test.sh): Helm 3 and 4 lint/template/package/dry-run,
# kubernetes-validate --strict for 1.32 and 1.37, yamllint, checkov, the chart unit tests and the
# docs' helm and kubectl commands, all as pytest tests over real `helm` and `kubectl`. Tools come from scripts/tools/install-*.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

# Idempotent and fast when already installed; makes this stage runnable on its own.
for installer in install-helm.sh install-python.sh install-readme-generator.sh install-crd-validator.sh; do
  bash "$root/scripts/tools/$installer" >/dev/null
done

# The tests run the real `app-rust check-config` on the rendered configuration (a no-op when
# `cargo test` already built it).
(cd "$root" && cargo build --locked --quiet --bin app-rust)

echo "helm3 $(helm3 version --template '{{.Version}}'), helm4 $(helm4 version --template '{{.Version}}')"
cd "$root/tests/chart"

PYTHONDONTWRITEBYTECODE=1 exec "$APP_RUST_TOOLS/venv/chart/bin/python" -m pytest -q -p no:cacheprovider "$@"
