#!/usr/bin/env bash
# A Python venv with matplotlib, for the benchmark's throughput plot.
set -euo pipefail
tools="${APP_RUST_TOOLS:-$HOME/.cache/app-rust-tools}"
venv="$tools/venv-bench"
if ! "$venv/bin/python" -c "import matplotlib" 2>/dev/null; then
  mkdir -p "$tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "matplotlib==3.10.7"
fi
