#!/usr/bin/env bash
# Two builds of app-rust against each other in one interleaved run (see bench/compare.py).
# Usage: bench/compare.sh BEFORE_BINARY [AFTER_BINARY] [--rounds N] [--seconds S] [--data-root DIR]
# AFTER_BINARY defaults to this checkout's release build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../scripts/tools/env.sh
source scripts/tools/env.sh
apt_install wrk
before="$(realpath "$1")"
shift
after="$root/target/release/app-rust"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  after="$(realpath "$1")"
  shift
else
  cargo build --release --locked --quiet
fi
cd bench
exec python3 compare.py --before "$before" --after "$after" "$@"
