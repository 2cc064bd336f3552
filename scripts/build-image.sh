#!/usr/bin/env bash
# Builds the app-rust image offline (no registry, no Docker engine) from the repository's
# own Dockerfile, with buildah:
#   1. cargo builds a fully static binary for the host triple (static glibc, crt-static),
#   2. buildah builds the Dockerfile's `runtime` stage, with the two input stages replaced
#      by local directories through named build contexts:
#        app-binary=DIR  holding DIR/app-rust      (the binary from step 1, stripped)
#        busybox=DIR     holding DIR/bin/busybox   (Debian's busybox-static, for `cat`)
# The result is tagged app-rust:<version from Cargo.toml>, the reference the Helm chart uses.
#
# Usage: scripts/build-image.sh [--tag IMAGE_REF]
#   --tag IMAGE_REF   tag to build instead of app-rust:<version> (the tests use a unique one)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="${2:?--tag needs an image reference}"; shift 2 ;;
    --tag=*) tag="${1#--tag=}"; shift ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

for tool in buildah busybox; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-image: '$tool' is missing; installing podman/buildah/busybox-static" >&2
    bash "$root/scripts/tools/install-podman.sh"
    break
  fi
done

version="$(cargo metadata --no-deps --format-version 1 --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="app-rust"))')"
tag="${tag:-app-rust:$version}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
[ -n "$triple" ] || { echo "build-image: could not read the host triple from 'rustc -vV'" >&2; exit 1; }

echo "==> cargo build --release --target $triple (static glibc)"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$triple" --bin app-rust
binary="$root/target/$triple/release/app-rust"

# A dynamically linked binary would build fine and then fail to start FROM scratch.
assert_static() {
  if readelf -l "$1" | grep -q 'Requesting program interpreter'; then
    echo "build-image: $1 is dynamically linked; it cannot run in a FROM scratch image" >&2
    exit 1
  fi
}

busybox_bin="$(command -v busybox)"
busybox_bin="$(readlink -f "$busybox_bin")"
assert_static "$binary"
assert_static "$busybox_bin"

contexts="$(mktemp -d)"
trap 'rm -rf "$contexts"' EXIT
mkdir -p "$contexts/app-binary" "$contexts/busybox/bin"
cp "$binary" "$contexts/app-binary/app-rust"
strip "$contexts/app-binary/app-rust"
cp "$busybox_bin" "$contexts/busybox/bin/busybox"

echo "==> buildah bud --target runtime -t $tag"
buildah bud --no-cache --force-rm \
  --file "$root/Dockerfile" \
  --target runtime \
  --build-context "app-binary=$contexts/app-binary" \
  --build-context "busybox=$contexts/busybox" \
  --build-arg "APP_VERSION=$version" \
  --tag "$tag" \
  "$root"
echo "==> built $tag"
