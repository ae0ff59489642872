#!/usr/bin/env bash
# test-js.sh -- the WebAssembly + JavaScript tests (step 6 of scripts/test.sh).
#
#   1. builds the wasm modules and the native interop tool (scripts/build-wasm.sh)
#   2. writes the shared test vectors with the native tool (build-wasm/vectors/)
#   3. installs the npm dev dependencies of js/ (npm ci: playwright-core, typescript, hnswlib-wasm)
#   4. tsc --noEmit on js/test-types/usage.ts (the .d.ts files against typical use)
#   5. node --test js/test/           (db, capture, interop, worker pool, parallel apply, types)
#   6. the WebAssembly component (scripts/build-component.sh, then node --test wit/test/:
#      WIT check, hashes against the native library, capture/apply across instances, errors, drops)
#   7. the browser test: examples/browser/ served on 127.0.0.1 with COOP/COEP,
#      driven in headless Debian Chromium by playwright-core (installs the
#      chromium package with apt-get if it is missing), then the replica kept in OPFS
#      (examples/browser/opfs.html: after a reload only the new deltas are fetched)
# Exits non-zero if any step fails. DV_JS_SKIP_BROWSER=1 skips step 7.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

command -v node >/dev/null || { echo "test-js: node (>= 20) is required" >&2; exit 1; }
scripts/build-wasm.sh

mkdir -p build-wasm/vectors
build-wasm/dvw_vectors gen build-wasm/vectors/native.dvs build-wasm/vectors/native.json

cd js
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >/dev/null; else npm install --no-audit --no-fund >/dev/null; fi
npx tsc -p test-types
node --test test/
cd "$root"
scripts/build-component.sh
(cd wit && node --test test/)
cd js

# C, Node and Chromium replicas of one primary through a real nats-server (tests/test_transport_replicas.c): it
# needs the wasm modules and the npm NATS packages installed above, so it runs (again) here.
# The browser replica loads the NATS client bundled by esbuild (npm run build:nats -> js/dist/nats-browser.js).
if [ -x "$root/build-test/tests/test_transport_replicas" ] && command -v nats-server >/dev/null; then
    npm run --silent build:nats
    "$root/build-test/tests/test_transport_replicas"
fi

if [ "${DV_JS_SKIP_BROWSER:-0}" != 1 ] && [ -f test-browser/browser.mjs ]; then
    if ! command -v chromium >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
    fi
    node test-browser/browser.mjs
    node test-browser/opfs.mjs
fi
echo "test-js: OK"
