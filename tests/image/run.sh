#!/usr/bin/env bash
# Image test stage (scripts/test.sh runs it): builds the image offline from the shipped
# Dockerfile with scripts/build-image.sh, then checks
#   - the Dockerfile itself (offline path cannot drift from what users build),
#   - the image: config, exact file list, the binary inside, compressed size <= budget,
#   - the running container (podman, published on 127.0.0.1 only): numeric non-root UID,
#     read-only root with a named data volume, `/` counts and `cat /app/data/visits`
#     shows it, probes answer and do not count, SIGTERM ends it cleanly and fast with the
#     count on disk, the count survives stop/start and a new container on the volume,
#   - docker-compose.yml with podman-compose: ./data bind mount shows the count on the host.
# Everything it creates has a unique name and is removed on exit, pass or fail.
# Env: IMAGE_MAX_COMPRESSED_BYTES (default 20000000), IMAGE_STOP_MAX_SECONDS (default 3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tests/image"
cd "$root"

bash "$root/scripts/tools/install-podman.sh" >/dev/null
# shellcheck source=scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

max_bytes="${IMAGE_MAX_COMPRESSED_BYTES:-20000000}"
stop_max_seconds="${IMAGE_STOP_MAX_SECONDS:-3}"

metadata="$(cargo metadata --no-deps --format-version 1 --manifest-path "$root/Cargo.toml")"
read -r version repository < <(python3 -c '
import json, sys
p = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "app-rust")
print(p["version"], p.get("repository") or "")' <<<"$metadata")
triple="$(rustc -vV | sed -n 's/^host: //p')"
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch="$(uname -m)" ;;
esac

id="imgtest-$$-$RANDOM"
image="localhost/app-rust-$id:$version"
ctx_image="localhost/app-rust-$id-context:latest"
ctr="app-rust-$id"
ctr2="app-rust-$id-second"
vol="app-rust-$id-data"
net="app-rust-$id-net"
compose_project="app-rust-$id-compose"
work="$(mktemp -d)"

cleanup() {
  local rc=$?
  if [ -e "$work/compose/docker-compose.yml" ] && command -v podman-compose >/dev/null 2>&1; then
    (cd "$work/compose" && podman-compose -p "$compose_project" down -t 5 >/dev/null 2>&1) || true
  fi
  podman rm -f -v -t 5 "$ctr" "$ctr2" >/dev/null 2>&1 || true
  podman ps -a --filter "label=io.podman.compose.project=$compose_project" -q | xargs -r podman rm -f -v -t 5 >/dev/null 2>&1 || true
  podman volume rm -f "$vol" >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
  podman rmi -f "$image" "$ctx_image" >/dev/null 2>&1 || true
  rm -rf "$work"
  if [ "$rc" -ne 0 ]; then echo "tests/image: FAILED (exit $rc)" >&2; fi
  exit "$rc"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$root/tests/image/lib.sh"

# GET URL [Accept]; sets $code, $body (file), $headers (file).
http_get() {
  local url="$1" accept="${2:-*/*}"
  body="$work/body" headers="$work/headers"
  code="$(curl -sS --max-time 5 -H "Accept: $accept" -o "$body" -D "$headers" -w '%{http_code}' "$url")" || code="000"
}

json_field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

dump_logs() { podman logs "$1" 2>&1 | tail -n 40 | sed 's/^/    | /' >&2 || true; }

wait_ready() {
  local name="$1" port="$2" deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if [ "$(podman inspect -f '{{.State.Running}}' "$name")" != "true" ]; then
      dump_logs "$name"; fail "$name exited before it became ready"
    fi
    http_get "http://127.0.0.1:$port/readyz"
    [ "$code" = 200 ] && return 0
    sleep 0.2
  done
  dump_logs "$name"; fail "$name not ready on 127.0.0.1:$port within 30s (last /readyz: $code)"
}

visits_of() {  # plain-text /visits of the container on port $1
  http_get "http://127.0.0.1:$1/visits"
  [ "$code" = 200 ] || fail "/visits answered $code"
  tr -d '\n' <"$body"
}

# Stops a container with SIGTERM and checks it exits 0 within the time bound.
stop_cleanly() {
  local name="$1" start end elapsed exit_code
  start="$(date +%s.%N)"
  podman stop -t 10 "$name" >/dev/null
  end="$(date +%s.%N)"
  elapsed="$(python3 -c "print(f'{$end - $start:.2f}')")"
  exit_code="$(podman inspect -f '{{.State.ExitCode}}' "$name")"
  if [ "$exit_code" != 0 ]; then dump_logs "$name"; fail "$name exited with $exit_code after SIGTERM, expected 0"; fi
  python3 -c "import sys; sys.exit(0 if $elapsed <= $stop_max_seconds else 1)" \
    || fail "$name took ${elapsed}s to stop on SIGTERM (bound ${stop_max_seconds}s)"
  ok "SIGTERM: $name exited 0 in ${elapsed}s"
}

echo "==> build the image offline: scripts/build-image.sh --tag $image"
bash "$root/scripts/build-image.sh" --tag "$image"
binary="$root/target/$triple/release/app-rust"
reference="$work/app-rust.stripped"
cp "$binary" "$reference" && strip "$reference"

echo "==> Dockerfile checks"
# What .dockerignore lets into the build context, listed from a real buildah build context.
printf 'FROM scratch\nCOPY . /context/\n' >"$work/Containerfile.context"
buildah bud --no-cache --force-rm --quiet -f "$work/Containerfile.context" -t "$ctx_image" "$root" >/dev/null
podman save --quiet --format oci-archive -o "$work/context.tar" "$ctx_image"
python3 - "$work/context.tar" >"$work/context.list" <<'PY'
import json, sys, tarfile
a = tarfile.open(sys.argv[1])
m = json.loads(a.extractfile("blobs/sha256/" + json.loads(a.extractfile("index.json").read())["manifests"][0]["digest"].split(":")[1]).read())
for layer in m["layers"]:
    with tarfile.open(fileobj=a.extractfile("blobs/sha256/" + layer["digest"].split(":")[1])) as lt:
        for member in lt.getmembers():
            name = member.name.lstrip("./")
            if name.startswith("context/") and not member.isdir():
                print(name[len("context/"):])
PY
python3 "$here/dockerfile_check.py" "$root" "$version" "$repository" \
  "$root/target/$triple/release/app-rust.d" "$work/context.list"

echo "==> image checks"
podman save --quiet --format oci-archive -o "$work/image.tar" "$image"
python3 "$here/image_check.py" "$work/image.tar" "$version" "$arch" "$reference" "$max_bytes" >"$work/image-check.out"
compressed="$(sed -n 's/^compressed_bytes=//p' "$work/image-check.out")"
ok "image config, file list, static binary; compressed size $compressed bytes ($(python3 -c "print(f'{$compressed/1e6:.2f}')") MB, budget $max_bytes)"

echo "==> run it: podman, --read-only, named volume, 127.0.0.1 only"
podman volume create "$vol" >/dev/null
podman run -d --name "$ctr" --read-only -v "$vol:/app/data" -p "127.0.0.1::8080" "$image" >/dev/null
port="$(published_port "$ctr")"
wait_ready "$ctr" "$port"
ok "ready on 127.0.0.1:$port"

[ "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$ctr")" = true ] || fail "root filesystem is not read-only"
if podman exec "$ctr" /bin/busybox touch /write-probe 2>"$work/touch.err"; then
  fail "writing to / succeeded in a --read-only container"
fi
grep -qi 'read-only' "$work/touch.err" || fail "write to / failed for another reason: $(cat "$work/touch.err")"
ok "root filesystem is read-only"

status="$(podman exec "$ctr" cat /proc/1/status)"
grep -Eq '^Uid:[[:space:]]+10001[[:space:]]+10001[[:space:]]+10001[[:space:]]+10001$' <<<"$status" \
  || fail "PID 1 does not run as UID 10001: $(grep '^Uid' <<<"$status")"
grep -Eq '^Gid:[[:space:]]+10001[[:space:]]+10001[[:space:]]+10001[[:space:]]+10001$' <<<"$status" \
  || fail "PID 1 does not run as GID 10001: $(grep '^Gid' <<<"$status")"
[ "$(podman exec "$ctr" cat /proc/1/cmdline | tr '\0' ' ')" = "/usr/local/bin/app-rust serve " ] \
  || fail "PID 1 is not '/usr/local/bin/app-rust serve'"
owner="$(podman exec "$ctr" /bin/busybox stat -c '%u:%g' /app/data)"
[ "$owner" = "10001:10001" ] || fail "/app/data on a fresh volume is owned by $owner, expected 10001:10001"
ok "PID 1 is app-rust serve as UID/GID 10001; the fresh volume is owned by 10001:10001"

http_get "http://127.0.0.1:$port/healthz"
[ "$code" = 200 ] || fail "/healthz answered $code"
[ "$(tr -d '\n' <"$body")" = ok ] || fail "/healthz body is '$(cat "$body")', expected ok"
served_by="$(sed -n 's/^[Xx]-[Ss]erved-[Bb]y: *//p' "$headers" | tr -d '\r')"
hostname="$(podman inspect -f '{{.Config.Hostname}}' "$ctr")"
[ "$served_by" = "$hostname" ] || fail "X-Served-By is '$served_by', expected the container hostname '$hostname'"
http_get "http://127.0.0.1:$port/readyz"
[ "$code" = 200 ] || fail "/readyz answered $code"
ok "/healthz and /readyz answer 200; X-Served-By is the hostname"

[ "$(visits_of "$port")" = 0 ] || fail "a fresh volume does not start at 0 visits"
for want in 1 2 3; do
  http_get "http://127.0.0.1:$port/" application/json
  [ "$code" = 200 ] || fail "GET / answered $code"
  got="$(json_field "$body" visits)"
  [ "$got" = "$want" ] || fail "GET / number $want reported visits=$got"
done
http_get "http://127.0.0.1:$port/" text/html
[ "$code" = 200 ] || fail "GET / (HTML) answered $code"
grep -qi '^content-type: *text/html' "$headers" || fail "GET / with Accept: text/html did not answer HTML"
for path in /healthz /readyz /metrics /visits; do
  http_get "http://127.0.0.1:$port$path"
  [ "$code" = 200 ] || fail "$path answered $code"
done
[ "$(visits_of "$port")" = 4 ] || fail "probes or /visits changed the count: $(visits_of "$port")"
[ "$(podman exec "$ctr" cat /app/data/visits)" = 4 ] \
  || fail "podman exec cat /app/data/visits printed '$(podman exec "$ctr" cat /app/data/visits)', expected 4"
ok "4 visits counted; probes do not count; 'podman exec $ctr cat /app/data/visits' prints 4"

podman exec "$ctr" app-rust probe http://localhost:8080/healthz >/dev/null \
  || fail "'app-rust probe http://localhost:8080/healthz' failed inside the image (name resolution in a static binary?)"
ok "app-rust probe works inside the image, resolving localhost"

stop_cleanly "$ctr"
mountpoint="$(podman volume inspect -f '{{.Mountpoint}}' "$vol")"
[ "$(cat "$mountpoint/visits")" = 4 ] || fail "after SIGTERM the volume holds '$(cat "$mountpoint/visits")', expected 4"
leftovers="$(find "$mountpoint" -maxdepth 1 -name 'visits.tmp*' -printf '%f ')"
[ -z "$leftovers" ] || fail "temp files left behind after a clean shutdown: $leftovers"
ok "after SIGTERM the count 4 is on disk in the volume"

podman start "$ctr" >/dev/null
port="$(published_port "$ctr")"
wait_ready "$ctr" "$port"
[ "$(visits_of "$port")" = 4 ] || fail "after stop/start the count is $(visits_of "$port"), expected 4"
http_get "http://127.0.0.1:$port/" application/json
[ "$(json_field "$body" visits)" = 5 ] || fail "the first visit after restart reported $(json_field "$body" visits), expected 5"
[ "$(podman exec "$ctr" cat /app/data/visits)" = 5 ] || fail "cat /app/data/visits after restart is not 5"
ok "stop/start keeps the count (4, then 5)"
stop_cleanly "$ctr"

podman run -d --name "$ctr2" --read-only -v "$vol:/app/data" -p "127.0.0.1::8080" "$image" >/dev/null
port2="$(published_port "$ctr2")"
wait_ready "$ctr2" "$port2"
[ "$(visits_of "$port2")" = 5 ] || fail "a new container on the same volume sees $(visits_of "$port2"), expected 5"
ok "a new container on the same volume sees the count 5"

echo "==> app-rust load and app-rust restore, run from the image"
# A network of this test's own, with DNS: the load container finds the server by a name, as
# a pod finds a Service (resolved by the image's own static binary, no libc resolver).
podman network create --label "app-rust-image-test=$id" "$net" >/dev/null
podman network connect --alias app-rust-under-test "$net" "$ctr2"
# A container here lists the network's DNS and then the host's in /etc/resolv.conf, and the host's
# answers NXDOMAIN for container names: each lookup also checks that the name servers are asked
# in order (src/dns.rs; tests/it/cluster/dns.rs checks it for certain).
load_out="$(podman run --rm --network "$net" "$image" load http://app-rust-under-test:8080/ --requests 5)" \
  || fail "app-rust load failed: $load_out"
grep -q "5 answered 2xx, 0 failed" <<<"$load_out" || fail "unexpected load summary: $load_out"
grep -Eq "^  $(podman inspect -f '{{.Config.Hostname}}' "$ctr2") +5$" <<<"$load_out" \
  || fail "the summary does not name the container's pod name with 5: $load_out"
[ "$(visits_of "$port2")" = 10 ] || fail "5 loaded visits on top of 5 should make 10, got $(visits_of "$port2")"
ok "app-rust load from the image resolves the server's name through the network's DNS: 5 visits, 5 connections"
# --wait-ms as the hooks use it.
probe_out="$(podman run --rm --network "$net" "$image" probe --wait-ms 10000 http://app-rust-under-test:8080/readyz)" \
  || fail "app-rust probe by name failed inside the image: $probe_out"
ok "app-rust probe from the image reaches the server by name (what the hooks and helm test do)"
if podman run --rm --network "$net" "$image" load http://app-rust-nobody:8080/ --requests 2 --timeout-ms 2000 >"$work/load.out" 2>&1; then
  fail "app-rust load to a name nobody has exited 0: $(cat "$work/load.out")"
fi
grep -q "FAILED 2 x" "$work/load.out" || fail "unexpected output for an unknown name: $(cat "$work/load.out")"
ok "app-rust load to an unknown name fails (exit 1) and says why"

if podman run --rm -v "$vol:/app/data" "$image" restore 42 >"$work/restore.out" 2>&1; then
  fail "app-rust restore succeeded on a volume a running service holds"
fi
grep -q "already in use" "$work/restore.out" || fail "unexpected refusal: $(cat "$work/restore.out")"
[ "$(podman exec "$ctr2" cat /app/data/visits)" = 10 ] || fail "a refused restore changed the count"
ok "app-rust restore refuses a volume a running replica holds; the count is untouched"
stop_cleanly "$ctr2"
rc=0
podman run --rm -v "$vol:/app/data" "$image" restore twelve >"$work/restore.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "app-rust restore twelve exited $rc, expected 2: $(cat "$work/restore.out")"
[ "$(cat "$mountpoint/visits")" = 10 ] || fail "a refused restore changed the count"
restored="$(podman run --rm -v "$vol:/app/data" "$image" restore 42)" || fail "app-rust restore 42 failed: $restored"
[ "$restored" = "restored /app/data/visits: 10 -> 42" ] || fail "unexpected restore output: $restored"
podman start "$ctr2" >/dev/null
port2="$(published_port "$ctr2")"
wait_ready "$ctr2" "$port2"
[ "$(visits_of "$port2")" = 42 ] || fail "after the restore the replica serves $(visits_of "$port2"), expected 42"
ok "app-rust restore 42 on the stopped replica's volume; it starts again with 42"
stop_cleanly "$ctr2"

bash "$here/compose.sh" "$image" "$work/compose" "$compose_project"

echo "==> tests/image: all checks passed (image $compressed bytes compressed)"
