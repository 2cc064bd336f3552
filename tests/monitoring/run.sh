#!/usr/bin/env bash
# The monitoring stage (called by scripts/test.sh): the chart's alert rules through promtool
# (check rules, and unit tests in which each alert fires and stays silent), then a real
# Prometheus on 127.0.0.1 that scrapes two app-rust processes and evaluates every alert and
# dashboard expression. All of it twice: with Debian bookworm's Prometheus 2.42 and with a
# Prometheus 3 (3.0 changed the query language and the scrape in ways rules can trip on).
# Tools come from scripts/tools/install-*.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

# Idempotent and fast when already installed; makes this stage runnable on its own.
for installer in install-helm.sh install-python.sh install-prometheus.sh install-prometheus3.sh; do
  bash "$root/scripts/tools/$installer" >/dev/null
done
(cd "$root" && cargo build --locked --quiet --bin app-rust)

cd "$root/tests/monitoring"
# The tests run `prometheus` and `promtool` from PATH: each pass puts one major first, and
# checks that it did.
for pass in "2:/usr/bin" "3:$APP_RUST_TOOLS/prometheus3/bin"; do
  major="${pass%%:*}" bin="${pass#*:}"
  version="$(PATH="$bin:$PATH" prometheus --version 2>&1 | sed -n 1p)"
  echo "$version"
  case "$version" in
    "prometheus, version $major."*) ;;
    *) echo "expected Prometheus $major.x first on PATH from $bin" >&2; exit 1 ;;
  esac
  PATH="$bin:$PATH" PYTHONDONTWRITEBYTECODE=1 \
    "$APP_RUST_TOOLS/venv/chart/bin/python" -m pytest -q -p no:cacheprovider "$@"
done
