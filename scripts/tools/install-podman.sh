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
# shellcheck source=scripts/tools/env.sh
source "$here/env.sh"

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

packages=(podman buildah runc busybox-static)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-podman: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-podman: podman, buildah, runc and busybox-static already installed"
fi

conf=/etc/containers/containers.conf
$sudo_cmd mkdir -p "$(dirname "$conf")"
[ -e "$conf" ] || $sudo_cmd touch "$conf"

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
    $sudo_cmd cp "$tmp" "$file"
    rm -f "$tmp"
    echo "install-podman: set [$table] $key in $file"
  fi
}

set_toml_key "$conf" containers default_ulimits '["nofile=1024:1024", "nproc=1024:1024"]'
set_toml_key "$conf" engine runtime '"runc"'

# podman-compose, pinned, in its own venv (rebuilt only when the pin changes).
compose_req="podman-compose==1.6.0"
venv="$APP_RUST_TOOLS/venv/podman-compose"
if [ -x "$venv/bin/podman-compose" ] && [ "$(cat "$venv/.requirements" 2>/dev/null)" = "$compose_req" ]; then
  :
else
  echo "install-podman: building venv/podman-compose: $compose_req"
  rm -rf "$venv"
  mkdir -p "$APP_RUST_TOOLS/venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$compose_req"
  printf '%s' "$compose_req" >"$venv/.requirements"
fi
mkdir -p "$APP_RUST_TOOLS/bin"
ln -sfn "$venv/bin/podman-compose" "$APP_RUST_TOOLS/bin/podman-compose"
