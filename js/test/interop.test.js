// Shared test vectors: a stream (docs/FORMAT.md section 10) + expected hashes written by the native tool
// (wasm/tools/dvw_vectors.c) read in wasm through the core's stream reader and applied, SIMD and scalar, to the
// same hashes by a replica created from the stream header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { load, hashHex } from '../src/index.js';
import { runWorkload } from './workload.js';
import { tool, haveTool, vectorsDir } from './env.js';

async function vectors(dv) {
  const stream = path.join(vectorsDir, 'native.dvs'), json = path.join(vectorsDir, 'native.json');
  if (!existsSync(json)) {
    mkdirSync(vectorsDir, { recursive: true });
    execFileSync(tool, ['gen', stream, json]);
  }
  const bytes = new Uint8Array(readFileSync(stream));
  const { info, deltas } = (dv || await load()).readStream(bytes);
  return { bytes, info, deltas, exp: JSON.parse(readFileSync(json, 'utf8')) };
}

// UPDATE kind 3 (dense values XOR the replica's current ones, docs/FORMAT.md 3.2): batches of 8 from a native
// capture with dense_xor, every dense update of the workload in that form. No checkpoints (a batch holds
// several ops): the final hash. The native replica applies the same file to the same hash.
function xorVectors() {
  const stream = path.join(vectorsDir, 'native-xor.dvs'), json = path.join(vectorsDir, 'native-xor.json');
  mkdirSync(vectorsDir, { recursive: true });
  execFileSync(tool, ['gen', stream, json, '3000', '32', 'xor']);
  return { bytes: new Uint8Array(readFileSync(stream)), exp: JSON.parse(readFileSync(json, 'utf8')), stream };
}

for (const simd of [true, false]) {
  const label = simd ? 'simd' : 'scalar';
  test(`${label}: a native stream of kind 3 updates applies in wasm to the native hash`, { skip: !haveTool && 'native tool not built' }, async () => {
    const dv = await load({ simd });
    const { bytes, exp, stream } = xorVectors();
    const { deltas } = dv.readStream(bytes);
    const r = dv.openReplicaFromStream(bytes);
    for (const d of deltas) assert.equal(r.apply(d), true);
    assert.equal(Number(r.position), exp.deltas);
    assert.equal(r.db.count, exp.count);
    assert.equal(hashHex(r.stateHash()), exp.final_hash);
    r.close();
    assert.match(execFileSync(tool, ['apply', stream]).toString(), new RegExp(`hash=${exp.final_hash}`));
  });

  test(`${label}: native stream applies in wasm with every checkpoint hash equal`, { skip: !haveTool && 'native tool not built' }, async () => {
    const dv = await load({ simd });
    const { bytes, info, deltas, exp } = await vectors(dv);
    assert.equal(info.dim, exp.dim);
    assert.equal(info.M, exp.M);
    assert.equal(info.efConstruction, exp.efConstruction);
    assert.equal(info.seed, BigInt(exp.seed));
    assert.equal(info.firstSequence, 1n);
    assert.equal(bytes.length, exp.stream_bytes);
    const r = dv.openReplicaFromStream(bytes);
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
    const dv = await load({ simd });
    const { exp } = await vectors(dv);
    const db = dv.openDb(exp);
    runWorkload(db, exp.ops, exp.dim);
    assert.equal(hashHex(db.stateHash()), exp.final_hash);
    db.close();
  });
}
