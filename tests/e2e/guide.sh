#!/usr/bin/env bash
# Refreshes the captured output in docs/statefulset.md from a real podman replica run
# (tests/e2e/guide.py). Same tools, image and cleanup as tests/e2e/run.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/tools/env.sh
source "$root/scripts/tools/env.sh"
for installer in install-podman.sh install-podman-dns.sh install-helm.sh install-python.sh; do
  bash "$root/scripts/tools/$installer" >/dev/null
done
bash "$root/scripts/build-image.sh" >/dev/null

run_id="${APP_RUST_E2E_RUN:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}"
export APP_RUST_E2E_RUN="$run_id"
cleanup() {
  local sel="label=app-rust-e2e.run=$run_id"
  podman ps -aq --filter "$sel" | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
  podman volume ls -q --filter "$sel" | xargs -r podman volume rm -f >/dev/null 2>&1 || true
  podman network ls -q --filter "$sel" | xargs -r podman network rm -f >/dev/null 2>&1 || true
  rm -rf "${TMPDIR:-/tmp}/app-rust-e2e-$run_id-"*
}
trap cleanup EXIT
"$APP_RUST_TOOLS/venv/chart/bin/python" "$root/tests/e2e/guide.py"
