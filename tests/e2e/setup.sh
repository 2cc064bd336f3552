# Sourced by tests/e2e/run.sh and tests/e2e/guide.sh (not executed): installs the tools,
# builds the image, picks the run id and removes everything the run creates on exit.
# Expects $root (the repository) to be set.
# shellcheck shell=bash
: "${root:?tests/e2e/setup.sh is sourced by run.sh and guide.sh, which set root}"
# shellcheck source=../../scripts/tools/env.sh
source "$root/scripts/tools/env.sh"

# Idempotent and fast when already installed; makes each script runnable on its own.
for installer in install-podman.sh install-podman-dns.sh install-helm.sh install-python.sh; do
  bash "$root/scripts/tools/$installer" >/dev/null
done

# Always build: an image left in the store by an older checkout would test old code. Cargo
# and buildah reuse their caches, so this is quick after the image stage.
bash "$root/scripts/build-image.sh" >/dev/null

# Everything the run creates carries the label app-rust-e2e.run=<run id>; the pytest
# fixtures remove it, and this trap catches a killed pytest.
run_id="${APP_RUST_E2E_RUN:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}"
export APP_RUST_E2E_RUN="$run_id"
cleanup() {
  local sel="label=app-rust-e2e.run=$run_id"
  podman ps -aq --filter "$sel" | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
  podman volume ls -q --filter "$sel" | xargs -r podman volume rm -f >/dev/null 2>&1 || true
  podman network ls -q --filter "$sel" | xargs -r podman network rm -f >/dev/null 2>&1 || true
  rm -rf "${TMPDIR:-/tmp}/app-rust-e2e-$run_id-"*
}
trap cleanup EXIT
