#!/usr/bin/env bash
# Concatenates the per-pillar result files (bench/results/*.md, each written by its bench script)
# into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")"
{
  echo "# Benchmark results"
  echo
  echo "Each section was produced by the script named in it, on the machine and date it gives."
  echo "Ratios compare tools measured in the same run; absolute times are for context only."
  echo
  for f in results/*.md; do
    cat "$f"
    echo
  done
} > RESULTS.md
