#!/usr/bin/env bash
# check-install.sh -- `cmake --install` into a temporary prefix, then build
# and run a consumer against the installed deltavec.h and deltavec.pc, once
# statically and once with the shared library, then examples/c/quickstart.c
# (shared, no LD_LIBRARY_PATH: deltavec.pc gives the run path).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig
libdir=$(pkg-config --variable=libdir deltavec)
# static: the archive itself, plus the private dependencies pkg-config lists
cc -std=c11 -Wall -Werror tests/install/consumer.c $(pkg-config --cflags deltavec) "$libdir/libdeltavec.a" \
    $(pkg-config --static --libs deltavec | sed 's/-ldeltavec//') -o "$prefix/consumer-static"
"$prefix/consumer-static"
# shared: pkg-config's flags alone (deltavec.pc carries the run path), run with no LD_LIBRARY_PATH
cc -std=c11 -Wall -Werror tests/install/consumer.c $(pkg-config --cflags --libs deltavec) -o "$prefix/consumer-shared"
env -u LD_LIBRARY_PATH "$prefix/consumer-shared"
# the quickstart of examples/c, as its header comment says to build it, must load the installed library
cc -std=c11 -Wall -Wextra -Werror examples/c/quickstart.c $(pkg-config --cflags --libs deltavec) \
    -o "$prefix/quickstart"
ldd "$prefix/quickstart" | grep -q "$libdir/libdeltavec.so" || { echo "check-install: quickstart does not load $libdir/libdeltavec.so" >&2; ldd "$prefix/quickstart" >&2; exit 1; }
mkdir "$prefix/data"
env -u LD_LIBRARY_PATH "$prefix/quickstart" "$prefix/data"
test -x "$prefix/bin/deltavec"
