#!/usr/bin/env bash
# test.sh -- the whole deltavec test suite (the README's test command).
#
# Installs missing dependencies, then runs, each in its own build folder:
#   1. native build (gcc, -Werror) + every CTest test, install check, demo smoke run
#   2. the same suite under ASan+UBSan (clang-14)
#   3. the concurrent tests (ring, parallel apply, readers) under TSan
#   4. the wasm32 compile check of the core (SIMD128 and scalar)
#   5. each libFuzzer harness for a short fixed time
#   6. the JavaScript/WebAssembly tests in Node, and the browser test where present
#   7. formatting check (clang-format) of all C sources
#   8. layering check: no #include edge the module map forbids (scripts/check-layers.sh)
# and ends with one line "N passed, N failed". Exit status is non-zero if
# anything failed.
#
# Environment: DV_FUZZ_SECONDS (default 15 per harness), DV_JOBS (default nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${DV_JOBS:-$(nproc)}
FUZZ_SECONDS=${DV_FUZZ_SECONDS:-15}

scripts/deps.sh || { echo "test: dependency installation failed"; exit 1; }

passed=0
failed=0
failed_steps=()
TSAN_TESTS='ring|parallel|concurrent|readers'

# Runs ctest in a build folder and adds its counts to the totals.
count_ctest() {
    local dir=$1 regex=${2:-} out
    out=$(mktemp)
    if [ -n "$regex" ]; then
        ctest --test-dir "$dir" --output-on-failure -R "$regex" 2>&1 | tee "$out"
    else
        ctest --test-dir "$dir" --output-on-failure 2>&1 | tee "$out"
    fi
    local line total bad
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -1)
    rm -f "$out"
    if [ -z "$line" ]; then
        failed=$((failed + 1)); failed_steps+=("ctest in $dir ran nothing"); return
    fi
    bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - bad)); failed=$((failed + bad))
    [ "$bad" -eq 0 ] || failed_steps+=("ctest in $dir: $bad failed")
}

# Runs a step that is a single pass/fail command.
step() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_steps+=("$name"); fi
}

build() { # build DIR cmake-args...
    local dir=$1; shift
    cmake -S "$ROOT" -B "$dir" -DDV_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j"$JOBS"
}

echo "=== 1. native build (gcc) + tests"
if build build-test -DCMAKE_BUILD_TYPE=Release -DDV_BUILD_BENCH=ON; then count_ctest build-test
else failed=$((failed + 1)); failed_steps+=("native build"); fi

echo "=== 2. ASan+UBSan (clang-14)"
if build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DDV_SANITIZE=address,undefined -DDV_NODE_SEGMENT_SHIFT=4 -DDV_BUILD_BENCH=OFF; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 count_ctest build-asan
else failed=$((failed + 1)); failed_steps+=("asan build"); fi

echo "=== 3. TSan (clang-14): concurrent tests"
if build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DDV_SANITIZE=thread -DDV_BUILD_BENCH=OFF; then
    TSAN_OPTIONS=halt_on_error=1 count_ctest build-tsan "$TSAN_TESTS"
else failed=$((failed + 1)); failed_steps+=("tsan build"); fi

step "1b. install + pkg-config consumer" scripts/check-install.sh build-test
step "1c. main job smoke run (deltavec demo, small)" build-test/cli/deltavec demo --n 3000 --updates 2000 --queries 50
[ -x scripts/check-wasm.sh ] && step "4. wasm32 compile check" scripts/check-wasm.sh
[ -x scripts/fuzz.sh ] && step "5. fuzz (${FUZZ_SECONDS}s per harness)" scripts/fuzz.sh "$FUZZ_SECONDS"
[ -x scripts/test-js.sh ] && step "6. WebAssembly + JS tests" scripts/test-js.sh

check_format() {
    local files
    files=$(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null | grep -v '^fuzz/corpus')
    [ -z "$files" ] && return 0
    clang-format-14 --dry-run -Werror $files
}
step "7. clang-format check" check_format
step "8. layering check (docs/ARCHITECTURE.md)" scripts/check-layers.sh

echo
if [ ${#failed_steps[@]} -gt 0 ]; then printf 'FAILED: %s\n' "${failed_steps[@]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
