#!/usr/bin/env bash
# build-component.sh -- builds the deltavec WebAssembly component (WIT package
# deltavec:delta@1.0.0, wit/deltavec.wit) and its transpiled ES module.
#
# The core module is the npm package's SIMD wasi build: the same objects
# (build-wasm/obj-simd, from scripts/build-wasm.sh, which this runs first)
# linked with the canonical-ABI adapters of wasm/component/*.c instead of the
# dvw_* exports. jco (wit/package.json, its JS API: the CLI `embed` is not
# used) then embeds the WIT, makes the component, prints its WIT and
# transpiles it.
#
# Outputs (build/component/; DV_COMPONENT_OUT=dir to change; never committed):
#   deltavec.core.wasm       the core module with the WIT embedded
#   deltavec.component.wasm  the component
#   deltavec.printed.wit     the component's WIT as jco prints it
#   js/                      `jco transpile` output: an ES module (deltavec.js) for Node and browsers
#
# DV_JCO_GLUE=plain keeps jco's generated glue without the memory-access edits of
# wit/tools/component.mjs (leanGlue), to measure what they save (docs/WIT.md).
#
# Usage: scripts/build-component.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${DV_COMPONENT_OUT:-$root/build/component}
wasm_out=${DV_WASM_OUT:-$root/build-wasm}
cc=${CLANG:-clang-14}

command -v node >/dev/null || { echo "build-component: node (>= 20) is required" >&2; exit 1; }
"$root/scripts/build-wasm.sh"

# ---- jco ------------------------------------------------------------------------
if [ ! -d "$root/wit/node_modules/@bytecodealliance/jco" ]; then
    (cd "$root/wit" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >/dev/null; else npm install --no-audit --no-fund >/dev/null; fi)
fi

# ---- core module --------------------------------------------------------------------
mkdir -p "$out/obj"
rm -f "$out"/obj/*.o
flags=(--target=wasm32-wasi -msimd128 -std=c11 -O3 -Wall -Wextra -Werror -Wno-unused-parameter
    -I"$root/include" -I"$root/src" -I"$root/wasm/component" -DXXH_INLINE_ALL -fvisibility=hidden)
for f in "$root"/wasm/component/*.c; do
    "$cc" "${flags[@]}" -c "$f" -o "$out/obj/component_$(basename "$f").o"
done
core=()
for o in "$wasm_out"/obj-simd/*.o; do
    case "$o" in */wasm_exports.c.o) continue ;; esac # the dvw_* ABI of the npm module
    core+=("$o")
done
# The component names (export_name attributes) are the only exports besides
# memory, cabi_realloc and _initialize (called by the component at instantiation).
"$cc" --target=wasm32-wasi -msimd128 -mexec-model=reactor -O3 -Wl,--strip-debug -Wl,--no-export-dynamic \
    -Wl,--export=_initialize -Wl,-z,stack-size=1048576 -Wl,--initial-memory=4194304 \
    -o "$out/deltavec.core.raw.wasm" "${core[@]}" "$out"/obj/*.o -lm
wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals "$out/deltavec.core.raw.wasm" -o "$out/deltavec.core.opt.wasm"

# ---- component ------------------------------------------------------------------------
node "$root/wit/tools/component.mjs" build "$root/wit" "$out/deltavec.core.opt.wasm" "$out"
echo "build-component: OK ($out)"
