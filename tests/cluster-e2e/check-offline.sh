#!/usr/bin/env bash
# What can be checked without a cluster (a stage of scripts/test.sh): shellcheck of every shell
# script, actionlint of the GitHub workflows (with shellcheck of their `run:` blocks), and the
# cluster suite's building blocks, its command lines (through the real kubectl and Helm) and the
# workflow pins with pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/tools/env.sh
source "$root/scripts/tools/env.sh"
cd "$root"

mapfile -t scripts < <(git ls-files '*.sh')
echo "shellcheck: ${#scripts[@]} scripts"
shellcheck -x -P SCRIPTDIR "${scripts[@]}"
echo "actionlint: $(actionlint -version | head -1)"
actionlint -no-color .github/workflows/*.yaml
"$APP_RUST_TOOLS/venv/chart/bin/python" -m pytest -q -p no:cacheprovider tests/cluster-e2e
