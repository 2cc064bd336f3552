#!/usr/bin/env bash
# Benchmark of the release binary against its two references in the same run: the ceiling
# (bench/ceiling.rs) and the Flask peer (bench/flask_peer.py under gunicorn -w 4). Reports
# ratios, medians over rounds, because this machine is shared and noisy.
# Usage: bench/run.sh [--rounds N] [--seconds S] [--quick] [--data-root DIR] [--write-docs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=../scripts/tools/env.sh
source scripts/tools/env.sh
apt_install wrk
ensure_venv bench "matplotlib==3.10.7 flask==3.1.2 gunicorn==23.0.0"

cargo build --release --locked --quiet --bin app-rust --example ceiling
exec "$APP_RUST_TOOLS/venv/bench/bin/python" bench/bench.py --binary target/release/app-rust \
  --ceiling target/release/examples/ceiling --gunicorn "$APP_RUST_TOOLS/venv/bench/bin/gunicorn" "$@"
