#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright (never a downloaded browser).
# Called by .ci/run before `make test`; safe to run again.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
