#!/usr/bin/env bash
# Installs Debian's jemalloc (libjemalloc2) when it is missing (needs root, as on CI): the web process
# and graphserver run on it with MEMORY_ALLOCATOR=jemalloc (scripts/with_allocator.sh), and the tests
# check that they do.
set -euo pipefail
cd "$(dirname "$0")/.."
installed() { MEMORY_ALLOCATOR=jemalloc ./scripts/with_allocator.sh true 2>/dev/null; }  # the lookup web.sh uses
if installed; then
  exit 0
fi
./scripts/apt_install.sh jemalloc "the tests of MEMORY_ALLOCATOR=jemalloc need it" libjemalloc2
MEMORY_ALLOCATOR=jemalloc ./scripts/with_allocator.sh sh -c 'echo "jemalloc: $LD_PRELOAD"'
