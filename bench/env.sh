# shellcheck shell=bash
# Sourced by the bench scripts that run the references: wrk, and the bench's own Python with
# matplotlib (the plot), Flask and gunicorn (the peer). Idempotent.
# shellcheck source=../scripts/tools/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/tools/env.sh"
apt_install wrk
ensure_venv bench "matplotlib==3.10.7 flask==3.1.2 gunicorn==23.0.0"
export BENCH_PYTHON="$APP_RUST_TOOLS/venv/bench/bin/python"
export GUNICORN="$APP_RUST_TOOLS/venv/bench/bin/gunicorn"
