#!/usr/bin/env bash
# What the goals of docs/performance.md would take: this checkout's release build beside builds
# with a guarantee taken out (the patches in bench/experiments/, measurements never to ship),
# each also with its access log off, against the ceiling and the Flask peer, interleaved.
# Usage: bench/bounds.sh [--rounds N] [--seconds S] [--data-root DIR]
#        bench/bounds.sh --check   (a test stage: every patch still applies and builds)
set -euo pipefail
# patched_copy runs in a command substitution: a failed git apply must stop the script.
shopt -s inherit_errexit
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

experiments="$root/target/bounds"
patches=(bench/experiments/*.patch)

# Prints the directory of a fresh copy of this checkout (uncommitted changes included) with
# the experiment $1 applied.
patched_copy() {
  local name="$1" src="$experiments/src-$1"
  rm -rf "$src"
  mkdir -p "$src"
  tar -C "$root" --exclude=./target --exclude=./.git --exclude=./data --exclude=./bench/results \
    --exclude=./.tools --exclude=__pycache__ -cf - . | tar -C "$src" -xf -
  # Outside any repository (the copy is in this one's target/), git apply patches the files
  # under the current directory.
  (cd "$src" && GIT_CEILING_DIRECTORIES="$experiments" git apply "$root/bench/experiments/$name.patch")
  echo "$src"
}

if [ "${1:-}" = "--check" ]; then
  for patch in "${patches[@]}"; do
    name="$(basename "$patch" .patch)"
    src="$(patched_copy "$name")"
    # The test suite's own target directory: the dependencies are checked already.
    CARGO_TARGET_DIR="$root/target" cargo check --manifest-path "$src/Cargo.toml" --locked --quiet --bin app-rust
    echo "$patch applies and builds"
  done
  exit 0
fi

# shellcheck source=env.sh
source bench/env.sh

cargo build --release --locked --quiet --bin app-rust --example ceiling
mkdir -p "$experiments/bin"
builds=()
for patch in "${patches[@]}"; do
  name="$(basename "$patch" .patch)"
  src="$(patched_copy "$name")"
  echo "building the experiment $name"
  # One target directory for every experiment, so that the dependencies build once.
  CARGO_TARGET_DIR="$experiments/target" cargo build --manifest-path "$src/Cargo.toml" \
    --release --locked --quiet --bin app-rust
  cp "$experiments/target/release/app-rust" "$experiments/bin/$name"
  builds+=(--experiment "$name=$experiments/bin/$name")
done

exec "$BENCH_PYTHON" bench/bounds.py --binary target/release/app-rust \
  --ceiling target/release/examples/ceiling --gunicorn "$GUNICORN" "${builds[@]}" "$@"
