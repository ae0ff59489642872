#!/usr/bin/env bash
# run.sh -- the main job: builds deltavec and runs the end-to-end replication
# demo on the built-in dataset (primary -> capture -> ring -> process ->
# apply -> replica), ending with the replica == primary check.
# Extra arguments go to `deltavec demo` (see docs/CLI.md), e.g.
#   scripts/run.sh --n 50000 --updates 20000 --json demo.json
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --run
cmake -S . -B build-run -DCMAKE_BUILD_TYPE=Release -DDV_BUILD_TESTS=OFF -DDV_BUILD_BENCH=OFF >/dev/null
cmake --build build-run -j"$(nproc)" --target deltavec >/dev/null
exec build-run/cli/deltavec demo "$@"
