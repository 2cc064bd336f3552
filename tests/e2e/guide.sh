#!/usr/bin/env bash
# Refreshes the captured output in docs/statefulset.md from a real podman replica run
# (tests/e2e/guide.py). Same tools, image and cleanup as tests/e2e/run.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=setup.sh
source "$root/tests/e2e/setup.sh"
"$APP_RUST_TOOLS/venv/chart/bin/python" "$root/tests/e2e/guide.py"
