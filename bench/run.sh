#!/usr/bin/env bash
# Benchmark of the release binary against its two references in the same run: the ceiling
# (bench/ceiling.rs) and the Flask peer (bench/flask_peer.py under gunicorn -w 4). Reports
# ratios, medians over rounds, because this machine is shared and noisy.
# Usage: bench/run.sh [--rounds N] [--seconds S] [--quick] [--data-root DIR] [--write-docs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=env.sh
source bench/env.sh

cargo build --release --locked --quiet --bin app-rust --example ceiling
exec "$BENCH_PYTHON" bench/bench.py --binary target/release/app-rust \
  --ceiling target/release/examples/ceiling --gunicorn "$GUNICORN" "$@"
