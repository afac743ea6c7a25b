#!/usr/bin/env bash
# Runs a command (the web process, graphserver) with jemalloc as its malloc when one is installed.
# The graph engine allocates and frees many small blocks on every traversal, and glibc's malloc spends
# about a fifth of the engine's time on them; under jemalloc one process answered 1,000 decisions/s at
# 13 % less CPU per decision and a third to a sixth of the p99 (benchmarks/README.md, "Contact-centre
# decisions"). MEMORY_ALLOCATOR: `auto` (default: jemalloc when libjemalloc.so.2 is installed, Debian's
# libjemalloc2), `jemalloc` (required: refuse to start without it), `system` (glibc's malloc), or the
# path of a libjemalloc.so.2 installed elsewhere.
set -euo pipefail
choice="${MEMORY_ALLOCATOR:-auto}"
find_jemalloc() {
  local ldconfig
  ldconfig="$(command -v ldconfig || echo /sbin/ldconfig)"
  "$ldconfig" -p 2>/dev/null | awk '$1 == "libjemalloc.so.2" { print $NF; exit }' || true
}
case "$choice" in
  system) exec "$@" ;;
  auto|jemalloc) library="$(find_jemalloc)" ;;
  /*) library="$choice"
      if [[ ! -f "$library" ]]; then
        echo "MEMORY_ALLOCATOR=${choice}: no such file" >&2
        exit 2
      fi ;;
  *) echo "MEMORY_ALLOCATOR=${choice}: use auto, jemalloc, system or the path of libjemalloc.so.2" >&2
     exit 2 ;;
esac
if [[ -z "$library" ]]; then
  if [[ "$choice" == jemalloc ]]; then
    echo "MEMORY_ALLOCATOR=jemalloc: libjemalloc.so.2 is not installed (Debian: apt-get install libjemalloc2)" >&2
    exit 2
  fi
  exec "$@"
fi
export LD_PRELOAD="${library}${LD_PRELOAD:+:$LD_PRELOAD}"
exec "$@"
