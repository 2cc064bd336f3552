#!/usr/bin/env bash
# A real Prometheus server and promtool (Debian's prometheus package), idempotently: the
# monitoring tests check the chart's alert rules with promtool and evaluate every alert and
# dashboard expression on a Prometheus that scrapes app-rust on 127.0.0.1.
# (apt_install passes --no-install-recommends, which keeps out the node exporter.)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
apt_install prometheus
