#!/usr/bin/env bash
# build-wasm.sh -- builds the WebAssembly modules of deltavec and the native interop tool.
#
# Outputs (build-wasm/, copied to js/dist/ for the npm package; never committed):
#   deltavec.wasm         wasm32-wasi reactor, -msimd128, wasi-libc malloc
#   deltavec-scalar.wasm  the same without SIMD (runtimes lacking SIMD128)
#   deltavec-mt.wasm      freestanding wasm32, shared imported memory, atomics,
#                         bulk-memory, our own thread-safe allocator and libc
#                         subset (wasm/libc/), per-worker stack/TLS init
#   dvw_vectors           native tool: writes/reads delta stream files and
#                         expected state hashes (wasm/tools/dvw_vectors.c)
# All three modules export exactly the list in wasm/exports.list (the ABI of
# docs/WASM.md) plus `memory` (and `_initialize` for the wasi builds).
#
# LZ4: upstream sources from Debian's source archive, fetched with
# `apt-get source --download-only lz4` through a PRIVATE deb-src list derived
# at build time from this machine's own apt sources (the system apt config is
# never changed and no mirror name is written into the repository).
# xxHash: header-only (XXH_INLINE_ALL) through a private include dir holding
# only a symlink to /usr/include/xxhash.h, so wasi-libc's headers are not
# shadowed by glibc's.
#
# Usage: scripts/build-wasm.sh   (DV_WASM_OUT=dir to change build-wasm/; DV_WASM_SRC=dir to take
#        include/ and src/ from another tree, e.g. a `git archive` of a commit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${DV_WASM_OUT:-$root/build-wasm}
src_root=${DV_WASM_SRC:-$root}
cc=${CLANG:-clang-14}
mkdir -p "$out"

# ---- packages ---------------------------------------------------------------
need=()
command -v "$cc" >/dev/null || need+=(clang-14)
command -v wasm-ld-14 >/dev/null || command -v wasm-ld >/dev/null || need+=(lld-14)
command -v wasm-opt >/dev/null || need+=(binaryen)
[ -e /usr/lib/wasm32-wasi/libc.a ] || need+=(wasi-libc)
ls /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || need+=(libclang-rt-14-dev-wasm32)
[ -e /usr/include/xxhash.h ] || need+=(libxxhash-dev)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
    echo "build-wasm: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${need[@]}" || { apt-get update && apt-get install -y "${need[@]}"; }
fi

# ---- LZ4 sources ------------------------------------------------------------
lz4dir=$out/lz4-src
if [ ! -f "$lz4dir/lib/lz4.c" ]; then
    d=$out/apt-private
    rm -rf "$d"
    mkdir -p "$d/parts" "$d/lists/partial" "$d/cache/archives/partial" "$d/dl"
    # The machine's own deb822 stanza(s) for the base suite, turned into deb-src.
    found=0
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk 'BEGIN{RS="";ORS="\n\n"} /(^|\n)Types:[^\n]*deb/ && /(^|\n)Suites:[^\n]*bookworm( |\n|$)/' "$f" |
            sed -e 's/^Types:.*/Types: deb-src/' -e 's/^Suites:.*/Suites: bookworm/' >>"$d/parts/deb-src.sources"
    done
    [ -s "$d/parts/deb-src.sources" ] && found=1
    if [ $found -eq 0 ] && [ -f /etc/apt/sources.list ]; then
        # one-line format fallback: "deb URI bookworm main" -> "deb-src ..."
        grep -E '^deb [^ ]+ bookworm ' /etc/apt/sources.list | sed 's/^deb /deb-src /' >"$d/parts/deb-src.list" || true
    fi
    aptopt=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$d/parts"
        -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
    apt-get "${aptopt[@]}" update >/dev/null
    (cd "$d/dl" && apt-get "${aptopt[@]}" source --download-only lz4 >/dev/null 2>&1)
    tarball=$(ls "$d"/dl/lz4_*.orig.tar.gz | head -1)
    rm -rf "$lz4dir" && mkdir -p "$lz4dir"
    tar xzf "$tarball" -C "$lz4dir" --strip-components=1
    echo "build-wasm: lz4 sources: $(basename "$tarball")"
fi

# ---- private include dir ------------------------------------------------------
inc=$out/inc
mkdir -p "$inc"
ln -sf /usr/include/xxhash.h "$inc/xxhash.h"
ln -sf "$lz4dir/lib/lz4.h" "$inc/lz4.h"

# The freestanding core folders: one list, src/core-sources.txt (CMake reads it too).
core=()
while read -r dir; do
    case "$dir" in '' | '#'*) continue ;; esac
    for f in "$src_root"/src/$dir/*.c; do [ -e "$f" ] && core+=("$f"); done
done <"$src_root/src/core-sources.txt"
# The x86-64 kernel files (*_sse.c, *_avx2.c, *_avx512.c) never enter a wasm module; only the
# native interop tool below builds them.
wasm_core=()
for f in "${core[@]}"; do
    case "$f" in *_sse.c | *_avx2.c | *_avx512.c) ;; *) wasm_core+=("$f") ;; esac
done
exports=$(grep -v '^#' "$root/wasm/exports.list" | grep -v '^$' | sed 's/^/-Wl,--export=/' | tr '\n' ' ')
common=(-std=c11 -O3 -Wall -Wextra -Werror -Wno-unused-parameter -I"$src_root/include" -I"$src_root/src" -I"$inc"
    -DXXH_INLINE_ALL -fvisibility=hidden)

# Compiles every source into $2 with flags ${@:3}; runs in parallel (2 jobs).
compile_all() {
    local objdir=$1; shift
    local srcs=("${wasm_core[@]}" "$lz4dir/lib/lz4.c" "$root/wasm/exports.c")
    rm -rf "$objdir" && mkdir -p "$objdir"
    local pids=() f o
    for f in "${srcs[@]}" "${extra_srcs[@]}"; do
        o=$objdir/$(basename "$(dirname "$f")")_$(basename "$f").o
        if [ "$f" = "$lz4dir/lib/lz4.c" ]; then
            "$cc" "$@" -O3 -I"$inc" -c "$f" -o "$o" &
        else
            "$cc" "${common[@]}" "$@" -c "$f" -o "$o" &
        fi
        pids+=($!)
        if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
    done
    for p in "${pids[@]}"; do wait "$p"; done
}

size_of() { stat -c %s "$1"; }

# Skip everything when no input changed since the last successful build.
stamp=$( (cat "$0" "${core[@]}" "$root"/wasm/*.c "$root"/wasm/*.list "$root"/wasm/libc/*.c "$root"/wasm/libc/include/*.h \
    "$root"/wasm/tools/*.c "$src_root"/include/*.h "$src_root"/src/*/*.h; echo "$src_root") | sha1sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/dvw_vectors" ] && [ -f "$out/deltavec-mt.wasm" ]; then
    mkdir -p "$root/js/dist"
    cp "$out/deltavec.wasm" "$out/deltavec-scalar.wasm" "$out/deltavec-mt.wasm" "$out/deltavec-mt.maxpages" "$root/js/dist/"
    echo "build-wasm: up to date ($out)"
    exit 0
fi
rm -f "$out/stamp"

# ---- wasi builds (SIMD and scalar) --------------------------------------------
extra_srcs=()
for variant in simd scalar; do
    flags=(--target=wasm32-wasi)
    name=deltavec
    optf=(--enable-simd --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals)
    if [ $variant = simd ]; then flags+=(-msimd128); else name=deltavec-scalar; fi
    compile_all "$out/obj-$variant" "${flags[@]}"
    "$cc" "${flags[@]}" -mexec-model=reactor -O3 -Wl,--strip-debug -Wl,--no-export-dynamic $exports -Wl,--export=_initialize \
        -Wl,-z,stack-size=1048576 -Wl,--initial-memory=4194304 \
        -o "$out/$name.raw.wasm" "$out"/obj-$variant/*.o -lm
    wasm-opt -O3 "${optf[@]}" "$out/$name.raw.wasm" -o "$out/$name.wasm"
    imports=$(node -e "const m=new WebAssembly.Module(require('fs').readFileSync('$out/$name.wasm'));console.log(WebAssembly.Module.imports(m).map(i=>i.module+'.'+i.name).join(' '))" 2>/dev/null || true)
    echo "build-wasm: $name.wasm $(size_of "$out/$name.wasm") bytes (before wasm-opt $(size_of "$out/$name.raw.wasm"))${imports:+ imports: $imports}"
done

# ---- freestanding shared-memory build -------------------------------------------
mt_max_pages=${DV_WASM_MT_MAX_PAGES:-16384} # 1 GiB
extra_srcs=("$root/wasm/libc/libc.c" "$root/wasm/libc/thread.c" "$root/wasm/exports_mt.c" "$root/wasm/feed_mt.c") # *_mt.c: mt-only ABI
# -fno-slp-vectorize: clang 14's SLP vectorizer miscompiles XXH3 (inputs of 17..128 and > 240 bytes) at
# -O2/-O3 with -ffreestanding -msimd128 (the wasi builds are unaffected); our SIMD kernels use explicit
# intrinsics, so nothing is lost. Cross-module hash tests in js/test catch a regression.
mtflags=(--target=wasm32 -nostdlib -ffreestanding -msimd128 -fno-slp-vectorize -matomics -mbulk-memory
    -ftls-model=local-exec -isystem "$root/wasm/libc/include" -DDVW_FREESTANDING=1)
saved_common=("${common[@]}")
compile_all "$out/obj-mt" "${mtflags[@]}"
common=("${saved_common[@]}")
# musl's log() from wasi-libc (pure code, no state): levels round exactly as in the wasi builds.
(cd "$out/obj-mt" && ar x /usr/lib/wasm32-wasi/libc.a log.o log_data.o __math_divzero.o __math_invalid.o)
mtexports=$(grep -v '^#' "$root/wasm/exports-mt.list" | grep -v '^$' | sed 's/^/-Wl,--export=/' | tr '\n' ' ')
"$cc" --target=wasm32 -nostdlib -O3 -Wl,--no-entry -Wl,--shared-memory -Wl,--import-memory \
    -Wl,--max-memory=$((mt_max_pages * 65536)) -Wl,--initial-memory=4194304 -Wl,-z,stack-size=1048576 \
    -Wl,--strip-debug -Wl,--export=__heap_base \
    $exports $mtexports -o "$out/deltavec-mt.raw.wasm" "$out"/obj-mt/*.o \
    /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a
wasm-opt -O3 --enable-simd --enable-threads --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int "$out/deltavec-mt.raw.wasm" -o "$out/deltavec-mt.wasm"
echo "build-wasm: deltavec-mt.wasm $(size_of "$out/deltavec-mt.wasm") bytes (before wasm-opt $(size_of "$out/deltavec-mt.raw.wasm")), max memory $mt_max_pages pages"
echo "$mt_max_pages" >"$out/deltavec-mt.maxpages"

# ---- native interop tool ----------------------------------------------------------
nsrc=()
nflags=()
for f in "${core[@]}"; do
    case "$f" in *_simd128.c) continue ;; esac
    nsrc+=("$f")
done
rm -rf "$out/native" && mkdir -p "$out/native"
pids=()
for f in "${nsrc[@]}" "$root/wasm/tools/dvw_vectors.c"; do
    o=$out/native/$(basename "$(dirname "$f")")_$(basename "$f").o
    extra=()
    case "$f" in *_avx512.c) extra=(-mavx512f -mavx2 -mfma) ;; *_avx2.c) extra=(-mavx2 -mfma) ;; *_sse.c) extra=(-msse4.1) ;; esac
    gcc -std=c11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I"$src_root/include" -I"$src_root/src" -DXXH_INLINE_ALL \
        "${extra[@]}" -c "$f" -o "$o" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
gcc -o "$out/dvw_vectors" "$out"/native/*.o -llz4 -lm -lpthread

# ---- copy into the npm package -------------------------------------------------------
mkdir -p "$root/js/dist"
cp "$out/deltavec.wasm" "$out/deltavec-scalar.wasm" "$out/deltavec-mt.wasm" "$out/deltavec-mt.maxpages" "$root/js/dist/"
echo "$stamp" >"$out/stamp"
echo "build-wasm: OK ($out, js/dist)"
