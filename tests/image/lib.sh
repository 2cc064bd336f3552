# Sourced by the image test scripts (not executed): what they share.
# Set $step (e.g. "compose: ") before sourcing to prefix the messages.
# shellcheck shell=bash

fail() { echo "FAIL: ${step:-}$*" >&2; exit 1; }
ok() { echo "ok: ${step:-}$*"; }

# The host port podman chose for a container's port 8080, published as 127.0.0.1::8080
# (an empty host port: podman picks a free one, so no two runs race for a port).
published_port() {
  local mapping
  mapping="$(podman port "$1" 8080/tcp)" || fail "$1 publishes no port 8080"
  echo "${mapping##*:}"
}
