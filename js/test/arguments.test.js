// Arguments are checked before they reach wasm: each bad one is a TypeError (wrong type) or RangeError (a number
// out of range) whose message names the call and the argument, and nothing changes in the db.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, DeltavecError } from '../src/index.js';

/** Asserts fn throws an error of class cls whose message mentions every one of words. */
function refuses(fn, cls, ...words) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e && e.constructor.name}: ${e && e.message}`);
    for (const w of words) assert.ok(e.message.includes(w), `"${e.message}" does not mention "${w}"`);
    return true;
  });
}

async function smallDb() {
  const dv = await load();
  const db = dv.openDb({ dim: 3, seed: 1 });
  db.insert('a', [1, 0, 0], { tag: 'x' });
  db.insert('b', [0, 1, 0]);
  db.insert('c', [0, 0, 1]);
  return { dv, db };
}

test('k must be an integer >= 0; a k above the count returns every vector, however large', async () => {
  const { db } = await smallDb();
  const q = [1, 0, 0];
  refuses(() => db.search(q, -1), RangeError, 'search', 'k', '-1');
  refuses(() => db.search(q, 1.5), RangeError, 'search', 'k');
  refuses(() => db.search(q, NaN), RangeError, 'search', 'k');
  refuses(() => db.search(q, 2 ** 32), RangeError, 'search', 'k');
  refuses(() => db.search(q, '2'), TypeError, 'search', 'k');
  refuses(() => db.search(q), TypeError, 'search', 'k');
  refuses(() => db.searchExact(q, -1), RangeError, 'searchExact', 'k');
  // 1e9 used to size a 12 GB hit buffer and trap out of bounds in wasm
  const all = db.search(q, 1e9);
  assert.deepEqual(all.map((h) => h.id).sort(), ['a', 'b', 'c']);
  assert.ok(all.every((h) => h.id !== ''));
  assert.equal(db.searchExact(q, 2 ** 32 - 1).length, 3);
  assert.deepEqual(db.search(q, 0), []);
  assert.equal(db.search(q, 1)[0].id, 'a');
  refuses(() => db.search(q, 1, -5), RangeError, 'search', 'ef');
  refuses(() => db.search(q, 1, { ef: 2.5 }), RangeError, 'search', 'ef');
  refuses(() => db.search(q, 1, 'wide'), TypeError, 'search', 'options');
  refuses(() => db.setEfSearch(-1), RangeError, 'setEfSearch', 'ef');
  db.close();
});

test('ids must be strings: objects, null, numbers and undefined are refused, not coerced', async () => {
  const { db } = await smallDb();
  const v = [1, 1, 1];
  refuses(() => db.insert({}, v), TypeError, 'insert', 'id', 'object');
  refuses(() => db.insert(null, v), TypeError, 'insert', 'id', 'null');
  refuses(() => db.insert(7, v), TypeError, 'insert', 'id', 'number');
  refuses(() => db.insert(undefined), TypeError, 'insert', 'id', 'undefined');
  refuses(() => db.insert('d', undefined), TypeError, 'insert', 'vec');
  refuses(() => db.insert('d', 'abc'), TypeError, 'insert', 'vec');
  refuses(() => db.update(null, v), TypeError, 'update', 'id');
  refuses(() => db.updateSparse({}, [0], [1]), TypeError, 'updateSparse', 'id');
  refuses(() => db.delete(undefined), TypeError, 'delete', 'id');
  refuses(() => db.get(1), TypeError, 'get', 'id');
  refuses(() => db.meta(null), TypeError, 'meta', 'id');
  assert.equal(db.count, 3);
  assert.throws(() => db.get('[object Object]'), (e) => e instanceof DeltavecError && e.code === 'DV_ENOTFOUND');
  assert.throws(() => db.get('null'), (e) => e instanceof DeltavecError && e.code === 'DV_ENOTFOUND');
  // a wrong length stays the core's DV_EDIM
  assert.throws(() => db.insert('d', [1, 2]), (e) => e instanceof DeltavecError && e.code === 'DV_EDIM');
  db.close();
});

test('metadata values must be strings', async () => {
  const { db } = await smallDb();
  const v = [1, 1, 1];
  refuses(() => db.insert('d', v, { n: 1 }), TypeError, 'insert', 'meta.n', 'number');
  refuses(() => db.insert('d', v, { n: null }), TypeError, 'insert', 'meta.n', 'null');
  refuses(() => db.insert('d', v, { n: {} }), TypeError, 'insert', 'meta.n', 'object');
  refuses(() => db.insert('d', v, ['x']), TypeError, 'insert', 'meta');
  refuses(() => db.insert('d', v, 'tag=x'), TypeError, 'insert', 'meta');
  refuses(() => db.setMeta('a', 'tag', 5), TypeError, 'setMeta', 'value');
  refuses(() => db.setMeta('a', {}, 'x'), TypeError, 'setMeta', 'key');
  assert.equal(db.count, 3);
  assert.deepEqual(db.meta('a'), { tag: 'x' });
  db.setMeta('a', 'tag', null); // null (or undefined) removes
  assert.deepEqual(db.meta('a'), {});
  db.insert('d', v, { n: '1' });
  assert.deepEqual(db.meta('d'), { n: '1' });
  db.close();
});

test('openDb: dim and the other sizes must be integers', async () => {
  const dv = await load();
  refuses(() => dv.openDb({ dim: 1.5 }), RangeError, 'openDb', 'dim', '1.5');
  refuses(() => dv.openDb({ dim: -4 }), RangeError, 'openDb', 'dim');
  refuses(() => dv.openDb({ dim: '4' }), TypeError, 'openDb', 'dim');
  refuses(() => dv.openDb({}), TypeError, 'openDb', 'dim', 'undefined');
  refuses(() => dv.openDb({ dim: 4, M: 2.5 }), RangeError, 'openDb', 'M');
  refuses(() => dv.openDb({ dim: 4, efSearch: -1 }), RangeError, 'openDb', 'efSearch');
  refuses(() => dv.openDb({ dim: 4, efConstruction: '200' }), TypeError, 'openDb', 'efConstruction');
  // in range for JS, out of range for the core: its DV_EINVAL
  assert.throws(() => dv.openDb({ dim: 0 }), (e) => e instanceof DeltavecError && e.code === 'DV_EINVAL');
  assert.throws(() => dv.openDb({ dim: 5000 }), (e) => e instanceof DeltavecError && e.code === 'DV_EINVAL');
  const db = dv.openDb({ dim: 2, M: 8 });
  assert.equal(db.dim, 2);
  db.close();
});
