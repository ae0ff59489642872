// The hand-written .d.ts files match the modules' exports by name (tsc checks the shapes against typical use:
// js/test-types/usage.ts, compiled by scripts/test-js.sh). Every declared value exists at run time, and every
// run-time export is either declared or one of the package-internal helpers listed here (shared between
// index.js, pool.js and parallel.js, not part of the documented API of docs/JS.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jsRoot } from './env.js';

const INTERNAL = {
  'index.js': ['Runtime', 'distUrl', 'wasmBytes', 'getStreamInfo', 'putStreamInfo', 'streamResultOf'],
  'pool.js': ['FallbackPool', 'Port', 'STACK', 'WorkerPool', 'maxPages', 'spawn'],
  // Returned by openParallelReplica; typed as the ParallelReplica interface.
  'parallel.js': ['FallbackReplica', 'ParallelReplica'],
};

function declared(file) {
  const src = readFileSync(path.join(jsRoot, 'src', file), 'utf8');
  return [...src.matchAll(/^export declare (?:function|class|const) (\w+)/gm)].map((m) => m[1]).sort();
}

for (const js of Object.keys(INTERNAL)) {
  const dts = js.replace(/\.js$/, '.d.ts');
  test(`${dts} declares every public run-time export of ${js}, and only those`, async () => {
    const runtime = Object.keys(await import(`../src/${js}`)).sort();
    const decl = declared(dts);
    assert.deepEqual(decl.filter((n) => !runtime.includes(n)), [], 'declared but not exported');
    assert.deepEqual(runtime.filter((n) => !decl.includes(n) && !INTERNAL[js].includes(n)), [], 'exported but not declared');
    assert.deepEqual(INTERNAL[js].filter((n) => decl.includes(n)), [], 'listed as internal but declared');
  });
}
