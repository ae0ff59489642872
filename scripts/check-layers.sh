#!/usr/bin/env bash
# check-layers.sh -- fails on an #include edge that docs/ARCHITECTURE.md does not allow.
#
# Reads every `#include "folder/file.h"` line of src/, cli/ and wasm/ and checks:
#   - a src/<folder> file includes only headers of the folders allowed below
#     (dependencies point down: util <- simd <- db; delta on simd and util only; ...);
#   - private headers (a folder's internal layout) are included only inside their folder
#     (tests/, bench/ and fuzz/ may include anything: they check internals on purpose);
#   - cli/ includes only the public header and its own files; wasm/ only the public header,
#     its own files, simd/simd.h and util/le.h (header-only byte order helpers).
# Usage: scripts/check-layers.sh   (exit status 1 and one line per forbidden edge)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
    [util]="util"
    [simd]="simd util"
    [db]="db simd util"
    [delta]="delta simd util"
    [ring]="ring util"
    [capture]="capture db delta simd util"
    [process]="process delta util"
    [apply]="apply db delta util"
    [platform]="platform apply"
    [log]="log delta util"
    [transport]="transport"
)
private="db/db_internal.h apply/apply_internal.h ring/ring_layout.h"
# Edges that exist today and are being removed; each must name its file and header exactly.
exceptions=""

bad=0
report() {
    echo "check-layers: $1" >&2
    bad=1
}

for f in src/*/*.c src/*/*.h cli/*.c cli/*.h cli/*/*.c cli/*/*.h wasm/*.c wasm/*.h wasm/*/*.c; do
    [ -e "$f" ] || continue
    top=${f%%/*}
    while IFS= read -r inc; do
        case " $exceptions " in *" $f:$inc "*) continue ;; esac
        target=${inc%%/*}
        if [ "$top" = src ]; then
            folder=$(basename "$(dirname "$f")")
            if [ -z "${allowed[$folder]+set}" ]; then
                report "$f: src/$folder has no entry in check-layers.sh (add it, and to docs/ARCHITECTURE.md)"
                continue
            fi
            case " ${allowed[$folder]} " in
            *" $target "*) ;;
            *) report "$f includes $inc: src/$folder may not depend on src/$target" ;;
            esac
            case " $private " in
            *" $inc "*) [ "$target" = "$folder" ] || report "$f includes $inc, private to src/$target" ;;
            esac
        elif [ "$top" = cli ]; then
            [ -e "cli/$inc" ] || report "$f includes $inc: cli/ uses the public API (and its own files) only"
        else # wasm
            case "$inc" in simd/simd.h | util/le.h) ;; *) report "$f includes $inc: wasm/ uses the public API (and simd/simd.h, util/le.h) only" ;; esac
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z0-9_]*\/[a-z0-9_]*\.h\)".*/\1/p' "$f")
done

if [ $bad -ne 0 ]; then
    echo "check-layers: FAILED (see docs/ARCHITECTURE.md)" >&2
    exit 1
fi
echo "check-layers: OK"
