// The stream container (docs/FORMAT.md section 10) in JS: every byte goes through the core's reader, writer and
// header codec in wasm. Round trips, chunked reading, hostile input with offsets, replicas created from a stream
// header, and a replica of another config refusing a stream with DV_ECONFIG before any change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { load, readStream, writeStream, openReplicaFromStream, DeltavecError, hashHex } from '../src/index.js';
import { runWorkload } from './workload.js';
import { tool, haveTool, vectorsDir } from './env.js';

const dv = await load();
const CFG = { dim: 16, metric: 'cosine', M: 8, efConstruction: 48, seed: 1234 };

/* A primary with capture: n workload ops, every delta polled. */
function primary(cfg = CFG, ops = 300) {
  const db = dv.openDb(cfg);
  const cap = db.startCapture();
  const deltas = [];
  runWorkload(db, ops, cfg.dim, () => {
    const got = cap.poll(64);
    if (got.length) { deltas.push(...got); cap.release(cap.lastSequence); }
  });
  cap.flush();
  deltas.push(...cap.poll(1024));
  return { db, cap, deltas, close() { cap.close(); db.close(); } };
}

const payloadOf = (d) => d.subarray(64);
const u64 = (d, off) => new DataView(d.buffer, d.byteOffset + off, 8).getBigUint64(0, true);
const u32 = (d, off) => new DataView(d.buffer, d.byteOffset + off, 4).getUint32(0, true);

/* Expects fn to throw a DeltavecError with this code (and offset, when given). */
function throwsAt(fn, code, offset, what) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof DeltavecError, `${what}: ${e}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    if (offset !== undefined) assert.equal(e.offset, offset, `${what}: offset (${e.message})`);
    return true;
  });
}

test('round trip: a db\'s deltas written as a stream read back with the same header and records', () => {
  const p = primary();
  try {
    const bytes = dv.writeStream(p.db, p.deltas);
    assert.deepEqual(bytes.subarray(0, 8), Uint8Array.from([0x89, 0x44, 0x56, 0x53, 0x0d, 0x0a, 0x1a, 0x0a]));
    assert.deepEqual(bytes.subarray(0, 80), p.db.streamHeader(), 'the header is the db\'s stream header');
    const { info, deltas, length } = dv.readStream(bytes);
    assert.equal(length, bytes.length);
    assert.deepEqual({ dim: info.dim, metric: info.metric, M: info.M, efConstruction: info.efConstruction, seed: info.seed },
      { ...CFG, seed: BigInt(CFG.seed) });
    assert.equal(info.mode, 'structural');
    assert.equal(info.firstSequence, 1n);
    assert.equal(info.producerVersion, dv.rt.x.dvw_version_number());
    assert.equal(deltas.length, p.deltas.length);
    let off = info.headerSize;
    deltas.forEach((d, i) => {
      assert.equal(u64(d, 0), BigInt(i + 1));
      assert.deepEqual(payloadOf(d), payloadOf(p.deltas[i]));
      assert.equal(u32(d, 24), off + 64, 'payload_offset: where the payload sits in the stream');
      dv.verify(d);
      off += d.length;
    });
    // Writing what was read gives the same bytes; a logical stream differs only in its header.
    assert.deepEqual(dv.writeStream(info, deltas), bytes);
    const logical = dv.writeStream(p.db, p.deltas, { mode: 'logical' });
    assert.equal(dv.streamInfo(logical).mode, 'logical');
    assert.deepEqual(logical.subarray(80), bytes.subarray(80));
    // The incremental writer: header, then one record per append, concatenated = writeStream.
    const w = dv.streamWriter(p.db);
    const parts = [w.header, ...p.deltas.map((d) => w.append(d))];
    assert.equal(w.nextSequence, BigInt(p.deltas.length + 1));
    w.close();
    assert.deepEqual(Buffer.concat(parts), Buffer.from(bytes));
  } finally {
    p.close();
  }
});

test('a stream read one byte at a time yields the same header and records as read whole', () => {
  const p = primary(CFG, 120);
  try {
    const bytes = dv.writeStream(p.db, p.deltas);
    const whole = dv.readStream(bytes);
    const r = dv.streamReader();
    const got = [];
    let infoAt = -1;
    for (let i = 0; i < bytes.length; i++) {
      r.push(bytes.subarray(i, i + 1));
      if (r.info && infoAt < 0) infoAt = i + 1;
      for (const d of r) got.push(d);
    }
    assert.equal(infoAt, 80, 'the header is known as soon as its 80 bytes arrived');
    assert.equal(r.finish(), bytes.length);
    assert.deepEqual(r.info, whole.info);
    r.close();
    assert.equal(got.length, whole.deltas.length);
    got.forEach((d, i) => assert.deepEqual(d, whole.deltas[i]));
  } finally {
    p.close();
  }
});

test('hostile input: empty, not a stream, old length-prefixed framing, bad magic, torn header and records, bit flips, with offsets', () => {
  const p = primary(CFG, 40);
  try {
    const bytes = dv.writeStream(p.db, p.deltas);
    const info = dv.streamInfo(bytes);
    throwsAt(() => dv.readStream(new Uint8Array(0)), 'DV_EEMPTY', undefined, 'empty');
    throwsAt(() => dv.readStream(new TextEncoder().encode('hello, world\n')), 'DV_ENOTSTREAM', 0, 'text');
    // The framing this package used to write (u32 length, then the delta) is not a stream.
    const old = new Uint8Array(4 + p.deltas[0].length);
    new DataView(old.buffer).setUint32(0, p.deltas[0].length, true);
    old.set(p.deltas[0], 4);
    throwsAt(() => dv.readStream(old), 'DV_ENOTSTREAM', 0, 'length-prefixed');
    throwsAt(() => dv.streamInfo(old), 'DV_ENOTSTREAM', 0, 'length-prefixed header');
    const magic = Uint8Array.from(bytes);
    magic[3] ^= 0x20; // "DVs"
    throwsAt(() => dv.readStream(magic), 'DV_ENOTSTREAM', 0, 'bad magic');
    throwsAt(() => dv.openReplicaFromStream(magic), 'DV_ENOTSTREAM', 0, 'bad magic: no replica');
    const hdrFlip = Uint8Array.from(bytes);
    hdrFlip[28] ^= 1; // metric, under the header checksum
    throwsAt(() => dv.readStream(hdrFlip), 'DV_ECHECKSUM', 0, 'header checksum');
    throwsAt(() => dv.readStream(bytes.subarray(0, 50)), 'DV_ETRUNCATED', 0, 'torn header');
    // Torn in the middle of record 10: the ten records before it are delivered, then DV_ETRUNCATED at record 10.
    let off10 = info.headerSize;
    for (let i = 0; i < 10; i++) off10 += p.deltas[i].length;
    const r = dv.streamReader();
    r.push(bytes.subarray(0, off10 + 70));
    assert.equal([...r].length, 10);
    throwsAt(() => r.finish(), 'DV_ETRUNCATED', off10, 'torn record');
    r.close();
    // A flipped payload bit in record 10: DV_ECHECKSUM at its offset, the reader skips it and goes on; the next
    // record is then one beyond the expected sequence (DV_EGAP, delivered in .delta).
    const flip = Uint8Array.from(bytes);
    flip[off10 + 64 + 2] ^= 4;
    const f = dv.streamReader().push(flip);
    for (let i = 0; i < 10; i++) assert.equal(u64(f.next(), 0), BigInt(i + 1));
    throwsAt(() => f.next(), 'DV_ECHECKSUM', off10, 'payload bit flip');
    assert.throws(() => f.next(), (e) => e.code === 'DV_EGAP' && e.sequence === 12n && u64(e.delta, 0) === 12n);
    assert.equal(u64(f.next(), 0), 13n);
    f.close();
    throwsAt(() => dv.readStream(flip), 'DV_ECHECKSUM', off10, 'readStream stops at the first problem');
    // A record larger than the reader's maxPayload: DV_ETOOBIG at its offset before it is buffered; the framing is
    // lost, so every later call answers the same.
    const big = p.deltas.findIndex((d) => d.length - 64 > 100);
    let offBig = info.headerSize;
    for (let i = 0; i < big; i++) offBig += p.deltas[i].length;
    const small = dv.streamReader({ maxPayload: 100 }).push(bytes);
    for (let i = 0; i < big; i++) small.next();
    throwsAt(() => small.next(), 'DV_ETOOBIG', offBig, 'maxPayload');
    throwsAt(() => small.next(), 'DV_ETOOBIG', offBig, 'maxPayload, again');
    small.close();
    // The writer refuses what a reader would refuse: out of sequence, a bad checksum.
    const w = dv.streamWriter(p.db);
    throwsAt(() => w.append(p.deltas[1]), 'DV_EGAP', undefined, 'writer gap');
    w.append(p.deltas[0]);
    throwsAt(() => w.append(p.deltas[0]), 'DV_EDUPLICATE', undefined, 'writer duplicate');
    const bad = Uint8Array.from(p.deltas[1]);
    bad[64] ^= 1;
    throwsAt(() => w.append(bad), 'DV_ECHECKSUM', undefined, 'writer checksum');
    assert.equal(w.nextSequence, 2n, 'refused appends wrote nothing');
    w.close();
  } finally {
    p.close();
  }
});

test('openReplicaFromStream: the replica takes the header\'s config and reaches the primary\'s state hash', async () => {
  const p = primary();
  try {
    const bytes = dv.writeStream(p.db, p.deltas);
    const r = dv.openReplicaFromStream(bytes, { efSearch: 80 });
    assert.equal(r.db.dim, CFG.dim);
    assert.equal(r.streamInfo.metric, 'cosine');
    const res = r.applyStream(bytes);
    assert.equal(res.applied, p.deltas.length);
    assert.equal(r.position, BigInt(p.deltas.length));
    assert.equal(r.stateHash(), p.db.stateHash());
    // Applying the same stream again: every record is a duplicate.
    assert.equal(r.applyStream(bytes).duplicates, p.deltas.length);
    r.close();
    // The same through an incremental reader fed in 1000-byte chunks, the replica created from reader.info.
    const rd = dv.streamReader();
    let rep = null;
    for (let i = 0; i < bytes.length; i += 1000) {
      rd.push(bytes.subarray(i, i + 1000));
      if (!rep && rd.info) rep = dv.openReplicaFromStream(rd.info);
      for (const d of rd) assert.equal(rep.apply(d), true);
    }
    rd.finish();
    rd.close();
    assert.equal(rep.stateHash(), p.db.stateHash());
    rep.close();
    // The package-level helpers (default module).
    const { info, deltas } = await readStream(bytes);
    assert.equal(deltas.length, p.deltas.length);
    const r2 = await openReplicaFromStream(info);
    r2.applyStream(await writeStream(info, deltas));
    assert.equal(r2.stateHash(), p.db.stateHash());
    r2.close();
  } finally {
    p.close();
  }
});

test('a replica whose config differs refuses the stream with DV_ECONFIG naming the field; its state is unchanged', () => {
  const p = primary(CFG, 150);
  try {
    const bytes = dv.writeStream(p.db, p.deltas);
    for (const [field, other] of [['metric', { metric: 'l2' }], ['M', { M: 12 }], ['dim', { dim: 17 }],
      ['ef_construction', { efConstruction: 50 }], ['seed', { seed: 99 }]]) {
      // The replica holds some state of its own (a stream of its own config) before the wrong stream comes.
      const own = primary({ ...CFG, ...other }, 30);
      const r = dv.openReplicaFromStream(dv.writeStream(own.db, own.deltas));
      r.applyStream(dv.writeStream(own.db, own.deltas));
      const hash = r.stateHash(), pos = r.position;
      assert.equal(hash, own.db.stateHash());
      assert.throws(() => r.beginStream(bytes), (e) => e.code === 'DV_ECONFIG' && e.status === -27 &&
        new RegExp(`stream ${field} .* != replica ${field}`).test(e.message), `beginStream (${field})`);
      assert.throws(() => r.applyStream(bytes), (e) => e.code === 'DV_ECONFIG' && e.result.applied === 0 &&
        new RegExp(field).test(e.message), `applyStream (${field})`);
      assert.equal(r.stateHash(), hash, `state unchanged (${field})`);
      assert.equal(r.position, pos);
      r.close();
      own.close();
    }
    // A replica opened with plain options and the right config accepts the stream.
    const ok = dv.openReplica(CFG);
    ok.beginStream(bytes);
    ok.applyStream(bytes);
    assert.equal(ok.stateHash(), p.db.stateHash());
    // A stream that starts after the replica's position + 1 leaves a gap: DV_EGAP, nothing applied.
    const fresh = dv.openReplica(CFG);
    const later = dv.writeStream(p.db, p.deltas.slice(5));
    assert.equal(dv.streamInfo(later).firstSequence, 6n);
    assert.throws(() => fresh.applyStream(later), (e) => e.code === 'DV_EGAP');
    assert.equal(fresh.position, 0n);
    // A logical stream cannot feed a structural replica; a logical replica takes it.
    const logical = dv.writeStream(p.db, [], { mode: 'logical' });
    assert.throws(() => fresh.beginStream(logical), (e) => e.code === 'DV_ECONFIG');
    const lr = dv.openReplicaFromStream(logical);
    assert.equal(lr.streamInfo.mode, 'logical');
    lr.close();
    fresh.close();
    ok.close();
  } finally {
    p.close();
  }
});

test('the native tool\'s stream (C writer) reads in JS and writes back byte for byte', { skip: !haveTool && 'native tool not built' }, () => {
  const file = path.join(vectorsDir, 'native.dvs'), json = path.join(vectorsDir, 'native.json');
  if (!existsSync(json)) {
    mkdirSync(vectorsDir, { recursive: true });
    execFileSync(tool, ['gen', file, json]);
  }
  const exp = JSON.parse(readFileSync(json, 'utf8'));
  const bytes = new Uint8Array(readFileSync(file));
  const { info, deltas } = dv.readStream(bytes);
  assert.equal(deltas.length, exp.deltas);
  assert.equal(info.dim, exp.dim);
  assert.equal(info.metric, ['l2', 'ip', 'cosine'][exp.metric]);
  assert.deepEqual(dv.writeStream(info, deltas), bytes, 'the JS writer (core in wasm) = the native writer');
  const r = dv.openReplicaFromStream(bytes);
  r.applyStream(bytes);
  assert.equal(hashHex(r.stateHash()), exp.final_hash);
  r.close();
});
