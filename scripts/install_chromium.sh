#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing (needs root, as on CI).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
"$(dirname "$0")/apt_install.sh" Chromium "browser tests need /usr/bin/chromium" chromium
/usr/bin/chromium --version
