#!/usr/bin/env bash
# Installs Debian's chromium, which tests/it/page_browser.rs runs headless to render the page
# and take a screenshot of the phone viewport. Runs apt-get only when chromium is missing.
set -euo pipefail

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" \
  && command -v chromium >/dev/null 2>&1; then
  echo "install-chromium: chromium already installed ($(chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

echo "install-chromium: installing chromium"
$sudo_cmd apt-get update -qq
# fonts-dejavu-core gives the headless renderer real glyphs for the screenshot.
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core
chromium --version
