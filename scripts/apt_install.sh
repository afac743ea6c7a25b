#!/usr/bin/env bash
# Installs Debian packages a part of the test suite needs (needs root, as on CI); without root it says
# what to run and what needs it, and fails.
# Usage: scripts/apt_install.sh NAME "WHAT NEEDS IT" PACKAGE...
set -euo pipefail
name=$1 why=$2
shift 2
if [ "$(id -u)" -ne 0 ]; then
  echo "$name is missing: run 'sudo apt-get install -y $*' ($why)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$@" >/dev/null
