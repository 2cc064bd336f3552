#!/usr/bin/env bash
# Benchmark of the release binary: durable visits on / against /healthz of the same
# process in the same run, latency, memory and time to ready. Reports ratios, because
# this machine is shared and noisy. Usage: bench/run.sh [--quick]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=../scripts/tools/env.sh
source scripts/tools/env.sh
apt_install wrk
ensure_venv bench "matplotlib==3.10.7"

cargo build --release --locked --quiet
exec "$APP_RUST_TOOLS/venv/bench/bin/python" bench/bench.py --binary target/release/app-rust "$@"
