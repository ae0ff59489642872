// The deltavec component (wit/deltavec.wit) through its jco-transpiled ES module
// (scripts/build-component.sh builds it into build/component/; DV_COMPONENT_OUT
// and DVW_BUILD move it and the wasm build).
//
// Two component instances: importing the transpiled module under a second URL
// (a query string) instantiates the component again, with its own memory.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { runWorkload } from '../../js/test/workload.js';
import { checkWit } from '../tools/component.mjs';

const witDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repo = path.resolve(witDir, '..');
const outDir = process.env.DV_COMPONENT_OUT || path.join(repo, 'build/component');
const buildDir = process.env.DVW_BUILD || path.join(repo, 'build-wasm');
const moduleUrl = pathToFileURL(path.join(outDir, 'js/deltavec.js')).href;

const A = await import(moduleUrl);
const B = await import(`${moduleUrl}?instance=b`);

// Resources a test made: dropped after it, newest first (Node 20 has no `using`).
const live = [];
const own = (r) => (live.push(r), r);
afterEach(() => { while (live.length) live.pop()[Symbol.dispose](); });

const hex = (h) => h.toString(16).padStart(16, '0');

/** The error a call throws: jco wraps a `delta-error` in an Error whose payload is the variant. */
function errorOf(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e.payload && typeof e.payload.tag === 'string', `not a delta-error: ${e}`);
    assert.equal(typeof e.payload.val, 'string');
    assert.ok(e.payload.val.length > 0);
    return e.payload;
  }
  assert.fail('no error');
}
const expectError = (tag, fn) => assert.equal(errorOf(fn).tag, tag);

/** The records of a stream (docs/FORMAT.md section 10): header_size at byte 10, then 64-byte
 *  headers each followed by payload_size (byte 28) bytes. Framing only: the applier verifies. */
function streamRecords(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  for (let off = dv.getUint16(10, true); off + 64 <= buf.length;) {
    const len = 64 + dv.getUint32(off + 28, true);
    out.push(buf.subarray(off, off + len));
    off += len;
  }
  return out;
}

function nativeVectors() {
  const stream = path.join(buildDir, 'vectors/native.dvs'), json = path.join(buildDir, 'vectors/native.json');
  if (!existsSync(json)) {
    mkdirSync(path.dirname(json), { recursive: true });
    execFileSync(path.join(buildDir, 'dvw_vectors'), ['gen', stream, json]);
  }
  return { deltas: streamRecords(readFileSync(stream)), exp: JSON.parse(readFileSync(json, 'utf8')) };
}

function dbConfig(dv, exp) {
  return {
    ...dv.vectorDb.Database.defaultConfig(exp.dim),
    metric: ['l2', 'inner-product', 'cosine'][exp.metric],
    m: exp.M, efConstruction: exp.efConstruction, efSearch: exp.efSearch, seed: BigInt(exp.seed),
  };
}

/** The component database behind the interface js/test/workload.js drives. */
function workloadDb(db) {
  return {
    insert: (id, v, meta) => db.insert(id, v, meta ? Object.entries(meta) : []),
    update: (id, v) => db.update(id, v),
    updateSparse: (id, idx, vals) => db.updateSparse(id, idx, vals),
    delete: (id) => db.delete(id),
    setMeta: (id, k, v) => db.setMeta(id, k, v),
  };
}

test('the component exports exactly the WIT package (printed world and every declaration)', async () => {
  const printed = await checkWit(witDir, readFileSync(path.join(outDir, 'deltavec.component.wasm')));
  assert.match(printed, /export deltavec:delta\/vector-db@1\.0\.0;/);
  assert.equal(readFileSync(path.join(outDir, 'deltavec.printed.wit'), 'utf8'), printed);
});

test('runtime: version and SIMD backend of the npm build', () => {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'js/package.json'), 'utf8'));
  assert.equal(A.runtime.version(), pkg.version);
  assert.equal(A.runtime.simdBackend(), 'simd128');
  assert.ok(A.runtime.memorySize() >= 65536n);
});

test('database: insert, get, metadata, search, exact search, update, delete, clone', () => {
  const { Database } = A.vectorDb;
  const db = own(Database.open({ ...Database.defaultConfig(4), metric: 'l2' }));
  db.insert('a', new Float32Array([0, 0, 0, 0]), [['color', 'red']]);
  db.insert('b', new Float32Array([1, 0, 0, 0]), []);
  db.insert('c', new Float32Array([5, 5, 5, 5]), []);
  assert.equal(db.count(), 3);
  assert.equal(db.dim(), 4);
  assert.deepEqual([...db.get('b')], [1, 0, 0, 0]);
  assert.deepEqual(db.meta('a'), [['color', 'red']]);
  db.setMeta('a', 'size', 'xl');
  db.setMeta('a', 'color', undefined);
  assert.deepEqual(db.meta('a'), [['size', 'xl']]);
  const q = new Float32Array([0.9, 0, 0, 0]);
  const hits = db.search(q, 2, 0);
  assert.deepEqual(hits.map((h) => h.id), ['b', 'a']);
  assert.ok(Math.abs(hits[0].distance - 0.01) < 1e-6);
  assert.deepEqual(db.searchExact(q, 10).map((h) => h.id), ['b', 'a', 'c']);
  assert.equal(db.search(q, 100, 64).length, 3);
  db.update('c', new Float32Array([1, 1, 0, 0]));
  db.updateSparse('c', new Uint32Array([2, 3]), new Float32Array([7, 8]));
  assert.deepEqual([...db.get('c')], [1, 1, 7, 8]);
  db.setEfSearch(10);
  const copy = own(db.clone());
  assert.equal(copy.stateHash(), db.stateHash());
  db.delete('b');
  assert.equal(db.count(), 2);
  assert.notEqual(copy.stateHash(), db.stateHash());
  assert.ok(db.memoryUsage() > 0n);
});

test('a component primary fed the native workload reaches the native primary\'s state hash', () => {
  const { exp } = nativeVectors();
  const db = own(A.vectorDb.Database.open(dbConfig(A, exp)));
  runWorkload(workloadDb(db), exp.ops, exp.dim);
  assert.equal(db.count(), exp.count);
  assert.equal(hex(db.stateHash()), exp.final_hash);
});

test('the native delta stream applies in the component with every checkpoint hash equal', () => {
  const { deltas, exp } = nativeVectors();
  const { Database } = B.vectorDb, { Applier } = B.deltaApply;
  const db = own(Database.open(dbConfig(B, exp)));
  const ap = own(Applier.open(db, Applier.defaultConfig()));
  const cps = new Map(exp.checkpoints.map((c) => [BigInt(c.seq), c.hash]));
  let checked = 0;
  for (const d of deltas) {
    assert.equal(ap.applyEncoded(d), 'applied');
    const want = cps.get(ap.position());
    if (want) { assert.equal(hex(db.stateHash()), want); checked++; }
  }
  assert.equal(checked, exp.checkpoints.length);
  assert.equal(hex(db.stateHash()), exp.final_hash);
});

// Capture in instance A, apply in instance B three ways (records one by one, batches, wire bytes).
for (const how of ['apply', 'applyBatch', 'applyEncoded']) {
  test(`capture in one instance, ${how} in another: the native final hash, checkpoints equal`, () => {
    const { exp } = nativeVectors();
    const primary = own(A.vectorDb.Database.open(dbConfig(A, exp)));
    const cap = own(A.deltaCapture.Capture.open(primary, { ...A.deltaCapture.Capture.defaultConfig(), slotCount: 256 }));
    const replica = own(B.vectorDb.Database.open(dbConfig(B, exp)));
    const ap = own(B.deltaApply.Applier.open(replica, B.deltaApply.Applier.defaultConfig()));
    cap.start();
    let deltas = 0;
    const drain = () => {
      const headers = cap.poll(1000);
      if (!headers.length) return;
      const batch = headers.map((h) => ({ header: h, payload: cap.payload(h.sequence) }));
      if (how === 'applyBatch') {
        const r = ap.applyBatch(batch);
        assert.equal(r.applied, batch.length);
        assert.ok(r.results.every((x) => x.tag === 'ok' && x.val === 'applied'));
      } else {
        for (const d of batch) {
          const bytes = how === 'applyEncoded' ? cap.encoded(d.header.sequence) : null;
          assert.equal(bytes ? ap.applyEncoded(bytes) : ap.apply(d), 'applied');
        }
      }
      deltas += headers.length;
      cap.release(headers.at(-1).sequence);
    };
    runWorkload(workloadDb(primary), exp.ops, exp.dim, (op) => { if (op % 200 === 199) drain(); });
    drain();
    assert.equal(deltas, exp.deltas);
    const cp = cap.checkpoint();
    assert.equal(cp.sequence, BigInt(exp.deltas));
    assert.equal(ap.position(), cp.sequence);
    assert.equal(replica.stateHash(), cp.stateHash);
    assert.equal(hex(replica.stateHash()), exp.final_hash);
    assert.equal(ap.stats().applied, BigInt(exp.deltas));
    assert.equal(cap.stats().deltas, BigInt(exp.deltas));
  });
}

test('headers carry every field of the 64-byte wire header', () => {
  const db = own(A.vectorDb.Database.open(A.vectorDb.Database.defaultConfig(8)));
  const cap = own(A.deltaCapture.Capture.open(db, A.deltaCapture.Capture.defaultConfig()));
  cap.start();
  db.insert('x', new Float32Array(8).fill(1), [['k', 'v']]);
  db.updateSparse('x', new Uint32Array([3]), new Float32Array([2]));
  const hs = cap.poll(10);
  assert.equal(hs.length, 2);
  for (const h of hs) {
    const wire = cap.encoded(h.sequence);
    const dv = new DataView(wire.buffer, wire.byteOffset, 64);
    assert.equal(dv.getBigUint64(0, true), h.sequence);
    assert.equal(dv.getUint8(8), ['insert', 'update', 'delete', 'batch', 'reindex'].indexOf(h.operation) + 1);
    const names = ['compressed', 'sparse', 'hasMeta', 'hasHnsw', 'hasBefore', 'lossyF16', 'lossyI8'];
    assert.equal(dv.getUint8(9), names.reduce((b, n, i) => b | (h.flags[n] ? 1 << i : 0), 0));
    assert.equal(dv.getUint16(10, true), h.version);
    assert.equal(dv.getUint32(12, true), h.vectorIdHash);
    assert.equal(dv.getBigUint64(16, true), h.timestamp);
    assert.equal(dv.getUint32(24, true), h.payloadOffset);
    assert.equal(dv.getUint32(28, true), h.payloadSize);
    assert.equal(dv.getBigUint64(32, true), h.checksum);
    assert.equal(dv.getBigUint64(40, true), h.prevSequence);
    assert.deepEqual([dv.getBigUint64(48, true), dv.getBigUint64(56, true)], h.padding);
    assert.equal(wire.length, 64 + h.payloadSize);
    assert.deepEqual(wire.subarray(64), cap.payload(h.sequence));
  }
  assert.equal(hs[0].operation, 'insert');
  assert.ok(hs[0].flags.hasMeta && hs[0].flags.hasHnsw);
  assert.equal(hs[1].operation, 'update');
  assert.ok(hs[1].flags.sparse);
  assert.equal(hs[1].prevSequence, hs[0].sequence);
});

test('snapshot bytes out and in: same state hash, peek, and the applier continues from them', () => {
  const { Database } = A.vectorDb;
  const db = own(Database.open(Database.defaultConfig(4)));
  const cap = own(A.deltaCapture.Capture.open(db, A.deltaCapture.Capture.defaultConfig()));
  cap.start();
  for (let i = 0; i < 50; i++) db.insert(`v${i}`, new Float32Array([i, i % 3, i % 5, 1]), []);
  const snap = db.snapshot(cap.lastSequence());
  const info = Database.peekSnapshot(snap);
  assert.equal(info.sequence, 50n);
  assert.equal(info.stateHash, db.stateHash());
  assert.equal(info.count, 50);
  assert.equal(info.size, BigInt(snap.length));
  const loaded = own(B.vectorDb.Database.fromSnapshot(snap));
  assert.equal(loaded.stateHash(), db.stateHash());
  cap.release(cap.lastSequence());
  cap.poll(1000);
  cap.release(50n);
  db.insert('late', new Float32Array([9, 9, 9, 9]), []);
  const ap = own(B.deltaApply.Applier.open(loaded, { ...B.deltaApply.Applier.defaultConfig(), startPosition: info.sequence }));
  const [h] = cap.poll(10);
  assert.equal(h.sequence, 51n);
  assert.equal(ap.apply({ header: h, payload: cap.payload(51n) }), 'applied');
  assert.equal(loaded.stateHash(), db.stateHash());
});

test('every error comes back as its delta-error case, never a trap, and changes nothing', () => {
  const { Database } = A.vectorDb, { Capture } = A.deltaCapture, { Applier } = A.deltaApply;
  expectError('invalid', () => Database.open(Database.defaultConfig(0)));
  expectError('invalid', () => Database.open({ ...Database.defaultConfig(4), m: 1000 }));
  const db = own(Database.open(Database.defaultConfig(4)));
  const v = new Float32Array([1, 2, 3, 4]);
  db.insert('a', v, []);
  const h0 = db.stateHash();
  expectError('exists', () => db.insert('a', v, []));
  expectError('not-found', () => db.delete('nope'));
  expectError('not-found', () => db.get('nope'));
  expectError('dim', () => db.insert('b', new Float32Array(3), []));
  expectError('dim', () => db.search(new Float32Array(5), 1, 0));
  expectError('dim', () => db.updateSparse('a', new Uint32Array([4]), new Float32Array([1])));
  expectError('invalid', () => db.updateSparse('a', new Uint32Array([1, 2]), new Float32Array([1])));
  expectError('non-finite', () => db.insert('b', new Float32Array([1, NaN, 0, 0]), []));
  expectError('non-finite', () => db.update('a', new Float32Array([Infinity, 0, 0, 0])));
  expectError('bad-id', () => db.insert('', v, []));
  expectError('bad-id', () => db.insert('x'.repeat(300), v, []));
  expectError('bad-id', () => db.insert('a\0b', v, []));
  expectError('bad-meta', () => db.insert('b', v, [['', 'x']]));
  expectError('bad-meta', () => db.insert('b', v, [['k\0', 'x']]));
  expectError('bad-meta', () => db.setMeta('a', 'k', 'v'.repeat(5000)));
  expectError('invalid', () => db.setEfSearch(0));
  assert.equal(db.stateHash(), h0);
  assert.equal(db.count(), 1);

  // snapshots
  const snap = db.snapshot(0n);
  expectError('empty', () => Database.fromSnapshot(new Uint8Array(0)));
  expectError('not-snapshot', () => Database.fromSnapshot(new TextEncoder().encode('definitely not a snapshot')));
  expectError('truncated', () => Database.fromSnapshot(snap.subarray(0, snap.length - 1)));
  const flipped = snap.slice(); flipped[flipped.length - 5] ^= 1;
  expectError('checksum', () => Database.fromSnapshot(flipped));
  const longer = new Uint8Array(snap.length + 1); longer.set(snap);
  expectError('corrupt', () => Database.fromSnapshot(longer));
  const ver = snap.slice(); ver[8] = 99;
  expectError('version', () => Database.fromSnapshot(ver));
  expectError('not-snapshot', () => Database.peekSnapshot(new Uint8Array(64)));

  // capture
  expectError('invalid', () => Capture.open(db, { ...Capture.defaultConfig(), slotCount: 3 }));
  {
    const tiny = Database.open(Database.defaultConfig(4));
    const c = Capture.open(tiny, { ...Capture.defaultConfig(), payloadSize: 256 });
    c.start();
    expectError('too-big', () => tiny.insert('a', v, [])); // larger than half the ring
    assert.equal(tiny.count(), 0);
    c[Symbol.dispose]();
    tiny[Symbol.dispose]();
  }
  const cap = own(Capture.open(db, { ...Capture.defaultConfig(), slotCount: 2, payloadSize: 65536 }));
  expectError('state', () => Capture.open(db, Capture.defaultConfig()));
  cap.start();
  db.insert('b', new Float32Array([4, 3, 2, 1]), []);
  db.insert('c', new Float32Array([4, 3, 2, 2]), []);
  const full = db.stateHash();
  expectError('full', () => db.insert('d', new Float32Array([0, 3, 2, 2]), []));
  assert.equal(db.stateHash(), full);
  expectError('not-found', () => cap.payload(99n));
  const hs = cap.poll(10);
  assert.equal(hs.length, 2);
  const deltas = hs.map((h) => ({ header: h, payload: cap.payload(h.sequence) }));
  const wire = cap.encoded(hs[0].sequence);

  // apply: the replica holds "a"; deltas[0] inserts "b" (sequence 1), deltas[1] inserts "c" (sequence 2)
  const rep = own(Database.open(Database.defaultConfig(4)));
  rep.insert('a', v, []);
  const ap = own(Applier.open(rep, { ...Applier.defaultConfig(), mode: 'logical' }));
  const r0 = rep.stateHash();
  expectError('truncated', () => ap.applyEncoded(wire.subarray(0, 10)));
  expectError('truncated', () => ap.applyEncoded(wire.subarray(0, wire.length - 1)));
  const bad = wire.slice(); bad[bad.length - 1] ^= 0x40;
  expectError('checksum', () => ap.applyEncoded(bad));
  const badOp = wire.slice(); badOp[8] = 9;
  expectError('bad-op', () => ap.applyEncoded(badOp));
  const badVer = wire.slice(); badVer[10] = 7;
  expectError('version', () => ap.applyEncoded(badVer));
  const pad = wire.slice(); pad[60] = 1;
  expectError('corrupt', () => ap.applyEncoded(pad));
  const gap = errorOf(() => ap.apply(deltas[1]));
  assert.equal(gap.tag, 'gap');
  assert.match(gap.val, /missing 1/);
  expectError('checksum', () => ap.apply({ ...deltas[0], header: { ...deltas[0].header, timestamp: 5n } }));
  expectError('corrupt', () => ap.apply({ ...deltas[0], header: { ...deltas[0].header, padding: [1n, 0n] } }));
  expectError('truncated', () => ap.apply({ ...deltas[0], payload: deltas[0].payload.subarray(1) }));
  expectError('data', () => ap.seekCheckpoint({ sequence: 1n, stateHash: 1n }));
  assert.equal(rep.stateHash(), r0);
  assert.equal(ap.position(), 0n);
  assert.equal(ap.apply(deltas[0]), 'applied');
  assert.equal(ap.apply(deltas[0]), 'duplicate');
  expectError('stale', () => ap.seek(0n));
  expectError('gap', () => ap.seek(5n));
  rep.insert('c', new Float32Array([1, 1, 1, 1]), []);
  const r1 = rep.stateHash();
  const conflict = errorOf(() => ap.apply(deltas[1]));
  assert.equal(conflict.tag, 'conflict');
  assert.match(conflict.val, /sequence 2/);
  assert.equal(ap.lastError(), conflict.val);
  const small = own(Applier.open(rep, { ...Applier.defaultConfig(), mode: 'logical', startPosition: 1n, maxPayload: 8 }));
  expectError('too-big', () => small.apply(deltas[1]));
  const batch = ap.applyBatch([deltas[0], deltas[1], deltas[1]]);
  assert.equal(batch.applied, 0);
  assert.deepEqual(batch.results.map((r) => (r.tag === 'ok' ? r.val : r.val.tag)), ['duplicate', 'conflict', 'gap']);
  assert.match(batch.results[2].val.val, /not tried/);
  assert.equal(rep.stateHash(), r1);
  assert.equal(ap.position(), 1n);
  assert.ok(ap.stats().refused >= 3n);

  // a structural applier on a replica whose dimension differs
  const other = own(Database.open(Database.defaultConfig(5)));
  const sap = own(Applier.open(other, Applier.defaultConfig()));
  const e = errorOf(() => sap.apply(deltas[0])); // sequence 1 would insert "b" with 4 dims
  assert.ok(['constraint', 'dim'].includes(e.tag), e.tag);
});

// The build keeps views of the instance's memory between calls (wit/tools/component.mjs
// leanGlue); a memory.grow replaces the memory's buffer, and every call after it must
// still write its arguments into, and read its results from, the live memory.
test('arguments and results go through the live memory after the instance memory grows', async () => {
  const G = await import(`${moduleUrl}?instance=grow`);
  const { Database } = G.vectorDb, { Capture } = G.deltaCapture, { Applier } = G.deltaApply;
  const cfg = Database.defaultConfig(1024);
  const primary = Database.open(cfg), replica = Database.open(cfg);
  const cap = Capture.open(primary, { ...Capture.defaultConfig(), payloadSize: 1 << 22 });
  const ap = Applier.open(replica, Applier.defaultConfig());
  cap.start();
  const start = G.runtime.memorySize();
  let grows = 0, last = start;
  for (let i = 0; grows < 3; i++) {
    assert.ok(i < 20000, 'the memory never grew');
    const v = Float32Array.from({ length: 1024 }, (_, j) => i * 0.5 + j);
    primary.insert(`id-${i}`, v, [['n', `${i}`]]);
    // The first call after a grow: a list argument in, a list result out.
    assert.deepEqual(primary.get(`id-${i}`), v);
    for (const h of cap.poll(16)) {
      assert.equal(ap.applyEncoded(cap.encoded(h.sequence)), 'applied');
      cap.release(h.sequence);
    }
    if (G.runtime.memorySize() > last) { grows++; last = G.runtime.memorySize(); }
  }
  assert.ok(last > start);
  assert.equal(replica.stateHash(), primary.stateHash());
  for (const r of [ap, cap, replica, primary]) r[Symbol.dispose]();
});

test('resources free their memory: 10,000 create/drop cycles do not grow the instance', () => {
  const { Database } = B.vectorDb, { Capture } = B.deltaCapture, { Applier } = B.deltaApply;
  const cfg = Database.defaultConfig(16);
  const v = new Float32Array(16);
  const cycle = (i) => {
    const db = Database.open(cfg);
    const cap = Capture.open(db, { ...Capture.defaultConfig(), slotCount: 64, payloadSize: 65536 });
    cap.start();
    for (let j = 0; j < 4; j++) { v[j] = i + j; db.insert(`v${j}`, v, [['k', `${i}`]]); }
    db.search(v, 3, 0);
    const rep = db.clone();
    const ap = Applier.open(rep, { ...Applier.defaultConfig(), startPosition: 4n });
    ap.seek(4n);
    const snap = db.snapshot(4n);
    const copy = Database.fromSnapshot(snap);
    const hs = cap.poll(16);
    if (hs.length) cap.encoded(hs[0].sequence);
    // drop the database handle before its capture and applier: they keep it alive
    db[Symbol.dispose]();
    rep[Symbol.dispose]();
    cap.poll(16);
    ap.position();
    cap[Symbol.dispose]();
    ap[Symbol.dispose]();
    copy[Symbol.dispose]();
  };
  for (let i = 0; i < 200; i++) cycle(i);
  const before = B.runtime.memorySize();
  for (let i = 0; i < 10000; i++) cycle(i);
  assert.equal(B.runtime.memorySize(), before);
});

test('the jco example of docs/WIT.md runs and prints what it says', () => {
  const doc = readFileSync(path.join(repo, 'docs/WIT.md'), 'utf8');
  const m = /<!-- example: jco -->\n```js\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'example block not found');
  const file = path.join(outDir, 'doc-example.mjs');
  writeFileSync(file, m[1].replace('./build/component/js/deltavec.js', './js/deltavec.js'));
  const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
  assert.match(out, /id: 'a'/);
  assert.match(out, /^3 true$/m);
  assert.match(out, /tag: 'exists'/);
  assert.match(out, /^true$/m);
});
