// Shared test vectors: a delta stream + expected hashes written by the native tool
// (wasm/tools/dvw_vectors.c) apply in wasm, SIMD and scalar, to the same hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { load, splitStream, hashHex } from '../src/index.js';
import { runWorkload } from './workload.js';
import { tool, haveTool, vectorsDir } from './env.js';

function vectors() {
  const stream = path.join(vectorsDir, 'native.dvs'), json = path.join(vectorsDir, 'native.json');
  if (!existsSync(json)) {
    mkdirSync(vectorsDir, { recursive: true });
    execFileSync(tool, ['gen', stream, json]);
  }
  return { deltas: splitStream(readFileSync(stream)), exp: JSON.parse(readFileSync(json, 'utf8')) };
}

for (const simd of [true, false]) {
  const label = simd ? 'simd' : 'scalar';
  test(`${label}: native stream applies in wasm with every checkpoint hash equal`, { skip: !haveTool && 'native tool not built' }, async () => {
    const { deltas, exp } = vectors();
    const dv = await load({ simd });
    const r = dv.openReplica(exp);
    const cps = new Map(exp.checkpoints.map((c) => [BigInt(c.seq), c.hash]));
    let checked = 0;
    for (const d of deltas) {
      assert.equal(r.apply(d), true);
      const want = cps.get(r.position);
      if (want) { assert.equal(hashHex(r.stateHash()), want, `hash at ${r.position}`); checked++; }
    }
    assert.equal(checked, exp.checkpoints.length);
    assert.equal(Number(r.position), exp.deltas);
    assert.equal(r.db.count, exp.count);
    assert.equal(hashHex(r.stateHash()), exp.final_hash);
    r.close();
  });

  // A wasm primary and a native primary fed the same ops must build the same graph: levels come from
  // the same seed, and the kernels' different summation orders (AVX2+FMA vs SIMD128) have not flipped a
  // neighbour choice on this workload. (An earlier "divergence" here was a stale wasm build.)
  test(`${label}: a wasm primary fed the same ops reaches the native primary's hash`, { skip: !haveTool && 'native tool not built' }, async () => {
    const { exp } = vectors();
    const dv = await load({ simd });
    const db = dv.openDb(exp);
    runWorkload(db, exp.ops, exp.dim);
    assert.equal(hashHex(db.stateHash()), exp.final_hash);
    db.close();
  });
}
