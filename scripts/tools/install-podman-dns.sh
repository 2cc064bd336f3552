#!/usr/bin/env bash
# Installs the DNS plugin of podman's network backend, idempotently, so that containers on a
# podman network the tests create resolve each other by name and by --network-alias:
#   CNI backend (Debian 12's podman 4.3 default): golang-github-containernetworking-plugin-dnsname
#   netavark backend:                              aardvark-dns
# The StatefulSet replica run (tests/e2e) needs it: each pod gets its stable DNS names
# (<pod>.<headless service>.<namespace>.svc.cluster.local) as network aliases.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

# This script sorts before install-podman.sh: make sure podman is there first.
command -v podman >/dev/null 2>&1 || bash "$here/install-podman.sh"

backend="$(podman info --format '{{.Host.NetworkBackend}}')"
case "$backend" in
  cni) package=golang-github-containernetworking-plugin-dnsname ;;
  netavark) package=aardvark-dns ;;
  *) echo "install-podman-dns: unknown podman network backend '$backend'" >&2; exit 1 ;;
esac

apt_install "$package"
echo "install-podman-dns: $package ($backend backend)"
