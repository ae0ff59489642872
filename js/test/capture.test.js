// Capture in wasm -> replica in wasm (and natively): same state hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { load, DeltavecError, hashHex } from '../src/index.js';
import { runWorkload, defaultConfig as C } from './workload.js';
import { tool, haveTool, buildDir } from './env.js';

async function captureWorkload(simd, opts = {}) {
  const dv = await load({ simd });
  const db = dv.openDb(C);
  const cap = db.startCapture(opts);
  const deltas = [];
  runWorkload(db, opts.ops || 1500, C.dim, () => {
    const got = cap.poll(64);
    if (got.length) { deltas.push(...got); cap.release(cap.lastSequence); }
  });
  cap.flush();
  const rest = cap.poll(1024);
  deltas.push(...rest);
  const cp = cap.checkpoint();
  return { dv, db, cap, deltas, cp };
}

for (const simd of [true, false]) {
  const label = simd ? 'simd' : 'scalar';
  test(`${label}: captured deltas replay on a wasm replica to the primary's hash`, async () => {
    const { dv, db, deltas, cp } = await captureWorkload(simd);
    // one delta per write, plus the graph repair steps the deletes triggered (REINDEX)
    const repairs = deltas.filter((d) => /reindex/.test(dv.describe(d))).length;
    assert.ok(repairs > 0, 'the workload\'s deletes triggered a repair');
    assert.equal(deltas.length, 1500 + repairs);
    assert.equal(cp.sequence, BigInt(deltas.length));
    assert.equal(cp.stateHash, db.stateHash());
    for (const d of deltas) dv.verify(d);
    assert.match(dv.describe(deltas[0]), /insert/);
    const r = dv.openReplica(C);
    for (const d of deltas) assert.equal(r.apply(d), true);
    assert.equal(r.position, BigInt(deltas.length));
    assert.equal(r.stateHash(), db.stateHash());
    const q = db.get('v0');
    assert.deepEqual(r.search(q, 10), db.search(q, 10));
    // idempotent duplicate, refused gap
    assert.equal(r.apply(deltas[10]), false);
    db.insert('extra1', new Float32Array(C.dim));
    db.insert('extra2', new Float32Array(C.dim));
    const more = db._capture.poll();
    assert.equal(more.length, 2);
    assert.throws(() => r.apply(more[1]), (e) => e instanceof DeltavecError && e.code === 'DV_EGAP');
    assert.deepEqual(r.applyBatch(more), ['DV_OK', 'DV_OK']);
    assert.equal(r.stateHash(), db.stateHash());
    // a flipped payload bit is refused before any change; the good copy then applies
    db.insert('extra3', new Float32Array(C.dim).fill(0.5));
    const [next] = db._capture.poll();
    const bad = Uint8Array.from(next);
    bad[bad.length - 1] ^= 1;
    const before = r.stateHash();
    assert.throws(() => r.apply(bad), (e) => e instanceof DeltavecError && e.code === 'DV_ECHECKSUM');
    assert.equal(r.stateHash(), before);
    assert.equal(r.apply(next), true);
    assert.equal(r.stateHash(), db.stateHash());
    r.close();
    db.close();
  });

  test(`${label}: batched capture (BATCH deltas) converges too`, async () => {
    const { dv, db, deltas } = await captureWorkload(simd, { batchMaxDeltas: 16, ops: 800 });
    assert.ok(deltas.length < 800 && deltas.length >= 50, `${deltas.length} batch deltas`);
    const r = dv.openReplica(C);
    for (const d of deltas) r.apply(d);
    assert.equal(r.stateHash(), db.stateHash());
    r.close();
    db.close();
  });

  test(`${label}: a stream written in wasm is read natively into a replica created from its header, same hash`, { skip: !haveTool && 'native tool not built' }, async () => {
    const { dv, db, deltas } = await captureWorkload(simd);
    const dir = path.join(buildDir, 'vectors');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `wasm-captured-${label}.dvs`);
    writeFileSync(file, dv.writeStream(db, deltas));
    // The native tool takes the config from the stream header only (dvw_vectors apply STREAM).
    const out = execFileSync(tool, ['apply', file]).toString();
    assert.match(out, new RegExp(`position=${deltas.length} hash=${hashHex(db.stateHash())}`));
    db.close();
  });
}
