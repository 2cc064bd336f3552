# Sourced (not executed) by the test scripts: puts the project's installed tools on PATH.
# shellcheck shell=bash
export APP_RUST_TOOLS="${APP_RUST_TOOLS:-$HOME/.cache/app-rust-tools}"
case ":$PATH:" in
  *":$APP_RUST_TOOLS/bin:"*) ;;
  *) export PATH="$PATH:$APP_RUST_TOOLS/bin" ;;
esac
