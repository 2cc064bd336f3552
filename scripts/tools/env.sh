# Sourced (not executed) by the test scripts: puts the project's installed tools on PATH.
# shellcheck shell=bash
export APP_RUST_TOOLS="${APP_RUST_TOOLS:-$HOME/.cache/app-rust-tools}"
case ":$PATH:" in
  *":$APP_RUST_TOOLS/bin:"*) ;;
  *) export PATH="$PATH:$APP_RUST_TOOLS/bin" ;;
esac

# Installs Debian packages (apt-get update first: a fresh machine has no package lists).
apt_install() {
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "$@"
}
