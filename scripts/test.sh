#!/usr/bin/env bash
# The whole test suite: what README.md calls "run all tests" and what CI runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-tools.sh
# shellcheck source=tools/env.sh
source scripts/tools/env.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --locked
echo "==> bench/bounds.sh --check"
bash bench/bounds.sh --check

for stage in tests/chart/run.sh tests/monitoring/run.sh tests/cluster-e2e/check-offline.sh tests/image/run.sh tests/e2e/run.sh; do
  echo "==> $stage"
  bash "$stage"
done
echo "==> all test stages passed"
