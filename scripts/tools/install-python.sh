#!/usr/bin/env bash
# Python tools for the chart tests, each set in its own venv under $APP_RUST_TOOLS, idempotently:
#   venv/chart   pytest, pyyaml, kubernetes-validate (offline Kubernetes JSON schemas), yamllint
#   venv/checkov checkov (about 300 MB of dependencies that must not clash with the others)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
ensure_venv chart "pytest==9.2.0 pyyaml==6.0.3 kubernetes-validate==1.37.0 yamllint==1.38.0" \
  "kubernetes-validate yamllint"
ensure_venv checkov "checkov==3.3.30" "checkov"
