#!/bin/sh
# check-wasm.sh -- proves the core compiles for wasm32 and that the SIMD128 kernels are right.
#
# 1. Compiles every .c of the core folders (listed in src/core-sources.txt)
#    with clang-14 --target=wasm32-wasi -O2 -Wall -Wextra -Werror, once with
#    -msimd128 and once without (the scalar wasm build). Objects go to a
#    temp dir that is removed on exit.
# 2. Builds tests/wasm/simd_check.c with the SIMD128 + scalar kernels into a
#    wasm32-wasi module and runs it under node's WASI (node >= 20): the only
#    place kernels_simd128.c actually executes. Skipped, with a notice, if
#    node is missing.
#
# xxhash.h lives in /usr/include; adding -I/usr/include would put glibc's
# headers in front of wasi-libc's, so a private include dir holds only a
# symlink to xxhash.h.
#
# Needs: clang-14, wasi-libc, libclang-rt-14-dev-wasm32, libxxhash-dev, node.
# Usage: scripts/check-wasm.sh        (from anywhere; exits non-zero on failure)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cc=${CLANG:-clang-14}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

mkdir -p "$tmp/inc"
ln -s /usr/include/xxhash.h "$tmp/inc/xxhash.h"
flags="--target=wasm32-wasi -O2 -std=c11 -Wall -Wextra -Werror -I$root/include -I$root/src -I$tmp/inc -DXXH_INLINE_ALL"

fail=0
for simd in -msimd128 ""; do
    label=${simd:-scalar}
    n=0
    for dir in $(grep -v '^#' "$root/src/core-sources.txt"); do
        [ -d "$root/src/$dir" ] || continue
        for f in "$root"/src/$dir/*.c; do
            [ -e "$f" ] || continue
            obj="$tmp/$(echo "$dir-$(basename "$f" .c)$simd" | tr -c 'A-Za-z0-9_\n-' _).o"
            if ! $cc $flags $simd -c "$f" -o "$obj"; then
                echo "check-wasm: FAILED ($label): src/$dir/$(basename "$f")" >&2
                fail=1
            fi
            n=$((n + 1))
        done
    done
    echo "check-wasm: compiled $n files for wasm32 ($label)"
done
# Run the SIMD128 kernels against scalar in a real wasm engine.
if ! command -v node >/dev/null 2>&1; then
    echo "check-wasm: node not found, SIMD128 run check skipped" >&2
    exit $fail
fi
$cc $flags -msimd128 -Wl,--strip-debug -o "$tmp/simd_check.wasm" \
    "$root/tests/wasm/simd_check.c" "$root/src/simd/kernels_simd128.c" \
    "$root/src/simd/kernels_scalar.c" "$root/src/simd/dispatch.c" "$root/src/simd/shuffle.c"
cat >"$tmp/run.mjs" <<'JS'
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: ['simd_check'], returnOnExit: true });
const mod = await WebAssembly.compile(await readFile(process.argv[2]));
const inst = await WebAssembly.instantiate(mod, wasi.getImportObject());
process.exitCode = wasi.start(inst);
JS
node --no-warnings "$tmp/run.mjs" "$tmp/simd_check.wasm" || fail=1
if [ "$fail" -ne 0 ]; then
    echo "check-wasm: FAILED" >&2
    exit 1
fi
echo "check-wasm: OK"
