#!/usr/bin/env bash
# Installs Debian's chromium, which tests/it/page_browser.rs runs headless to render the page
# and take a screenshot of the phone viewport (fonts-dejavu-core gives it real glyphs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
apt_install chromium fonts-dejavu-core
chromium --version
