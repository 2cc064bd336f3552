#!/usr/bin/env bash
# The monitoring stage (called by scripts/test.sh): the chart's alert rules through promtool
# (check rules, and unit tests in which each alert fires and stays silent), then a real
# Prometheus on 127.0.0.1 that scrapes two app-rust processes and evaluates every alert and
# dashboard expression. Tools come from scripts/tools/install-*.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

# Idempotent and fast when already installed; makes this stage runnable on its own.
for installer in install-helm.sh install-python.sh install-prometheus.sh; do
  bash "$root/scripts/tools/$installer" >/dev/null
done
(cd "$root" && cargo build --locked --quiet --bin app-rust)

prometheus --version 2>&1 | sed -n 1p
cd "$root/tests/monitoring"
PYTHONDONTWRITEBYTECODE=1 exec "$APP_RUST_TOOLS/venv/chart/bin/python" -m pytest -q -p no:cacheprovider "$@"
