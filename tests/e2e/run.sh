#!/usr/bin/env bash
# The StatefulSet replica run (stage 5 of scripts/test.sh): renders the chart with Helm 4,
# runs the pods its StatefulSet would create with podman (real image, real claims as named
# volumes, real DNS names on a podman network this run creates) and checks the StatefulSet
# behaviour with pytest. See tests/e2e/replicas.py and docs/statefulset.md.
#
# Usage: tests/e2e/run.sh [pytest arguments]
# Everything the run creates carries the label app-rust-e2e.run=<run id> and is removed on
# exit, pass or fail (the pytest fixtures remove it; this trap catches a killed pytest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

# Idempotent and fast when already installed; makes this stage runnable on its own.
for installer in install-podman.sh install-podman-dns.sh install-helm.sh install-python.sh; do
  bash "$root/scripts/tools/$installer" >/dev/null
done

# Always build: an image left in the store by an older checkout would test old code. Cargo
# and buildah reuse their caches, so this is quick after the image stage.
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

echo "replica run $run_id: helm4 $(helm4 version --template '{{.Version}}'), $(podman --version), network backend $(podman info --format '{{.Host.NetworkBackend}}')"
cd "$root/tests/e2e"
"$APP_RUST_TOOLS/venv/chart/bin/python" -m pytest -q -p no:cacheprovider "$@"
