#!/bin/bash
# tsan-loop.sh -- the flaky-test loop of docs/CONCURRENCY.md: runs the TSan
# builds of test_apply_parallel and test_ring RUNS times each while two
# CPU-bound processes run the whole time. LANES lanes run side by side
# (the ring's stress tests mostly wait for each other's threads, so lanes
# add load and never remove any); each lane runs RUNS/LANES pairs.
#
#   cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
#         -DCMAKE_CXX_COMPILER=clang++-14 -DDV_SANITIZE=thread -DDV_BUILD_BENCH=OFF
#   cmake --build build-tsan --target test_apply_parallel test_ring
#   scripts/tsan-loop.sh [build-tsan] [OUTDIR]        (env: RUNS=200 LANES=4)
#
# One line per run in OUTDIR/results.txt; a failing run's output is kept as
# OUTDIR/lane<L>/fail_<run>_<test>.log. Exits 1 if any run failed.
set -u
BUILD=$(cd "${1:-build-tsan}" && pwd)
OUT=${2:-tsan-loop}
RUNS=${RUNS:-200}
LANES=${LANES:-4}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
for t in test_apply_parallel test_ring; do
    [ -x "$BUILD/tests/$t" ] || { echo "tsan-loop: $BUILD/tests/$t not built" >&2; exit 2; }
    cp "$BUILD/tests/$t" "$OUT/" # the build may change while the loop runs
done
sh -c 'while :; do :; done' & hog1=$!
sh -c 'while :; do :; done' & hog2=$!
trap 'kill $hog1 $hog2 2>/dev/null' EXIT
export TSAN_OPTIONS=halt_on_error=1

lane() {
    mkdir -p "$OUT/lane$1" && cd "$OUT/lane$1" || exit 2
    for i in $(seq $((RUNS / LANES))); do
        for t in test_apply_parallel test_ring; do
            local s r
            s=$(date +%s)
            if timeout 1800 "$OUT/$t" > "last_$t.log" 2>&1; then r=ok; else r="FAIL rc=$?"; cp "last_$t.log" "fail_${i}_$t.log"; fi
            echo "$(date -u +%H:%M:%S) lane $1 run $i $t $r $(($(date +%s) - s))s" >> "$OUT/results.txt"
        done
    done
}

lanes=()
for l in $(seq "$LANES"); do lane "$l" & lanes+=($!); done
wait "${lanes[@]}" # not the two CPU-bound processes
ok=$(grep -c ' ok ' "$OUT/results.txt"); failed=$(grep -c ' FAIL ' "$OUT/results.txt")
echo "tsan-loop: $ok runs passed, $failed failed ($OUT/results.txt)"
[ "$failed" -eq 0 ]
