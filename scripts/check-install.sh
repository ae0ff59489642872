#!/usr/bin/env bash
# check-install.sh -- `cmake --install` into a temporary prefix, then build
# and run a consumer against the installed deltavec.h and deltavec.pc, once
# statically and once with the shared library.
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
cc -std=c11 -Wall -Werror tests/install/consumer.c $(pkg-config --cflags --libs deltavec) -Wl,-rpath,"$libdir" \
    -o "$prefix/consumer-shared"
"$prefix/consumer-shared"
test -x "$prefix/bin/deltavec"
