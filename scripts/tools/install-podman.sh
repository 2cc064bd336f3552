#!/usr/bin/env bash
# Installs podman, buildah, runc and a static busybox (Debian packages) and writes the two
# settings podman needs on these machines into /etc/containers/containers.conf:
#   [containers] default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
#   [engine]     runtime = "runc"
# Without them podman fails with `setrlimit ... operation not permitted` (crun cannot raise
# limits in this sandbox). Also podman-compose (pinned, in its own venv under
# $APP_RUST_TOOLS, linked into $APP_RUST_TOOLS/bin) to test docker-compose.yml.
# Idempotent and fast when everything is already in place; other settings in
# containers.conf are kept as they are.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

apt_install podman buildah runc busybox-static

conf=/etc/containers/containers.conf
as_root mkdir -p "$(dirname "$conf")"
[ -e "$conf" ] || as_root touch "$conf"

# Sets KEY = VALUE in [TABLE] of a TOML file: replaces an existing KEY line in that table,
# adds the key under an existing [TABLE] header, or appends the table. Leaves everything else.
set_toml_key() {
  local file="$1" table="$2" key="$3" value="$4" tmp
  tmp="$(mktemp)"
  awk -v table="$table" -v key="$key" -v value="$value" '
    function emit() { print key " = " value; done = 1 }
    # Skips the continuation lines of a multi-line array value being replaced.
    depth > 0 { depth += gsub(/\[/, "[") - gsub(/\]/, "]"); next }
    /^[[:space:]]*\[/ {
      line = $0; sub(/#.*/, "", line); gsub(/[[:space:]]/, "", line)
      if (intable && !done) emit()
      intable = (line == "[" table "]"); seen = seen || intable
      print; next
    }
    intable && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" {
      if (!done) emit()
      rest = $0; sub(/^[^=]*=/, "", rest)
      depth = gsub(/\[/, "[", rest) - gsub(/\]/, "]", rest)
      next
    }
    { print }
    END {
      if (intable && !done) emit()
      if (!seen) { print ""; print "[" table "]"; emit() }
    }
  ' "$file" >"$tmp"
  if cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
  else
    as_root cp "$tmp" "$file"
    rm -f "$tmp"
    echo "install-podman: set [$table] $key in $file"
  fi
}

set_toml_key "$conf" containers default_ulimits '["nofile=1024:1024", "nproc=1024:1024"]'
set_toml_key "$conf" engine runtime '"runc"'

# podman-compose, pinned, in its own venv (rebuilt only when the pin changes).
ensure_venv podman-compose "podman-compose==1.6.0" "podman-compose"
