#!/usr/bin/env bash
# Prometheus 3 and its promtool beside Debian bookworm's Prometheus 2.42 (install-prometheus.sh),
# idempotently: the monitoring tests run the chart's rules on both majors, because clusters
# run both. Bookworm has no Prometheus 3, so this takes Debian unstable's `prometheus` and
# `promtool` packages without adding unstable to apt: the suite's InRelease is checked with
# gpgv against debian-archive-keyring (accepted as apt accepts it), the package list against
# the hash it signs, each .deb against the hash the list gives, and the binaries of this
# machine's architecture are unpacked into $APP_RUST_TOOLS/prometheus3/VERSION (bin/ links to
# the one installed last). Unstable moves, so the version is whichever 3.x it holds when this
# first runs; the tests print it.
# (Valid-Until is not checked: the signature and the hash chain are.)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

home="$APP_RUST_TOOLS/prometheus3"
if "$home/bin/prometheus" --version 2>/dev/null | grep -q '^prometheus, version 3\.' &&
  "$home/bin/promtool" --version 2>/dev/null | grep -q '^promtool, version 3\.'; then
  echo "prometheus 3 installed: $("$home/bin/prometheus" --version 2>&1 | sed -n 1p)"
  exit 0
fi
apt_install gpgv debian-archive-keyring curl xz-utils

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
arch="$(dpkg --print-architecture)"
keyring="${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Fetches URL into FILE and fails unless its SHA-256 is HASH.
fetch_verified() {
  local url="$1" file="$2" hash="$3"
  curl -fsSL --retry 3 -o "$file" "$url"
  echo "$hash  $file" | sha256sum --check --quiet -
}

curl -fsSL --retry 3 -o "$work/InRelease" "$mirror/dists/sid/InRelease"
# Accepted like apt accepts it: at least one valid signature by a key of the keyring and no bad
# one. A signature by a key this machine's keyring does not have yet (the archive signs with
# two) is not an error, so gpgv's exit status alone cannot decide.
status="$(gpgv --status-fd 1 --keyring "$keyring" --output "$work/Release" "$work/InRelease" \
  2>"$work/gpgv.log" || true)"
if grep -q '^\[GNUPG:\] BADSIG' <<<"$status" || ! grep -q '^\[GNUPG:\] VALIDSIG' <<<"$status"; then
  cat "$work/gpgv.log" >&2
  echo "sid's InRelease from $mirror has no valid signature by a key of $keyring (above)" >&2
  exit 1
fi
# Only what gpgv printed (the signed text) is read from here on.
list_hash="$(awk '/^SHA256:/ { in_sha = 1; next } /^[^ ]/ { in_sha = 0 }
  in_sha && $3 == list { print $1 }' list="main/binary-$arch/Packages.xz" "$work/Release")"
[ -n "$list_hash" ] || { echo "no main/binary-$arch/Packages.xz in sid's Release" >&2; exit 1; }
fetch_verified "$mirror/dists/sid/main/binary-$arch/Packages.xz" "$work/Packages.xz" "$list_hash"
xz -dc "$work/Packages.xz" >"$work/Packages"

version=""
for package in prometheus promtool; do
  # The package's stanza: "Version Filename SHA256".
  read -r pkg_version filename hash < <(awk -v want="$package" '
    /^Package: / { name = $2 } /^Version: / { v = $2 } /^Filename: / { f = $2 }
    /^SHA256: / { h = $2 }
    /^$/ { if (name == want) { print v, f, h; exit } name = "" }' "$work/Packages")
  case "${pkg_version:-}" in
    3.*) ;;
    *) echo "sid's $package is '${pkg_version:-missing}', not a 3.x" >&2; exit 1 ;;
  esac
  [ -z "$version" ] || [ "$version" = "$pkg_version" ] ||
    { echo "sid's prometheus ($version) and promtool ($pkg_version) differ" >&2; exit 1; }
  version="$pkg_version"
  echo "fetching $filename"
  fetch_verified "$mirror/$filename" "$work/$package.deb" "$hash"
  dpkg-deb -x "$work/$package.deb" "$work/root"
done

target="$home/$version"
rm -rf "$target"
mkdir -p "$target"
install -m 0755 "$work/root/usr/bin/prometheus" "$work/root/usr/bin/promtool" "$target/"
ln -sfn "$version" "$home/bin"
"$home/bin/prometheus" --version 2>&1 | sed -n 1p
