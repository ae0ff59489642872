#!/usr/bin/env bash
# fuzz.sh -- build the libFuzzer harnesses (fuzz/) and run each for a fixed time.
#
#   scripts/fuzz.sh [SECONDS_PER_HARNESS]      (default 20)
#
# Builds in build-fuzz/ with clang-14 (-fsanitize=fuzzer,address,undefined),
# writes the seed corpora with fuzz/gen_corpus, then runs fuzz_header,
# fuzz_payload, fuzz_batch, fuzz_stream, fuzz_apply, fuzz_ring and fuzz_snapshot for SECONDS
# each on one core (fuzz_apply and fuzz_ring derive their inputs from a real
# stream and ring, so their corpora start empty). The corpora grow
# in build-fuzz/corpus/<name>/ across runs. Crash inputs land in
# build-fuzz/artifacts/. Exit status is non-zero if any harness failed.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
BUILD=${DV_FUZZ_BUILD:-build-fuzz}
HARNESSES="fuzz_header fuzz_payload fuzz_batch fuzz_stream fuzz_apply fuzz_ring fuzz_snapshot"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_CXX_COMPILER=clang++-14 -DDV_BUILD_FUZZ=ON -DDV_BUILD_TESTS=OFF -DDV_BUILD_BENCH=OFF \
    -DDV_AREAS="util;delta" >/dev/null || { echo "fuzz: configure failed"; exit 1; }
cmake --build "$BUILD" -j2 --target $HARNESSES gen_corpus || { echo "fuzz: build failed"; exit 1; }

mkdir -p "$BUILD/artifacts"
for h in header payload batch stream apply ring snapshot; do mkdir -p "$BUILD/corpus/$h"; done
"$BUILD/fuzz/gen_corpus" "$BUILD/corpus" || { echo "fuzz: corpus generation failed"; exit 1; }

status=0
for h in $HARNESSES; do
    dir="$BUILD/corpus/${h#fuzz_}"
    echo "=== $h: ${SECONDS_EACH}s, corpus $(ls "$dir" | wc -l) files"
    if "$BUILD/fuzz/$h" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb=2048 \
        -artifact_prefix="$BUILD/artifacts/$h-" "$dir" >"$BUILD/$h.log" 2>&1; then
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD/$h.log" | tr '\n' ' '
        echo "$(grep -oE "cov: [0-9]+" "$BUILD/$h.log" | tail -1)"
    else
        echo "FAILED: $h (see $BUILD/$h.log)"
        tail -40 "$BUILD/$h.log"
        status=1
    fi
done
exit $status
