#!/usr/bin/env bash
# deps.sh -- installs the Debian packages deltavec needs, only those missing.
# Used by scripts/run.sh and scripts/test.sh, so each of the README's two
# commands works on a fresh Debian 12 machine. Needs root (or sudo).
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh --run      only what the main job (the demo) needs
set -euo pipefail

RUN_PKGS=(cmake make gcc g++ pkg-config liblz4-dev libxxhash-dev libcjson-dev libcsv-dev)
TEST_PKGS=(clang-14 libclang-rt-14-dev lld-14 libcmocka-dev libhnswlib-dev python3-sklearn dataset-fashion-mnist nats-server libnats-dev libzstd-dev
           wasi-libc libclang-rt-14-dev-wasm32 clang-format-14 nodejs)

pkgs=("${RUN_PKGS[@]}")
if [ "${1:-}" != "--run" ]; then pkgs+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
