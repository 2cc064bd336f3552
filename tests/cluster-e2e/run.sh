#!/usr/bin/env bash
# The app-rust chart end to end on a real Kubernetes cluster (minikube, kind or any other):
# tests/cluster-e2e/run.sh --help. Needs python3, kubectl and helm; --load kind also docker and
# kind, --load minikube also minikube.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/suite.py" "$@"
