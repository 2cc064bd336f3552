#!/usr/bin/env bash
# Opt-in check of the users' path: builds the WHOLE Dockerfile (builder stage included,
# with its cache mounts, triple detection, static link and strip) as `docker build .`
# would, on a machine where the pinned base images cannot be pulled. Not part of
# scripts/test.sh: it needs the Debian mirror and crates.io and takes about 10 minutes.
#
# The two pinned base images are replaced, under their exact names, by local stand-ins
# through named build contexts (`--build-context <FROM name>=container-image://...`):
#   rust:X.Y.Z-slim-bookworm  Debian bookworm minbase (mmdebstrap) + gcc, libc6-dev,
#                             binutils, ca-certificates, as the official slim image, plus
#                             this machine's Rust toolchain, which must be version X.Y.Z;
#                             the host's CA bundle is added so cargo can reach crates.io
#                             from machines that intercept TLS.
#   busybox:X.Y.Z-musl        Debian's static busybox at /bin/busybox.
# The result goes through the same image checks as the offline build, and a smoke run.
# Stand-ins and the built image are removed on exit; the rootfs tarball is cached in
# $APP_RUST_TOOLS/standin/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tests/image"
bash "$root/scripts/tools/install-podman.sh" >/dev/null
# shellcheck source=scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

step="user-path: "
# shellcheck source=lib.sh
source "$here/lib.sh"

rust_from="$(sed -n 's/^FROM \(docker\.io\/library\/rust:[^ ]*\) AS builder$/\1/p' "$root/Dockerfile")"
busybox_from="$(sed -n 's/^FROM \(docker\.io\/library\/busybox:[^ ]*\) AS busybox$/\1/p' "$root/Dockerfile")"
{ [ -n "$rust_from" ] && [ -n "$busybox_from" ]; } || fail "cannot find the builder/busybox FROM lines in the Dockerfile"
rust_version="$(sed -n 's/^.*rust:\([0-9.]*\)-.*$/\1/p' <<<"$rust_from")"
host_rust="$(rustc -vV | sed -n 's/^release: //p')"
[ "$host_rust" = "$rust_version" ] || fail "the stand-in needs Rust $rust_version; this machine has $host_rust"
version="$(cargo metadata --no-deps --format-version 1 --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="app-rust"))')"
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac

id="userpath-$$-$RANDOM"
standin_rust="localhost/app-rust-$id-standin-rust:latest"
standin_busybox="localhost/app-rust-$id-standin-busybox:latest"
image="localhost/app-rust-$id:$version"
ctr="app-rust-$id"
work="$(mktemp -d)"
cleanup() {
  local rc=$?
  podman rm -f -v -t 5 "$ctr" >/dev/null 2>&1 || true
  podman rmi -f "$image" "$standin_rust" "$standin_busybox" >/dev/null 2>&1 || true
  rm -rf "$work"
  [ "$rc" -eq 0 ] || echo "tests/image/user-path.sh: FAILED (exit $rc)" >&2
  exit "$rc"
}
trap cleanup EXIT

cache="$APP_RUST_TOOLS/standin"
rootfs="$cache/rootfs-bookworm.tar"
if [ ! -s "$rootfs" ]; then
  apt_install mmdebstrap
  mkdir -p "$cache"
  echo "==> mmdebstrap bookworm (minbase + gcc libc6-dev binutils ca-certificates)"
  mmdebstrap --quiet --variant=minbase --include=gcc,libc6-dev,binutils,ca-certificates \
    bookworm "$rootfs.partial" http://deb.debian.org/debian
  mv "$rootfs.partial" "$rootfs"
fi

echo "==> stand-in $rust_from"
sysroot="$(rustc --print sysroot)"
mkdir -p "$work/rust" "$work/ca" "$work/busybox/bin"
ln "$rootfs" "$work/rust/rootfs.tar" 2>/dev/null || cp "$rootfs" "$work/rust/rootfs.tar"
cp /etc/ssl/certs/ca-certificates.crt "$work/ca/"
cat >"$work/rust/Containerfile" <<'EOF'
FROM scratch
ADD rootfs.tar /
COPY --from=toolchain bin /usr/local/rust/bin
COPY --from=toolchain lib /usr/local/rust/lib
COPY --from=toolchain libexec /usr/local/rust/libexec
COPY --from=ca ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN mkdir -p /usr/local/cargo/bin && ln -s /usr/local/rust/bin/cargo /usr/local/rust/bin/rustc /usr/local/cargo/bin/
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
buildah bud --no-cache --force-rm --quiet --pull=never --build-context "toolchain=$sysroot" --build-context "ca=$work/ca" \
  -t "$standin_rust" "$work/rust" >/dev/null

echo "==> stand-in $busybox_from"
cp "$(readlink -f "$(command -v busybox)")" "$work/busybox/bin/busybox"
printf 'FROM scratch\nCOPY bin/busybox /bin/busybox\n' >"$work/busybox/Containerfile"
buildah bud --no-cache --force-rm --quiet --pull=never -t "$standin_busybox" "$work/busybox" >/dev/null

echo "==> the users' build: all stages of $root/Dockerfile"
start=$SECONDS
buildah bud --no-cache --force-rm --pull=never \
  --build-context "$rust_from=container-image://$standin_rust" \
  --build-context "$busybox_from=container-image://$standin_busybox" \
  -t "$image" "$root"
echo "ok: user-path: built in $((SECONDS - start))s"

podman save --quiet --format oci-archive -o "$work/image.tar" "$image"
python3 "$here/image_check.py" "$work/image.tar" "$version" "$arch" - "${IMAGE_MAX_COMPRESSED_BYTES:-20000000}"

podman run -d --name "$ctr" --read-only -p "127.0.0.1::8080" "$image" >/dev/null
port="$(published_port "$ctr")"
podman exec "$ctr" app-rust probe --wait-ms 20000 http://127.0.0.1:8080/readyz >/dev/null || fail "not ready"
curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$port/"
[ "$(podman exec "$ctr" cat /app/data/visits)" = 1 ] || fail "the visit was not counted"
podman stop -t 10 "$ctr" >/dev/null
[ "$(podman inspect -f '{{.State.ExitCode}}' "$ctr")" = 0 ] || fail "no clean exit on SIGTERM"
echo "ok: user-path: the users' image serves, counts, and stops cleanly"
