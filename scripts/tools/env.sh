# Sourced (not executed) by the install and test scripts: puts the project's installed tools
# on PATH and holds the helpers every installer shares (Debian packages, Python venvs, npm
# packages). Everything they install goes to $APP_RUST_TOOLS, except Debian packages.
# shellcheck shell=bash
export APP_RUST_TOOLS="${APP_RUST_TOOLS:-$HOME/.cache/app-rust-tools}"
case ":$PATH:" in
  *":$APP_RUST_TOOLS/bin:"*) ;;
  *) export PATH="$PATH:$APP_RUST_TOOLS/bin" ;;
esac

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing (apt-get update first: a fresh machine has
# no package lists); does nothing when all are installed.
apt_install() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# A Python venv $APP_RUST_TOOLS/venv/NAME holding exactly the pinned requirements, rebuilt
# only when they change; its console scripts SCRIPTS are linked into $APP_RUST_TOOLS/bin.
# Usage: ensure_venv NAME "pkg==1 other==2" "script another"
ensure_venv() {
  local name="$1" reqs="$2" scripts="${3:-}"
  local dir="$APP_RUST_TOOLS/venv/$name"
  local stamp="$dir/.requirements" script
  # Debian's own python3 ships venv/ensurepip separately (python3-venv).
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$reqs" ]; then
    echo "venv/$name up to date"
  else
    echo "building venv/$name: $reqs"
    rm -rf "$dir"
    mkdir -p "$APP_RUST_TOOLS/venv"
    python3 -m venv "$dir"
    local -a req_list
    read -ra req_list <<<"$reqs"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${req_list[@]}"
    printf '%s' "$reqs" >"$stamp"
  fi
  mkdir -p "$APP_RUST_TOOLS/bin"
  for script in $scripts; do
    ln -sfn "$dir/bin/$script" "$APP_RUST_TOOLS/bin/$script"
  done
}

# An npm package at an exact version under $APP_RUST_TOOLS/npm/NAME, installed only when
# another version (or none) is there. Prints the prefix on stdout's last line.
# Usage: ensure_npm_package NAME PACKAGE VERSION
ensure_npm_package() {
  local name="$1" package="$2" version="$3"
  local prefix="$APP_RUST_TOOLS/npm/$name" installed
  # Node and npm come with the machine image; on a bare Debian 12 take them from Debian.
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  mkdir -p "$prefix"
  installed="$(node -p "require('$prefix/node_modules/$package/package.json').version" 2>/dev/null || true)"
  if [ "$installed" = "$version" ]; then
    echo "$package $version already installed"
  else
    npm install --silent --no-audit --no-fund --prefix "$prefix" "$package@$version"
    echo "$package $version installed"
  fi
}
