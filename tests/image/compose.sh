#!/usr/bin/env bash
# Runs the shipped docker-compose.yml with podman-compose, as a user would, in a scratch
# copy of the project directory, and checks that the ./data bind mount shows the count
# on the host, that the compose health check passes, and that `down` leaves the count.
# Called by tests/image/run.sh, which owns the cleanup (it runs `down` for the project).
# Usage: compose.sh IMAGE_REF WORK_DIR PROJECT_NAME
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
image="$1" dir="$2" project="$3"
# shellcheck source=scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

step="compose: "
# shellcheck source=lib.sh
source "$root/tests/image/lib.sh"

echo "==> docker-compose.yml with podman-compose"
mkdir -p "$dir/data"
cp "$root/docker-compose.yml" "$dir/docker-compose.yml"
if [ "$(id -u)" -eq 0 ]; then
  # The documented default: ./data owned by the image's user.
  chown 10001:10001 "$dir/data"
  uid=10001 gid=10001
else
  # The documented alternative: run as yourself so ./data stays yours.
  export APP_UID APP_GID
  APP_UID="$(id -u)" APP_GID="$(id -g)"
  uid="$APP_UID" gid="$APP_GID"
fi
# An empty APP_RUST_PORT publishes 127.0.0.1::8080: podman picks the host port.
export APP_RUST_IMAGE="$image" APP_RUST_PORT=""
cd "$dir"
podman-compose -p "$project" up -d --no-build >"$dir/up.log" 2>&1 || { cat "$dir/up.log" >&2; fail "podman-compose up failed"; }
name="$(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}')"
[ -n "$name" ] || fail "no container for project $project"
port="$(published_port "$name")"

deadline=$((SECONDS + 30))
until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/readyz"; do
  if [ "$SECONDS" -ge "$deadline" ] || [ "$(podman inspect -f '{{.State.Running}}' "$name")" != true ]; then
    podman logs "$name" 2>&1 | tail -n 30 >&2
    fail "service not ready on 127.0.0.1:$port"
  fi
  sleep 0.2
done

[ "$(podman inspect -f '{{.Config.User}}' "$name")" = "$uid:$gid" ] || fail "container user is not $uid:$gid"
[ "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$name")" = true ] || fail "compose service is not read-only"
for _ in 1 2; do curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$port/"; done
[ "$(cat "$dir/data/visits")" = 2 ] || fail "./data/visits on the host holds '$(cat "$dir/data/visits" 2>&1)', expected 2"
ok "two visits show up in ./data/visits on the host"

podman healthcheck run "$name" >/dev/null || fail "the compose health check (app-rust probe /readyz) failed"
ok "health check passes"

podman-compose -p "$project" down -t 10 >"$dir/down.log" 2>&1 || { cat "$dir/down.log" >&2; fail "podman-compose down failed"; }
[ "$(cat "$dir/data/visits")" = 2 ] || fail "./data/visits changed after down"
ok "down keeps ./data/visits"
