#!/usr/bin/env bash
# Runs a command (the web process, graphserver) on the malloc MEMORY_ALLOCATOR names:
# `system` (the default: glibc's), `jemalloc` (Debian's libjemalloc2; refuse to start without it),
# `auto` (jemalloc when it is installed, else glibc's) or the path of a libjemalloc.so.2 installed
# elsewhere. The graph engine allocates and frees many small blocks on every traversal; glibc's malloc
# spends about a fifth of the engine's time on them, and jemalloc ran the decision reads 18 % faster in
# process. Served, the evidence is mixed (benchmarks/README.md, "Contact-centre decisions", 2026-12-06
# 10:25-11:12 UTC), so glibc stays the default and jemalloc is there to measure under your own load.
set -euo pipefail
choice="${MEMORY_ALLOCATOR:-system}"
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
