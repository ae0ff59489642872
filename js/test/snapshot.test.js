// Snapshots through wasm: db.snapshot() -> bytes, openDb({ snapshot }) / openReplica({ snapshot }) restore
// them with the same state hash; damaged bytes are refused with the C status name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, openDb, DeltavecError } from '../src/index.js';

function fill(db, n, seed) {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296 - 0.5; };
  for (let i = 0; i < n; i++) {
    const v = Float32Array.from({ length: db.dim }, rnd);
    db.insert(`doc-${i}`, v, i % 3 ? { lang: i % 2 ? 'en' : 'fr' } : undefined);
    if (i % 5 === 4) db.delete(`doc-${i - 2}`);
    if (i % 7 === 6) db.update(`doc-${i}`, v.map((x) => x * 0.5));
  }
  db.insert('doc-2', new Float32Array(db.dim).fill(0.25)); // reuses a free slot
}

for (const simd of [true, false]) {
  const label = simd ? 'simd' : 'scalar';

  test(`${label}: snapshot round trip keeps the state hash, data and search`, async () => {
    const dv = await load({ simd });
    const db = dv.openDb({ dim: 16, metric: 'cosine', M: 8, efConstruction: 40, seed: 5 });
    fill(db, 300, 1);
    const bytes = db.snapshot();
    assert.ok(bytes instanceof Uint8Array && bytes.length > 300 * 16 * 4);
    const back = dv.openDb({ snapshot: bytes });
    assert.equal(back.stateHash(), db.stateHash());
    assert.equal(back.snapshotMeta.stateHash, db.stateHash());
    assert.equal(back.snapshotMeta.sequence, 0n);
    assert.equal(back.count, db.count);
    assert.equal(back.dim, 16);
    assert.deepEqual(back.meta('doc-1'), db.meta('doc-1'));
    const q = new Float32Array(16).fill(0.1);
    assert.deepEqual(back.search(q, 5), db.search(q, 5));
    // both continue identically (free-slot stack and level PRNG came along)
    for (const d of [db, back]) { d.insert('new', q); d.delete('doc-10'); }
    assert.equal(back.stateHash(), db.stateHash());
    // an ArrayBuffer works too, and the empty db round-trips
    const empty = dv.openDb({ dim: 3 });
    const e2 = dv.openDb({ snapshot: empty.snapshot().slice().buffer });
    assert.equal(e2.count, 0);
    assert.equal(e2.stateHash(), empty.stateHash());
    for (const d of [db, back, empty, e2]) d.close();
  });

  test(`${label}: damaged snapshot bytes are refused with the C status name`, async () => {
    const dv = await load({ simd });
    const db = dv.openDb({ dim: 4, M: 4 });
    fill(db, 40, 9);
    const bytes = db.snapshot();
    const code = (b) => {
      try { dv.openDb({ snapshot: b }).close(); } catch (e) {
        assert.ok(e instanceof DeltavecError);
        assert.ok(typeof e.detail === 'string' && e.detail.length > 0, 'the loader says where');
        return e.code;
      }
      return 'DV_OK';
    };
    assert.equal(code(bytes), 'DV_OK');
    assert.equal(code(bytes.subarray(0, bytes.length - 1)), 'DV_ETRUNCATED');
    assert.equal(code(bytes.subarray(0, 100)), 'DV_ETRUNCATED');
    const flip = (off) => { const b = bytes.slice(); b[off] ^= 0x10; return b; };
    assert.equal(code(flip(0)), 'DV_ENOTSNAPSHOT');
    assert.equal(code(flip(8)), 'DV_EVERSION');
    assert.equal(code(flip(40)), 'DV_ECHECKSUM'); // header field
    assert.equal(code(flip(bytes.length - 100)), 'DV_ECHECKSUM'); // a section
    assert.equal(code(flip(Math.floor(bytes.length / 2))), 'DV_ECHECKSUM');
    const longer = new Uint8Array(bytes.length + 3); longer.set(bytes);
    assert.equal(code(longer), 'DV_ECORRUPT');
    assert.equal(code(new TextEncoder().encode('not a snapshot at all')), 'DV_ENOTSNAPSHOT');
    assert.equal(code(new Uint8Array(0)), 'DV_EEMPTY');
    db.close();
  });

  test(`${label}: a replica opened from a primary's snapshot applies the later deltas`, async () => {
    const dv = await load({ simd });
    const primary = dv.openDb({ dim: 8, M: 6, efConstruction: 30 });
    const cap = primary.startCapture({ slotCount: 1024, payloadSize: 1 << 20 });
    fill(primary, 120, 3);
    cap.poll(100000); // the deltas before the snapshot are not needed
    const bytes = primary.snapshot();
    cap.release(cap.lastSequence);
    const at = cap.lastSequence;
    const live = (id) => { try { primary.get(id); return true; } catch { return false; } };
    for (let i = 0; i < 60; i++) {
      const id = `doc-${i * 2 + 1}`;
      if (!live(id)) continue;
      primary.update(id, new Float32Array(8).fill(i / 60));
      if (i % 9 === 0) primary.setMeta(id, 'tag', `t${i}`);
      if (i % 4 === 0) primary.delete(id);
    }
    const later = cap.poll(100000);
    assert.ok(later.length > 40);
    const rep = dv.openReplica({ snapshot: bytes });
    assert.equal(rep.position, at);
    const results = rep.applyBatch(later);
    assert.ok(results.every((r) => r === 'DV_OK'), results.join(','));
    assert.equal(rep.stateHash(), primary.stateHash());
    // the replica's own snapshot records its position
    const again = dv.openReplica({ snapshot: rep.snapshot() });
    assert.equal(again.position, rep.position);
    assert.equal(again.stateHash(), primary.stateHash());
    for (const d of [again, rep, primary]) d.close();
  });
}

test('openDb({ snapshot }) on the default module', async () => {
  const db = await openDb({ dim: 2 });
  db.insert('a', [1, 2]);
  const back = await openDb({ snapshot: db.snapshot() });
  assert.deepEqual(Array.from(back.get('a')), [1, 2]);
  db.close(); back.close();
});
