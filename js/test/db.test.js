// db API through wasm: CRUD, metadata, search, errors, ownership, memory stability.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, openDb, DeltavecError, simdSupported } from '../src/index.js';

for (const simd of [true, false]) {
  const label = simd ? 'simd' : 'scalar';

  test(`${label}: insert/get/update/updateSparse/delete round-trip values exactly`, async () => {
    const dv = await load({ simd });
    assert.equal(dv.backend, simd ? 'simd128' : 'scalar');
    const db = dv.openDb({ dim: 4, metric: 'l2', M: 8, efConstruction: 32, efSearch: 16, seed: 7 });
    db.insert('a', new Float32Array([1, 2, 3, 4]), { color: 'red', 'clé': 'välue' });
    db.insert('b', [0, 0, 0, 1]);
    assert.equal(db.count, 2);
    assert.deepEqual(Array.from(db.get('a')), [1, 2, 3, 4]);
    assert.deepEqual(db.meta('a'), { color: 'red', 'clé': 'välue' });
    db.update('a', [4, 3, 2, 1]);
    assert.deepEqual(Array.from(db.get('a')), [4, 3, 2, 1]);
    db.updateSparse('a', new Uint32Array([0, 3]), new Float32Array([9, 8]));
    assert.deepEqual(Array.from(db.get('a')), [9, 3, 2, 8]);
    db.setMeta('a', 'color', null);
    assert.deepEqual(db.meta('a'), { 'clé': 'välue' });
    db.delete('b');
    assert.equal(db.count, 1);
    assert.throws(() => db.get('b'), (e) => e instanceof DeltavecError && e.code === 'DV_ENOTFOUND');
    db.close();
  });

  test(`${label}: capacity / reserve take the room at once, change no state, and keep memory near the own count`, async () => {
    const dv = await load({ simd, fresh: true });
    const n = 3000, dim = 64, opts = { dim, metric: 'l2', M: 8, efConstruction: 24, seed: 11 };
    const sized = dv.openDb({ ...opts, capacity: n }), plain = dv.openDb(opts);
    assert.ok(sized.memoryUsage >= n * dim * 4, `memoryUsage ${sized.memoryUsage} after capacity ${n}`);
    assert.equal(sized.stateHash(), plain.stateHash());
    const wasmBefore = dv.memoryBytes, ownBefore = sized.memoryUsage;
    const v = new Float32Array(dim);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) v[j] = Math.sin(i * 0.37 + j * 1.3);
      sized.insert(`v${i}`, v);
      plain.insert(`v${i}`, v);
    }
    assert.equal(sized.stateHash(), plain.stateHash());
    // the node arrays were taken up front: what the inserts add (ids, upper layers) is small beside them
    assert.ok(sized.memoryUsage - ownBefore < ownBefore / 4, `own count grew ${ownBefore} -> ${sized.memoryUsage}`);
    sized.reserve(10); // below the room: nothing
    assert.throws(() => sized.reserve(-1), RangeError);
    assert.throws(() => dv.openDb({ ...opts, capacity: 1.5 }), RangeError);
    assert.throws(() => dv.openDb({ ...opts, capacity: 2 ** 32 - 1 }), (e) => e instanceof DeltavecError && e.code === 'DV_ENOMEM');
    assert.ok(dv.memoryBytes >= wasmBefore);
    sized.close();
    plain.close();
  });

  test(`${label}: errors carry the C status name`, async () => {
    const dv = await load({ simd });
    const db = dv.openDb({ dim: 3 });
    db.insert('x', [1, 2, 3]);
    const code = (fn) => { try { fn(); } catch (e) { assert.ok(e instanceof DeltavecError); return e.code; } return 'none'; };
    assert.equal(code(() => db.insert('x', [1, 2, 3])), 'DV_EEXIST');
    assert.equal(code(() => db.insert('y', [1, NaN, 3])), 'DV_ENONFINITE');
    assert.equal(code(() => db.insert('', [1, 2, 3])), 'DV_EID');
    assert.equal(code(() => db.insert('z', [1, 2])), 'DV_EDIM');
    assert.equal(code(() => db.update('nope', [1, 2, 3])), 'DV_ENOTFOUND');
    assert.equal(code(() => db.updateSparse('x', [2, 1], [1, 1])), 'DV_EDIM'); // indices must increase
    assert.equal(code(() => dv.openDb({ dim: 0 })), 'DV_EINVAL');
    db.close();
    assert.equal(code(() => db.count), 'DV_ESTATE');
    db.close(); // idempotent
  });

  test(`${label}: HNSW search finds the exact neighbours on a small set`, async () => {
    const dv = await load({ simd });
    const dim = 16, db = dv.openDb({ dim, M: 8, efConstruction: 100, efSearch: 64, seed: 1 });
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    for (let i = 0; i < 500; i++) db.insert(`p${i}`, Float32Array.from({ length: dim }, rnd));
    let agree = 0;
    for (let q = 0; q < 20; q++) {
      const query = Float32Array.from({ length: dim }, rnd);
      const got = db.search(query, 10, 100), exact = db.searchExact(query, 10);
      assert.equal(got.length, 10);
      for (let i = 1; i < got.length; i++) assert.ok(got[i - 1].distance <= got[i].distance);
      const ids = new Set(exact.map((h) => h.id));
      agree += got.filter((h) => ids.has(h.id)).length;
    }
    assert.ok(agree / 200 >= 0.95, `recall@10 ${agree / 200}`);
    db.close();
  });

  test(`${label}: 10k calls and repeated open/close do not grow wasm memory without bound`, async () => {
    const dv = await load({ simd, fresh: true });
    const round = () => {
      const db = dv.openDb({ dim: 8, seed: 3 });
      const v = new Float32Array(8);
      for (let i = 0; i < 200; i++) { v[0] = i; db.insert(`id-${i}`, v, { k: String(i) }); }
      for (let i = 0; i < 1500; i++) {
        v[1] = i;
        db.update(`id-${i % 200}`, v);
        db.search(v, 5);
        db.get(`id-${i % 200}`);
        db.meta(`id-${i % 200}`);
      }
      const cap = db.startCapture();
      for (let i = 0; i < 100; i++) { v[2] = i; db.update(`id-${i}`, v); const d = cap.poll(); if (d.length) cap.release(cap.lastSequence); }
      db.close();
    };
    round();
    round(); // the allocator settles after two rounds (a freed 1 MiB ring is not always reusable at once)
    const after1 = dv.memoryBytes;
    for (let r = 0; r < 4; r++) round();
    assert.ok(dv.memoryBytes <= after1 + 1024 * 1024, `memory grew from ${after1} to ${dv.memoryBytes}`);
  });
}

test('openDb() uses the detected SIMD flavour and stateHash is a bigint', async () => {
  const db = await openDb({ dim: 2, seed: 5 });
  db.insert('a', [1, 1]);
  assert.equal(typeof db.stateHash(), 'bigint');
  assert.equal(db.rt.backend, simdSupported() ? 'simd128' : 'scalar');
  const c = db.clone();
  assert.equal(c.stateHash(), db.stateHash());
  c.close();
  db.close();
});
