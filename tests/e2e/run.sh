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
# shellcheck source=setup.sh
source "$root/tests/e2e/setup.sh"

echo "replica run $run_id: helm4 $(helm4 version --template '{{.Version}}'), $(podman --version), network backend $(podman info --format '{{.Host.NetworkBackend}}')"
cd "$root/tests/e2e"
"$APP_RUST_TOOLS/venv/chart/bin/python" -m pytest -q -p no:cacheprovider "$@"
