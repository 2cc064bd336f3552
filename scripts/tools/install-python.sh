#!/usr/bin/env bash
# Python tools for the chart tests, each set in its own venv under $APP_RUST_TOOLS, idempotently:
#   venv/chart   pytest, pyyaml, kubernetes-validate (offline Kubernetes JSON schemas), yamllint
#   venv/checkov checkov (about 300 MB of dependencies that must not clash with the others)
# A venv is (re)built only when its pinned requirement list changed; the console scripts are
# linked into $APP_RUST_TOOLS/bin, which scripts/tools/env.sh puts on PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
bin="$APP_RUST_TOOLS/bin"
mkdir -p "$bin" "$APP_RUST_TOOLS/venv"

# Debian's own python3 ships venv/ensurepip separately (python3-venv).
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

# name  "pinned requirements"  "console scripts to link"
ensure_venv() {
  local name="$1" reqs="$2" scripts="$3"
  local dir="$APP_RUST_TOOLS/venv/$name"
  local stamp="$dir/.requirements"
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$reqs" ]; then
    echo "venv/$name up to date"
  else
    echo "building venv/$name: $reqs"
    rm -rf "$dir"
    python3 -m venv "$dir"
    local -a req_list
    read -ra req_list <<<"$reqs"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${req_list[@]}"
    printf '%s' "$reqs" >"$stamp"
  fi
  local s
  for s in $scripts; do
    ln -sfn "$dir/bin/$s" "$bin/$s"
  done
}

ensure_venv chart "pytest==9.2.0 pyyaml==6.0.3 kubernetes-validate==1.37.0 yamllint==1.38.0" \
  "kubernetes-validate yamllint"
ensure_venv checkov "checkov==3.3.30" "checkov"
