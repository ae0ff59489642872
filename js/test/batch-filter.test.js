// Db.insertBatch and search(q, k, { filter }): the same state as inserts one by one, captured so a replica
// converges, every item checked before the first goes in, a full capture ring stopping the batch part-way
// (.inserted), and filtered hits against an exact filtered search computed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, DeltavecError } from '../src/index.js';

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

function items(n, dim, seed, first = 0) {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `item-${first + i}`,
    vector: Float32Array.from({ length: dim }, r),
    meta: { half: (first + i) % 2 ? 'odd' : 'even', tenth: String((first + i) % 10) },
  }));
}

test('insertBatch gives the state of the same inserts one by one, and a captured batch replicates', async () => {
  const dv = await load();
  const opts = { dim: 8, M: 8, efConstruction: 64, seed: 3 };
  const batch = items(300, 8, 1);
  const one = dv.openDb(opts), many = dv.openDb(opts);
  for (const it of batch) one.insert(it.id, it.vector, it.meta);
  const cap = many.startCapture({ slotCount: 1024 });
  assert.equal(many.insertBatch(batch), 300);
  assert.equal(many.count, 300);
  assert.equal(many.stateHash(), one.stateHash());
  assert.deepEqual(many.meta('item-7'), { half: 'odd', tenth: '7' });
  const deltas = cap.poll(4096);
  assert.equal(deltas.length, 300); // one delta per item, as single inserts
  const rep = dv.openReplica(opts);
  assert.ok(rep.applyBatch(deltas).every((r) => r === 'DV_OK'));
  assert.equal(rep.stateHash(), many.stateHash());
  assert.equal(many.insertBatch([]), 0);
  rep.close(); one.close(); many.close();
});

test('insertBatch: a bad item is refused before anything goes in, naming the item', async () => {
  const dv = await load();
  const db = dv.openDb({ dim: 4 });
  db.insert('there', [1, 1, 1, 1]);
  const hash = db.stateHash();
  const bad = (mutate) => { const b = items(20, 4, 2); mutate(b); return b; };
  const status = (b) => { try { db.insertBatch(b); } catch (e) { return e; } return null; };
  let e = status(bad((b) => { b[19].vector[2] = NaN; }));
  assert.ok(e instanceof DeltavecError && e.code === 'DV_ENONFINITE' && e.inserted === 0);
  e = status(bad((b) => { b[15].id = 'there'; }));
  assert.ok(e instanceof DeltavecError && e.code === 'DV_EEXIST');
  e = status(bad((b) => { b[12].id = b[3].id; }));
  assert.ok(e instanceof DeltavecError && e.code === 'DV_EEXIST' && e.message.includes('items[12]'), e.message);
  e = status(bad((b) => { b[4].meta = { '': 'x' }; }));
  assert.ok(e instanceof DeltavecError && e.code === 'DV_EMETA');
  e = status(bad((b) => { b[2].id = 5; }));
  assert.ok(e instanceof TypeError && e.message.includes('items[2].id'), e.message);
  e = status(bad((b) => { b[6].meta = { n: 6 }; }));
  assert.ok(e instanceof TypeError && e.message.includes('items[6].meta.n'), e.message);
  e = status(bad((b) => { b[8].vector = [1, 2]; }));
  assert.ok(e instanceof DeltavecError && e.code === 'DV_EDIM' && e.message.includes('items[8].vector'), e.message);
  e = status(bad((b) => { b[9] = null; }));
  assert.ok(e instanceof TypeError && e.message.includes('items[9]'), e.message);
  assert.throws(() => db.insertBatch({ id: 'x' }), TypeError);
  assert.equal(db.count, 1);
  assert.equal(db.stateHash(), hash);
  db.close();
});

test('insertBatch: a full capture ring stops it with .inserted items in', async () => {
  const dv = await load();
  const db = dv.openDb({ dim: 4 });
  const cap = db.startCapture({ slotCount: 8, payloadSize: 1 << 16 });
  const batch = items(100, 4, 3);
  let err = null;
  try { db.insertBatch(batch); } catch (e) { err = e; }
  assert.ok(err instanceof DeltavecError && err.code === 'DV_EFULL', String(err));
  assert.ok(err.inserted > 0 && err.inserted < 100);
  assert.equal(db.count, err.inserted);
  db.get(batch[err.inserted - 1].id);
  assert.throws(() => db.get(batch[err.inserted].id), (e) => e.code === 'DV_ENOTFOUND');
  assert.equal(cap.poll(1000).length, err.inserted);
  db.close();
});

test('search with a filter returns only matching vectors, nearly the exact filtered neighbours', async () => {
  const dv = await load();
  const dim = 16, n = 3000, db = dv.openDb({ dim, M: 12, efConstruction: 100, seed: 5 });
  const data = items(n, dim, 9);
  db.insertBatch(data);
  const r = rng(77);
  const l2 = (a, b) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);
  for (const filter of [{ half: 'odd' }, { half: 'even', tenth: '4' }, { tenth: '3' }]) {
    let agree = 0, total = 0;
    for (let q = 0; q < 20; q++) {
      const query = Float32Array.from({ length: dim }, r);
      const got = db.search(query, 10, { ef: 100, filter });
      const exact = data.filter((it) => Object.entries(filter).every(([k, v]) => it.meta[k] === v))
        .map((it) => ({ id: it.id, d: l2(it.vector, query) })).sort((a, b) => a.d - b.d).slice(0, 10);
      assert.equal(got.length, 10);
      for (const h of got) {
        const meta = db.meta(h.id);
        for (const [k, v] of Object.entries(filter)) assert.equal(meta[k], v);
      }
      const want = new Set(exact.map((x) => x.id));
      agree += got.filter((h) => want.has(h.id)).length;
      total += exact.length;
    }
    assert.ok(agree / total >= 0.95, `recall ${agree / total} for ${JSON.stringify(filter)}`);
  }
  const q = new Float32Array(dim);
  assert.deepEqual(db.search(q, 10, { filter: { half: 'neither' } }), []);
  assert.deepEqual(db.search(q, 10, { filter: { colour: 'red' } }), []);
  assert.equal(db.search(q, 5, { filter: {} }).length, 5); // no pairs: no filter
  assert.equal(db.search(q, 5, 50).length, 5);             // a number is still ef
  assert.throws(() => db.search(q, 5, { filter: { '': 'x' } }), (e) => e instanceof DeltavecError && e.code === 'DV_EMETA');
  assert.throws(() => db.search(q, 5, { filter: { half: 1 } }), (e) => e instanceof TypeError && e.message.includes('filter.half'));
  assert.throws(() => db.search(q, 5, { filter: 'half=odd' }), (e) => e instanceof TypeError && e.message.includes('filter'));
  db.close();
});
